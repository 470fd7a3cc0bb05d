/* A model: a compiled graph with its roles (inputs, output, target, loss),
 * made from a layer spec (input "x", the layers, target "target", loss
 * "loss") or from a hand-built graph, plus what it needs to be used later:
 * the scaler, class names and free-form metadata. */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

int nb_model_meta_reserved(const char *key)
{
    static const char *const reserved[] = {"format",       "format_version", "spec",  "loss",
                                           "inputs",       "outputs",        "scale", "class_names",
                                           "target_scale", "graph"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(key, reserved[i]) == 0) return 1;
    return 0;
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
    char b[NB_ESCAPE_SIZE + 32];
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
                            role_node(m, m->output, b, sizeof b), g->nodes[m->target].name);
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

static void clear_scaler(nb_scaler *s)
{
    nb_free(s->offset);
    nb_free(s->scale);
    *s = (nb_scaler){NB_SCALE_NONE, 0, NULL, NULL};
}

static void clear_class_names(nb_model *m)
{
    for (int i = 0; i < m->class_count; i++) nb_free(m->class_names[i]);
    nb_free(m->class_names);
    m->class_names = NULL;
    m->class_count = 0;
}

void nb_model_free(nb_model *m)
{
    if (!m) return;
    nb_graph_free(m->graph);
    nb_free(m->inputs);
    nb_free(m->input_size);
    clear_scaler(&m->scaler);
    clear_scaler(&m->target_scaler);
    clear_class_names(m);
    for (int i = 0; i < m->meta_count; i++) nb_free(m->meta[i].json);
    nb_free(m->meta);
    nb_names_free(&m->meta_index);
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
    return nb_graph_init_params(m->graph, &rng);
}

/* ---------------------------------------------------------- feeding rows */

nb_status nb_model_gather(nb_model *m, const nb_real *x, const int *index, size_t start, int rows)
{
    nb_graph *g = m->graph;
    size_t total = (size_t)m->inputs_total, offset = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        nb_real *in = nb_node_value(g, m->inputs[i]);
        size_t size = (size_t)m->input_size[i];
        if (!in || nb_shape_count(nb_node_shape(g, m->inputs[i])) != (size_t)rows * size)
            return nb_error(NB_ERR_STATE, "feeding %d rows: the model is compiled for %d", rows,
                            m->batch);
        for (int r = 0; r < rows; r++) {
            size_t s = index ? (size_t)index[start + (size_t)r] : start + (size_t)r;
            memcpy(in + (size_t)r * size, x + s * total + offset, size * sizeof *in);
        }
        offset += size;
    }
    g->forwarded = 0; /* values computed before are stale */
    return NB_OK;
}

nb_status nb_model_feed(nb_model *m, const nb_dataset *data, const int *index, size_t start,
                        int rows)
{
    if (!m || !data || !data->x || rows < 1)
        return nb_error(NB_ERR_ARGUMENT, "feeding samples: no model, data or rows");
    if (data->features != m->inputs_total)
        return nb_error(NB_ERR_SHAPE, "feeding samples: %d %s per sample, the model takes %d",
                        data->features, nb_plural(data->features, "feature", "features"),
                        m->inputs_total);
    nb_status st = nb_model_gather(m, data->x, index, start, rows);
    if (st != NB_OK) return st;
    nb_real *target = nb_node_value(m->graph, m->target);
    size_t w = nb_shape_count(nb_node_shape(m->graph, m->target)) / (size_t)rows;
    if (data->classes == 0 ? !data->y || (size_t)data->targets != w : !data->labels)
        return nb_error(NB_ERR_SHAPE,
                        "feeding samples: the model's target takes %zu values per sample, the "
                        "data has %s",
                        w, data->classes ? "no labels" : "another count of targets");
    for (int r = 0; r < rows; r++) {
        size_t s = index ? (size_t)index[start + (size_t)r] : start + (size_t)r;
        nb_real *t = target + (size_t)r * w;
        if (data->classes == 0) {
            memcpy(t, data->y + s * w, w * sizeof *t);
        } else if (w == 1) {
            t[0] = (nb_real)data->labels[s]; /* a class index, or 0/1 for one logit */
        } else {
            memset(t, 0, w * sizeof *t); /* one-hot; the loss refuses a label out of range */
            if (data->labels[s] >= 0 && (size_t)data->labels[s] < w) t[data->labels[s]] = 1;
        }
    }
    return NB_OK;
}

/* --------------------------------------------------------------- predict */

