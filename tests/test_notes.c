/* The worked examples of the lecture notes (the programs in examples/), each graph
 * checked against values computed here with plain double arithmetic from
 * the formulas, and the trace and Graphviz output. Where the notes print a
 * different number, a comment gives both. */
#include "check.h"

#include "../examples/notes_graphs.h"

#include <ctype.h>
#include <string.h>

static double value(nb_graph *g, nb_node node, size_t i)
{
    const nb_real *v = nb_node_value(g, node);
    assert_non_null(v);
    return v[i];
}

static double grad(nb_graph *g, nb_node node, size_t i)
{
    const nb_real *d = nb_node_grad(g, node);
    assert_non_null(d);
    return d[i];
}

static double sigmoid(double x)
{
    return 1 / (1 + exp(-x));
}

/* Notes 001: price = (100 * 2 + 150 * 3) * 1.1 = 715 (the notes agree). */
static void test_apple_orange(void **state)
{
    (void)state;
    const double apple = 100, n_apple = 2, orange = 150, n_orange = 3, tax = 1.1;
    nb_graph *g = nb_graph_create();
    notes_apple_orange m;
    assert_ok(notes_build_apple_orange(g, &m));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, m.price));
    double subtotal = apple * n_apple + orange * n_orange;
    assert_near(value(g, m.apple_total, 0), apple * n_apple, TOL);
    assert_near(value(g, m.orange_total, 0), orange * n_orange, TOL);
    assert_near(value(g, m.subtotal, 0), subtotal, TOL);
    assert_near(value(g, m.price, 0), subtotal * tax, TOL);
    assert_near(value(g, m.price, 0), 715, TOL);
    /* A product passes each factor the other one: d(ab)/da = b. */
    assert_near(grad(g, m.price, 0), 1, TOL);
    assert_near(grad(g, m.subtotal, 0), tax, TOL);
    assert_near(grad(g, m.apple_total, 0), tax, TOL);
    assert_near(grad(g, m.orange_total, 0), tax, TOL);
    assert_near(grad(g, m.tax, 0), subtotal, TOL);
    assert_near(grad(g, m.apple_price, 0), n_apple * tax, TOL);
    assert_near(grad(g, m.apple_count, 0), apple * tax, TOL);
    assert_near(grad(g, m.orange_price, 0), n_orange * tax, TOL);
    assert_near(grad(g, m.orange_count, 0), orange * tax, TOL);
    nb_graph_free(g);
}

/* Notes 001/003: z = (x + y)^2, dz/dx = dz/dy = 2 (x + y). */
static void check_square_of_sum(double x, double y)
{
    nb_graph *g = nb_graph_create();
    notes_square_of_sum m;
    assert_ok(notes_build_square_of_sum(g, &m, x, y));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, m.z));
    assert_near(value(g, m.t, 0), x + y, TOL);
    assert_near(value(g, m.z, 0), (x + y) * (x + y), TOL);
    assert_near(grad(g, m.t, 0), 2 * (x + y), TOL);
    assert_near(grad(g, m.x, 0), 2 * (x + y), TOL);
    assert_near(grad(g, m.y, 0), 2 * (x + y), TOL);
    nb_graph_free(g);
}

static void test_square_of_sum(void **state)
{
    (void)state;
    check_square_of_sum(3, 2); /* the example's default */
    check_square_of_sum(1.5, -4);
}

