/* Inverted dropout (Srivastava et al., "Dropout: a simple way to prevent
 * neural networks from overfitting", JMLR 2014, with the scaling moved to
 * training): in NB_MODE_TRAIN
 *     y = x * m / (1 - p),  m = 1 with probability 1 - p, else 0,
 * so that E[y] = x and evaluation is the identity (NB_MODE_EVAL). The mask
 * m / (1 - p) is kept in the node's work for backward (dx = dy * mask) and
 * for NB_MODE_HELD, which reuses it. Element e's draw is the graph's
 * counter-based number for (seed, draw, node, e): no generator state is
 * kept, so a checkpoint needs only the draw count. */
#include "elementwise.h"

#include <math.h>

static nb_status infer_dropout(nb_graph *g, nb_node_rec *n)
{
    double p = nb_attr_of(n, "p")->reals[0];
    if (!(p >= 0 && p < 1))
        return nb_error(NB_ERR_ARGUMENT, "op dropout (node \"%s\"): p is %g; it must be in [0, 1)",
                        n->name, p);
    n->fattr = p;
    n->shape = nb_in(g, n, 0)->shape;
    n->work_count = p > 0 ? nb_shape_count(n->shape) : 0; /* the mask */
    return NB_OK;
}

/* Does this forward pass (and its backward) apply the mask? */
static int masked(const nb_graph *g, const nb_node_rec *n)
{
    return n->fattr > 0 && g->mode != NB_MODE_EVAL;
}

/* The mask of the graph's current draw: 1 / (1 - p) where u >= p, else 0. */
static void draw_mask(nb_graph *g, nb_node_rec *n)
{
    const double p = n->fattr;
    const nb_real keep = (nb_real)(1 / (1 - p));
    const uint64_t key = nb_graph_random_key(g, n);
    size_t count = nb_shape_count(n->shape);
    /* A shard's rows are numbered by their place in the whole batch. */
    size_t rows = n->shape.ndim > 0 && n->shape.dim[0] > 0 ? (size_t)n->shape.dim[0] : 1;
    const size_t base = g->row_offset * (count / rows);
    for (size_t e = 0; e < count; e++)
        n->work[e] = nb_random_uniform(key, base + e) >= p ? keep : 0;
    n->work_ready = 1;
}

static void dropout_forward(nb_graph *g, nb_node_rec *n)
{
    const nb_real *restrict x = nb_in(g, n, 0)->value;
    nb_real *restrict y = n->value;
    size_t count = nb_shape_count(n->shape);
    if (!masked(g, n)) {
        for (size_t e = 0; e < count; e++) y[e] = x[e];
        return;
    }
    /* HELD keeps the last mask so that the loss is a fixed function. */
    if (g->mode == NB_MODE_TRAIN || !n->work_ready) draw_mask(g, n);
    const nb_real *restrict m = n->work;
    for (size_t e = 0; e < count; e++) y[e] = x[e] * m[e];
}

/* dx += dy * mask (dy in EVAL) */
static void dropout_backward(nb_graph *g, nb_node_rec *n)
{
    nb_real *restrict dx = nb_in(g, n, 0)->grad;
    const nb_real *restrict dy = n->grad;
    if (!dx) return;
    size_t count = nb_shape_count(n->shape);
    if (!masked(g, n)) {
        for (size_t e = 0; e < count; e++) dx[e] += dy[e];
        return;
    }
    const nb_real *restrict m = n->work;
    for (size_t e = 0; e < count; e++) dx[e] += dy[e] * m[e];
}

static const nb_attr_def dropout_attrs[] = {{"p", NB_ATTR_REAL, 1, 1, 0}, {NULL}};

const nb_op_def nb_ops_dropout[] = {
    {.name = "dropout",
     .arity = 1,
     .attrs = dropout_attrs,
     .infer = infer_dropout,
     .forward = dropout_forward,
     .backward = dropout_backward,
     .random = 1},
    {.name = NULL},
};

nb_node nb_dropout(nb_graph *g, nb_node x, double p)
{
    nb_attr a = nb_attr_real("p", p);
    return nb_apply_attrs(g, "dropout", NULL, 1, &x, 1, &a);
}
