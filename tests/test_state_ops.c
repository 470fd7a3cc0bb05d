/* Dropout, batch normalisation, graph modes and buffers: forward values
 * computed here by hand, the masks' statistics and reproducibility, the
 * running estimates after a training pass, and a model (dense, batch_norm,
 * relu, dropout, dense, softmax_with_loss) that trains, evaluates without
 * touching its running estimates, resumes from a checkpoint and saves and
 * loads bit for bit, buffers included. The gradient checks of both ops are
 * in test_ops (held mode, double build: 1e-6). */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- dropout */

typedef struct drop_graph {
    nb_graph *g;
    nb_node x, y;
} drop_graph;

static drop_graph drop_make(int rows, int cols, double p, uint64_t seed)
{
    drop_graph d;
    d.g = nb_graph_create();
    assert_non_null(d.g);
    d.x = nb_input(d.g, "x", nb_shape2(rows, cols));
    d.y = nb_dropout(d.g, d.x, p);
    assert_ok(nb_graph_compile(d.g));
    nb_graph_set_seed(d.g, seed);
    size_t n = (size_t)rows * cols;
    nb_real *ones = malloc(n * sizeof *ones);
    for (size_t i = 0; i < n; i++) ones[i] = 1;
    assert_ok(nb_graph_feed(d.g, d.x, ones, n));
    free(ones);
    return d;
}

static nb_real *drop_copy(drop_graph *d)
{
    size_t n = nb_shape_count(nb_node_shape(d->g, d->y));
    nb_real *c = malloc(n * sizeof *c);
    memcpy(c, nb_node_value(d->g, d->y), n * sizeof *c);
    return c;
}

static void test_dropout_mask(void **state)
{
    (void)state;
    const int rows = 400, cols = 250;
    const double p = 0.3;
    const size_t n = (size_t)rows * cols;
    drop_graph d = drop_make(rows, cols, p, 42);
    assert_int_equal(nb_graph_mode(d.g), NB_MODE_TRAIN); /* a new graph trains */
    assert_ok(nb_graph_forward(d.g));
    const nb_real keep = (nb_real)(1 / (1 - p));
    size_t dropped = 0;
    const nb_real *y = nb_node_value(d.g, d.y);
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != keep) fail_msg("y[%zu] = %g, not 0 or %g", i, y[i], keep);
        dropped += y[i] == 0;
    }
    double frac = (double)dropped / (double)n;
    print_message("dropout p %g: dropped %.4f of %zu\n", p, frac, n);
    /* binomial: sd sqrt(p (1 - p) / n) = 0.00145; 0.01 is about 7 sd */
    assert_true(fabs(frac - p) < 0.01);

    /* The next training pass is the next draw: another mask. */
    nb_real *first = drop_copy(&d);
    assert_ok(nb_graph_forward(d.g));
    assert_true(memcmp(first, nb_node_value(d.g, d.y), n * sizeof *first) != 0);
    nb_real *second = drop_copy(&d);
    /* Held: the last mask again, however often. */
    assert_ok(nb_graph_set_mode(d.g, NB_MODE_HELD));
    assert_ok(nb_graph_forward(d.g));
    assert_ok(nb_graph_forward(d.g));
    assert_memory_equal(second, nb_node_value(d.g, d.y), n * sizeof *second);
    /* Evaluation: the identity. */
    assert_ok(nb_graph_set_mode(d.g, NB_MODE_EVAL));
    assert_ok(nb_graph_forward(d.g));
    for (size_t i = 0; i < n; i++) assert_true(nb_node_value(d.g, d.y)[i] == 1);
    /* The same seed and draw give the same mask: seeding again repeats
     * the first, in this graph and in another. */
    assert_ok(nb_graph_set_mode(d.g, NB_MODE_TRAIN));
    nb_graph_set_seed(d.g, 42);
    assert_ok(nb_graph_forward(d.g));
    assert_memory_equal(first, nb_node_value(d.g, d.y), n * sizeof *first);
    drop_graph e = drop_make(rows, cols, p, 42);
    assert_ok(nb_graph_forward(e.g));
    assert_memory_equal(first, nb_node_value(e.g, e.y), n * sizeof *first);
    /* Another seed, another mask. */
    nb_graph_set_seed(e.g, 43);
    assert_ok(nb_graph_forward(e.g));
    assert_true(memcmp(first, nb_node_value(e.g, e.y), n * sizeof *first) != 0);
    free(first);
    free(second);
    nb_graph_free(d.g);
    nb_graph_free(e.g);
}

