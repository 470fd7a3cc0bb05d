/* Splitting one op's work over threads: a batch's samples in parts, each
 * part on its own thread with one-threaded matrix products (OpenBLAS's own
 * threads would compete for the same cores). A thread that cannot start
 * leaves its part to the caller, which gives the same result. */
#include "internal.h"

#include <pthread.h>

#ifdef NABLA_USE_BLAS
#include <cblas.h>
#endif

#define MAX_PARTS 64

static _Thread_local int in_part;

int nb_in_part(void)
{
    return in_part;
}

typedef struct part_job {
    void (*fn)(void *ctx, int part);
    void *ctx;
    int part;
} part_job;

static void *run_part(void *arg)
{
    part_job *job = arg;
    in_part = 1;
    job->fn(job->ctx, job->part);
    return NULL;
}

void nb_parallel(int parts, void (*fn)(void *ctx, int part), void *ctx)
{
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    if (parts <= 1) {
        if (parts == 1) fn(ctx, 0);
        return;
    }
#ifdef NABLA_USE_BLAS
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#endif
    pthread_t tid[MAX_PARTS];
    part_job jobs[MAX_PARTS];
    int started[MAX_PARTS] = {0};
    for (int p = 1; p < parts; p++) {
        jobs[p] = (part_job){fn, ctx, p};
        started[p] = pthread_create(&tid[p], NULL, run_part, &jobs[p]) == 0;
    }
    in_part = 1;
    fn(ctx, 0);
    for (int p = 1; p < parts; p++) {
        if (started[p])
            pthread_join(tid[p], NULL);
        else
            fn(ctx, p);
    }
    in_part = 0;
#ifdef NABLA_USE_BLAS
    openblas_set_num_threads(blas_threads);
#endif
}

typedef struct range_job {
    void (*fn)(void *ctx, size_t begin, size_t end);
    void *ctx;
    size_t count;
    int parts;
} range_job;

static void run_range(void *arg, int part)
{
    const range_job *r = arg;
    r->fn(r->ctx, r->count * (size_t)part / (size_t)r->parts,
          r->count * (size_t)(part + 1) / (size_t)r->parts);
}

void nb_parallel_for(size_t count, size_t grain, void (*fn)(void *ctx, size_t begin, size_t end),
                     void *ctx)
{
    int parts = nb_in_part() ? 1 : nb_get_threads();
    if (grain < 1) grain = 1;
    if ((size_t)parts > count / grain) parts = (int)(count / grain);
    if (parts <= 1) {
        fn(ctx, 0, count);
        return;
    }
    range_job r = {fn, ctx, count, parts};
    nb_parallel(parts, run_range, &r);
}
