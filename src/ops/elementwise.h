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

/* The node an element-wise range works on. */
typedef struct nb_unary_ctx {
    nb_graph *g;
    nb_node_rec *node;
} nb_unary_ctx;

/* NAME_forward computes y = FORWARD and NAME_backward dx += dy * DERIVATIVE,
 * both written in x (the input), y (the output) and slope (the node's real
 * attribute), over ranges of elements split between threads (each element
 * on its own, so the split never changes a bit). The buffers of different
 * nodes never overlap (restrict). */
#define NB_UNARY_OP(NAME, FORWARD, DERIVATIVE)                                                     \
    static void NAME##_forward_range(void *ctx, size_t begin, size_t end)                          \
    {                                                                                              \
        const nb_unary_ctx *u = ctx;                                                               \
        const nb_real *restrict xs = nb_in(u->g, u->node, 0)->value;                               \
        nb_real *restrict ys = u->node->value;                                                     \
        nb_real slope = (nb_real)u->node->fattr;                                                   \
        (void)slope;                                                                               \
        for (size_t i = begin; i < end; i++) {                                                     \
            nb_real x = xs[i];                                                                     \
            ys[i] = (FORWARD);                                                                     \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_forward(nb_graph *g, nb_node_rec *node)                                     \
    {                                                                                              \
        nb_unary_ctx u = {g, node};                                                                \
        nb_parallel_for(nb_shape_count(node->shape), NB_PARALLEL_GRAIN, NAME##_forward_range, &u); \
    }                                                                                              \
    static void NAME##_backward_range(void *ctx, size_t begin, size_t end)                         \
    {                                                                                              \
        const nb_unary_ctx *u = ctx;                                                               \
        nb_node_rec *in = nb_in(u->g, u->node, 0);                                                 \
        const nb_real *restrict xs = in->value, *restrict ys = u->node->value;                     \
        const nb_real *restrict dy = u->node->grad;                                                \
        nb_real *restrict dx = in->grad;                                                           \
        nb_real slope = (nb_real)u->node->fattr;                                                   \
        (void)slope;                                                                               \
        for (size_t i = begin; i < end; i++) {                                                     \
            nb_real x = xs[i], y = ys[i];                                                          \
            (void)x;                                                                               \
            (void)y;                                                                               \
            nb_real d = (DERIVATIVE);                                                              \
            dx[i] += dy[i] * d;                                                                    \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_backward(nb_graph *g, nb_node_rec *node)                                    \
    {                                                                                              \
        if (!nb_in(g, node, 0)->grad) return;                                                      \
        nb_unary_ctx u = {g, node};                                                                \
        nb_parallel_for(nb_shape_count(node->shape), NB_PARALLEL_GRAIN, NAME##_backward_range,     \
                        &u);                                                                       \
    }

#endif
