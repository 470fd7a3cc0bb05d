/* A model: a compiled graph with its roles (inputs, output, target, loss),
 * made from a layer spec (input "x", the layers, target "target", loss
 * "loss") or from a hand-built graph; its batch size and weights. Feeding
 * and predicting are in model_predict.c, the scalers, class names and
 * metadata in model_meta.c. */
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

/* The losses a spec names, and the op each one is. */
static const struct {
    const char *name, *op;
} losses[] = {{"softmax_ce", "softmax_with_loss"},
              {"bce", "bce_with_logits"},
              {"mse", "mse"},
              {"sse", "sse"},
              {"half_sse", "half_sse"},
              {"sae", "sae"}};
#define LOSS_COUNT (sizeof losses / sizeof losses[0])

nb_status nb_loss_parse(const char *name, const char **op)
{
    for (size_t i = 0; name && i < LOSS_COUNT; i++)
        if (strcmp(name, losses[i].name) == 0) {
            *op = losses[i].op;
            return NB_OK;
        }
    char q[NB_ESCAPE_SIZE];
    return nb_error(NB_ERR_NOT_FOUND,
                    "unknown loss \"%s\" (softmax_ce, bce, mse, sse, half_sse, sae)",
                    nb_escape(q, sizeof q, name));
}

const char *nb_loss_name_of(const char *op)
{
    for (size_t i = 0; op && i < LOSS_COUNT; i++)
        if (strcmp(op, losses[i].op) == 0) return losses[i].name;
    return op;
}

static nb_status check_batch(int batch)
{
    if (batch < 1 || batch > NB_MAX_BATCH)
        return nb_error(NB_ERR_ARGUMENT, "model batch size %d is not in [1, %d]", batch,
                        NB_MAX_BATCH);
    return NB_OK;
}

/* A node's shape with its first dimension set to batch. */
static nb_shape with_batch(nb_shape s, int batch)
{
    s.dim[0] = batch;
    return s;
}

/* A node's name for a role's message, or its handle when it has none. */
static const char *role_node(const nb_model *m, nb_node n, char *buf, size_t size)
{
    const char *name = nb_node_name(m->graph, n);
    if (name) {
        char q[NB_ESCAPE_SIZE];
        snprintf(buf, size, "\"%s\"", nb_escape(q, sizeof q, name));
    } else {
        snprintf(buf, size, "%d (no node of this graph)", n);
    }
    return buf;
}

/* The graph's nodes as roles see them: every input node is a model input
 * or the target, and the output does not depend on the target (predict
 * has none to give). mark holds one byte per node. */
static nb_status check_graph(const nb_model *m, unsigned char *mark)
{
    nb_graph *g = m->graph;
    int count = g->count;
    char b[NB_ESCAPE_SIZE + 32], c[NB_ESCAPE_SIZE + 32];
    memset(mark, 0, (size_t)count);
    for (int i = 0; i < m->n_inputs; i++) mark[m->inputs[i]] = 1;
    mark[m->target] = 2;
    for (int n = 0; n < count; n++)
        if (g->nodes[n].kind == NB_NODE_INPUT && !mark[n])
            return nb_error(NB_ERR_ARGUMENT,
                            "input node %s is neither a model input nor the target",
                            role_node(m, n, b, sizeof b));
    /* Walk back from the output (nodes only use earlier ones). */
    memset(mark, 0, (size_t)count);
    mark[m->output] = 1;
    for (int n = m->output; n >= 0; n--) {
        if (!mark[n]) continue;
        if (n == m->target)
            return nb_error(NB_ERR_ARGUMENT,
                            "the model's output %s depends on the target %s: a prediction has "
                            "no target",
                            role_node(m, m->output, b, sizeof b),
                            role_node(m, m->target, c, sizeof c));
        for (int k = 0; k < g->nodes[n].n_in; k++) mark[g->nodes[n].in[k]] = 1;
    }
    return NB_OK;
}

