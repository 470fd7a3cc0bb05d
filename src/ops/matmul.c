/* Matrix products (notes 000): Y = X W, dX = dY W^T, dW = X^T dY, all through
 * nb_gemm's transpose flags, never an explicit transpose. */
#include "internal.h"

#include <string.h>

static int is_matrix(nb_shape s)
{
    return s.ndim == 2;
}

/* x [N, D], w [D, H] -> [N, H] */
static nb_status infer_matmul(nb_graph *g, nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape, w = nb_in(g, n, 1)->shape;
    if (!is_matrix(x) || !is_matrix(w) || x.dim[1] != w.dim[0])
        return nb_shape_error(g, n, "x [N, D] and w [D, H]");
    n->shape = nb_shape2(x.dim[0], w.dim[1]);
    n->work_count = 0;
    return NB_OK;
}

/* x [N, H], b [H] -> [N, H] */
static nb_status infer_bias_add(nb_graph *g, nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape, b = nb_in(g, n, 1)->shape;
    if (!is_matrix(x) || b.ndim != 1 || b.dim[0] != x.dim[1])
        return nb_shape_error(g, n, "x [N, H] and b [H]");
    n->shape = x;
    n->work_count = 0;
    return NB_OK;
}

/* x [N, D], w [D, H], b [H] -> [N, H] */
static nb_status infer_affine(nb_graph *g, nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape, w = nb_in(g, n, 1)->shape, b = nb_in(g, n, 2)->shape;
    if (!is_matrix(x) || !is_matrix(w) || x.dim[1] != w.dim[0] || b.ndim != 1 ||
        b.dim[0] != w.dim[1])
        return nb_shape_error(g, n, "x [N, D], w [D, H] and b [H]");
    n->shape = nb_shape2(x.dim[0], w.dim[1]);
    n->work_count = 0;
    return NB_OK;
}

/* y = x w  (beta 0: overwrite; 1: add to what is there) */
static void product(nb_graph *g, nb_node_rec *node, nb_real beta)
{
    nb_node_rec *x = nb_in(g, node, 0), *w = nb_in(g, node, 1);
    int n = x->shape.dim[0], d = x->shape.dim[1], h = w->shape.dim[1];
    nb_gemm(0, 0, n, h, d, 1, x->value, d, w->value, h, beta, node->value, h);
}

/* GEMM's beta: 0 writes a gradient outright (see grad_overwrite), 1 adds. */
static nb_real beta_for(const nb_node_rec *in)
{
    return in->grad_overwrite ? 0 : 1;
}

/* dx += dy w^T,  dw += x^T dy */
static void product_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0), *w = nb_in(g, node, 1);
    int n = x->shape.dim[0], d = x->shape.dim[1], h = w->shape.dim[1];
    if (x->grad) nb_gemm(0, 1, n, d, h, 1, node->grad, h, w->value, h, beta_for(x), x->grad, d);
    if (w->grad) nb_gemm(1, 0, d, h, n, 1, x->value, d, node->grad, h, beta_for(w), w->grad, h);
}

/* Copy b into every row of y, so a product with beta 1 finishes x w + b. */
static void fill_rows(nb_real *y, const nb_real *b, int rows, int cols)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) y[(size_t)i * cols + j] = b[j];
}

/* db += sum over rows of dy (the batch axis) */
static void bias_backward(const nb_node_rec *b, const nb_real *dy, int rows, int cols)
{
    nb_real *db = b->grad;
    if (!db) return;
    if (b->grad_overwrite) memset(db, 0, (size_t)cols * sizeof *db); /* small: one row */
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) db[j] += dy[(size_t)i * cols + j];
}

static void matmul_forward(nb_graph *g, nb_node_rec *node)
{
    product(g, node, 0);
}

/* y = x + b (per row) */
static void bias_add_forward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0), *b = nb_in(g, node, 1);
    int rows = node->shape.dim[0], cols = node->shape.dim[1];
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t k = (size_t)i * cols + j;
            node->value[k] = x->value[k] + b->value[j];
        }
}

static void bias_add_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0), *b = nb_in(g, node, 1);
    int rows = node->shape.dim[0], cols = node->shape.dim[1];
    size_t count = (size_t)rows * cols;
    if (x->grad && x->grad_overwrite)
        memcpy(x->grad, node->grad, count * sizeof *x->grad);
    else if (x->grad)
        for (size_t k = 0; k < count; k++) x->grad[k] += node->grad[k];
    bias_backward(b, node->grad, rows, cols);
}

/* y = x w + b (notes 002's Affine layer, fused) */
static void affine_forward(nb_graph *g, nb_node_rec *node)
{
    fill_rows(node->value, nb_in(g, node, 2)->value, node->shape.dim[0], node->shape.dim[1]);
    product(g, node, 1);
}

static void affine_backward(nb_graph *g, nb_node_rec *node)
{
    product_backward(g, node);
    bias_backward(nb_in(g, node, 2), node->grad, node->shape.dim[0], node->shape.dim[1]);
}

const nb_op_def nb_ops_matmul[] = {
    {.name = "matmul",
     .arity = 2,
     .infer = infer_matmul,
     .forward = matmul_forward,
     .backward = product_backward,
     .first_write = 1},
    {.name = "bias_add",
     .arity = 2,
     .infer = infer_bias_add,
     .forward = bias_add_forward,
     .backward = bias_add_backward,
     .first_write = 1},
    {.name = "affine",
     .arity = 3,
     .infer = infer_affine,
     .forward = affine_forward,
     .backward = affine_backward,
     .first_write = 1},
    {.name = NULL},
};
