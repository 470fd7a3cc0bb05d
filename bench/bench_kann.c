/* KANN (a C library users pick for small networks) on the same benchmark
 * configurations as bench_nabla, one JSON line out. Built only when a KANN
 * source tree is given (cmake -DKANN_DIR=...); KANN's sources are never part
 * of this repository.
 *
 *   bench_kann --mode train --name a --hidden 100 --opt sgd --lr 0.1 --batch 100 [--mt 2]
 *   bench_kann --mode infer --name c --hidden 256,128 [--mt 2]
 *
 * The network is built from KANN's own nodes: dense layers (x W^T + b), ReLU,
 * softmax and its multi-class cross-entropy (a batch mean). The weights are
 * then overwritten with the benchmark's initialisation (He normal before a
 * ReLU, Xavier uniform for the last layer, zero biases). KANN's training
 * helper only knows RMSprop, so the loop is written here: a new permutation
 * every epoch, the batch gathered into KANN's input, kann_cost for forward
 * and backward (split over threads by kann_mt when --mt > 1), and plain SGD
 * or Adam applied to KANN's parameter array. The same loop is timed as in
 * bench_torch.py, running loss and accuracy included. */
#include "kann.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#define MAX_LAYERS 16
#define MAX_EPOCHS 1000
#define CLASSES    10
#define CHUNK      1000 /* evaluation and throughput batch */

typedef struct options {
    const char *mode, *name, *hidden, *opt;
    double lr;
    int batch, epochs, rep, calls, mt;
    long samples; /* 0: the whole training set */
    uint64_t seed;
} options;

typedef struct set {
    float *x; /* [n, features], scaled by 1/255 */
    uint8_t *y;
    int n, features;
} set;

typedef struct net {
    kann_t *ann;
    kad_node_t *w[MAX_LAYERS], *b[MAX_LAYERS];
    int layers, out; /* out: the softmax node's index */
} net;

static void die(const char *what)
{
    fprintf(stderr, "bench_kann: %s\n", what);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_kann --mode train|infer [--name N] [--hidden W1,W2,...] "
                    "[--opt sgd|adam] [--lr X] [--batch B] [--epochs E] [--samples S] "
                    "[--calls C] [--seed S] [--rep R] [--mt THREADS]\n");
    exit(2);
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){"train", "a", "100", "sgd", 0.1, 100, 5, 0, 2000, 1, 0, 1};
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(k, "--mode"))
            o->mode = v;
        else if (!strcmp(k, "--name"))
            o->name = v;
        else if (!strcmp(k, "--hidden"))
            o->hidden = v;
        else if (!strcmp(k, "--opt"))
            o->opt = v;
        else if (!strcmp(k, "--lr"))
            o->lr = atof(v);
        else if (!strcmp(k, "--batch"))
            o->batch = atoi(v);
        else if (!strcmp(k, "--epochs"))
            o->epochs = atoi(v);
        else if (!strcmp(k, "--samples"))
            o->samples = atol(v);
        else if (!strcmp(k, "--calls"))
            o->calls = atoi(v);
        else if (!strcmp(k, "--seed"))
            o->seed = (uint64_t)atoll(v);
        else if (!strcmp(k, "--rep"))
            o->rep = atoi(v);
        else if (!strcmp(k, "--mt"))
            o->mt = atoi(v);
        else
            usage();
    }
    if (o->batch <= 0 || o->epochs <= 0 || o->epochs > MAX_EPOCHS || o->calls <= 0 || o->mt < 1 ||
        (strcmp(o->opt, "sgd") && strcmp(o->opt, "adam")))
        usage();
}

/* ------------------------------------------------------------ random numbers */

static uint64_t rng_state;

static uint64_t next_u64(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(void) /* [0, 1) */
{
    return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0);
}

