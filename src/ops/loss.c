/* Losses (notes 002, 004). Each returns a scalar; dL arrives in grad[0]. */
#include "internal.h"

#include <math.h>

/* Cross-entropy's guard against log(0), as in the notes: log(y + delta). */
#define CE_DELTA 1e-7

enum { TARGET_INDEX = 1, TARGET_ONE_HOT = 2 };

static void rows_of(const nb_shape *s, int *rows, int *cols)
{
    *cols = s->ndim ? s->dim[s->ndim - 1] : 1;
    *rows = (int)(nb_shape_count(*s) / (size_t)*cols);
}

/* A class target: one-hot rows of the prediction's shape, or one class
 * index per row. iattr records which; work is the prediction's size plus
 * two values per row when extra is set. */
static nb_status infer_class_loss(nb_graph *g, nb_node_rec *n, int extra)
{
    nb_shape y = nb_in(g, n, 0)->shape, t = nb_in(g, n, 1)->shape;
    int rows, cols;
    if (y.ndim < 1 || y.ndim > 2)
        return nb_shape_error(g, n, "predictions [N, C] (or [C]) and targets [N] or [N, C]");
    rows_of(&y, &rows, &cols);
    if (nb_shape_equal(y, t))
        n->iattr = TARGET_ONE_HOT;
    else if (nb_shape_count(t) == (size_t)rows && t.ndim <= 1)
        n->iattr = TARGET_INDEX;
    else
        return nb_shape_error(g, n, "targets as class indices [N] or one-hot rows [N, C]");
    n->shape = nb_shape0();
    n->work_count = extra ? nb_shape_count(y) + 2 * (size_t)rows : 0;
    return NB_OK;
}

static nb_status infer_softmax_with_loss(nb_graph *g, nb_node_rec *n)
{
    return infer_class_loss(g, n, 1);
}

static nb_status infer_cross_entropy(nb_graph *g, nb_node_rec *n)
{
    return infer_class_loss(g, n, 0);
}

/* t[r][c] for either kind of target; NaN for an index that is not a class
 * (check_class_target refuses one before forward). */
static nb_real target_at(const nb_node_rec *n, const nb_real *t, int r, int c, int cols)
{
    if (n->iattr == TARGET_ONE_HOT) return t[(size_t)r * cols + c];
    nb_real k = t[r];
    if (!(k >= 0 && k < cols) || k != (nb_real)(int)k) return (nb_real)NAN;
    return (int)k == c ? 1 : 0;
}

/* Class indices are whole numbers in [0, C): any other index would make
 * the loss NaN (or leave a row out) and still look like a result. */
static nb_status check_class_target(nb_graph *g, const nb_node_rec *node)
{
    if (node->iattr != TARGET_INDEX) return NB_OK;
    const nb_real *t = nb_in(g, node, 1)->value;
    nb_shape y = nb_in(g, node, 0)->shape;
    int rows, cols;
    rows_of(&y, &rows, &cols);
    for (int r = 0; r < rows; r++) {
        nb_real k = t[r];
        if (!(k >= 0 && k < cols) || k != (nb_real)(int)k)
            return nb_error(NB_ERR_ARGUMENT,
                            "%s \"%s\": target row %d is %.9g, not a class index (a whole "
                            "number in 0..%d)",
                            node->op->name, node->name, r, (double)k, cols - 1);
    }
    return NB_OK;
}

/* The mean of terms whose sum may overflow although the mean does not
 * (the double build near DBL_MAX): the plain sum when it is finite, else
 * the sum of the terms divided first. */
typedef struct {
    double sum, scaled, n;
} mean_acc;

static void mean_add(mean_acc *a, double term)
{
    a->sum += term;
    a->scaled += term / a->n;
}

static double mean_value(const mean_acc *a)
{
    return isfinite(a->sum) ? a->sum / a->n : a->scaled;
}

/* Softmax-with-loss, fused: p = softmax(x), L = -(1/N) sum t log p.
 * Per row, with m = max x and s = sum e^(x - m) (in [1, C]):
 *   p = e^(x - m) / s,  log p = (x - m) - log s.
 * Everything is in double: x - m of two floats cannot overflow, and in the
 * double build it can only reach -inf, where p = 0 is exact. So p and the
 * gradient p - t are exact for any finite logits (p = [0, .5, .5] for
 * [-L, L, L]), and the loss overflows only when its true value does. work
 * keeps p, then m and log s of each row for backward. */
