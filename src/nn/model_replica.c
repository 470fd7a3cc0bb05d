/* A model's replica: its graph copied (nb_graph_replica) with the same
 * roles, for computing a shard of a training batch on another thread. It
 * has no scaler, class names or metadata: it only trains. */
#include "model_internal.h"

#include <string.h>

nb_status nb_model_replica(const nb_model *m, nb_model **out)
{
    *out = NULL;
    nb_graph *g;
    nb_status st = nb_graph_replica(m->graph, &g);
    if (st != NB_OK) return st;
    nb_model *r = nb_calloc(1, sizeof *r);
    size_t n = (size_t)m->n_inputs;
    if (r) r->inputs = nb_calloc(n, sizeof *r->inputs);
    if (r) r->input_size = nb_calloc(n, sizeof *r->input_size);
    if (!r || !r->inputs || !r->input_size) {
        if (r) {
            nb_free(r->inputs);
            nb_free(r->input_size);
        }
        nb_free(r);
        nb_graph_free(g);
        return nb_error(NB_ERR_MEMORY, "replicating a model: out of memory");
    }
    memcpy(r->spec, m->spec, sizeof r->spec);
    r->graph = g;
    r->n_inputs = m->n_inputs;
    memcpy(r->inputs, m->inputs, n * sizeof *r->inputs);
    memcpy(r->input_size, m->input_size, n * sizeof *r->input_size);
    r->x = m->x;
    r->output = m->output;
    r->target = m->target;
    r->loss = m->loss;
    r->loss_def = m->loss_def;
    r->loss_name = m->loss_name;
    r->inputs_total = m->inputs_total;
    r->outputs = m->outputs;
    r->batch = m->batch;
    r->scaler.kind = NB_SCALE_NONE;
    r->target_scaler.kind = NB_SCALE_NONE;
    *out = r;
    return NB_OK;
}
