/* Errors are values: a status plus a per-thread message. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_ERROR_MAX 1024

static _Thread_local char message[NB_ERROR_MAX];

const char *nb_last_error(void)
{
    return message;
}

void nb_clear_error(void)
{
    message[0] = '\0';
}

nb_status nb_error(nb_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return status;
}

nb_status nb_error_prefix(nb_status status, const char *fmt, ...)
{
    char old[NB_ERROR_MAX];
    va_list ap;
    memcpy(old, message, sizeof old);
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t used = strlen(message);
    if (used + 2 < sizeof message) {
        memcpy(message + used, ": ", 3);
        used += 2;
        size_t room = sizeof message - used - 1;
        size_t len = strnlen(old, room);
        memcpy(message + used, old, len);
        message[used + len] = '\0';
    }
    return status;
}

const char *nb_status_name(nb_status status)
{
    switch (status) {
    case NB_OK:
        return "ok";
    case NB_ERR_ARGUMENT:
        return "invalid argument";
    case NB_ERR_SHAPE:
        return "shape error";
    case NB_ERR_MEMORY:
        return "out of memory";
    case NB_ERR_IO:
        return "i/o error";
    case NB_ERR_FORMAT:
        return "format error";
    case NB_ERR_LIMIT:
        return "limit exceeded";
    case NB_ERR_NUMERIC:
        return "numeric error";
    case NB_ERR_STATE:
        return "wrong state";
    case NB_ERR_NOT_FOUND:
        return "not found";
    case NB_ERR_INTERRUPTED:
        return "interrupted";
    }
    return "unknown status";
}

/* ------------------------------------------------- untrusted text */

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 when it is
 * not one (overlong forms, surrogates and values past U+10FFFF are not);
 * *cp gets the code point. */
