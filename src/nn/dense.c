/* A dense layer: y = x W + b, one fused affine node. An input of more than
 * two dimensions ([N, C, H, W]) is flattened to [N, C*H*W] first. */
#include "internal.h"

#include <stdio.h>

nb_node nb_dense(nb_graph *g, nb_node x, int units, const char *prefix, nb_init weight_init)
{
    char wname[NB_NAME_MAX], bname[NB_NAME_MAX];
    if (!g || g->status != NB_OK) return NB_NONE;
    if (x < 0 || x >= g->count) {
        nb_error(NB_ERR_ARGUMENT, "dense layer \"%s\": input %d is not a node of this graph",
                 prefix ? prefix : "dense", x);
        nb_graph_fail(g, NB_ERR_ARGUMENT);
        return NB_NONE;
    }
    nb_shape xs = g->nodes[x].shape;
    if (xs.ndim < 2 || units <= 0) {
        char buf[64];
        nb_error(NB_ERR_SHAPE,
                 "dense layer \"%s\": needs input [N, D] (or [N, ...], flattened) and units > "
                 "0, got %s and %d",
                 prefix ? prefix : "dense", nb_shape_format(xs, buf, sizeof buf), units);
        nb_graph_fail(g, NB_ERR_SHAPE);
        return NB_NONE;
    }
    if (xs.ndim > 2) {
        x = nb_flatten(g, x);
        if (x == NB_NONE) return NB_NONE;
        xs = g->nodes[x].shape;
    }
    if (!prefix) prefix = "dense";
    snprintf(wname, sizeof wname, "%s.weight", prefix);
    snprintf(bname, sizeof bname, "%s.bias", prefix);
    nb_node w = nb_param(g, wname, nb_shape2(xs.dim[1], units), weight_init);
    nb_node b = nb_param(g, bname, nb_shape1(units), nb_init_zeros());
    if (w == NB_NONE || b == NB_NONE) return NB_NONE;
    nb_node in[3] = {x, w, b};
    char yname[NB_NAME_MAX];
    snprintf(yname, sizeof yname, "%s.out", prefix);
    return nb_apply(g, "affine", nb_graph_find(g, yname) == NB_NONE && prefix[0] ? yname : NULL, 3,
                    in);
}
