/* Training step by step: a loop written with the public steps
 * (nb_train_begin, next_batch, forward_backward, apply, end_epoch,
 * next_epoch, finish) ends bit for bit where nb_train does; a hand-built
 * graph with two inputs trains through them, and a checkpoint saved
 * between steps resumes bit for bit in a fresh state; the caller can force
 * or veto a stop, and two replicas that average their gradients stay
 * identical; steps called out of order are refused, and so is every step
 * past the run's end or on a state whose fields a caller changed (only
 * stop is the caller's); an epoch without a batch is never recorded. */
#include "check.h"

#include "io/checkpoint_file.h"
#include "io/graph_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static nb_dataset g_train, g_val, g_pairs, g_pairs_val;
static char g_dir[64];

/* Two features a and b in [-1, 1], the target a * b + (a + b) / 2. */
static void make_pairs(size_t count, uint64_t seed, nb_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->count = count;
    d->features = 2;
    d->targets = 1;
    d->x = nb_calloc(2 * count, sizeof *d->x);
    d->y = nb_calloc(count, sizeof *d->y);
    assert_non_null(d->x);
    assert_non_null(d->y);
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    for (size_t i = 0; i < count; i++) {
        double a = 2 * nb_rng_uniform(&rng) - 1, b = 2 * nb_rng_uniform(&rng) - 1;
        d->x[2 * i] = (nb_real)a;
        d->x[2 * i + 1] = (nb_real)b;
        d->y[i] = (nb_real)(a * b + (a + b) / 2);
    }
}

static int group_setup(void **state)
{
    (void)state;
    /* 150 spiral points in batches of 32: the last batch has 22 rows. */
    if (nb_dataset_spiral(50, 3, 5, &g_train) != NB_OK) return -1;
    if (nb_dataset_spiral(10, 3, 6, &g_val) != NB_OK) return -1;
    make_pairs(100, 3, &g_pairs);
    make_pairs(30, 4, &g_pairs_val);
    snprintf(g_dir, sizeof g_dir, "steps-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"pairs-e3.ckpt", "pairs-mid.ckpt", "spiral.ckpt",
                                        "other.ckpt",    "constants.ckpt", "ended.ckpt",
                                        "fields.ckpt",   "empty.ckpt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", g_dir, files[i]);
        unlink(path);
    }
    rmdir(g_dir);
    nb_dataset_free(&g_train);
    nb_dataset_free(&g_val);
    nb_dataset_free(&g_pairs);
    nb_dataset_free(&g_pairs_val);
    return 0;
}