/* p = 1 / (1 + e^-x), written so that neither branch overflows. */
static nb_real sigmoid(nb_real x)
{
    if (x >= 0) return (nb_real)(1 / (1 + exp(-(double)x)));
    double e = exp((double)x);
    return (nb_real)(e / (1 + e));
}

/* The scaler on each input's rows: input i holds features offset.. of a
 * sample. */
static nb_status scale_inputs(nb_model *m, int rows, size_t first, size_t count)
{
    size_t offset = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        nb_real *in = nb_node_value(m->graph, m->inputs[i]);
        int size = m->input_size[i];
        if (m->scaler.kind != NB_SCALE_NONE) {
            nb_scaler part = {m->scaler.kind, size, m->scaler.offset + offset,
                              m->scaler.scale + offset};
            nb_scaler_apply(&part, in, (size_t)rows);
        }
        nb_status st = nb_check_rows_finite(in, rows, size, first, count, "input (after scaling)");
        if (st != NB_OK) return st;
        offset += (size_t)size;
    }
    return NB_OK;
}

static nb_status predict_chunk(nb_model *m, const nb_real *x, int rows, size_t first, size_t count,
                               nb_real *out)
{
    nb_graph *g = m->graph;
    nb_status st = nb_model_gather(m, x, NULL, 0, rows);
    if (st == NB_OK) st = scale_inputs(m, rows, first, count);
    if (st != NB_OK) return st;
    /* The output is made before the loss: the loss and target are skipped. */
    if ((st = nb_graph_forward_to(g, m->output)) != NB_OK) return st;
    const nb_real *y = nb_node_value(g, m->output);
    if ((st = nb_check_rows_finite(y, rows, m->outputs, first, count, "output")) != NB_OK)
        return st;
    size_t n = (size_t)rows * (size_t)m->outputs;
    if (m->loss_def->link == NB_LINK_SOFTMAX) {
        nb_softmax_rows(y, out, rows, m->outputs);
    } else if (m->loss_def->link == NB_LINK_SIGMOID) {
        for (size_t i = 0; i < n; i++) out[i] = sigmoid(y[i]);
    } else {
        memcpy(out, y, n * sizeof *out);
        /* Back to the targets' units; a huge scale can overflow here. */
        nb_scaler_invert(&m->target_scaler, out, (size_t)rows);
        if ((st = nb_check_rows_finite(out, rows, m->outputs, first, count,
                                       "output (in target units)")) != NB_OK)
            return st;
    }
    return NB_OK;
}

nb_status nb_model_predict(nb_model *m, const nb_real *x, size_t count, nb_real *out)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "predicting: no model");
    if (count == 0) return NB_OK;
    if (!x || !out)
        return nb_error(NB_ERR_ARGUMENT, "predicting %zu %s: no input or output", count,
                        nb_plural((long long)count, "sample", "samples"));
    nb_status st = NB_OK;
    if (!m->graph->compiled && (st = nb_graph_compile(m->graph)) != NB_OK) return st;
    const int batch = m->batch;
    for (size_t done = 0; done < count && st == NB_OK;) {
        int rows = count - done < (size_t)batch ? (int)(count - done) : batch;
        if (rows != m->batch) st = nb_model_set_batch(m, rows); /* the last, partial chunk */
        if (st == NB_OK)
            st = predict_chunk(m, x + done * (size_t)m->inputs_total, rows, done, count,
                               out + done * (size_t)m->outputs);
        done += (size_t)rows;
    }
    if (m->batch != batch) {
        nb_status back = nb_model_set_batch(m, batch);
        if (st == NB_OK) st = back;
    }
    if (st == NB_OK) return NB_OK;
    return count == 1 ? nb_error_prefix(st, "predicting")
                      : nb_error_prefix(st, "predicting %zu samples", count);
}

/* ------------------------------------------- scaler, class names, metadata */

