/* The graph engine: building, shape errors, forward, backward, fan-out
 * summing, lookup by name, recompiling, and errors as values. */
#include "check.h"

#include <float.h>
#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include <stdio.h>
#include <string.h>

static void test_fan_out_sums_gradients(void **state)
{
    (void)state;
    /* L = x*x + 3x with x used three times: dL/dx = 2x + 3 */
    nb_graph *g = nb_graph_create();
    nb_node x = nb_param(g, "x", nb_shape0(), nb_init_constant(2.5));
    nb_real three = 3;
    nb_node c = nb_constant(g, "three", nb_shape0(), &three);
    nb_node l = nb_add(g, nb_mul(g, x, x), nb_mul(g, c, x));
    assert_ok(nb_graph_compile(g));
    nb_rng rng;
    nb_rng_seed(&rng, 1);
    assert_ok(nb_graph_init_params(g, &rng));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, l));
    assert_near(nb_node_value(g, l)[0], 2.5 * 2.5 + 7.5, TOL);
    assert_near(nb_node_grad(g, x)[0], 2 * 2.5 + 3, TOL);
    assert_int_equal(nb_graph_find(g, "x"), x);
    assert_int_equal(nb_graph_find(g, "three"), c);
    assert_int_equal(nb_graph_find(g, "nope"), NB_NONE);
    nb_graph_free(g);
}

static void test_shape_error_names_everything(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(4, 3));
    nb_node w = nb_param(g, "w", nb_shape2(5, 2), nb_init_zeros());
    nb_node y = nb_matmul(g, x, w);
    assert_int_equal(y, NB_NONE);
    const char *msg = nb_last_error();
    assert_non_null(strstr(msg, "matmul"));
    assert_non_null(strstr(msg, "\"x\" [4, 3]"));
    assert_non_null(strstr(msg, "\"w\" [5, 2]"));
    /* The error sticks; later calls fail too and compile repeats its
     * message, whatever was said in between. */
    assert_int_equal(nb_relu(g, y), NB_NONE);
    assert_int_equal(nb_input(g, "x", nb_shape1(2)), NB_NONE);
    assert_int_equal(nb_graph_compile(g), NB_ERR_SHAPE);
    msg = nb_last_error();
    assert_non_null(strstr(msg, "compiling: the graph has a building error: "));
    assert_non_null(strstr(msg, "\"w\" [5, 2]"));
    nb_graph_free(g);
}

/* While nabla computes, subnormal numbers count as zero (they would cost
 * a hundred cycles each); the caller's own arithmetic keeps them. */
static void test_subnormals_flushed(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__SSE2__)
    const nb_real tiny = (nb_real)(sizeof(nb_real) == 4 ? FLT_MIN / 4 : DBL_MIN / 4);
    /* What a flushing CPU gives for relu(tiny): 0 on hardware; an emulator
     * that ignores the flush bits (valgrind) keeps tiny. Volatile
     * accesses keep the comparison between the two settings. */
    volatile nb_real probe = tiny, flushed;
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u);
    nb_real p = probe;
    flushed = p > 0 ? p : 0;
    _mm_setcsr(csr);
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape1(2));
    nb_node y = nb_relu(g, x);
    assert_ok(nb_graph_compile(g));
    nb_real v[2] = {tiny, 1};
    assert_ok(nb_graph_feed(g, x, v, 2));
    assert_ok(nb_graph_forward(g));
    nb_real got = nb_node_value(g, y)[0];
    nb_real one = nb_node_value(g, y)[1];
    nb_graph_free(g);
    assert_true(got == flushed); /* relu(tiny) = tiny without the flush */
    assert_true(one == 1);
    volatile nb_real a = tiny;
    assert_true(a * 1 > 0); /* the caller's setting is back */
#endif
}

/* Element-wise ops split a large tensor between threads: the same bits
 * on one thread and on two. */
