/* Activations (notes 002, 004). */
#include "elementwise.h"

#include <float.h>
#include <math.h>

/* sigma(x) = 1 / (1 + e^-x), written so that exp never overflows;
 * sigma' = y (1 - y) */
static nb_real sigmoid(nb_real x)
{
    if (x >= 0) return (nb_real)(1 / (1 + exp(-x)));
    nb_real e = (nb_real)exp(x);
    return e / (1 + e);
}

NB_UNARY_OP(sigmoid, sigmoid(x), y *(1 - y))
/* relu(x) = max(0, x); relu' = 1 for x > 0, else 0 (written as a
 * comparison, not a branch: half the signs are unpredictable) */
NB_UNARY_OP(relu, x > 0 ? x : 0, x > 0 ? (nb_real)1 : (nb_real)0)
/* leaky(x) = x for x > 0, else slope x */
NB_UNARY_OP(leaky_relu, x > 0 ? x : slope * x, x > 0 ? 1 : slope)
/* The slope is a real number of nb_real's range: NaN or infinity would
 * make every negative input meaningless. */
static nb_status infer_leaky_relu(nb_graph *g, nb_node_rec *n)
{
#ifdef NABLA_DOUBLE
    const double limit = DBL_MAX;
#else
    const double limit = FLT_MAX;
#endif
    n->fattr = nb_attr_of(n, "slope")->reals[0];
    if (!(fabs(n->fattr) <= limit))
        return nb_error(NB_ERR_ARGUMENT, "op leaky_relu (node \"%s\"): slope %g is not a finite %s",
                        n->name, n->fattr, NB_REAL_NAME);
    return nb_infer_same(g, n);
}

static const nb_attr_def leaky_attrs[] = {{"slope", NB_ATTR_REAL, 1, 0, 0.01}, {NULL}};

/* tanh' = 1 - y^2 */
NB_UNARY_OP(tanh, (nb_real)tanh(x), 1 - y * y)

/* Softmax per row of the last dimension, stable: subtract the row's max
 * before exp. y_i = e^(x_i - m) / sum_j e^(x_j - m). */
static void rows_of(const nb_shape *s, int *rows, int *cols)
{
    *cols = s->ndim ? s->dim[s->ndim - 1] : 1;
    *rows = (int)(nb_shape_count(*s) / (size_t)*cols);
}

void nb_softmax_rows(const nb_real *x, nb_real *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const nb_real *xr = x + (size_t)r * cols;
        nb_real *yr = y + (size_t)r * cols;
        double m = xr[0];
        for (int j = 1; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        /* In double, x - m of floats cannot overflow; in the double build
         * it can only go to -inf, where e^(x - m) is 0 anyway. */
        double s = 0;
        for (int j = 0; j < cols; j++) {
            yr[j] = (nb_real)exp((double)xr[j] - m);
            s += yr[j];
        }
        for (int j = 0; j < cols; j++) yr[j] = (nb_real)(yr[j] / s);
    }
}

static void softmax_forward(nb_graph *g, nb_node_rec *node)
{
    int rows, cols;
    rows_of(&node->shape, &rows, &cols);
    nb_softmax_rows(nb_in(g, node, 0)->value, node->value, rows, cols);
}

/* dx_i = y_i (dy_i - sum_j dy_j y_j) */
static void softmax_backward(nb_graph *g, nb_node_rec *node)
{
    nb_real *dx = nb_in(g, node, 0)->grad;
    int rows, cols;
    if (!dx) return;
    rows_of(&node->shape, &rows, &cols);
    for (int r = 0; r < rows; r++) {
        const nb_real *y = node->value + (size_t)r * cols, *dy = node->grad + (size_t)r * cols;
        double dot = 0;
        for (int j = 0; j < cols; j++) dot += dy[j] * y[j];
        for (int j = 0; j < cols; j++) dx[(size_t)r * cols + j] += y[j] * (nb_real)(dy[j] - dot);
    }
}

const nb_op_def nb_ops_activation[] = {
    {.name = "sigmoid",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = sigmoid_forward,
     .backward = sigmoid_backward},
    {.name = "relu",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = relu_forward,
     .backward = relu_backward},
    {.name = "leaky_relu",
     .attrs = leaky_attrs,
     .arity = 1,
     .infer = infer_leaky_relu,
     .forward = leaky_relu_forward,
     .backward = leaky_relu_backward},
    {.name = "tanh",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = tanh_forward,
     .backward = tanh_backward},
    {.name = "softmax",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = softmax_forward,
     .backward = softmax_backward},
    {.name = NULL},
};