nb_status nb_model_check_roles(const nb_model *m)
{
    unsigned char *mark = nb_malloc((size_t)m->graph->count);
    if (!mark) return nb_error(NB_ERR_MEMORY, "checking the model's roles: out of memory");
    nb_status st = check_graph(m, mark);
    nb_free(mark);
    return st;
}

/* Check the roles against the compiled graph and fill in what follows
 * from them; the message names the role. */
static nb_status take_roles(nb_model *m, const nb_model_roles *r)
{
    nb_graph *g = m->graph;
    int count = nb_graph_node_count(g);
    char b[NB_ESCAPE_SIZE + 32], c[NB_ESCAPE_SIZE + 32];
    if (r->n_inputs < 1 || r->n_inputs > count || !r->inputs)
        return nb_error(NB_ERR_ARGUMENT, "the roles name %d inputs%s (1 or more needed)",
                        r->n_inputs, r->inputs ? "" : " and no array");
    m->inputs = nb_calloc((size_t)r->n_inputs, sizeof *m->inputs);
    m->input_size = nb_calloc((size_t)r->n_inputs, sizeof *m->input_size);
    unsigned char *seen = nb_calloc((size_t)count, 1);
    if (!m->inputs || !m->input_size || !seen) {
        nb_free(seen);
        return nb_error(NB_ERR_MEMORY, "out of memory for roles");
    }
    nb_shape first = nb_node_shape(g, r->inputs[0]);
    int batch = first.ndim >= 1 ? first.dim[0] : 0;
    size_t total = 0;
    nb_status st = NB_OK;
    for (int i = 0; i < r->n_inputs && st == NB_OK; i++) {
        nb_node n = r->inputs[i];
        nb_shape s = nb_node_shape(g, n);
        if (!nb_node_is_input(g, n))
            st = nb_error(NB_ERR_ARGUMENT, "model input %d (node %s) is not an input node", i,
                          role_node(m, n, b, sizeof b));
        else if (s.ndim < 1 || s.dim[0] != batch)
            st = nb_error(NB_ERR_SHAPE,
                          "model input %d (%s) is not [batch, ...] with the batch %d of input 0", i,
                          role_node(m, n, b, sizeof b), batch);
        else if (seen[n])
            st = nb_error(NB_ERR_ARGUMENT, "model input %d is node %s, which an earlier input is",
                          i, role_node(m, n, b, sizeof b));
        if (st != NB_OK) break;
        seen[n] = 1;
        m->inputs[i] = n;
        m->input_size[i] = (int)(nb_shape_count(s) / (size_t)batch);
        total += (size_t)m->input_size[i];
    }
    if (st == NB_OK && r->target >= 0 && r->target < count && seen[r->target])
        st = nb_error(NB_ERR_ARGUMENT, "the model's target %s is also one of its inputs",
                      role_node(m, r->target, b, sizeof b));
    nb_free(seen);
    if (st != NB_OK) return st;
    m->n_inputs = r->n_inputs;
    if (total > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT, "the model's inputs hold %zu values per sample (at most %d)",
                        total, NB_MAX_FEATURES);
    m->inputs_total = (int)total;
    m->x = m->inputs[0];
    m->output = r->output;
    m->target = r->target;
    m->loss = r->loss;
    m->batch = batch;
    nb_shape t = nb_node_shape(g, r->target);
    if (!nb_node_is_input(g, r->target) || t.ndim < 1 || t.dim[0] != batch)
        return nb_error(NB_ERR_ARGUMENT,
                        "the model's target %s is not an input node [batch, ...] with batch %d",
                        role_node(m, r->target, b, sizeof b), batch);
    const nb_node_rec *loss = r->loss >= 0 && r->loss < count ? &g->nodes[r->loss] : NULL;
    if (!loss || !loss->op || !loss->op->loss)
        return nb_error(NB_ERR_ARGUMENT,
                        "the model's loss %s is not a node of a loss op (docs/ops.md, "
                        "\"losses\")",
                        role_node(m, r->loss, b, sizeof b));
    if (r->output < 0 || r->output >= count || loss->in[0] != r->output || loss->in[1] != r->target)
        return nb_error(NB_ERR_ARGUMENT,
                        "the model's loss %s (op %s) does not take the output %s and the "
                        "target as its inputs",
                        role_node(m, r->loss, b, sizeof b), loss->op->name,
                        role_node(m, r->output, c, sizeof c));
    nb_shape y = nb_node_shape(g, r->output);
    if (y.ndim < 1 || y.dim[0] != batch)
        return nb_error(NB_ERR_SHAPE, "the model's output %s is not [batch, ...] with batch %d",
                        role_node(m, r->output, b, sizeof b), batch);
    m->outputs = (int)(nb_shape_count(y) / (size_t)batch);
    m->loss_def = loss->op->loss;
    m->loss_name = nb_loss_name_of(loss->op->name);
    return nb_model_check_roles(m);
}