static void test_elementwise_threads_same_bits(void **state)
{
    (void)state;
    enum { N = 4, F = 50000 };
    static nb_real xs[N * F], y1[N * F], d1[N * F];
    for (int i = 0; i < N * F; i++) xs[i] = (nb_real)((i * 7919 % 1000) - 500) / 250;
    int saved = nb_get_threads();
    for (int threads = 1; threads <= 2; threads++) {
        assert_ok(nb_set_threads(threads));
        nb_graph *g = nb_graph_create();
        nb_node x = nb_input(g, "x", nb_shape2(N, F));
        assert_ok(nb_input_set_grad(g, x, 1));
        nb_node loss = nb_sum(g, nb_mul(g, nb_tanh(g, nb_relu(g, x)), x));
        assert_ok(nb_graph_compile(g));
        assert_ok(nb_graph_feed(g, x, xs, N * F));
        assert_ok(nb_graph_forward(g));
        assert_ok(nb_graph_backward(g, loss));
        const nb_real *y = nb_node_value(g, loss), *d = nb_node_grad(g, x);
        if (threads == 1) {
            memcpy(y1, y, sizeof(nb_real));
            memcpy(d1, d, sizeof d1);
        } else {
            assert_memory_equal(y1, y, sizeof(nb_real));
            assert_memory_equal(d1, d, sizeof d1);
        }
        nb_graph_free(g);
    }
    assert_ok(nb_set_threads(saved));
}

/* nb_dense flattens an image batch itself, as the spec's dense does. */
static void test_dense_flattens_images(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape4(2, 3, 4, 5));
    nb_node y = nb_dense(g, x, 7, "d", nb_init_he());
    assert_true(nb_shape_equal(nb_node_shape(g, y), nb_shape2(2, 7)));
    assert_true(nb_shape_equal(nb_node_shape(g, nb_graph_find(g, "d.weight")), nb_shape2(60, 7)));
    assert_int_equal(nb_dense(g, nb_input(g, "v", nb_shape1(3)), 2, "e", nb_init_he()), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "needs input [N, D]"));
    nb_graph_free(g);
}

static void test_errors_are_values(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape1(3));
    assert_int_equal(nb_graph_forward(g), NB_ERR_STATE);
    assert_int_equal(nb_input(g, "x", nb_shape1(3)), NB_NONE); /* duplicate name */
    assert_non_null(strstr(nb_last_error(), "used twice"));
    nb_graph_free(g);
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape1(3));
    assert_int_equal(nb_apply(g, "no_such_op", NULL, 1, &x), NB_NONE);
    assert_non_null(strstr(nb_last_error(), "no_such_op"));
    nb_graph_free(g);
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape1(3));
    nb_node s = nb_sum(g, x);
    assert_ok(nb_graph_compile(g));
    nb_real vals[2] = {1, 2};
    assert_int_equal(nb_graph_feed(g, x, vals, 2), NB_ERR_SHAPE);
    /* The loss depends on no parameter: backward says so. */
    assert_int_equal(nb_graph_backward(g, s), NB_ERR_STATE);
    nb_graph_free(g);
}

static void test_reshape_batch_keeps_params(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(8, 3));
    nb_node y = nb_dense(g, x, 2, "fc", nb_init_xavier());
    nb_node l = nb_sum(g, y);
    assert_ok(nb_graph_compile(g));
    nb_rng rng;
    nb_rng_seed(&rng, 7);
    assert_ok(nb_graph_init_params(g, &rng));
    size_t count;
    nb_real *p = nb_graph_params(g, &count);
    assert_int_equal(count, 3 * 2 + 2);
    nb_real keep = p[0];
    assert_ok(nb_input_reshape(g, x, nb_shape2(2, 3)));
    assert_ok(nb_graph_compile(g));
    assert_true(nb_graph_params(g, NULL)[0] == keep);
    nb_real ones[6] = {1, 1, 1, 1, 1, 1};
    assert_ok(nb_graph_feed(g, x, ones, 6));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, l));
    /* d(sum(x W + b))/db = N per unit */
    assert_near(nb_node_grad(g, nb_graph_find(g, "fc.bias"))[0], 2, TOL);
    nb_graph_free(g);
}

/* Parameters used once by matmul/affine have their gradients written, not
 * cleared and added: a second backward gives the same gradients, the check
 * against finite differences holds, and a parameter whose only consumer
 * comes after the loss gets a zero gradient. */
