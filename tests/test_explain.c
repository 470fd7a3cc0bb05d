/* nb_explain: the steps recorded for the notes' examples, the gradient
 * each edge carries (worked out here by hand from the numbers of the
 * notes, never copied from them), the sum at a node used twice, the rules
 * in words, and the page written whole or not at all. */
#include "check.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static nb_graph *example(const char *name, nb_node *loss)
{
    nb_graph *g = nb_graph_create();
    assert_non_null(g);
    assert_ok(nb_example_build(g, name, NULL, 0, loss));
    return g;
}

static nb_explain *record(nb_graph *g, nb_node loss)
{
    nb_explain *e = NULL;
    assert_ok(nb_explain_graph(g, loss, &e));
    assert_non_null(e);
    return e;
}

static double edge(const nb_explain *e, nb_graph *g, const char *consumer, int input, size_t i)
{
    nb_node c = nb_graph_find(g, consumer);
    assert_int_not_equal(c, NB_NONE);
    const nb_real *v = nb_explain_edge_grad(e, c, input);
    if (!v) fail_msg("no gradient on input %d of %s", input, consumer);
    return v[i];
}

static double grad_of(nb_graph *g, const char *name)
{
    nb_node n = nb_graph_find(g, name);
    assert_int_not_equal(n, NB_NONE);
    assert_non_null(nb_node_grad(g, n));
    return nb_node_grad(g, n)[0];
}

/* Notes 001: forward through all 9 nodes, back from price through all 9;
 * a product sends each factor the other one times the upstream 1.1. */
static void test_apple_orange_steps(void **state)
{
    (void)state;
    nb_node loss;
    nb_graph *g = example("apple_orange", &loss);
    nb_explain *e = record(g, loss);
    assert_int_equal(nb_explain_loss(e), nb_graph_find(g, "price"));
    assert_int_equal(nb_explain_step_count(e), 18);
    for (int s = 0; s < 9; s++) {
        assert_int_equal(nb_explain_step_pass(e, s), NB_PASS_FORWARD);
        assert_int_equal(nb_explain_step_node(e, s), s);
    }
    for (int s = 9; s < 18; s++) {
        assert_int_equal(nb_explain_step_pass(e, s), NB_PASS_BACKWARD);
        assert_int_equal(nb_explain_step_node(e, s), 17 - s); /* price (8) down to 0 */
    }
    assert_int_equal(nb_explain_step_node(e, 18), NB_NONE);
    const double tax = 1.1, subtotal = 100 * 2 + 150 * 3;
    assert_near(edge(e, g, "price", 0, 0), tax, TOL);      /* to subtotal */
    assert_near(edge(e, g, "price", 1, 0), subtotal, TOL); /* to tax */
    assert_near(edge(e, g, "subtotal", 0, 0), tax, TOL);
    assert_near(edge(e, g, "subtotal", 1, 0), tax, TOL);
    assert_near(edge(e, g, "apple_total", 0, 0), tax * 2, TOL);   /* dprice/dapple_price */
    assert_near(edge(e, g, "apple_total", 1, 0), tax * 100, TOL); /* dprice/dapple_count */
    assert_near(edge(e, g, "orange_total", 0, 0), tax * 3, TOL);
    assert_near(edge(e, g, "orange_total", 1, 0), tax * 150, TOL);
    /* One consumer each: what arrives is the node's gradient. */
    assert_near(grad_of(g, "apple_price"), edge(e, g, "apple_total", 0, 0), TOL);
    assert_near(grad_of(g, "tax"), subtotal, TOL);
    nb_explain_free(e);
    nb_graph_free(g);
}

/* Quiz 01, 3 at (a, b) = (2, 3): x = ab = 6, y = a + b = 5, L = xy. a and
 * b are used twice; what arrives from x (yb = 15, ya = 10) and from y
 * (x = 6 each) adds up to dL/da = 21, dL/db = 16. */