static void test_dropout_p0_and_errors(void **state)
{
    (void)state;
    drop_graph d = drop_make(3, 4, 0, 1);
    assert_ok(nb_graph_forward(d.g));
    for (int i = 0; i < 12; i++) assert_true(nb_node_value(d.g, d.y)[i] == 1);
    nb_graph_free(d.g);
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(2, 2));
    assert_int_equal(nb_dropout(g, x, 1), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "op dropout (node \"dropout1\"): p is 1; it must be "
                                            "in [0, 1)"));
    nb_graph_free(g);
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(2, 2));
    assert_int_equal(nb_apply(g, "dropout", NULL, 1, &x), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "op dropout needs the attribute \"p\""));
    assert_int_equal(nb_graph_set_mode(g, (nb_mode)7), NB_ERR_ARGUMENT);
    nb_graph_free(g);
}

/* ---------------------------------------------------------- batch norm */

enum { BN_N = 3, BN_C = 2, BN_H = 1, BN_W = 2 };
#define BN_EPS      1e-5
#define BN_MOMENTUM 0.1

static void test_batch_norm_by_hand(void **state)
{
    (void)state;
    /* x [3, 2, 1, 2]: channel 0 holds 1..6 over (n, w), channel 1 holds
     * 2, 4, 6, 8, 10, 12 minus 1 */
    const double xs[BN_N * BN_C * BN_W] = {1, 2, 1, 3, 3, 4, 5, 7, 5, 6, 9, 11};
    /* channel 0: {1, 2, 3, 4, 5, 6}: mean 3.5, biased var 17.5 / 6, unbiased 3.5;
     * channel 1: {1, 3, 5, 7, 9, 11}: mean 6, biased var 70 / 6, unbiased 14 */
    const double mean[BN_C] = {3.5, 6}, var[BN_C] = {17.5 / 6, 70.0 / 6},
                 unbiased[BN_C] = {3.5, 14};
    const double gamma[BN_C] = {2, 0.5}, beta[BN_C] = {1, -1};
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape4(BN_N, BN_C, BN_H, BN_W));
    nb_real gv[BN_C] = {2, 0.5}, bv[BN_C] = {1, -1};
    nb_node ga = nb_constant(g, "gamma", nb_shape1(BN_C), gv);
    nb_node be = nb_constant(g, "beta", nb_shape1(BN_C), bv);
    nb_node rm = nb_buffer(g, "rm", nb_shape1(BN_C), nb_init_zeros());
    nb_node rv = nb_buffer(g, "rv", nb_shape1(BN_C), nb_init_constant(1));
    nb_node y = nb_batch_norm(g, x, ga, be, rm, rv, BN_MOMENTUM, BN_EPS);
    assert_int_not_equal(y, NB_NONE);
    assert_string_equal(nb_node_op(g, rm), "buffer");
    assert_false(nb_node_is_param(g, rm));
    assert_ok(nb_graph_compile(g));
    nb_rng rng;
    nb_rng_seed(&rng, 1);
    assert_ok(nb_graph_init_params(g, &rng)); /* buffers from their init */
    size_t params, state_count;
    nb_graph_params(g, &params);
    nb_real *st = nb_graph_state(g, &state_count);
    assert_int_equal(params, 0);
    assert_int_equal(state_count, 2 * BN_C);
    assert_ptr_equal(nb_node_value(g, rm), st);
    assert_ptr_equal(nb_node_value(g, rv), st + BN_C);
    assert_null(nb_node_grad(g, rm));
    nb_real xv[BN_N * BN_C * BN_W];
    for (int i = 0; i < BN_N * BN_C * BN_W; i++) xv[i] = (nb_real)xs[i];
    assert_ok(nb_graph_feed(g, x, xv, BN_N * BN_C * BN_W));

    /* Training: batch statistics, then the running estimates move. */
    assert_ok(nb_graph_forward(g));
    const nb_real *out = nb_node_value(g, y);
    for (int i = 0; i < BN_N; i++)
        for (int c = 0; c < BN_C; c++)
            for (int w = 0; w < BN_W; w++) {
                int at = (i * BN_C + c) * BN_W + w;
                double want = gamma[c] * (xs[at] - mean[c]) / sqrt(var[c] + BN_EPS) + beta[c];
                assert_near(out[at], want, TOL);
            }
    const nb_real *rmv = nb_node_value(g, rm), *rvv = nb_node_value(g, rv);
    for (int c = 0; c < BN_C; c++) {
        assert_near(rmv[c], (1 - BN_MOMENTUM) * 0 + BN_MOMENTUM * mean[c], TOL);
        assert_near(rvv[c], (1 - BN_MOMENTUM) * 1 + BN_MOMENTUM * unbiased[c], TOL);
    }
    nb_real after[2 * BN_C];
    memcpy(after, st, sizeof after);

    /* Held: batch statistics, running estimates untouched. */
    assert_ok(nb_graph_set_mode(g, NB_MODE_HELD));
    assert_ok(nb_graph_forward(g));
    assert_memory_equal(after, st, sizeof after);
    assert_near(out[0], gamma[0] * (xs[0] - mean[0]) / sqrt(var[0] + BN_EPS) + beta[0], TOL);

    /* Evaluation: the running estimates, twice alike, untouched. */
    assert_ok(nb_graph_set_mode(g, NB_MODE_EVAL));
    assert_ok(nb_graph_forward(g));
    for (int i = 0; i < BN_N * BN_C * BN_W; i++) {
        int c = (i / BN_W) % BN_C;
        double want = gamma[c] * (xs[i] - rmv[c]) / sqrt(rvv[c] + BN_EPS) + beta[c];
        assert_near(out[i], want, TOL);
    }
    nb_real first[BN_N * BN_C * BN_W];
    memcpy(first, out, sizeof first);
    assert_ok(nb_graph_forward(g));
    assert_memory_equal(first, out, sizeof first);
    assert_memory_equal(after, st, sizeof after);
    nb_graph_free(g);
}

