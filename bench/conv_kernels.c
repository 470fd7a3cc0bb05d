/* Convolution kernels timed on the shapes of the benchmark CNN (batch 64):
 *   a  per-sample im2col + one nb_gemm per sample
 *   b  im2col of S samples side by side into one wide matrix, one nb_gemm,
 *      a scatter into NCHW (backward: a gather of dy, one nb_gemm each for
 *      dW and dcols)
 *   c  the conv2d op as the library builds it: oneDNN's convolution
 *      primitives in a oneDNN build (NABLA_DNNL, on by default where
 *      oneDNN is installed), else a's per-sample products with the batch
 *      split over threads
 * and the cost of recomputing im2col in backward. nb_gemm is oneDNN's
 * sgemm in a oneDNN build and OpenBLAS's otherwise, so a and b time the
 * im2col strategies on whichever the build has. Prints ms per call.
 *   cmake -S bench -B build/bench -DCMAKE_BUILD_TYPE=Release [-DNABLA_DNNL=OFF] &&
 *   cmake --build build/bench --target conv_kernels && build/bench/conv_kernels */
#include "internal.h"
#include "ops/conv.h"

#include <assert.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static nb_real *fill(size_t n)
{
    nb_real *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (nb_real)((i * 2654435761u % 1000) / 1000.0 - 0.5);
    return v;
}

#define REPS 20

typedef struct shape {
    const char *name;
    nb_conv_geom c;
} shape;

/* median-free: the best of REPS, in ms */
#define TIME(best, code)                                                                           \
    do {                                                                                           \
        best = 1e9;                                                                                \
        for (int r_ = 0; r_ < REPS; r_++) {                                                        \
            double t_ = now();                                                                     \
            code;                                                                                  \
            t_ = (now() - t_) * 1e3;                                                               \
            if (t_ < best) best = t_;                                                              \
        }                                                                                          \
    } while (0)

static void strategies(const shape *s, int threads)
{
    const nb_conv_geom *c = &s->c;
    int rows = (int)nb_conv_rows(c), q = (int)nb_conv_cols(c), n = c->n, f = c->f;
    size_t in_size = (size_t)c->c * c->h * c->w, out_size = (size_t)f * q;
    nb_real *x = fill(in_size * n), *w = fill((size_t)f * rows), *dy = fill(out_size * n);
    nb_real *y = malloc(out_size * n * sizeof *y), *dx = calloc(in_size * n, sizeof *dx);
    nb_real *dw = malloc((size_t)f * rows * sizeof *dw);
    nb_real *col = malloc((size_t)rows * q * sizeof *col), *dcol = malloc((size_t)rows * q * 4);
    nb_real *wide = malloc((size_t)(rows > f ? rows : f) * q * n * sizeof *wide);
    nb_real *ywide = malloc(out_size * n * sizeof *ywide);
    openblas_set_num_threads(threads);
    double fa, ba, fc, bc, cols;
    TIME(
        fa, for (int i = 0; i < n; i++) {
            nb_im2col(c, x + i * in_size, col, q);
            nb_gemm(0, 0, f, q, rows, 1, w, rows, col, q, 0, y + i * out_size, q);
        });
    TIME(
        ba, for (int i = 0; i < n; i++) {
            nb_im2col(c, x + i * in_size, col, q);
            nb_gemm(0, 1, f, rows, q, 1, dy + i * out_size, q, col, q, i ? 1 : 0, dw, rows);
            nb_gemm(1, 0, rows, q, f, 1, w, rows, dy + i * out_size, q, 0, dcol, q);
            nb_col2im(c, dcol, q, dx + i * in_size);
        });
    /* b: chunks of S samples side by side, one GEMM per chunk */
    static const int chunk[] = {2, 4, 8, 16, 64};
    double fb[5], bb[5];
    for (int ci = 0; ci < 5; ci++) {
        int S = chunk[ci];
        size_t ld = (size_t)q * S;
        TIME(
            fb[ci], for (int s0 = 0; s0 < n; s0 += S) {
                for (int i = 0; i < S; i++) nb_im2col(c, x + (s0 + i) * in_size, wide + i * q, ld);
                nb_gemm(0, 0, f, (int)ld, rows, 1, w, rows, wide, (int)ld, 0, ywide, (int)ld);
                for (int i = 0; i < S; i++)
                    for (int k = 0; k < f; k++)
                        memcpy(y + (s0 + i) * out_size + (size_t)k * q, ywide + k * ld + i * q,
                               q * sizeof *y);
            });
        TIME(
            bb[ci], for (int s0 = 0; s0 < n; s0 += S) {
                for (int i = 0; i < S; i++) {
                    nb_im2col(c, x + (s0 + i) * in_size, wide + i * q, ld);
                    for (int k = 0; k < f; k++)
                        memcpy(ywide + k * ld + i * q, dy + (s0 + i) * out_size + (size_t)k * q,
                               q * sizeof *y);
                }
                nb_gemm(0, 1, f, rows, (int)ld, 1, ywide, (int)ld, wide, (int)ld, s0 ? 1 : 0, dw,
                        rows);
                nb_gemm(1, 0, rows, (int)ld, f, 1, w, rows, ywide, (int)ld, 0, wide, (int)ld);
                for (int i = 0; i < S; i++) nb_col2im(c, wide + i * q, ld, dx + (s0 + i) * in_size);
            });
    }
    TIME(cols, for (int i = 0; i < n; i++) nb_im2col(c, x + i * in_size, col, q));

    /* c: the op */
    assert(nb_set_threads(threads) == NB_OK);
    nb_graph *g = nb_graph_create();
    nb_node xn = nb_input(g, "x", nb_shape4(n, c->c, c->h, c->w));
    nb_input_set_grad(g, xn, 1);
    nb_node wn = nb_param(g, "w", nb_shape4(f, c->c, c->kh, c->kw), nb_init_he());
    nb_node yn = nb_conv2d(g, xn, wn, NB_NONE, c->sh, c->ph);
    nb_node loss = nb_sum(g, yn);
    nb_graph_compile(g);
    memcpy(nb_node_value(g, xn), x, in_size * n * sizeof *x);
    nb_graph_forward(g);
    nb_node_rec *node = &g->nodes[yn];
    memcpy(node->grad, dy, out_size * n * sizeof *dy);
    TIME(fc, node->op->forward(g, node));
    TIME(bc, node->op->backward(g, node));
    (void)loss;
    nb_graph_free(g);
    printf("%-36s threads %d | fwd a %6.2f c %6.2f | bwd a %6.2f c %6.2f | im2col %5.2f\n", s->name,
           threads, fa, fc, ba, bc, cols);
    if (threads == 1)
        for (int ci = 0; ci < 5; ci++)
            printf("    b chunk %2d samples: fwd %6.2f bwd %6.2f\n", chunk[ci], fb[ci], bb[ci]);
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(col), free(dcol), free(wide),
        free(ywide);
}

int main(void)
{
    shape shapes[] = {
        {"conv1 64x1x28x28 -> 32, 3x3 pad 1", {64, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 28, 28}},
        {"conv2 64x32x14x14 -> 64, 3x3 pad 1", {64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 14, 14}},
    };
    for (int s = 0; s < 2; s++)
        for (int t = 1; t <= 2; t++) strategies(&shapes[s], t);
    return 0;
}
