/* The ceiling: OpenBLAS cblas_sgemm alone, at exactly the matrix products of
 * one training epoch of a dense ReLU network, and the machine's peak rate.
 *
 *   bench_gemm --name a --hidden 100 --batch 100 [--samples 60000] [--reps 3] [--split K]
 *   bench_gemm --peak 2048
 *
 * One step of layers d0 -> d1 -> ... -> dL with batch N does, per layer l:
 *   forward   Y_l  = X_l[N x d(l-1)] W_l[d(l-1) x d_l]          2 N d(l-1) d_l flops
 *   backward  dW_l = X_l^T dY_l    (transpose flag on A)        2 N d(l-1) d_l
 *             dX_l = dY_l W_l^T    (transpose flag on B), skipped for the
 *                                  first layer: the input needs no gradient
 * An epoch is ceil(samples / N) steps, the last one with the remainder. The
 * element-wise work (bias, ReLU, softmax, optimizer) is left out on purpose:
 * this is the time a trainer would take if it did nothing but its GEMMs.
 *
 * --split K: the batch split over K threads, each with one-threaded OpenBLAS
 * and its own matrices (a K-th of the batch, the remainder to the first), all
 * waiting for each other after every step as a data-parallel trainer does
 * before it adds up the gradients (the adding itself is left out too). */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LAYERS 16

