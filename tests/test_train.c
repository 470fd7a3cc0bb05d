/* The mini-batch trainer and the metrics: learning XOR, spirals and a sine
 * curve; determinism; schedules and their names; clipping; early stopping; stopping from
 * the progress callback; NaN handling; allocation outside the batch loop;
 * the confusion matrix, precision and recall on hand-made cases. */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static nb_model *make_model(const char *spec, int inputs, const char *loss, int batch,
                            uint64_t init_seed)
{
    nb_model *m = NULL;
    assert_ok(nb_model_create(spec, inputs, loss, batch, &m));
    assert_ok(nb_model_init(m, init_seed));
    return m;
}

static nb_real *param_copy(nb_model *m, size_t *count)
{
    nb_real *p = nb_graph_params(nb_model_graph(m), count);
    nb_real *copy = malloc(*count * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, p, *count * sizeof *copy);
    return copy;
}

static int params_finite(nb_model *m)
{
    size_t n;
    const nb_real *p = nb_graph_params(nb_model_graph(m), &n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

/* The gradient of the mean loss over all of data (class labels) at the
 * model's current weights, by one forward and backward pass of the whole
 * set through the graph, written straight from the graph API. */
static nb_real *full_batch_grad(nb_model *m, const nb_dataset *d)
{
    nb_graph *g = nb_model_graph(m);
    assert_ok(nb_model_set_batch(m, (int)d->count));
    nb_real *t = malloc(d->count * sizeof *t);
    assert_non_null(t);
    for (size_t i = 0; i < d->count; i++) t[i] = (nb_real)d->labels[i];
    assert_ok(nb_graph_feed(g, nb_model_input(m), d->x, d->count * (size_t)d->features));
    assert_ok(nb_graph_feed(g, nb_model_target(m), t, d->count));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, nb_model_loss(m)));
    size_t n;
    const nb_real *src = nb_graph_param_grads(g, &n);
    nb_real *grad = malloc(n * sizeof *grad);
    assert_non_null(grad);
    memcpy(grad, src, n * sizeof *grad);
    free(t);
    return grad;
}

/* ------------------------------------------------------------- learning */

static void test_xor_learned(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_xor(&d));
    nb_model *m = make_model("dense:8,tanh,dense:2", 2, "softmax_ce", 4, 3);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.05;
    c.batch = 4;
    c.epochs = 300;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    assert_int_equal(r.epochs_run, 300);
    assert_string_equal(r.stop_reason, "epochs");
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    assert_near(met.accuracy, 1.0, 0);
    assert_true(met.loss < 0.05);
    print_message("xor: %d epochs, %.3f s, loss %.5f\n", r.epochs_run, r.seconds, met.loss);
    nb_metrics_free(&met);
    nb_train_result_free(&r);
    nb_model_free(m);

    /* The same with one logit and bce: labels 0/1 are the targets. */
    m = make_model("dense:8,tanh,dense:1", 2, "bce", 4, 3);
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    assert_ok(nb_evaluate(m, &d, &met));
    assert_near(met.accuracy, 1.0, 0);
    assert_true(met.loss < 0.05);
    nb_metrics_free(&met);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

static void test_spiral_learned(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_spiral(100, 3, 5, &d));
    nb_model *m = make_model("dense:64,relu,dense:3", 2, "softmax_ce", 32, 3);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.01;
    c.batch = 32;
    c.epochs = 400;
    c.target_accuracy = 0.95; /* running train accuracy */
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    print_message("spiral: %d epochs (%s), %.3f s, accuracy %.4f\n", r.epochs_run, r.stop_reason,
                  r.seconds, met.accuracy);
    assert_true(met.accuracy >= 0.9);
    /* History: train accuracy of the last epoch is what stopped it. */
    if (strcmp(r.stop_reason, "target accuracy") == 0)
        assert_true(r.history[r.epochs_run - 1].train_accuracy >= 0.95);
    assert_near(r.history[0].val_loss, -1, 0);
    nb_metrics_free(&met);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