static void test_written_gradients(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(3, 4));
    nb_node h = nb_tanh(g, nb_dense(g, x, 5, "fc0", nb_init_xavier()));
    nb_node y = nb_dense(g, h, 2, "fc1", nb_init_xavier());
    nb_node loss = nb_sum(g, nb_square(g, y));
    nb_node late = nb_param(g, "late", nb_shape2(2, 2), nb_init_constant(1));
    nb_node after = nb_sum(g, nb_matmul(g, y, late)); /* after the loss */
    assert_ok(nb_graph_compile(g));
    nb_rng rng;
    nb_rng_seed(&rng, 5);
    assert_ok(nb_graph_init_params(g, &rng));
    nb_real xs[12];
    for (int i = 0; i < 12; i++) xs[i] = (nb_real)nb_rng_normal(&rng);
    assert_ok(nb_graph_feed(g, x, xs, 12));
    assert_ok(nb_graph_forward(g));
    /* First a backward that writes late's gradient, then one that must
     * leave it zero. */
    assert_ok(nb_graph_backward(g, after));
    assert_true(nb_node_grad(g, late)[0] != 0);
    assert_ok(nb_graph_backward(g, loss));
    size_t n;
    nb_real first[64];
    const nb_real *grads = nb_graph_param_grads(g, &n);
    assert_true(n <= 64);
    memcpy(first, grads, n * sizeof *grads);
    assert_ok(nb_graph_backward(g, loss));
    assert_memory_equal(first, grads, n * sizeof *grads);
    const nb_real *dl = nb_node_grad(g, late);
    for (int i = 0; i < 4; i++) assert_true(dl[i] == 0);
#ifdef NABLA_DOUBLE
    nb_gradcheck_entry e[8];
    int count;
    assert_ok(nb_gradcheck(g, loss, 1e-6, e, 8, &count));
    for (int i = 0; i < count; i++)
        if (e[i].max_rel > 1e-6) fail_msg("%s: relative error %g", e[i].name, e[i].max_rel);
#endif
    nb_graph_free(g);
}

/* Calls that used to return OK with a meaningless result. */
static void test_meaningless_calls_refused(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_param(g, "x", nb_shape1(3), nb_init_constant(1));
    nb_node t = nb_input(g, "t", nb_shape1(3));
    nb_node l = nb_sum(g, nb_mul(g, x, t));
    assert_ok(nb_graph_compile(g));
    nb_rng rng;
    nb_rng_seed(&rng, 1);
    assert_ok(nb_graph_init_params(g, &rng)); /* x = 1: a step of 1e-30 rounds away */
    nb_real tv[3] = {1, 2, 3}, out[3];
    assert_ok(nb_graph_feed(g, t, tv, 3));
    /* backward before forward: the values it would use are not there */
    assert_int_equal(nb_graph_backward(g, l), NB_ERR_STATE);
    assert_non_null(strstr(nb_last_error(), "forward"));
    assert_ok(nb_graph_forward_to(g, t));
    assert_int_equal(nb_graph_backward(g, l), NB_ERR_STATE); /* not forwarded to l */
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, l));
    assert_ok(nb_graph_feed(g, t, tv, 3)); /* new input: the old values are stale */
    assert_int_equal(nb_graph_backward(g, l), NB_ERR_STATE);
    assert_ok(nb_graph_compile(g));
    assert_int_equal(nb_graph_backward(g, l), NB_ERR_STATE);
    /* a numeric gradient needs a positive finite step that moves the value */
    const double bad_eps[] = {0, -1e-3, NAN, INFINITY, -INFINITY, 1e-30};
    for (size_t i = 0; i < sizeof bad_eps / sizeof bad_eps[0]; i++) {
        assert_int_equal(nb_numeric_grad(g, l, x, bad_eps[i], out), NB_ERR_ARGUMENT);
        assert_non_null(strstr(nb_last_error(), "eps"));
    }
    assert_ok(nb_numeric_grad(g, l, x, 1e-2, out));
    assert_near(out[2], 3, 1e-3);
    nb_gradcheck_entry e[4];
    int count = 7;
    assert_int_equal(nb_gradcheck(g, l, 0, e, 4, &count), NB_ERR_ARGUMENT);
    assert_int_equal(count, 0);
    assert_int_equal(nb_gradcheck(g, l, NAN, e, 4, &count), NB_ERR_ARGUMENT);
    nb_graph_free(g);

    /* initialisers and slopes that are not numbers */
    const nb_init bad_init[] = {
        nb_init_constant(NAN),          nb_init_constant(INFINITY),
        nb_init_normal(NAN, 1),         nb_init_normal(0, NAN),
        nb_init_normal(0, -1),          nb_init_normal(0, INFINITY),
        nb_init_uniform(NAN, 1),        nb_init_uniform(0, INFINITY),
        nb_init_uniform(1, -1),         nb_init_uniform(-1e308, 1e308),
        {(nb_init_kind)99, 0, 0, 0, 0}, {(nb_init_kind)-1, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad_init / sizeof bad_init[0]; i++) {
        g = nb_graph_create();
        assert_int_equal(nb_param(g, "w", nb_shape1(2), bad_init[i]), NB_NONE);
        assert_int_equal(nb_graph_status(g), NB_ERR_ARGUMENT);
        assert_non_null(strstr(nb_last_error(), "\"w\""));
        nb_graph_free(g);
    }
    const double bad_slope[] = {NAN, INFINITY, -INFINITY, 1e300};
    for (size_t i = 0; i < sizeof bad_slope / sizeof bad_slope[0]; i++) {
        g = nb_graph_create();
        nb_node in = nb_input(g, "in", nb_shape1(2));
        if (sizeof(nb_real) == 8 && bad_slope[i] == 1e300) { /* a finite double */
            assert_true(nb_leaky_relu(g, in, bad_slope[i]) != NB_NONE);
        } else {
            assert_int_equal(nb_leaky_relu(g, in, bad_slope[i]), NB_NONE);
            assert_int_equal(nb_graph_status(g), NB_ERR_ARGUMENT);
            assert_non_null(strstr(nb_last_error(), "slope"));
        }
        nb_graph_free(g);
    }
}

