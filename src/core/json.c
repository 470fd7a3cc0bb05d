/* JSON objects with a key twice are ambiguous (cJSON keeps both and a
 * lookup sees the first): every object read from a file is checked. */
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
    for (i = 1; i < n && st == NB_OK; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            st = nb_error(bad, "%s: key \"%.64s\" appears twice in %s%.64s%s", what, keys[i],
                          where ? "\"" : "the top-level object", where ? where : "",
                          where ? "\"" : "");
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