static void test_sine_regression(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_sine(200, 11, &d));
    nb_model *m = make_model("dense:20,sigmoid,dense:1", 1, "mse", 16, 3);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.01;
    c.batch = 16;
    c.epochs = 4000;
    c.target_loss = 3e-4; /* running loss; the check below is on the final weights */
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    print_message("sine: %d epochs (%s), %.3f s, mse %.6f\n", r.epochs_run, r.stop_reason,
                  r.seconds, met.loss);
    assert_true(met.loss <= 1e-3);
    assert_near(met.accuracy, -1, 0);
    assert_null(met.confusion);
    assert_near(r.history[0].train_accuracy, -1, 0);
    /* The mean squared error, computed independently from predictions. */
    nb_real *y = malloc(d.count * sizeof *y);
    assert_non_null(y);
    assert_ok(nb_model_predict(m, d.x, d.count, y));
    double sum = 0;
    for (size_t i = 0; i < d.count; i++) sum += (y[i] - d.y[i]) * (double)(y[i] - d.y[i]);
    assert_near(met.loss, sum / d.count, 1e-4);
    free(y);
    nb_metrics_free(&met);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

/* ---------------------------------------------------------- determinism */

static nb_real *train_spiral_params(uint64_t seed, size_t *count)
{
    nb_dataset d;
    assert_ok(nb_dataset_spiral(40, 3, 2, &d));
    nb_model *m = make_model("dense:16,relu,dense:3", 2, "softmax_ce", 10, 9);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.batch = 25; /* 120 samples: 4 full batches and one of 20 */
    c.epochs = 5;
    c.seed = seed;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    nb_real *p = param_copy(m, count);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
    return p;
}

static void test_same_seed_same_weights(void **state)
{
    (void)state;
    size_t n1, n2, n3;
    nb_real *a = train_spiral_params(42, &n1);
    nb_real *b = train_spiral_params(42, &n2);
    nb_real *c = train_spiral_params(43, &n3);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(a, b, n1 * sizeof *a);
    assert_memory_not_equal(a, c, n1 * sizeof *a);
    free(a);
    free(b);
    free(c);
}

/* ------------------------------------------------------------ schedules */

/* Params at the end of each epoch, saved by the progress callback. */
typedef struct snapshots {
    nb_model *model;
    int taken;
    nb_real *at[8];
} snapshots;

static int take_snapshot(const nb_progress *p, void *user)
{
    snapshots *s = user;
    if (!p->stats) return 0;
    size_t n;
    s->at[s->taken++] = param_copy(s->model, &n);
    return 0;
}

static void test_step_schedule(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_spiral(10, 3, 4, &d));
    nb_model *m = make_model("dense:5,tanh,dense:3", 2, "softmax_ce", 30, 1);
    size_t n;
    nb_real *start = param_copy(m, &n);
    snapshots s = {m, 0, {0}};
    nb_train_config c = nb_train_defaults(); /* SGD */
    c.optimizer.lr = 0.1;
    c.batch = 30; /* the whole set: one step per epoch */
    c.epochs = 5;
    c.schedule = NB_SCHEDULE_STEP;
    c.gamma = 0.5;
    c.step_epochs = 2;
    c.progress = take_snapshot;
    c.progress_user = &s;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    assert_int_equal(r.epochs_run, 5);
    assert_int_equal(s.taken, 5);
    /* lr * gamma^floor((e - 1) / 2), by hand. */
    const double want[5] = {0.1, 0.1, 0.05, 0.05, 0.025};
    for (int e = 0; e < 5; e++) {
        assert_int_equal(r.history[e].epoch, e + 1);
        assert_near(r.history[e].lr, want[e], 1e-15);
    }
    /* And the step used it: SGD moves by -lr * grad of the full batch. */
    for (int e = 0; e < 5; e++) {
        const nb_real *before = e ? s.at[e - 1] : start;
        memcpy(nb_graph_params(nb_model_graph(m), NULL), before, n * sizeof *before);
        nb_real *g = full_batch_grad(m, &d);
        for (size_t i = 0; i < n; i++) assert_near(s.at[e][i], before[i] - want[e] * g[i], 1e-5);
        free(g);
    }
    for (int e = 0; e < 5; e++) free(s.at[e]);
    free(start);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

