/* A hash index from names to small integers (open addressing, linear
 * probing, tombstones), so that looking a name up costs O(1) on average
 * whatever the number of names: graphs with many nodes and models with
 * many metadata keys stay linear to build and load. */
#include "internal.h"

#include <string.h>

#define EMPTY   (-1)
#define REMOVED (-2)
#define MIN_CAP 16

/* FNV-1a: short keys, no adversary beyond a file's author, who can at
 * worst make lookups slower, never wrong. */
uint64_t nb_fnv1a(uint64_t hash, const void *bytes, size_t size)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < size; i++) hash = (hash ^ p[i]) * 0x100000001b3ull;
    return hash;
}

static size_t hash_of(const char *key)
{
    uint64_t h = nb_fnv1a(NB_FNV1A_INIT, key, strlen(key));
    return (size_t)(h ^ (h >> 32));
}

void nb_names_free(nb_names *ix)
{
    nb_free(ix->slots);
    memset(ix, 0, sizeof *ix);
}

int nb_names_find(const nb_names *ix, const char *key, nb_names_key_fn key_of, const void *owner)
{
    if (!ix->slots || !key) return -1;
    size_t mask = ix->cap - 1;
    for (size_t i = hash_of(key) & mask, probes = 0; probes < ix->cap;
         i = (i + 1) & mask, probes++) {
        int v = ix->slots[i];
        if (v == EMPTY) return -1;
        if (v >= 0 && strcmp(key_of(owner, v), key) == 0) return v;
    }
    return -1;
}

static void put(int *slots, size_t cap, const char *key, int value)
{
    size_t mask = cap - 1, i = hash_of(key) & mask;
    while (slots[i] >= 0) i = (i + 1) & mask;
    slots[i] = value;
}

/* Grow (or clean out tombstones) so that at most half the slots are used
 * after one more insert: amortised O(1) per insert. */
static int make_room(nb_names *ix, nb_names_key_fn key_of, const void *owner)
{
    if (ix->slots && (ix->used + 1) * 2 <= ix->cap) return 1;
    size_t cap = MIN_CAP;
    while (cap < (ix->live + 1) * 4) {
        if (cap > SIZE_MAX / 2 / sizeof(int)) return 0;
        cap *= 2;
    }
    int *slots = nb_malloc(cap * sizeof *slots);
    if (!slots) return 0;
    for (size_t i = 0; i < cap; i++) slots[i] = EMPTY;
    for (size_t i = 0; ix->slots && i < ix->cap; i++)
        if (ix->slots[i] >= 0) put(slots, cap, key_of(owner, ix->slots[i]), ix->slots[i]);
    nb_free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    ix->used = ix->live;
    return 1;
}

int nb_names_add(nb_names *ix, const char *key, int value, nb_names_key_fn key_of,
                 const void *owner)
{
    if (!make_room(ix, key_of, owner)) return 0;
    put(ix->slots, ix->cap, key, value);
    ix->used++;
    ix->live++;
    return 1;
}

void nb_names_remove(nb_names *ix, const char *key, int value)
{
    if (!ix->slots || !key) return;
    size_t mask = ix->cap - 1;
    for (size_t i = hash_of(key) & mask, probes = 0; probes < ix->cap;
         i = (i + 1) & mask, probes++) {
        if (ix->slots[i] == EMPTY) return;
        if (ix->slots[i] == value) {
            ix->slots[i] = REMOVED;
            ix->live--;
            return;
        }
    }
}

void nb_names_rekey(nb_names *ix, const char *old_key, int old_value, const char *new_key,
                    int new_value)
{
    nb_names_remove(ix, old_key, old_value);
    /* The slot just removed is free: no memory is needed. */
    put(ix->slots, ix->cap, new_key, new_value);
    ix->used++;
    ix->live++;
}
