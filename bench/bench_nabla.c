/* One benchmark configuration of nabla on Fashion-MNIST, one JSON line out.
 *
 *   bench_nabla --mode train --name a --hidden 100 --opt sgd --lr 0.1 --batch 100 --epochs 5
 *   bench_nabla --mode infer --name c --hidden 256,128
 *   --threads N sets nb_set_threads(N); without it the library's default.
 *
 * The data is loaded and scaled once, before any timing. Training time is the
 * trainer's own per-epoch figure (nb_epoch_stats.seconds), so loading,
 * building and evaluating are not counted. Peak RSS is the whole process's;
 * run one configuration per process to get it per configuration. */
#include "nabla.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_EPOCHS 1000
#define SPEC_BYTES 512

typedef struct options {
    const char *mode, *name, *hidden, *opt;
    double lr;
    int batch, epochs, rep, calls, threads; /* threads: -1, the library's default */
    size_t samples;                         /* 0: the whole training set */
    uint64_t seed;
} options;

typedef struct epoch_log {
    double seconds[MAX_EPOCHS];
    double loss;
    int count;
} epoch_log;

static void die(const char *what)
{
    fprintf(stderr, "bench_nabla: %s: %s\n", what, nb_last_error());
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_nabla --mode train|infer [--name N] [--hidden W1,W2,...] "
                    "[--opt sgd|adam] [--lr X] [--batch B] [--epochs E] [--samples S] "
                    "[--calls C] [--seed S] [--rep R] [--threads N]\n");
    exit(2);
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){"train", "a", "100", "sgd", 0.1, 100, 5, 0, 2000, -1, 0, 1};
    for (int i = 1; i < argc; i++) {
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
            o->samples = (size_t)atol(v);
        else if (!strcmp(k, "--calls"))
            o->calls = atoi(v);
        else if (!strcmp(k, "--seed"))
            o->seed = (uint64_t)atoll(v);
        else if (!strcmp(k, "--rep"))
            o->rep = atoi(v);
        else if (!strcmp(k, "--threads"))
            o->threads = atoi(v);
        else
            usage();
        i++;
    }
    if (o->batch <= 0 || o->epochs <= 0 || o->epochs > MAX_EPOCHS || o->calls <= 0) usage();
}

/* "256,128" -> "dense:256,relu,dense:128,relu,dense:10" */
static void make_spec(const char *hidden, char *spec, size_t size)
{
    char copy[SPEC_BYTES];
    snprintf(copy, sizeof copy, "%s", hidden);
    spec[0] = '\0';
    for (char *save = NULL, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        size_t used = strlen(spec);
        snprintf(spec + used, size - used, "dense:%s,relu,", w);
    }
    size_t used = strlen(spec);
    snprintf(spec + used, size - used, "dense:10");
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* Linux reports kilobytes */
}

static int on_progress(const nb_progress *p, void *user)
{
    epoch_log *log = user;
    if (p->stats && log->count < MAX_EPOCHS) {
        log->seconds[log->count++] = p->stats->seconds;
        log->loss = p->stats->train_loss;
    }
    return 0;
}

static void print_common(const options *o, const char *spec, size_t samples)
{
    printf("{\"tool\":\"nabla\",\"mode\":\"%s\",\"name\":\"%s\",\"rep\":%d,\"spec\":\"%s\","
           "\"hidden\":\"%s\",\"threads\":%d,\"samples\":%zu,",
           o->mode, o->name, o->rep, spec, o->hidden, nb_get_threads(), samples);
}

static void train(const options *o, const char *spec, nb_dataset *train_set, const nb_dataset *test,
                  double load_s)
{
    nb_optimizer_kind kind;
    if (nb_optimizer_parse(o->opt, &kind) != NB_OK) die("optimizer");
    nb_model *model;
    if (nb_model_create(spec, train_set->features, "softmax_ce", o->batch, &model) != NB_OK)
        die("creating the model");
    if (nb_model_init(model, o->seed) != NB_OK) die("initialising the model");

    static epoch_log log;
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(kind);
    c.optimizer.lr = o->lr;
    c.batch = o->batch;
    c.epochs = o->epochs;
    c.seed = o->seed;
    c.progress = on_progress;
    c.progress_user = &log;
    nb_train_result result;
    if (nb_train(model, train_set, NULL, &c, &result) != NB_OK) die("training");
    nb_train_result_free(&result);

    nb_metrics m;
    if (nb_evaluate(model, test, &m) != NB_OK) die("evaluating");

    print_common(o, spec, train_set->count);
    printf("\"opt\":\"%s\",\"lr\":%g,\"batch\":%d,\"epochs\":%d,\"epoch_s\":[", o->opt, o->lr,
           o->batch, o->epochs);
    for (int i = 0; i < log.count; i++) printf("%s%.6f", i ? "," : "", log.seconds[i]);
    double sorted[MAX_EPOCHS];
    memcpy(sorted, log.seconds, sizeof(double) * (size_t)log.count);
    double med = log.count ? median(sorted, log.count) : -1;
    printf("],\"epoch_median_s\":%.6f,\"train_loss\":%.6f,\"test_accuracy\":%.6f,"
           "\"load_s\":%.3f,\"rss_mb\":%.1f}\n",
           med, log.loss, m.accuracy, load_s, peak_rss_mb());
    nb_metrics_free(&m);
    nb_model_free(model);
}

