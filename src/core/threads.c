/* Threads: one per core by default (OpenBLAS and OpenMP both start that
 * way); nb_set_threads changes both together so results depend on one
 * number. */
#include "internal.h"

#include <unistd.h>

#ifdef NABLA_USE_BLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

static int threads; /* 0: not set, the libraries' default */

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
#ifdef NABLA_USE_BLAS
    openblas_set_num_threads(threads);
#endif
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    return NB_OK;
}

int nb_get_threads(void)
{
    if (threads) return threads;
#ifdef NABLA_USE_BLAS
    return openblas_get_num_threads();
#else
    return nb_default_threads();
#endif
}