static nb_model *new_model(nb_graph *g)
{
    nb_model *m = nb_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->graph = g;
    m->scaler.kind = NB_SCALE_NONE;
    m->target_scaler.kind = NB_SCALE_NONE;
    return m;
}

nb_status nb_model_from_graph(nb_graph *graph, const nb_model_roles *roles, nb_model **out)
{
    if (!out) {
        nb_graph_free(graph);
        return nb_error(NB_ERR_ARGUMENT, "making a model from a graph: no output pointer");
    }
    *out = NULL;
    if (!graph || !roles) {
        nb_graph_free(graph);
        return nb_error(NB_ERR_ARGUMENT, "making a model from a graph: no graph or roles");
    }
    int was_compiled = graph->compiled;
    nb_status st = nb_graph_status(graph);
    if (st == NB_OK && !was_compiled) st = nb_graph_compile(graph);
    if (st != NB_OK) {
        nb_graph_free(graph);
        return nb_error_prefix(st, "making a model from a graph");
    }
    nb_model *m = new_model(graph);
    if (!m) {
        nb_graph_free(graph);
        return nb_error(NB_ERR_MEMORY, "making a model from a graph: out of memory");
    }
    st = take_roles(m, roles);
    if (st == NB_OK) st = check_batch(m->batch);
    /* Predictions come in chunks of any size: the graph must build for
     * another batch too (a reshape to a fixed batch would not). */
    if (st == NB_OK) {
        int batch = m->batch, other = batch > 1 ? batch - 1 : 2; /* smaller: no new memory */
        st = nb_model_set_batch(m, other);
        if (st == NB_OK) st = nb_model_set_batch(m, batch);
        if (st != NB_OK)
            st = nb_error_prefix(st, "the graph does not build for a batch of %d as well as %d",
                                 other, batch);
    }
    if (st == NB_OK && !was_compiled) st = nb_model_init(m, 0);
    if (st != NB_OK) {
        nb_model_free(m);
        return nb_error_prefix(st, "making a model from a graph");
    }
    *out = m;
    return NB_OK;
}

/* Class indices [N] for softmax_ce, else one row of targets per sample. */
static nb_shape spec_target_shape(const nb_loss_def *loss, int batch, int outputs)
{
    return loss->link == NB_LINK_SOFTMAX ? nb_shape1(batch) : nb_shape2(batch, outputs);
}