/* Names are found through a hash index: building, finding and renaming
 * 100,000 nodes is linear (a linear search made it quadratic: 63 s). */
static void test_many_nodes(void **state)
{
    (void)state;
    enum { N = 100000 };
    nb_graph *g = nb_graph_create();
    char name[NB_NAME_MAX];
    nb_node prev = nb_input(g, "n0", nb_shape1(1));
    for (int i = 1; i < N; i++) {
        snprintf(name, sizeof name, "n%d", i);
        nb_node in[1] = {prev};
        prev = nb_apply(g, "identity", name, 1, in);
        assert_int_equal(prev, i);
    }
    assert_ok(nb_graph_status(g));
    assert_int_equal(nb_graph_node_count(g), N);
    for (int i = 0; i < N; i += 997) {
        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(nb_graph_find(g, name), i);
    }
    /* a name used twice is still refused, and renaming keeps the index right */
    nb_node in[1] = {prev};
    assert_int_equal(nb_apply(g, "identity", "n5", 1, in), NB_NONE);
    assert_int_equal(nb_graph_status(g), NB_ERR_ARGUMENT);
    nb_graph_free(g);

    g = nb_graph_create();
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "a%d", i);
        assert_int_equal(nb_input(g, name, nb_shape1(1)), i);
    }
    for (int i = 0; i < 1000; i++) { /* a<i> -> b<i>, many times over the same slots */
        snprintf(name, sizeof name, "b%d", i);
        assert_ok(nb_node_set_name(g, i, name));
        snprintf(name, sizeof name, "a%d", i);
        assert_int_equal(nb_graph_find(g, name), NB_NONE);
    }
    assert_ok(nb_node_set_name(g, 3, "b3")); /* its own name */
    assert_int_equal(nb_node_set_name(g, 3, "b4"), NB_ERR_ARGUMENT);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "b%d", i);
        assert_int_equal(nb_graph_find(g, name), i);
    }
    assert_int_equal(nb_input(g, "a7", nb_shape1(1)), 1000); /* free again */
    /* a failed op leaves no name behind */
    nb_node bad[2] = {0, 1};
    assert_int_equal(nb_apply(g, "matmul", "mm", 2, bad), NB_NONE);
    assert_int_equal(nb_graph_find(g, "mm"), NB_NONE);
    nb_graph_free(g);
}

/* Reshaping an input bound to caller memory drops the binding: that memory
 * holds the old element count (ASan saw the read past it). */
static void test_reshape_drops_binding(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(2, 2));
    nb_node s = nb_sum(g, x);
    nb_real four[4] = {1, 2, 3, 4};
    assert_ok(nb_graph_bind(g, x, four));
    assert_ok(nb_graph_compile(g));
    assert_ok(nb_graph_forward(g));
    assert_near(nb_node_value(g, s)[0], 10, TOL);
    assert_ok(nb_input_reshape(g, x, nb_shape2(2, 2))); /* the same shape keeps it */
    assert_ok(nb_graph_compile(g));
    assert_true(nb_node_value(g, x) == four);
    assert_ok(nb_input_reshape(g, x, nb_shape2(8, 2)));
    assert_ok(nb_graph_compile(g));
    assert_true(nb_node_value(g, x) != four);
    nb_real sixteen[16];
    for (int i = 0; i < 16; i++) sixteen[i] = 1;
    assert_ok(nb_graph_feed(g, x, sixteen, 16)); /* fed: it is no longer bound */
    assert_ok(nb_graph_forward(g));
    assert_near(nb_node_value(g, s)[0], 16, TOL);
    nb_graph_free(g);
}