/* Copy s (features values each) into *dst; what names it in messages. */
static nb_status set_scaler(nb_scaler *dst, const nb_scaler *s, int features, const char *what,
                            const char *unit_one, const char *unit)
{
    if (!s || s->kind == NB_SCALE_NONE) {
        clear_scaler(dst);
        return NB_OK;
    }
    if ((unsigned)s->kind > NB_SCALE_ZSCORE)
        return nb_error(NB_ERR_ARGUMENT, "setting a %s: unknown kind %d", what, (int)s->kind);
    if (s->features != features || !s->offset || !s->scale)
        return nb_error(NB_ERR_SHAPE, "setting a %s of %d %s on a model of %d %s%s", what,
                        s->features, nb_plural(s->features, "value", "values"), features,
                        features == 1 ? unit_one : unit,
                        s->offset && s->scale ? "" : " (no arrays)");
    /* x' = (x - offset) * scale: a scale of 0 erases a value, a negative
     * one flips it; no fit gives either. */
    for (int j = 0; j < s->features; j++)
        if (!isfinite(s->offset[j]) || !isfinite(s->scale[j]) || !(s->scale[j] > 0))
            return nb_error(NB_ERR_NUMERIC,
                            "setting a %s: entry %d has offset %g, scale %g (a finite offset "
                            "and a finite scale > 0 are needed)",
                            what, j, (double)s->offset[j], (double)s->scale[j]);
    size_t bytes = (size_t)s->features * sizeof(nb_real);
    nb_real *offset = nb_malloc(bytes), *scale = nb_malloc(bytes);
    if (!offset || !scale) {
        nb_free(offset);
        nb_free(scale);
        return nb_error(NB_ERR_MEMORY, "setting a %s of %d values: out of memory", what,
                        s->features);
    }
    memcpy(offset, s->offset, bytes);
    memcpy(scale, s->scale, bytes);
    clear_scaler(dst);
    *dst = (nb_scaler){s->kind, s->features, offset, scale};
    return NB_OK;
}

nb_status nb_model_set_scaler(nb_model *m, const nb_scaler *s)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting a scaler: no model");
    return set_scaler(&m->scaler, s, m->inputs_total, "scaler", "input", "inputs");
}

const nb_scaler *nb_model_scaler(const nb_model *m)
{
    return m && m->scaler.kind != NB_SCALE_NONE ? &m->scaler : NULL;
}

nb_status nb_model_set_target_scaler(nb_model *m, const nb_scaler *s)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting a target scaler: no model");
    if (s && s->kind != NB_SCALE_NONE && nb_model_is_classifier(m))
        return nb_error(NB_ERR_ARGUMENT,
                        "setting a target scaler on a classifier (loss %s%s): only regression "
                        "targets are scaled",
                        m->loss_name, classifier_loss(m) ? "" : ", class names set");
    return set_scaler(&m->target_scaler, s, m->outputs, "target scaler", "output", "outputs");
}

const nb_scaler *nb_model_target_scaler(const nb_model *m)
{
    return m && m->target_scaler.kind != NB_SCALE_NONE ? &m->target_scaler : NULL;
}

static char *copy_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = nb_malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

/* A pointer to one of the names: its offset in the array is its index. */
typedef char *const *name_ref;

static int by_name(const void *a, const void *b)
{
    name_ref x = *(const name_ref *)a, y = *(const name_ref *)b;
    int c = strcmp(*x, *y);
    return c ? c : (x < y ? -1 : x > y); /* equal names: the earlier index first */
}

/* Each name present, 1 to NB_LABEL_NAME_MAX - 1 bytes, printing as
 * itself (nb_text_problem), no two alike; the message names the index. A
 * class name is printed raw as a row of output, where a newline or an
 * escape sequence would forge another, and names that differ only by an
 * invisible character or a trailing space would look like one class. */
static nb_status check_class_names(char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        size_t len = names[i] ? strnlen(names[i], NB_LABEL_NAME_MAX) : 0;
        if (!names[i] || len == 0 || len >= NB_LABEL_NAME_MAX)
            return nb_error(NB_ERR_ARGUMENT, "class name %d is %s (1 to %d bytes)", i,
                            !names[i]  ? "missing"
                            : len == 0 ? "empty"
                                       : "too long",
                            NB_LABEL_NAME_MAX - 1);
        char why[NB_TEXT_PROBLEM_SIZE], q[NB_ESCAPE_SIZE];
        if (nb_text_problem(why, sizeof why, names[i], 1))
            return nb_error(NB_ERR_ARGUMENT,
                            "class name %d (\"%s\") %s; class names must be UTF-8 text "
                            "that prints as itself",
                            i, nb_escape(q, sizeof q, names[i]), why);
    }
    /* Sorting finds a repeated name in O(n log n). */
    name_ref *order = nb_malloc((size_t)count * sizeof *order);
    if (!order) return nb_error(NB_ERR_MEMORY, "checking %d class names: out of memory", count);
    for (int i = 0; i < count; i++) order[i] = &names[i];
    qsort(order, (size_t)count, sizeof *order, by_name);
    nb_status st = NB_OK;
    char q[NB_ESCAPE_SIZE];
    for (int i = 1; st == NB_OK && i < count; i++)
        if (strcmp(*order[i - 1], *order[i]) == 0)
            st = nb_error(NB_ERR_ARGUMENT, "class name %d (\"%s\") is the same as class name %d",
                          (int)(order[i] - names), nb_escape(q, sizeof q, *order[i]),
                          (int)(order[i - 1] - names));
    nb_free(order);
    return st;
}