static void test_cosine_schedule(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_xor(&d));
    nb_model *m = make_model("dense:4,tanh,dense:2", 2, "softmax_ce", 4, 1);
    nb_train_config c = nb_train_defaults();
    c.optimizer.lr = 0.1;
    c.epochs = 4;
    c.schedule = NB_SCHEDULE_COSINE;
    c.lr_min = 0.01;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    /* 0.01 + 0.09 (1 + cos(pi (e - 1) / 4)) / 2 with cos(pi/4) = sqrt(2)/2,
     * cos(pi/2) = 0 and cos(3pi/4) = -sqrt(2)/2. */
    const double h = sqrt(2.0) / 2;
    const double want[4] = {0.1, 0.01 + 0.045 * (1 + h), 0.055, 0.01 + 0.045 * (1 - h)};
    for (int e = 0; e < 4; e++) assert_near(r.history[e].lr, want[e], 1e-15);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

/* Every schedule's name parses back to it; an unknown name is refused
 * with a message that names it and lists the names. */
static void test_schedule_names(void **state)
{
    (void)state;
    const nb_schedule_kind all[3] = {NB_SCHEDULE_CONSTANT, NB_SCHEDULE_STEP, NB_SCHEDULE_COSINE};
    const char *want[3] = {"constant", "step", "cosine"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(nb_schedule_name(all[i]), want[i]);
        nb_schedule_kind back = all[(i + 1) % 3];
        assert_ok(nb_schedule_parse(nb_schedule_name(all[i]), &back));
        assert_int_equal(back, all[i]);
    }
    assert_string_equal(nb_schedule_name((nb_schedule_kind)3), "unknown");
    assert_string_equal(nb_schedule_name((nb_schedule_kind)-1), "unknown");
    const char *bad[] = {"linear", "", "Step", "step ", "unknown"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_schedule_kind kind = NB_SCHEDULE_STEP;
        assert_int_equal(nb_schedule_parse(bad[i], &kind), NB_ERR_NOT_FOUND);
        assert_int_equal(kind, NB_SCHEDULE_STEP); /* untouched */
    }
    nb_schedule_kind kind;
    assert_int_equal(nb_schedule_parse("linear", &kind), NB_ERR_NOT_FOUND);
    assert_string_equal(nb_last_error(), "unknown schedule \"linear\" (constant, step, cosine)");
    assert_int_equal(nb_schedule_parse(NULL, &kind), NB_ERR_NOT_FOUND);
    assert_int_equal(nb_schedule_parse("step", NULL), NB_ERR_ARGUMENT);
}

/* ------------------------------------------------------------- clipping */

static void test_gradient_clipping(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_spiral(10, 3, 4, &d));
    nb_model *m = make_model("dense:5,tanh,dense:3", 2, "softmax_ce", 30, 1);
    size_t n;
    nb_real *start = param_copy(m, &n);
    nb_real *g = full_batch_grad(m, &d);
    double norm = 0;
    for (size_t i = 0; i < n; i++) norm += (double)g[i] * g[i];
    norm = sqrt(norm);
    const double clip = 1e-3, lr = 0.5;
    assert_true(norm > 100 * clip); /* clipping must engage */

    nb_train_config c = nb_train_defaults();
    c.optimizer.lr = lr;
    c.batch = 30;
    c.epochs = 1;
    c.clip_norm = clip;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    const nb_real *p = nb_graph_params(nb_model_graph(m), NULL);
    double moved = 0;
    for (size_t i = 0; i < n; i++) {
        /* p = p0 - lr * g * clip / |g| */
        assert_near(p[i], start[i] - lr * g[i] * (clip / norm), 1e-6);
        moved += (double)(p[i] - start[i]) * (p[i] - start[i]);
    }
    /* The step's length is lr * clip, up to float rounding of p. */
    assert_true(fabs(sqrt(moved) - lr * clip) <= 0.01 * lr * clip);
    free(g);
    free(start);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