static void test_batch_norm_errors(void **state)
{
    (void)state;
    /* One value per channel cannot train (no unbiased variance). */
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(1, 3));
    nb_node ga = nb_param(g, "g", nb_shape1(3), nb_init_constant(1));
    nb_node be = nb_param(g, "b", nb_shape1(3), nb_init_zeros());
    nb_node rm = nb_buffer(g, "rm", nb_shape1(3), nb_init_zeros());
    nb_node rv = nb_buffer(g, "rv", nb_shape1(3), nb_init_constant(1));
    nb_node y = nb_batch_norm(g, x, ga, be, rm, rv, 0.1, 1e-5);
    nb_node_set_name(g, y, "bn");
    assert_ok(nb_graph_compile(g));
    assert_int_equal(nb_graph_forward(g), NB_ERR_SHAPE);
    assert_non_null(strstr(nb_last_error(), "op batch_norm (node \"bn\"): training needs at "
                                            "least 2 values per channel (N * H * W), got 1"));
    assert_ok(nb_graph_set_mode(g, NB_MODE_EVAL)); /* evaluation can */
    assert_ok(nb_graph_forward(g));
    /* Running estimates must be buffers; shapes must agree. */
    assert_int_equal(nb_batch_norm(g, x, ga, be, ga, rv, 0.1, 1e-5), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "input 3 (running_mean) \"g\" must be a buffer"));
    nb_graph_free(g);
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(4, 3));
    nb_node v2 = nb_buffer(g, "v2", nb_shape1(2), nb_init_zeros());
    assert_int_equal(nb_batch_norm(g, x, v2, v2, v2, v2, 0.1, 1e-5), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "of shape [C], C = x's dimension 1"));
    nb_graph_free(g);
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(4, 3));
    nb_node v3 = nb_buffer(g, "v3", nb_shape1(3), nb_init_zeros());
    assert_int_equal(nb_batch_norm(g, x, v3, v3, v3, v3, 0.1, 0), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "eps is 0; it must be > 0"));
    nb_graph_free(g);
}