/* Notes 003: the sigmoid node by node and fused, for a few x. */
static void check_sigmoid(double x)
{
    nb_graph *g = nb_graph_create();
    notes_sigmoid m;
    assert_ok(notes_build_sigmoid(g, &m, x));
    assert_ok(nb_graph_forward(g));
    double e = exp(-x), y = 1 / (1 + e);
    assert_near(value(g, m.neg_x, 0), -x, TOL);
    assert_near(value(g, m.exp_neg_x, 0), e, TOL);
    assert_near(value(g, m.denominator, 0), 1 + e, TOL);
    assert_near(value(g, m.y, 0), y, TOL);
    assert_near(value(g, m.y_fused, 0), y, TOL);

    /* Figure 5-20 from right to left: 1/x gives -y^2, +1 passes it on,
     * exp multiplies by exp(-x), x -1 by -1: y^2 exp(-x) = y (1 - y). */
    assert_ok(nb_graph_backward(g, m.y));
    assert_near(grad(g, m.y, 0), 1, TOL);
    assert_near(grad(g, m.denominator, 0), -y * y, TOL);
    assert_near(grad(g, m.exp_neg_x, 0), -y * y, TOL);
    assert_near(grad(g, m.neg_x, 0), -y * y * e, TOL);
    assert_near(grad(g, m.x, 0), y * y * e, TOL);
    assert_near(grad(g, m.x, 0), y * (1 - y), TOL);
    assert_near(grad(g, m.y_fused, 0), 0, TOL); /* not on this pass's path */

    assert_ok(nb_graph_backward(g, m.y_fused));
    assert_near(grad(g, m.x, 0), y * (1 - y), TOL);
    assert_near(grad(g, m.y, 0), 0, TOL);
    nb_graph_free(g);
}

static void test_sigmoid_graph(void **state)
{
    (void)state;
    check_sigmoid(0.5); /* the example's default */
    check_sigmoid(-2);
    check_sigmoid(3);
}

/* Notes 002, computed here from the formulas:
 *   z1 = x W1 + b1, a1 = sigmoid(z1), z2 = a1 W2 + b2, y = softmax(z2),
 *   L = -sum t log y; dz2 = y - t, dW2 = a1^T dz2, db2 = dz2,
 *   da1 = dz2 W2^T, dz1 = da1 a1 (1 - a1), dW1 = x^T dz1, db1 = dz1,
 *   dx = dz1 W1^T.
 * The notes' own numbers, where they differ (truth to 3 digits):
 *   z2 = (0.116, 0.049): it is (0.176, 0.049) (they wrote z2 = x W2 + b2);
 *   L = 0.671: it is 0.632 (-log 0.532 = 0.631);
 *   dA1 = (-0.374, 0.140): it is (-0.281, 0.234) (they used W2, not W2^T);
 *   dz1 = (-0.077, 0.034): it is (-0.0577, 0.0562);
 *   dW1 = (-0.077, 0.034; -0.154, 0.068): it is (-0.0577, 0.0562; -0.115, 0.112);
 *   db1 = (-0.077, 0.034): it is (-0.0577, 0.0562);
 *   dX = (0.0059, 0.0256) with W1 copied as (0.1 0.2; 0.3 0.4): it is (-0.0170, -0.00622);
 *   the summary's dW2 second row (-0.140, 0.140): it is (-0.280, 0.280);
 *   the summary's db2 (-0.469, 0.469): it is (-0.468, 0.468). */