static const char *path_in_dir(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

/* ---------------------------------------------------------------- loops */

/* Called after nb_train_end_epoch, before nb_train_next_epoch: where
 * several processes would agree on s->stop. */
typedef void (*epoch_hook)(nb_train_state *s, void *user);

/* The loop docs/training.md shows, over an existing state, to the end. */
static nb_status run_steps(nb_train_state *s, epoch_hook hook, void *user)
{
    nb_status st = NB_OK;
    while (st == NB_OK && !s->stop_reason) {
        int rows;
        while ((st = nb_train_next_batch(s, &rows)) == NB_OK && rows > 0) {
            if ((st = nb_train_forward_backward(s)) != NB_OK) break;
            /* (an all-reduce of s->grads would go here) */
            if ((st = nb_train_apply(s)) != NB_OK) break;
        }
        if (st == NB_OK) st = nb_train_end_epoch(s);
        if (st == NB_OK && hook) hook(s, user);
        if (st == NB_OK) st = nb_train_next_epoch(s);
    }
    return st;
}

/* nb_train written with the steps (no checkpoints). */
static nb_status train_by_steps(nb_model *m, const nb_dataset *train, const nb_dataset *val,
                                const nb_train_config *c, nb_train_result *r, epoch_hook hook,
                                void *user)
{
    nb_train_state *s = NULL;
    nb_status st = nb_train_begin(m, train, val, c, &s);
    if (st != NB_OK) return st;
    st = run_steps(s, hook, user);
    nb_status done = nb_train_finish(s, r);
    nb_train_state_free(s);
    return st != NB_OK ? st : done;
}

static void assert_same_params(nb_model *a, nb_model *b)
{
    size_t na, nb;
    const nb_real *pa = nb_graph_params(nb_model_graph(a), &na);
    const nb_real *pb = nb_graph_params(nb_model_graph(b), &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof *pa);
}

/* Every number of every epoch but the seconds, bit for bit. */
static void assert_same_history(const nb_epoch_stats *x, const nb_epoch_stats *y, int epochs)
{
    for (int e = 0; e < epochs; e++) {
        nb_epoch_stats a = x[e], b = y[e];
        a.seconds = b.seconds = 0;
        assert_memory_equal(&a, &b, sizeof a);
    }
}

static void assert_same_result(const nb_train_result *a, const nb_train_result *b)
{
    assert_int_equal(a->epochs_run, b->epochs_run);
    assert_int_equal(a->best_epoch, b->best_epoch);
    assert_string_equal(a->stop_reason, b->stop_reason);
    assert_int_equal(a->last_epoch, b->last_epoch);
    assert_int_equal(a->last_batch, b->last_batch);
    assert_same_history(a->history, b->history, a->epochs_run);
}

static nb_model *spiral_model(uint64_t init_seed)
{
    nb_model *m = NULL;
    assert_ok(nb_model_create("dense:16,tanh,dense:3", 2, "softmax_ce", 32, &m));
    assert_ok(nb_model_init(m, init_seed));
    return m;
}

static nb_train_config spiral_config(nb_optimizer_kind kind, double lr, int epochs)
{
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(kind);
    c.optimizer.lr = lr;
    c.batch = 32;
    c.epochs = epochs;
    c.seed = 9;
    return c;
}

/* (1) The steps give what nb_train gives, bit for bit. */
static void same_as_nb_train(const nb_train_config *c, const nb_dataset *val)
{
    nb_model *a = spiral_model(3), *b = spiral_model(3);
    nb_train_result ra, rb;
    assert_ok(nb_train(a, &g_train, val, c, &ra));
    assert_ok(train_by_steps(b, &g_train, val, c, &rb, NULL, NULL));
    assert_same_params(a, b);
    assert_same_result(&ra, &rb);
    assert_int_equal(nb_model_batch(b), c->batch);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    nb_model_free(a);
    nb_model_free(b);
}

static void test_steps_equal_nb_train(void **state)
{
    (void)state;
    nb_train_config c = spiral_config(NB_OPT_ADAM, 0.02, 6);
    c.schedule = NB_SCHEDULE_COSINE;
    c.clip_norm = 0.5;
    same_as_nb_train(&c, &g_val);
    same_as_nb_train(&c, NULL);
    /* Early stopping: the best weights come back, the stop reason is the same. */
    c = spiral_config(NB_OPT_MOMENTUM, 0.5, 60);
    c.batch = 16;
    c.patience = 3;
    nb_train_result r;
    nb_model *m = spiral_model(3);
    assert_ok(nb_train(m, &g_train, &g_val, &c, &r));
    assert_string_equal(r.stop_reason, "early stopping");
    assert_true(r.best_epoch < r.epochs_run);
    nb_train_result_free(&r);
    nb_model_free(m);
    same_as_nb_train(&c, &g_val);
    /* A target loss: a stop the steps decide at the end of an epoch. */
    c = spiral_config(NB_OPT_ADAM, 0.02, 30);
    c.target_loss = 0.6;
    same_as_nb_train(&c, &g_val);
}

/* ------------------------------------------------ (2) a two-input graph */

/* a [N, 1] and b [N, 1], each through its own weights, added:
 * h = tanh(a Wa + b Wb + c), y = h W + d, mse against t [N, 1]. With
 * shift, a constant k (hidden values) is added to c. */
static nb_model *pairs_model(int hidden, uint64_t init_seed, const nb_real *shift)
{
    const int n = 16;
    nb_graph *g = nb_graph_create();
    assert_non_null(g);
    nb_init xavier = {NB_INIT_XAVIER_UNIFORM, 0, 0, 0, 0}, zeros = {NB_INIT_ZEROS, 0, 0, 0, 0};
    nb_node a = nb_input(g, "a", nb_shape2(n, 1));
    nb_node b = nb_input(g, "b", nb_shape2(n, 1));
    nb_node wa = nb_param(g, "wa", nb_shape2(1, hidden), xavier);
    nb_node wb = nb_param(g, "wb", nb_shape2(1, hidden), xavier);
    nb_node c = nb_param(g, "c", nb_shape1(hidden), zeros);
    nb_node w = nb_param(g, "w", nb_shape2(hidden, 1), xavier);
    nb_node d = nb_param(g, "d", nb_shape1(1), zeros);
    nb_node sum = nb_add(g, nb_matmul(g, a, wa), nb_matmul(g, b, wb));
    if (shift) sum = nb_bias_add(g, sum, nb_constant(g, "k", nb_shape1(hidden), shift));
    nb_node h = nb_tanh(g, nb_bias_add(g, sum, c));
    nb_node y = nb_affine(g, h, w, d);
    nb_node t = nb_input(g, "t", nb_shape2(n, 1));
    nb_node loss = nb_mse(g, y, t);
    nb_node inputs[2] = {a, b};
    nb_model_roles roles = {2, inputs, y, t, loss};
    nb_model *m = NULL;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    assert_null(nb_model_spec(m));
    assert_int_equal(nb_model_input_count(m), 2);
    assert_int_equal(nb_model_inputs(m), 2);
    assert_ok(nb_model_init(m, init_seed));
    return m;
}

static nb_train_config pairs_config(void)
{
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.02;
    c.batch = 16; /* 100 samples: 7 batches, the last of 4 rows */
    c.epochs = 8;
    c.seed = 5;
    c.schedule = NB_SCHEDULE_STEP;
    c.step_epochs = 3;
    c.gamma = 0.5;
    c.patience = 100; /* the best weights are part of the state too */
    return c;
}

/* Run s until the position is (epoch, batch), between batches. */
static void run_to(nb_train_state *s, int epoch, size_t batch)
{
    while (s->epoch < epoch || s->batch < batch) {
        int rows;
        assert_ok(nb_train_next_batch(s, &rows));
        if (rows == 0) {
            assert_ok(nb_train_end_epoch(s));
            assert_null(s->stop);
            assert_ok(nb_train_next_epoch(s));
            continue;
        }
        assert_ok(nb_train_forward_backward(s));
        assert_ok(nb_train_apply(s));
    }
    assert_int_equal(s->epoch, epoch);
    assert_int_equal(s->batch, batch);
}

/* Saved at (epoch, batch) in one run, loaded into a fresh state of a model
 * with other weights: the end is the uninterrupted run's. */
static void resume_pairs(const char *name, int epoch, size_t batch, nb_model *reference,
                         const nb_train_result *rr)
{
    char ckpt[128];
    path_in_dir(name, ckpt, sizeof ckpt);
    nb_train_config c = pairs_config();
    nb_model *m = pairs_model(8, 1, NULL);
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(m, &g_pairs, &g_pairs_val, &c, &s));
    run_to(s, epoch, batch);
    assert_ok(nb_checkpoint_save(s, ckpt));
    nb_train_state_free(s);
    char *graph = NULL;
    assert_ok(nb_model_graph_json(m, &graph));
    nb_model_free(m);

    /* A hand-built graph: no spec; "graph" is its model file's graph. */
    nb_ckpt_file f;
    assert_ok(nb_ckpt_file_open(ckpt, &f));
    assert_null(nb_ckpt_file_meta(&f, "spec"));
    assert_string_equal(nb_ckpt_file_meta(&f, "graph"), graph);
    assert_non_null(strstr(graph, "{\"name\":\"a\",\"op\":\"input\",\"shape\":[\"N\",1]}"));
    assert_non_null(strstr(graph, "\"inputs\":[\"a\",\"b\"],\"output\":"));
    assert_string_equal(nb_ckpt_file_meta(&f, "constants"), "{}");
    assert_string_equal(nb_ckpt_file_meta(&f, "loss"), "mse");
    nb_ckpt_file_close(&f);
    nb_free(graph);

    nb_model *b = pairs_model(8, 77, NULL);
    nb_train_result rb;
    assert_ok(nb_train_begin(b, &g_pairs, &g_pairs_val, &c, &s));
    assert_ok(nb_checkpoint_load(s, ckpt));
    assert_int_equal(s->epoch, epoch);
    assert_int_equal(s->batch, batch);
    assert_int_equal(s->epochs_run, epoch - 1);
    assert_ok(run_steps(s, NULL, NULL));
    assert_ok(nb_train_finish(s, &rb));
    nb_train_state_free(s);
    assert_same_params(reference, b);
    assert_same_result(rr, &rb);
    nb_train_result_free(&rb);
    nb_model_free(b);
}

