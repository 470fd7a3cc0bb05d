/* Reading JSON from files strictly. An object with a key twice is
 * ambiguous (cJSON keeps both and a lookup sees the first); a string with
 * \u0000 is cut there by cJSON ("a\u0000b" reads as "a"), so two different
 * texts would read the same; both are refused wherever a file is read. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting the keys finds a repeated one in O(n log n). */
static nb_status check_object(const cJSON *obj, nb_status bad, const char *what, const char *where)
{
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    if (n < 2) return NB_OK;
    const char **keys = nb_malloc(n * sizeof *keys);
    if (!keys) return nb_error(NB_ERR_MEMORY, "%s: out of memory checking %zu keys", what, n);
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) keys[i++] = c->string ? c->string : "";
    qsort(keys, n, sizeof *keys, by_key);
    nb_status st = NB_OK;
    char k[NB_ESCAPE_SIZE], w[NB_ESCAPE_SIZE];
    for (i = 1; i < n && st == NB_OK; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            st = nb_error(bad, "%s: key \"%s\" appears twice in %s%s%s", what,
                          nb_escape(k, sizeof k, keys[i]), where ? "\"" : "the top-level object",
                          where ? nb_escape(w, sizeof w, where) : "", where ? "\"" : "");
    nb_free(keys);
    return st;
}

static nb_status check_item(const cJSON *item, nb_status bad, const char *what, const char *where)
{
    nb_status st = NB_OK;
    if (cJSON_IsObject(item)) st = check_object(item, bad, what, where);
    for (const cJSON *c = item->child; c && st == NB_OK; c = c->next)
        if (c->child) st = check_item(c, bad, what, c->string ? c->string : where);
    return st;
}

nb_status nb_json_unique_keys(const struct cJSON *item, nb_status bad, const char *what)
{
    return item ? check_item(item, bad, what, NULL) : NB_OK;
}

static int json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The string of text [start, end) whose byte at holds a raw control
 * character or \u0000: a message naming it (as a key, or by the key it
 * follows). */
static nb_status bad_string(const char *text, size_t start, size_t at_byte, int is_key,
                            size_t key_at, size_t key_len, nb_status bad, const char *what,
                            const char *at, size_t base)
{
    char name[NB_ESCAPE_SIZE], kind[48];
    unsigned char c = (unsigned char)text[at_byte];
    if (c == '\\')
        snprintf(kind, sizeof kind, "\\u0000 (a NUL, where readers cut it short)");
    else
        snprintf(kind, sizeof kind, "a raw control character 0x%02x", c);
    if (is_key)
        return nb_error(bad, "%s: the key \"%s...\" holds %s at %s %zu", what,
                        nb_escape_len(name, sizeof name, text + start, at_byte - start), kind, at,
                        base + at_byte);
    if (key_len || key_at)
        return nb_error(bad, "%s: the string after key \"%s\" holds %s at %s %zu", what,
                        nb_escape_len(name, sizeof name, text + key_at, key_len), kind, at,
                        base + at_byte);
    return nb_error(bad, "%s: a string holds %s at %s %zu", what, kind, at, base + at_byte);
}

nb_status nb_json_check_text(const char *text, size_t len, nb_status bad, const char *what,
                             const char *at, size_t base)
{
    size_t key_at = 0, key_len = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') return nb_error(bad, "%s: a NUL byte at %s %zu", what, at, base + i);
        if (text[i] != '"') continue;
        size_t start = ++i, problem = (size_t)-1;
        for (; i < len && text[i] != '"'; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c == '\\') {
                if (problem == (size_t)-1 && i + 5 < len && text[i + 1] == 'u' &&
                    memcmp(text + i + 2, "0000", 4) == 0)
                    problem = i;
                i++; /* the escaped character (a backslash or quote, too) */
            } else if (c < 0x20 && problem == (size_t)-1) {
                problem = i;
            }
        }
        size_t end = i < len ? i : len, next = end + 1;
        while (next < len && json_space(text[next])) next++;
        int is_key = next < len && text[next] == ':';
        if (problem != (size_t)-1)
            return bad_string(text, start, problem, is_key, key_at, key_len, bad, what, at, base);
        if (is_key) key_at = start, key_len = end - start;
    }
    return NB_OK;
}

nb_status nb_json_parse(const char *text, nb_status bad, const char *what, struct cJSON **out)
{
    *out = NULL;
    size_t len = text ? strlen(text) : 0;
    if (!text) return nb_error(bad, "%s: no text", what);
    nb_status st = nb_json_check_text(text, len, bad, what, "byte", 0);
    if (st != NB_OK) return st;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (!j) {
        size_t near = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return nb_error(bad, "%s is not valid JSON (near byte %zu)", what, near);
    }
    if ((st = nb_json_unique_keys(j, bad, what)) != NB_OK) {
        cJSON_Delete(j);
        return st;
    }
    *out = j;
    return NB_OK;
}