/* A negative running variance has no meaning (1 / sqrt(var + eps) is NaN
 * or huge): refused before any forward, in every mode. */
static void test_batch_norm_negative_running_var(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(4, 3));
    nb_node ga = nb_param(g, "g", nb_shape1(3), nb_init_constant(1));
    nb_node be = nb_param(g, "b", nb_shape1(3), nb_init_zeros());
    nb_node rm = nb_buffer(g, "rm", nb_shape1(3), nb_init_zeros());
    nb_node rv = nb_buffer(g, "rv", nb_shape1(3), nb_init_constant(1));
    nb_node y = nb_batch_norm(g, x, ga, be, rm, rv, 0.1, 1e-5);
    nb_node_set_name(g, y, "bn");
    assert_ok(nb_graph_compile(g));
    nb_node_value(g, rv)[2] = -1;
    const nb_mode modes[] = {NB_MODE_TRAIN, NB_MODE_EVAL, NB_MODE_HELD};
    for (int i = 0; i < 3; i++) {
        assert_ok(nb_graph_set_mode(g, modes[i]));
        assert_int_equal(nb_graph_forward(g), NB_ERR_ARGUMENT);
        assert_non_null(strstr(nb_last_error(), "op batch_norm (node \"bn\"): running_var \"rv\" "
                                                "of channel 2 (0-based) is -1; a variance must "
                                                "be a number >= 0"));
    }
    nb_node_value(g, rv)[2] = 0; /* var + eps > 0: a constant channel */
    assert_ok(nb_graph_forward(g));
    nb_graph_free(g);
}

/* --------------------------------------------------------------- a model */

enum { FEATURES = 6, CLASSES = 3, SAMPLES = 90, BATCH = 8 };

/* x -> dense 10 -> batch_norm -> relu -> dropout 0.2 -> dense 3 ->
 * softmax_with_loss */
static nb_model *bn_model(void)
{
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(BATCH, FEATURES));
    nb_node h = nb_dense(g, x, 10, "fc1", nb_init_he());
    nb_node ga = nb_param(g, "bn.gamma", nb_shape1(10), nb_init_constant(1));
    nb_node be = nb_param(g, "bn.beta", nb_shape1(10), nb_init_zeros());
    nb_node rm = nb_buffer(g, "bn.running_mean", nb_shape1(10), nb_init_zeros());
    nb_node rv = nb_buffer(g, "bn.running_var", nb_shape1(10), nb_init_constant(1));
    h = nb_relu(g, nb_batch_norm(g, h, ga, be, rm, rv, 0.1, 1e-5));
    h = nb_dropout(g, h, 0.2);
    nb_node y = nb_dense(g, h, CLASSES, "fc2", nb_init_xavier());
    nb_node t = nb_input(g, "label", nb_shape1(BATCH));
    nb_node loss = nb_softmax_with_loss(g, y, t);
    nb_model_roles roles = {1, &x, y, t, loss};
    nb_model *m;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    assert_ok(nb_model_init(m, 5));
    return m;
}

static void make_data(nb_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->count = SAMPLES;
    d->features = FEATURES;
    d->classes = CLASSES;
    d->x = calloc(SAMPLES * FEATURES, sizeof *d->x);
    d->labels = calloc(SAMPLES, sizeof *d->labels);
    nb_rng rng;
    nb_rng_seed(&rng, 11);
    for (size_t i = 0; i < SAMPLES; i++) {
        int k = (int)(i % CLASSES);
        for (int j = 0; j < FEATURES; j++)
            d->x[i * FEATURES + (size_t)j] =
                (nb_real)(nb_rng_normal(&rng) * 0.5 + (j % CLASSES == k ? 2 : 0) + 3);
        d->labels[i] = k;
    }
}