static void test_two_layer_softmax(void **state)
{
    (void)state;
    const double x[2] = {1.0, 2.0}, t[2] = {1, 0};
    const double W1[2][2] = {{0.1, -0.2}, {0.4, 0.3}}, W2[2][2] = {{0.5, -0.1}, {-0.3, 0.2}};
    const double b1[2] = {0, 0}, b2[2] = {0, 0};
    double z1[2], a1[2], z2[2], y[2], dz2[2], da1[2], dz1[2], dx[2];
    for (int j = 0; j < 2; j++) {
        z1[j] = x[0] * W1[0][j] + x[1] * W1[1][j] + b1[j];
        a1[j] = sigmoid(z1[j]);
    }
    for (int k = 0; k < 2; k++) z2[k] = a1[0] * W2[0][k] + a1[1] * W2[1][k] + b2[k];
    double denominator = exp(z2[0]) + exp(z2[1]);
    for (int k = 0; k < 2; k++) y[k] = exp(z2[k]) / denominator;
    double loss = -(t[0] * log(y[0]) + t[1] * log(y[1]));
    for (int k = 0; k < 2; k++) dz2[k] = y[k] - t[k];
    for (int j = 0; j < 2; j++) {
        da1[j] = dz2[0] * W2[j][0] + dz2[1] * W2[j][1]; /* dz2 W2^T */
        dz1[j] = da1[j] * a1[j] * (1 - a1[j]);
    }
    for (int i = 0; i < 2; i++) dx[i] = dz1[0] * W1[i][0] + dz1[1] * W1[i][1]; /* dz1 W1^T */

    nb_graph *g = nb_graph_create();
    notes_two_layer m;
    assert_ok(notes_build_two_layer(g, &m));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, m.loss));
    /* The notes' z1 = (0.9, 0.4) is right. */
    assert_near(z1[0], 0.9, 1e-15);
    assert_near(z1[1], 0.4, 1e-15);
    for (int j = 0; j < 2; j++) {
        assert_near(value(g, m.z1, j), z1[j], TOL);
        assert_near(value(g, m.a1, j), a1[j], TOL);
        assert_near(value(g, m.z2, j), z2[j], TOL);
        assert_near(value(g, m.y, j), y[j], TOL);
        assert_near(grad(g, m.z2, j), dz2[j], TOL);
        assert_near(grad(g, m.b2, j), dz2[j], TOL);
        assert_near(grad(g, m.a1, j), da1[j], TOL);
        assert_near(grad(g, m.z1, j), dz1[j], TOL);
        assert_near(grad(g, m.b1, j), dz1[j], TOL);
        assert_near(grad(g, m.x, j), dx[j], TOL);
        assert_near(grad(g, m.y, j), 0, TOL); /* a display branch, off the loss path */
        for (int i = 0; i < 2; i++) {
            assert_near(grad(g, m.W1, (size_t)(i * 2 + j)), x[i] * dz1[j], TOL);
            assert_near(grad(g, m.W2, (size_t)(i * 2 + j)), a1[i] * dz2[j], TOL);
        }
    }
    assert_near(value(g, m.loss, 0), loss, TOL);
    assert_null(nb_node_grad(g, m.t)); /* the label carries no gradient */
    nb_graph_free(g);
}

/* Notes 004: softmax of (1, 2, 1.5, 0.6) (the notes' 0.166, 0.450, 0.273,
 * 0.111 are right to 3 digits), SSE and MSE of (0.1, 0.7, 0.2) against
 * (0, 1, 0). The notes write (1 - 0.7)^2 = 0.49 and SSE = 0.54; it is
 * 0.09 and 0.01 + 0.09 + 0.04 = 0.14. */
static void test_softmax_sse(void **state)
{
    (void)state;
    const double x[4] = {1, 2, 1.5, 0.6}, y_hat[3] = {0.1, 0.7, 0.2}, t[3] = {0, 1, 0};
    double sum = 0, sse = 0;
    for (int i = 0; i < 4; i++) sum += exp(x[i]);
    for (int i = 0; i < 3; i++) sse += (y_hat[i] - t[i]) * (y_hat[i] - t[i]);
    assert_near(sse, 0.14, 1e-15);

    nb_graph *g = nb_graph_create();
    notes_softmax_sse m;
    assert_ok(notes_build_softmax_sse(g, &m));
    assert_ok(nb_graph_forward(g));
    for (int i = 0; i < 4; i++) assert_near(value(g, m.y, (size_t)i), exp(x[i]) / sum, TOL);
    assert_near(value(g, m.sse, 0), sse, TOL);
    assert_near(value(g, m.mse, 0), sse / 3, TOL);
    assert_ok(nb_graph_backward(g, m.mse));
    for (int i = 0; i < 3; i++)
        assert_near(grad(g, m.y_hat, (size_t)i), 2 * (y_hat[i] - t[i]) / 3, TOL);
    assert_ok(nb_graph_backward(g, m.sse));
    for (int i = 0; i < 3; i++)
        assert_near(grad(g, m.y_hat, (size_t)i), 2 * (y_hat[i] - t[i]), TOL);
    assert_null(nb_node_grad(g, m.y)); /* x has no gradient, so neither has y */
    nb_graph_free(g);
}

