/* Memory: a training step allocates nothing, and every allocation failure
 * while building, compiling and stepping comes back as NB_ERR_MEMORY with
 * nothing leaked. A counting allocator is installed with nb_set_allocator. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

typedef struct counter {
    long calls;   /* malloc and realloc calls */
    long mallocs; /* successful malloc, and realloc of NULL */
    long reallocs;
    long frees;
    long live;      /* blocks handed out and not yet freed */
    long fail_at;   /* make this call fail (1-based); 0: never */
    int fail_after; /* 1: every call from fail_at on fails */
} counter;

static int should_fail(counter *c)
{
    c->calls++;
    if (c->fail_at <= 0) return 0;
    return c->fail_after ? c->calls >= c->fail_at : c->calls == c->fail_at;
}

static void *count_malloc(size_t size, void *user)
{
    counter *c = user;
    if (should_fail(c)) return NULL;
    void *p = malloc(size);
    if (p) c->mallocs++, c->live++;
    return p;
}

static void *count_realloc(void *ptr, size_t size, void *user)
{
    counter *c = user;
    if (should_fail(c)) return NULL;
    void *p = realloc(ptr, size);
    if (p) {
        c->reallocs++;
        if (!ptr) c->mallocs++, c->live++;
    }
    return p;
}

static void count_free(void *ptr, void *user)
{
    counter *c = user;
    c->frees++;
    c->live--;
    free(ptr);
}

static void install(counter *c)
{
    memset(c, 0, sizeof *c);
    nb_allocator a = {count_malloc, count_realloc, count_free, c};
    nb_set_allocator(&a);
}

static int teardown(void **state)
{
    (void)state;
    nb_set_allocator(NULL);
    return 0;
}

enum { BATCH = 32, FEATURES = 20, HIDDEN = 16, CLASSES = 4 };

typedef struct mlp {
    nb_graph *g;
    nb_node x, t, loss;
    nb_optimizer *opt;
    nb_real xs[BATCH * FEATURES], ts[BATCH];
} mlp;

/* input [32, 20] -> dense 16 -> relu -> dense 4 -> softmax_with_loss.
 * Building calls go on after a failure (they return NB_NONE) and compile
 * reports the first error, as the API promises. */
static nb_status mlp_build(mlp *m, nb_optimizer_kind kind)
{
    memset(m, 0, sizeof *m);
    m->g = nb_graph_create();
    if (!m->g) return NB_ERR_MEMORY;
    nb_graph *g = m->g;
    m->x = nb_input(g, "x", nb_shape2(BATCH, FEATURES));
    m->t = nb_input(g, "t", nb_shape1(BATCH));
    nb_node h = nb_relu(g, nb_dense(g, m->x, HIDDEN, "fc1", nb_init_he()));
    nb_node o = nb_dense(g, h, CLASSES, "fc2", nb_init_xavier());
    m->loss = nb_softmax_with_loss(g, o, m->t);
    nb_status st = nb_graph_compile(g);
    if (st != NB_OK) return st;
    nb_rng rng;
    nb_rng_seed(&rng, 3);
    st = nb_graph_init_params(g, &rng);
    if (st != NB_OK) return st;
    size_t count;
    nb_graph_params(g, &count);
    nb_optimizer_config cfg = nb_optimizer_defaults(kind);
    st = nb_optimizer_create(&cfg, count, &m->opt);
    if (st != NB_OK) return st;
    for (int i = 0; i < BATCH * FEATURES; i++) m->xs[i] = (nb_real)nb_rng_normal(&rng);
    for (int i = 0; i < BATCH; i++) m->ts[i] = (nb_real)nb_rng_below(&rng, CLASSES);
    return NB_OK;
}

