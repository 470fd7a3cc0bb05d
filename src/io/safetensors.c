/* Reading and writing the safetensors container, trusting nothing read. */
#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_EXACT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */
#define IO_CHUNK  1024               /* values per buffered read or write */

void nb_st_put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

uint64_t nb_st_get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* A JSON number that is a whole number in [0, max]. */
static int get_uint(const cJSON *item, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= max) || v != floor(v)) return 0;
    *out = (uint64_t)v;
    return 1;
}

/* name is the tensor's name escaped for messages. */
static nb_status parse_shape(const cJSON *shape, const char *name, nb_st_tensor *t)
{
    int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (n < 0 || n > NB_MAX_DIMS)
        return nb_error(NB_ERR_FORMAT,
                        "tensor \"%s\": \"shape\" must be an array of at most %d positive "
                        "integers",
                        name, NB_MAX_DIMS);
    t->shape.ndim = n;
    t->count = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t v;
        if (!get_uint(d, 2147483647.0, &v) || v == 0)
            return nb_error(NB_ERR_FORMAT,
                            "tensor \"%s\": shape dimension %d is not an integer in [1, "
                            "2147483647]",
                            name, i);
        t->shape.dim[i] = (int)v;
        if (!nb_mul_size(t->count, (size_t)v, &t->count))
            return nb_error(NB_ERR_LIMIT, "tensor \"%s\": the element count of its shape overflows",
                            name);
    }
    return NB_OK;
}

static nb_status parse_entry(const cJSON *e, uint64_t data_size, nb_st_tensor *t)
{
    char buf[64], q[NB_ESCAPE_SIZE], d[NB_ESCAPE_SIZE];
    const char *name = nb_escape(q, sizeof q, e->string);
    t->name = e->string;
    if (!cJSON_IsObject(e))
        return nb_error(NB_ERR_FORMAT, "tensor \"%s\": the entry is not a JSON object", name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dtype))
        return nb_error(NB_ERR_FORMAT, "tensor \"%s\": no \"dtype\" string", name);
    if (strcmp(dtype->valuestring, "F32") == 0)
        t->dsize = 4;
    else if (strcmp(dtype->valuestring, "F64") == 0)
        t->dsize = 8;
    else
        return nb_error(NB_ERR_FORMAT, "tensor \"%s\": dtype \"%s\" is not supported (F32 or F64)",
                        name, nb_escape(d, 24, dtype->valuestring));
    nb_status st = parse_shape(cJSON_GetObjectItemCaseSensitive(e, "shape"), name, t);
    if (st != NB_OK) return st;
    size_t bytes;
    if (!nb_mul_size(t->count, (size_t)t->dsize, &bytes))
        return nb_error(NB_ERR_LIMIT, "tensor \"%s\": the byte size of shape %s overflows", name,
                        nb_shape_format(t->shape, buf, sizeof buf));
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !get_uint(off->child, MAX_EXACT, &t->begin) ||
        !get_uint(off->child->next, MAX_EXACT, &t->end))
        return nb_error(NB_ERR_FORMAT,
                        "tensor \"%s\": \"data_offsets\" must be two integers [begin, end] in "
                        "[0, 2^53]",
                        name);
    if (t->begin > t->end)
        return nb_error(NB_ERR_FORMAT, "tensor \"%s\": data_offsets [%llu, %llu] are reversed",
                        name, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != (uint64_t)bytes)
        return nb_error(NB_ERR_FORMAT,
                        "tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes, but %s %s "
                        "needs %zu",
                        name, (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)(t->end - t->begin), dtype->valuestring,
                        nb_shape_format(t->shape, buf, sizeof buf), bytes);
    if (t->end > data_size)
        return nb_error(NB_ERR_FORMAT,
                        "tensor \"%s\": data_offsets [%llu, %llu] end past the data area of "
                        "%llu bytes",
                        name, (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)data_size);
    return NB_OK;
}