/* Notes 004, Quiz 01. */
static void test_quiz(void **state)
{
    (void)state;
    /* 1. (2 3 1; -1 2 3)(5, -2, 3)^T = (2*5 + 3*-2 + 1*3, -5 - 4 + 9) = (7, 0). */
    nb_graph *g = nb_graph_create();
    notes_quiz_product q1;
    assert_ok(notes_build_quiz_product(g, &q1));
    assert_ok(nb_graph_forward(g));
    assert_near(value(g, q1.transposed, 0), 2 * 5 + 3 * -2 + 1 * 3, TOL);
    assert_near(value(g, q1.transposed, 1), -1 * 5 + 2 * -2 + 3 * 3, TOL);
    nb_graph_free(g);

    /* 2. f = xy + yz: grad f = (y, x + z, y). */
    const double x = 1, y = 2, z = 3;
    g = nb_graph_create();
    notes_quiz_gradient q2;
    assert_ok(notes_build_quiz_gradient(g, &q2, x, y, z));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, q2.f));
    assert_near(value(g, q2.f, 0), x * y + y * z, TOL);
    assert_near(grad(g, q2.x, 0), y, TOL);
    assert_near(grad(g, q2.y, 0), x + z, TOL);
    assert_near(grad(g, q2.z, 0), y, TOL);
    nb_graph_free(g);

    /* 3. L = XY with X = ab, Y = a + b: dL/da = Yb + X, dL/db = Ya + X. */
    const double a = 2, b = 3, X = a * b, Y = a + b;
    g = nb_graph_create();
    notes_quiz_chain q3;
    assert_ok(notes_build_quiz_chain(g, &q3, a, b));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, q3.L));
    assert_near(value(g, q3.L, 0), X * Y, TOL);
    assert_near(grad(g, q3.a, 0), Y * b + X, TOL);
    assert_near(grad(g, q3.b, 0), Y * a + X, TOL);
    nb_graph_free(g);
}

/* Notes 004, "Another Example", from the chain the notes write out:
 *   dL/dy = 2 (y - 2), dL/dF = dL/dy y (1 - y), dL/dv = dL/dF dF/dv,
 *   dL/du = dL/dv (-1 / u^2), dL/dw1_i = dL/du_i x1, dL/dw2_i = dL/du_i x2.
 * The notes give no number; dL/dw_{52} (here w2_5) = -0.0576090612. */
static void test_another_example(void **state)
{
    (void)state;
    const double w1[5] = {0.1, 0.5, 0.3, 2.1, -0.2}, w2[5] = {1.1, 0.0, 0.4, -0.1, 1.3};
    const double x1 = 1.7, x2 = 3.5;
    double u[5], v[5];
    for (int i = 0; i < 5; i++) {
        u[i] = w1[i] * x1 + w2[i] * x2;
        v[i] = 1 / u[i];
    }
    double F = v[0] * v[1] + v[2] / v[3] - v[4];
    double y = sigmoid(F), L = (y - 2) * (y - 2);
    double dy = 2 * (y - 2), dF = dy * y * (1 - y);
    /* dF/dv: v2, v1, 1/v4, -v3/v4^2, -1 */
    double dv[5] = {dF * v[1], dF * v[0], dF / v[3], -dF * v[2] / (v[3] * v[3]), -dF};
    assert_near(dF * -1 * (-1 / (u[4] * u[4])) * x2, -0.0576090612, 1e-9); /* python3 */

    nb_graph *g = nb_graph_create();
    notes_another m;
    assert_ok(notes_build_another(g, &m));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, m.L));
    for (int i = 0; i < 5; i++) {
        double du = dv[i] * (-1 / (u[i] * u[i]));
        assert_near(value(g, m.u[i], 0), u[i], TOL);
        assert_near(value(g, m.v[i], 0), v[i], TOL);
        assert_near(grad(g, m.v[i], 0), dv[i], TOL);
        assert_near(grad(g, m.u[i], 0), du, TOL);
        assert_near(grad(g, m.w1[i], 0), du * x1, TOL);
        assert_near(grad(g, m.w2[i], 0), du * x2, TOL);
    }
    assert_near(value(g, m.v1v2, 0), v[0] * v[1], TOL);
    assert_near(value(g, m.v3v4, 0), v[2] / v[3], TOL);
    assert_near(value(g, m.F, 0), F, TOL);
    assert_near(value(g, m.y, 0), y, TOL);
    assert_near(value(g, m.y_minus_2, 0), y - 2, TOL);
    assert_near(value(g, m.L, 0), L, TOL);
    assert_near(grad(g, m.y, 0), dy, TOL);
    assert_near(grad(g, m.F, 0), dF, TOL);
    assert_near(grad(g, m.v1v2, 0), dF, TOL);
    assert_near(grad(g, m.v3v4, 0), dF, TOL);
    assert_null(nb_node_grad(g, m.x1));
    assert_null(nb_node_grad(g, m.two));
    nb_graph_free(g);
}