/* Latency: one sample per nb_model_predict call, the median of many calls.
 * Throughput: the whole test set in batches of 1,000, the best of 3 passes. */
static void infer(const options *o, const char *spec, const nb_dataset *test, double load_s)
{
    enum { CHUNK = 1000, WARMUP = 50, PASSES = 3 };
    nb_model *model;
    if (nb_model_create(spec, test->features, "softmax_ce", 1, &model) != NB_OK)
        die("creating the model");
    if (nb_model_init(model, o->seed) != NB_OK) die("initialising the model");
    size_t f = (size_t)test->features, n = test->count;
    nb_real *out = nb_malloc(sizeof(nb_real) * 10 * CHUNK);
    double *lat = nb_malloc(sizeof(double) * (size_t)o->calls);
    if (!out || !lat) die("allocating");

    for (int i = 0; i < WARMUP + o->calls; i++) {
        const nb_real *x = test->x + (size_t)i % n * f;
        double t0 = now();
        if (nb_model_predict(model, x, 1, out) != NB_OK) die("predicting one sample");
        if (i >= WARMUP) lat[i - WARMUP] = now() - t0;
    }
    double lat_med = median(lat, o->calls), lat_p90 = lat[(size_t)(0.9 * (o->calls - 1))];

    if (nb_model_set_batch(model, CHUNK) != NB_OK) die("setting the batch");
    double best = 1e30;
    for (int pass = 0; pass <= PASSES; pass++) { /* pass 0 warms up */
        double t0 = now();
        for (size_t s = 0; s < n; s += CHUNK) {
            size_t count = n - s < CHUNK ? n - s : CHUNK;
            if (nb_model_predict(model, test->x + s * f, count, out) != NB_OK)
                die("predicting a batch");
        }
        double t = now() - t0;
        if (pass > 0 && t < best) best = t;
    }

    print_common(o, spec, n);
    printf("\"calls\":%d,\"latency_us\":%.3f,\"latency_p90_us\":%.3f,\"min_latency_us\":%.3f,"
           "\"throughput_sps\":%.1f,\"load_s\":%.3f,\"rss_mb\":%.1f}\n",
           o->calls, 1e6 * lat_med, 1e6 * lat_p90, 1e6 * lat[0], (double)n / best, load_s,
           peak_rss_mb());
    nb_free(lat);
    nb_free(out);
    nb_model_free(model);
}

int main(int argc, char **argv)
{
    options o;
    parse(argc, argv, &o);
    if (o.threads >= 0 && nb_set_threads(o.threads) != NB_OK) die("--threads");
    char spec[SPEC_BYTES];
    make_spec(o.hidden, spec, sizeof spec);

    double t0 = now();
    nb_dataset train_set, test;
    if (nb_data_open("fashion-mnist", NULL, o.seed, &train_set, &test) != NB_OK)
        die("loading fashion-mnist");
    nb_scaler scaler;
    if (nb_scaler_fit(NB_SCALE_UNIT, &train_set, &scaler) != NB_OK) die("fitting the scaler");
    nb_scaler_apply(&scaler, train_set.x, train_set.count);
    nb_scaler_apply(&scaler, test.x, test.count);
    nb_scaler_free(&scaler);
    if (o.samples > 0 && o.samples < train_set.count) { /* the first samples only */
        size_t *index = nb_malloc(sizeof(size_t) * o.samples);
        nb_dataset part;
        if (!index) die("allocating");
        for (size_t i = 0; i < o.samples; i++) index[i] = i;
        if (nb_dataset_subset(&train_set, index, o.samples, &part) != NB_OK) die("subset");
        nb_free(index);
        nb_dataset_free(&train_set);
        train_set = part;
    }
    double load_s = now() - t0;

    if (!strcmp(o.mode, "train"))
        train(&o, spec, &train_set, &test, load_s);
    else if (!strcmp(o.mode, "infer"))
        infer(&o, spec, &test, load_s);
    else
        usage();
    nb_dataset_free(&train_set);
    nb_dataset_free(&test);
    return 0;
}
