/* Evaluation: mean loss, accuracy, confusion matrix, precision and recall. */
#include "train_internal.h"

#include <string.h>

nb_status nb_evaluate_pass(nb_batcher *b, const nb_dataset *data, double *loss_sum, size_t *correct,
                           size_t *confusion, int classes, int32_t *predicted)
{
    *loss_sum = 0;
    *correct = 0;
    nb_status st = NB_OK;
    for (size_t start = 0; start < data->count && st == NB_OK; start += (size_t)b->batch) {
        size_t left = data->count - start;
        int rows = left < (size_t)b->batch ? (int)left : b->batch;
        st = nb_batcher_load(b, data, NULL, start, rows);
        if (st == NB_OK) st = nb_graph_forward(b->graph);
        if (st != NB_OK) break;
        *loss_sum += nb_batcher_loss_sum(b, rows);
        if (data->classes == 0) continue;
        for (int r = 0; r < rows; r++) {
            size_t s = start + (size_t)r;
            int p = nb_batcher_predict(b, r), t = data->labels[s];
            *correct += p == t;
            if (confusion && p < classes && t < classes) confusion[(size_t)t * classes + p]++;
            if (predicted) predicted[s] = p;
        }
    }
    nb_status back = nb_batcher_use(b, b->batch);
    return st != NB_OK ? st : back;
}

void nb_metrics_free(nb_metrics *m)
{
    if (!m) return;
    nb_free(m->confusion);
    nb_free(m->precision);
    nb_free(m->recall);
    nb_free(m->predicted);
    memset(m, 0, sizeof *m);
}

/* precision[c] = confusion[c][c] / (samples predicted c), recall[c] =
 * confusion[c][c] / (samples of class c); 0 when the count is 0. */
static void precision_recall(nb_metrics *m)
{
    int k = m->classes;
    for (int c = 0; c < k; c++) {
        size_t predicted = 0, actual = 0, hit = m->confusion[(size_t)c * k + c];
        for (int o = 0; o < k; o++) {
            predicted += m->confusion[(size_t)o * k + c];
            actual += m->confusion[(size_t)c * k + o];
        }
        m->precision[c] = predicted ? (double)hit / (double)predicted : 0;
        m->recall[c] = actual ? (double)hit / (double)actual : 0;
    }
}

nb_status nb_evaluate(nb_model *model, const nb_dataset *data, nb_metrics *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "evaluating: no result");
    memset(out, 0, sizeof *out);
    if (!model || !data) return nb_error(NB_ERR_ARGUMENT, "evaluating: no model or data");
    int batch = nb_model_batch(model);
    if (batch < 1) return nb_error(NB_ERR_STATE, "evaluating: the model has no batch size");
    nb_batcher b;
    nb_status st = nb_batcher_init(&b, model, batch);
    if (st == NB_OK) st = nb_batcher_check(&b, data, "evaluating");
    if (st == NB_OK && data->classes > 0) {
        /* Room for every label of the data and every class the model predicts. */
        int model_classes = b.outputs == 1 ? 2 : b.outputs;
        out->classes = data->classes > model_classes ? data->classes : model_classes;
        out->confusion =
            nb_calloc((size_t)out->classes * (size_t)out->classes, sizeof *out->confusion);
        out->precision = nb_calloc((size_t)out->classes, sizeof *out->precision);
        out->recall = nb_calloc((size_t)out->classes, sizeof *out->recall);
        out->predicted = nb_calloc(data->count, sizeof *out->predicted);
        if (!out->confusion || !out->precision || !out->recall || !out->predicted)
            st = nb_error(NB_ERR_MEMORY, "evaluating %zu samples of %d classes: out of memory",
                          data->count, out->classes);
    }
    double loss = 0;
    size_t correct = 0;
    if (st == NB_OK)
        st = nb_evaluate_pass(&b, data, &loss, &correct, out->confusion, out->classes,
                              out->predicted);
    if (st != NB_OK) {
        nb_metrics_free(out);
        return st;
    }
    out->samples = data->count;
    out->loss = loss / (double)data->count;
    out->accuracy = -1;
    if (data->classes > 0) {
        out->accuracy = (double)correct / (double)data->count;
        precision_recall(out);
    }
    return NB_OK;
}