static void test_two_inputs_train_and_resume(void **state)
{
    (void)state;
    nb_train_config c = pairs_config();
    nb_model *a = pairs_model(8, 1, NULL);
    nb_train_result ra;
    assert_ok(train_by_steps(a, &g_pairs, &g_pairs_val, &c, &ra, NULL, NULL));
    assert_string_equal(ra.stop_reason, "epochs");
    assert_int_equal(ra.epochs_run, 8);
    print_message("two inputs: train loss %g -> %g, val loss %g -> %g\n", ra.history[0].train_loss,
                  ra.history[7].train_loss, ra.history[0].val_loss, ra.history[7].val_loss);
    assert_true(ra.history[7].train_loss < 0.5 * ra.history[0].train_loss);
    assert_true(ra.history[7].val_loss < 0.5 * ra.history[0].val_loss);
    assert_true(ra.history[7].val_r2 > 0.5);
    /* nb_train on the same graph agrees. */
    nb_model *b = pairs_model(8, 1, NULL);
    nb_train_result rb;
    assert_ok(nb_train(b, &g_pairs, &g_pairs_val, &c, &rb));
    assert_same_params(a, b);
    assert_same_result(&ra, &rb);
    nb_train_result_free(&rb);
    nb_model_free(b);

    /* At an epoch boundary (after epoch 3) and mid-epoch (the partial last
     * batch of epoch 5 is still to come). */
    resume_pairs("pairs-e3.ckpt", 4, 0, a, &ra);
    resume_pairs("pairs-mid.ckpt", 5, 6, a, &ra);

    /* Another graph is refused, naming the node that differs; the state
     * and the weights stay as they were. */
    char ckpt[128];
    path_in_dir("pairs-e3.ckpt", ckpt, sizeof ckpt);
    nb_model *other = pairs_model(6, 1, NULL);
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(other, &g_pairs, &g_pairs_val, &c, &s));
    run_to(s, 2, 3);
    size_t n;
    const nb_real *p = nb_graph_params(nb_model_graph(other), &n);
    nb_real *before = malloc(n * sizeof *before);
    assert_non_null(before);
    memcpy(before, p, n * sizeof *p);
    assert_int_equal(nb_checkpoint_load(s, ckpt), NB_ERR_ARGUMENT);
    print_message("refused: %s\n", nb_last_error());
    assert_non_null(strstr(nb_last_error(),
                           "written for another graph: its node 2 \"wa\" is {\"name\":\"wa\","
                           "\"op\":\"param\",\"init\":{\"kind\":\"xavier_uniform\",\"a\":0,"
                           "\"b\":0,\"fan_in\":0,\"fan_out\":0},\"shape\":[1,8]}, this model's "
                           "is {\"name\":\"wa\",\"op\":\"param\",\"init\":{\"kind\":"
                           "\"xavier_uniform\",\"a\":0,\"b\":0,\"fan_in\":0,\"fan_out\":0},"
                           "\"shape\":[1,6]}"));
    assert_int_equal(s->epoch, 2);
    assert_int_equal(s->batch, 3);
    assert_int_equal(s->epochs_run, 1);
    assert_memory_equal(before, p, n * sizeof *p);
    /* ... and the run goes on. */
    assert_ok(run_steps(s, NULL, NULL));
    nb_train_result r;
    assert_ok(nb_train_finish(s, &r));
    assert_int_equal(r.epochs_run, 8);
    nb_train_result_free(&r);
    nb_train_state_free(s);
    free(before);
    nb_model_free(other);
    nb_train_result_free(&ra);
    nb_model_free(a);
}

