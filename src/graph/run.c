/* Running a compiled graph: feed, forward, backward. Nothing here allocates. */
#include "internal.h"

#include <string.h>

static nb_status check_ready(nb_graph *g, const char *what)
{
    if (!g) return nb_error(NB_ERR_ARGUMENT, "%s: no graph", what);
    if (!g->compiled) return nb_error(NB_ERR_STATE, "%s: compile the graph first", what);
    return NB_OK;
}

static nb_status check_input(nb_graph *g, nb_node node, const char *what)
{
    nb_status st = check_ready(g, what);
    if (st != NB_OK) return st;
    if (node < 0 || node >= g->count || g->nodes[node].kind != NB_NODE_INPUT)
        return nb_error(NB_ERR_ARGUMENT, "%s: node %d is not an input", what, node);
    return NB_OK;
}

nb_status nb_graph_feed(nb_graph *g, nb_node node, const nb_real *values, size_t count)
{
    nb_status st = check_input(g, node, "feeding");
    if (st != NB_OK) return st;
    nb_node_rec *n = &g->nodes[node];
    size_t want = nb_shape_count(n->shape);
    if (count != want) {
        char buf[64];
        return nb_error(NB_ERR_SHAPE, "feeding input \"%s\" of shape %s: expected %zu %s, got %zu",
                        n->name, nb_shape_format(n->shape, buf, sizeof buf), want,
                        nb_plural((long long)want, "value", "values"), count);
    }
    if (!values)
        return nb_error(NB_ERR_ARGUMENT, "feeding input \"%s\": no values (NULL)", n->name);
    if (n->bound) return nb_error(NB_ERR_STATE, "feeding input \"%s\": it is bound", n->name);
    memcpy(n->value, values, count * sizeof *values);
    g->forwarded = 0; /* the values downstream are stale */
    return NB_OK;
}

nb_status nb_graph_bind(nb_graph *g, nb_node node, const nb_real *values)
{
    if (!g || node < 0 || node >= g->count || g->nodes[node].kind != NB_NODE_INPUT)
        return nb_error(NB_ERR_ARGUMENT, "binding: node %d is not an input", node);
    nb_node_rec *n = &g->nodes[node];
    if (!values && n->bound) g->compiled = 0; /* its arena slot must be planned again */
    n->bound = values;
    if (values && g->compiled) n->value = (nb_real *)values; /* inputs are never written */
    g->forwarded = 0;
    return NB_OK;
}

nb_status nb_graph_set_mode(nb_graph *g, nb_mode mode)
{
    if (!g) return nb_error(NB_ERR_ARGUMENT, "setting the mode: no graph");
    if (mode != NB_MODE_TRAIN && mode != NB_MODE_EVAL && mode != NB_MODE_HELD)
        return nb_error(NB_ERR_ARGUMENT,
                        "setting the mode: %d is no mode (NB_MODE_TRAIN, NB_MODE_EVAL or "
                        "NB_MODE_HELD)",
                        (int)mode);
    if (mode != g->mode) g->forwarded = 0; /* values of the other mode are stale */
    g->mode = mode;
    return NB_OK;
}

nb_mode nb_graph_mode(const nb_graph *g)
{
    return g ? g->mode : NB_MODE_TRAIN;
}

void nb_graph_set_seed(nb_graph *g, uint64_t seed)
{
    if (!g) return;
    g->seed = seed;
    g->draws = 0;
    g->forwarded = 0;
}

uint64_t nb_graph_random_key(const nb_graph *g, const nb_node_rec *node)
{
    uint64_t k = (uint64_t)(node - g->nodes);
    uint64_t h = nb_mix64(g->seed + NB_GOLDEN);
    h = nb_mix64(h ^ (g->draws + NB_GOLDEN));
    return nb_mix64(h ^ (k + NB_GOLDEN));
}

nb_status nb_graph_forward(nb_graph *g)
{
    return nb_graph_forward_to(g, g ? g->count - 1 : NB_NONE);
}

nb_status nb_graph_forward_to(nb_graph *g, nb_node last)
{
    nb_status st = check_ready(g, "forward");
    if (st != NB_OK) return st;
    if (last < 0 || last >= g->count)
        return nb_error(NB_ERR_ARGUMENT, "forward: node %d is not in the graph", last);
    /* A training pass through a random op is the next draw. */
    if (g->mode == NB_MODE_TRAIN && g->first_random >= 0 && g->first_random <= last) g->draws++;
    unsigned fp = nb_fp_enter();
    for (int i = 0; i <= last; i++) {
        nb_node_rec *n = &g->nodes[i];
        if (n->kind != NB_NODE_OP) continue;
        if (n->op->check && (st = n->op->check(g, n)) != NB_OK) {
            g->forwarded = i; /* the nodes before it hold values */
            nb_fp_leave(fp);
            return st;
        }
        n->op->forward(g, n);
    }
    nb_fp_leave(fp);
    g->forwarded = last + 1;
    return NB_OK;
}

nb_status nb_graph_check_stored(nb_graph *g)
{
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        nb_status st =
            n->kind == NB_NODE_OP && n->op->check_stored ? n->op->check_stored(g, n) : NB_OK;
        if (st != NB_OK) return st;
    }
    return NB_OK;
}

nb_status nb_graph_check_rows(const nb_graph *g, int rows)
{
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        nb_status st =
            n->kind == NB_NODE_OP && n->op->check_rows ? n->op->check_rows(g, n, rows) : NB_OK;
        if (st != NB_OK) return st;
    }
    return NB_OK;
}

nb_status nb_graph_backward(nb_graph *g, nb_node loss)
{
    nb_status st = check_ready(g, "backward");
    if (st != NB_OK) return st;
    if (loss < 0 || loss >= g->count)
        return nb_error(NB_ERR_ARGUMENT, "backward: node %d is not in the graph", loss);
    nb_node_rec *l = &g->nodes[loss];
    if (nb_shape_count(l->shape) != 1) {
        char buf[64];
        return nb_error(NB_ERR_SHAPE, "backward: loss \"%s\" must be a scalar, has shape %s",
                        l->name, nb_shape_format(l->shape, buf, sizeof buf));
    }
    if (g->forwarded <= loss)
        return nb_error(NB_ERR_STATE,
                        "backward: loss \"%s\" has no value from this compile and input "
                        "(run nb_graph_forward first)",
                        l->name);
    if (!l->needs_grad)
        return nb_error(NB_ERR_STATE,
                        "backward: loss \"%s\" depends on no parameter or input with gradients",
                        l->name);
    /* Activation gradients are the tail of the arena; clear them at once. */
    size_t first = g->arena_capacity;
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *n = &g->nodes[i];
        if (n->grad && n->kind != NB_NODE_PARAM) {
            size_t at = (size_t)(n->grad - g->arena);
            if (at < first) first = at;
        }
    }
    if (first < g->arena_capacity)
        memset(g->arena + first, 0, (g->arena_capacity - first) * sizeof *g->arena);
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *n = &g->nodes[i];
        /* A writer after the loss does not run: clear its gradient too. */
        if (n->kind == NB_NODE_PARAM && (!n->grad_overwrite || n->grad_writer > loss))
            memset(n->grad, 0, nb_shape_count(n->shape) * sizeof *n->grad);
    }

    l->grad[0] = 1; /* dL/dL */
    unsigned fp = nb_fp_enter();
    for (int i = loss; i >= 0; i--) {
        nb_node_rec *n = &g->nodes[i];
        if (n->kind == NB_NODE_OP && n->needs_grad) n->op->backward(g, n);
    }
    nb_fp_leave(fp);
    return NB_OK;
}