nb_status nb_model_set_class_names(nb_model *m, char *const *names, int count)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting class names: no model");
    if (!names || count == 0) {
        clear_class_names(m);
        return NB_OK;
    }
    /* A regression loss on classes learns one-hot rows (or a 0/1 value for
     * one output), like softmax_ce (or bce). */
    int want = m->loss_def->target == NB_TARGET_BINARY || m->outputs == 1 ? 2 : m->outputs;
    if (count != want)
        return nb_error(NB_ERR_ARGUMENT, "setting %d class %s on a %s model: it has %d classes",
                        count, nb_plural(count, "name", "names"), m->loss_name, want);
    if (m->target_scaler.kind != NB_SCALE_NONE)
        return nb_error(NB_ERR_ARGUMENT,
                        "setting class names on a model with a target scaler: one-hot classes "
                        "are not scaled");
    nb_status st = check_class_names(names, count);
    if (st != NB_OK) return st;
    char **copy = nb_calloc((size_t)count, sizeof *copy);
    if (!copy) return nb_error(NB_ERR_MEMORY, "setting class names: out of memory");
    for (int i = 0; i < count; i++)
        if (!(copy[i] = copy_text(names[i]))) {
            for (int k = 0; k < i; k++) nb_free(copy[k]);
            nb_free(copy);
            return nb_error(NB_ERR_MEMORY, "setting class names: out of memory");
        }
    clear_class_names(m);
    m->class_names = copy;
    m->class_count = count;
    return NB_OK;
}

const char *nb_model_class_name(const nb_model *m, int index)
{
    return m && index >= 0 && index < m->class_count ? m->class_names[index] : NULL;
}

int nb_model_class_count(const nb_model *m)
{
    return m ? m->class_count : 0;
}

static const char *meta_key_of(const void *owner, int i)
{
    return ((const nb_model *)owner)->meta[i].key;
}

static nb_meta_entry *find_meta(const nb_model *m, const char *key)
{
    int i = nb_names_find(&m->meta_index, key, meta_key_of, m);
    return i >= 0 ? &m->meta[i] : NULL;
}

/* Remove entry e: the last entry moves into its place. */
static void remove_meta(nb_model *m, nb_meta_entry *e)
{
    int i = (int)(e - m->meta), last = m->meta_count - 1;
    nb_names_remove(&m->meta_index, e->key, i);
    nb_free(e->json);
    if (i != last) {
        nb_names_rekey(&m->meta_index, m->meta[last].key, last, m->meta[last].key, i);
        *e = m->meta[last];
    }
    m->meta_count--;
}

/* A new entry for key (absent), its JSON unset; NULL when out of memory. */
static nb_meta_entry *add_meta(nb_model *m, const char *key, size_t klen)
{
    if (m->meta_count == m->meta_capacity) { /* doubling: amortised O(1) */
        int cap = m->meta_capacity ? m->meta_capacity * 2 : 8;
        nb_meta_entry *grown = nb_realloc(m->meta, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        m->meta = grown;
        m->meta_capacity = cap;
    }
    nb_meta_entry *e = &m->meta[m->meta_count];
    memcpy(e->key, key, klen + 1);
    e->json = NULL;
    if (!nb_names_add(&m->meta_index, e->key, m->meta_count, meta_key_of, m)) return NULL;
    m->meta_count++;
    return e;
}

/* A JSON number that is a whole number in [0, 2^53] (exact in a double). */
static int whole_number(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0 &&
           v->valuedouble == floor(v->valuedouble);
}

/* A decimal integer in [0, 2^64 - 1]: digits only, no leading zero. */
static int decimal_u64(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20 || (s[0] == '0' && n > 1)) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n < 20 || strcmp(s, "18446744073709551615") <= 0;
}

/* The members of "training" that nabla reads back (eval and predict take
 * their defaults from them) have one meaning each: an object holding
 * "label" as a string, "regression" as true or false and "seed" as a
 * whole number or, past 2^53, its decimal digits. */