/* A constant's values are in neither the graph nor the tensors: the
 * checkpoint's "constants" holds their hash, and a model whose constant
 * holds other values is refused; with the same values it resumes. */
static void test_constants_checked(void **state)
{
    (void)state;
    nb_real k[8] = {0.5, -0.25, 0, 1, 0.125, -1, 2, 0.75};
    char ckpt[128], want[64];
    path_in_dir("constants.ckpt", ckpt, sizeof ckpt);
    nb_train_config c = pairs_config();
    nb_model *m = pairs_model(8, 1, k);
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(m, &g_pairs, &g_pairs_val, &c, &s));
    run_to(s, 2, 3);
    assert_ok(nb_checkpoint_save(s, ckpt));
    nb_train_state_free(s);
    nb_model_free(m);
    nb_ckpt_file f;
    assert_ok(nb_ckpt_file_open(ckpt, &f));
    snprintf(want, sizeof want, "{\"k\":\"%016" PRIx64 "\"}", nb_fnv1a(NB_FNV1A_INIT, k, sizeof k));
    assert_string_equal(nb_ckpt_file_meta(&f, "constants"), want);
    nb_ckpt_file_close(&f);

    nb_real other[8];
    memcpy(other, k, sizeof k);
    other[3] = 1.5;
    m = pairs_model(8, 1, other);
    assert_ok(nb_train_begin(m, &g_pairs, &g_pairs_val, &c, &s));
    assert_int_equal(nb_checkpoint_load(s, ckpt), NB_ERR_ARGUMENT);
    print_message("refused: %s\n", nb_last_error());
    snprintf(want, sizeof want, "FNV-1a %016" PRIx64 ", this model's %016" PRIx64,
             nb_fnv1a(NB_FNV1A_INIT, k, sizeof k), nb_fnv1a(NB_FNV1A_INIT, other, sizeof other));
    assert_non_null(strstr(nb_last_error(), "it was written for other values of constant \"k\""));
    assert_non_null(strstr(nb_last_error(), want));
    nb_train_state_free(s);
    nb_model_free(m);

    m = pairs_model(8, 77, k);
    assert_ok(nb_train_begin(m, &g_pairs, &g_pairs_val, &c, &s));
    assert_ok(nb_checkpoint_load(s, ckpt));
    assert_int_equal(s->epoch, 2);
    assert_int_equal(s->batch, 3);
    nb_train_state_free(s);
    nb_model_free(m);
}

/* A graph that a model file cannot hold cannot be checkpointed either: the
 * save says why, and writes nothing. */
static void test_graph_a_file_cannot_hold(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    assert_non_null(g);
    nb_node x = nb_input(g, "x", nb_shape2(16, 2));
    nb_node w = nb_param(g, "scaler.scale", nb_shape2(2, 1), nb_init_zeros());
    nb_node t = nb_input(g, "t", nb_shape2(16, 1));
    nb_node y = nb_matmul(g, x, w);
    nb_model_roles roles = {1, &x, y, t, nb_mse(g, y, t)};
    nb_model *m = NULL;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    nb_train_config c = pairs_config();
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(m, &g_pairs, &g_pairs_val, &c, &s));
    char ckpt[128];
    path_in_dir("reserved.ckpt", ckpt, sizeof ckpt);
    assert_int_equal(nb_checkpoint_save(s, ckpt), NB_ERR_ARGUMENT);
    print_message("refused: %s\n", nb_last_error());
    assert_non_null(strstr(nb_last_error(), "node 1 \"scaler.scale\" (param): a model file gives "
                                            "that name to another tensor"));
    assert_non_null(strstr(nb_last_error(), ckpt));
    assert_int_equal(access(ckpt, F_OK), -1);
    nb_train_state_free(s);
    nb_model_free(m);
}

/* ------------------------------------------- (3) the caller's stop decision */

typedef struct decision {
    int force_at; /* stop after this epoch (0: never) */
    int vetoes;   /* local stops cleared */
} decision;

static void decide(nb_train_state *s, void *user)
{
    decision *d = user;
    if (s->stop) {
        d->vetoes++;
        s->stop = NULL;
    }
    if (d->force_at && s->epoch == d->force_at) s->stop = "agreed";
}

