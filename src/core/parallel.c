/* Splitting work over threads: parts of one call, each on its own thread
 * with one-threaded matrix products (OpenBLAS's own threads would compete
 * for the same cores). The threads are a pool started on first use and
 * kept waiting between calls (a step calls several times, and starting a
 * thread costs tens of microseconds); it is stopped when the thread count
 * goes down and at exit. A call that finds the pool busy (another thread
 * of the caller's program is using it), or a part whose thread cannot
 * start, runs on the caller: a part computes the same wherever it runs. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#ifdef NABLA_USE_BLAS
#include <cblas.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PAUSE() _mm_pause()
#else
#define PAUSE() ((void)0)
#endif

#define MAX_PARTS 64
/* Polls of a flag before a thread sleeps on it: about as long as a
 * wake-up through the kernel takes, so that a step's back-to-back calls
 * do not pay one each. */
#define SPIN 2000

static _Thread_local int in_part;

int nb_in_part(void)
{
    return in_part;
}

typedef struct pool {
    pthread_mutex_t call; /* held by the one caller the pool serves */
    pthread_mutex_t lock; /* guards the sleeping and waking below */
    pthread_cond_t start, done;
    pthread_t tid[MAX_PARTS];
    unsigned long born[MAX_PARTS]; /* the generation when each worker was started */
    int workers;                   /* started threads: they run parts 1..workers */
    atomic_ulong generation;       /* one more for every call */
    atomic_int pending;            /* workers that have not finished the call */
    atomic_int quit;               /* stop the workers */
    void (*fn)(void *ctx, int part);
    void *ctx;
    int parts;
} pool;

static pool P = {.call = PTHREAD_MUTEX_INITIALIZER,
                 .lock = PTHREAD_MUTEX_INITIALIZER,
                 .start = PTHREAD_COND_INITIALIZER,
                 .done = PTHREAD_COND_INITIALIZER};

/* Wait until the generation moves past seen (or quit); returns it. */
static unsigned long wait_call(unsigned long seen)
{
    for (int i = 0; i < SPIN; i++) {
        if (atomic_load(&P.generation) != seen || atomic_load(&P.quit)) break;
        PAUSE();
    }
    pthread_mutex_lock(&P.lock);
    while (atomic_load(&P.generation) == seen && !atomic_load(&P.quit))
        pthread_cond_wait(&P.start, &P.lock);
    pthread_mutex_unlock(&P.lock);
    return atomic_load(&P.generation);
}

static void *worker(void *arg)
{
    const int part = (int)(intptr_t)arg;
    unsigned long seen = P.born[part]; /* the calls before it started are not its own */
    in_part = 1;
    for (;;) {
        seen = wait_call(seen);
        if (atomic_load(&P.quit)) break;
        /* Every worker answers every call, so that the next call cannot
         * start before each has seen this one. */
        if (part < P.parts) {
            unsigned fp = nb_fp_enter();
            P.fn(P.ctx, part);
            nb_fp_leave(fp);
        }
        if (atomic_fetch_sub(&P.pending, 1) == 1) {
            pthread_mutex_lock(&P.lock);
            pthread_cond_broadcast(&P.done);
            pthread_mutex_unlock(&P.lock);
        }
    }
    return NULL;
}

/* Stop and join every worker (P.call held, or at exit). */
static void stop_workers(void)
{
    if (P.workers == 0) return;
    pthread_mutex_lock(&P.lock);
    atomic_store(&P.quit, 1);
    pthread_cond_broadcast(&P.start);
    pthread_mutex_unlock(&P.lock);
    for (int w = 1; w <= P.workers; w++) pthread_join(P.tid[w], NULL);
    P.workers = 0;
    atomic_store(&P.quit, 0);
}

__attribute__((destructor)) static void stop_at_exit(void)
{
    if (pthread_mutex_trylock(&P.call) != 0) return; /* a call is running: leave it */
    stop_workers();
    pthread_mutex_unlock(&P.call);
}

void nb_parallel_shrink(int threads)
{
    pthread_mutex_lock(&P.call);
    if (P.workers >= threads) stop_workers();
    pthread_mutex_unlock(&P.call);
}

/* Start workers until parts - 1 run; returns how many do. */
static int grow(int parts)
{
    while (P.workers < parts - 1) {
        int part = P.workers + 1;
        P.born[part] = atomic_load(&P.generation);
        if (pthread_create(&P.tid[part], NULL, worker, (void *)(intptr_t)part) != 0) break;
        P.workers = part;
    }
    return P.workers;
}

static void run_serial(int parts, void (*fn)(void *ctx, int part), void *ctx)
{
    int was = in_part;
    in_part = 1;
    for (int p = 0; p < parts; p++) fn(ctx, p);
    in_part = was;
}

void nb_parallel(int parts, void (*fn)(void *ctx, int part), void *ctx)
{
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    if (parts <= 1 || in_part || pthread_mutex_trylock(&P.call) != 0) {
        run_serial(parts, fn, ctx);
        return;
    }
#ifdef NABLA_USE_BLAS
    int blas_threads = openblas_get_num_threads();
    if (blas_threads > 1) openblas_set_num_threads(1);
#endif
    int on_workers = grow(parts) + 1; /* parts 0 .. on_workers - 1 run at once */
    if (on_workers > parts) on_workers = parts;
    P.fn = fn;
    P.ctx = ctx;
    P.parts = on_workers;
    atomic_store(&P.pending, P.workers);
    pthread_mutex_lock(&P.lock);
    atomic_fetch_add(&P.generation, 1);
    pthread_cond_broadcast(&P.start);
    pthread_mutex_unlock(&P.lock);
    in_part = 1;
    fn(ctx, 0);
    for (int p = on_workers; p < parts; p++) fn(ctx, p); /* no thread for these */
    for (int i = 0; i < SPIN && atomic_load(&P.pending) > 0; i++) PAUSE();
    pthread_mutex_lock(&P.lock);
    while (atomic_load(&P.pending) > 0) pthread_cond_wait(&P.done, &P.lock);
    pthread_mutex_unlock(&P.lock);
    in_part = 0;
#ifdef NABLA_USE_BLAS
    if (blas_threads > 1) openblas_set_num_threads(blas_threads);
#endif
    pthread_mutex_unlock(&P.call);
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
