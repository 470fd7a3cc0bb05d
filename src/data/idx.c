/* IDX files (the MNIST format), plain or gzip-compressed, read through the
 * one byte source (input.c), so a file's content decides what it is. A
 * file is a 4-byte magic (0, 0, type, number of dimensions), one big-endian
 * 32-bit size per dimension, then the values. Every field is checked before
 * it is used, and every size a header claims is checked against the file's
 * real size (or, compressed, against what it can inflate to) before
 * anything that size is allocated. */
#include "idx.h"

#include <string.h>

#define IDX_UBYTE   0x08
#define IDX_CHUNK   (1 << 16)
#define GZIP_RATIO  1032 /* deflate expands at most this much */
#define FIRST_GROWN (1 << 20)

/* A byte label is always below NB_MAX_CLASSES. */
_Static_assert(NB_MAX_CLASSES > 255, "IDX byte labels must fit NB_MAX_CLASSES");

nb_status nb_idx_read(nb_idx *f, void *buf, size_t n, const char *what)
{
    size_t got;
    nb_status st = nb_src_read(f->src, buf, n, &got);
    if (st) return st;
    f->offset += got;
    if (got < n)
        return nb_error(NB_ERR_FORMAT,
                        "%s: truncated: data ends at byte offset %llu while reading %s (%zu more "
                        "bytes expected)%s",
                        f->src->name, (unsigned long long)f->offset, what, n - got,
                        f->src->gzip ? " (offsets count inflated bytes)" : "");
    return NB_OK;
}

static const char *idx_expected(int labels)
{
    return labels ? "an IDX labels file (magic 0x00000801)"
                  : "an IDX images file (magic 0x00000803) or vectors file (0x00000802)";
}

nb_status nb_idx_open(nb_idx *f, const char *path, int labels)
{
    memset(f, 0, sizeof *f);
    f->src = &f->own;
    nb_status st = nb_src_open(f->src, path);
    if (st) return st;
    f->src = NULL; /* begin sets it again */
    return nb_idx_begin(f, &f->own, labels);
}