static void test_caller_stop_decision(void **state)
{
    (void)state;
    /* Forcing a stop: the run ends there with the caller's reason. */
    nb_train_config c = spiral_config(NB_OPT_ADAM, 0.02, 6);
    decision d = {2, 0};
    nb_model *m = spiral_model(3);
    nb_train_result r;
    assert_ok(train_by_steps(m, &g_train, &g_val, &c, &r, decide, &d));
    assert_string_equal(r.stop_reason, "agreed");
    assert_int_equal(r.epochs_run, 2);
    assert_int_equal(r.last_epoch, 2);
    assert_int_equal(r.last_batch, 5);
    nb_train_result_free(&r);
    nb_model_free(m);

    /* Vetoing: a target loss every epoch reaches stops nothing, and the
     * weights are those of a run without it. */
    c.target_loss = 1e9;
    d = (decision){0, 0};
    nb_model *a = spiral_model(3), *b = spiral_model(3);
    nb_train_result ra, rb;
    assert_ok(train_by_steps(a, &g_train, &g_val, &c, &ra, decide, &d));
    assert_int_equal(d.vetoes, 6);
    assert_string_equal(ra.stop_reason, "epochs");
    c.target_loss = 0;
    assert_ok(nb_train(b, &g_train, &g_val, &c, &rb));
    assert_same_params(a, b);
    assert_same_result(&ra, &rb);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    nb_model_free(a);
    nb_model_free(b);
}

/* A per-batch stop (the progress callback asked) cleared by the caller:
 * the epoch runs all its batches and its end is reported. */
typedef struct asks {
    int batches, ends;
} asks;

static int ask_to_stop(const nb_progress *p, void *user)
{
    asks *a = user;
    if (p->stats)
        a->ends++;
    else
        a->batches++;
    return !p->stats && p->batch == 2;
}

static void test_veto_mid_epoch_and_order(void **state)
{
    (void)state;
    asks a = {0, 0};
    nb_train_config c = spiral_config(NB_OPT_SGD, 0.1, 2);
    c.progress = ask_to_stop;
    c.progress_user = &a;
    nb_model *m = spiral_model(3);
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    int rows;
    /* Out of order: nothing loaded, nothing computed, nothing recorded. */
    assert_int_equal(nb_train_forward_backward(s), NB_ERR_STATE);
    assert_int_equal(nb_train_apply(s), NB_ERR_STATE);
    assert_int_equal(nb_train_next_epoch(s), NB_ERR_STATE);
    assert_int_equal(nb_train_next_batch(s, NULL), NB_ERR_ARGUMENT);
    while (nb_train_next_batch(s, &rows) == NB_OK && rows > 0) {
        assert_ok(nb_train_forward_backward(s));
        assert_int_equal(nb_train_next_batch(s, &rows), NB_OK); /* loads it again */
        assert_int_equal(nb_train_apply(s), NB_ERR_STATE);      /* ... so no gradients */
        assert_ok(nb_train_forward_backward(s));
        assert_ok(nb_train_apply(s));
        if (s->batch == 2) {
            assert_string_equal(s->stop, "stopped");
            s->stop = NULL; /* vetoed */
        }
    }
    assert_int_equal(s->batch, s->batches);
    assert_ok(nb_train_end_epoch(s));
    assert_int_equal(a.ends, 1); /* reported: the callback's stop was vetoed */
    assert_int_equal(nb_train_end_epoch(s), NB_ERR_STATE);
    assert_int_equal(nb_train_next_batch(s, &rows), NB_ERR_STATE);
    char ckpt[128];
    path_in_dir("spiral.ckpt", ckpt, sizeof ckpt);
    assert_int_equal(nb_checkpoint_save(s, ckpt), NB_ERR_STATE);
    assert_ok(nb_train_next_epoch(s));
    assert_null(s->stop_reason);
    assert_ok(nb_checkpoint_save(s, ckpt));

    /* Epoch 2 cut short by a stop, which the caller then clears: an epoch
     * that did not run all its batches cannot lead to another. */
    assert_ok(nb_train_next_batch(s, &rows));
    assert_ok(nb_train_forward_backward(s));
    assert_ok(nb_train_apply(s));
    s->stop = "cut";
    assert_ok(nb_train_next_batch(s, &rows));
    assert_int_equal(rows, 0);
    assert_ok(nb_train_end_epoch(s));
    s->stop = NULL;
    assert_int_equal(nb_train_next_epoch(s), NB_ERR_STATE);
    s->stop = "cut";
    assert_ok(nb_train_next_epoch(s));
    assert_string_equal(s->stop_reason, "cut");
    assert_int_equal(nb_train_next_batch(s, &rows), NB_ERR_STATE);
    nb_train_result r;
    assert_ok(nb_train_finish(s, &r));
    assert_string_equal(r.stop_reason, "cut");
    assert_int_equal(r.epochs_run, 2);
    assert_int_equal(r.last_epoch, 2);
    assert_int_equal(r.last_batch, 1);
    nb_train_result again;
    assert_int_equal(nb_train_finish(s, &again), NB_ERR_STATE);
    assert_int_equal(nb_checkpoint_save(s, ckpt), NB_ERR_STATE);
    nb_train_state_free(s);
    nb_train_result_free(&r);
    nb_model_free(m);
}

/* ------------------------------ (4) two replicas that average gradients */

