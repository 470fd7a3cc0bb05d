/* Recording a graph's passes as steps (nb_explain_graph): the forward
 * order, the backward order from the loss, and on every edge the gradient
 * its consumer's backward sent into that input. The edges are measured by
 * a second backward pass run op by op: before an op's backward, the
 * gradients of its inputs are set aside and zeroed, so what the op adds is
 * its own part; then the parts are added back. The values and gradients
 * shown as the nodes' own come from nb_graph_forward and nb_graph_backward,
 * which run last. */
#include "explain.h"

#include <stdint.h>
#include <string.h>

static size_t count_of(const nb_node_rec *n)
{
    return nb_shape_count(n->shape);
}

/* Is slot k of node j the first of j's slots naming that input? */
static int first_slot(const nb_node_rec *n, int k)
{
    for (int q = 0; q < k; q++)
        if (n->in[q] == n->in[k]) return 0;
    return 1;
}

/* reach[i]: the loss depends on node i (the loss itself included). */
static void mark_reach(const nb_graph *g, nb_node loss, char *reach)
{
    reach[loss] = 1;
    for (int j = loss; j >= 0; j--)
        if (reach[j])
            for (int k = 0; k < g->nodes[j].n_in; k++) reach[g->nodes[j].in[k]] = 1;
}

/* Where each slot's gradient goes: slots that take one get room. */
static nb_status plan_edges(nb_explain *e, const char *reach, size_t *scratch_count)
{
    nb_graph *g = e->graph;
    int slots = 0;
    for (int j = 0; j < g->count; j++) slots += g->nodes[j].n_in;
    e->edge_first = nb_calloc((size_t)g->count + 1, sizeof *e->edge_first);
    e->edge_at = nb_calloc((size_t)slots + 1, sizeof *e->edge_at);
    if (!e->edge_first || !e->edge_at) return nb_error(NB_ERR_MEMORY, "explain: out of memory");
    size_t total = 0;
    *scratch_count = 0;
    for (int j = 0, at = 0; j < g->count; j++) {
        const nb_node_rec *n = &g->nodes[j];
        size_t own = 0;
        e->edge_first[j] = at;
        for (int k = 0; k < n->n_in; k++, at++) {
            const nb_node_rec *in = nb_in(g, n, k);
            int flows = e->loss != NB_NONE && j <= e->loss && reach[j] && n->kind == NB_NODE_OP &&
                        n->needs_grad && in->grad && first_slot(n, k);
            e->edge_at[at] = flows ? total : SIZE_MAX;
            if (flows) total += count_of(in), own += count_of(in);
        }
        if (own > *scratch_count) *scratch_count = own;
    }
    e->edge_first[g->count] = slots;
    e->edge_values = nb_calloc(total + 1, sizeof *e->edge_values);
    if (!e->edge_values) return nb_error(NB_ERR_MEMORY, "explain: out of memory");
    return NB_OK;
}

/* Node j's backward alone: each input's gradient so far set aside in
 * scratch, the op's part measured from zero, then the two added. */
static void backward_one(nb_explain *e, nb_node_rec *n, int j, nb_real *scratch)
{
    nb_graph *g = e->graph;
    size_t used = 0;
    for (int k = 0; k < n->n_in; k++) {
        size_t at = e->edge_at[e->edge_first[j] + k];
        if (at == SIZE_MAX) continue;
        nb_node_rec *in = nb_in(g, n, k);
        memcpy(scratch + used, in->grad, count_of(in) * sizeof *scratch);
        memset(in->grad, 0, count_of(in) * sizeof *in->grad);
        used += count_of(in);
    }
    n->op->backward(g, n);
    used = 0;
    for (int k = 0; k < n->n_in; k++) {
        size_t at = e->edge_at[e->edge_first[j] + k];
        if (at == SIZE_MAX) continue;
        nb_node_rec *in = nb_in(g, n, k);
        size_t c = count_of(in);
        memcpy(e->edge_values + at, in->grad, c * sizeof *in->grad);
        for (size_t i = 0; i < c; i++) in->grad[i] = scratch[used + i] + in->grad[i];
        used += c;
    }
}

/* The stepped backward pass that measures the edges. */
static nb_status measure_edges(nb_explain *e, const char *reach)
{
    nb_graph *g = e->graph;
    size_t scratch_count;
    nb_status st = plan_edges(e, reach, &scratch_count);
    if (st != NB_OK) return st;
    nb_real *scratch = nb_calloc(scratch_count + 1, sizeof *scratch);
    if (!scratch) return nb_error(NB_ERR_MEMORY, "explain: out of memory");
    for (int i = 0; i < g->count; i++)
        if (g->nodes[i].grad) memset(g->nodes[i].grad, 0, count_of(&g->nodes[i]) * sizeof(nb_real));
    g->nodes[e->loss].grad[0] = 1; /* dL/dL */
    unsigned fp = nb_fp_enter();
    for (int j = e->loss; j >= 0; j--) {
        nb_node_rec *n = &g->nodes[j];
        if (n->kind == NB_NODE_OP && n->needs_grad && reach[j]) backward_one(e, n, j, scratch);
    }
    nb_fp_leave(fp);
    nb_free(scratch);
    return NB_OK;
}