static void free_data(nb_dataset *d)
{
    free(d->x);
    free(d->labels);
}

static nb_train_config config(void)
{
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.02;
    c.batch = BATCH;
    c.epochs = 4;
    c.seed = 9;
    return c;
}

/* The public steps for the whole run; with ckpt, a checkpoint after batch
 * `at` of epoch 2 (mid-epoch: the draw count and the running estimates
 * of a part-way epoch), and stop there. */
static void train_steps(nb_model *m, const nb_dataset *d, const char *resume, const char *ckpt,
                        size_t at)
{
    nb_train_config c = config();
    nb_train_state *s;
    assert_ok(nb_train_begin(m, d, NULL, &c, &s));
    assert_int_equal(s->buffer_count, 2);
    assert_string_equal(s->buffers[0].name, "bn.running_mean");
    if (resume) assert_ok(nb_checkpoint_load(s, resume));
    int stop = 0;
    while (!s->stop_reason && !stop) {
        int rows;
        while (nb_train_next_batch(s, &rows) == NB_OK && rows > 0) {
            assert_ok(nb_train_forward_backward(s));
            assert_ok(nb_train_apply(s));
            if (ckpt && s->epoch == 2 && s->batch == at) {
                assert_ok(nb_checkpoint_save(s, ckpt));
                stop = 1;
                break;
            }
        }
        if (stop) break;
        assert_ok(nb_train_end_epoch(s));
        assert_ok(nb_train_next_epoch(s));
    }
    nb_train_result r;
    if (!stop) assert_ok(nb_train_finish(s, &r));
    if (!stop) nb_train_result_free(&r);
    nb_train_state_free(s);
}

static nb_real *copy_state(nb_model *m, size_t *count)
{
    const nb_real *p = nb_graph_state(nb_model_graph(m), count);
    nb_real *c = malloc(*count * sizeof *c);
    memcpy(c, p, *count * sizeof *c);
    return c;
}

static void test_model_resumes_saves_and_loads(void **state)
{
    (void)state;
    char dir[] = "/tmp/nabla_state_XXXXXX", ckpt[64], file[64];
    assert_non_null(mkdtemp(dir));
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
    snprintf(file, sizeof file, "%s/model.st", dir);
    nb_dataset d;
    make_data(&d);
    nb_model *straight = bn_model(), *first = bn_model(), *resumed = bn_model();
    size_t n0;
    nb_real *init = copy_state(straight, &n0);
    train_steps(straight, &d, NULL, NULL, 0);
    train_steps(first, &d, NULL, ckpt, 5);
    train_steps(resumed, &d, ckpt, NULL, 0);
    size_t n1, n2, params;
    nb_graph_params(nb_model_graph(straight), &params);
    assert_int_equal(n0, params + 20); /* the running mean and variance follow */
    nb_real *a = copy_state(straight, &n1), *b = copy_state(resumed, &n2);
    assert_int_equal(n1, n2);
    if (memcmp(a, b, n1 * sizeof *a) != 0) fail_msg("the resumed run ends elsewhere");
    /* the running estimates moved in training */
    assert_true(memcmp(a + params, init + params, 20 * sizeof *a) != 0);
    free(b);
    b = copy_state(first, &n2); /* stopped elsewhere: the check can fail */
    assert_true(memcmp(a + params, b + params, 20 * sizeof *a) != 0);
    free(b);

    /* Evaluation leaves the running estimates alone and repeats itself. */
    nb_metrics m1, m2;
    assert_ok(nb_evaluate(straight, &d, &m1));
    assert_ok(nb_evaluate(straight, &d, &m2));
    assert_true(m1.loss == m2.loss && m1.accuracy == m2.accuracy);
    b = copy_state(straight, &n2);
    assert_memory_equal(a, b, n1 * sizeof *a);
    free(b);
    assert_int_equal(nb_graph_mode(nb_model_graph(straight)), NB_MODE_TRAIN); /* put back */
    print_message("batch norm + dropout model: accuracy %.3f\n", m1.accuracy);
    assert_true(m1.accuracy > 0.8);
    nb_metrics_free(&m1);
    nb_metrics_free(&m2);

    /* Saved and loaded: the same state and predictions bit for bit. */
    assert_ok(nb_model_save(straight, file));
    nb_model *loaded;
    assert_ok(nb_model_load(file, &loaded));
    b = copy_state(loaded, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1 * sizeof *a);
    free(b);
    nb_graph *lg = nb_model_graph(loaded);
    assert_string_equal(nb_node_op(lg, nb_graph_find(lg, "bn.running_var")), "buffer");
    assert_true(nb_node_init(lg, nb_graph_find(lg, "bn.running_var")).a == 1);
    size_t values = SAMPLES * CLASSES;
    nb_real *p = calloc(values, sizeof *p), *q = calloc(values, sizeof *q);
    assert_ok(nb_model_predict(straight, d.x, SAMPLES, p));
    assert_ok(nb_model_predict(loaded, d.x, SAMPLES, q));
    assert_memory_equal(p, q, values * sizeof *p);
    free(p);
    free(q);
    nb_model_free(loaded);
    free(a);
    free(init);
    nb_model_free(straight);
    nb_model_free(first);
    nb_model_free(resumed);
    free_data(&d);
    unlink(ckpt);
    unlink(file);
    rmdir(dir);
}