/* Two processes, simulated: each trains a copy of the model on its half
 * of the data; after each backward pass both gradients are replaced by
 * their mean (the all-reduce), and the stop is the OR of both decisions.
 * The replicas stay identical, bit for bit. */
static void test_two_replicas_in_lockstep(void **state)
{
    (void)state;
    nb_dataset half[2];
    for (int k = 0; k < 2; k++) {
        memset(&half[k], 0, sizeof half[k]);
        half[k].count = g_train.count / 2;
        half[k].features = 2;
        half[k].classes = 3;
        half[k].x = nb_calloc(half[k].count * 2, sizeof *half[k].x);
        half[k].labels = nb_calloc(half[k].count, sizeof *half[k].labels);
        assert_non_null(half[k].x);
        assert_non_null(half[k].labels);
        for (size_t i = 0; i < half[k].count; i++) {
            size_t from = 2 * i + (size_t)k;
            memcpy(half[k].x + 2 * i, g_train.x + 2 * from, 2 * sizeof *g_train.x);
            half[k].labels[i] = g_train.labels[from];
        }
    }
    nb_train_config c = spiral_config(NB_OPT_ADAM, 0.03, 150);
    c.batch = 16;
    c.target_accuracy = 0.8;
    nb_model *m[2] = {spiral_model(3), spiral_model(3)};
    nb_train_state *s[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        nb_train_config ck = c;
        ck.seed = c.seed + (uint64_t)k; /* each its own order */
        assert_ok(nb_train_begin(m[k], &half[k], &g_val, &ck, &s[k]));
    }
    while (!s[0]->stop_reason) {
        int rows[2];
        for (;;) {
            assert_ok(nb_train_next_batch(s[0], &rows[0]));
            assert_ok(nb_train_next_batch(s[1], &rows[1]));
            assert_int_equal(rows[0], rows[1]);
            if (rows[0] == 0) break;
            assert_ok(nb_train_forward_backward(s[0]));
            assert_ok(nb_train_forward_backward(s[1]));
            for (size_t i = 0; i < s[0]->param_count; i++)
                s[0]->grads[i] = s[1]->grads[i] = (s[0]->grads[i] + s[1]->grads[i]) / 2;
            assert_ok(nb_train_apply(s[0]));
            assert_ok(nb_train_apply(s[1]));
            assert_memory_equal(s[0]->params, s[1]->params,
                                s[0]->param_count * sizeof *s[0]->params);
        }
        assert_ok(nb_train_end_epoch(s[0]));
        assert_ok(nb_train_end_epoch(s[1]));
        const char *stop = s[0]->stop ? s[0]->stop : s[1]->stop;
        s[0]->stop = s[1]->stop = stop;
        assert_ok(nb_train_next_epoch(s[0]));
        assert_ok(nb_train_next_epoch(s[1]));
    }
    assert_string_equal(s[1]->stop_reason, s[0]->stop_reason);
    print_message("replicas: stopped by \"%s\" after %d epochs, val accuracy %.3f\n",
                  s[0]->stop_reason, s[0]->epochs_run,
                  s[0]->history[s[0]->epochs_run - 1].val_accuracy);
    assert_string_equal(s[0]->stop_reason, "target accuracy");
    for (int k = 0; k < 2; k++) {
        nb_train_result r;
        assert_ok(nb_train_finish(s[k], &r));
        nb_train_result_free(&r);
        nb_train_state_free(s[k]);
        nb_dataset_free(&half[k]);
    }
    assert_same_params(m[0], m[1]);
    nb_model_free(m[0]);
    nb_model_free(m[1]);
}

/* ---------------------------------- (5) the run's end and the caller's writes */

/* status is NB_ERR_STATE with want in the message. */
static void assert_state_error(nb_status status, const char *want)
{
    if (status != NB_ERR_STATE)
        fail_msg("expected NB_ERR_STATE (\"%s\"), got %s: %s", want, nb_status_name(status),
                 nb_last_error());
    if (!strstr(nb_last_error(), want))
        fail_msg("message \"%s\" lacks \"%s\"", nb_last_error(), want);
}

/* Every step once the run has ended, with stop_reason cleared by the
 * caller: each refuses, and history (config.epochs rows) is never written
 * past its end. */
static void assert_every_step_refused(nb_train_state *s, const char *want)
{
    int rows = -1;
    assert_state_error(nb_train_next_batch(s, &rows), want);
    assert_int_equal(rows, 0);
    assert_state_error(nb_train_forward_backward(s), want);
    assert_state_error(nb_train_apply(s), want);
    assert_state_error(nb_train_end_epoch(s), want);
    assert_state_error(nb_train_next_epoch(s), want);
}