static void test_fan_out_sum(void **state)
{
    (void)state;
    nb_node loss;
    nb_graph *g = example("quiz_chain", &loss);
    nb_explain *e = record(g, loss);
    assert_near(edge(e, g, "L", 0, 0), 5, TOL); /* dL/dx = y */
    assert_near(edge(e, g, "L", 1, 0), 6, TOL); /* dL/dy = x */
    assert_near(edge(e, g, "x", 0, 0), 15, TOL);
    assert_near(edge(e, g, "x", 1, 0), 10, TOL);
    assert_near(edge(e, g, "y", 0, 0), 6, TOL);
    assert_near(edge(e, g, "y", 1, 0), 6, TOL);
    assert_near(grad_of(g, "a"), 21, TOL);
    assert_near(grad_of(g, "b"), 16, TOL);
    assert_near(grad_of(g, "a"), edge(e, g, "x", 0, 0) + edge(e, g, "y", 0, 0), TOL);
    assert_near(grad_of(g, "b"), edge(e, g, "x", 1, 0) + edge(e, g, "y", 1, 0), TOL);
    nb_explain_free(e);
    nb_graph_free(g);
}

/* The sigmoid at 0.5 node by node: dy/dx = y (1 - y). y_fused uses x too
 * but comes after the loss y: nothing flows back from it, and the
 * constant -1 takes no gradient. */
static void test_sigmoid_edges(void **state)
{
    (void)state;
    nb_node loss;
    nb_graph *g = example("sigmoid", &loss);
    nb_explain *e = record(g, loss);
    double y = 1 / (1 + exp(-0.5));
    assert_near(grad_of(g, "x"), y * (1 - y), TOL);
    /* dL/dneg_x = -y (1 - y); times the constant -1 on the way to x. */
    assert_near(grad_of(g, "neg_x"), -y * (1 - y), TOL);
    assert_near(edge(e, g, "neg_x", 0, 0), y * (1 - y), TOL);
    assert_near(edge(e, g, "y", 0, 0), -y * y, TOL); /* d(1/d)/dd = -y^2 */
    assert_null(nb_explain_edge_grad(e, nb_graph_find(g, "neg_x"), 1));
    assert_null(nb_explain_edge_grad(e, nb_graph_find(g, "y_fused"), 0));
    /* Backward steps: y, denominator, exp_neg_x, neg_x, x (5 of 8 nodes). */
    assert_int_equal(nb_explain_step_count(e), 8 + 5);
    nb_explain_free(e);
    nb_graph_free(g);
}

/* Notes 002: from z2 = a1 W2 + b2 the gradient into a1 is dz2 W2^T, with
 * dz2 = p - t for the softmax p of z2 (computed here in double). */
static void test_two_layer_edges(void **state)
{
    (void)state;
    nb_node loss;
    nb_graph *g = example("two_layer", &loss);
    nb_explain *e = record(g, loss);
    const double x[2] = {1, 2}, W1[4] = {0.1, -0.2, 0.4, 0.3}, W2[4] = {0.5, -0.1, -0.3, 0.2};
    double a1[2], z2[2], p[2], dz2[2];
    for (int j = 0; j < 2; j++) a1[j] = 1 / (1 + exp(-(x[0] * W1[j] + x[1] * W1[2 + j])));
    for (int j = 0; j < 2; j++) z2[j] = a1[0] * W2[j] + a1[1] * W2[2 + j];
    double s = exp(z2[0]) + exp(z2[1]);
    for (int j = 0; j < 2; j++) p[j] = exp(z2[j]) / s, dz2[j] = p[j] - (j == 0);
    for (int i = 0; i < 2; i++) {
        double want = dz2[0] * W2[2 * i] + dz2[1] * W2[2 * i + 1];
        assert_near(edge(e, g, "z2", 0, (size_t)i), want, TOL);
        assert_near(nb_node_grad(g, nb_graph_find(g, "a1"))[i], want, TOL);
        assert_near(edge(e, g, "z2", 2, (size_t)i), dz2[i], TOL); /* db2 */
    }
    assert_near(edge(e, g, "z2", 1, 1), a1[0] * dz2[1], TOL); /* dW2[0][1] */
    /* y = softmax(z2) comes after the loss: no gradient from it. */
    assert_null(nb_explain_edge_grad(e, nb_graph_find(g, "y"), 0));
    nb_explain_free(e);
    nb_graph_free(g);
}

/* x * x names one node twice: the first slot holds both parts, 2x dy. */
static void test_same_input_twice(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape0());
    assert_ok(nb_input_set_grad(g, x, 1));
    nb_node sq = nb_mul(g, x, x);
    assert_ok(nb_graph_compile(g));
    nb_real three = 3;
    assert_ok(nb_graph_feed(g, x, &three, 1));
    nb_explain *e = record(g, sq);
    assert_near(nb_explain_edge_grad(e, sq, 0)[0], 6, TOL);
    assert_null(nb_explain_edge_grad(e, sq, 1));
    assert_near(nb_node_grad(g, x)[0], 6, TOL);
    nb_explain_free(e);
    nb_graph_free(g);
}

