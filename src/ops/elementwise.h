/* What the element-wise ops share: shape inference for an output shaped
 * like its input, and one macro that writes an op's forward and backward
 * from two expressions. Private to src/ops. */
#ifndef NABLA_OPS_ELEMENTWISE_H
#define NABLA_OPS_ELEMENTWISE_H

#include "internal.h"

static inline nb_status nb_infer_same(nb_graph *g, nb_node_rec *n)
{
    n->shape = nb_in(g, n, 0)->shape;
    n->work_count = 0;
    return NB_OK;
}

/* NAME_forward computes y = FORWARD and NAME_backward dx += dy * DERIVATIVE,
 * both written in x (the input), y (the output) and slope (the node's real
 * attribute). The buffers of different nodes never overlap (restrict). */
#define NB_UNARY_OP(NAME, FORWARD, DERIVATIVE)                                                     \
    static void NAME##_forward(nb_graph *g, nb_node_rec *node)                                     \
    {                                                                                              \
        const nb_real *restrict xs = nb_in(g, node, 0)->value;                                     \
        nb_real *restrict ys = node->value;                                                        \
        nb_real slope = (nb_real)node->fattr;                                                      \
        size_t n = nb_shape_count(node->shape);                                                    \
        (void)slope;                                                                               \
        for (size_t i = 0; i < n; i++) {                                                           \
            nb_real x = xs[i];                                                                     \
            ys[i] = (FORWARD);                                                                     \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_backward(nb_graph *g, nb_node_rec *node)                                    \
    {                                                                                              \
        nb_node_rec *in = nb_in(g, node, 0);                                                       \
        const nb_real *restrict xs = in->value, *restrict ys = node->value;                        \
        const nb_real *restrict dy = node->grad;                                                   \
        nb_real *restrict dx = in->grad;                                                           \
        nb_real slope = (nb_real)node->fattr;                                                      \
        size_t n = nb_shape_count(node->shape);                                                    \
        (void)slope;                                                                               \
        if (!dx) return;                                                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            nb_real x = xs[i], y = ys[i];                                                          \
            (void)x;                                                                               \
            (void)y;                                                                               \
            dx[i] += dy[i] * (DERIVATIVE);                                                         \
        }                                                                                          \
    }

#endif
