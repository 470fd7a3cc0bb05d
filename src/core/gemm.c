/* Matrix products. With oneDNN (float builds), its sgemm: on the shapes
 * dense layers make it is several times faster than OpenBLAS where
 * OpenBLAS does not know the CPU and falls back to SSE3 kernels, and no
 * slower where it does (bench/gemm_dnnl.c). Else with OpenBLAS, one CBLAS
 * call with transpose flags (no explicit transposes); without either, a
 * blocked portable kernel. */
#include "internal.h"

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static int isa_avx2;

/* Below AVX2 oneDNN's sgemm is its reference loop: keep to the others. */
static void check_isa(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    isa_avx2 = ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx2) == (unsigned)dnnl_cpu_isa_avx2;
}

/* oneDNN's sgemm on the calling thread alone: OpenMP's waiting threads
 * spin, and on a loaded machine a team of two runs several times slower
 * than one thread. 0 when it cannot run the product, which then goes
 * elsewhere. */
int nb_gemm_uses_dnnl(void)
{
    pthread_once(&isa_once, check_isa);
    return isa_avx2;
}

static int onednn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                       int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (!nb_gemm_uses_dnnl()) return 0;
    omp_set_num_threads(1);
    return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                      beta, c, ldc) == dnnl_success;
}
#else
int nb_gemm_uses_dnnl(void)
{
    return 0;
}
#endif

#ifdef NABLA_USE_BLAS
#include <cblas.h>

void nb_gemm(int trans_a, int trans_b, int m, int n, int k, nb_real alpha, const nb_real *a,
             int lda, const nb_real *b, int ldb, nb_real beta, nb_real *c, int ldc)
{
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    if (onednn_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
#endif
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    if (m == 1 && !trans_a) {
        /* One row (a single sample): y = op(B)^T x as a matrix-vector
         * product, which skips GEMM's packing of all of B. */
        enum CBLAS_TRANSPOSE tv = trans_b ? CblasNoTrans : CblasTrans;
        int rows = trans_b ? n : k, cols = trans_b ? k : n;
#ifdef NABLA_DOUBLE
        cblas_dgemv(CblasRowMajor, tv, rows, cols, alpha, b, ldb, a, 1, beta, c, 1);
#else
        cblas_sgemv(CblasRowMajor, tv, rows, cols, alpha, b, ldb, a, 1, beta, c, 1);
#endif
        return;
    }
#ifdef NABLA_DOUBLE
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

#else

#define BLOCK 64

/* C[i][j] = beta C[i][j] + alpha sum_p A(i,p) B(p,j), in BLOCK-sized tiles so
 * the inner loop runs over contiguous rows of B and C. */
void nb_gemm(int trans_a, int trans_b, int m, int n, int k, nb_real alpha, const nb_real *a,
             int lda, const nb_real *b, int ldb, nb_real beta, nb_real *c, int ldc)
{
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    if (onednn_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
#endif
    for (int i = 0; i < m; i++) {
        nb_real *ci = c + (size_t)i * ldc;
        if (beta == 0) {
            for (int j = 0; j < n; j++) ci[j] = 0;
        } else if (beta != 1) {
            for (int j = 0; j < n; j++) ci[j] *= beta;
        }
    }
    for (int i0 = 0; i0 < m; i0 += BLOCK) {
        int i1 = i0 + BLOCK < m ? i0 + BLOCK : m;
        for (int p0 = 0; p0 < k; p0 += BLOCK) {
            int p1 = p0 + BLOCK < k ? p0 + BLOCK : k;
            for (int j0 = 0; j0 < n; j0 += BLOCK) {
                int j1 = j0 + BLOCK < n ? j0 + BLOCK : n;
                for (int i = i0; i < i1; i++) {
                    nb_real *ci = c + (size_t)i * ldc;
                    for (int p = p0; p < p1; p++) {
                        nb_real aip = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                        aip *= alpha;
                        if (trans_b) {
                            for (int j = j0; j < j1; j++) ci[j] += aip * b[(size_t)j * ldb + p];
                        } else {
                            const nb_real *bp = b + (size_t)p * ldb;
                            for (int j = j0; j < j1; j++) ci[j] += aip * bp[j];
                        }
                    }
                }
            }
        }
    }
}

#endif