static nb_status check_known_meta(const char *key, const cJSON *j, const char *what)
{
    if (strcmp(key, "training") != 0) return NB_OK;
    if (!cJSON_IsObject(j))
        return nb_error(NB_ERR_ARGUMENT, "%s is not a JSON object (the training settings)", what);
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *regression = cJSON_GetObjectItemCaseSensitive(j, "regression");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (label && !cJSON_IsString(label))
        return nb_error(NB_ERR_ARGUMENT, "%s: \"label\" is not a string", what);
    if (label) {
        /* A column name or index, quoted raw by eval's and predict's
         * messages: it must print as itself. */
        const char *text = label->valuestring;
        size_t len = strnlen(text, NB_LABEL_NAME_MAX);
        char why[NB_TEXT_PROBLEM_SIZE], q[NB_ESCAPE_SIZE];
        if (len == 0 || len >= NB_LABEL_NAME_MAX)
            return nb_error(NB_ERR_ARGUMENT, "%s: \"label\" is %s (1 to %d bytes)", what,
                            len ? "too long" : "empty", NB_LABEL_NAME_MAX - 1);
        if (nb_text_problem(why, sizeof why, text, 1))
            return nb_error(NB_ERR_ARGUMENT, "%s: \"label\" (\"%s\") %s", what,
                            nb_escape(q, sizeof q, text), why);
    }
    if (regression && !cJSON_IsBool(regression))
        return nb_error(NB_ERR_ARGUMENT, "%s: \"regression\" is not true or false", what);
    if (seed && !whole_number(seed) && !(cJSON_IsString(seed) && decimal_u64(seed->valuestring)))
        return nb_error(NB_ERR_ARGUMENT,
                        "%s: \"seed\" is not a whole number in [0, 2^53] or a decimal string "
                        "in [0, 2^64 - 1]",
                        what);
    /* eval evaluates in batches of it. */
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(j, "batch");
    if (batch && !(whole_number(batch) && batch->valuedouble >= 1 && batch->valuedouble <= INT_MAX))
        return nb_error(NB_ERR_ARGUMENT, "%s: \"batch\" is not a whole number in [1, %d]", what,
                        INT_MAX);
    return NB_OK;
}

nb_status nb_model_set_meta(nb_model *m, const char *key, const char *json)
{
    if (!m || !key) return nb_error(NB_ERR_ARGUMENT, "setting metadata: no model or key");
    size_t klen = strnlen(key, NB_META_KEY_MAX);
    if (klen == 0 || klen >= NB_META_KEY_MAX)
        return nb_error(NB_ERR_ARGUMENT, "metadata key must be 1 to %d bytes", NB_META_KEY_MAX - 1);
    char what[NB_ESCAPE_SIZE + 16], q[NB_ESCAPE_SIZE];
    snprintf(what, sizeof what, "metadata \"%s\"", nb_escape(q, sizeof q, key));
    if (nb_model_meta_reserved(key) || strcmp(key, "__metadata__") == 0)
        return nb_error(NB_ERR_ARGUMENT, "%s: the key is reserved for the file format", what);
    char why[NB_TEXT_PROBLEM_SIZE];
    if (nb_text_problem(why, sizeof why, key, 0)) /* a key is printed by "nabla info" */
        return nb_error(NB_ERR_ARGUMENT, "%s: the key %s", what, why);
    nb_meta_entry *e = find_meta(m, key);
    if (!json) { /* unset */
        if (e) remove_meta(m, e);
        return NB_OK;
    }
    cJSON *parsed;
    nb_status st = nb_json_parse(json, NB_ERR_ARGUMENT, what, &parsed);
    if (st == NB_OK) st = check_known_meta(key, parsed, what);
    cJSON_Delete(parsed);
    if (st != NB_OK) return st;
    char *copy = copy_text(json);
    if (!copy) return nb_error(NB_ERR_MEMORY, "%s: out of memory", what);
    if (!e && !(e = add_meta(m, key, klen))) {
        nb_free(copy);
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", what);
    }
    nb_free(e->json);
    e->json = copy;
    return NB_OK;
}

const char *nb_model_meta(const nb_model *m, const char *key)
{
    const nb_meta_entry *e = m && key ? find_meta(m, key) : NULL;
    return e ? e->json : NULL;
}

int nb_model_meta_count(const nb_model *m)
{
    return m ? m->meta_count : 0;
}

const char *nb_model_meta_key(const nb_model *m, int index)
{
    return m && index >= 0 && index < m->meta_count ? m->meta[index].key : NULL;
}
