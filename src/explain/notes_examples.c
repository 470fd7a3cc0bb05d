/* The worked examples of the lecture notes as computational graphs, found
 * by name (nb_example_build). The example programs (examples/), their
 * tests and `nabla explain --example NAME` all build them here, so what a
 * program prints, what a test checks and what a page shows come from the
 * same graph. Built with the public API only. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_VALUES  16 /* values an example sets on one node */
#define MAX_NUMBERS 3  /* numbers an example takes */

/* Set a node's values from doubles: an input is fed, a parameter written. */
static nb_status set_values(nb_graph *g, nb_node node, const double *values, size_t count)
{
    nb_real buf[MAX_VALUES];
    if (count > MAX_VALUES || count != nb_shape_count(nb_node_shape(g, node)))
        return nb_error(NB_ERR_ARGUMENT, "example: node %d takes %zu values, not %zu", node,
                        nb_shape_count(nb_node_shape(g, node)), count);
    for (size_t i = 0; i < count; i++) buf[i] = (nb_real)values[i];
    if (nb_node_is_input(g, node)) return nb_graph_feed(g, node, buf, count);
    if (!nb_node_is_param(g, node) || !nb_node_value(g, node))
        return nb_error(NB_ERR_ARGUMENT, "example: node %d is neither an input nor a parameter",
                        node);
    memcpy(nb_node_value(g, node), buf, count * sizeof *buf);
    return NB_OK;
}

static nb_status set1(nb_graph *g, nb_node node, double value)
{
    return set_values(g, node, &value, 1);
}

/* A scalar input whose gradient we want to see. */
static nb_node scalar_input(nb_graph *g, const char *name)
{
    nb_node x = nb_input(g, name, nb_shape0());
    if (x != NB_NONE) nb_input_set_grad(g, x, 1);
    return x;
}

static nb_node scalar_const(nb_graph *g, const char *name, double value)
{
    nb_real v = (nb_real)value;
    return nb_constant(g, name, nb_shape0(), &v);
}

/* An op node with a name of our choosing (NB_NONE passes through). */
static nb_node named(nb_graph *g, nb_node node, const char *name)
{
    if (node != NB_NONE && nb_node_set_name(g, node, name) != NB_OK) return NB_NONE;
    return node;
}

/* ------------------------------------------------ notes 001: the shopping */

/* price = (apple_price * apple_count + orange_price * orange_count) * tax */
static nb_status build_apple_orange(nb_graph *g, const double *n, nb_node *loss)
{
    (void)n;
    nb_node apple_price = scalar_input(g, "apple_price");
    nb_node apple_count = scalar_input(g, "apple_count");
    nb_node orange_price = scalar_input(g, "orange_price");
    nb_node orange_count = scalar_input(g, "orange_count");
    nb_node tax = scalar_input(g, "tax");
    nb_node apple_total = named(g, nb_mul(g, apple_price, apple_count), "apple_total");
    nb_node orange_total = named(g, nb_mul(g, orange_price, orange_count), "orange_total");
    nb_node subtotal = named(g, nb_add(g, apple_total, orange_total), "subtotal");
    *loss = named(g, nb_mul(g, subtotal, tax), "price");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set1(g, apple_price, 100);
    if (st == NB_OK) st = set1(g, apple_count, 2);
    if (st == NB_OK) st = set1(g, orange_price, 150);
    if (st == NB_OK) st = set1(g, orange_count, 3);
    if (st == NB_OK) st = set1(g, tax, 1.1);
    return st;
}

/* ------------------------------------- notes 001, 003: z = (x + y)^2 */

/* t = x + y, z = t^2; the chain rule gives dz/dx = 2t * 1. */
static nb_status build_square_of_sum(nb_graph *g, const double *n, nb_node *loss)
{
    nb_node x = scalar_input(g, "x");
    nb_node y = scalar_input(g, "y");
    nb_node t = named(g, nb_add(g, x, y), "t");
    *loss = named(g, nb_square(g, t), "z");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set1(g, x, n[0]);
    if (st == NB_OK) st = set1(g, y, n[1]);
    return st;
}