static int by_begin(const void *a, const void *b)
{
    const nb_st_tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const nb_st_tensor *)a)->name, ((const nb_st_tensor *)b)->name);
}

/* No name twice (checked first: a name given twice also gives its range
 * twice, and is said as what it is), and the ranges must tile the data
 * area exactly (as safetensors requires): no overlap, no gap, nothing
 * after the last tensor. Leaves sorted in name order. */
static nb_status check_layout(nb_st_tensor *sorted, int count, uint64_t data_size)
{
    uint64_t pos = 0;
    char q[NB_ESCAPE_SIZE];
    qsort(sorted, (size_t)count, sizeof *sorted, by_name);
    for (int i = 1; i < count; i++)
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            return nb_error(NB_ERR_FORMAT, "tensor \"%s\" is listed twice (a duplicate name)",
                            nb_escape(q, sizeof q, sorted[i].name));
    qsort(sorted, (size_t)count, sizeof *sorted, by_begin);
    for (int i = 0; i < count; i++) {
        const nb_st_tensor *t = &sorted[i];
        char a[NB_ESCAPE_SIZE], b[NB_ESCAPE_SIZE];
        if (t->begin < pos)
            return nb_error(
                NB_ERR_FORMAT, "tensors \"%s\" [%llu, %llu] and \"%s\" [%llu, %llu] overlap",
                nb_escape(a, sizeof a, sorted[i - 1].name), (unsigned long long)sorted[i - 1].begin,
                (unsigned long long)sorted[i - 1].end, nb_escape(b, sizeof b, t->name),
                (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > pos)
            return nb_error(NB_ERR_FORMAT, "data bytes [%llu, %llu) belong to no tensor",
                            (unsigned long long)pos, (unsigned long long)t->begin);
        pos = t->end;
    }
    if (pos != data_size)
        return nb_error(NB_ERR_FORMAT,
                        "data bytes [%llu, %llu) after the last tensor belong to no tensor",
                        (unsigned long long)pos, (unsigned long long)data_size);
    qsort(sorted, (size_t)count, sizeof *sorted, by_name);
    return NB_OK;
}

static nb_status parse_root(nb_st_header *h, uint64_t data_size)
{
    int entries = 0;
    for (const cJSON *e = h->root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (h->metadata) return nb_error(NB_ERR_FORMAT, "\"__metadata__\" is listed twice");
            h->metadata = e;
            if (!cJSON_IsObject(e))
                return nb_error(NB_ERR_FORMAT, "\"__metadata__\" is not a JSON object");
            char q[NB_ESCAPE_SIZE];
            for (const cJSON *m = e->child; m; m = m->next)
                if (!cJSON_IsString(m))
                    return nb_error(NB_ERR_FORMAT,
                                    "\"__metadata__\" entry \"%s\" is not a string (safetensors "
                                    "metadata maps strings to strings)",
                                    nb_escape(q, sizeof q, m->string));
        } else if (++entries > NB_MAX_TENSORS) {
            return nb_error(NB_ERR_LIMIT, "the header lists more than %d tensors", NB_MAX_TENSORS);
        }
    }
    h->tensors = nb_calloc(entries ? (size_t)entries : 1, sizeof *h->tensors);
    nb_st_tensor *sorted = nb_calloc(entries ? (size_t)entries : 1, sizeof *sorted);
    if (!h->tensors || !sorted) {
        nb_free(sorted);
        return nb_error(NB_ERR_MEMORY, "out of memory for %d tensor entries", entries);
    }
    nb_status st = NB_OK;
    for (const cJSON *e = h->root->child; e && st == NB_OK; e = e->next)
        if (e != h->metadata) st = parse_entry(e, data_size, &h->tensors[h->count++]);
    if (st == NB_OK) {
        memcpy(sorted, h->tensors, (size_t)h->count * sizeof *sorted);
        st = check_layout(sorted, h->count, data_size);
    }
    h->by_name = sorted; /* check_layout leaves it sorted by name */
    return st;
}

