/* Where a file that nabla writes really goes, and what is checked before
 * anything is written (docs/model-format.md, "the atomic writer"). */
#ifndef NABLA_IO_PATHS_H
#define NABLA_IO_PATHS_H

#include "internal.h"

#include <sys/stat.h>

/* A temporary file is the target's name plus this; mkstemp fills the Xs. */
#define NB_TMP_SUFFIX ".tmp.XXXXXX"

enum nb_out_kind {
    NB_OUT_NEW,     /* nothing there yet: created */
    NB_OUT_REGULAR, /* a regular file: replaced by a new one renamed over it */
    NB_OUT_STREAM   /* a character device or FIFO: written directly */
};

typedef struct nb_out_target {
    enum nb_out_kind kind;
    char *name;      /* the name to create or replace, symbolic links followed */
    struct stat now; /* what is there now (REGULAR and STREAM) */
} nb_out_target;

/* What writing path means; a folder, a block device or a socket is an
 * error. The message does not name path (the caller does). Free the
 * target with nb_out_free, also after an error. */
nb_status nb_out_resolve(const char *path, nb_out_target *out);
void nb_out_free(nb_out_target *t);

/* For NEW and REGULAR: the folder exists and is writable, and the
 * temporary name fits the file system's limits. */
nb_status nb_out_check_folder(const nb_out_target *t);

/* The mode a replacement gets: the old file's permission bits (setuid,
 * setgid and sticky dropped), or 0666 less the umask for a new file. */
mode_t nb_out_mode(const nb_out_target *t);

/* "a FIFO", "a character device", ... for a message. */
const char *nb_file_kind(mode_t mode);

#endif