/* ---------------------------------------- notes 003: the sigmoid layer */

/* The notes' figure 5-19, one node per step:
 *   neg_x = x * -1, exp_neg_x = exp(neg_x), denominator = exp_neg_x + 1,
 *   y = 1 / denominator
 * beside the fused op y_fused = sigmoid(x); both must agree, and so must
 * their gradients dy/dx = y (1 - y). The backward pass starts at y. */
static nb_status build_sigmoid(nb_graph *g, const double *n, nb_node *loss)
{
    nb_node x = scalar_input(g, "x");
    nb_node minus_one = scalar_const(g, "minus_one", -1);
    nb_node neg_x = named(g, nb_mul(g, x, minus_one), "neg_x");
    nb_node exp_neg_x = named(g, nb_exp(g, neg_x), "exp_neg_x");
    nb_node one = scalar_const(g, "one", 1);
    nb_node denominator = named(g, nb_add(g, exp_neg_x, one), "denominator");
    *loss = named(g, nb_reciprocal(g, denominator), "y");
    named(g, nb_sigmoid(g, x), "y_fused");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set1(g, x, n[0]);
    return st;
}

/* ------------------------- notes 002: two layers and softmax-with-loss */

/* Affine -> Sigmoid -> Affine -> Softmax-with-Loss:
 *   z1 = x W1 + b1, a1 = sigmoid(z1), z2 = a1 W2 + b2,
 *   loss = -sum t log softmax(z2)
 * y = softmax(z2) is a side branch that only shows the probabilities (the
 * loss computes its own softmax), so its gradient stays 0. */
static nb_status build_two_layer(nb_graph *g, const double *n, nb_node *loss)
{
    (void)n;
    const double xv[2] = {1.0, 2.0}, tv[2] = {1, 0}, zeros[2] = {0, 0};
    const double W1v[4] = {0.1, -0.2, 0.4, 0.3}, W2v[4] = {0.5, -0.1, -0.3, 0.2};
    nb_node x = nb_input(g, "x", nb_shape2(1, 2));
    if (x != NB_NONE) nb_input_set_grad(g, x, 1); /* dX of the notes */
    nb_node W1 = nb_param(g, "W1", nb_shape2(2, 2), nb_init_zeros());
    nb_node b1 = nb_param(g, "b1", nb_shape1(2), nb_init_zeros());
    nb_node z1 = named(g, nb_affine(g, x, W1, b1), "z1");
    nb_node a1 = named(g, nb_sigmoid(g, z1), "a1");
    nb_node W2 = nb_param(g, "W2", nb_shape2(2, 2), nb_init_zeros());
    nb_node b2 = nb_param(g, "b2", nb_shape1(2), nb_init_zeros());
    nb_node z2 = named(g, nb_affine(g, a1, W2, b2), "z2");
    nb_node t = nb_input(g, "t", nb_shape2(1, 2));
    *loss = named(g, nb_softmax_with_loss(g, z2, t), "loss");
    named(g, nb_softmax(g, z2), "y");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set_values(g, x, xv, 2);
    if (st == NB_OK) st = set_values(g, t, tv, 2);
    if (st == NB_OK) st = set_values(g, W1, W1v, 4);
    if (st == NB_OK) st = set_values(g, b1, zeros, 2);
    if (st == NB_OK) st = set_values(g, W2, W2v, 4);
    if (st == NB_OK) st = set_values(g, b2, zeros, 2);
    return st;
}

/* ---------------------------------- notes 004: softmax, SSE, MSE, quiz */

/* y = softmax(x) of the notes' x = (1, 2, 1.5, 0.6), and the losses of the
 * output y_hat = (0.1, 0.7, 0.2) against the target (0, 1, 0):
 *   sse = sum (y_hat - t)^2, mse = sse / n
 * The backward pass starts at sse. */
