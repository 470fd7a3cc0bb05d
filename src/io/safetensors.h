/* The safetensors container: an 8-byte little-endian header length N, N
 * bytes of JSON naming each tensor's dtype, shape and byte range, then the
 * raw little-endian data. Private to the library (and its tests). */
#ifndef NABLA_SAFETENSORS_H
#define NABLA_SAFETENSORS_H

#include "internal.h"

#include <cjson/cJSON.h>

typedef struct nb_st_tensor {
    const char *name; /* borrowed from the header's JSON */
    int dsize;        /* element bytes: 4 for F32, 8 for F64 */
    nb_shape shape;
    size_t count;        /* elements */
    uint64_t begin, end; /* byte range in the data area */
} nb_st_tensor;

typedef struct nb_st_header {
    cJSON *root;
    const cJSON *metadata; /* "__metadata__", NULL when absent */
    nb_st_tensor *tensors; /* in the header's order */
    nb_st_tensor *by_name; /* the same, sorted by name (for nb_st_find) */
    int count;
} nb_st_header;

/* Check a header (len bytes of JSON, trailing spaces allowed) against a
 * data area of data_size bytes: every tensor entry well formed, sizes
 * overflow-checked, ranges inside the data area, covering it without
 * overlap, no duplicate names, at most NB_MAX_TENSORS. Messages say what
 * and where, without the file name (the caller adds it). */
nb_status nb_st_parse(const char *text, size_t len, uint64_t data_size, nb_st_header *out);
/* Read and check a file's length prefix and header from f (at its start):
 * the file's real size bounds everything. *data_start gets the file offset
 * of the data area. */
nb_status nb_st_read_header(FILE *f, nb_st_header *out, uint64_t *data_start);
void nb_st_free(nb_st_header *header);
const nb_st_tensor *nb_st_find(const nb_st_header *header, const char *name);

/* Little-endian whatever the host. */
void nb_st_put_u64(unsigned char *bytes, uint64_t value);
uint64_t nb_st_get_u64(const unsigned char *bytes);

/* A tensor to write. */
typedef struct nb_st_out {
    const char *name;
    nb_shape shape;
    const nb_real *values;
} nb_st_out;

/* Write a whole file to f: the 8-byte length, the JSON header (root, which
 * may hold "__metadata__", plus an entry per tensor, in order, padded with
 * spaces to a multiple of 8 bytes and at most NB_MAX_HEADER) and the data.
 * root is consumed (even on failure). The caller flushes. */
nb_status nb_st_write(FILE *f, cJSON *root, const nb_st_out *tensors, int count);

/* Write count values as little-endian nb_real ("F32" or "F64" by build). */
nb_status nb_st_write_values(FILE *f, const nb_real *values, size_t count);
/* Read count little-endian values of dsize bytes from f's position,
 * converting to nb_real; a value that is not finite (after conversion) is
 * an error naming the tensor and the element. */
nb_status nb_st_read_values(FILE *f, int dsize, size_t count, nb_real *out, const char *name);

/* The dtype written by this build. */
#ifdef NABLA_DOUBLE
#define NB_ST_DTYPE "F64"
#else
#define NB_ST_DTYPE "F32"
#endif

#endif
