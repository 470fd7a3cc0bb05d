/* Named constructors for every op: one line each over nb_apply. */
#include "internal.h"

static nb_node unary(nb_graph *g, const char *op, nb_node x)
{
    return nb_apply(g, op, NULL, 1, &x);
}

static nb_node binary(nb_graph *g, const char *op, nb_node a, nb_node b)
{
    nb_node in[2] = {a, b};
    return nb_apply(g, op, NULL, 2, in);
}

nb_node nb_add(nb_graph *g, nb_node a, nb_node b)
{
    return binary(g, "add", a, b);
}
nb_node nb_sub(nb_graph *g, nb_node a, nb_node b)
{
    return binary(g, "sub", a, b);
}
nb_node nb_mul(nb_graph *g, nb_node a, nb_node b)
{
    return binary(g, "mul", a, b);
}
nb_node nb_div(nb_graph *g, nb_node a, nb_node b)
{
    return binary(g, "div", a, b);
}
nb_node nb_neg(nb_graph *g, nb_node x)
{
    return unary(g, "neg", x);
}
nb_node nb_reciprocal(nb_graph *g, nb_node x)
{
    return unary(g, "reciprocal", x);
}
nb_node nb_square(nb_graph *g, nb_node x)
{
    return unary(g, "square", x);
}
nb_node nb_exp(nb_graph *g, nb_node x)
{
    return unary(g, "exp", x);
}
nb_node nb_log(nb_graph *g, nb_node x)
{
    return unary(g, "log", x);
}
nb_node nb_identity(nb_graph *g, nb_node x)
{
    return unary(g, "identity", x);
}
nb_node nb_sum(nb_graph *g, nb_node x)
{
    return unary(g, "sum", x);
}
nb_node nb_mean(nb_graph *g, nb_node x)
{
    return unary(g, "mean", x);
}
nb_node nb_matmul(nb_graph *g, nb_node x, nb_node w)
{
    return binary(g, "matmul", x, w);
}
nb_node nb_bias_add(nb_graph *g, nb_node x, nb_node b)
{
    return binary(g, "bias_add", x, b);
}
nb_node nb_flatten(nb_graph *g, nb_node x)
{
    return unary(g, "flatten", x);
}
nb_node nb_sigmoid(nb_graph *g, nb_node x)
{
    return unary(g, "sigmoid", x);
}
nb_node nb_relu(nb_graph *g, nb_node x)
{
    return unary(g, "relu", x);
}
nb_node nb_tanh(nb_graph *g, nb_node x)
{
    return unary(g, "tanh", x);
}
nb_node nb_softmax(nb_graph *g, nb_node x)
{
    return unary(g, "softmax", x);
}

nb_node nb_affine(nb_graph *g, nb_node x, nb_node w, nb_node b)
{
    nb_node in[3] = {x, w, b};
    return nb_apply(g, "affine", NULL, 3, in);
}

nb_node nb_reshape(nb_graph *g, nb_node x, nb_shape shape)
{
    if (g && g->status == NB_OK && (shape.ndim < 1 || shape.ndim > NB_MAX_DIMS)) {
        nb_graph_fail(g,
                      nb_error(NB_ERR_SHAPE, "reshape: a shape of %d dimensions (1 to %d expected)",
                               shape.ndim, NB_MAX_DIMS));
        return NB_NONE;
    }
    int64_t dims[NB_MAX_DIMS] = {0};
    for (int i = 0; g && i < shape.ndim; i++) dims[i] = shape.dim[i];
    nb_attr a = nb_attr_ints("shape", g ? shape.ndim : 1, dims);
    return nb_apply_attrs(g, "reshape", NULL, 1, &x, 1, &a);
}

nb_node nb_concat(nb_graph *g, int n, const nb_node *xs, int axis)
{
    nb_attr a = nb_attr_int("axis", axis);
    return nb_apply_attrs(g, "concat", NULL, n, xs, 1, &a);
}

nb_node nb_leaky_relu(nb_graph *g, nb_node x, double slope)
{
    nb_attr a = nb_attr_real("slope", slope);
    return nb_apply_attrs(g, "leaky_relu", NULL, 1, &x, 1, &a);
}

nb_node nb_softmax_with_loss(nb_graph *g, nb_node logits, nb_node target)
{
    return binary(g, "softmax_with_loss", logits, target);
}

nb_node nb_cross_entropy(nb_graph *g, nb_node p, nb_node t)
{
    return binary(g, "cross_entropy", p, t);
}
nb_node nb_bce_with_logits(nb_graph *g, nb_node x, nb_node t)
{
    return binary(g, "bce_with_logits", x, t);
}
nb_node nb_sse(nb_graph *g, nb_node y, nb_node t)
{
    return binary(g, "sse", y, t);
}
nb_node nb_half_sse(nb_graph *g, nb_node y, nb_node t)
{
    return binary(g, "half_sse", y, t);
}
nb_node nb_mse(nb_graph *g, nb_node y, nb_node t)
{
    return binary(g, "mse", y, t);
}
nb_node nb_sae(nb_graph *g, nb_node y, nb_node t)
{
    return binary(g, "sae", y, t);
}

nb_node nb_conv2d(nb_graph *g, nb_node x, nb_node w, nb_node b, int stride, int pad)
{
    nb_node in[3] = {x, w, b};
    nb_attr a[2] = {nb_attr_int("stride", stride), nb_attr_int("pad", pad)};
    return nb_apply_attrs(g, "conv2d", NULL, b == NB_NONE ? 2 : 3, in, 2, a);
}

static nb_node pool(nb_graph *g, const char *op, nb_node x, int kernel, int stride)
{
    nb_attr a[2] = {nb_attr_int("kernel", kernel), nb_attr_int("stride", stride)};
    return nb_apply_attrs(g, op, NULL, 1, &x, 2, a);
}

nb_node nb_max_pool2d(nb_graph *g, nb_node x, int kernel, int stride)
{
    return pool(g, "max_pool2d", x, kernel, stride);
}
nb_node nb_avg_pool2d(nb_graph *g, nb_node x, int kernel, int stride)
{
    return pool(g, "avg_pool2d", x, kernel, stride);
}
nb_node nb_global_avg_pool(nb_graph *g, nb_node x)
{
    return unary(g, "global_avg_pool", x);
}