/* ------------------------------------------------------- early stopping */

static void test_early_stopping_restores_best(void **state)
{
    (void)state;
    nb_dataset train, val;
    assert_ok(nb_dataset_spiral(15, 3, 21, &train));
    assert_ok(nb_dataset_spiral(50, 3, 22, &val));
    nb_model *m = make_model("dense:64,relu,dense:64,relu,dense:3", 2, "softmax_ce", 8, 5);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.02;
    c.batch = 8;
    c.epochs = 400;
    c.patience = 5;
    nb_train_result r;
    assert_ok(nb_train(m, &train, &val, &c, &r));
    print_message("early stopping: %d epochs (%s), best %d\n", r.epochs_run, r.stop_reason,
                  r.best_epoch);
    assert_string_equal(r.stop_reason, "early stopping");
    assert_int_equal(r.epochs_run, r.best_epoch + c.patience);
    double best = r.history[r.best_epoch - 1].val_loss;
    for (int e = 0; e < r.epochs_run; e++) assert_true(r.history[e].val_loss >= best);
    assert_true(r.history[r.epochs_run - 1].val_loss > best);
    assert_true(r.history[r.best_epoch - 1].val_accuracy >= 0);
    nb_metrics met;
    assert_ok(nb_evaluate(m, &val, &met));
    assert_near(met.loss, best, TOL);
    nb_metrics_free(&met);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&train);
    nb_dataset_free(&val);
}

/* ------------------------------------------------------------- progress */

typedef struct calls {
    int batch_calls, epoch_calls, stop_at;
    size_t batches;
} calls;

static int count_calls(const nb_progress *p, void *user)
{
    calls *c = user;
    c->batches = p->batches;
    if (p->stats) {
        c->epoch_calls++;
        return 0;
    }
    c->batch_calls++;
    assert_true(p->batch >= 1 && p->batch <= p->batches);
    assert_true(p->loss >= 0 && p->eta_seconds >= 0);
    return c->stop_at && c->batch_calls == c->stop_at;
}

static void test_progress_and_stop(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_spiral(10, 3, 4, &d));
    nb_model *m = make_model("dense:5,tanh,dense:3", 2, "softmax_ce", 7, 1);
    calls k = {0, 0, 0, 0};
    nb_train_config c = nb_train_defaults();
    c.batch = 7; /* 30 samples: 4 batches of 7 and one of 2 */
    c.epochs = 3;
    c.progress = count_calls;
    c.progress_user = &k;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    assert_int_equal(k.batches, 5);
    assert_int_equal(k.batch_calls, 15);
    assert_int_equal(k.epoch_calls, 3);
    nb_train_result_free(&r);

    k = (calls){0, 0, 7, 0}; /* stop at the 2nd batch of epoch 2 */
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    assert_string_equal(r.stop_reason, "stopped");
    assert_int_equal(k.batch_calls, 7);
    assert_int_equal(k.epoch_calls, 1);
    assert_int_equal(r.epochs_run, 2); /* the stopped epoch is recorded */
    assert_int_equal(r.best_epoch, 2);
    /* The model stays usable at the training batch size. */
    assert_int_equal(nb_model_batch(m), 7);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

/* The epoch-end reports a run makes. */
typedef struct epoch_reports {
    int n, stop_at_end;
    nb_epoch_stats last;
    size_t batch;
} epoch_reports;

static int record_epoch_end(const nb_progress *p, void *user)
{
    epoch_reports *e = user;
    if (p->stats) {
        e->n++;
        e->last = *p->stats;
        e->batch = p->batch;
        return e->stop_at_end;
    }
    return 0;
}

/* An epoch cut short by the time limit is reported at its end like any
 * other: a per-epoch log holds every epoch the result counts. */
