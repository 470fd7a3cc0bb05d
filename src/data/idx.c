/* IDX files (the MNIST format), plain or gzip-compressed, read through
 * zlib so both work the same way. A file is a 4-byte magic (0, 0, type,
 * number of dimensions), one big-endian 32-bit size per dimension, then
 * the values. Every field is checked before it is used. */
#include "data.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
#define IDX_CHUNK (1 << 16)

/* A byte label is always below NB_MAX_CLASSES. */
_Static_assert(NB_MAX_CLASSES > 255, "IDX byte labels must fit NB_MAX_CLASSES");

/* An open IDX file and how far into its (uncompressed) bytes we are. */
typedef struct idx_file {
    const char *path;
    gzFile gz;
    uint64_t offset;
    int ndim;
    uint32_t dim[3];
} idx_file;

/* Read exactly n bytes; a short read is a truncated file. */
static nb_status idx_read(idx_file *f, void *buf, size_t n, const char *what)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned want = n > IDX_CHUNK ? IDX_CHUNK : (unsigned)n;
        int got = gzread(f->gz, p, want);
        if (got < 0) {
            int code;
            const char *msg = gzerror(f->gz, &code);
            return nb_error(code == Z_ERRNO ? NB_ERR_IO : NB_ERR_FORMAT,
                            "%s: cannot read %s at byte offset %llu: %s", f->path, what,
                            (unsigned long long)f->offset, code == Z_ERRNO ? strerror(errno) : msg);
        }
        f->offset += (unsigned)got;
        if ((unsigned)got < want) {
            int code;
            gzerror(f->gz, &code);
            return nb_error(NB_ERR_FORMAT,
                            "%s: truncated: data ends at byte offset %llu while reading %s "
                            "(%zu more bytes expected)%s",
                            f->path, (unsigned long long)f->offset, what, n - (unsigned)got,
                            code == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "");
        }
        p += got;
        n -= (size_t)got;
    }
    return NB_OK;
}

/* Open path and read its header. Labels must be idx1 (magic 0x00000801);
 * images idx3 (0x00000803) or 2-D vectors idx2 (0x00000802). */
static nb_status idx_open(idx_file *f, const char *path, int labels)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    const char *role = labels ? "labels" : "images";
    const char *expected =
        labels ? "0x00000801 (labels)" : "0x00000803 (images) or 0x00000802 (vectors)";
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return nb_error(NB_ERR_IO, "%s: cannot open %s file: %s", path, role,
                        errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1 << 17);
    unsigned char magic[4];
    nb_status st = idx_read(f, magic, 4, "the magic number");
    if (st) return st;
    unsigned m =
        (unsigned)magic[0] << 24 | (unsigned)magic[1] << 16 | (unsigned)magic[2] << 8 | magic[3];
    if (magic[0] != 0 || magic[1] != 0)
        return nb_error(NB_ERR_FORMAT, "%s: not an IDX file: magic number 0x%08x, expected %s",
                        path, m, expected);
    if (magic[2] != IDX_UBYTE)
        return nb_error(NB_ERR_FORMAT,
                        "%s: magic number 0x%08x: value type 0x%02x is not supported (only "
                        "0x08, unsigned byte); expected %s",
                        path, m, magic[2], expected);
    int ndim = magic[3];
    if (labels ? ndim != 1 : ndim != 2 && ndim != 3)
        return nb_error(NB_ERR_FORMAT, "%s: magic number 0x%08x (%d dimensions), expected %s", path,
                        m, ndim, expected);
    f->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        unsigned char b[4];
        if ((st = idx_read(f, b, 4, "the dimension sizes"))) return st;
        f->dim[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    return NB_OK;
}

