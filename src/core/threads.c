/* Threads: one per core by default. Training computes a batch's shards
 * at once, one per thread (src/train/shards.c), and splits the optimizer's
 * update; a convolution splits its batch; element-wise ops split large
 * arrays. Inside those parts the matrix products run on one thread;
 * outside them OpenBLAS uses this many threads. */
#include "internal.h"

#include <unistd.h>

#ifdef NABLA_USE_BLAS
#include <cblas.h>
#endif

static int threads; /* 0: not set, the library's default */

int nb_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

nb_status nb_set_threads(int count)
{
    if (count < 0 || count > 1024)
        return nb_error(NB_ERR_ARGUMENT, "threads: expected 0 (one per core) to 1024, got %d",
                        count);
    threads = count ? count : nb_default_threads();
    nb_parallel_shrink(threads);
#ifdef NABLA_USE_BLAS
    openblas_set_num_threads(threads);
#endif
    return NB_OK;
}

int nb_get_threads(void)
{
    if (threads) return threads;
#ifdef NABLA_USE_BLAS
    return openblas_get_num_threads();
#else
    return 1; /* the portable kernel is single-threaded */
#endif
}