static size_t utf8_char(const unsigned char *p, size_t n, unsigned *cp)
{
    size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
    if (len == 0 || p[0] > 0xf4 || len > n) return 0;
    unsigned v = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < least[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* Code points that print as nothing, or change how the text around them
 * looks, rather than as a glyph: C1 controls, the line and paragraph
 * separators, and the Unicode format characters (category Cf: bidi
 * embeddings, overrides and isolates, zero-width spaces and joiners, the
 * byte-order mark, tags) with the other default-ignorable code points
 * (variation selectors, Hangul fillers, the soft hyphen). Two names that
 * differ only by one of these look the same; a bidi override reorders the
 * rest of the line. */
static int invisible(unsigned cp)
{
    static const unsigned range[][2] = {
        {0x80, 0x9f},       {0xad, 0xad},       {0x34f, 0x34f},     {0x600, 0x605},
        {0x61c, 0x61c},     {0x6dd, 0x6dd},     {0x70f, 0x70f},     {0x890, 0x891},
        {0x8e2, 0x8e2},     {0x115f, 0x1160},   {0x17b4, 0x17b5},   {0x180b, 0x180f},
        {0x200b, 0x200f},   {0x2028, 0x202e},   {0x2060, 0x206f},   {0x3164, 0x3164},
        {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff0, 0xfffb},
        {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3},
        {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
    };
    for (size_t i = 0; i < sizeof range / sizeof range[0] && cp >= range[i][0]; i++)
        if (cp <= range[i][1]) return 1;
    return 0;
}

/* Space characters (Unicode category Zs): a name may not start or end with
 * one, or "setosa" and "setosa " would be two classes that print alike. */
static int space_char(unsigned cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static int at_end(const unsigned char *p, size_t i, size_t len)
{
    return i >= len || (len == NB_ESCAPE_ALL && !p[i]);
}

/* The escaped form of the character at p[i] into piece (16 bytes): its
 * length; *used gets the bytes of text it stands for. */
static size_t escape_one(const unsigned char *p, size_t i, size_t len, char *piece, size_t *used)
{
    unsigned cp = 0;
    unsigned char c = p[i];
    *used = 1;
    if (c == '\n' || c == '\t' || c == '\r') {
        piece[0] = '\\';
        piece[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        return 2;
    }
    if (c < 0x20 || c == 0x7f) return (size_t)snprintf(piece, 16, "\\x%02x", c);
    if (c < 0x80) {
        piece[0] = (char)c;
        return 1;
    }
    size_t n = utf8_char(p + i, len - i, &cp);
    if (n == 0) return (size_t)snprintf(piece, 16, "\\x%02x", c); /* not UTF-8 */
    *used = n;
    if (invisible(cp)) return (size_t)snprintf(piece, 16, cp > 0xffff ? "\\U%08x" : "\\u%04x", cp);
    memcpy(piece, p + i, n);
    return n;
}

/* Whether the text from i on, escaped, takes at most room bytes. */
static int rest_fits(const unsigned char *p, size_t i, size_t len, size_t room)
{
    char piece[16];
    size_t total = 0, used;
    for (; !at_end(p, i, len) && total <= room; i += used)
        total += escape_one(p, i, len, piece, &used);
    return total <= room;
}

const char *nb_escape_len(char *buf, size_t size, const char *text, size_t len)
{
    if (!buf || size == 0) return "";
    if (!text) text = "", len = 0;
    const unsigned char *p = (const unsigned char *)text;
    size_t out = 0, used;
    int fits = 0; /* the rest is known to fit: no room kept for "..." */
    for (size_t i = 0; !at_end(p, i, len); i += used) {
        char piece[16];
        size_t n = escape_one(p, i, len, piece, &used);
        if (!fits && out + n + 3 >= size && !(fits = rest_fits(p, i, len, size - 1 - out))) {
            if (out + 3 < size) {
                memcpy(buf + out, "...", 3);
                out += 3;
            }
            break;
        }
        memcpy(buf + out, piece, n);
        out += n;
    }
    buf[out] = '\0';
    return buf;
}

const char *nb_escape(char *buf, size_t size, const char *text)
{
    return nb_escape_len(buf, size, text, NB_ESCAPE_ALL);
}

/* The character at p (n bytes left) as JSON text: \uXXXX (a surrogate
 * pair past U+FFFF) for DEL and the invisible characters, else as it is
 * (a byte that is not UTF-8 too); its length. *used gets its bytes. */
static size_t json_one(const unsigned char *p, size_t n, char *piece, size_t *used)
{
    unsigned cp = p[0];
    size_t len = p[0] < 0x80 ? 1 : utf8_char(p, n, &cp);
    *used = len ? len : 1;
    if (len && (cp == 0x7f || invisible(cp))) {
        if (cp <= 0xffff) return (size_t)snprintf(piece, 16, "\\u%04x", cp);
        cp -= 0x10000;
        return (size_t)snprintf(piece, 16, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
                                0xdc00 + (cp & 0x3ff));
    }
    memcpy(piece, p, *used);
    return *used;
}

char *nb_json_escape_invisible(const char *json)
{
    const unsigned char *p = (const unsigned char *)(json ? json : "");
    size_t len = strlen((const char *)p), size = 1, used, at = 0;
    char piece[16];
    for (size_t i = 0; i < len; i += used) size += json_one(p + i, len - i, piece, &used);
    char *out = nb_malloc(size);
    if (!out) return NULL;
    for (size_t i = 0; i < len; i += used) {
        size_t k = json_one(p + i, len - i, piece, &used);
        memcpy(out + at, piece, k);
        at += k;
    }
    out[at] = '\0';
    return out;
}

/* The character at p (valid UTF-8 or one byte): *cp and its length; 0 for
 * a byte that is not UTF-8. */
static size_t char_at(const unsigned char *p, unsigned *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    return utf8_char(p, strnlen((const char *)p, 4), cp);
}

const char *nb_text_problem(char *buf, size_t size, const char *text, int name)
{
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    unsigned cp = 0, last = 0;
    size_t i = 0, n, last_at = 0;
    for (; p[i]; i += n) {
        if ((n = char_at(p + i, &cp)) == 0) {
            snprintf(buf, size, "has byte 0x%02x at byte %zu, which is not UTF-8", p[i], i);
            return buf;
        }
        if (cp < 0x20 || cp == 0x7f || invisible(cp)) {
            snprintf(buf, size, "has the %s U+%04X at byte %zu",
                     cp < 0xa0 ? "control character" : "invisible or format character", cp, i);
            return buf;
        }
        if (name && i == 0 && space_char(cp)) {
            snprintf(buf, size, "starts with a space (U+%04X)", cp);
            return buf;
        }
        last = cp;
        last_at = i;
    }
    if (name && i > 0 && space_char(last)) {
        snprintf(buf, size, "ends with a space (U+%04X at byte %zu)", last, last_at);
        return buf;
    }
    return NULL;
}

const char *nb_number_text(char *buf, size_t size, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (!isfinite(v) || strtod(buf, NULL) == v) break;
    }
    return buf;
}