/* quiz_product has no gradient: forward steps only. */
static void test_forward_only(void **state)
{
    (void)state;
    nb_node loss;
    nb_graph *g = example("quiz_product", &loss);
    assert_int_equal(loss, NB_NONE);
    nb_explain *e = record(g, loss);
    assert_int_equal(nb_explain_step_count(e), 4);
    for (int s = 0; s < 4; s++) assert_int_equal(nb_explain_step_pass(e, s), NB_PASS_FORWARD);
    assert_null(nb_explain_edge_grad(e, nb_graph_find(g, "Ab"), 0));
    /* (2 3 1; -1 2 3)(5 -2 3)^T = (2, 0). */
    const nb_real *v = nb_node_value(g, nb_graph_find(g, "Ab_T"));
    assert_near(v[0], 2 * 5 - 3 * 2 + 3, TOL);
    assert_near(v[1], -5 - 4 + 9, TOL);
    nb_explain_free(e);
    nb_graph_free(g);
}

static void test_rules(void **state)
{
    (void)state;
    nb_node loss;
    nb_graph *g = example("apple_orange", &loss);
    char buf[256];
    assert_ok(nb_explain_rule(g, loss, buf, sizeof buf));
    assert_string_equal(buf, "swap the inputs: ∂L/∂subtotal = ∂L/∂price · tax, ∂L/∂tax = "
                             "∂L/∂price · subtotal");
    assert_ok(nb_explain_rule(g, nb_graph_find(g, "tax"), buf, sizeof buf));
    assert_string_equal(buf, ""); /* a leaf */
    /* Short buffers end in "..." and never cut a character in two. */
    for (size_t size = 1; size < 40; size++) {
        char small[40];
        assert_ok(nb_explain_rule(g, loss, small, size));
        assert_true(strlen(small) < size);
        size_t n = strlen(small);
        if (n) assert_true(((unsigned char)small[n - 1] & 0xc0) != 0xc0);
        if (size > 4) assert_non_null(strstr(small, "..."));
    }
    assert_int_equal(nb_explain_rule(g, 99, buf, sizeof buf), NB_ERR_ARGUMENT);
    nb_graph_free(g);
}

static void test_errors(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node loss;
    assert_int_equal(nb_example_build(g, "pear", NULL, 0, &loss), NB_ERR_NOT_FOUND);
    assert_non_null(strstr(nb_last_error(), "apple_orange"));
    const double one = 1;
    assert_int_equal(nb_example_build(g, "square_of_sum", &one, 1, &loss), NB_ERR_ARGUMENT);
    assert_int_equal(nb_graph_node_count(g), 0);
    /* Numbers the graph's type cannot hold are refused, not shown as inf or 0. */
    const double huge = sizeof(nb_real) == sizeof(float) ? 1e39 : INFINITY;
    const double tiny = sizeof(nb_real) == sizeof(float) ? 1e-300 : NAN;
    const double bad[][2] = {{huge, 1}, {1, -huge}, {tiny, 1}, {NAN, 1}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(nb_example_build(g, "square_of_sum", bad[i], 2, &loss), NB_ERR_ARGUMENT);
        assert_non_null(strstr(nb_last_error(), "outside what this build's numbers"));
        assert_int_equal(nb_graph_node_count(g), 0);
    }
    const double xy[2] = {1, 4};
    assert_ok(nb_example_build(g, "square_of_sum", xy, 2, &loss));
    assert_int_equal(nb_example_build(g, "square_of_sum", xy, 2, &loss), NB_ERR_ARGUMENT);
    nb_explain *e = NULL;
    assert_int_equal(nb_explain_graph(g, 42, &e), NB_ERR_ARGUMENT);
    assert_null(e);
    e = record(g, loss);
    assert_near(nb_node_grad(g, nb_graph_find(g, "x"))[0], 2 * (1 + 4), TOL);
    nb_explain_free(e);
    nb_graph_free(g);
    /* A loss that is not a scalar. */
    g = example("quiz_product", &loss);
    nb_node ab = nb_graph_find(g, "Ab");
    assert_int_not_equal(nb_explain_graph(g, ab, &e), NB_OK);
    assert_null(e);
    nb_graph_free(g);
    /* NULL and out-of-range arguments: an error, or a safe no-op. */
    char buf[8];
    assert_int_equal(nb_example_build(NULL, "apple_orange", NULL, 0, &loss), NB_ERR_ARGUMENT);
    assert_int_equal(nb_explain_graph(NULL, 0, &e), NB_ERR_ARGUMENT);
    assert_int_equal(nb_explain_graph(NULL, 0, NULL), NB_ERR_ARGUMENT);
    assert_int_equal(nb_explain_model(NULL, NULL, 0, &e), NB_ERR_ARGUMENT);
    assert_int_equal(nb_explain_rule(NULL, 0, buf, sizeof buf), NB_ERR_ARGUMENT);
    assert_int_equal(nb_explain_write_html(NULL, "t", "/tmp/x.html"), NB_ERR_ARGUMENT);
    assert_int_equal(nb_explain_step_count(NULL), 0);
    assert_int_equal(nb_explain_step_node(NULL, 0), NB_NONE);
    assert_int_equal(nb_explain_loss(NULL), NB_NONE);
    assert_null(nb_explain_edge_grad(NULL, 0, 0));
    nb_explain_free(NULL);
    assert_int_equal(nb_example_number_count(NULL), 0);
    assert_int_equal(nb_example_count(), 9);
    assert_null(nb_example_name(9));
    assert_null(nb_example_about("pear"));
    assert_string_equal(nb_example_number_name("quiz_gradient", 2), "z");
    assert_near(nb_example_number_default("sigmoid", 0), 0.5, TOL);
}

