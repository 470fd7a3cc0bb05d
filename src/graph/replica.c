/* Replicas of a graph: the same nodes with their own activation memory,
 * for running a shard of a batch on another thread while the parameters
 * stay in one array. */
#include "internal.h"

#include <string.h>

void nb_graph_link(nb_graph *g, nb_real *params, nb_real *grads)
{
    g->linked_params = params;
    g->linked_grads = grads;
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *n = &g->nodes[i];
        if (n->kind != NB_NODE_PARAM) continue;
        n->value = (params ? params : g->params) + n->param_offset;
        n->grad = (grads ? grads : g->param_grads) + n->param_offset;
    }
}

/* dst := a deep copy of src's node (its arrays its own); op state is made
 * again when the replica compiles. */
static int copy_node(nb_node_rec *dst, const nb_node_rec *src)
{
    *dst = *src;
    dst->in = NULL;
    dst->attrs = NULL;
    dst->const_data = NULL;
    dst->op_state = NULL;
    dst->value = dst->grad = dst->work = dst->scratch = NULL;
    size_t count = nb_shape_count(src->shape);
    if (src->n_in > 0 && !(dst->in = nb_malloc((size_t)src->n_in * sizeof *dst->in))) return 0;
    if (src->n_in > 0) memcpy(dst->in, src->in, (size_t)src->n_in * sizeof *dst->in);
    if (src->n_attrs > 0 && !(dst->attrs = nb_malloc((size_t)src->n_attrs * sizeof *dst->attrs)))
        return 0;
    if (src->n_attrs > 0) memcpy(dst->attrs, src->attrs, (size_t)src->n_attrs * sizeof *dst->attrs);
    if (src->const_data && !(dst->const_data = nb_malloc(count * sizeof *dst->const_data)))
        return 0;
    if (src->const_data) memcpy(dst->const_data, src->const_data, count * sizeof *dst->const_data);
    return 1;
}

nb_status nb_graph_replica(const nb_graph *src, nb_graph **out)
{
    *out = NULL;
    if (!src || !src->compiled)
        return nb_error(NB_ERR_STATE, "replicating a graph: it is not compiled");
    nb_graph *g = nb_graph_create();
    if (!g) return NB_ERR_MEMORY;
    g->nodes = nb_calloc((size_t)src->count, sizeof *g->nodes);
    int ok = g->nodes != NULL;
    for (int i = 0; ok && i < src->count; i++, g->count++)
        ok = copy_node(&g->nodes[i], &src->nodes[i]);
    if (!ok) {
        nb_graph_free(g);
        return nb_error(NB_ERR_MEMORY, "replicating a graph of %d nodes: out of memory",
                        src->count);
    }
    g->capacity = src->count;
    g->mode = src->mode;
    g->seed = src->seed;
    g->draws = src->draws;
    nb_status st = nb_graph_compile(g);
    if (st != NB_OK) {
        nb_graph_free(g);
        return nb_error_prefix(st, "replicating a graph");
    }
    nb_graph_link(g, src->params, NULL);
    *out = g;
    return NB_OK;
}