typedef struct net {
    int layers; /* weight matrices */
    int dim[MAX_LAYERS + 1];
    float *x[MAX_LAYERS]; /* layer inputs [N, d(l-1)] */
    float *w[MAX_LAYERS], *dw[MAX_LAYERS];
    float *y[MAX_LAYERS], *dy[MAX_LAYERS]; /* [N, d_l] */
    float *dx[MAX_LAYERS];                 /* [N, d(l-1)] */
} net;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t count)
{
    float *p = malloc(sizeof(float) * (count ? count : 1));
    if (!p) {
        fprintf(stderr, "bench_gemm: out of memory for %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) p[i] = (float)((double)rand() / RAND_MAX - 0.5);
    return p;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void step(net *m, int n)
{
    for (int l = 0; l < m->layers; l++) {
        int d = m->dim[l], h = m->dim[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, h, d, 1, m->x[l], d, m->w[l], h,
                    0, m->y[l], h);
    }
    for (int l = m->layers - 1; l >= 0; l--) {
        int d = m->dim[l], h = m->dim[l + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, h, n, 1, m->x[l], d, m->dy[l], h, 0,
                    m->dw[l], h);
        if (l > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d, h, 1, m->dy[l], h, m->w[l],
                        h, 0, m->dx[l], d);
    }
}

static double step_flops(const net *m, int n)
{
    double f = 0;
    for (int l = 0; l < m->layers; l++) {
        double mnk = 2.0 * n * m->dim[l] * m->dim[l + 1];
        f += l > 0 ? 3 * mnk : 2 * mnk;
    }
    return f;
}

static double peak(int size, int reps)
{
    size_t count = (size_t)size * size;
    float *a = filled(count), *b = filled(count), *c = filled(count);
    double best = 1e30;
    for (int r = 0; r <= reps; r++) { /* r == 0 warms up */
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1, a, size, b,
                    size, 0, c, size);
        double t = now() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * size * size * (double)size / best / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gemm --name N --hidden W1,W2,... --batch B [--samples S] "
                    "[--reps R] [--rep R] [--split K]\n       bench_gemm --peak SIZE [--rep R]\n");
    exit(2);
}

static void make_net(net *m, const char *hidden, int batch)
{
    *m = (net){0};
    m->dim[0] = 784;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", hidden);
    for (char *save = NULL, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (m->layers + 2 > MAX_LAYERS || atoi(w) <= 0) usage();
        m->dim[++m->layers] = atoi(w);
    }
    m->dim[++m->layers] = 10;
    for (int l = 0; l < m->layers; l++) {
        size_t d = (size_t)m->dim[l], h = (size_t)m->dim[l + 1], n = (size_t)batch;
        m->x[l] = l == 0 ? filled(n * d) : m->y[l - 1];
        m->w[l] = filled(d * h);
        m->dw[l] = filled(d * h);
        m->y[l] = filled(n * h);
        m->dy[l] = filled(n * h);
        m->dx[l] = filled(n * d);
    }
}

static void free_net(net *m)
{
    for (int l = 0; l < m->layers; l++) {
        if (l == 0) free(m->x[l]);
        free(m->w[l]);
        free(m->dw[l]);
        free(m->y[l]);
        free(m->dy[l]);
        free(m->dx[l]);
    }
}

/* One part of a split batch: worker k of K does rows k*N/K.. of every step. */
typedef struct worker {
    net m;
    pthread_t id;
    pthread_barrier_t *sync;
    long steps; /* full steps per epoch */
    int part, rest_part, epochs;
} worker;

static int share(int rows, int k, int parts) /* worker k's rows of a batch */
{
    return rows / parts + (k < rows % parts);
}

static void *work(void *arg)
{
    worker *w = arg;
    for (int e = 0; e < w->epochs; e++) {
        for (long s = 0; s < w->steps; s++) {
            step(&w->m, w->part);
            pthread_barrier_wait(w->sync);
        }
        if (w->rest_part) step(&w->m, w->rest_part);
        pthread_barrier_wait(w->sync); /* the epoch's end, for the clock */
    }
    return NULL;
}

/* The median seconds per epoch, reps epochs after one warm-up epoch. With
 * split > 1, the calling thread is worker 0 and times each epoch between
 * barriers. */
static void epochs(const char *hidden, int batch, long samples, int split, int reps, double *times)
{
    long full = samples / batch;
    int rest = (int)(samples % batch);
    worker *w = calloc((size_t)split, sizeof *w);
    pthread_barrier_t sync;
    if (!w || pthread_barrier_init(&sync, NULL, (unsigned)split)) {
        fprintf(stderr, "bench_gemm: cannot start %d threads\n", split);
        exit(1);
    }
    for (int k = 0; k < split; k++) {
        w[k].part = share(batch, k, split);
        w[k].rest_part = share(rest, k, split);
        w[k].steps = full;
        w[k].epochs = reps + 1;
        w[k].sync = &sync;
        make_net(&w[k].m, hidden, w[k].part);
    }
    for (int k = 1; k < split; k++)
        if (pthread_create(&w[k].id, NULL, work, &w[k])) {
            fprintf(stderr, "bench_gemm: cannot start thread %d\n", k);
            exit(1);
        }
    for (int e = 0; e <= reps; e++) { /* worker 0's share of work(), timed */
        double t0 = now();
        for (long s = 0; s < full; s++) {
            step(&w[0].m, w[0].part);
            pthread_barrier_wait(&sync);
        }
        if (rest) step(&w[0].m, w[0].rest_part);
        pthread_barrier_wait(&sync);
        if (e > 0) times[e - 1] = now() - t0;
    }
    for (int k = 1; k < split; k++) pthread_join(w[k].id, NULL);
    for (int k = 0; k < split; k++) free_net(&w[k].m);
    pthread_barrier_destroy(&sync);
    free(w);
}

int main(int argc, char **argv)
{
    const char *name = "a", *hidden = "100";
    int batch = 100, reps = 3, rep = 0, peak_size = 0, split = 1;
    long samples = 60000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--name"))
            name = v;
        else if (!strcmp(k, "--hidden"))
            hidden = v;
        else if (!strcmp(k, "--batch"))
            batch = atoi(v);
        else if (!strcmp(k, "--samples"))
            samples = atol(v);
        else if (!strcmp(k, "--reps"))
            reps = atoi(v);
        else if (!strcmp(k, "--rep"))
            rep = atoi(v);
        else if (!strcmp(k, "--peak"))
            peak_size = atoi(v);
        else if (!strcmp(k, "--split"))
            split = atoi(v);
        else
            usage();
    }
    if (argc % 2 == 0 || batch <= 0 || reps <= 0 || samples <= 0 || split < 1 || split > batch)
        usage();
    if (split > 1) openblas_set_num_threads(1);
    int threads = split > 1 ? split : openblas_get_num_threads();

    if (peak_size > 0) {
        printf("{\"tool\":\"gemm\",\"mode\":\"peak\",\"rep\":%d,\"size\":%d,\"threads\":%d,"
               "\"peak_gflops\":%.2f}\n",
               rep, peak_size, threads, peak(peak_size, reps + 2));
        return 0;
    }

    net m;
    make_net(&m, hidden, batch);
    long full = samples / batch;
    int rest = (int)(samples % batch);
    double flops = (double)full * step_flops(&m, batch) + (rest ? step_flops(&m, rest) : 0);
    free_net(&m);
    double times[64];
    if (reps > 64) reps = 64;
    epochs(hidden, batch, samples, split, reps, times);
    qsort(times, (size_t)reps, sizeof *times, by_value);
    double med = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    printf("{\"tool\":\"gemm\",\"mode\":\"train\",\"name\":\"%s\",\"rep\":%d,\"hidden\":\"%s\","
           "\"batch\":%d,\"samples\":%ld,\"threads\":%d,\"split\":%d,\"epoch_s\":%.6f,"
           "\"min_epoch_s\":%.6f,\"flops_per_epoch\":%.6e,\"gflops\":%.2f}\n",
           name, rep, hidden, batch, samples, threads, split, med, times[0], flops,
           flops / med / 1e9);
    return 0;
}
