/* The graph engine: building, shape errors, forward, backward, fan-out
 * summing, lookup by name, recompiling, and errors as values. */
#include "check.h"

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
    /* The error sticks; later calls fail too and compile reports it. */
    assert_int_equal(nb_relu(g, y), NB_NONE);
    assert_int_equal(nb_graph_compile(g), NB_ERR_SHAPE);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_sums_gradients),
        cmocka_unit_test(test_written_gradients),
        cmocka_unit_test(test_shape_error_names_everything),
        cmocka_unit_test(test_errors_are_values),
        cmocka_unit_test(test_reshape_batch_keeps_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