/* After the last value there must be nothing more. */
static nb_status idx_expect_end(idx_file *f)
{
    unsigned char extra;
    int got = gzread(f->gz, &extra, 1);
    if (got > 0)
        return nb_error(NB_ERR_FORMAT,
                        "%s: unexpected trailing bytes after byte offset %llu (the header "
                        "describes exactly %llu bytes)",
                        f->path, (unsigned long long)f->offset, (unsigned long long)f->offset);
    if (got < 0) {
        int code;
        const char *msg = gzerror(f->gz, &code);
        return nb_error(NB_ERR_FORMAT, "%s: error after byte offset %llu: %s", f->path,
                        (unsigned long long)f->offset, msg);
    }
    return NB_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* Refuse a header that claims more values than the file can hold, before
 * anything that size is allocated. A plain file holds its length; deflate
 * expands at most 1032 to 1, which bounds a gzip file. */
static nb_status idx_check_size(const idx_file *f, uint64_t values)
{
    struct stat sb;
    if (stat(f->path, &sb) != 0 || !S_ISREG(sb.st_mode)) return NB_OK; /* a pipe: read and see */
    uint64_t size = (uint64_t)sb.st_size;
    int plain = gzdirect(f->gz);
    uint64_t bound = plain ? size : size * 1032 + 64;
    uint64_t need = f->offset + values;
    if (need > bound && plain)
        return nb_error(NB_ERR_FORMAT,
                        "%s: truncated: the header describes data up to byte offset %llu, but "
                        "the file ends at byte offset %llu",
                        f->path, (unsigned long long)need, (unsigned long long)size);
    if (need > bound)
        return nb_error(NB_ERR_FORMAT,
                        "%s: the header describes %llu bytes, more than a gzip file of %llu "
                        "bytes can expand to",
                        f->path, (unsigned long long)need, (unsigned long long)size);
    return NB_OK;
}

/* Check the images header and give the sample count and geometry. */
static nb_status idx_image_shape(const idx_file *f, size_t *count, int *rows, int *cols)
{
    uint64_t n = f->dim[0];
    uint64_t r = f->dim[1], c = f->ndim == 3 ? f->dim[2] : 1;
    if (n == 0 || r == 0 || c == 0)
        return nb_error(NB_ERR_FORMAT, "%s: a dimension is 0 (%llu x %llu x %llu)", f->path,
                        (unsigned long long)n, (unsigned long long)r, (unsigned long long)c);
    if (n > NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "%s: %llu samples, more than the limit %d", f->path,
                        (unsigned long long)n, NB_MAX_SAMPLES);
    /* r and c are below 2^32, so r * c fits in 64 bits. */
    if (r * c > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT,
                        "%s: %llu x %llu = %llu values per sample, more than the "
                        "limit %d",
                        f->path, (unsigned long long)r, (unsigned long long)c,
                        (unsigned long long)(r * c), NB_MAX_FEATURES);
    *count = (size_t)n;
    *rows = f->ndim == 3 ? (int)r : 0;
    *cols = f->ndim == 3 ? (int)c : 0;
    return NB_OK;
}

static nb_status idx_read_images(idx_file *f, nb_dataset *out)
{
    unsigned char *buf = nb_malloc(IDX_CHUNK);
    if (!buf) return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->path);
    size_t total = out->count * (size_t)out->features; /* checked by nb_data_alloc */
    nb_status st = NB_OK;
    for (size_t done = 0; done < total && !st;) {
        size_t n = total - done < IDX_CHUNK ? total - done : IDX_CHUNK;
        st = idx_read(f, buf, n, "the image values");
        for (size_t i = 0; i < n && !st; i++) out->x[done + i] = (nb_real)buf[i];
        done += n;
    }
    nb_free(buf);
    return st;
}

static nb_status idx_read_labels(idx_file *f, nb_dataset *out)
{
    unsigned char *buf = nb_malloc(IDX_CHUNK);
    if (!buf) return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->path);
    nb_status st = NB_OK;
    int max_label = 0;
    for (size_t done = 0; done < out->count && !st;) {
        size_t n = out->count - done < IDX_CHUNK ? out->count - done : IDX_CHUNK;
        st = idx_read(f, buf, n, "the labels");
        for (size_t i = 0; i < n && !st; i++) {
            out->labels[done + i] = buf[i];
            if (buf[i] > max_label) max_label = buf[i];
        }
        done += n;
    }
    nb_free(buf);
    out->classes = max_label + 1;
    return st;
}

static nb_status load_idx(idx_file *img, idx_file *lab, const char *images_path,
                          const char *labels_path, nb_dataset *out)
{
    nb_status st = idx_open(img, images_path, 0);
    if (st) return st;
    if ((st = idx_open(lab, labels_path, 1))) return st;
    size_t count = 0;
    int rows = 0, cols = 0;
    if ((st = idx_image_shape(img, &count, &rows, &cols))) return st;
    if (lab->dim[0] != count)
        return nb_error(NB_ERR_FORMAT, "%s has %zu samples but %s has %u labels", images_path,
                        count, labels_path, (unsigned)lab->dim[0]);
    int features = img->ndim == 3 ? rows * cols : (int)img->dim[1];
    if ((st = idx_check_size(img, (uint64_t)count * (uint64_t)features)) ||
        (st = idx_check_size(lab, count)))
        return st;
    if ((st = nb_data_alloc(out, count, features, NB_MAX_CLASSES, 0, images_path))) return st;
    out->rows = rows;
    out->cols = cols;
    if ((st = idx_read_images(img, out)) || (st = idx_expect_end(img))) return st;
    if ((st = idx_read_labels(lab, out)) || (st = idx_expect_end(lab))) return st;
    return NB_OK;
}

nb_status nb_load_idx(const char *images_path, const char *labels_path, nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_load_idx: out is NULL");
    memset(out, 0, sizeof *out);
    if (!images_path || !labels_path)
        return nb_error(NB_ERR_ARGUMENT, "nb_load_idx: a path is NULL");
    idx_file img, lab;
    memset(&img, 0, sizeof img);
    memset(&lab, 0, sizeof lab);
    nb_status st = load_idx(&img, &lab, images_path, labels_path, out);
    idx_close(&img);
    idx_close(&lab);
    if (st) nb_dataset_free(out);
    return st;
}
