/* A seeded random generator: xoshiro256** (Blackman and Vigna), its state
 * filled by splitmix64 so that any 64-bit seed gives a good start. */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* With no generator (NULL) every function is a no-op that returns 0. */
void nb_rng_seed(nb_rng *rng, uint64_t seed)
{
    if (!rng) return;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

uint64_t nb_rng_next(nb_rng *rng)
{
    if (!rng) return 0;
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nb_rng_uniform(nb_rng *rng)
{
    return (double)(nb_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Box-Muller without a cached second value, so the state is just s[4]. */
double nb_rng_normal(nb_rng *rng)
{
    if (!rng) return 0;
    double u1 = 1.0 - nb_rng_uniform(rng); /* (0, 1]: log(u1) is finite */
    double u2 = nb_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Lemire's multiply-and-reject method: no modulo bias. [0, 0) is empty:
 * n = 0 returns 0 without drawing (the state is unchanged), so a caller
 * that picks from an empty set must check n itself. */
uint64_t nb_rng_below(nb_rng *rng, uint64_t n)
{
    if (n == 0 || !rng) return 0;
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = nb_rng_next(rng);
        unsigned __int128 m = (unsigned __int128)x * n;
        if ((uint64_t)m >= threshold) return (uint64_t)(m >> 64);
    }
}

/* Fisher-Yates. */
void nb_rng_shuffle(nb_rng *rng, int *items, size_t count)
{
    if (!rng || !items) return;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)nb_rng_below(rng, i);
        int t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}