static nb_status build_softmax_sse(nb_graph *g, const double *n, nb_node *loss)
{
    (void)n;
    const double xv[4] = {1, 2, 1.5, 0.6}, y_hat_v[3] = {0.1, 0.7, 0.2};
    const nb_real target_v[3] = {0, 1, 0};
    nb_node x = nb_input(g, "x", nb_shape1(4));
    named(g, nb_softmax(g, x), "y");
    nb_node y_hat = nb_input(g, "y_hat", nb_shape1(3));
    if (y_hat != NB_NONE) nb_input_set_grad(g, y_hat, 1);
    nb_node target = nb_constant(g, "target", nb_shape1(3), target_v);
    *loss = named(g, nb_sse(g, y_hat, target), "sse");
    named(g, nb_mse(g, y_hat, target), "mse");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set_values(g, x, xv, 4);
    if (st == NB_OK) st = set_values(g, y_hat, y_hat_v, 3);
    return st;
}

/* Quiz 01, 1: the transpose of (2 3 1; -1 2 3)(5 -2 3)^T, a [2, 1] column
 * turned into a [1, 2] row (reshape is the transpose of a vector). No
 * gradient: a forward pass only. */
static nb_status build_quiz_product(nb_graph *g, const double *n, nb_node *loss)
{
    (void)n;
    const double av[6] = {2, 3, 1, -1, 2, 3}, bv[3] = {5, -2, 3};
    nb_node a = nb_input(g, "A", nb_shape2(2, 3));
    nb_node b = nb_input(g, "b", nb_shape2(3, 1));
    nb_node product = named(g, nb_matmul(g, a, b), "Ab");
    named(g, nb_reshape(g, product, nb_shape2(1, 2)), "Ab_T");
    *loss = NB_NONE;
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set_values(g, a, av, 6);
    if (st == NB_OK) st = set_values(g, b, bv, 3);
    return st;
}

/* Quiz 01, 2: f(x, y, z) = x y + y z, so grad f = (y, x + z, y). */
static nb_status build_quiz_gradient(nb_graph *g, const double *n, nb_node *loss)
{
    nb_node x = scalar_input(g, "x");
    nb_node y = scalar_input(g, "y");
    nb_node z = scalar_input(g, "z");
    nb_node xy = named(g, nb_mul(g, x, y), "xy");
    nb_node yz = named(g, nb_mul(g, y, z), "yz");
    *loss = named(g, nb_add(g, xy, yz), "f");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set1(g, x, n[0]);
    if (st == NB_OK) st = set1(g, y, n[1]);
    if (st == NB_OK) st = set1(g, z, n[2]);
    return st;
}

/* Quiz 01, 3: L(x, y) = x y with (x, y) = f(a, b) = (a b, a + b); by the
 * chain rule dL/da = y b + x (and dL/db = y a + x). a is used twice: the
 * graph sums the two gradients flowing back into it. */
static nb_status build_quiz_chain(nb_graph *g, const double *n, nb_node *loss)
{
    nb_node a = scalar_input(g, "a");
    nb_node b = scalar_input(g, "b");
    nb_node x = named(g, nb_mul(g, a, b), "x");
    nb_node y = named(g, nb_add(g, a, b), "y");
    *loss = named(g, nb_mul(g, x, y), "L");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set1(g, a, n[0]);
    if (st == NB_OK) st = set1(g, b, n[1]);
    return st;
}

/* --------------------------------- notes 004: "Another Example" */

/* Five hidden units u_i = w1_i x1 + w2_i x2 (the table's w_{1_i}, w_{2_i}:
 * weight from input 1 or 2 to unit i), the activation v_i = 1 / u_i,
 *   F = v1 v2 + v3 / v4 - v5,  y = sigmoid(F),  L = (y - 2)^2.
 * The notes ask for dL/dw_{52} = dL/du5 * x2: the weight from x2 into unit
 * 5, which the table calls w_{2_5} (= 1.3), here w2_5. */