/* A model on one sample: the loss is -ln softmax(output)[label] of that
 * sample, and the input gets a gradient too. */
static void test_model_sample(void **state)
{
    (void)state;
    nb_model *m = NULL;
    assert_ok(nb_model_create("dense:3,tanh,dense:2", 2, "softmax_ce", 4, &m));
    assert_ok(nb_model_init(m, 7));
    nb_dataset xor ;
    assert_ok(nb_dataset_xor(&xor));
    nb_explain *e = NULL;
    assert_int_equal(nb_explain_model(m, &xor, 4, &e), NB_ERR_ARGUMENT);
    assert_ok(nb_explain_model(m, &xor, 2, &e));
    nb_graph *g = nb_model_graph(m);
    const nb_real *out = nb_node_value(g, nb_model_output(m));
    double s = exp(out[0]) + exp(out[1]);
    double want = -log(exp(out[xor.labels[2]]) / s);
    assert_near(nb_node_value(g, nb_model_loss(m))[0], want, TOL);
    assert_non_null(nb_node_grad(g, nb_model_input(m)));
    int steps = nb_explain_step_count(e);
    assert_int_equal(nb_explain_step_pass(e, steps - 1), NB_PASS_BACKWARD);
    nb_explain_free(e);
    nb_dataset_free(&xor);
    nb_model_free(m);
}

/* The page: whole, self-contained; with no dot to run, no file at all. */
static void test_page(void **state)
{
    (void)state;
    char dir[] = "/tmp/nabla-explain-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/page.html", dir);
    nb_node loss;
    nb_graph *g = example("quiz_chain", &loss);
    nb_explain *e = record(g, loss);
    assert_ok(nb_explain_write_html(e, "quiz <chain> & co", path));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "<svg"));
    /* Graphviz writes the id node-4 with its minus as &#45;. */
    assert_true(strstr(text, "id=\"node-4\"") || strstr(text, "id=\"node&#45;4\""));
    assert_non_null(strstr(text, "quiz &lt;chain&gt; &amp; co"));
    assert_null(strstr(text, "quiz <chain>"));
    assert_null(strstr(text, "src=\""));
    assert_null(strstr(text, "<link"));
    /* A failed layout leaves the old page as it was. */
    setenv("NABLA_DOT", "/nonexistent/dot", 1);
    assert_int_equal(nb_explain_write_html(e, "again", path), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "graphviz"));
    unsetenv("NABLA_DOT");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    unlink(path);
    rmdir(dir);
    nb_explain_free(e);
    nb_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apple_orange_steps),
        cmocka_unit_test(test_fan_out_sum),
        cmocka_unit_test(test_sigmoid_edges),
        cmocka_unit_test(test_two_layer_edges),
        cmocka_unit_test(test_same_input_twice),
        cmocka_unit_test(test_forward_only),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_model_sample),
        cmocka_unit_test(test_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