static void test_steps_past_the_end(void **state)
{
    (void)state;
    nb_train_config c = spiral_config(NB_OPT_ADAM, 0.02, 3);
    nb_model *m = spiral_model(3);
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    assert_ok(run_steps(s, NULL, NULL));
    assert_string_equal(s->stop_reason, "epochs");
    assert_int_equal(s->epoch, 4);
    nb_epoch_stats last = s->history[2];
    const char *reason = s->stop_reason;
    /* The run's end is the library's own record: clearing stop_reason
     * (as a caller who wants a 4th epoch of 3 might) changes nothing. */
    s->stop_reason = NULL;
    assert_every_step_refused(s, "after the run ended (epochs)");
    assert_memory_equal(&last, &s->history[2], sizeof last);
    assert_int_equal(s->epoch, 4);
    assert_int_equal(s->epochs_run, 3);
    char ckpt[128];
    path_in_dir("ended.ckpt", ckpt, sizeof ckpt);
    assert_state_error(nb_checkpoint_save(s, ckpt), "the state's field stop_reason was changed");
    nb_train_result r;
    assert_state_error(nb_train_finish(s, &r), "stop_reason was changed");
    assert_null(r.history);
    /* Put back, the state is whole again. */
    s->stop_reason = reason;
    assert_ok(nb_checkpoint_save(s, ckpt));
    assert_ok(nb_train_finish(s, &r));
    assert_int_equal(r.epochs_run, 3);
    nb_train_result_free(&r);
    nb_train_state_free(s);

    /* A state loaded from the checkpoint saved after the last epoch. */
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    assert_ok(nb_checkpoint_load(s, ckpt));
    assert_string_equal(s->stop_reason, "epochs");
    reason = s->stop_reason;
    s->stop_reason = NULL;
    assert_every_step_refused(s, "after the run ended (epochs)");
    assert_state_error(nb_checkpoint_load(s, ckpt), "the state's field stop_reason was changed");
    s->stop_reason = reason;
    assert_ok(nb_train_finish(s, &r));
    assert_int_equal(r.epochs_run, 3);
    nb_train_result_free(&r);
    nb_train_state_free(s);

    /* A run ended by a stop: the same. */
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    run_to(s, 2, 1);
    s->stop = "mine";
    int rows;
    assert_ok(nb_train_next_batch(s, &rows));
    assert_int_equal(rows, 0);
    assert_ok(nb_train_end_epoch(s));
    assert_ok(nb_train_next_epoch(s));
    assert_string_equal(s->stop_reason, "mine");
    s->stop_reason = NULL;
    s->stop = NULL;
    assert_every_step_refused(s, "after the run ended (mine)");
    nb_train_state_free(s);
    nb_model_free(m);
}

/* The fields a caller might write, one at a time: the position past the
 * end, sizes bigger than the arrays, other arrays, another configuration. */
static const char *const written[] = {
    "epoch",  "batch",      "batches",       "batch_rows",      "rows",        "param_count",
    "seen",   "epochs_run", "config.epochs", "config.patience", "history",     "best",
    "params", "train",      "rng_start",     "loss_sum",        "stop_reason",
};
#define WRITTEN (sizeof written / sizeof written[0])

static void write_field(nb_train_state *s, size_t which)
{
    static nb_dataset other;
    switch (which) {
    case 0:
        s->epoch = s->config.epochs + 1;
        break;
    case 1:
        s->batch = s->batches + 7;
        break;
    case 2:
        s->batches = 1000;
        break;
    case 3:
        s->batch_rows = 1000;
        break;
    case 4:
        s->rows = 1000;
        break;
    case 5:
        s->param_count *= 4;
        break;
    case 6:
        s->seen = 0;
        break;
    case 7:
        s->epochs_run = 99;
        break;
    case 8:
        s->config.epochs = 99;
        break;
    case 9:
        s->config.patience = 5;
        break;
    case 10:
        s->history = NULL;
        break;
    case 11:
        s->best = s->params;
        break;
    case 12:
        s->params = s->grads;
        break;
    case 13:
        s->train = &other;
        break;
    case 14:
        memset(&s->rng_start, 0, sizeof s->rng_start);
        break;
    case 15:
        s->loss_sum = -1;
        break;
    default:
        s->stop_reason = "mine";
        break;
    }
}

/* Each field written (and put back) mid-epoch, with a batch loaded and its
 * gradients computed: every step, the save, the load and finish refuse the
 * state, naming the field, and change nothing; put back, the run goes on
 * and ends where an untouched one does. */
static void test_fields_a_caller_writes(void **state)
{
    (void)state;
    nb_train_config c = spiral_config(NB_OPT_ADAM, 0.02, 3);
    nb_model *m = spiral_model(3), *ref = spiral_model(3);
    nb_train_result rr, r;
    assert_ok(train_by_steps(ref, &g_train, NULL, &c, &rr, NULL, NULL));
    char ckpt[128];
    path_in_dir("fields.ckpt", ckpt, sizeof ckpt);
    nb_train_state *s = NULL;
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    run_to(s, 2, 2);
    assert_ok(nb_checkpoint_save(s, ckpt));
    int rows;
    assert_ok(nb_train_next_batch(s, &rows));
    assert_ok(nb_train_forward_backward(s));
    for (size_t i = 0; i < WRITTEN; i++) {
        char want[96];
        snprintf(want, sizeof want, "the state's field %s was changed by the caller", written[i]);
        nb_train_state kept = *s;
        write_field(s, i);
        assert_state_error(nb_train_apply(s), want);
        assert_state_error(nb_train_forward_backward(s), want);
        assert_state_error(nb_train_next_batch(s, &rows), want);
        assert_int_equal(rows, 0);
        assert_state_error(nb_train_end_epoch(s), want);
        assert_state_error(nb_train_next_epoch(s), want);
        assert_state_error(nb_checkpoint_save(s, ckpt), want);
        assert_state_error(nb_checkpoint_load(s, ckpt), want);
        assert_state_error(nb_train_finish(s, &r), want);
        *s = kept;
    }
    assert_ok(nb_train_apply(s));
    assert_ok(run_steps(s, NULL, NULL));
    assert_ok(nb_train_finish(s, &r));
    assert_same_params(ref, m);
    assert_same_result(&rr, &r);
    nb_train_result_free(&r);
    /* The arrays freed are the ones the library allocated, whatever the
     * fields hold (AddressSanitizer would see a leak or a bad free). */
    s->history = (nb_epoch_stats *)s->params;
    s->best = (nb_real *)&r;
    nb_train_state_free(s);
    nb_train_result_free(&rr);
    nb_model_free(m);
    nb_model_free(ref);
}