static nb_status mlp_step(mlp *m)
{
    nb_status st = nb_graph_feed(m->g, m->x, m->xs, BATCH * FEATURES);
    if (st == NB_OK) st = nb_graph_feed(m->g, m->t, m->ts, BATCH);
    if (st == NB_OK) st = nb_graph_forward(m->g);
    if (st == NB_OK) st = nb_graph_backward(m->g, m->loss);
    if (st == NB_OK) {
        size_t count;
        nb_real *p = nb_graph_params(m->g, &count);
        nb_optimizer_step(m->opt, p, nb_graph_param_grads(m->g, NULL), 0.01);
    }
    return st;
}

static void mlp_free(mlp *m)
{
    nb_optimizer_free(m->opt);
    nb_graph_free(m->g);
}

static void test_steps_allocate_nothing(void **state)
{
    (void)state;
    counter c;
    install(&c);
    for (int k = NB_OPT_SGD; k <= NB_OPT_ADAMW; k++) {
        mlp m;
        assert_ok(mlp_build(&m, (nb_optimizer_kind)k));
        assert_true(c.mallocs > 0); /* the counter sees the library's allocations */
        counter before = c;
        double first = 0, last = 0;
        for (int s = 0; s < 5; s++) {
            assert_ok(mlp_step(&m));
            last = nb_node_value(m.g, m.loss)[0];
            if (s == 0) first = last;
        }
        assert_int_equal(c.calls, before.calls);
        assert_int_equal(c.frees, before.frees);
        assert_true(isfinite(last) && last < first); /* the steps did train */
        mlp_free(&m);
        assert_int_equal(c.live, 0);
    }
}

/* The trainer's steps on a CNN (convolution, batch norm, max pooling,
 * dropout) allocate nothing either, on one thread and on two: im2col and
 * the other scratch live in the memory planned at compile time. */
static void test_cnn_steps_allocate_nothing(void **state)
{
    (void)state;
    enum { SIDE = 8, COUNT = 24, STEPS = 8 };
    static nb_real xs[COUNT * SIDE * SIDE];
    static int labels[COUNT];
    nb_rng rng;
    nb_rng_seed(&rng, 9);
    for (int i = 0; i < COUNT * SIDE * SIDE; i++) xs[i] = (nb_real)nb_rng_uniform(&rng);
    for (int i = 0; i < COUNT; i++) labels[i] = i % 3;
    nb_dataset d = {.count = COUNT,
                    .features = SIDE * SIDE,
                    .classes = 3,
                    .channels = 1,
                    .rows = SIDE,
                    .cols = SIDE,
                    .x = xs,
                    .labels = labels};
    for (int threads = 1; threads <= 2; threads++) {
        assert_ok(nb_set_threads(threads));
        counter c;
        install(&c);
        nb_model *m = NULL;
        assert_ok(nb_model_create_shaped("conv:4:3,batchnorm,relu,maxpool:2,dropout:0.25,dense:3",
                                         nb_shape3(1, SIDE, SIDE), "softmax_ce", 4, &m));
        assert_ok(nb_model_init(m, 2));
        nb_train_config cfg = nb_train_defaults();
        cfg.batch = 4;
        cfg.epochs = 2;
        cfg.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
        nb_train_state *s = NULL;
        assert_ok(nb_train_begin(m, &d, NULL, &cfg, &s));
        counter before = c;
        int rows = 0;
        for (int k = 0; k < STEPS; k++) { /* past the end of epoch 1 */
            assert_ok(nb_train_next_batch(s, &rows));
            if (rows == 0) {
                assert_ok(nb_train_end_epoch(s));
                assert_ok(nb_train_next_epoch(s));
                assert_ok(nb_train_next_batch(s, &rows));
            }
            assert_ok(nb_train_forward_backward(s));
            assert_ok(nb_train_apply(s));
        }
        assert_int_equal(c.calls, before.calls);
        assert_int_equal(c.frees, before.frees);
        nb_train_state_free(s);
        nb_model_free(m);
        assert_int_equal(c.live, 0);
        nb_set_allocator(NULL);
    }
    assert_ok(nb_set_threads(0));
}