/* ------------------------------------------------- trace and Graphviz */

/* What fn writes about g, as a string (free it). */
/* noinline: gcc 12 at -O2 mistakes the stream's buffer for a dangling local. */
__attribute__((noinline)) static char *capture(nb_status (*fn)(nb_graph *, FILE *), nb_graph *g,
                                               nb_status *st)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    *st = fn(g, f);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Significant digits of the number at the start of s. */
static int significant_digits(const char *s)
{
    int digits = 0, leading = 1;
    for (; *s && (isdigit((unsigned char)*s) || *s == '.' || *s == '-'); s++) {
        if (!isdigit((unsigned char)*s)) continue;
        if (leading && *s == '0') continue;
        leading = 0;
        digits++;
    }
    return digits;
}

static void test_trace(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    notes_two_layer m;
    assert_ok(notes_build_two_layer(g, &m));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, m.loss));
    nb_status st;
    char *text = capture(nb_graph_print_trace, g, &st);
    assert_ok(st);
    /* Every node in order, with its op and input names. */
    const char *order[] = {"] x = input",
                           "] W1 = param",
                           "] b1 = param",
                           "] z1 = affine(x, W1, b1)  shape [1, 2]",
                           "] a1 = sigmoid(z1)",
                           "] t = input",
                           "] loss = softmax_with_loss(z2, t)  shape []",
                           "] y = softmax(z2)"};
    const char *at = text;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *found = strstr(at, order[i]);
        if (!found) fail_msg("trace lacks \"%s\" (in order):\n%s", order[i], text);
        at = found;
    }
    /* t has no gradient: "-". */
    const char *t = strstr(text, "] t = input");
    assert_non_null(strstr(t, "grad  -\n"));
    /* a1's value printed with 9 significant digits, and right. */
    const char *a1 = strstr(strstr(text, "] a1 = sigmoid"), "value [[");
    assert_non_null(a1);
    a1 += strlen("value [[");
    assert_true(significant_digits(a1) >= 9);
    /* 9 digits: within half a unit of the ninth digit of the graph's value. */
    assert_near(strtod(a1, NULL), value(g, m.a1, 0), 5e-9);
    assert_near(strtod(a1, NULL), sigmoid(0.9), 1e-7);
    free(text);
    nb_graph_free(g);
}

static void test_trace_summarises_large_tensors(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_param(g, "big", nb_shape2(10, 10), nb_init_zeros());
    nb_node s = nb_sum(g, x);
    assert_ok(nb_graph_compile(g));
    nb_real *v = nb_node_value(g, x);
    for (int i = 0; i < 100; i++) v[i] = (nb_real)i;
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, s));
    nb_status st;
    char *text = capture(nb_graph_print_trace, g, &st);
    assert_ok(st);
    assert_non_null(strstr(text, "value [0, 1, 2, "));
    assert_non_null(strstr(text, "(100 values; min 0, max 99, mean 49.5)"));
    assert_null(strstr(text, "98")); /* the full tensor is not printed */
    free(text);
    text = capture(nb_graph_write_dot, g, &st);
    assert_ok(st);
    assert_non_null(strstr(text, "value [0, 1, 2, 3, ...] (100 values; min 0, max 99"));
    free(text);
    nb_graph_free(g);
}

