/* Compiling: infer every shape, decide which nodes carry gradients, and plan
 * memory. Activations, each op's own work, one scratch region shared by all
 * ops (an op uses it only inside its own forward or backward call, and ops
 * run one at a time) and activation gradients share one block (gradients
 * last, so one memset clears them all); parameters and their gradients are
 * two contiguous arrays. */
#include "internal.h"

#include <string.h>

#define ALIGN 16 /* elements: 64-byte aligned offsets for float */

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* *total += round_up(n) (or n when exact); 0 when the sum would not fit in
 * a size_t or its bytes would not: a plan that wraps must never be a small
 * block that ops then overrun. */
static int add_count(size_t *total, size_t n, int exact)
{
    const size_t limit = SIZE_MAX / sizeof(nb_real) - ALIGN;
    if (n > limit) return 0;
    if (!exact) n = round_up(n);
    if (*total > limit - n) return 0;
    *total += n;
    return 1;
}

/* The state block: trainable parameters first (the optimizer, clipping and
 * gradient checks see only those, param_count values), then the buffers
 * (state_count values in all). */
static nb_status plan_params(nb_graph *g)
{
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        enum nb_node_kind kind = pass == 0 ? NB_NODE_PARAM : NB_NODE_BUFFER;
        for (int i = 0; i < g->count; i++) {
            nb_node_rec *n = &g->nodes[i];
            if (n->kind != kind) continue;
            n->param_offset = total;
            if (!add_count(&total, nb_shape_count(n->shape), 1))
                return nb_error(NB_ERR_MEMORY,
                                "compiling: %s \"%s\" takes the parameter count "
                                "past the address space",
                                pass == 0 ? "parameter" : "buffer", n->name);
            if (total > NB_MAX_PARAMS)
                return nb_error(NB_ERR_LIMIT,
                                "compiling: %s \"%s\" takes the model to %zu parameter and "
                                "buffer values; at most %zu (NB_MAX_PARAMS) are allowed",
                                pass == 0 ? "parameter" : "buffer", n->name, total, NB_MAX_PARAMS);
        }
        if (pass == 0) g->param_count = total;
    }
    if (total > g->param_capacity) {
        nb_real *p = nb_realloc(g->params, total * sizeof *p);
        if (!p) return nb_error(NB_ERR_MEMORY, "compiling: no memory for %zu parameters", total);
        g->params = p;
        nb_real *d = nb_realloc(g->param_grads, total * sizeof *d);
        if (!d) return nb_error(NB_ERR_MEMORY, "compiling: no memory for %zu gradients", total);
        g->param_grads = d;
        /* New parameters start at zero until nb_graph_init_params. */
        memset(p + g->param_capacity, 0, (total - g->param_capacity) * sizeof *p);
        g->param_capacity = total;
    }
    g->state_count = total;
    return NB_OK;
}

