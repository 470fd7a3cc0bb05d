/* Element-wise arithmetic, reductions and reshaping. In the formulas x, a, b
 * are inputs, y the output, dy = dL/dy the gradient flowing in. */
#include "elementwise.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- infer */

/* a and b of the same shape, or either of one element (broadcast). */
static nb_status infer_binary(nb_graph *g, nb_node_rec *n)
{
    nb_shape a = nb_in(g, n, 0)->shape, b = nb_in(g, n, 1)->shape;
    size_t na = nb_shape_count(a), nbb = nb_shape_count(b);
    if (!nb_shape_equal(a, b) && na != 1 && nbb != 1)
        return nb_shape_error(g, n, "equal shapes, or one operand of one element");
    n->shape = (na >= nbb) ? a : b;
    n->work_count = 0;
    return NB_OK;
}

static nb_status infer_scalar(nb_graph *g, nb_node_rec *n)
{
    (void)g;
    n->shape = nb_shape0();
    n->work_count = 0;
    return NB_OK;
}

/* ----------------------------------------------------- binary, broadcast */

typedef struct {
    const nb_real *a, *b;
    nb_real *y, *da, *db;
    const nb_real *dy;
    size_t n, sa, sb; /* sa, sb: 1 steps through the operand, 0 repeats it */
} binary;

static binary binary_of(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *a = nb_in(g, node, 0), *b = nb_in(g, node, 1);
    binary s;
    s.a = a->value;
    s.b = b->value;
    s.y = node->value;
    s.da = a->grad;
    s.db = b->grad;
    s.dy = node->grad;
    s.n = nb_shape_count(node->shape);
    s.sa = nb_shape_count(a->shape) == s.n ? 1 : 0;
    s.sb = nb_shape_count(b->shape) == s.n ? 1 : 0;
    return s;
}

/* y = a + b;  da += dy, db += dy */
static void add_forward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    for (size_t i = 0; i < s.n; i++) s.y[i] = s.a[i * s.sa] + s.b[i * s.sb];
}

static void add_backward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    if (s.da)
        for (size_t i = 0; i < s.n; i++) s.da[i * s.sa] += s.dy[i];
    if (s.db)
        for (size_t i = 0; i < s.n; i++) s.db[i * s.sb] += s.dy[i];
}

/* y = a - b;  da += dy, db -= dy */
static void sub_forward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    for (size_t i = 0; i < s.n; i++) s.y[i] = s.a[i * s.sa] - s.b[i * s.sb];
}

static void sub_backward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    if (s.da)
        for (size_t i = 0; i < s.n; i++) s.da[i * s.sa] += s.dy[i];
    if (s.db)
        for (size_t i = 0; i < s.n; i++) s.db[i * s.sb] -= s.dy[i];
}

/* y = a b;  da += dy b, db += dy a */
static void mul_forward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    for (size_t i = 0; i < s.n; i++) s.y[i] = s.a[i * s.sa] * s.b[i * s.sb];
}

static void mul_backward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    if (s.da)
        for (size_t i = 0; i < s.n; i++) s.da[i * s.sa] += s.dy[i] * s.b[i * s.sb];
    if (s.db)
        for (size_t i = 0; i < s.n; i++) s.db[i * s.sb] += s.dy[i] * s.a[i * s.sa];
}

/* y = a / b;  da += dy / b, db -= dy a / b^2 */
static void div_forward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    for (size_t i = 0; i < s.n; i++) s.y[i] = s.a[i * s.sa] / s.b[i * s.sb];
}

static void div_backward(nb_graph *g, nb_node_rec *node)
{
    binary s = binary_of(g, node);
    for (size_t i = 0; i < s.n; i++) {
        nb_real b = s.b[i * s.sb];
        if (s.da) s.da[i * s.sa] += s.dy[i] / b;
        if (s.db) s.db[i * s.sb] -= s.dy[i] * s.a[i * s.sa] / (b * b);
    }
}

/* ---------------------------------------------------------------- unary */

NB_UNARY_OP(neg, -x, -1)                 /* y = -x,   dy/dx = -1 */
NB_UNARY_OP(reciprocal, 1 / x, -y *y)    /* y = 1/x,  dy/dx = -1/x^2 = -y^2 */
NB_UNARY_OP(square, x *x, 2 * x)         /* y = x^2,  dy/dx = 2x */
NB_UNARY_OP(exp, (nb_real)exp(x), y)     /* y = e^x,  dy/dx = y */
NB_UNARY_OP(log, (nb_real)log(x), 1 / x) /* y = ln x, dy/dx = 1/x */
NB_UNARY_OP(identity, x, 1)              /* y = x */

/* ----------------------------------------------------------- reductions */

/* y = sum x;  dx += dy */
static void sum_forward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *in = nb_in(g, node, 0);
    size_t n = nb_shape_count(in->shape);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += in->value[i];
    node->value[0] = (nb_real)s;
}

static void sum_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *in = nb_in(g, node, 0);
    size_t n = nb_shape_count(in->shape);
    if (in->grad)
        for (size_t i = 0; i < n; i++) in->grad[i] += node->grad[0];
}