/* A refused attribute names the op and the attribute, and the graph
 * keeps the error. */
static void expect_attr_error(nb_status want, const char *op, int n_in, const nb_attr *attrs,
                              int n_attrs, const char *part)
{
    nb_graph *g = nb_graph_create();
    nb_node x[2] = {nb_input(g, "x", nb_shape2(2, 3)), nb_input(g, "y", nb_shape2(2, 3))};
    assert_int_equal(nb_apply_attrs(g, op, NULL, n_in, x, n_attrs, attrs), NB_NONE);
    assert_int_equal(nb_graph_status(g), want);
    if (!strstr(nb_last_error(), part))
        fail_msg("message \"%s\" lacks \"%s\"", nb_last_error(), part);
    nb_graph_free(g);
}

static void test_attributes(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(2, 3));
    /* A default is filled in and kept with the node. */
    nb_node y = nb_apply(g, "leaky_relu", "y", 1, &x);
    assert_int_equal(nb_node_attr_count(g, y), 1);
    const nb_attr *slope = nb_node_find_attr(g, y, "slope");
    assert_non_null(slope);
    assert_int_equal(slope->type, NB_ATTR_REAL);
    assert_true(slope->count == 1 && slope->reals[0] == 0.01);
    assert_ptr_equal(nb_node_attr(g, y, 0), slope);
    assert_null(nb_node_attr(g, y, 1));
    assert_int_equal(nb_node_attr_count(g, x), 0); /* leaves have none */
    nb_attr given = nb_attr_real("slope", 0.25);
    nb_node z = nb_apply_attrs(g, "leaky_relu", "z", 1, &x, 1, &given);
    assert_true(nb_node_find_attr(g, z, "slope")->reals[0] == 0.25);
    /* More inputs than any fixed limit: six into one concat. */
    nb_node six[6] = {x, y, z, x, y, z};
    nb_node c = nb_concat(g, 6, six, 1);
    assert_int_equal(nb_node_input_count(g, c), 6);
    assert_true(nb_shape_equal(nb_node_shape(g, c), nb_shape2(2, 18)));
    assert_int_equal(nb_node_input(g, c, 5), z);
    assert_ok(nb_graph_compile(g));
    nb_graph_free(g);

    nb_attr slop = nb_attr_real("slop", 0.1), whole = nb_attr_int("slope", 1);
    nb_attr twice[2] = {nb_attr_real("slope", 0.1), nb_attr_real("slope", 0.2)};
    nb_attr nan_slope = nb_attr_real("slope", NAN), far = nb_attr_int("axis", 2);
    int64_t many[NB_ATTR_MAX_VALUES] = {0};
    nb_attr too_many = nb_attr_ints("shape", NB_MAX_DIMS + 1, many);
    expect_attr_error(NB_ERR_ARGUMENT, "leaky_relu", 1, &slop, 1, "takes no attribute \"slop\"");
    expect_attr_error(NB_ERR_ARGUMENT, "leaky_relu", 1, &whole, 1, "must be real, not integer");
    expect_attr_error(NB_ERR_ARGUMENT, "leaky_relu", 1, twice, 2, "\"slope\" is given twice");
    expect_attr_error(NB_ERR_ARGUMENT, "leaky_relu", 1, &nan_slope, 1, "\"slope\" value 0 is nan");
    expect_attr_error(NB_ERR_ARGUMENT, "reshape", 1, NULL, 0, "needs the attribute \"shape\"");
    expect_attr_error(NB_ERR_ARGUMENT, "reshape", 1, &too_many, 1, "has 5 values, not 1 to 4");
    expect_attr_error(NB_ERR_ARGUMENT, "relu", 1, &slop, 1, "op relu takes no attribute");
    expect_attr_error(NB_ERR_ARGUMENT, "concat", 0, NULL, 0, "takes one or more inputs, got 0");
    expect_attr_error(NB_ERR_SHAPE, "concat", 2, &far, 1, "an axis within the inputs' 2");
    /* a name too long is refused, not shortened; no values are no values */
    nb_attr long_name = nb_attr_real("slope_of_the_line", 0.1);
    nb_attr no_values = nb_attr_ints("shape", 2, NULL);
    expect_attr_error(NB_ERR_ARGUMENT, "leaky_relu", 1, &long_name, 1,
                      "a name of 16 bytes or more");
    expect_attr_error(NB_ERR_ARGUMENT, "reshape", 1, &no_values, 1, "has 0 values, not 1 to 4");
    expect_attr_error(NB_ERR_ARGUMENT, "leaky_relu", 1, &slop, -3,
                      "-3 attributes (a count below 0)");
}