nb_status nb_graph_compile(nb_graph *g)
{
    if (!g) return nb_error(NB_ERR_ARGUMENT, "compiling: no graph");
    if (g->status != NB_OK)
        return nb_error(g->status, "compiling: the graph has a building error: %s",
                        g->status_text[0] ? g->status_text : nb_status_name(g->status));
    if (g->count == 0) return nb_error(NB_ERR_STATE, "compiling: the graph is empty");

    /* Creation order is topological (an op only uses older nodes). */
    g->first_random = -1;
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *n = &g->nodes[i];
        if (n->kind == NB_NODE_OP) {
            nb_status st = n->op->infer(g, n);
            if (st != NB_OK) return st;
            if (n->op->random && g->first_random < 0) g->first_random = i;
        }
        n->needs_grad = nb_node_flows_grad(g, n);
    }
    /* A parameter used once, by an op that can write its gradient outright,
     * needs no clearing before backward: this saves a pass over all
     * parameter gradients per step. */
    for (int i = 0; i < g->count; i++) g->nodes[i].grad_overwrite = 0;
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            nb_node_rec *in = nb_in(g, n, k);
            if (in->kind != NB_NODE_PARAM) continue;
            /* 0: unused so far; 1: one first_write consumer; -1: otherwise */
            in->grad_overwrite = in->grad_overwrite == 0 && n->op->first_write ? 1 : -1;
            in->grad_writer = i;
        }
    }
    for (int i = 0; i < g->count; i++) g->nodes[i].grad_overwrite = g->nodes[i].grad_overwrite == 1;
    nb_status st = plan_params(g);
    if (st != NB_OK) return st;

    size_t values = 0, grads = 0, scratch = 0;
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        size_t count = nb_shape_count(n->shape);
        if (!nb_kind_is_state(n->kind) &&
            (!add_count(&values, count, 0) || !add_count(&values, n->work_count, 0) ||
             (n->needs_grad && !add_count(&grads, count, 0)) ||
             !add_count(&(size_t){0}, n->scratch_count, 0)))
            return nb_error(NB_ERR_MEMORY,
                            "compiling: node \"%s\" takes the activation memory past the "
                            "address space",
                            n->name);
        if (n->kind == NB_NODE_OP && round_up(n->scratch_count) > scratch)
            scratch = round_up(n->scratch_count);
    }
    size_t scratch_at = values;
    if (!add_count(&values, scratch, 1))
        return nb_error(NB_ERR_MEMORY, "compiling: op scratch past the address space");
    size_t total = values;
    if (!add_count(&total, grads, 1))
        return nb_error(NB_ERR_MEMORY, "compiling: activation gradients past the address space");
    if (total > g->arena_capacity) {
        nb_free(g->arena);
        g->arena = nb_calloc(total, sizeof *g->arena);
        g->arena_capacity = g->arena ? total : 0;
        if (!g->arena)
            return nb_error(NB_ERR_MEMORY, "compiling: no memory for %zu activation values", total);
    }

    size_t vpos = 0, gpos = values;
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *n = &g->nodes[i];
        size_t count = nb_shape_count(n->shape);
        n->work_ready = 0; /* work moves: nothing in it is left from before */
        if (nb_kind_is_state(n->kind)) {
            n->value = g->params + n->param_offset;
            n->grad = n->kind == NB_NODE_PARAM ? g->param_grads + n->param_offset : NULL;
            n->work = n->scratch = NULL;
            continue;
        }
        n->value = g->arena + vpos;
        vpos += round_up(count);
        n->work = n->work_count ? g->arena + vpos : NULL;
        vpos += round_up(n->work_count);
        n->scratch = n->scratch_count ? g->arena + scratch_at : NULL;
        n->grad = NULL;
        if (n->needs_grad) {
            n->grad = g->arena + gpos;
            gpos += round_up(count);
        }
        if (n->kind == NB_NODE_CONST) memcpy(n->value, n->const_data, count * sizeof *n->value);
        if (n->kind == NB_NODE_INPUT && n->bound) n->value = (nb_real *)n->bound;
    }
    if (g->linked_params || g->linked_grads) nb_graph_link(g, g->linked_params, g->linked_grads);
    g->compiled = 1;
    g->forwarded = 0;
    return NB_OK;
}

int nb_node_flows_grad(const nb_graph *g, const nb_node_rec *n)
{
    switch (n->kind) {
    case NB_NODE_PARAM:
        return 1;
    case NB_NODE_INPUT:
        return n->wants_grad != 0;
    case NB_NODE_CONST:
    case NB_NODE_BUFFER:
        return 0;
    case NB_NODE_OP:
        break;
    }
    for (int k = 0; k < n->n_in; k++)
        if (g->nodes[n->in[k]].needs_grad) return 1;
    return 0;
}

size_t nb_node_arena(const nb_node_rec *n, int needs_grad, size_t *scratch)
{
    if (nb_kind_is_state(n->kind)) return 0;
    size_t total = 0, count = nb_shape_count(n->shape), own = 0;
    if (!add_count(&total, count, 0) || !add_count(&total, n->work_count, 0) ||
        (needs_grad && !add_count(&total, count, 0)) || !add_count(&own, n->scratch_count, 0))
        return SIZE_MAX;
    if (own > *scratch) { /* the shared region grows to this node's scratch */
        if (!add_count(&total, own - *scratch, 1)) return SIZE_MAX;
        *scratch = own;
    }
    return total;
}

nb_real *nb_graph_params(nb_graph *g, size_t *count)
{
    if (count) *count = g ? g->param_count : 0;
    return g ? g->params : NULL;
}

nb_real *nb_graph_param_grads(nb_graph *g, size_t *count)
{
    if (count) *count = g ? g->param_count : 0;
    return g ? g->param_grads : NULL;
}

nb_real *nb_graph_state(nb_graph *g, size_t *count)
{
    if (count) *count = g ? g->state_count : 0;
    return g ? g->params : NULL;
}