static void softmax_with_loss_forward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0), *t = nb_in(g, node, 1);
    int rows, cols;
    rows_of(&x->shape, &rows, &cols);
    nb_real *p = node->work, *row_max = p + (size_t)rows * cols, *row_log = row_max + rows;
    mean_acc loss = {0, 0, rows};
    for (int r = 0; r < rows; r++) {
        const nb_real *xr = x->value + (size_t)r * cols;
        double m = xr[0];
        for (int c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
        double s = 0;
        for (int c = 0; c < cols; c++) s += exp((double)xr[c] - m);
        /* s >= 1: the max term contributes e^0. */
        // cppcheck-suppress invalidFunctionArg
        double log_s = log(s), term = 0;
        row_max[r] = (nb_real)m; /* exact: m is one of the row's values */
        row_log[r] = (nb_real)log_s;
        for (int c = 0; c < cols; c++) {
            double d = (double)xr[c] - m;
            p[(size_t)r * cols + c] = (nb_real)(exp(d) / s);
            nb_real tc = target_at(node, t->value, r, c, cols);
            if (tc != 0) term -= tc * (d - log_s); /* NaN passes: NaN != 0 */
        }
        mean_add(&loss, term);
    }
    node->value[0] = (nb_real)mean_value(&loss);
}

/* dx = dL (p - t) / N;  dt = -dL log p / N */
static void softmax_with_loss_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0), *t = nb_in(g, node, 1);
    int rows, cols;
    rows_of(&x->shape, &rows, &cols);
    const nb_real *p = node->work, *row_max = p + (size_t)rows * cols, *row_log = row_max + rows;
    nb_real k = node->grad[0] / (nb_real)rows;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            if (x->grad) x->grad[i] += k * (p[i] - target_at(node, t->value, r, c, cols));
            if (t->grad && node->iattr == TARGET_ONE_HOT) {
                double log_p = ((double)x->value[i] - row_max[r]) - row_log[r];
                t->grad[i] -= (nb_real)(k * log_p);
            }
        }
}

/* Cross-entropy of probabilities: L = -(1/N) sum t log(y + delta) */
static void cross_entropy_forward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *y = nb_in(g, node, 0), *t = nb_in(g, node, 1);
    int rows, cols;
    rows_of(&y->shape, &rows, &cols);
    mean_acc loss = {0, 0, rows};
    for (int r = 0; r < rows; r++) {
        double term = 0;
        for (int c = 0; c < cols; c++) {
            nb_real tc = target_at(node, t->value, r, c, cols);
            if (tc != 0) term -= tc * log((double)y->value[(size_t)r * cols + c] + CE_DELTA);
        }
        mean_add(&loss, term);
    }
    node->value[0] = (nb_real)mean_value(&loss);
}

/* dy = -dL t / (y + delta) / N;  dt = -dL log(y + delta) / N */
static void cross_entropy_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *y = nb_in(g, node, 0), *t = nb_in(g, node, 1);
    int rows, cols;
    rows_of(&y->shape, &rows, &cols);
    nb_real k = node->grad[0] / (nb_real)rows;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            double yd = (double)y->value[i] + CE_DELTA;
            if (y->grad) y->grad[i] -= (nb_real)(k * target_at(node, t->value, r, c, cols) / yd);
            if (t->grad && node->iattr == TARGET_ONE_HOT) t->grad[i] -= (nb_real)(k * log(yd));
        }
}

/* ------------------------------------------- losses of paired values */

static nb_status infer_pair(nb_graph *g, nb_node_rec *n)
{
    if (!nb_shape_equal(nb_in(g, n, 0)->shape, nb_in(g, n, 1)->shape))
        return nb_shape_error(g, n, "prediction and target of the same shape");
    n->shape = nb_shape0();
    n->work_count = 0;
    return NB_OK;
}

/* A loss of paired values written as its per-element term of r = y - t and
 * that term's derivative in r; SCALE multiplies the sum. */
#define PAIR_LOSS(NAME, TERM, DERIVATIVE, SCALE)                                                   \
    static void NAME##_forward(nb_graph *g, nb_node_rec *node)                                     \
    {                                                                                              \
        const nb_real *y = nb_in(g, node, 0)->value, *t = nb_in(g, node, 1)->value;                \
        size_t n = nb_shape_count(nb_in(g, node, 0)->shape);                                       \
        double s = 0;                                                                              \
        for (size_t i = 0; i < n; i++) {                                                           \
            double r = (double)y[i] - t[i];                                                        \
            s += (TERM);                                                                           \
        }                                                                                          \
        if (!isfinite(s)) { /* a mean whose sum overflows: scale each term first */                \
            s = 0;                                                                                 \
            for (size_t i = 0; i < n; i++) {                                                       \
                double r = (double)y[i] - t[i];                                                    \
                s += (TERM) * (SCALE);                                                             \
            }                                                                                      \
            node->value[0] = (nb_real)s;                                                           \
            return;                                                                                \
        }                                                                                          \
        node->value[0] = (nb_real)(s * (SCALE));                                                   \
    }                                                                                              \
    static void NAME##_backward(nb_graph *g, nb_node_rec *node)                                    \
    {                                                                                              \
        nb_node_rec *yn = nb_in(g, node, 0), *tn = nb_in(g, node, 1);                              \
        size_t n = nb_shape_count(yn->shape);                                                      \
        double k = node->grad[0] * (SCALE);                                                        \
        for (size_t i = 0; i < n; i++) {                                                           \
            double r = (double)yn->value[i] - tn->value[i];                                        \
            nb_real d = (nb_real)(k * (DERIVATIVE));                                               \
            if (yn->grad) yn->grad[i] += d;                                                        \
            if (tn->grad) tn->grad[i] -= d;                                                        \
        }                                                                                          \
    }