static void test_dot(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    notes_softmax_sse m;
    assert_ok(notes_build_softmax_sse(g, &m));
    /* A name with characters that mean something to Graphviz records/HTML. */
    assert_ok(nb_node_set_name(g, m.mse, "mse <{|}> & 'n'"));
    assert_ok(nb_graph_compile(g));
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, m.sse));
    nb_status st;
    char *text = capture(nb_graph_write_dot, g, &st);
    assert_ok(st);
    assert_true(strncmp(text, "digraph nabla {\n", 16) == 0);
    assert_true(strcmp(text + strlen(text) - 2, "}\n") == 0);
    /* One node per graph node, labelled; edges from inputs to consumers. */
    char want[128];
    for (int i = 0; i < nb_graph_node_count(g); i++) {
        snprintf(want, sizeof want, "  n%d [", i);
        assert_non_null(strstr(text, want));
    }
    snprintf(want, sizeof want, "n%d -> n%d", m.x, m.y);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "n%d -> n%d [label=\"1\"]", m.target, m.sse);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "label=\"sse\\nsse []\\nvalue 0.14\\ngrad 1\""));
    assert_non_null(strstr(text, "label=\"mse <{|}> & 'n'\\nmse []"));
    assert_non_null(strstr(text, "label=\"y\\nsoftmax [4]\\nvalue [0.165636, "));
    assert_non_null(strstr(text, "\\ngrad -\"")); /* x and y have none */
    /* The four kinds look different. */
    assert_non_null(strstr(text, "shape=ellipse")); /* inputs */
    assert_non_null(strstr(text, "dashed"));        /* constants */
    assert_non_null(strstr(text, "rounded"));       /* ops */
    free(text);
    nb_graph_free(g);
}

static void test_errors(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape1(3));
    nb_sum(g, x);
    FILE *sink = fopen("/dev/null", "w");
    assert_non_null(sink);
    /* Not compiled yet: an error, never a crash. */
    assert_int_equal(nb_graph_print_trace(g, sink), NB_ERR_STATE);
    assert_non_null(strstr(nb_last_error(), "compile"));
    assert_int_equal(nb_graph_write_dot(g, sink), NB_ERR_STATE);
    assert_int_equal(nb_graph_print_trace(NULL, sink), NB_ERR_ARGUMENT);
    assert_int_equal(nb_graph_write_dot(NULL, sink), NB_ERR_ARGUMENT);
    assert_ok(nb_graph_compile(g));
    assert_int_equal(nb_graph_print_trace(g, NULL), NB_ERR_ARGUMENT);
    assert_int_equal(nb_graph_write_dot(g, NULL), NB_ERR_ARGUMENT);
    assert_ok(nb_graph_print_trace(g, sink));
    assert_ok(nb_graph_write_dot(g, sink));
    /* A node added after compiling: compile again first. */
    nb_neg(g, x);
    assert_int_equal(nb_graph_print_trace(g, sink), NB_ERR_STATE);
    fclose(sink);
    /* A full disk is reported. */
    assert_ok(nb_graph_compile(g));
    FILE *full = fopen("/dev/full", "w");
    assert_non_null(full);
    assert_int_equal(nb_graph_print_trace(g, full), NB_ERR_IO);
    clearerr(full);
    assert_int_equal(nb_graph_write_dot(g, full), NB_ERR_IO);
    fclose(full);
    nb_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apple_orange),
        cmocka_unit_test(test_square_of_sum),
        cmocka_unit_test(test_sigmoid_graph),
        cmocka_unit_test(test_two_layer_softmax),
        cmocka_unit_test(test_softmax_sse),
        cmocka_unit_test(test_quiz),
        cmocka_unit_test(test_another_example),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_trace_summarises_large_tensors),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
