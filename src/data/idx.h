/* IDX files through the byte source; not public API. */
#ifndef NABLA_IDX_H
#define NABLA_IDX_H

#include "data.h"

typedef struct nb_idx {
    nb_src *src; /* &own, or the caller's */
    nb_src own;
    int ndim;
    uint32_t dim[3];
    uint64_t offset; /* (inflated) bytes read */
} nb_idx;

/* Open path and read its header: labels (idx1) or images (idx3) and
 * vectors (idx2) of unsigned bytes. Text and other formats are refused. */
nb_status nb_idx_open(nb_idx *f, const char *path, int labels);
/* The same for a source the caller opened (and closes). */
nb_status nb_idx_begin(nb_idx *f, nb_src *src, int labels);
void nb_idx_close(nb_idx *f);
/* Count, values per sample and image geometry (0 for vectors), checked
 * against the limits. */
nb_status nb_idx_image_shape(const nb_idx *f, size_t *count, int *features, int *rows, int *cols);
/* Refuse a header claiming more values than the file holds (plain: its
 * size; gzip: what it can inflate to, and the inflate limit). *exact: the
 * claim was checked against the real size, so it may be allocated. */
nb_status nb_idx_check_claim(const nb_idx *f, uint64_t values, int *exact);
/* Exactly n bytes, or a "truncated" error naming what and the offset. */
nb_status nb_idx_read(nb_idx *f, void *buf, size_t n, const char *what);
/* Nothing may follow the last value. */
nb_status nb_idx_expect_end(nb_idx *f);

#endif
