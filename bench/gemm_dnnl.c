/* oneDNN's dnnl_sgemm against OpenBLAS's cblas_sgemm on the matrix
 * products nabla's dense layers make (row-major, transpose flags as
 * nb_gemm passes them): the benchmark CNN's 3136->128->10 head and the
 * MLP benchmark's 784->100->10, batch 64 and 100. Prints the best of REPS
 * in microseconds per call for 1 and 2 threads, and whether two calls of
 * each gave the same bits. OpenBLAS picks its kernels when it loads:
 * OPENBLAS_CORETYPE=SkylakeX (or Haswell) in the environment overrides it.
 *   cmake -S bench -B build/bench -DCMAKE_BUILD_TYPE=Release &&
 *   cmake --build build/bench --target gemm_dnnl && build/bench/gemm_dnnl */
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 200

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *fill(size_t n, unsigned seed)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(((i + seed) * 2654435761u % 1000) / 1000.0 - 0.5);
    return v;
}

typedef struct product {
    const char *name;
    int ta, tb, m, n, k;
} product;

static void run(int dnnl, const product *p, const float *a, const float *b, float *c)
{
    int lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
    if (dnnl)
        dnnl_sgemm(p->ta ? 'T' : 'N', p->tb ? 'T' : 'N', p->m, p->n, p->k, 1, a, lda, b, ldb, 0, c,
                   p->n);
    else
        cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans,
                    p->tb ? CblasTrans : CblasNoTrans, p->m, p->n, p->k, 1, a, lda, b, ldb, 0, c,
                    p->n);
}

/* best of REPS in microseconds; *same: a second call gave the same bits */
static double time_it(int dnnl, const product *p, int *same)
{
    size_t na = (size_t)p->m * p->k, nb = (size_t)p->k * p->n, nc = (size_t)p->m * p->n;
    float *a = fill(na, 1), *b = fill(nb, 2), *c = fill(nc, 3), *c2 = fill(nc, 4);
    run(dnnl, p, a, b, c2);
    double best = 1e30;
    for (int r = 0; r < REPS; r++) {
        double t = now();
        run(dnnl, p, a, b, c);
        t = now() - t;
        if (t < best) best = t;
    }
    *same = memcmp(c, c2, nc * sizeof *c) == 0;
    free(a);
    free(b);
    free(c);
    free(c2);
    return best * 1e6;
}

int main(void)
{
    static const product products[] = {
        {"cnn dense1 fwd  64x3136 . 3136x128", 0, 0, 64, 128, 3136},
        {"cnn dense1 dW   (64x3136)T . 64x128", 1, 0, 3136, 128, 64},
        {"cnn dense1 dX   64x128 . (3136x128)T", 0, 1, 64, 3136, 128},
        {"cnn dense2 fwd  64x128 . 128x10", 0, 0, 64, 10, 128},
        {"cnn dense2 dW   (64x128)T . 64x10", 1, 0, 128, 10, 64},
        {"cnn dense2 dX   64x10 . (128x10)T", 0, 1, 64, 128, 10},
        {"mlp dense1 fwd  100x784 . 784x100", 0, 0, 100, 100, 784},
        {"mlp dense1 dW   (100x784)T . 100x100", 1, 0, 784, 100, 100},
        {"mlp dense2 fwd  100x100 . 100x10", 0, 0, 100, 10, 100},
        {"mlp dense2 dW   (100x100)T . 100x10", 1, 0, 100, 10, 100},
        {"mlp dense2 dX   100x10 . (100x10)T", 0, 1, 100, 100, 10},
    };
    printf("openblas core %s; onednn isa %d\n", openblas_get_corename(),
           (int)dnnl_get_effective_cpu_isa());
    for (int threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        omp_set_num_threads(threads);
        printf("%d thread%s          product                       openblas us  onednn us  "
               "ratio\n",
               threads, threads > 1 ? "s" : " ");
        double sum[2] = {0, 0};
        for (size_t i = 0; i < sizeof products / sizeof products[0]; i++) {
            int same_o, same_d;
            double o = time_it(0, &products[i], &same_o), d = time_it(1, &products[i], &same_d);
            sum[0] += o;
            sum[1] += d;
            printf("  %-38s %10.1f%s %9.1f%s %6.2f\n", products[i].name, o, same_o ? " " : "*", d,
                   same_d ? " " : "*", o / d);
        }
        printf("  %-38s %10.1f  %9.1f  %6.2f   (* = two calls differed)\n", "sum", sum[0], sum[1],
               sum[0] / sum[1]);
    }
    return 0;
}
