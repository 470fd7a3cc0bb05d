/* Helpers shared by the data-set files of src/data; not public API. */
#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include "internal.h"

#include <zlib.h>

/* Allocate out's arrays for count samples: x (count x features), and labels
 * (classes > 0) or y (count x targets). Sizes are overflow-checked and held
 * to NB_MAX_SAMPLES / NB_MAX_FEATURES. what names the data in messages. */
nb_status nb_data_alloc(nb_dataset *out, size_t count, int features, int classes, int targets,
                        const char *what);
/* d->origin for d->count samples, of kind; NB_ERR_MEMORY naming what. */
nb_status nb_data_alloc_origin(nb_dataset *d, nb_origin_kind kind, const char *what);
/* a's samples then b's into out (the same features, image geometry and kind; classes:
 * the larger count, names from whichever has them). */
nb_status nb_data_concat(const nb_dataset *a, const nb_dataset *b, nb_dataset *out);
/* A copy of s through nb_malloc (NULL when out of memory). */
char *nb_data_strdup(const char *s);
/* A copy of n names (NULL src gives NULL); NB_ERR_MEMORY on failure. */
nb_status nb_data_copy_names(char *const *src, int n, char ***out);
void nb_data_free_names(char **names, int n);

/* ------------------------------------------------------------ byte source */

#define NB_SRC_WINDOW (1 << 16) /* decoded bytes that can be looked at ahead */

/* What the first bytes of a file say it is. */
typedef enum nb_src_format { NB_SRC_EMPTY, NB_SRC_CSV, NB_SRC_IDX } nb_src_format;

/* The decoded bytes of a file, plain or gzip-compressed, from a path or
 * standard input ("-"), read once from front to back: nothing is ever
 * read twice and nothing is skipped, so pipes work like files. */
/* Bytes of a path as messages show it (escaped; a longer one ends in "..."). */
#define NB_PATH_SHOWN 512

typedef struct nb_src {
    const char *name;          /* for messages: the path escaped, or "standard input" */
    char shown[NB_PATH_SHOWN]; /* the escaped path name points to */
    int fd, own_fd;
    int gzip;    /* the raw bytes are a gzip stream */
    int regular; /* a regular file of raw_size bytes */
    uint64_t raw_size;
    z_stream z;
    int z_live, z_ended; /* inflate initialised; its last member ended */
    unsigned char *raw;  /* compressed bytes read, not yet inflated */
    size_t raw_pos, raw_len;
    int raw_eof;
    unsigned char *buf; /* decoded bytes, buf[pos..len) not yet consumed */
    size_t pos, len;
    int eof;           /* every decoded byte is in buf */
    uint64_t consumed; /* decoded bytes before buf[pos] */
    uint64_t decoded;  /* decoded bytes produced so far */
} nb_src;

/* Bytes a compressed input may inflate to; tests lower it. */
extern uint64_t nb_src_inflate_limit;

/* Open path ("-": standard input); a directory is refused. */
nb_status nb_src_open(nb_src *s, const char *path);
void nb_src_close(nb_src *s);
/* Make at least want decoded bytes available in buf[pos..len) (fewer only
 * at the end of the data; want <= NB_SRC_WINDOW). */
nb_status nb_src_peek(nb_src *s, size_t want);
/* Read exactly n bytes; *got < n only at the end of the data. */
nb_status nb_src_read(nb_src *s, void *dst, size_t n, size_t *got);
/* Decide by content: CSV text or IDX; gzip inside gzip and binary data
 * that is neither are refused, naming what they are and expected. */
nb_status nb_src_detect(nb_src *s, const char *expected, nb_src_format *format);

/* ----------------------------------------------------------- string sets */

/* An open-addressing index of strings held elsewhere (names[i]). */
typedef struct nb_strset {
    int32_t *slot; /* index + 1, 0 for empty */
    size_t mask;
} nb_strset;

nb_status nb_strset_init(nb_strset *set, size_t capacity);
void nb_strset_free(nb_strset *set);
/* The index i with names[i] equal to s, or -1. */
int nb_strset_find(const nb_strset *set, char *const *names, const char *s);
/* Add names[index] (not already there). */
void nb_strset_add(nb_strset *set, char *const *names, int index);

/* ------------------------------------------------------------------- CSV */

/* Map a data set's class indices onto expected classes (names, or
 * 0..classes-1 when names is NULL), matched by name; what names the
 * data in messages. */
nb_status nb_data_match_classes(nb_dataset *d, char *const *names, int classes, const char *what);

#endif