nb_status nb_model_create_shaped(const char *spec, nb_shape sample, const char *loss, int batch,
                                 nb_model **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "creating a model: no output pointer");
    *out = NULL;
    const char *op;
    nb_status st = nb_loss_parse(loss ? loss : "softmax_ce", &op);
    if (st != NB_OK) return st;
    size_t inputs = nb_shape_count(sample);
    char sq[64];
    if (sample.ndim < 1 || sample.ndim >= NB_MAX_DIMS || inputs < 1 || inputs > NB_MAX_FEATURES)
        return nb_error(NB_ERR_ARGUMENT,
                        "creating a model: a sample of shape %s is not 1 to %d dimensions "
                        "of 1 to %d values",
                        nb_shape_format(sample, sq, sizeof sq), NB_MAX_DIMS - 1, NB_MAX_FEATURES);
    if ((st = check_batch(batch)) != NB_OK) return st;
    nb_spec layers;
    if ((st = nb_spec_parse(spec, &layers)) != NB_OK) return st;
    const nb_loss_def *def = nb_op_find(op)->loss;
    if ((def->target == NB_TARGET_BINARY && layers.outputs != 1) ||
        (def->link == NB_LINK_SOFTMAX && layers.outputs < 2)) {
        char q[NB_ESCAPE_SIZE];
        nb_escape(q, sizeof q, spec);
        if (def->target == NB_TARGET_BINARY)
            return nb_error(NB_ERR_ARGUMENT,
                            "loss bce needs one output logit, but spec \"%s\" ends with dense:%d",
                            q, layers.outputs);
        return nb_error(NB_ERR_ARGUMENT,
                        "loss softmax_ce needs at least 2 outputs (classes), but spec \"%s\" "
                        "ends with dense:%d (use bce for one logit)",
                        q, layers.outputs);
    }
    nb_graph *g = nb_graph_create();
    if (!g) return nb_error(NB_ERR_MEMORY, "creating a model: out of memory");
    nb_shape xs = {sample.ndim + 1, {batch}};
    for (int i = 0; i < sample.ndim; i++) xs.dim[i + 1] = sample.dim[i];
    nb_node x = nb_input(g, "x", xs), y = NB_NONE;
    st = nb_spec_build(g, &layers, x, &y);
    nb_node target = nb_input(g, "target", spec_target_shape(def, batch, layers.outputs));
    nb_node in[2] = {y, target};
    nb_node l = nb_apply(g, op, "loss", 2, in);
    nb_model_roles roles = {1, &x, y, target, l};
    nb_model *m = NULL;
    if (st == NB_OK) st = nb_graph_status(g);
    if (st == NB_OK) {
        st = nb_model_from_graph(g, &roles, &m);
    } else {
        nb_graph_free(g);
    }
    if (st != NB_OK) {
        char q[NB_ESCAPE_SIZE];
        return nb_error_prefix(st, "building model \"%s\" with %zu %s",
                               nb_escape(q, sizeof q, spec), inputs,
                               nb_plural((long long)inputs, "input", "inputs"));
    }
    memcpy(m->spec, spec, strlen(spec) + 1);
    *out = m;
    return NB_OK;
}

nb_status nb_model_create(const char *spec, int inputs, const char *loss, int batch, nb_model **out)
{
    if (out) *out = NULL;
    if (inputs < 1 || inputs > NB_MAX_FEATURES) {
        nb_status st = nb_error(NB_ERR_ARGUMENT, "creating a model: %d inputs is not in [1, %d]",
                                inputs, NB_MAX_FEATURES);
        if (loss && nb_loss_check(loss) != NB_OK) return nb_loss_check(loss);
        return st;
    }
    return nb_model_create_shaped(spec, nb_shape1(inputs), loss, batch, out);
}

void nb_model_free(nb_model *m)
{
    if (!m) return;
    nb_graph_free(m->graph);
    nb_free(m->inputs);
    nb_free(m->input_size);
    nb_model_clear_meta(m);
    nb_free(m);
}

/* ------------------------------------------------------------- accessors */