/* A model file whose running variance is negative is refused at load,
 * as a file error naming the tensor, channel and value; a model holding
 * one predicts nothing. */
static void test_negative_running_var_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/nabla_state_XXXXXX", file[64];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/model.st", dir);
    nb_model *m = bn_model();
    nb_graph *g = nb_model_graph(m);
    nb_node_value(g, nb_graph_find(g, "bn.running_var"))[4] = -1;
    assert_ok(nb_model_save(m, file));
    nb_model *loaded = NULL;
    assert_int_equal(nb_model_load(file, &loaded), NB_ERR_FORMAT);
    assert_null(loaded);
    assert_non_null(strstr(nb_last_error(), "running_var \"bn.running_var\" of channel 4 "
                                            "(0-based) is -1"));
    assert_non_null(strstr(nb_last_error(), file));
    nb_real x[FEATURES] = {1, 2, 3, 4, 5, 6}, p[CLASSES];
    assert_int_equal(nb_model_predict(m, x, 1, p), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "of channel 4 (0-based) is -1"));
    nb_model_free(m);
    unlink(file);
    rmdir(dir);
}

/* 89 samples in batches of 8: the last batch would hold one sample, which
 * batch norm over features cannot train on. Each epoch leaves it out
 * (11 batches of 8), and a resumed run still ends where the straight one
 * does; batches of one are refused before training. */