/* y = (1/n) sum x;  dx += dy / n. The sum is divided in double (a float
 * sum may overflow where the mean does not), and when even the double sum
 * overflows each term is divided first. */
static void mean_forward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *in = nb_in(g, node, 0);
    size_t n = nb_shape_count(in->shape);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += in->value[i];
    if (!isfinite(s)) {
        s = 0;
        for (size_t i = 0; i < n; i++) s += in->value[i] / (double)n;
        node->value[0] = (nb_real)s;
        return;
    }
    node->value[0] = (nb_real)(s / (double)n);
}

static void mean_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *in = nb_in(g, node, 0);
    size_t n = nb_shape_count(in->shape);
    nb_real d = node->grad[0] / (nb_real)n;
    if (in->grad)
        for (size_t i = 0; i < n; i++) in->grad[i] += d;
}

/* ------------------------------------------------------------ reshaping */

/* The "shape" attribute: a 0 keeps that dimension of x, one -1 takes what
 * is left, so that [0, -1] flattens a batch of any size. */
static nb_status infer_reshape(nb_graph *g, nb_node_rec *n)
{
    const nb_attr *a = nb_attr_of(n, "shape");
    nb_shape x = nb_in(g, n, 0)->shape, want = {.ndim = a->count};
    size_t total = nb_shape_count(x), known = 1;
    int free_dim = -1, ok = 1;
    char msg[160];
    for (int i = 0; i < a->count && ok; i++) {
        int64_t d = a->ints[i];
        if (d == 0 && i < x.ndim) d = x.dim[i];
        if (d == -1 && free_dim < 0) {
            free_dim = i;
            continue;
        }
        ok = d >= 1 && d <= INT32_MAX;
        want.dim[i] = (int)d;
        ok = ok && nb_mul_size(known, (size_t)d, &known); /* no wrap past SIZE_MAX */
    }
    if (ok && free_dim >= 0) {
        ok = known > 0 && total % known == 0 && total / known <= INT32_MAX;
        if (ok) want.dim[free_dim] = (int)(total / known);
    }
    if (!ok || nb_shape_count(want) != total) {
        int used = snprintf(msg, sizeof msg, "a shape (");
        for (int i = 0; i < a->count && used < (int)sizeof msg; i++)
            used += snprintf(msg + used, sizeof msg - (size_t)used, "%s%lld", i ? ", " : "",
                             (long long)a->ints[i]);
        if (used < (int)sizeof msg)
            snprintf(msg + used, sizeof msg - (size_t)used,
                     ") of the same element count (0 keeps a dimension, one -1 takes the rest)");
        return nb_shape_error(g, n, msg);
    }
    n->shape = want;
    n->work_count = 0;
    return NB_OK;
}

/* [N, d1, d2, ...] -> [N, d1 d2 ...] */
static nb_status infer_flatten(nb_graph *g, nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape;
    if (x.ndim < 1) return nb_shape_error(g, n, "at least one dimension (the batch)");
    n->shape = nb_shape2(x.dim[0], (int)(nb_shape_count(x) / (size_t)x.dim[0]));
    n->work_count = 0;
    return NB_OK;
}

/* A reshape copies: y = x;  dx += dy */
static void copy_forward(nb_graph *g, nb_node_rec *node)
{
    memcpy(node->value, nb_in(g, node, 0)->value,
           nb_shape_count(node->shape) * sizeof *node->value);
}

static const nb_attr_def reshape_attrs[] = {{"shape", NB_ATTR_INT, NB_MAX_DIMS, 1, 0}, {NULL}};

const nb_op_def nb_ops_arith[] = {
    {.name = "add",
     .arity = 2,
     .infer = infer_binary,
     .forward = add_forward,
     .backward = add_backward},
    {.name = "sub",
     .arity = 2,
     .infer = infer_binary,
     .forward = sub_forward,
     .backward = sub_backward},
    {.name = "mul",
     .arity = 2,
     .infer = infer_binary,
     .forward = mul_forward,
     .backward = mul_backward},
    {.name = "div",
     .arity = 2,
     .infer = infer_binary,
     .forward = div_forward,
     .backward = div_backward},
    {.name = "neg",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = neg_forward,
     .backward = neg_backward},
    {.name = "reciprocal",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = reciprocal_forward,
     .backward = reciprocal_backward},
    {.name = "square",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = square_forward,
     .backward = square_backward},
    {.name = "exp",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = exp_forward,
     .backward = exp_backward},
    {.name = "log",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = log_forward,
     .backward = log_backward},
    {.name = "identity",
     .arity = 1,
     .infer = nb_infer_same,
     .forward = identity_forward,
     .backward = identity_backward},
    {.name = "sum",
     .arity = 1,
     .infer = infer_scalar,
     .forward = sum_forward,
     .backward = sum_backward},
    {.name = "mean",
     .arity = 1,
     .infer = infer_scalar,
     .forward = mean_forward,
     .backward = mean_backward},
    {.name = "reshape",
     .attrs = reshape_attrs,
     .arity = 1,
     .infer = infer_reshape,
     .forward = copy_forward,
     .backward = identity_backward},
    {.name = "flatten",
     .arity = 1,
     .infer = infer_flatten,
     .forward = copy_forward,
     .backward = identity_backward},
    {.name = NULL},
};