static void test_time_limit_reports_the_cut_epoch(void **state)
{
    (void)state;
    nb_dataset train, val;
    assert_ok(nb_dataset_spiral(10, 3, 4, &train));
    assert_ok(nb_dataset_spiral(10, 3, 5, &val));
    nb_model *m = make_model("dense:5,tanh,dense:3", 2, "softmax_ce", 7, 1);
    nb_train_config c = nb_train_defaults();
    c.batch = 7; /* 5 batches per epoch */
    c.epochs = 50;
    c.time_limit = 1e-9; /* passed after the first batch */
    epoch_reports e = {0};
    c.progress = record_epoch_end;
    c.progress_user = &e;
    nb_train_result r;
    assert_ok(nb_train(m, &train, &val, &c, &r));
    assert_string_equal(r.stop_reason, "time limit");
    assert_int_equal(r.epochs_run, 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.batch, 1); /* the batches that ran */
    assert_int_equal(e.last.epoch, 1);
    const nb_epoch_stats *h = &r.history[0];
    assert_memory_equal(&e.last.lr, &h->lr, sizeof h->lr);
    assert_memory_equal(&e.last.train_loss, &h->train_loss, sizeof h->train_loss);
    assert_memory_equal(&e.last.train_accuracy, &h->train_accuracy, sizeof h->train_accuracy);
    assert_memory_equal(&e.last.val_loss, &h->val_loss, sizeof h->val_loss);
    assert_memory_equal(&e.last.val_accuracy, &h->val_accuracy, sizeof h->val_accuracy);
    assert_memory_equal(&e.last.seconds, &h->seconds, sizeof h->seconds);
    nb_train_result_free(&r);
    /* Asking to stop at that epoch's end: the time limit came first. */
    e = (epoch_reports){.stop_at_end = 1};
    assert_ok(nb_train(m, &train, &val, &c, &r));
    assert_string_equal(r.stop_reason, "time limit");
    assert_int_equal(e.n, 1);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&train);
    nb_dataset_free(&val);
}

static void test_time_limit_and_target_accuracy(void **state)
{
    (void)state;
    nb_dataset train, val;
    assert_ok(nb_dataset_spiral(10, 3, 4, &train));
    assert_ok(nb_dataset_spiral(10, 3, 5, &val));
    nb_model *m = make_model("dense:5,tanh,dense:3", 2, "softmax_ce", 7, 1);
    nb_train_config c = nb_train_defaults();
    c.batch = 7;
    c.epochs = 50;
    c.time_limit = 1e-9; /* passed after the first batch */
    nb_train_result r;
    assert_ok(nb_train(m, &train, &val, &c, &r));
    assert_string_equal(r.stop_reason, "time limit");
    assert_int_equal(r.epochs_run, 1);
    assert_true(r.history[0].val_loss > 0 && r.history[0].val_accuracy >= 0);
    nb_train_result_free(&r);

    /* Target accuracy watches the validation set when there is one: a
     * target at or below the first epoch's validation accuracy stops it. */
    c.time_limit = 0;
    c.epochs = 1;
    assert_ok(nb_train(m, &train, &val, &c, &r));
    double first = r.history[0].val_accuracy;
    nb_train_result_free(&r);
    assert_true(first > 0);
    c.epochs = 50;
    c.target_accuracy = first;
    assert_ok(nb_model_init(m, 1));
    assert_ok(nb_train(m, &train, &val, &c, &r));
    assert_string_equal(r.stop_reason, "target accuracy");
    assert_int_equal(r.epochs_run, 1);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&train);
    nb_dataset_free(&val);
}

static void test_target_loss_stops(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_xor(&d));
    nb_model *m = make_model("dense:8,tanh,dense:2", 2, "softmax_ce", 4, 3);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.05;
    c.epochs = 1000;
    c.target_loss = 0.1;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    assert_string_equal(r.stop_reason, "target loss");
    assert_true(r.epochs_run < 1000);
    assert_true(r.history[r.epochs_run - 1].train_loss <= 0.1);
    for (int e = 0; e + 1 < r.epochs_run; e++) assert_true(r.history[e].train_loss > 0.1);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

/* ------------------------------------------------------------------ NaN */

static int stop_after(const nb_progress *p, void *user)
{
    return !p->stats && p->epoch == 1 && p->batch == *(size_t *)user;
}

