/* Every heap allocation of the library goes through one replaceable hook,
 * so tests can count allocations and make the N-th one fail. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void *default_malloc(size_t size, void *user)
{
    (void)user;
    return malloc(size);
}

static void *default_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    return realloc(ptr, size);
}

static void default_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static nb_allocator current = {default_malloc, default_realloc, default_free, NULL};

void nb_set_allocator(const nb_allocator *allocator)
{
    if (allocator) {
        current = *allocator;
    } else {
        current.malloc_fn = default_malloc;
        current.realloc_fn = default_realloc;
        current.free_fn = default_free;
        current.user = NULL;
    }
    /* cJSON (model-file headers) allocates through the same hook, so an
     * injected failure reaches it too. */
    cJSON_Hooks hooks = {nb_malloc, nb_free};
    cJSON_InitHooks(allocator ? &hooks : NULL);
}

void *nb_malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1, current.user);
}

void *nb_calloc(size_t count, size_t size)
{
    size_t bytes;
    if (!nb_mul_size(count, size, &bytes)) return NULL;
    void *p = nb_malloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void *nb_realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1, current.user);
}

void nb_free(void *ptr)
{
    if (ptr) current.free_fn(ptr, current.user);
}

int nb_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