/* A node name prints as itself: no control, invisible or format character,
 * no byte that is not UTF-8, no quote or backslash. */
static void test_node_names(void **state)
{
    (void)state;
    const char *bad[] = {"a\x7f",
                         "a\xc2\x9b"
                         "2J",
                         "a\xe2\x80\xae"
                         "b",
                         "a\xe2\x80\x8b"
                         "b",
                         "a\xff",
                         "a\"b",
                         "a\\b",
                         "",
                         "a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_graph *g = nb_graph_create();
        assert_int_equal(nb_param(g, bad[i], nb_shape1(2), nb_init_zeros()), NB_NONE);
        assert_int_equal(nb_graph_status(g), NB_ERR_ARGUMENT);
        assert_non_null(strstr(nb_last_error(), "prints as itself"));
        nb_graph_free(g);
        g = nb_graph_create();
        nb_node w = nb_param(g, "w", nb_shape1(2), nb_init_zeros());
        assert_int_equal(nb_node_set_name(g, w, bad[i]), NB_ERR_ARGUMENT);
        assert_string_equal(nb_node_name(g, w), "w");
        nb_graph_free(g);
    }
    nb_graph *g = nb_graph_create(); /* UTF-8 that prints is fine */
    assert_int_not_equal(nb_param(g, "poids_\xc3\xa9", nb_shape1(2), nb_init_zeros()), NB_NONE);
    nb_graph_free(g);
}

/* reshape's 0 keeps a dimension and -1 takes the rest, so a graph built
 * for one batch size compiles for another. */
static void test_reshape_keeps_batch(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape3(2, 3, 4));
    nb_node y = nb_reshape(g, x, nb_shape2(0, -1));
    assert_true(nb_shape_equal(nb_node_shape(g, y), nb_shape2(2, 12)));
    nb_node z = nb_reshape(g, x, nb_shape3(-1, 4, 3));
    assert_true(nb_shape_equal(nb_node_shape(g, z), nb_shape3(2, 4, 3)));
    assert_ok(nb_input_reshape(g, x, nb_shape3(5, 3, 4)));
    assert_ok(nb_graph_compile(g));
    assert_true(nb_shape_equal(nb_node_shape(g, y), nb_shape2(5, 12)));
    assert_true(nb_shape_equal(nb_node_shape(g, z), nb_shape3(5, 4, 3)));
    /* a shape whose product wraps a size_t is refused, not wrapped */
    nb_graph *h = nb_graph_create();
    nb_node big = nb_input(h, "big", nb_shape1(4));
    int64_t huge[4] = {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX};
    nb_attr wrap = nb_attr_ints("shape", 4, huge);
    assert_int_equal(nb_apply_attrs(h, "reshape", NULL, 1, &big, 1, &wrap), NB_NONE);
    assert_int_equal(nb_graph_status(h), NB_ERR_SHAPE);
    nb_graph_free(h);
    /* two -1s, or a -1 that cannot divide, are shape errors */
    assert_int_equal(nb_reshape(g, x, nb_shape2(-1, -1)), NB_NONE);
    assert_int_equal(nb_graph_status(g), NB_ERR_SHAPE);
    nb_graph_free(g);
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(2, 3));
    assert_int_equal(nb_reshape(g, x, nb_shape2(-1, 4)), NB_NONE);
    assert_int_equal(nb_graph_status(g), NB_ERR_SHAPE);
    nb_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_sums_gradients),
        cmocka_unit_test(test_written_gradients),
        cmocka_unit_test(test_shape_error_names_everything),
        cmocka_unit_test(test_dense_flattens_images),
        cmocka_unit_test(test_subnormals_flushed),
        cmocka_unit_test(test_elementwise_threads_same_bits),
        cmocka_unit_test(test_errors_are_values),
        cmocka_unit_test(test_reshape_batch_keeps_params),
        cmocka_unit_test(test_meaningless_calls_refused),
        cmocka_unit_test(test_many_nodes),
        cmocka_unit_test(test_reshape_drops_binding),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_node_names),
        cmocka_unit_test(test_reshape_keeps_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
