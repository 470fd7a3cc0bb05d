/* Helpers shared by the tests (cmocka). */
#ifndef NABLA_TEST_CHECK_H
#define NABLA_TEST_CHECK_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nabla.h"

/* Relative tolerance for values computed independently: tight in the
 * double build, float rounding otherwise. */
#ifdef NABLA_DOUBLE
#define TOL 1e-12
#else
#define TOL 1e-5
#endif

#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        nb_status st_ = (expr);                                                                    \
        if (st_ != NB_OK) fail_msg("%s -> %s: %s", #expr, nb_status_name(st_), nb_last_error());   \
    } while (0)

static inline void check_near(double got, double want, double rel, const char *what, int line)
{
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    if (!(fabs(got - want) <= rel * scale))
        fail_msg("line %d: %s = %.17g, expected %.17g (rel tol %g)", line, what, got, want, rel);
}

#define assert_near(got, want, rel) check_near((got), (want), (rel), #got, __LINE__)

/* A counting allocator, for "this allocates nothing" checks:
 * check_count_allocations() installs it (nb_set_allocator(NULL) removes
 * it) and *check_allocations() is the malloc and realloc calls since. */
static inline size_t *check_allocations(void)
{
    static size_t calls;
    return &calls;
}
static inline void *check_count_malloc(size_t size, void *user)
{
    (void)user;
    ++*check_allocations();
    return malloc(size);
}
static inline void *check_count_realloc(void *p, size_t size, void *user)
{
    (void)user;
    ++*check_allocations();
    return realloc(p, size);
}
static inline void check_count_free(void *p, void *user)
{
    (void)user;
    free(p);
}
static inline void check_count_allocations(void)
{
    nb_allocator a = {check_count_malloc, check_count_realloc, check_count_free, NULL};
    nb_set_allocator(&a);
    *check_allocations() = 0;
}

#endif