/* A smaller batch fits in the planned memory: recompiling allocates
 * nothing, and going back to the first size neither. */
static void test_smaller_batch_reuses_memory(void **state)
{
    (void)state;
    counter c;
    install(&c);
    mlp m;
    assert_ok(mlp_build(&m, NB_OPT_ADAM));
    assert_ok(mlp_step(&m));
    long calls = c.calls;
    assert_ok(nb_input_reshape(m.g, m.x, nb_shape2(8, FEATURES)));
    assert_ok(nb_input_reshape(m.g, m.t, nb_shape1(8)));
    assert_ok(nb_graph_compile(m.g));
    assert_ok(nb_graph_feed(m.g, m.x, m.xs, 8 * FEATURES));
    assert_ok(nb_graph_feed(m.g, m.t, m.ts, 8));
    assert_ok(nb_graph_forward(m.g));
    assert_ok(nb_graph_backward(m.g, m.loss));
    assert_ok(nb_input_reshape(m.g, m.x, nb_shape2(BATCH, FEATURES)));
    assert_ok(nb_input_reshape(m.g, m.t, nb_shape1(BATCH)));
    assert_ok(nb_graph_compile(m.g));
    assert_ok(mlp_step(&m));
    assert_int_equal(c.calls, calls);
    mlp_free(&m);
    assert_int_equal(c.live, 0);
}

/* A scenario run under a failing allocator: builds, runs, frees all. */
typedef nb_status (*scenario)(void);

/* Build, compile, create the optimizer and take one step. */
static nb_status mlp_scenario(void)
{
    mlp m;
    nb_status st = mlp_build(&m, NB_OPT_ADAM);
    if (st == NB_OK) st = mlp_step(&m);
    mlp_free(&m);
    return st;
}

/* More than the first node block (16) and a constant per layer: the node
 * array grows and constants copy their values. */
static nb_status chain_scenario(void)
{
    nb_graph *g = nb_graph_create();
    if (!g) return NB_ERR_MEMORY;
    nb_node x = nb_param(g, "x", nb_shape1(5), nb_init_constant(0.5));
    for (int i = 0; i < 12; i++) {
        nb_real k[5] = {1, 0.5, 2, 1, 0.25};
        x = nb_mul(g, nb_tanh(g, x), nb_constant(g, NULL, nb_shape1(5), k));
    }
    nb_node loss = nb_sum(g, x);
    nb_status st = nb_graph_compile(g);
    nb_rng rng;
    nb_rng_seed(&rng, 1);
    if (st == NB_OK) st = nb_graph_init_params(g, &rng);
    if (st == NB_OK) st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_graph_backward(g, loss);
    nb_graph_free(g);
    return st;
}

/* Run with allocation call n failing (only it, or it and all later). */
static nb_status run_failing(counter *c, scenario run, long n, int after)
{
    install(c);
    c->fail_at = n;
    c->fail_after = after;
    nb_clear_error();
    nb_status st = run();
    if (st != NB_OK && !nb_last_error()[0]) fail_msg("allocation %ld: no message", n);
    return st;
}

static void check_every_failure(scenario run, const char *what)
{
    counter c;
    assert_ok(run_failing(&c, run, 0, 0));
    long total = c.calls;
    assert_int_equal(c.live, 0);
    assert_true(total >= 5);
    for (int after = 0; after <= 1; after++)
        for (long n = 1; n <= total; n++) {
            nb_status st = run_failing(&c, run, n, after);
            if (st != NB_ERR_MEMORY)
                fail_msg("%s: allocation %ld of %ld failing%s: got %s (%s)", what, n, total,
                         after ? " (and all later)" : "", nb_status_name(st), nb_last_error());
            if (c.live != 0)
                fail_msg("%s: allocation %ld of %ld failing: %ld blocks leaked", what, n, total,
                         c.live);
        }
    /* One past the last call: nothing fails. */
    assert_ok(run_failing(&c, run, total + 1, 1));
    assert_int_equal(c.live, 0);
    print_message("  %s: %ld allocation calls, each failure checked\n", what, total);
}