#define UNITS 5
static nb_status build_another(nb_graph *g, const double *n, nb_node *loss)
{
    (void)n;
    /* The notes' table. */
    const double w1v[UNITS] = {0.1, 0.5, 0.3, 2.1, -0.2};
    const double w2v[UNITS] = {1.1, 0.0, 0.4, -0.1, 1.3};
    nb_node w1[UNITS], w2[UNITS], v[UNITS];
    char name[NB_NAME_MAX];
    nb_node x1 = nb_input(g, "x1", nb_shape0());
    nb_node x2 = nb_input(g, "x2", nb_shape0());
    for (int i = 0; i < UNITS; i++) {
        snprintf(name, sizeof name, "w1_%d", i + 1);
        w1[i] = nb_param(g, name, nb_shape0(), nb_init_zeros());
        snprintf(name, sizeof name, "w2_%d", i + 1);
        w2[i] = nb_param(g, name, nb_shape0(), nb_init_zeros());
        snprintf(name, sizeof name, "w1_%d*x1", i + 1);
        nb_node a = named(g, nb_mul(g, w1[i], x1), name);
        snprintf(name, sizeof name, "w2_%d*x2", i + 1);
        nb_node b = named(g, nb_mul(g, w2[i], x2), name);
        snprintf(name, sizeof name, "u%d", i + 1);
        nb_node u = named(g, nb_add(g, a, b), name);
        snprintf(name, sizeof name, "v%d", i + 1);
        v[i] = named(g, nb_reciprocal(g, u), name);
    }
    nb_node v1v2 = named(g, nb_mul(g, v[0], v[1]), "v1*v2");
    nb_node v3v4 = named(g, nb_div(g, v[2], v[3]), "v3/v4");
    nb_node sum = named(g, nb_add(g, v1v2, v3v4), "v1*v2+v3/v4");
    nb_node F = named(g, nb_sub(g, sum, v[4]), "F");
    nb_node y = named(g, nb_sigmoid(g, F), "y");
    nb_node two = scalar_const(g, "two", 2);
    nb_node y_minus_2 = named(g, nb_sub(g, y, two), "y-2");
    *loss = named(g, nb_square(g, y_minus_2), "L");
    nb_status st = nb_graph_compile(g);
    if (st == NB_OK) st = set1(g, x1, 1.7);
    if (st == NB_OK) st = set1(g, x2, 3.5);
    for (int i = 0; i < UNITS && st == NB_OK; i++) {
        st = set1(g, w1[i], w1v[i]);
        if (st == NB_OK) st = set1(g, w2[i], w2v[i]);
    }
    return st;
}

/* ------------------------------------------------------------ the table */

typedef struct example_def {
    const char *name;
    const char *about;
    nb_status (*build)(nb_graph *g, const double *numbers, nb_node *loss);
    int n_numbers;
    const char *number_names[MAX_NUMBERS];
    double defaults[MAX_NUMBERS];
} example_def;

static const example_def examples[] = {
    {"apple_orange",
     "notes 001: 2 apples at 100 and 3 oranges at 150 with a 10% tax",
     build_apple_orange,
     0,
     {NULL},
     {0}},
    {"square_of_sum",
     "notes 001/003: the chain rule on z = (x + y)^2",
     build_square_of_sum,
     2,
     {"x", "y"},
     {3, 2}},
    {"sigmoid",
     "notes 003: the sigmoid node by node (x * -1, exp, + 1, 1 / x)",
     build_sigmoid,
     1,
     {"x"},
     {0.5}},
    {"two_layer",
     "notes 002: Affine -> Sigmoid -> Affine -> Softmax-with-Loss",
     build_two_layer,
     0,
     {NULL},
     {0}},
    {"softmax_sse",
     "notes 004: softmax, and the SSE and MSE of (0.1, 0.7, 0.2)",
     build_softmax_sse,
     0,
     {NULL},
     {0}},
    {"quiz_product",
     "notes 004, quiz 01, 1: the transpose of a matrix-vector product",
     build_quiz_product,
     0,
     {NULL},
     {0}},
    {"quiz_gradient",
     "notes 004, quiz 01, 2: f(x, y, z) = xy + yz",
     build_quiz_gradient,
     3,
     {"x", "y", "z"},
     {1, 2, 3}},
    {"quiz_chain",
     "notes 004, quiz 01, 3: L = xy with (x, y) = (ab, a + b)",
     build_quiz_chain,
     2,
     {"a", "b"},
     {2, 3}},
    {"another_example",
     "notes 004, \"Another Example\": L = (sigmoid(v1 v2 + v3 / v4 - v5) - 2)^2",
     build_another,
     0,
     {NULL},
     {0}},
};