PAIR_LOSS(sse, r *r, 2 * r, 1.0)                /* L = sum r^2 */
PAIR_LOSS(half_sse, r *r, 2 * r, 0.5)           /* L = 1/2 sum r^2 */
PAIR_LOSS(mse, r *r, 2 * r, 1.0 / (double)n)    /* L = (1/n) sum r^2 */
PAIR_LOSS(sae, fabs(r), (r > 0) - (r < 0), 1.0) /* L = sum |r| */

/* Binary cross-entropy on logits x with targets t in [0, 1], averaged:
 * l = x (1 - t) + log(1 + e^-x) for x >= 0, -x t + log(1 + e^x) otherwise
 * (the same function; e^ never overflows, and no large terms cancel);
 * dl/dx = sigma(x) - t, dl/dt = -x. */
static void bce_with_logits_forward(nb_graph *g, nb_node_rec *node)
{
    const nb_real *x = nb_in(g, node, 0)->value, *t = nb_in(g, node, 1)->value;
    size_t n = nb_shape_count(nb_in(g, node, 0)->shape);
    mean_acc loss = {0, 0, (double)n};
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], ti = t[i];
        mean_add(&loss, xi >= 0 ? xi * (1 - ti) + log1p(exp(-xi)) : -xi * ti + log1p(exp(xi)));
    }
    node->value[0] = (nb_real)mean_value(&loss);
}

static void bce_with_logits_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *xn = nb_in(g, node, 0), *tn = nb_in(g, node, 1);
    size_t n = nb_shape_count(xn->shape);
    double k = node->grad[0] / (double)n;
    for (size_t i = 0; i < n; i++) {
        double x = xn->value[i];
        double sig = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
        if (xn->grad) xn->grad[i] += (nb_real)(k * (sig - tn->value[i]));
        if (tn->grad) tn->grad[i] -= (nb_real)(k * x);
    }
}

/* How each loss reduces over the batch and what its prediction means. */
static const nb_loss_def classes_mean_softmax = {NB_REDUCE_MEAN, NB_TARGET_CLASSES,
                                                 NB_LINK_SOFTMAX};
static const nb_loss_def classes_mean = {NB_REDUCE_MEAN, NB_TARGET_CLASSES, NB_LINK_IDENTITY};
static const nb_loss_def binary_mean = {NB_REDUCE_MEAN, NB_TARGET_BINARY, NB_LINK_SIGMOID};
static const nb_loss_def values_mean = {NB_REDUCE_MEAN, NB_TARGET_VALUES, NB_LINK_IDENTITY};
static const nb_loss_def values_sum = {NB_REDUCE_SUM, NB_TARGET_VALUES, NB_LINK_IDENTITY};

const nb_op_def nb_ops_loss[] = {
    {.name = "softmax_with_loss",
     .arity = 2,
     .loss = &classes_mean_softmax,
     .infer = infer_softmax_with_loss,
     .check = check_class_target,
     .forward = softmax_with_loss_forward,
     .backward = softmax_with_loss_backward},
    {.name = "cross_entropy",
     .arity = 2,
     .loss = &classes_mean,
     .infer = infer_cross_entropy,
     .check = check_class_target,
     .forward = cross_entropy_forward,
     .backward = cross_entropy_backward},
    {.name = "bce_with_logits",
     .arity = 2,
     .loss = &binary_mean,
     .infer = infer_pair,
     .forward = bce_with_logits_forward,
     .backward = bce_with_logits_backward},
    {.name = "sse",
     .arity = 2,
     .loss = &values_sum,
     .infer = infer_pair,
     .forward = sse_forward,
     .backward = sse_backward},
    {.name = "half_sse",
     .arity = 2,
     .loss = &values_sum,
     .infer = infer_pair,
     .forward = half_sse_forward,
     .backward = half_sse_backward},
    {.name = "mse",
     .arity = 2,
     .loss = &values_mean,
     .infer = infer_pair,
     .forward = mse_forward,
     .backward = mse_backward},
    {.name = "sae",
     .arity = 2,
     .loss = &values_sum,
     .infer = infer_pair,
     .forward = sae_forward,
     .backward = sae_backward},
    {.name = NULL},
};