nb_status nb_st_parse(const char *text, size_t len, uint64_t data_size, nb_st_header *out)
{
    memset(out, 0, sizeof *out);
    const char *end = NULL;
    out->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!out->root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return nb_error(NB_ERR_FORMAT, "the header is not valid JSON (near file byte %zu)", 8 + at);
    }
    for (const char *p = end; p && p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            nb_status st =
                nb_error(NB_ERR_FORMAT, "unexpected bytes after the header's JSON (file byte %zu)",
                         8 + (size_t)(p - text));
            nb_st_free(out);
            return st;
        }
    /* A string cut by \u0000 would read as another name or value. */
    nb_status st = nb_json_check_text(text, len, NB_ERR_FORMAT, "the header", "file byte", 8);
    if (st != NB_OK) {
        nb_st_free(out);
        return st;
    }
    st = cJSON_IsObject(out->root)
             ? parse_root(out, data_size)
             : nb_error(NB_ERR_FORMAT, "the header is not a JSON object (file byte 8)");
    /* A key given twice (a tensor field, a metadata key) has two meanings. */
    if (st == NB_OK) st = nb_json_unique_keys(out->root, NB_ERR_FORMAT, "the header");
    if (st != NB_OK) nb_st_free(out);
    return st;
}

void nb_st_free(nb_st_header *h)
{
    if (!h) return;
    cJSON_Delete(h->root);
    nb_free(h->tensors);
    nb_free(h->by_name);
    memset(h, 0, sizeof *h);
}

/* A binary search of the names (sorted by parse_root): O(log n). */
const nb_st_tensor *nb_st_find(const nb_st_header *h, const char *name)
{
    if (!h->by_name || !name) return NULL;
    nb_st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = name;
    return bsearch(&key, h->by_name, (size_t)h->count, sizeof key, by_name);
}

nb_status nb_st_write_values(FILE *f, const nb_real *v, size_t count)
{
    unsigned char buf[IO_CHUNK * sizeof(nb_real)] = {0};
    while (count > 0) {
        size_t n = count < IO_CHUNK ? count : IO_CHUNK;
        for (size_t i = 0; i < n; i++) {
            unsigned char *b = buf + i * sizeof(nb_real);
#ifdef NABLA_DOUBLE
            uint64_t bits;
            memcpy(&bits, &v[i], 8);
            nb_st_put_u64(b, bits);
#else
            uint32_t bits;
            memcpy(&bits, &v[i], 4);
            for (int k = 0; k < 4; k++) b[k] = (unsigned char)(bits >> (8 * k));
#endif
        }
        if (fwrite(buf, sizeof(nb_real), n, f) != n)
            return nb_error(NB_ERR_IO, "writing tensor data: %s", strerror(errno ? errno : EIO));
        v += n;
        count -= n;
    }
    return NB_OK;
}

nb_status nb_st_read_values(FILE *f, int dsize, size_t count, nb_real *out, const char *name)
{
    unsigned char buf[IO_CHUNK * 8];
    char q[NB_ESCAPE_SIZE];
    size_t done = 0;
    while (done < count) {
        size_t n = count - done < IO_CHUNK ? count - done : IO_CHUNK;
        if (fread(buf, (size_t)dsize, n, f) != n)
            return nb_error(NB_ERR_IO, "tensor \"%s\": the data ends early (the file changed?)",
                            nb_escape(q, sizeof q, name));
        for (size_t i = 0; i < n; i++) {
            const unsigned char *b = buf + i * (size_t)dsize;
            nb_real v;
            if (dsize == 8) {
                uint64_t bits = nb_st_get_u64(b);
                double d;
                memcpy(&d, &bits, 8);
                v = (nb_real)d;
            } else {
                uint32_t bits = 0;
                float x;
                for (int k = 0; k < 4; k++) bits |= (uint32_t)b[k] << (8 * k);
                memcpy(&x, &bits, 4);
                v = (nb_real)x;
            }
            if (!isfinite(v))
                return nb_error(NB_ERR_NUMERIC,
                                "tensor \"%s\": element %zu is not a finite %s value",
                                nb_escape(q, sizeof q, name), done + i, NB_REAL_NAME);
            out[done + i] = v;
        }
        done += n;
    }
    return NB_OK;
}