#define N_EXAMPLES ((int)(sizeof examples / sizeof examples[0]))

static const example_def *find(const char *name)
{
    for (int i = 0; name && i < N_EXAMPLES; i++)
        if (strcmp(examples[i].name, name) == 0) return &examples[i];
    return NULL;
}

int nb_example_count(void)
{
    return N_EXAMPLES;
}

const char *nb_example_name(int index)
{
    return index >= 0 && index < N_EXAMPLES ? examples[index].name : NULL;
}

const char *nb_example_about(const char *name)
{
    const example_def *e = find(name);
    return e ? e->about : NULL;
}

int nb_example_number_count(const char *name)
{
    const example_def *e = find(name);
    return e ? e->n_numbers : 0;
}

const char *nb_example_number_name(const char *name, int index)
{
    const example_def *e = find(name);
    return e && index >= 0 && index < e->n_numbers ? e->number_names[index] : NULL;
}

double nb_example_number_default(const char *name, int index)
{
    const example_def *e = find(name);
    return e && index >= 0 && index < e->n_numbers ? e->defaults[index] : 0;
}

/* "apple_orange, square_of_sum, ..." for a message. */
static void list_names(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_EXAMPLES && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", examples[i].name);
        used = w < 0 ? size : used + (size_t)w;
    }
}

nb_status nb_example_build(nb_graph *graph, const char *name, const double *numbers, int count,
                           nb_node *loss)
{
    char names[512], q[NB_ESCAPE_SIZE];
    if (!graph || !name || !loss)
        return nb_error(NB_ERR_ARGUMENT, "building an example: graph, name and loss must not "
                                         "be NULL");
    const example_def *e = find(name);
    if (!e) {
        list_names(names, sizeof names);
        return nb_error(NB_ERR_NOT_FOUND, "no example called \"%s\" (the examples: %s)",
                        nb_escape(q, sizeof q, name), names);
    }
    if (nb_graph_node_count(graph) != 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "building example %s: the graph must be empty (it has "
                        "%d nodes)",
                        name, nb_graph_node_count(graph));
    if (numbers && count != e->n_numbers)
        return nb_error(NB_ERR_ARGUMENT, "example %s takes %d %s, got %d", name, e->n_numbers,
                        nb_plural(e->n_numbers, "number", "numbers"), count);
    double n[MAX_NUMBERS];
    for (int i = 0; i < e->n_numbers; i++) {
        n[i] = numbers ? numbers[i] : e->defaults[i];
        /* The graph holds nb_real: a number it would turn into an infinity
         * or a zero (float's range) would show a page of other numbers. */
        nb_real r = (nb_real)n[i];
        if (!isfinite(n[i]) || !isfinite(r) || (n[i] != 0 && r == 0))
            return nb_error(NB_ERR_ARGUMENT,
                            "example %s: %s = %g is outside what this build's numbers "
                            "(%s) hold: a magnitude from %g to %g, or 0",
                            name, e->number_names[i], n[i],
                            sizeof(nb_real) == sizeof(float) ? "float" : "double",
                            sizeof(nb_real) == sizeof(float) ? (double)FLT_TRUE_MIN : DBL_TRUE_MIN,
                            sizeof(nb_real) == sizeof(float) ? (double)FLT_MAX : DBL_MAX);
    }
    *loss = NB_NONE;
    nb_status st = e->build(graph, n, loss);
    if (st != NB_OK) *loss = NB_NONE;
    return st;
}
