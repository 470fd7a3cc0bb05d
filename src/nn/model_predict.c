/* Samples into a model and predictions out of it: a sample's features
 * split over the model's inputs, the scaler applied, the output turned
 * into the answer its loss means (probabilities, or values in the
 * targets' units). */
#include "model_internal.h"

#include <math.h>
#include <string.h>

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
    if (nb_model_check_sample_shape(m, nb_dataset_sample_shape(data)) != NB_OK)
        return nb_error_prefix(NB_ERR_SHAPE, "feeding samples");
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

/* Runs chunk on x in chunks of at most the model's batch (the last one
 * smaller) in evaluation mode, putting the batch and mode back afterwards. */
typedef nb_status (*chunk_fn)(nb_model *m, const nb_real *x, int rows, size_t first, size_t count,
                              void *user);

static nb_status run_chunks(nb_model *m, const nb_real *x, size_t count, chunk_fn chunk, void *user)
{
    nb_status st = NB_OK;
    if (!m->graph->compiled && (st = nb_graph_compile(m->graph)) != NB_OK) return st;
    /* Evaluation mode (no dropout, batch norm's running estimates); the
     * caller's mode comes back after. */
    const nb_mode mode = m->graph->mode;
    nb_graph_set_mode(m->graph, NB_MODE_EVAL);
    const int batch = m->batch;
    for (size_t done = 0; done < count && st == NB_OK;) {
        int rows = count - done < (size_t)batch ? (int)(count - done) : batch;
        if (rows != m->batch) st = nb_model_set_batch(m, rows); /* the last, partial chunk */
        if (st == NB_OK) st = chunk(m, x + done * (size_t)m->inputs_total, rows, done, count, user);
        done += (size_t)rows;
    }
    if (m->batch != batch) {
        nb_status back = nb_model_set_batch(m, batch);
        if (st == NB_OK) st = back;
    }
    nb_graph_set_mode(m->graph, mode);
    return st;
}

static nb_status predict_rows(nb_model *m, const nb_real *x, int rows, size_t first, size_t count,
                              void *user)
{
    nb_real *out = user;
    return predict_chunk(m, x, rows, first, count, out + first * (size_t)m->outputs);
}

nb_status nb_model_predict(nb_model *m, const nb_real *x, size_t count, nb_real *out)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "predicting: no model");
    if (count == 0) return NB_OK;
    if (!x || !out)
        return nb_error(NB_ERR_ARGUMENT, "predicting %zu %s: no input or output", count,
                        nb_plural((long long)count, "sample", "samples"));
    nb_status st = run_chunks(m, x, count, predict_rows, out);
    if (st == NB_OK) return NB_OK;
    return count == 1 ? nb_error_prefix(st, "predicting")
                      : nb_error_prefix(st, "predicting %zu samples", count);
}

/* ------------------------------------------------------------ node values */

typedef struct probe {
    nb_node node;
    size_t size; /* the node's values per sample */
    nb_real *out;
} probe;

static nb_status probe_rows(nb_model *m, const nb_real *x, int rows, size_t first, size_t count,
                            void *user)
{
    const probe *p = user;
    nb_status st = nb_model_gather(m, x, NULL, 0, rows);
    if (st == NB_OK) st = scale_inputs(m, rows, first, count);
    if (st == NB_OK) st = nb_graph_forward_to(m->graph, p->node);
    if (st == NB_OK)
        memcpy(p->out + first * p->size, nb_node_value(m->graph, p->node),
               (size_t)rows * p->size * sizeof *p->out);
    return st;
}

nb_status nb_model_node_values(nb_model *m, nb_node node, const nb_real *x, size_t count,
                               nb_real *out)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "reading node values: no model");
    nb_graph *g = m->graph;
    if (node < 0 || node >= nb_graph_node_count(g))
        return nb_error(NB_ERR_ARGUMENT, "reading node values: node %d is not in the model's graph",
                        node);
    const char *name = nb_node_name(g, node);
    nb_shape s = nb_node_shape(g, node);
    if (s.ndim < 1 || s.dim[0] != m->batch || node > m->output)
        return nb_error(NB_ERR_ARGUMENT,
                        "reading the values of node \"%s\": it has no batch dimension or is "
                        "not computed before the model's output",
                        name);
    if (count == 0) return NB_OK;
    if (!x || !out)
        return nb_error(NB_ERR_ARGUMENT, "reading the values of node \"%s\": no input or output",
                        name);
    probe p = {node, nb_shape_count(s) / (size_t)m->batch, out};
    nb_status st = run_chunks(m, x, count, probe_rows, &p);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "reading the values of node \"%s\"", name);
}