static nb_status list_steps(nb_explain *e, const char *reach)
{
    nb_graph *g = e->graph;
    e->steps = nb_calloc(2 * (size_t)g->count, sizeof *e->steps);
    if (!e->steps) return nb_error(NB_ERR_MEMORY, "explain: out of memory");
    for (int i = 0; i < g->count; i++) e->steps[e->n_steps++] = (explain_step){NB_PASS_FORWARD, i};
    for (int i = e->loss; i >= 0; i--)
        if (reach[i] && g->nodes[i].grad)
            e->steps[e->n_steps++] = (explain_step){NB_PASS_BACKWARD, i};
    return NB_OK;
}

nb_status nb_explain_graph(nb_graph *g, nb_node loss, nb_explain **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "explain: out must not be NULL");
    *out = NULL;
    if (!g) return nb_error(NB_ERR_ARGUMENT, "explain: no graph");
    if (loss != NB_NONE && (loss < 0 || loss >= g->count))
        return nb_error(NB_ERR_ARGUMENT, "explain: loss node %d is not in the graph", loss);
    nb_status st = nb_graph_forward(g);
    /* A first backward pass refuses what cannot be explained (a loss that
     * is not a scalar or depends on nothing with a gradient). */
    if (st == NB_OK && loss != NB_NONE) st = nb_graph_backward(g, loss);
    if (st != NB_OK) return st;
    nb_explain *e = nb_calloc(1, sizeof *e);
    char *reach = nb_calloc((size_t)g->count + 1, 1);
    if (!e || !reach) {
        nb_free(e);
        nb_free(reach);
        return nb_error(NB_ERR_MEMORY, "explain: out of memory");
    }
    e->graph = g;
    e->loss = loss;
    if (loss != NB_NONE) mark_reach(g, loss, reach);
    st = list_steps(e, reach);
    if (st == NB_OK && loss != NB_NONE)
        st = measure_edges(e, reach);
    else if (st == NB_OK) {
        size_t scratch;
        st = plan_edges(e, reach, &scratch);
    }
    /* The nodes' own gradients: those of nb_graph_backward. */
    if (st == NB_OK && loss != NB_NONE) st = nb_graph_backward(g, loss);
    nb_free(reach);
    if (st != NB_OK) {
        nb_explain_free(e);
        return st;
    }
    *out = e;
    return NB_OK;
}

void nb_explain_free(nb_explain *e)
{
    if (!e) return;
    nb_free(e->steps);
    nb_free(e->edge_first);
    nb_free(e->edge_at);
    nb_free(e->edge_values);
    nb_free(e);
}

int nb_explain_step_count(const nb_explain *e)
{
    return e ? e->n_steps : 0;
}

nb_pass nb_explain_step_pass(const nb_explain *e, int step)
{
    return e && step >= 0 && step < e->n_steps ? e->steps[step].pass : NB_PASS_FORWARD;
}

nb_node nb_explain_step_node(const nb_explain *e, int step)
{
    return e && step >= 0 && step < e->n_steps ? e->steps[step].node : NB_NONE;
}

nb_node nb_explain_loss(const nb_explain *e)
{
    return e ? e->loss : NB_NONE;
}

const nb_real *nb_explain_edge_grad(const nb_explain *e, nb_node consumer, int input)
{
    if (!e || consumer < 0 || consumer >= e->graph->count || input < 0 ||
        input >= e->graph->nodes[consumer].n_in)
        return NULL;
    size_t at = e->edge_at[e->edge_first[consumer] + input];
    return at == SIZE_MAX ? NULL : e->edge_values + at;
}

nb_status nb_explain_model(nb_model *model, const nb_dataset *data, size_t index, nb_explain **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "explain: out must not be NULL");
    *out = NULL;
    if (!model || !data) return nb_error(NB_ERR_ARGUMENT, "explain: no model or no data");
    if (index >= data->count)
        return nb_error(NB_ERR_ARGUMENT, "explain: sample %zu (0-based) is past the data's %zu %s",
                        index, data->count, nb_plural((long long)data->count, "sample", "samples"));
    nb_status st = nb_model_check_data(model, data);
    if (st != NB_OK) return st;
    nb_dataset one;
    if ((st = nb_dataset_subset(data, &index, 1, &one)) != NB_OK) return st;
    const nb_scaler *scaler = nb_model_scaler(model);
    if (scaler && scaler->kind != NB_SCALE_NONE) nb_scaler_apply(scaler, one.x, 1);
    if (one.classes == 0) nb_scaler_apply(nb_model_target_scaler(model), one.y, 1);
    nb_graph *g = nb_model_graph(model);
    /* The input's gradient too: which pixels move the loss. */
    for (int i = 0; i < nb_model_input_count(model) && st == NB_OK; i++)
        st = nb_input_set_grad(g, nb_model_input_at(model, i), 1);
    if (st == NB_OK) st = nb_model_set_batch(model, 1);
    if (st == NB_OK) st = nb_graph_set_mode(g, NB_MODE_EVAL);
    if (st == NB_OK) st = nb_model_feed(model, &one, NULL, 0, 1);
    nb_dataset_free(&one);
    if (st == NB_OK) st = nb_explain_graph(g, nb_model_loss(model), out);
    return st;
}
