/* A safetensors file of named tensors and string metadata, written
 * atomically and read back with every field checked: the container of
 * training checkpoints. Private to the library (and its tests). */
#ifndef NABLA_CHECKPOINT_FILE_H
#define NABLA_CHECKPOINT_FILE_H

#include "safetensors.h"

typedef nb_st_out nb_ckpt_tensor;

/* Write metadata (a cJSON object of strings) and the tensors, in order, to
 * path: a temporary file in the same folder, flushed, fsync'ed and renamed
 * over path. On any failure (NB_ERR_IO for a full disk) the temporary file
 * is removed and an existing file at path is left as it was. */
nb_status nb_ckpt_file_save(const char *path, const cJSON *metadata, const nb_ckpt_tensor *tensors,
                            int count);

typedef struct nb_ckpt_file {
    FILE *f;
    uint64_t data_start; /* file offset of the data area */
    nb_st_header header; /* checked against the file's real length */
} nb_ckpt_file;

/* Open path and check its container: the length prefix, the header's JSON
 * and every tensor entry against the file's size. Messages do not name the
 * file (the caller adds it). */
nb_status nb_ckpt_file_open(const char *path, nb_ckpt_file *out);
/* Read tensor name, which must be there with exactly shape and this build's
 * dtype (a checkpoint resumes in the precision it was written in). */
nb_status nb_ckpt_file_read(nb_ckpt_file *file, const char *name, nb_shape shape, nb_real *out);
/* A metadata string, NULL when missing. */
const char *nb_ckpt_file_meta(const nb_ckpt_file *file, const char *key);
void nb_ckpt_file_close(nb_ckpt_file *file);

#endif
