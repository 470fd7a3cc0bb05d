/* Every public function of nabla.h called with NULL and out-of-range
 * arguments: each returns an error status with a message, or (free
 * functions, getters, void helpers) is a documented safe no-op. Run under
 * ASan/UBSan, nothing is read or written out of bounds. */
#include "check.h"

#include <float.h>
#include <string.h>

/* expr returns status want and leaves a message. */
#define EXPECT(expr, want)                                                                         \
    do {                                                                                           \
        nb_clear_error();                                                                          \
        nb_status got_ = (expr);                                                                   \
        if (got_ != (want))                                                                        \
            fail_msg("line %d: %s -> %s, expected %s (%s)", __LINE__, #expr, nb_status_name(got_), \
                     nb_status_name(want), nb_last_error());                                       \
        if (!nb_last_error()[0]) fail_msg("line %d: %s: no message", __LINE__, #expr);             \
    } while (0)

/* expr fails (any status) with a message. */
#define EXPECT_FAIL(expr)                                                                          \
    do {                                                                                           \
        nb_clear_error();                                                                          \
        nb_status got_ = (expr);                                                                   \
        if (got_ == NB_OK) fail_msg("line %d: %s accepted", __LINE__, #expr);                      \
        if (!nb_last_error()[0]) fail_msg("line %d: %s: no message", __LINE__, #expr);             \
    } while (0)

static nb_shape bad_shapes[5];

static void init_bad_shapes(void)
{
    nb_shape seven = {7, {2, 2, 2, 2}}, minus = {-1, {2, 2, 2, 2}},
             huge = {INT32_MAX, {1, 1, 1, 1}};
    nb_shape negative = nb_shape2(-3, 2), zero = nb_shape2(0, 2);
    bad_shapes[0] = seven;
    bad_shapes[1] = minus;
    bad_shapes[2] = huge;
    bad_shapes[3] = negative;
    bad_shapes[4] = zero;
}

static void test_status_memory_threads(void **state)
{
    (void)state;
    assert_string_equal(nb_status_name((nb_status)-1), "unknown status");
    assert_string_equal(nb_status_name((nb_status)999), "unknown status");
    nb_clear_error();
    assert_string_equal(nb_last_error(), "");
    nb_set_allocator(NULL);
    void *p = nb_malloc(0);
    assert_non_null(p);
    nb_free(p);
    nb_free(NULL);
    assert_null(nb_calloc(SIZE_MAX, 2));
    p = nb_realloc(NULL, 8);
    assert_non_null(p);
    nb_free(p);
    EXPECT(nb_set_threads(-1), NB_ERR_ARGUMENT);
    EXPECT(nb_set_threads(1 << 20), NB_ERR_ARGUMENT);
    assert_true(nb_get_threads() >= 1);
    assert_true(nb_default_threads() >= 1);
}

/* A shape with ndim outside [0, 4] (7, -1, INT_MAX) is read nowhere past
 * dim[]: it has no elements, equals nothing and formats safely. */
static void test_shapes(void **state)
{
    (void)state;
    char buf[64];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(nb_shape_count(bad_shapes[i]), 0);
        assert_false(nb_shape_equal(bad_shapes[i], bad_shapes[i]) && i < 3);
        nb_shape_format(bad_shapes[i], buf, sizeof buf);
        assert_true(strlen(buf) < sizeof buf);
    }
    assert_string_equal(nb_shape_format(bad_shapes[0], buf, sizeof buf), "[invalid: ndim 7]");
    assert_string_equal(nb_shape_format(bad_shapes[3], buf, sizeof buf), "[-3, 2]");
    assert_string_equal(nb_shape_format(nb_shape2(3, 4), NULL, 10), "");
    char tiny[4] = "xyz";
    nb_shape_format(nb_shape4(1000, 1000, 1000, 1000), tiny, 0); /* nothing written */
    assert_string_equal(tiny, "xyz");
    nb_shape_format(nb_shape4(1000, 1000, 1000, 1000), tiny, sizeof tiny);
    assert_string_equal(tiny, "[10");
    nb_shape overflow = nb_shape4(INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX);
    assert_int_equal(nb_shape_count(overflow), 0);
}

/* Random numbers with no generator: no-ops that return 0. */
static void test_rng(void **state)
{
    (void)state;
    nb_rng_seed(NULL, 1);
    assert_int_equal(nb_rng_next(NULL), 0);
    assert_true(nb_rng_uniform(NULL) == 0);
    assert_true(nb_rng_normal(NULL) == 0);
    assert_int_equal(nb_rng_below(NULL, 5), 0);
    nb_rng r;
    nb_rng_seed(&r, 1);
    /* [0, 0) is empty: 0, and the generator does not move */
    nb_rng before = r, again;
    nb_rng_seed(&again, 1);
    assert_int_equal(nb_rng_below(&r, 0), 0);
    assert_memory_equal(&r, &before, sizeof r);
    assert_true(nb_rng_next(&r) == nb_rng_next(&again));
    nb_rng_shuffle(NULL, NULL, 5);
    nb_rng_shuffle(&r, NULL, 5);
}

static void test_graph_building(void **state)
{
    (void)state;
    nb_graph_free(NULL);
    EXPECT(nb_graph_status(NULL), NB_ERR_ARGUMENT);
    assert_int_equal(nb_input(NULL, "x", nb_shape1(1)), NB_NONE);
    assert_int_equal(nb_param(NULL, "w", nb_shape1(1), nb_init_zeros()), NB_NONE);
    assert_int_equal(nb_constant(NULL, "c", nb_shape1(1), NULL), NB_NONE);
    for (int i = 0; i < 5; i++) {
        nb_graph *g = nb_graph_create();
        nb_clear_error();
        assert_int_equal(nb_input(g, "x", bad_shapes[i]), NB_NONE);
        assert_int_equal(nb_graph_status(g), NB_ERR_SHAPE);
        assert_non_null(strstr(nb_last_error(), "\"x\""));
        nb_graph_free(g);
        g = nb_graph_create();
        assert_int_equal(nb_param(g, "w", bad_shapes[i], nb_init_zeros()), NB_NONE);
        assert_int_equal(nb_constant(g, "c", bad_shapes[i], NULL), NB_NONE);
        assert_int_equal(nb_graph_status(g), NB_ERR_SHAPE);
        nb_graph_free(g);
        /* reshape to a bad shape: refused, the message built safely (a 0
         * keeps x's dimension: 3, and [3, 2] does not hold 9 values) */
        g = nb_graph_create();
        nb_node x = nb_input(g, "x", nb_shape2(3, 3));
        EXPECT(nb_input_reshape(g, x, bad_shapes[i]), NB_ERR_SHAPE);
        assert_int_equal(nb_reshape(g, x, bad_shapes[i]), NB_NONE);
        assert_int_equal(nb_graph_status(g), NB_ERR_SHAPE);
        nb_graph_free(g);
    }

    nb_graph *g = nb_graph_create();
    /* names: NULL makes one up; invalid ones are refused */
    assert_int_equal(nb_input(g, NULL, nb_shape1(2)), 0);
    nb_node x = nb_input(g, "x", nb_shape1(2));
    EXPECT(nb_input_set_grad(NULL, x, 1), NB_ERR_ARGUMENT);
    EXPECT(nb_input_set_grad(g, -1, 1), NB_ERR_ARGUMENT);
    EXPECT(nb_input_set_grad(g, 99, 1), NB_ERR_ARGUMENT);
    EXPECT(nb_input_reshape(NULL, x, nb_shape1(2)), NB_ERR_ARGUMENT);
    EXPECT(nb_input_reshape(g, 99, nb_shape1(2)), NB_ERR_ARGUMENT);
    EXPECT(nb_node_set_name(NULL, x, "y"), NB_ERR_ARGUMENT);
    EXPECT(nb_node_set_name(g, x, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_node_set_name(g, x, ""), NB_ERR_ARGUMENT);
    EXPECT(nb_node_set_name(g, -1, "y"), NB_ERR_ARGUMENT);
    EXPECT(nb_node_set_name(g, x, "a\nb"), NB_ERR_ARGUMENT);
    assert_int_equal(nb_op_exists(NULL), 0);
    assert_int_equal(nb_op_exists("nope"), 0);
    assert_non_null(nb_op_names()[0]);
    /* ops: NULL graph, unknown op, wrong arity, NULL or bad inputs */
    nb_node two[2] = {x, x}, bad[2] = {x, 99}, neg[2] = {-7, x};
    assert_int_equal(nb_apply(NULL, "add", NULL, 2, two), NB_NONE);
    assert_int_equal(nb_add(NULL, x, x), NB_NONE);
    assert_int_equal(nb_dense(NULL, x, 3, "d", nb_init_he()), NB_NONE);
    assert_ok(nb_graph_status(g));
    nb_graph *fresh[8];
    for (int i = 0; i < 8; i++) {
        fresh[i] = nb_graph_create();
        nb_input(fresh[i], "x", nb_shape2(2, 2));
    }
    nb_clear_error();
    assert_int_equal(nb_apply(fresh[0], NULL, NULL, 1, two), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[0]), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "no op name"));
    assert_null(strstr(nb_last_error(), "(null)"));
    assert_int_equal(nb_apply(fresh[1], "add", NULL, 2, NULL), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[1]), NB_ERR_ARGUMENT);
    assert_int_equal(nb_apply(fresh[2], "add", NULL, -1, two), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[2]), NB_ERR_ARGUMENT);
    assert_int_equal(nb_apply(fresh[3], "add", NULL, 2, bad), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[3]), NB_ERR_ARGUMENT);
    assert_int_equal(nb_apply(fresh[4], "add", NULL, 2, neg), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[4]), NB_ERR_ARGUMENT);
    assert_int_equal(nb_add(fresh[5], 0, NB_NONE), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[5]), NB_ERR_ARGUMENT);
    assert_int_equal(nb_dense(fresh[6], 0, 0, "d", nb_init_he()), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[6]), NB_ERR_SHAPE);
    assert_int_equal(nb_dense(fresh[7], 99, 3, "d", nb_init_he()), NB_NONE);
    assert_int_equal(nb_graph_status(fresh[7]), NB_ERR_ARGUMENT);
    for (int i = 0; i < 8; i++) nb_graph_free(fresh[i]);
    nb_graph_free(g);
}