/* ---------------------------------------------------------------- write */

static int add_tensor(cJSON *root, const nb_st_out *t, uint64_t *offset)
{
    cJSON *e = cJSON_AddObjectToObject(root, t->name), *shape, *off;
    if (!e || !cJSON_AddStringToObject(e, "dtype", NB_ST_DTYPE)) return 0;
    if (!(shape = cJSON_AddArrayToObject(e, "shape"))) return 0;
    for (int d = 0; d < t->shape.ndim; d++) {
        cJSON *n = cJSON_CreateNumber(t->shape.dim[d]);
        if (!n || !cJSON_AddItemToArray(shape, n)) {
            cJSON_Delete(n);
            return 0;
        }
    }
    uint64_t end = *offset + (uint64_t)nb_shape_count(t->shape) * sizeof(nb_real);
    if (!(off = cJSON_AddArrayToObject(e, "data_offsets"))) return 0;
    double ends[2] = {(double)*offset, (double)end};
    for (int i = 0; i < 2; i++) {
        cJSON *n = cJSON_CreateNumber(ends[i]);
        if (!n || !cJSON_AddItemToArray(off, n)) {
            cJSON_Delete(n);
            return 0;
        }
    }
    *offset = end;
    return 1;
}

nb_status nb_st_write(FILE *f, cJSON *root, const nb_st_out *t, int count)
{
    uint64_t offset = 0;
    int ok = root != NULL;
    for (int i = 0; ok && i < count; i++) ok = add_tensor(root, &t[i], &offset);
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return nb_error(NB_ERR_MEMORY, "out of memory for the header");
    /* Padded with spaces to a multiple of 8 bytes, as safetensors writers do. */
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    if (padded > NB_MAX_HEADER) {
        cJSON_free(json);
        return nb_error(NB_ERR_LIMIT, "the header would be %zu bytes, more than %d", padded,
                        NB_MAX_HEADER);
    }
    unsigned char prefix[8];
    nb_st_put_u64(prefix, padded);
    errno = 0;
    int bad = fwrite(prefix, 1, 8, f) != 8 || fwrite(json, 1, n, f) != n;
    for (size_t i = n; !bad && i < padded; i++) bad = fputc(' ', f) == EOF;
    cJSON_free(json);
    if (bad) return nb_error(NB_ERR_IO, "writing the header: %s", strerror(errno ? errno : EIO));
    for (int i = 0; i < count; i++) {
        nb_status st = nb_st_write_values(f, t[i].values, nb_shape_count(t[i].shape));
        if (st != NB_OK) return st;
    }
    return NB_OK;
}

/* ----------------------------------------------------------------- read */

/* Are these bytes the start of text: printable ASCII, tab, CR, LF and
 * UTF-8 sequences, the last of which may be cut off? The length without
 * that cut-off sequence, or 0 when they are not. */