static void test_nan_in_data(void **state)
{
    (void)state;
    const int batch = 10;
    const uint64_t seed = 77;
    nb_dataset d;
    assert_ok(nb_dataset_spiral(20, 3, 4, &d));
    /* Epoch 1's order, as documented: the identity order shuffled by an
     * nb_rng seeded with the seed. The bad sample goes into batch 3. */
    int order[60];
    for (int i = 0; i < 60; i++) order[i] = i;
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    nb_rng_shuffle(&rng, order, 60);
    int bad = order[2 * batch + 4];
    d.x[2 * bad + 1] = (nb_real)NAN;

    nb_model *m = make_model("dense:6,tanh,dense:3", 2, "softmax_ce", batch, 2);
    nb_train_config c = nb_train_defaults();
    c.batch = batch;
    c.epochs = 3;
    c.seed = seed;
    nb_train_result r;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_NUMERIC);
    const char *msg = nb_last_error();
    assert_non_null(strstr(msg, "epoch 1"));
    assert_non_null(strstr(msg, "batch 3 of 6"));
    /* The NaN entered with the data: the input is the first bad node. */
    assert_non_null(strstr(msg, "first non-finite: the value of node \"x\" (op input)"));
    assert_true(params_finite(m));
    assert_string_equal(r.stop_reason, "numeric error");
    assert_int_equal(r.epochs_run, 0);
    nb_train_result_free(&r);

    /* The weights are those after batch 2: the same as a clean run of the
     * same order stopped there. */
    d.x[2 * bad + 1] = 0;
    nb_model *clean = make_model("dense:6,tanh,dense:3", 2, "softmax_ce", batch, 2);
    size_t two = 2;
    c.progress = stop_after;
    c.progress_user = &two;
    assert_ok(nb_train(clean, &d, NULL, &c, &r));
    size_t n1, n2;
    const nb_real *a = nb_graph_params(nb_model_graph(m), &n1);
    const nb_real *b = nb_graph_params(nb_model_graph(clean), &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1 * sizeof *a);
    nb_train_result_free(&r);
    nb_model_free(clean);
    nb_model_free(m);
    nb_dataset_free(&d);
}

static void test_divergence_keeps_finite_weights(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_sine(50, 3, &d));
    nb_model *m = make_model("dense:8,tanh,dense:1", 1, "mse", 10, 2);
    nb_train_config c = nb_train_defaults();
    c.optimizer.lr = 1e30;
    c.batch = 10;
    c.epochs = 5;
    nb_train_result r;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_NUMERIC);
    int epoch, batch;
    const char *at = strstr(nb_last_error(), "epoch");
    assert_non_null(at);
    assert_int_equal(sscanf(at, "epoch %d, batch %d of 5", &epoch, &batch), 2);
    assert_true(epoch >= 1 && epoch <= 5 && batch >= 1 && batch <= 5);
    assert_int_equal(r.epochs_run, epoch - 1);
    assert_true(params_finite(m));
    nb_train_result_free(&r);

    /* A step that overflows the weights themselves (lr near DBL_MAX, a
     * bias gradient near -2000) is undone: the first step fails and the
     * weights are the initial ones, bit for bit. */
    for (size_t i = 0; i < d.count; i++) d.y[i] = 1000;
    assert_ok(nb_model_init(m, 2));
    size_t n;
    nb_real *start = param_copy(m, &n);
    c.optimizer.lr = 1.7e308;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "epoch 1, batch 1 of 5 made a weight non-finite"));
    assert_memory_equal(nb_graph_params(nb_model_graph(m), NULL), start, n * sizeof *start);
    free(start);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&d);
}

/* ----------------------------------------------------------- allocation */

/* Allocations of one training run of epochs epochs (partial last batches,
 * a validation set with a partial batch too, early stopping on). */