static void test_every_allocation_failure(void **state)
{
    (void)state;
    check_every_failure(mlp_scenario, "mlp build + compile + optimizer + step");
    check_every_failure(chain_scenario, "38-node chain build + compile + step");
}

/* A recompile for a bigger batch that runs out of memory fails cleanly, and
 * the graph works again once memory is back. */
static void test_recompile_failure_recovers(void **state)
{
    (void)state;
    counter c;
    install(&c);
    mlp m;
    assert_ok(mlp_build(&m, NB_OPT_SGD));
    assert_ok(nb_input_reshape(m.g, m.x, nb_shape2(4 * BATCH, FEATURES)));
    assert_ok(nb_input_reshape(m.g, m.t, nb_shape1(4 * BATCH)));
    c.fail_at = c.calls + 1;
    c.fail_after = 1;
    assert_int_equal(nb_graph_compile(m.g), NB_ERR_MEMORY);
    assert_int_equal(nb_graph_forward(m.g), NB_ERR_STATE); /* not usable half-planned */
    c.fail_at = 0;
    assert_ok(nb_input_reshape(m.g, m.x, nb_shape2(BATCH, FEATURES)));
    assert_ok(nb_input_reshape(m.g, m.t, nb_shape1(BATCH)));
    assert_ok(nb_graph_compile(m.g));
    assert_ok(mlp_step(&m));
    mlp_free(&m);
    assert_int_equal(c.live, 0);
}

static void test_calloc_overflow(void **state)
{
    (void)state;
    counter c;
    install(&c);
    assert_null(nb_calloc(SIZE_MAX / 2, 4));
    assert_int_equal(c.calls, 0); /* refused before asking the allocator */
    void *p = nb_calloc(0, 8);    /* zero bytes: still a valid block to free */
    assert_non_null(p);
    nb_free(p);
    nb_free(NULL);
    assert_int_equal(c.live, 0);
}

/* Sizes whose byte counts overflow size_t are refused before anything is
 * allocated: a parameter of 2^62 elements (2^64 bytes and more), and four
 * inputs of 2^62 elements each, whose element total wraps to 0. */
static void test_huge_shapes_refused(void **state)
{
    (void)state;
    counter c;
    install(&c);
    const nb_shape huge = nb_shape3(1 << 30, 1 << 30, 4);
    nb_graph *g = nb_graph_create();
    nb_node p = nb_param(g, "p", huge, nb_init_zeros());
    assert_int_not_equal(nb_sum(g, p), NB_NONE);
    assert_int_equal(nb_graph_compile(g), NB_ERR_MEMORY);
    assert_int_equal(nb_graph_forward(g), NB_ERR_STATE);
    nb_graph_free(g);

    g = nb_graph_create();
    nb_node x[4];
    for (int i = 0; i < 4; i++) x[i] = nb_input(g, NULL, huge);
    assert_int_not_equal(nb_sum(g, nb_add(g, nb_add(g, x[0], x[1]), nb_add(g, x[2], x[3]))),
                         NB_NONE);
    assert_int_equal(nb_graph_compile(g), NB_ERR_MEMORY);
    assert_int_equal(nb_graph_forward(g), NB_ERR_STATE);
    nb_graph_free(g);
    assert_int_equal(c.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_steps_allocate_nothing, teardown),
        cmocka_unit_test_teardown(test_cnn_steps_allocate_nothing, teardown),
        cmocka_unit_test_teardown(test_smaller_batch_reuses_memory, teardown),
        cmocka_unit_test_teardown(test_every_allocation_failure, teardown),
        cmocka_unit_test_teardown(test_recompile_failure_recovers, teardown),
        cmocka_unit_test_teardown(test_calloc_overflow, teardown),
        cmocka_unit_test_teardown(test_huge_shapes_refused, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