static size_t text_start(const unsigned char *b, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = b[i];
        size_t more = c >= 0xc2 && c <= 0xdf   ? 1
                      : c >= 0xe0 && c <= 0xef ? 2
                      : c >= 0xf0 && c <= 0xf4 ? 3
                                               : 0;
        if (!more && !((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r')) return 0;
        if (i + more >= n) return i; /* cut off: the bytes checked so far */
        for (size_t k = 1; k <= more; k++)
            if ((b[i + k] & 0xc0) != 0x80) return 0;
        i += more + 1;
    }
    return i;
}

/* A file that is no safetensors file: when its first bytes tell what it
 * is (a CSV file, a compressed or IDX data file, a zip archive such as
 * PyTorch's .pt), an error that says so; else NB_OK. Asked only once the
 * length prefix or the header has failed, so a real file is never taken
 * for something else. */
static nb_status other_kind_of_file(const unsigned char *prefix)
{
    static const char *const idx_types[] = {
        [0x08] = "unsigned bytes",  [0x09] = "signed bytes", [0x0b] = "16-bit integers",
        [0x0c] = "32-bit integers", [0x0d] = "floats",       [0x0e] = "doubles"};
    char q[64];
    const char *not_st = "not a safetensors file";
    size_t text = text_start(prefix, 8);
    if (text)
        return nb_error(NB_ERR_FORMAT, "it starts with \"%s\": this looks like text (%s), %s",
                        nb_escape_len(q, sizeof q, (const char *)prefix, text),
                        prefix[0] == '{' || prefix[0] == '[' ? "a JSON file?" : "a CSV file?",
                        not_st);
    if (prefix[0] == 0x1f && prefix[1] == 0x8b)
        return nb_error(NB_ERR_FORMAT,
                        "it starts with the gzip magic bytes 1f 8b: this looks like a compressed "
                        "file (a .gz data file?), %s",
                        not_st);
    if (prefix[0] == 0 && prefix[1] == 0 && prefix[2] <= 0x0e && idx_types[prefix[2]] &&
        prefix[3] >= 1)
        return nb_error(NB_ERR_FORMAT,
                        "it starts with the IDX magic bytes 00 00 %02x %02x: this looks like an "
                        "IDX data file (%s, %d %s), %s",
                        prefix[2], prefix[3], idx_types[prefix[2]], prefix[3],
                        nb_plural(prefix[3], "dimension", "dimensions"), not_st);
    if (memcmp(prefix, "PK\x03\x04", 4) == 0)
        return nb_error(NB_ERR_FORMAT,
                        "it starts with \"PK\\x03\\x04\": this looks like a zip archive (a "
                        "PyTorch .pt file?), %s",
                        not_st);
    return NB_OK;
}

nb_status nb_st_read_header(FILE *f, nb_st_header *out, uint64_t *data_start)
{
    struct stat info;
    if (fstat(fileno(f), &info) != 0)
        return nb_error(NB_ERR_IO, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(info.st_mode)) return nb_error(NB_ERR_IO, "not a regular file");
    uint64_t size = (uint64_t)info.st_size;
    unsigned char prefix[8];
    if (size < 8)
        return nb_error(NB_ERR_FORMAT,
                        "the file is %llu bytes, too short for the 8-byte header length",
                        (unsigned long long)size);
    if (fread(prefix, 1, 8, f) != 8) return nb_error(NB_ERR_IO, "cannot read the header length");
    uint64_t len = nb_st_get_u64(prefix);
    if (len == 0) return nb_error(NB_ERR_FORMAT, "the header length (file bytes 0-7) is 0");
    if (len > NB_MAX_HEADER || len > size - 8) {
        nb_status st = other_kind_of_file(prefix);
        if (st != NB_OK) return st;
    }
    if (len > NB_MAX_HEADER)
        return nb_error(NB_ERR_LIMIT, "the header length (file bytes 0-7) is %llu, more than %d",
                        (unsigned long long)len, NB_MAX_HEADER);
    if (len > size - 8)
        return nb_error(NB_ERR_FORMAT,
                        "the header length (file bytes 0-7) is %llu, but only %llu bytes follow "
                        "(a truncated file?)",
                        (unsigned long long)len, (unsigned long long)(size - 8));
    char *text = nb_malloc((size_t)len);
    if (!text)
        return nb_error(NB_ERR_MEMORY, "out of memory for a %llu-byte header",
                        (unsigned long long)len);
    nb_status st = NB_OK;
    if (fread(text, 1, (size_t)len, f) != (size_t)len)
        st = nb_error(NB_ERR_IO, "cannot read the header");
    /* The header is a JSON object: a file whose would-be header is not
     * may be another kind of file. */
    if (st == NB_OK && text[0] != '{') st = other_kind_of_file(prefix);
    if (st == NB_OK) st = nb_st_parse(text, (size_t)len, size - 8 - len, out);
    nb_free(text);
    *data_start = 8 + len;
    return st;
}