static void test_last_batch_of_one(void **state)
{
    (void)state;
    char dir[] = "/tmp/nabla_state_XXXXXX", ckpt[64];
    assert_non_null(mkdtemp(dir));
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
    nb_dataset d;
    make_data(&d);
    d.count = 89;
    nb_model *straight = bn_model(), *first = bn_model(), *resumed = bn_model();
    nb_train_config c = config();
    nb_train_state *s;
    assert_ok(nb_train_begin(straight, &d, NULL, &c, &s));
    assert_int_equal(s->batches, 11);
    for (int e = 0; e < 2; e++) {
        int rows, total = 0;
        while (nb_train_next_batch(s, &rows) == NB_OK && rows > 0) {
            assert_int_equal(rows, BATCH);
            total += rows;
            assert_ok(nb_train_forward_backward(s));
            assert_ok(nb_train_apply(s));
        }
        assert_int_equal(total, 88);
        assert_ok(nb_train_end_epoch(s));
        assert_ok(nb_train_next_epoch(s));
    }
    nb_train_state_free(s);
    nb_model_free(straight);
    straight = bn_model();
    train_steps(straight, &d, NULL, NULL, 0);
    train_steps(first, &d, NULL, ckpt, 5);
    train_steps(resumed, &d, ckpt, NULL, 0);
    size_t n1, n2;
    nb_real *a = copy_state(straight, &n1), *b = copy_state(resumed, &n2);
    assert_int_equal(n1, n2);
    if (memcmp(a, b, n1 * sizeof *a) != 0) fail_msg("the resumed run ends elsewhere");
    free(a);
    free(b);

    c.batch = 1;
    assert_int_equal(nb_train_begin(first, &d, NULL, &c, &s), NB_ERR_SHAPE);
    assert_non_null(strstr(nb_last_error(), "batch norm over features needs batches of at "
                                            "least 2 samples"));
    d.count = 1; /* a batch of the whole training set */
    c.batch = 8;
    assert_int_equal(nb_train_begin(first, &d, NULL, &c, &s), NB_ERR_SHAPE);
    assert_non_null(strstr(nb_last_error(), "training: the training set has 1 sample: "));
    d.count = SAMPLES;
    nb_model_free(straight);
    nb_model_free(first);
    nb_model_free(resumed);
    free_data(&d);
    unlink(ckpt);
    rmdir(dir);
}

/* A step whose update goes non-finite is undone, the running estimates
 * its forward pass moved included. */
static void test_guard_restores_buffers(void **state)
{
    (void)state;
    nb_dataset d;
    make_data(&d);
    nb_model *m = bn_model();
    nb_train_config c = config();
    nb_train_state *s;
    assert_ok(nb_train_begin(m, &d, NULL, &c, &s));
    size_t n;
    nb_real *before = copy_state(m, &n);
    int rows;
    assert_ok(nb_train_next_batch(s, &rows));
    assert_ok(nb_train_forward_backward(s));
    const nb_real *now = nb_graph_state(nb_model_graph(m), NULL);
    assert_true(memcmp(before, now, n * sizeof *now) != 0); /* the estimates moved */
    s->grads[0] = (nb_real)NAN;                             /* a caller may write grads here */
    assert_int_equal(nb_train_apply(s), NB_ERR_NUMERIC);
    assert_memory_equal(before, now, n * sizeof *now);
    nb_train_result r;
    assert_ok(nb_train_finish(s, &r));
    nb_train_result_free(&r);
    nb_train_state_free(s);
    free(before);
    nb_model_free(m);
    free_data(&d);
}

/* ------------------------------------------------- no allocation a step */

static void test_steps_allocate_nothing(void **state)
{
    (void)state;
    check_count_allocations();
    nb_dataset d;
    make_data(&d);
    nb_model *m = bn_model();
    nb_train_config c = config();
    nb_train_state *s;
    assert_ok(nb_train_begin(m, &d, NULL, &c, &s));
    int rows;
    assert_ok(nb_train_next_batch(s, &rows)); /* the epoch's order is made here */
    size_t before = *check_allocations();
    for (int k = 0; k < 5; k++) {
        assert_ok(nb_train_forward_backward(s));
        assert_ok(nb_train_apply(s));
        assert_ok(nb_train_next_batch(s, &rows));
        assert_int_equal(rows, BATCH);
    }
    assert_int_equal(*check_allocations(), before);
    nb_train_result r;
    assert_ok(nb_train_finish(s, &r));
    nb_train_result_free(&r);
    nb_train_state_free(s);
    nb_model_free(m);
    free_data(&d);
    nb_set_allocator(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_mask),
        cmocka_unit_test(test_dropout_p0_and_errors),
        cmocka_unit_test(test_batch_norm_by_hand),
        cmocka_unit_test(test_batch_norm_errors),
        cmocka_unit_test(test_batch_norm_negative_running_var),
        cmocka_unit_test(test_negative_running_var_file),
        cmocka_unit_test(test_last_batch_of_one),
        cmocka_unit_test(test_model_resumes_saves_and_loads),
        cmocka_unit_test(test_guard_restores_buffers),
        cmocka_unit_test(test_steps_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
