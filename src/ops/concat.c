/* Joining tensors: concat takes any number of inputs (a model with two
 * inputs merges them here). */
#include "internal.h"

#include <string.h>

static const nb_attr_def concat_attrs[] = {{"axis", NB_ATTR_INT, 1, 0, -1}, {NULL}};

/* The axis as an index into x's dims (-1 is the last), or -1 when out of
 * range. */
static int axis_of(const nb_node_rec *n, int ndim)
{
    int64_t a = nb_attr_of(n, "axis")->ints[0];
    if (a < 0) a += ndim;
    return a >= 0 && a < ndim ? (int)a : -1;
}

/* Every input has the first's dims but along the axis, which adds up. */
static nb_status infer_concat(nb_graph *g, nb_node_rec *n)
{
    nb_shape first = nb_in(g, n, 0)->shape, y = first;
    int axis = axis_of(n, first.ndim);
    if (axis < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "an axis within the inputs' %d dimensions, not %lld", first.ndim,
                 (long long)nb_attr_of(n, "axis")->ints[0]);
        return nb_shape_error(g, n, msg);
    }
    int64_t along = 0;
    for (int i = 0; i < n->n_in; i++) {
        nb_shape s = nb_in(g, n, i)->shape;
        int same = s.ndim == first.ndim;
        for (int d = 0; same && d < s.ndim; d++) same = d == axis || s.dim[d] == first.dim[d];
        if (!same) return nb_shape_error(g, n, "inputs alike in every dimension but the axis");
        along += s.dim[axis];
    }
    if (along > INT32_MAX) return nb_shape_error(g, n, "at most 2^31 - 1 values along the axis");
    y.dim[axis] = (int)along;
    n->shape = y;
    n->work_count = 0;
    return NB_OK;
}

/* The output is outer blocks (the dims before the axis), each the inputs'
 * blocks one after another. */
static size_t outer_count(const nb_node_rec *n, int *axis)
{
    *axis = axis_of(n, n->shape.ndim);
    size_t outer = 1;
    for (int d = 0; d < *axis; d++) outer *= (size_t)n->shape.dim[d];
    return outer;
}

static size_t block_of(const nb_node_rec *x, size_t outer)
{
    return nb_shape_count(x->shape) / outer;
}

static void concat_forward(nb_graph *g, nb_node_rec *node)
{
    int axis;
    size_t outer = outer_count(node, &axis), row = nb_shape_count(node->shape) / outer, at = 0;
    for (int i = 0; i < node->n_in; i++) {
        const nb_node_rec *x = nb_in(g, node, i);
        size_t block = block_of(x, outer);
        for (size_t o = 0; o < outer; o++)
            memcpy(node->value + o * row + at, x->value + o * block, block * sizeof *node->value);
        at += block;
    }
}

/* dx_i += its blocks of dy */
static void concat_backward(nb_graph *g, nb_node_rec *node)
{
    int axis;
    size_t outer = outer_count(node, &axis), row = nb_shape_count(node->shape) / outer, at = 0;
    for (int i = 0; i < node->n_in; i++) {
        nb_node_rec *x = nb_in(g, node, i);
        size_t block = block_of(x, outer);
        for (size_t o = 0; x->grad && o < outer; o++) {
            const nb_real *dy = node->grad + o * row + at;
            nb_real *dx = x->grad + o * block;
            for (size_t k = 0; k < block; k++) dx[k] += dy[k];
        }
        at += block;
    }
}

const nb_op_def nb_ops_join[] = {
    {.name = "concat",
     .arity = NB_ARITY_ANY,
     .attrs = concat_attrs,
     .infer = infer_concat,
     .forward = concat_forward,
     .backward = concat_backward},
    {.name = NULL},
};