nb_status nb_idx_begin(nb_idx *f, nb_src *src, int labels)
{
    const char *expected = idx_expected(labels);
    nb_status st;
    f->src = src;
    nb_src_format format;
    if ((st = nb_src_detect(f->src, expected, &format))) return st;
    if (format == NB_SRC_EMPTY)
        return nb_error(NB_ERR_FORMAT, "%s: empty file, expected %s", f->src->name, expected);
    if (format == NB_SRC_CSV) {
        const char *b = (const char *)f->src->buf + f->src->pos;
        size_t n = f->src->len - f->src->pos, shown = 0;
        while (shown < n && shown < 24 && b[shown] != '\n' && b[shown] != '\r') shown++;
        char q[NB_ESCAPE_SIZE];
        return nb_error(NB_ERR_FORMAT, "%s: text (\"%s\"), expected %s", f->src->name,
                        nb_escape_len(q, sizeof q, b, shown), expected);
    }
    unsigned char magic[4];
    if ((st = nb_idx_read(f, magic, 4, "the magic number"))) return st;
    unsigned m =
        (unsigned)magic[0] << 24 | (unsigned)magic[1] << 16 | (unsigned)magic[2] << 8 | magic[3];
    if (magic[2] != IDX_UBYTE)
        return nb_error(NB_ERR_FORMAT,
                        "%s: magic number 0x%08x: value type 0x%02x is not supported (only "
                        "0x08, unsigned byte); expected %s",
                        f->src->name, m, magic[2], expected);
    int ndim = magic[3];
    if (labels ? ndim != 1 : ndim != 2 && ndim != 3)
        return nb_error(NB_ERR_FORMAT, "%s: magic number 0x%08x (%d dimensions), expected %s",
                        f->src->name, m, ndim, expected);
    f->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        unsigned char b[4];
        if ((st = nb_idx_read(f, b, 4, "the dimension sizes"))) return st;
        f->dim[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    return NB_OK;
}

nb_status nb_idx_check_claim(const nb_idx *f, uint64_t values, int *exact)
{
    const nb_src *s = f->src;
    uint64_t need = f->offset + values;
    *exact = 0;
    if (!s->gzip && s->regular) {
        if (need > s->raw_size)
            return nb_error(NB_ERR_FORMAT,
                            "%s: truncated: the header describes data up to byte offset %llu, "
                            "but the file ends at byte offset %llu",
                            s->name, (unsigned long long)need, (unsigned long long)s->raw_size);
        *exact = 1;
        return NB_OK;
    }
    if (s->gzip && s->regular && need > s->raw_size * GZIP_RATIO + 64)
        return nb_error(NB_ERR_FORMAT,
                        "%s: the header describes %llu bytes, more than a gzip file of %llu "
                        "bytes can inflate to",
                        s->name, (unsigned long long)need, (unsigned long long)s->raw_size);
    if (s->gzip && need > nb_src_inflate_limit)
        return nb_error(NB_ERR_LIMIT,
                        "%s: the header describes %llu bytes, more than the limit of %llu bytes "
                        "for compressed input",
                        s->name, (unsigned long long)need,
                        (unsigned long long)nb_src_inflate_limit);
    return NB_OK; /* a pipe: memory grows only with the bytes that arrive */
}

nb_status nb_idx_expect_end(nb_idx *f)
{
    nb_status st = nb_src_peek(f->src, 1);
    if (st) return st;
    if (f->src->pos < f->src->len)
        return nb_error(NB_ERR_FORMAT,
                        "%s: unexpected trailing bytes after byte offset %llu (the header "
                        "describes exactly %llu bytes)",
                        f->src->name, (unsigned long long)f->offset, (unsigned long long)f->offset);
    return NB_OK;
}

void nb_idx_close(nb_idx *f)
{
    nb_src_close(&f->own);
}

nb_status nb_idx_image_shape(const nb_idx *f, size_t *count, int *features, int *rows, int *cols)
{
    uint64_t n = f->dim[0];
    uint64_t r = f->dim[1], c = f->ndim == 3 ? f->dim[2] : 1;
    if (n == 0 || r == 0 || c == 0)
        return nb_error(NB_ERR_FORMAT, "%s: a dimension is 0 (%llu x %llu x %llu)", f->src->name,
                        (unsigned long long)n, (unsigned long long)r, (unsigned long long)c);
    if (n > NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "%s: %llu samples, more than the limit %d", f->src->name,
                        (unsigned long long)n, NB_MAX_SAMPLES);
    /* r and c are below 2^32, so r * c fits in 64 bits. */
    if (r * c > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT,
                        "%s: %llu x %llu = %llu values per sample, more than the "
                        "limit %d",
                        f->src->name, (unsigned long long)r, (unsigned long long)c,
                        (unsigned long long)(r * c), NB_MAX_FEATURES);
    *count = (size_t)n;
    *features = (int)(r * c);
    *rows = f->ndim == 3 ? (int)r : 0;
    *cols = f->ndim == 3 ? (int)c : 0;
    return NB_OK;
}

/* total bytes of what into *out, in a buffer that grows only as the bytes
 * arrive (a size not checked against the file's real size is a claim). */
static nb_status read_grown(nb_idx *f, size_t total, const char *what, unsigned char **out)
{
    size_t cap = total < FIRST_GROWN ? total : FIRST_GROWN, done = 0;
    unsigned char *buf = nb_malloc(cap ? cap : 1);
    nb_status st = buf ? NB_OK : nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
    while (!st && done < total) {
        if (done == cap) {
            size_t grown = cap * 2 < total ? cap * 2 : total;
            unsigned char *p = nb_realloc(buf, grown);
            if (!p) {
                st =
                    nb_error(NB_ERR_MEMORY, "%s: out of memory for %zu bytes", f->src->name, grown);
                break;
            }
            buf = p;
            cap = grown;
        }
        size_t n = cap - done < IDX_CHUNK ? cap - done : IDX_CHUNK;
        st = nb_idx_read(f, buf + done, n, what);
        done += n;
    }
    if (st) {
        nb_free(buf);
        buf = NULL;
    }
    *out = buf;
    return st;
}

/* The values of a file whose size was checked exactly, in chunks. */
static nb_status read_images(nb_idx *f, nb_dataset *out)
{
    size_t total = out->count * (size_t)out->features; /* checked by nb_data_alloc */
    nb_status st = NB_OK;
    unsigned char *buf = nb_malloc(IDX_CHUNK);
    if (!buf) return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
    for (size_t done = 0; done < total && !st;) {
        size_t n = total - done < IDX_CHUNK ? total - done : IDX_CHUNK;
        st = nb_idx_read(f, buf, n, "the image values");
        for (size_t i = 0; i < n && !st; i++) out->x[done + i] = (nb_real)buf[i];
        done += n;
    }
    nb_free(buf);
    return st;
}

static nb_status read_labels(nb_idx *f, nb_dataset *out)
{
    unsigned char *bytes;
    nb_status st = read_grown(f, out->count, "the labels", &bytes);
    if (st) return st;
    int max_label = 0;
    for (size_t i = 0; i < out->count; i++) {
        out->labels[i] = bytes[i];
        if (bytes[i] > max_label) max_label = bytes[i];
    }
    nb_free(bytes);
    out->classes = max_label + 1;
    return NB_OK;
}

static nb_status load_idx(nb_idx *img, nb_idx *lab, const char *images_path,
                          const char *labels_path, nb_dataset *out)
{
    nb_status st = nb_idx_open(img, images_path, 0);
    if (st) return st;
    if ((st = nb_idx_open(lab, labels_path, 1))) return st;
    size_t count = 0;
    int features = 0, rows = 0, cols = 0;
    if ((st = nb_idx_image_shape(img, &count, &features, &rows, &cols))) return st;
    if (lab->dim[0] != count)
        return nb_error(NB_ERR_FORMAT, "%s has %zu samples but %s has %u labels", img->src->name,
                        count, lab->src->name, (unsigned)lab->dim[0]);
    int exact_images, exact_labels;
    if ((st = nb_idx_check_claim(img, (uint64_t)count * (uint64_t)features, &exact_images)) ||
        (st = nb_idx_check_claim(lab, count, &exact_labels)))
        return st;
    if (!exact_images) {
        /* Read the bytes before allocating values for all of them. */
        unsigned char *bytes;
        size_t total = count * (size_t)features;
        if ((st = read_grown(img, total, "the image values", &bytes))) return st;
        st = nb_data_alloc(out, count, features, NB_MAX_CLASSES, 0, img->src->name);
        for (size_t i = 0; !st && i < total; i++) out->x[i] = (nb_real)bytes[i];
        nb_free(bytes);
        if (st) return st;
    } else if ((st = nb_data_alloc(out, count, features, NB_MAX_CLASSES, 0, img->src->name)) ||
               (st = read_images(img, out))) {
        return st;
    }
    out->rows = rows;
    out->cols = cols;
    out->channels = rows ? 1 : 0; /* IDX images are grey */
    if ((st = nb_data_alloc_origin(out, NB_ORIGIN_RECORD, img->src->name))) return st;
    for (size_t i = 0; i < count; i++) out->origin[i] = i;
    if ((st = nb_idx_expect_end(img))) return st;
    if ((st = read_labels(lab, out)) || (st = nb_idx_expect_end(lab))) return st;
    return NB_OK;
}

nb_status nb_load_idx(const char *images_path, const char *labels_path, nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_load_idx: out is NULL");
    memset(out, 0, sizeof *out);
    if (!images_path || !labels_path)
        return nb_error(NB_ERR_ARGUMENT, "nb_load_idx: a path is NULL");
    nb_idx img, lab;
    memset(&img, 0, sizeof img);
    memset(&lab, 0, sizeof lab);
    img.own.fd = lab.own.fd = -1;
    nb_status st = load_idx(&img, &lab, images_path, labels_path, out);
    nb_idx_close(&img);
    nb_idx_close(&lab);
    if (st) nb_dataset_free(out);
    return st;
}