static size_t allocations_for(int epochs)
{
    nb_dataset train, val;
    assert_ok(nb_dataset_spiral(11, 3, 4, &train));
    assert_ok(nb_dataset_spiral(7, 3, 5, &val));
    nb_model *m = make_model("dense:6,relu,dense:3", 2, "softmax_ce", 4, 2);
    nb_train_config c = nb_train_defaults();
    c.batch = 4;
    c.epochs = epochs;
    c.patience = 1000;
    c.clip_norm = 1;
    check_count_allocations();
    nb_train_result r;
    nb_status st = nb_train(m, &train, &val, &c, &r);
    size_t used = *check_allocations();
    nb_set_allocator(NULL);
    assert_ok(st);
    assert_int_equal(r.epochs_run, epochs);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&train);
    nb_dataset_free(&val);
    return used;
}

static void test_no_allocation_per_batch(void **state)
{
    (void)state;
    size_t one = allocations_for(1), many = allocations_for(6);
    assert_true(one > 0);
    assert_int_equal(one, many);
}

/* ------------------------------------------------------------- evaluate */

static void set_param(nb_model *m, const char *name, const nb_real *v, size_t count)
{
    nb_graph *g = nb_model_graph(m);
    nb_node p = nb_graph_find(g, name);
    assert_true(p != NB_NONE);
    assert_int_equal(nb_shape_count(nb_node_shape(g, p)), count);
    memcpy(nb_node_value(g, p), v, count * sizeof *v);
}

static void test_evaluate_confusion(void **state)
{
    (void)state;
    /* logits = (x0, x1, 0.5, -100): class 3 is never predicted. */
    nb_model *m = make_model("dense:4", 2, "softmax_ce", 4, 1);
    const nb_real w[8] = {1, 0, 0, 0, 0, 1, 0, 0}, b[4] = {0, 0, 0.5, -100};
    set_param(m, "dense0.weight", w, 8);
    set_param(m, "dense0.bias", b, 4);
    /* sample: x, label -> predicted (argmax of the logits), by hand */
    nb_real x[18] = {2, 0, /* l0 p0 */ 2, 0, /* l1 p0 */ 0, 2, /* l1 p1 */
                     0, 0, /* l2 p2 */ 0, 0, /* l0 p2 */ 0, 3, /* l2 p1 */
                     1, 0, /* l0 p0 */ 3, 0, /* l2 p0 */ 0, 0 /* l2 p2 */};
    int32_t labels[9] = {0, 1, 1, 2, 0, 2, 0, 2, 2};
    const int32_t want_pred[9] = {0, 0, 1, 2, 2, 1, 0, 0, 2};
    nb_dataset d = {0};
    d.count = 9;
    d.features = 2;
    d.classes = 4;
    d.x = x;
    d.labels = labels;
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met)); /* batches of 4, 4 and 1 */
    assert_int_equal(met.samples, 9);
    assert_int_equal(met.classes, 4);
    const size_t want_conf[16] = {2, 0, 1, 0, /* true 0 */ 1, 1, 0, 0, /* true 1 */
                                  1, 1, 2, 0, /* true 2 */ 0, 0, 0, 0 /* true 3 */};
    assert_memory_equal(met.confusion, want_conf, sizeof want_conf);
    assert_memory_equal(met.predicted, want_pred, sizeof want_pred);
    /* precision = diagonal / column sum, recall = diagonal / row sum, 0 for
     * the class that is neither predicted nor present. */
    const double prec[4] = {2.0 / 4, 1.0 / 2, 2.0 / 3, 0}, rec[4] = {2.0 / 3, 1.0 / 2, 2.0 / 4, 0};
    for (int k = 0; k < 4; k++) {
        assert_near(met.precision[k], prec[k], 1e-15);
        assert_near(met.recall[k], rec[k], 1e-15);
    }
    assert_near(met.accuracy, 5.0 / 9, 1e-15);
    /* Mean cross-entropy: -log softmax(logits)[label], in double. */
    double loss = 0;
    for (int i = 0; i < 9; i++) {
        double z[4] = {x[2 * i], x[2 * i + 1], 0.5, -100}, s = 0;
        for (int k = 0; k < 4; k++) s += exp(z[k]);
        loss -= z[labels[i]] - log(s);
    }
    assert_near(met.loss, loss / 9, 1e-5);
    assert_int_equal(nb_model_batch(m), 4);
    nb_metrics_free(&met);
    assert_null(met.confusion);
    nb_model_free(m);
}