/* An epoch in which no batch was applied has nothing to record: its loss
 * would be 0 / 0 and the callback's ETA infinite. */
static int count_ends(const nb_progress *p, void *user)
{
    if (p->stats) ++*(int *)user;
    return 0;
}

static void test_epoch_without_batch(void **state)
{
    (void)state;
    int ends = 0;
    nb_train_config c = spiral_config(NB_OPT_ADAM, 0.02, 3);
    c.progress = count_ends;
    c.progress_user = &ends;
    nb_model *m = spiral_model(3);
    nb_train_state *s = NULL;
    nb_train_result r;
    int rows;
    /* Straight after begin. */
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    assert_state_error(nb_train_end_epoch(s), "no batch of epoch 1 has been taken");
    assert_int_equal(s->epochs_run, 0);
    assert_int_equal(s->history[0].epoch, 0);
    assert_int_equal(ends, 0);
    /* A batch loaded and its gradients computed, but not applied. */
    assert_ok(nb_train_next_batch(s, &rows));
    assert_ok(nb_train_forward_backward(s));
    assert_state_error(nb_train_end_epoch(s), "no batch of epoch 1 has been taken");
    assert_int_equal(ends, 0);
    /* Applied, it counts. */
    assert_ok(nb_train_apply(s));
    s->stop = "one is enough";
    assert_ok(nb_train_end_epoch(s));
    assert_int_equal(ends, 1);
    assert_true(isfinite(s->history[0].train_loss));
    nb_train_state_free(s);

    /* A stop before the first batch of epoch 2: the batches are skipped,
     * the epoch is refused, and nb_train_next_epoch ends the run with the
     * stop and epoch 1 only. */
    ends = 0;
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    run_to(s, 2, 0);
    assert_int_equal(ends, 1);
    s->stop = "agreed";
    assert_ok(nb_train_next_batch(s, &rows));
    assert_int_equal(rows, 0);
    assert_state_error(nb_train_end_epoch(s),
                       "no batch of epoch 2 has been taken (nb_train_next_batch, "
                       "nb_train_forward_backward, nb_train_apply); there is nothing to record "
                       "(with stop set, nb_train_next_epoch ends the run without it)");
    assert_int_equal(ends, 1);
    assert_int_equal(s->epochs_run, 1);
    assert_ok(nb_train_next_epoch(s));
    assert_string_equal(s->stop_reason, "agreed");
    assert_state_error(nb_train_end_epoch(s), "after the run ended (agreed)");
    /* The position (epoch 2, batch 0) can be saved, and resumes. */
    char ckpt[128];
    path_in_dir("empty.ckpt", ckpt, sizeof ckpt);
    assert_ok(nb_checkpoint_save(s, ckpt));
    assert_ok(nb_train_finish(s, &r));
    assert_string_equal(r.stop_reason, "agreed");
    assert_int_equal(r.epochs_run, 1);
    assert_int_equal(r.last_epoch, 1);
    assert_int_equal(r.last_batch, s->batches);
    assert_true(isfinite(r.history[0].train_loss));
    nb_train_result_free(&r);
    nb_train_state_free(s);
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    assert_ok(nb_checkpoint_load(s, ckpt));
    assert_int_equal(s->epoch, 2);
    assert_null(s->stop_reason);
    assert_ok(run_steps(s, NULL, NULL));
    assert_ok(nb_train_finish(s, &r));
    assert_string_equal(r.stop_reason, "epochs");
    assert_int_equal(r.epochs_run, 3);
    nb_train_result_free(&r);
    nb_train_state_free(s);

    /* Without a stop, an epoch with no batch cannot be passed over either. */
    assert_ok(nb_train_begin(m, &g_train, NULL, &c, &s));
    assert_state_error(nb_train_next_epoch(s), "epoch 1 is not recorded");
    nb_train_state_free(s);
    nb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_equal_nb_train),
        cmocka_unit_test(test_two_inputs_train_and_resume),
        cmocka_unit_test(test_constants_checked),
        cmocka_unit_test(test_graph_a_file_cannot_hold),
        cmocka_unit_test(test_caller_stop_decision),
        cmocka_unit_test(test_veto_mid_epoch_and_order),
        cmocka_unit_test(test_two_replicas_in_lockstep),
        cmocka_unit_test(test_steps_past_the_end),
        cmocka_unit_test(test_fields_a_caller_writes),
        cmocka_unit_test(test_epoch_without_batch),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