static void test_graph_running(void **state)
{
    (void)state;
    EXPECT(nb_graph_compile(NULL), NB_ERR_ARGUMENT);
    nb_graph *empty = nb_graph_create();
    EXPECT(nb_graph_compile(empty), NB_ERR_STATE);
    nb_graph_free(empty);

    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape1(4));
    nb_node w = nb_param(g, "w", nb_shape1(4), nb_init_constant(2));
    nb_node l = nb_sum(g, nb_mul(g, x, w));
    nb_real v[4] = {1, 2, 3, 4}, out[4];
    EXPECT(nb_graph_feed(g, x, v, 4), NB_ERR_STATE); /* before compile */
    EXPECT(nb_graph_forward(g), NB_ERR_STATE);
    EXPECT(nb_graph_backward(g, l), NB_ERR_STATE);
    EXPECT(nb_numeric_grad(g, l, w, 1e-3, out), NB_ERR_STATE);
    assert_ok(nb_graph_compile(g));
    EXPECT(nb_graph_feed(NULL, x, v, 4), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_feed(g, x, NULL, 4), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_feed(g, x, v, 3), NB_ERR_SHAPE);
    EXPECT(nb_graph_feed(g, w, v, 4), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_feed(g, -1, v, 4), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_feed(g, 999, v, 4), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_bind(NULL, x, v), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_bind(g, w, v), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_bind(g, 999, v), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_forward(NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_forward_to(NULL, 0), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_forward_to(g, -1), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_forward_to(g, 999), NB_ERR_ARGUMENT);
    assert_ok(nb_graph_feed(g, x, v, 4));
    assert_ok(nb_graph_forward(g));
    EXPECT(nb_graph_backward(NULL, l), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_backward(g, -1), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_backward(g, 999), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_backward(g, x), NB_ERR_SHAPE); /* not a scalar */
    assert_ok(nb_graph_backward(g, l));

    /* looking at nodes: NULL and out of range give NULL, 0, NB_NONE */
    const nb_node nodes[] = {-1, 999, NB_NONE, INT32_MAX, INT32_MIN};
    assert_int_equal(nb_graph_find(NULL, "x"), NB_NONE);
    assert_int_equal(nb_graph_find(g, NULL), NB_NONE);
    assert_int_equal(nb_graph_node_count(NULL), 0);
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        nb_node n = nodes[i];
        assert_null(nb_node_name(g, n));
        assert_null(nb_node_op(g, n));
        assert_int_equal(nb_node_input_count(g, n), 0);
        assert_int_equal(nb_node_input(g, n, 0), NB_NONE);
        assert_int_equal(nb_node_shape(g, n).ndim, 0);
        assert_null(nb_node_value(g, n));
        assert_null(nb_node_grad(g, n));
        assert_false(nb_node_is_param(g, n));
        assert_false(nb_node_is_input(g, n));
    }
    assert_null(nb_node_name(NULL, 0));
    assert_int_equal(nb_node_input(g, l, -1), NB_NONE);
    assert_int_equal(nb_node_input(g, l, 7), NB_NONE);
    size_t count = 7;
    assert_null(nb_graph_params(NULL, &count));
    assert_int_equal(count, 0);
    assert_null(nb_graph_param_grads(NULL, NULL));
    assert_non_null(nb_graph_params(g, NULL));
    count = 7;
    assert_null(nb_graph_state(NULL, &count));
    assert_int_equal(count, 0);
    EXPECT(nb_graph_set_mode(NULL, NB_MODE_EVAL), NB_ERR_ARGUMENT);
    assert_int_equal(nb_graph_mode(NULL), NB_MODE_TRAIN);
    nb_graph_set_seed(NULL, 1); /* a no-op */
    assert_int_equal(nb_buffer(NULL, "b", nb_shape1(2), nb_init_zeros()), NB_NONE);
    assert_int_equal(nb_dropout(NULL, 0, 0.5), NB_NONE);
    assert_int_equal(nb_batch_norm(NULL, 0, 0, 0, 0, 0, 0.1, 1e-5), NB_NONE);

    nb_node bad_node;
    int in_grad;
    EXPECT(nb_graph_find_nonfinite(NULL, &bad_node, &in_grad), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_find_nonfinite(g, NULL, &in_grad), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_find_nonfinite(g, &bad_node, NULL), NB_ERR_ARGUMENT);
    assert_true(nb_values_finite(NULL, 0));
    assert_false(nb_values_finite(NULL, 3));

    nb_rng rng;
    nb_rng_seed(&rng, 1);
    EXPECT(nb_graph_init_params(NULL, &rng), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_init_params(g, NULL), NB_ERR_ARGUMENT);

    /* numerical gradients */
    nb_gradcheck_entry e[4];
    int n_entries = 0;
    EXPECT(nb_numeric_grad(NULL, l, w, 1e-3, out), NB_ERR_ARGUMENT);
    EXPECT(nb_numeric_grad(g, l, w, 1e-3, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_numeric_grad(g, -1, w, 1e-3, out), NB_ERR_ARGUMENT);
    EXPECT(nb_numeric_grad(g, l, 999, 1e-3, out), NB_ERR_ARGUMENT);
    EXPECT(nb_numeric_grad(g, l, w, 0, out), NB_ERR_ARGUMENT);
    EXPECT(nb_gradcheck(g, l, 1e-3, NULL, 4, &n_entries), NB_ERR_ARGUMENT);
    EXPECT(nb_gradcheck(g, l, 1e-3, e, 4, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_gradcheck(g, l, 1e-3, e, -1, &n_entries), NB_ERR_ARGUMENT);
    EXPECT(nb_gradcheck(NULL, l, 1e-3, e, 4, &n_entries), NB_ERR_ARGUMENT);
    assert_ok(nb_gradcheck(g, l, 1e-2, e, 0, &n_entries)); /* room for none */
    assert_int_equal(n_entries, 0);

    /* trace output */
    EXPECT(nb_graph_print_trace(NULL, stdout), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_print_trace(g, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_write_dot(NULL, stdout), NB_ERR_ARGUMENT);
    EXPECT(nb_graph_write_dot(g, NULL), NB_ERR_ARGUMENT);
    nb_graph_free(g);
}

/* Initialisers: filling nothing, or with no generator, is a no-op. */
static void test_init_fill(void **state)
{
    (void)state;
    nb_rng rng;
    nb_rng_seed(&rng, 1);
    nb_real v[4] = {7, 7, 7, 7};
    nb_init_fill(nb_init_he(), nb_shape1(4), NULL, &rng);
    nb_init_fill(nb_init_he(), nb_shape1(4), v, NULL);
    nb_init_fill(nb_init_constant(NAN), nb_shape1(4), v, &rng);
    nb_init_fill(nb_init_he(), bad_shapes[0], v, &rng);
    nb_init kind99 = {(nb_init_kind)99, 0, 0, 0, 0};
    nb_init_fill(kind99, nb_shape1(4), v, &rng);
    for (int i = 0; i < 4; i++) assert_true(v[i] == 7);
    nb_init_fill(nb_init_constant(1), nb_shape1(4), v, NULL); /* needs no generator */
    assert_true(v[3] == 1);
}

static void test_optimizers(void **state)
{
    (void)state;
    nb_optimizer *opt = NULL;
    nb_optimizer_kind kind;
    assert_non_null(nb_optimizer_name((nb_optimizer_kind)99));
    EXPECT_FAIL(nb_optimizer_parse(NULL, &kind));
    EXPECT(nb_optimizer_parse("sgd", NULL), NB_ERR_ARGUMENT);
    nb_optimizer_config c = nb_optimizer_defaults(NB_OPT_ADAM);
    EXPECT(nb_optimizer_create(NULL, 4, &opt), NB_ERR_ARGUMENT);
    EXPECT(nb_optimizer_create(&c, 4, NULL), NB_ERR_ARGUMENT);
    nb_optimizer_config bad = c;
    bad.kind = (nb_optimizer_kind)99;
    EXPECT_FAIL(nb_optimizer_create(&bad, 4, &opt));
    assert_null(opt);
    bad = c;
    bad.lr = NAN;
    EXPECT_FAIL(nb_optimizer_create(&bad, 4, &opt));
    nb_optimizer_free(NULL);
    nb_optimizer_step(NULL, NULL, NULL, 0.1);
    nb_real p[4] = {0}, gr[4] = {0}, backup[4];
    EXPECT(nb_optimizer_step_guarded(NULL, p, gr, 0.1, backup), NB_ERR_ARGUMENT);
    assert_int_equal(nb_optimizer_slot_count(NULL), 0);
    assert_null(nb_optimizer_slot(NULL, 0));
    assert_null(nb_optimizer_steps(NULL));
    assert_null(nb_optimizer_get_config(NULL));
    assert_ok(nb_optimizer_create(&c, 4, &opt));
    assert_null(nb_optimizer_slot(opt, -1));
    assert_null(nb_optimizer_slot(opt, 2));
    EXPECT(nb_optimizer_step_guarded(opt, NULL, gr, 0.1, backup), NB_ERR_ARGUMENT);
    EXPECT(nb_optimizer_step_guarded(opt, p, NULL, 0.1, backup), NB_ERR_ARGUMENT);
    EXPECT(nb_optimizer_step_guarded(opt, p, gr, 0.1, NULL), NB_ERR_ARGUMENT);
    nb_optimizer_step(opt, NULL, gr, 0.1); /* no-op */
    nb_optimizer_free(opt);
}

static void test_data(void **state)
{
    (void)state;
    nb_dataset d, a, b;
    memset(&d, 0, sizeof d);
    nb_dataset_free(NULL);
    EXPECT(nb_load_idx(NULL, NULL, &d), NB_ERR_ARGUMENT);
    EXPECT(nb_load_idx("a", "b", NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_load_csv(NULL, NULL, &d), NB_ERR_ARGUMENT);
    EXPECT(nb_load_csv("a.csv", NULL, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_xor(NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_body(NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_spiral(10, 3, 1, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_spiral(-1, 3, 1, &d), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_spiral(10, 0, 1, &d), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_sine(-5, 0, &d), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_sine(10, 0, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_data_open(NULL, NULL, 1, &a, &b), NB_ERR_ARGUMENT);
    EXPECT(nb_data_open("xor", NULL, 1, NULL, NULL), NB_ERR_ARGUMENT);
    assert_ok(nb_dataset_xor(&d));
    size_t index[2] = {0, 99};
    EXPECT(nb_dataset_subset(NULL, index, 1, &a), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_subset(&d, NULL, 1, &a), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_subset(&d, index, 1, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_subset(&d, index, 2, &a), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_split(NULL, 0.5, 1, &a, &b), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_split(&d, 0.5, 1, NULL, &b), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_split(&d, NAN, 1, &a, &b), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_split(&d, -0.5, 1, &a, &b), NB_ERR_ARGUMENT);
    EXPECT(nb_dataset_split(&d, 1.5, 1, &a, &b), NB_ERR_ARGUMENT);

    /* preprocessing */
    nb_scale_kind kind;
    nb_scaler s;
    assert_non_null(nb_scale_name((nb_scale_kind)99));
    EXPECT_FAIL(nb_scale_parse(NULL, &kind));
    EXPECT(nb_scale_parse("minmax", NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_scaler_fit(NB_SCALE_ZSCORE, NULL, &s), NB_ERR_ARGUMENT);
    EXPECT(nb_scaler_fit(NB_SCALE_ZSCORE, &d, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_scaler_fit((nb_scale_kind)99, &d, &s), NB_ERR_ARGUMENT);
    EXPECT(nb_scaler_copy(NULL, &s), NB_ERR_ARGUMENT);
    EXPECT(nb_scaler_copy(&s, NULL), NB_ERR_ARGUMENT);
    nb_scaler_apply(NULL, d.x, d.count);
    nb_scaler_free(NULL);
    assert_ok(nb_scaler_fit(NB_SCALE_ZSCORE, &d, &s));
    nb_scaler_apply(&s, NULL, 4);
    nb_scaler_free(&s);
    nb_real hot[6] = {9, 9, 9, 9, 9, 9};
    int32_t labels[3] = {0, 1, 7};
    nb_one_hot(NULL, 3, 2, hot);
    nb_one_hot(labels, 3, 2, NULL);
    nb_one_hot(labels, 3, -2, hot);
    assert_true(hot[0] == 9);
    nb_one_hot(labels, 3, 2, hot);
    assert_true(hot[0] == 1 && hot[1] == 0 && hot[3] == 1 && hot[4] == 0 && hot[5] == 0);
    nb_dataset_free(&d);
}

static void test_models(void **state)
{
    (void)state;
    nb_model *m = NULL;
    EXPECT(nb_model_create("dense:2", 2, NULL, 4, NULL), NB_ERR_ARGUMENT);
    EXPECT_FAIL(nb_model_create(NULL, 2, NULL, 4, &m));
    assert_null(m);
    EXPECT_FAIL(nb_model_create("dense:2", 0, NULL, 4, &m));
    EXPECT_FAIL(nb_model_create("dense:2", -3, NULL, 4, &m));
    EXPECT_FAIL(nb_model_create("dense:2", 2, "nope", 4, &m));
    EXPECT_FAIL(nb_model_create("dense:2", 2, NULL, 0, &m));
    EXPECT_FAIL(nb_model_create("dense:2", 2, NULL, -1, &m));
    assert_null(m);
    EXPECT_FAIL(nb_spec_check(NULL));
    nb_model_free(NULL);
    assert_null(nb_model_graph(NULL));
    assert_int_equal(nb_model_input(NULL), NB_NONE);
    assert_int_equal(nb_model_output(NULL), NB_NONE);
    assert_int_equal(nb_model_target(NULL), NB_NONE);
    assert_int_equal(nb_model_loss(NULL), NB_NONE);
    assert_null(nb_model_spec(NULL));
    assert_null(nb_model_loss_name(NULL));
    assert_int_equal(nb_model_inputs(NULL), 0);
    assert_int_equal(nb_model_outputs(NULL), 0);
    assert_int_equal(nb_model_is_classifier(NULL), 0);
    assert_int_equal(nb_model_batch(NULL), 0);
    assert_int_equal(nb_model_input_count(NULL), 0);
    assert_int_equal(nb_model_input_at(NULL, 0), NB_NONE);
    assert_int_equal(nb_model_loss_info(NULL).summed, 0);
    EXPECT(nb_loss_info_of("softmax_ce", NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_loss_info_of(NULL, &(nb_loss_info){0}), NB_ERR_ARGUMENT);
    EXPECT(nb_model_from_graph(NULL, NULL, &m), NB_ERR_ARGUMENT);
    assert_null(m);
    EXPECT(nb_model_from_graph(nb_graph_create(), NULL, NULL), NB_ERR_ARGUMENT); /* freed */
    EXPECT(nb_model_feed(NULL, NULL, NULL, 0, 1), NB_ERR_ARGUMENT);
    EXPECT_FAIL(nb_model_create_shaped("dense:2", nb_shape0(), NULL, 4, &m));
    EXPECT_FAIL(nb_model_create_shaped("dense:2", nb_shape4(1, 1, 1, 1), NULL, 4, &m));
    assert_int_equal(nb_node_attr_count(NULL, 0), 0);
    assert_null(nb_node_attr(NULL, 0, 0));
    assert_null(nb_node_find_attr(NULL, 0, "slope"));
    assert_int_equal(nb_node_init(NULL, 0).kind, NB_INIT_ZEROS);
    assert_int_equal(nb_apply_attrs(NULL, "relu", NULL, 0, NULL, 0, NULL), NB_NONE);
    assert_int_equal(nb_concat(NULL, 0, NULL, 0), NB_NONE);
    EXPECT(nb_model_set_batch(NULL, 4), NB_ERR_ARGUMENT);
    EXPECT(nb_model_init(NULL, 1), NB_ERR_ARGUMENT);
    nb_real x[4] = {0}, out[4];
    EXPECT(nb_model_predict(NULL, x, 1, out), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_scaler(NULL, NULL), NB_ERR_ARGUMENT);
    assert_null(nb_model_scaler(NULL));
    EXPECT(nb_model_set_class_names(NULL, NULL, 0), NB_ERR_ARGUMENT);
    assert_null(nb_model_class_name(NULL, 0));
    assert_int_equal(nb_model_class_count(NULL), 0);
    EXPECT(nb_model_set_meta(NULL, "k", "1"), NB_ERR_ARGUMENT);
    assert_null(nb_model_meta(NULL, "k"));
    EXPECT(nb_model_save(NULL, "m.st"), NB_ERR_ARGUMENT);
    EXPECT(nb_model_load("m.st", NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_model_load(NULL, &m), NB_ERR_ARGUMENT);

    assert_ok(nb_model_create("dense:4,relu,dense:3", 2, NULL, 4, &m));
    EXPECT_FAIL(nb_model_set_batch(m, 0));
    EXPECT_FAIL(nb_model_set_batch(m, -4));
    EXPECT(nb_model_predict(m, NULL, 1, out), NB_ERR_ARGUMENT);
    EXPECT(nb_model_predict(m, x, 1, NULL), NB_ERR_ARGUMENT);
    nb_scaler bad = {(nb_scale_kind)99, 2, x, x};
    EXPECT(nb_model_set_scaler(m, &bad), NB_ERR_ARGUMENT);
    nb_scaler few = {NB_SCALE_ZSCORE, 1, x, x};
    EXPECT(nb_model_set_scaler(m, &few), NB_ERR_SHAPE);
    assert_non_null(strstr(nb_last_error(), "a scaler of 1 value on a model of 2 inputs"));
    nb_scaler none = {NB_SCALE_ZSCORE, 2, NULL, NULL};
    EXPECT(nb_model_set_scaler(m, &none), NB_ERR_SHAPE);
    assert_null(nb_model_class_name(m, -1));
    assert_null(nb_model_class_name(m, 99));
    /* class names: a count that is not the model's, NULL, empty, control
     * characters, repeats; the message names the index */
    char *names[3] = {"a", "b", "c"};
    EXPECT(nb_model_set_class_names(m, names, -1), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_class_names(m, names, 2), NB_ERR_ARGUMENT);
    char *with_null[3] = {"a", NULL, "c"}, *empty[3] = {"a", "b", ""};
    char *newline[3] = {"a", "b\n0.99", "c"}, *esc[3] = {"\x1b[2J", "b", "c"};
    char *del[3] = {"a", "b\x7f", "c"}, *c1[3] = {"a", "b", "c\xc2\x9b"};
    char *twice[3] = {"a", "b", "b"};
    EXPECT(nb_model_set_class_names(m, with_null, 3), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "class name 1"));
    EXPECT(nb_model_set_class_names(m, empty, 3), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "class name 2 is empty"));
    EXPECT(nb_model_set_class_names(m, newline, 3), NB_ERR_ARGUMENT);
    assert_non_null(
        strstr(nb_last_error(), "class name 1 (\"b\\n0.99\") has the control character U+000A"));
    EXPECT(nb_model_set_class_names(m, esc, 3), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_class_names(m, del, 3), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_class_names(m, c1, 3), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_class_names(m, twice, 3), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "class name 2 (\"b\") is the same as class name 1"));
    assert_int_equal(nb_model_class_count(m), 0);
    /* names that would not print as themselves: invisible and format
     * characters (a bidi override, zero-width characters, a byte-order
     * mark, a variation selector, a tag), a space at either end (ASCII or
     * not), bytes that are not UTF-8 (Latin-1) */
    static const struct {
        const char *name, *why;
    } unshown[] = {
        {"a\xe2\x80\xae"
         "b",
         "invisible or format character U+202E at byte 1"},
        {"a\xe2\x80\x8b", "invisible or format character U+200B at byte 1"},
        {"a\xe2\x80\x8d", "U+200D"},
        {"\xef\xbb\xbf"
         "a",
         "U+FEFF at byte 0"},
        {"a\xe2\x81\xa0", "U+2060"},
        {"a\xe2\x81\xa6", "U+2066"},
        {"a\xe2\x80\x8e", "U+200E"},
        {"a\xef\xb8\x8f", "U+FE0F"},
        {"a\xf3\xa0\x80\x81", "U+E0001"},
        {"a\xc2\xad", "U+00AD"},
        {"a\xe2\x80\xa8", "U+2028"},
        {"setosa ", "ends with a space (U+0020 at byte 6)"},
        {" setosa", "starts with a space (U+0020)"},
        {"setosa\xc2\xa0", "ends with a space (U+00A0 at byte 6)"},
        {"\xe3\x80\x80x", "starts with a space (U+3000)"},
        {"caf\xe9", "byte 0xe9 at byte 3, which is not UTF-8"},
        {"\xed\xa0\x80", "byte 0xed at byte 0, which is not UTF-8"}, /* a surrogate */
    };
    for (size_t i = 0; i < sizeof unshown / sizeof unshown[0]; i++) {
        char *one[3] = {"a", (char *)unshown[i].name, "c"};
        EXPECT(nb_model_set_class_names(m, one, 3), NB_ERR_ARGUMENT);
        if (!strstr(nb_last_error(), "class name 1 (") ||
            !strstr(nb_last_error(), unshown[i].why) || strchr(nb_last_error(), '\x1b'))
            fail_msg("name %zu: \"%s\"", i, nb_last_error());
        /* the message quotes the name escaped: no raw format character */
        assert_null(strstr(nb_last_error(), "\xe2\x80\xae"));
    }
    assert_int_equal(nb_model_class_count(m), 0);
    char *inner[3] = {"a b", "\xc3\xa9t\xc3\xa9", "x\xc2\xa0y"}; /* spaces inside are fine */
    assert_ok(nb_model_set_class_names(m, inner, 3));
    char *utf8[3] = {"caf\xc3\xa9", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac"}; /* not controls */
    assert_ok(nb_model_set_class_names(m, utf8, 3));
    assert_int_equal(nb_model_class_count(m), 3);
    EXPECT(nb_model_set_meta(m, NULL, "1"), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_meta(m, "", "1"), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_meta(m, "spec", "1"), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_meta(m, "k", "{"), NB_ERR_ARGUMENT);
    EXPECT(nb_model_set_meta(m, "k", "{\"a\":1,\"a\":2}"), NB_ERR_ARGUMENT);
    assert_null(nb_model_meta(m, NULL));
    /* a key prints as itself; "training"'s label would pass as a class name */
    EXPECT(nb_model_set_meta(m,
                             "a\xe2\x80\xae"
                             "b",
                             "1"),
           NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "U+202E at byte 1"));
    EXPECT(nb_model_set_meta(m, "caf\xe9", "1"), NB_ERR_ARGUMENT);
    static const char *const bad_labels[] = {
        "{\"label\":\"sp\\u001becies\"}", "{\"label\":\"sp\\u202eecies\"}",
        "{\"label\":\"species \"}",       "{\"label\":\"\"}",
        "{\"label\":\"sp\\u200becies\"}", "{\"label\":\"sp\\u009becies\"}",
    };
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
        EXPECT(nb_model_set_meta(m, "training", bad_labels[i]), NB_ERR_ARGUMENT);
        if (!strstr(nb_last_error(), "metadata \"training\": \"label\"") ||
            strchr(nb_last_error(), '\x1b') || strstr(nb_last_error(), "\xe2\x80\xae"))
            fail_msg("label %zu: \"%s\"", i, nb_last_error());
    }
    char long_label[100] = "{\"label\":\"";
    memset(long_label + strlen(long_label), 'x', NB_LABEL_NAME_MAX);
    strcpy(long_label + 10 + NB_LABEL_NAME_MAX, "\"}");
    EXPECT(nb_model_set_meta(m, "training", long_label), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "too long (1 to 63 bytes)"));
    assert_null(nb_model_meta(m, "training"));
    assert_ok(nb_model_set_meta(m, "training",
                                "{\"label\":\"sp\xc3\xa9"
                                "cies 2\"}"));
    /* every key can be listed */
    assert_int_equal(nb_model_meta_count(NULL), 0);
    assert_null(nb_model_meta_key(NULL, 0));
    assert_ok(nb_model_set_meta(m, "notes", "[1]"));
    assert_int_equal(nb_model_meta_count(m), 2);
    const char *k0 = nb_model_meta_key(m, 0), *k1 = nb_model_meta_key(m, 1);
    assert_true((strcmp(k0, "training") == 0 && strcmp(k1, "notes") == 0) ||
                (strcmp(k1, "training") == 0 && strcmp(k0, "notes") == 0));
    assert_null(nb_model_meta_key(m, 2));
    assert_null(nb_model_meta_key(m, -1));
    assert_ok(nb_model_set_meta(m, "training", NULL));
    assert_int_equal(nb_model_meta_count(m), 1);
    assert_string_equal(nb_model_meta_key(m, 0), "notes");
    EXPECT(nb_model_save(m, NULL), NB_ERR_ARGUMENT);
    EXPECT(nb_model_save(m, ""), NB_ERR_ARGUMENT);

    /* training and evaluation */
    nb_schedule_kind schedule;
    assert_non_null(nb_schedule_name((nb_schedule_kind)99));
    EXPECT_FAIL(nb_schedule_parse(NULL, &schedule));
    EXPECT(nb_schedule_parse("step", NULL), NB_ERR_ARGUMENT);
    nb_train_result r;
    memset(&r, 0, sizeof r);
    nb_train_config c = nb_train_defaults();
    nb_dataset d;
    assert_ok(nb_dataset_xor(&d));
    EXPECT(nb_train(NULL, &d, NULL, &c, &r), NB_ERR_ARGUMENT);
    EXPECT(nb_train(m, NULL, NULL, &c, &r), NB_ERR_ARGUMENT);
    EXPECT(nb_train(m, &d, NULL, NULL, &r), NB_ERR_ARGUMENT);
    EXPECT(nb_train(m, &d, NULL, &c, NULL), NB_ERR_ARGUMENT);
    nb_train_result_free(NULL);
    nb_metrics met;
    EXPECT(nb_evaluate(NULL, &d, &met), NB_ERR_ARGUMENT);
    EXPECT(nb_evaluate(m, NULL, &met), NB_ERR_ARGUMENT);
    EXPECT(nb_evaluate(m, &d, NULL), NB_ERR_ARGUMENT);
    nb_metrics_free(NULL);
    nb_dataset_free(&d);
    nb_model_free(m);
}

int main(void)
{
    init_bad_shapes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_memory_threads),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_graph_building),
        cmocka_unit_test(test_graph_running),
        cmocka_unit_test(test_init_fill),
        cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
