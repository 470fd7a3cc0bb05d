/* The bytes of a data file: plain or gzip-compressed (inflated here, once),
 * from a path or from standard input, read front to back with a window
 * for looking ahead, so that what a file is can be decided by its content
 * without seeking. */
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAW_CHUNK (1 << 16)

uint64_t nb_src_inflate_limit = NB_MAX_INFLATED;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return nb_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    nb_free(p);
}

/* More raw bytes into raw[raw_len..) (raw_pos..raw_len kept). */
static nb_status raw_fill(nb_src *s)
{
    if (s->raw_pos == s->raw_len) s->raw_pos = s->raw_len = 0;
    if (s->raw_eof || s->raw_len == RAW_CHUNK) return NB_OK;
    for (;;) {
        ssize_t n = read(s->fd, s->raw + s->raw_len, RAW_CHUNK - s->raw_len);
        if (n > 0) {
            s->raw_len += (size_t)n;
            return NB_OK;
        }
        if (n == 0) {
            s->raw_eof = 1;
            return NB_OK;
        }
        if (errno != EINTR)
            return nb_error(NB_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
    }
}

static nb_status inflate_error(nb_src *s, int code)
{
    if (code == Z_MEM_ERROR) return nb_error(NB_ERR_MEMORY, "%s: out of memory inflating", s->name);
    return nb_error(NB_ERR_FORMAT, "%s: corrupt gzip data after %llu inflated bytes: %s", s->name,
                    (unsigned long long)s->decoded, s->z.msg ? s->z.msg : "bad stream");
}

/* Inflate into buf[len..cap); at the end of a member, another member may
 * follow (as gzip writes concatenated files), anything else is refused. */
static nb_status inflate_some(nb_src *s, size_t cap)
{
    while (s->len < cap && !s->eof) {
        nb_status st;
        if (s->raw_pos == s->raw_len && (st = raw_fill(s))) return st;
        if (s->z_ended) {
            if (s->raw_pos == s->raw_len && s->raw_eof) {
                s->eof = 1;
                break;
            }
            if (s->raw_len - s->raw_pos < 2 && !s->raw_eof) {
                memmove(s->raw, s->raw + s->raw_pos, s->raw_len - s->raw_pos);
                s->raw_len -= s->raw_pos;
                s->raw_pos = 0;
                if ((st = raw_fill(s))) return st;
                continue;
            }
            if (s->raw_len - s->raw_pos < 2 || s->raw[s->raw_pos] != 0x1f ||
                s->raw[s->raw_pos + 1] != 0x8b)
                return nb_error(NB_ERR_FORMAT,
                                "%s: data after the end of the gzip stream (at inflated byte "
                                "offset %llu): expected the end of the file or another gzip member",
                                s->name, (unsigned long long)s->decoded);
            int code = inflateReset(&s->z);
            if (code != Z_OK) return inflate_error(s, code);
            s->z_ended = 0;
        }
        if (s->raw_pos == s->raw_len && s->raw_eof)
            return nb_error(NB_ERR_FORMAT,
                            "%s: truncated: the gzip stream is cut short after %llu inflated bytes",
                            s->name, (unsigned long long)s->decoded);
        s->z.next_in = s->raw + s->raw_pos;
        s->z.avail_in = (uInt)(s->raw_len - s->raw_pos);
        s->z.next_out = s->buf + s->len;
        s->z.avail_out = (uInt)(cap - s->len);
        int code = inflate(&s->z, Z_NO_FLUSH);
        size_t made = (cap - s->len) - s->z.avail_out;
        s->raw_pos = s->raw_len - s->z.avail_in;
        s->len += made;
        s->decoded += made;
        if (s->decoded > nb_src_inflate_limit)
            return nb_error(NB_ERR_LIMIT,
                            "%s: inflates to more than %llu bytes, the limit for compressed input",
                            s->name, (unsigned long long)nb_src_inflate_limit);
        if (code == Z_STREAM_END)
            s->z_ended = 1;
        else if (code != Z_OK && !(code == Z_BUF_ERROR && made == 0 && s->z.avail_in == 0))
            return inflate_error(s, code);
    }
    return NB_OK;
}

/* Plain bytes into buf[len..cap). */
static nb_status read_some(nb_src *s, size_t cap)
{
    while (s->len < cap && !s->eof) {
        if (s->raw_pos < s->raw_len) { /* the bytes read to look for gzip */
            size_t n = s->raw_len - s->raw_pos;
            if (n > cap - s->len) n = cap - s->len;
            memcpy(s->buf + s->len, s->raw + s->raw_pos, n);
            s->raw_pos += n;
            s->len += n;
            s->decoded += n;
            continue;
        }
        ssize_t n = read(s->fd, s->buf + s->len, cap - s->len);
        if (n > 0) {
            s->len += (size_t)n;
            s->decoded += (size_t)n;
        } else if (n == 0) {
            s->eof = 1;
        } else if (errno != EINTR) {
            return nb_error(NB_ERR_IO, "%s: read error: %s", s->name, strerror(errno));
        }
    }
    return NB_OK;
}

nb_status nb_src_peek(nb_src *s, size_t want)
{
    if (want > NB_SRC_WINDOW) want = NB_SRC_WINDOW;
    if (s->len - s->pos >= want || s->eof) return NB_OK;
    if (s->pos > 0) { /* slide what is left to the front */
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->consumed += s->pos;
        s->pos = 0;
    }
    /* Fill the whole window: fewer, larger reads. */
    return s->gzip ? inflate_some(s, NB_SRC_WINDOW) : read_some(s, NB_SRC_WINDOW);
}

nb_status nb_src_read(nb_src *s, void *dst, size_t n, size_t *got)
{
    unsigned char *out = dst;
    *got = 0;
    while (*got < n) {
        if (s->pos == s->len) {
            nb_status st = nb_src_peek(s, 1);
            if (st) return st;
            if (s->pos == s->len) break;
        }
        size_t take = s->len - s->pos;
        if (take > n - *got) take = n - *got;
        memcpy(out + *got, s->buf + s->pos, take);
        s->pos += take;
        *got += take;
    }
    return NB_OK;
}

void nb_src_close(nb_src *s)
{
    if (s->z_live) inflateEnd(&s->z);
    if (s->own_fd && s->fd >= 0) close(s->fd);
    nb_free(s->raw);
    nb_free(s->buf);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

nb_status nb_src_open(nb_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (strcmp(path, "-") == 0) {
        s->name = "standard input";
        s->fd = STDIN_FILENO;
    } else {
        /* A path is user text: a crafted one must not reach a terminal raw. */
        s->name = nb_escape(s->shown, sizeof s->shown, path);
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) return nb_error(NB_ERR_IO, "%s: cannot open: %s", s->name, strerror(errno));
        s->own_fd = 1;
    }
    struct stat sb;
    if (fstat(s->fd, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return nb_error(NB_ERR_IO, "%s: is a directory, expected a file", s->name);
        s->regular = S_ISREG(sb.st_mode);
        s->raw_size = s->regular ? (uint64_t)sb.st_size : 0;
    }
    s->raw = nb_malloc(RAW_CHUNK);
    s->buf = nb_malloc(NB_SRC_WINDOW);
    if (!s->raw || !s->buf) return nb_error(NB_ERR_MEMORY, "%s: out of memory", s->name);
    /* The first two raw bytes say whether it is gzip. */
    nb_status st;
    while (s->raw_len < 2 && !s->raw_eof)
        if ((st = raw_fill(s))) return st;
    if (s->raw_len >= 2 && s->raw[0] == 0x1f && s->raw[1] == 0x8b) {
        s->gzip = 1;
        s->z.zalloc = z_alloc;
        s->z.zfree = z_free;
        int code = inflateInit2(&s->z, 16 + MAX_WBITS);
        if (code != Z_OK) return inflate_error(s, code);
        s->z_live = 1;
    }
    return NB_OK;
}

/* Formats people hand over by mistake, by their first bytes. */
static const struct {
    const char *magic;
    size_t len;
    const char *what;
} known[] = {
    {"PK\3\4", 4, "a zip archive"},
    {"BZh", 3, "bzip2-compressed data"},
    {"\xfd"
     "7zXZ",
     5, "xz-compressed data"},
    {"\x28\xb5\x2f\xfd", 4, "zstd-compressed data"},
    {"\x89PNG", 4, "a PNG image"},
    {"\xff\xd8\xff", 3, "a JPEG image"},
    {"%PDF", 4, "a PDF document"},
    {"\x7f"
     "ELF",
     4, "an executable (ELF)"},
};

nb_status nb_src_detect(nb_src *s, const char *expected, nb_src_format *format)
{
    nb_status st = nb_src_peek(s, NB_SRC_WINDOW);
    if (st) return st;
    const unsigned char *b = s->buf + s->pos;
    size_t n = s->len - s->pos;
    const char *inner = s->gzip ? " after inflating" : "";
    *format = NB_SRC_EMPTY;
    if (n == 0) return NB_OK;
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return nb_error(NB_ERR_FORMAT, "%s: gzip inside gzip: expected %s after inflating", s->name,
                        expected);
    if (n >= 2 && b[0] == 0 && b[1] == 0) {
        *format = NB_SRC_IDX;
        return NB_OK;
    }
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (n >= known[k].len && memcmp(b, known[k].magic, known[k].len) == 0)
            return nb_error(NB_ERR_FORMAT, "%s: %s%s, expected %s", s->name, known[k].what,
                            s->gzip ? " inside gzip" : "", expected);
    /* Text has no NUL bytes; a safetensors model starts with a header
     * length whose high bytes are 0. */
    const unsigned char *nul = memchr(b, 0, n);
    if (nul)
        return nb_error(NB_ERR_FORMAT,
                        "%s: binary data%s (a NUL byte at byte offset %zu), expected %s", s->name,
                        inner, (size_t)(nul - b), expected);
    *format = NB_SRC_CSV;
    return NB_OK;
}

/* ----------------------------------------------------------- string sets */

static size_t hash_text(const char *s)
{
    uint64_t h = nb_fnv1a(NB_FNV1A_INIT, s, strlen(s));
    return (size_t)(h ^ (h >> 29));
}

nb_status nb_strset_init(nb_strset *set, size_t capacity)
{
    size_t slots = 16;
    while (slots < 2 * capacity) slots *= 2;
    set->slot = nb_calloc(slots, sizeof *set->slot);
    set->mask = slots - 1;
    return set->slot ? NB_OK : nb_error(NB_ERR_MEMORY, "out of memory for %zu names", capacity);
}

void nb_strset_free(nb_strset *set)
{
    nb_free(set->slot);
    set->slot = NULL;
}

int nb_strset_find(const nb_strset *set, char *const *names, const char *s)
{
    for (size_t i = hash_text(s) & set->mask;; i = (i + 1) & set->mask) {
        int32_t v = set->slot[i];
        if (v == 0) return -1;
        if (strcmp(names[v - 1], s) == 0) return v - 1;
    }
}

void nb_strset_add(nb_strset *set, char *const *names, int index)
{
    size_t i = hash_text(names[index]) & set->mask;
    while (set->slot[i]) i = (i + 1) & set->mask;
    set->slot[i] = index + 1;
}