nb_graph *nb_model_graph(nb_model *m)
{
    return m ? m->graph : NULL;
}
nb_node nb_model_input(const nb_model *m)
{
    return m ? m->x : NB_NONE;
}
int nb_model_input_count(const nb_model *m)
{
    return m ? m->n_inputs : 0;
}
nb_node nb_model_input_at(const nb_model *m, int index)
{
    return m && index >= 0 && index < m->n_inputs ? m->inputs[index] : NB_NONE;
}
nb_node nb_model_output(const nb_model *m)
{
    return m ? m->output : NB_NONE;
}
nb_node nb_model_target(const nb_model *m)
{
    return m ? m->target : NB_NONE;
}
nb_node nb_model_loss(const nb_model *m)
{
    return m ? m->loss : NB_NONE;
}
const char *nb_model_spec(const nb_model *m)
{
    return m && m->spec[0] ? m->spec : NULL;
}
int nb_model_inputs(const nb_model *m)
{
    return m ? m->inputs_total : 0;
}
int nb_model_outputs(const nb_model *m)
{
    return m ? m->outputs : 0;
}
int nb_model_batch(const nb_model *m)
{
    return m ? m->batch : 0;
}

const char *nb_model_loss_name(const nb_model *m)
{
    return m ? m->loss_name : NULL;
}

const nb_loss_def *nb_model_loss_def(const nb_model *m)
{
    return m->loss_def;
}

static nb_loss_info info_of(const nb_loss_def *d)
{
    return (nb_loss_info){.summed = d->reduction == NB_REDUCE_SUM,
                          .classifier = nb_loss_is_classifier(d),
                          .binary = d->target == NB_TARGET_BINARY,
                          .probabilities = nb_loss_is_classifier(d)};
}

nb_loss_info nb_model_loss_info(const nb_model *m)
{
    return m ? info_of(m->loss_def) : (nb_loss_info){0};
}

nb_status nb_loss_info_of(const char *loss, nb_loss_info *out)
{
    const char *op;
    if (!out || !loss) return nb_error(NB_ERR_ARGUMENT, "nb_loss_info_of: loss or out is NULL");
    nb_status st = nb_loss_parse(loss, &op);
    if (st == NB_OK) *out = info_of(nb_op_find(op)->loss);
    return st;
}

/* The loss itself is a classifier's, or a regression loss was given one-hot
 * classes (their names say so). */
static int classifier_loss(const nb_model *m)
{
    return nb_loss_is_classifier(m->loss_def);
}

int nb_model_is_classifier(const nb_model *m)
{
    return m && (classifier_loss(m) || m->class_count > 0);
}

/* ------------------------------------------------------ batch and init */

static nb_status reshape(nb_model *m, int batch)
{
    nb_graph *g = m->graph;
    nb_status st = NB_OK;
    for (int i = 0; i < m->n_inputs && st == NB_OK; i++)
        st = nb_input_reshape(g, m->inputs[i], with_batch(nb_node_shape(g, m->inputs[i]), batch));
    if (st == NB_OK)
        st = nb_input_reshape(g, m->target, with_batch(nb_node_shape(g, m->target), batch));
    if (st == NB_OK) st = nb_graph_compile(g);
    return st;
}

nb_status nb_model_set_batch(nb_model *m, int batch)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting the batch size: no model");
    nb_status st = check_batch(batch);
    if (st != NB_OK) return st;
    if (batch == m->batch && m->graph->compiled) return NB_OK;
    size_t count;
    if (!nb_mul_size((size_t)batch, (size_t)m->inputs_total, &count))
        return nb_error(NB_ERR_LIMIT, "batch %d x %d inputs overflows", batch, m->inputs_total);
    st = reshape(m, batch);
    if (st != NB_OK) {
        /* Go back to the old batch, whose memory is still there. */
        reshape(m, m->batch);
        return nb_error_prefix(st, "setting the model's batch size to %d", batch);
    }
    m->batch = batch;
    return NB_OK;
}

nb_status nb_model_init(nb_model *m, uint64_t seed)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "initialising a model: no model");
    if (!m->graph->compiled) {
        nb_status st = nb_graph_compile(m->graph);
        if (st != NB_OK) return st;
    }
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    nb_graph_set_seed(m->graph, nb_graph_seed_of(seed));
    return nb_graph_init_params(m->graph, &rng);
}