static void test_evaluate_binary(void **state)
{
    (void)state;
    nb_model *m = make_model("dense:1", 1, "bce", 3, 1);
    const nb_real w = 1, b = 0;
    set_param(m, "dense0.weight", &w, 1);
    set_param(m, "dense0.bias", &b, 1);
    nb_real x[4] = {-1, 2, 3, -0.5};
    int32_t labels[4] = {0, 1, 0, 1}; /* predicted: logit > 0 -> 0, 1, 1, 0 */
    nb_dataset d = {0};
    d.count = 4;
    d.features = 1;
    d.classes = 2;
    d.x = x;
    d.labels = labels;
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    assert_int_equal(met.classes, 2);
    const size_t want_conf[4] = {1, 1, 1, 1};
    assert_memory_equal(met.confusion, want_conf, sizeof want_conf);
    assert_near(met.accuracy, 0.5, 0);
    /* -[t log s(z) + (1 - t) log(1 - s(z))], s = 1 / (1 + e^-z) */
    double loss = 0;
    for (int i = 0; i < 4; i++) {
        double s = 1 / (1 + exp(-x[i]));
        loss -= labels[i] ? log(s) : log(1 - s);
    }
    assert_near(met.loss, loss / 4, 1e-5);
    nb_metrics_free(&met);
    nb_model_free(m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_xor(&d));
    nb_model *m = make_model("dense:4,tanh,dense:2", 2, "softmax_ce", 4, 1);
    nb_train_result r;
    nb_train_config c = nb_train_defaults();
    c.batch = 0;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "batch"));
    c = nb_train_defaults();
    c.patience = 3;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "validation"));
    c = nb_train_defaults();
    d.labels[2] = 5;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "sample 2 has label 5"));
    d.labels[2] = 1;
    d.features = 3;
    assert_int_equal(nb_train(m, &d, NULL, &c, &r), NB_ERR_SHAPE);
    assert_null(r.history);
    d.features = 2;
    nb_model_free(m);
    nb_dataset_free(&d);
}

static void test_defaults(void **state)
{
    (void)state;
    nb_train_config c = nb_train_defaults();
    assert_int_equal(c.optimizer.kind, NB_OPT_SGD);
    assert_near(c.optimizer.lr, 0.01, 0);
    assert_int_equal(c.batch, 32);
    assert_int_equal(c.epochs, 10);
    assert_int_equal(c.seed, 1);
    assert_int_equal(c.schedule, NB_SCHEDULE_CONSTANT);
    assert_near(c.gamma, 0.1, 0);
    assert_int_equal(c.step_epochs, 10);
    assert_true(c.clip_norm == 0 && c.target_loss == 0 && c.target_accuracy == 0 &&
                c.time_limit == 0 && c.patience == 0 && c.progress == NULL);
}

int main(void)
{
    double t0 = seconds_now();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_xor_learned),
        cmocka_unit_test(test_spiral_learned),
        cmocka_unit_test(test_sine_regression),
        cmocka_unit_test(test_same_seed_same_weights),
        cmocka_unit_test(test_step_schedule),
        cmocka_unit_test(test_cosine_schedule),
        cmocka_unit_test(test_schedule_names),
        cmocka_unit_test(test_gradient_clipping),
        cmocka_unit_test(test_early_stopping_restores_best),
        cmocka_unit_test(test_progress_and_stop),
        cmocka_unit_test(test_time_limit_and_target_accuracy),
        cmocka_unit_test(test_time_limit_reports_the_cut_epoch),
        cmocka_unit_test(test_target_loss_stops),
        cmocka_unit_test(test_nan_in_data),
        cmocka_unit_test(test_divergence_keeps_finite_weights),
        cmocka_unit_test(test_no_allocation_per_batch),
        cmocka_unit_test(test_evaluate_confusion),
        cmocka_unit_test(test_evaluate_binary),
        cmocka_unit_test(test_bad_arguments),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("test_train: %.2f s\n", seconds_now() - t0);
    return failed;
}
