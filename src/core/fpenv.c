/* Subnormal numbers (below 1.2e-38 in float) cost a hundred cycles or
 * more per operation on x86 CPUs. Late in training a ReLU network's
 * gradients and Adam's second moments fall there, and the element-wise
 * loops slow down severalfold. While nabla computes, its thread treats
 * them as zero (flush-to-zero and denormals-are-zero, as TensorFlow and
 * oneDNN do); the caller's setting comes back after. Elsewhere a no-op. */
#include "internal.h"

#if defined(__SSE2__) || defined(__x86_64__)
#include <xmmintrin.h>

#define FTZ_DAZ 0x8040u /* MXCSR bits 15 (flush to zero) and 6 (denormals are zero) */

unsigned nb_fp_enter(void)
{
    unsigned old = _mm_getcsr();
    if ((old & FTZ_DAZ) != FTZ_DAZ) _mm_setcsr(old | FTZ_DAZ);
    return old;
}

void nb_fp_leave(unsigned old)
{
    if (_mm_getcsr() != old) _mm_setcsr(old);
}
#else
unsigned nb_fp_enter(void)
{
    return 0;
}

void nb_fp_leave(unsigned old)
{
    (void)old;
}
#endif
