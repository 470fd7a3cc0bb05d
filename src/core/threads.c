/* Threads: the matrix products run on OpenBLAS's threads, one per core by
 * default. The element-wise loops stay on the calling thread: at the sizes a
 * training step has they are memory-bound, and extra threads there only
 * compete with OpenBLAS's for the same cores. */
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