static double normal(void) /* Box-Muller */
{
    double u = 1.0 - uniform(), v = uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void shuffle(int *p, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(next_u64() % (uint64_t)(i + 1)), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* ------------------------------------------------------------------ the data */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* An IDX file of unsigned bytes, "<dir>/<name>.gz" or "<dir>/<name>" (zlib
 * reads both). Returns the bytes after the header and the item count. */
static uint8_t *read_idx(const char *name, int dims, int *count, int *item)
{
    const char *dir = getenv("NABLA_DATA_DIR");
    if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = gzopen(path, "rb");
    }
    if (!f) die("cannot open the Fashion-MNIST IDX files (set NABLA_DATA_DIR)");
    unsigned char head[16];
    int head_bytes = 4 + 4 * dims;
    if (gzread(f, head, (unsigned)head_bytes) != head_bytes || head[2] != 0x08 || head[3] != dims)
        die("not an IDX file of unsigned bytes");
    long size[3] = {1, 1, 1};
    for (int d = 0; d < dims; d++)
        size[d] = (long)head[4 + 4 * d] << 24 | head[5 + 4 * d] << 16 | head[6 + 4 * d] << 8 |
                  head[7 + 4 * d];
    long bytes = size[0] * size[1] * size[2];
    uint8_t *data = malloc((size_t)bytes);
    if (!data || gzread(f, data, (unsigned)bytes) != bytes) die("reading an IDX file");
    gzclose(f);
    *count = (int)size[0];
    *item = (int)(size[1] * size[2]);
    return data;
}

static set load(const char *part, long keep)
{
    char name[64];
    int n, features, labels, one;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", part);
    uint8_t *pixels = read_idx(name, 3, &n, &features);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", part);
    uint8_t *y = read_idx(name, 1, &labels, &one);
    if (labels != n) die("images and labels differ in count");
    if (keep > 0 && keep < n) n = (int)keep;
    set s = {malloc(sizeof(float) * (size_t)n * (size_t)features), y, n, features};
    if (!s.x) die("out of memory");
    for (size_t i = 0; i < (size_t)n * (size_t)features; i++) s.x[i] = pixels[i] * (1.0f / 255.0f);
    free(pixels);
    return s;
}

/* ---------------------------------------------------------------- the network */

static kad_node_t *dense(net *m, kad_node_t *in, int width)
{
    kad_node_t *t = kann_layer_dense(in, width); /* add(cmul(in, w), b) */
    m->w[m->layers] = t->child[0]->child[1];
    m->b[m->layers] = t->child[1];
    m->layers++;
    return t;
}

static void build(net *m, const char *hidden, int features)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", hidden);
    kad_node_t *t = kann_layer_input(features);
    for (char *save = NULL, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (m->layers + 2 > MAX_LAYERS || atoi(w) <= 0) usage();
        t = kad_relu(dense(m, t, atoi(w)));
    }
    t = kad_softmax(dense(m, t, CLASSES));
    t->ext_flag |= KANN_F_OUT;
    kad_node_t *truth = kad_feed(2, 1, CLASSES);
    truth->ext_flag |= KANN_F_TRUTH;
    kad_node_t *cost = kad_ce_multi(t, truth);
    cost->ext_flag |= KANN_F_COST;
    m->ann = kann_new(cost, 0);
    if (!m->ann) die("building the network");
    m->out = kann_find(m->ann, KANN_F_OUT, 0);
}

/* The benchmark's initialisation, written into KANN's parameter array (the
 * nodes' values point into it once kann_new has collated them). KANN keeps a
 * weight as [out, in]. */
static void init(net *m)
{
    for (int l = 0; l < m->layers; l++) {
        kad_node_t *w = m->w[l];
        int fan_out = w->d[0], fan_in = w->d[1], len = fan_out * fan_in;
        if (l < m->layers - 1) {
            double sd = sqrt(2.0 / fan_in);
            for (int i = 0; i < len; i++) w->x[i] = (float)(sd * normal());
        } else {
            double r = sqrt(6.0 / (fan_in + fan_out));
            for (int i = 0; i < len; i++) w->x[i] = (float)(r * (2 * uniform() - 1));
        }
        memset(m->b[l]->x, 0, sizeof(float) * (size_t)m->b[l]->d[0]);
    }
}

/* ------------------------------------------------------------------ training */

typedef struct adam {
    float *m, *v;
    long t;
} adam;

static void sgd_step(int n, float lr, const float *g, float *p)
{
    for (int i = 0; i < n; i++) p[i] -= lr * g[i];
}

/* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/c1 m / (sqrt(v/c2) + eps) */
static void adam_step(adam *a, int n, double lr, const float *g, float *p)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    a->t++;
    float step = (float)(lr / (1 - pow(0.9, (double)a->t)));
    float inv_c2 = (float)(1 / (1 - pow(0.999, (double)a->t)));
    for (int i = 0; i < n; i++) {
        a->m[i] = b1 * a->m[i] + (1 - b1) * g[i];
        a->v[i] = b2 * a->v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= step * a->m[i] / (sqrtf(a->v[i] * inv_c2) + eps);
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) /* sorts v */
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* Linux: KiB */
}

static void gather(const set *s, const int *index, int count, float *x, float *y)
{
    size_t f = (size_t)s->features;
    memset(y, 0, sizeof(float) * (size_t)count * CLASSES);
    for (int b = 0; b < count; b++) {
        memcpy(x + (size_t)b * f, s->x + (size_t)index[b] * f, sizeof(float) * f);
        y[b * CLASSES + s->y[index[b]]] = 1.0f;
    }
}

static int argmax(const float *p)
{
    int best = 0;
    for (int k = 1; k < CLASSES; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

static double accuracy(net *m, const set *test, float *x)
{
    kann_switch(m->ann, 0);
    kann_feed_bind(m->ann, KANN_F_IN, 0, &x);
    size_t f = (size_t)test->features;
    int correct = 0;
    for (int s = 0; s < test->n; s += CHUNK) {
        int count = test->n - s < CHUNK ? test->n - s : CHUNK;
        memcpy(x, test->x + (size_t)s * f, sizeof(float) * (size_t)count * f);
        kann_set_batch_size(m->ann, count);
        kann_eval_out(m->ann);
        const float *p = m->ann->v[m->out]->x;
        for (int b = 0; b < count; b++) correct += argmax(p + b * CLASSES) == test->y[s + b];
    }
    return (double)correct / test->n;
}

static void print_common(const options *o, const net *m, long samples, double load_s)
{
    printf("{\"tool\":\"kann\",\"mode\":\"%s\",\"name\":\"%s\",\"rep\":%d,\"hidden\":\"%s\","
           "\"threads\":%d,\"kann_mt\":%d,\"blas_threads\":%d,\"samples\":%ld,\"params\":%d,"
           "\"version\":\"%s\",\"load_s\":%.3f,",
           o->mode, o->name, o->rep, o->hidden, o->mt * openblas_get_num_threads(), o->mt,
           openblas_get_num_threads(), samples, kann_size_var(m->ann), KANN_VERSION, load_s);
}

static void train(const options *o, net *m, const set *tr, const set *test, double load_s)
{
    int n = tr->n, b = o->batch, n_var = kann_size_var(m->ann);
    int *perm = malloc(sizeof(int) * (size_t)n);
    float *x = malloc(sizeof(float) * (size_t)(b > CHUNK ? b : CHUNK) * (size_t)tr->features);
    float *y = malloc(sizeof(float) * (size_t)b * CLASSES);
    adam opt = {calloc((size_t)n_var, sizeof(float)), calloc((size_t)n_var, sizeof(float)), 0};
    if (!perm || !x || !y || !opt.m || !opt.v) die("out of memory");
    for (int i = 0; i < n; i++) perm[i] = i;
    kann_feed_bind(m->ann, KANN_F_IN, 0, &x);
    kann_feed_bind(m->ann, KANN_F_TRUTH, 0, &y);
    int is_adam = !strcmp(o->opt, "adam");
    double times[MAX_EPOCHS], total = 0;
    long correct = 0;
    for (int e = 0; e < o->epochs; e++) {
        double t0 = now();
        kann_switch(m->ann, 1);
        shuffle(perm, n);
        total = 0, correct = 0;
        for (int s = 0; s < n; s += b) {
            int count = n - s < b ? n - s : b, base = 0;
            gather(tr, perm + s, count, x, y);
            kann_set_batch_size(m->ann, count);
            total += (double)kann_cost(m->ann, 0, 1) * count;
            correct += count - kann_class_error(m->ann, &base);
            if (is_adam)
                adam_step(&opt, n_var, o->lr, m->ann->g, m->ann->x);
            else
                sgd_step(n_var, (float)o->lr, m->ann->g, m->ann->x);
        }
        times[e] = now() - t0;
    }
    double acc = accuracy(m, test, x);
    print_common(o, m, n, load_s);
    printf("\"opt\":\"%s\",\"lr\":%g,\"batch\":%d,\"epochs\":%d,\"epoch_s\":[", o->opt, o->lr, b,
           o->epochs);
    for (int e = 0; e < o->epochs; e++) printf("%s%.6f", e ? "," : "", times[e]);
    printf("],\"epoch_median_s\":%.6f,\"train_loss\":%.6f,\"train_accuracy\":%.6f,"
           "\"test_accuracy\":%.6f,\"rss_mb\":%.1f}\n",
           median(times, o->epochs), total / n, (double)correct / n, acc, peak_rss_mb());
    free(opt.m);
    free(opt.v);
    free(perm);
    free(x);
    free(y);
}

/* Latency: one sample per kann_apply1 call, the median of many calls.
 * Throughput: the test set in batches of 1,000 (kann_eval_out, split over
 * kann_mt's threads), the best of 3 passes after a warm-up pass. */
static void infer(const options *o, net *m, const set *test, double load_s)
{
    enum { WARMUP = 50, PASSES = 3 };
    size_t f = (size_t)test->features;
    double *lat = malloc(sizeof(double) * (size_t)o->calls);
    float *x = malloc(sizeof(float) * CHUNK * f);
    if (!lat || !x) die("out of memory");
    kann_switch(m->ann, 0);
    for (int i = 0; i < WARMUP + o->calls; i++) {
        float *one = test->x + (size_t)(i % test->n) * f;
        double t0 = now();
        if (!kann_apply1(m->ann, one)) die("kann_apply1");
        if (i >= WARMUP) lat[i - WARMUP] = now() - t0;
    }
    double lat_med = median(lat, o->calls), lat_p90 = lat[(size_t)(0.9 * (o->calls - 1))];
    kann_feed_bind(m->ann, KANN_F_IN, 0, &x);
    double best = 1e30;
    for (int pass = 0; pass <= PASSES; pass++) {
        double t0 = now();
        for (int s = 0; s < test->n; s += CHUNK) {
            int count = test->n - s < CHUNK ? test->n - s : CHUNK;
            /* KANN reads its input from one bound buffer: the copy is part
             * of what a caller does */
            memcpy(x, test->x + (size_t)s * f, sizeof(float) * (size_t)count * f);
            kann_set_batch_size(m->ann, count);
            kann_eval_out(m->ann);
        }
        double t = now() - t0;
        if (pass > 0 && t < best) best = t;
    }
    print_common(o, m, test->n, load_s);
    printf("\"calls\":%d,\"latency_us\":%.3f,\"latency_p90_us\":%.3f,\"min_latency_us\":%.3f,"
           "\"throughput_sps\":%.1f,\"rss_mb\":%.1f}\n",
           o->calls, 1e6 * lat_med, 1e6 * lat_p90, 1e6 * lat[0], test->n / best, peak_rss_mb());
    free(lat);
    free(x);
}

int main(int argc, char **argv)
{
    options o;
    parse(argc, argv, &o);
    rng_state = o.seed;
    kann_srand(o.seed);
    double t0 = now();
    set tr = load("train", o.samples), test = load("t10k", 0);
    double load_s = now() - t0;

    net m = {0};
    build(&m, o.hidden, tr.features);
    init(&m);
    if (o.mt > 1) kann_mt(m.ann, o.mt, o.batch > CHUNK ? o.batch : CHUNK);
    if (!strcmp(o.mode, "train"))
        train(&o, &m, &tr, &test, load_s);
    else if (!strcmp(o.mode, "infer"))
        infer(&o, &m, &test, load_s);
    else
        usage();
    kann_delete(m.ann);
    free(tr.x);
    free(tr.y);
    free(test.x);
    free(test.y);
    return 0;
}
