/* Evaluation: mean loss, accuracy, confusion matrix, precision and recall;
 * MAE, RMSE and R^2 for regression. */
#include "train_internal.h"

#include <math.h>
#include <string.h>

nb_status nb_regression_acc_init(nb_regression_acc *a, int targets)
{
    memset(a, 0, sizeof *a);
    a->targets = targets;
    a->mean = nb_calloc(3 * (size_t)targets, sizeof *a->mean);
    if (!a->mean)
        return nb_error(NB_ERR_MEMORY, "out of memory for the metrics of %d targets", targets);
    a->m2 = a->mean + targets;
    a->ss_res = a->m2 + targets;
    return NB_OK;
}

void nb_regression_acc_free(nb_regression_acc *a)
{
    if (a) nb_free(a->mean);
    if (a) memset(a, 0, sizeof *a);
}

/* One sample: outputs y and targets t, both scaled by ts (may be NULL). */
static void regression_add(nb_regression_acc *a, const nb_scaler *ts, const nb_real *y,
                           const nb_real *t)
{
    a->n++;
    for (int j = 0; j < a->targets; j++) {
        double yj = y[j], tj = t[j];
        if (ts) { /* x = x' / scale + offset, in double */
            yj = yj / (double)ts->scale[j] + (double)ts->offset[j];
            tj = tj / (double)ts->scale[j] + (double)ts->offset[j];
        }
        double e = yj - tj;
        a->abs_sum += fabs(e);
        a->sq_sum += e * e;
        a->ss_res[j] += e * e;
        double d = tj - a->mean[j];
        a->mean[j] += d / (double)a->n;
        a->m2[j] += d * (tj - a->mean[j]);
    }
}

void nb_regression_acc_result(const nb_regression_acc *a, double *mae, double *rmse, double *r2)
{
    *mae = *rmse = *r2 = NAN;
    if (!a->n || a->targets < 1) return;
    double values = (double)a->n * (double)a->targets, sum = 0;
    *mae = a->abs_sum / values;
    *rmse = sqrt(a->sq_sum / values);
    for (int j = 0; j < a->targets; j++) /* a constant target: exact or not */
        sum += a->m2[j] > 0 ? 1 - a->ss_res[j] / a->m2[j] : a->ss_res[j] == 0 ? 1 : 0;
    *r2 = sum / (double)a->targets;
}

/* "the samples at lines 5, 9, 12, 20 and 28 more of the data" for a batch
 * of data whose samples have origins, else "samples 0 to 31 (0-based)". */
static const char *batch_name(const nb_dataset *data, size_t start, int rows, char *buf,
                              size_t size)
{
    if (rows == 1) return nb_dataset_sample_name(data, start, buf, size);
    if (!data->origin || data->origin_kind == NB_ORIGIN_NONE) {
        snprintf(buf, size, "samples %zu to %zu (0-based)", start, start + (size_t)rows - 1);
        return buf;
    }
    const int shown = rows < 4 ? rows : 4;
    size_t used = (size_t)snprintf(buf, size, "the samples at %s",
                                   data->origin_kind == NB_ORIGIN_LINE ? "lines" : "records");
    for (int r = 0; r < shown && used < size; r++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu",
                                 r == 0          ? " "
                                 : r + 1 == rows ? " and "
                                                 : ", ",
                                 data->origin[start + (size_t)r]);
    if (rows > shown && used < size)
        used += (size_t)snprintf(buf + used, size - used, " and %d more", rows - shown);
    if (used < size) snprintf(buf + used, size - used, " of the data");
    return buf;
}

/* The inputs, targets and outputs of the batch of data just run, then its
 * loss. */
static nb_status check_batch(const nb_batcher *b, const nb_dataset *data, size_t start, int rows)
{
    nb_status st = nb_check_data_rows_finite(nb_node_value(b->graph, b->input), rows, b->features,
                                             data, start, "input (after scaling)");
    if (st == NB_OK && data->classes == 0)
        st = nb_check_data_rows_finite(nb_node_value(b->graph, b->target), rows,
                                       (int)b->target_width, data, start, "target (after scaling)");
    if (st == NB_OK)
        st = nb_check_data_rows_finite(nb_node_value(b->graph, b->output), rows, b->outputs, data,
                                       start, "output");
    double loss = nb_node_value(b->graph, b->loss)[0];
    char name[160];
    if (st == NB_OK && !isfinite(loss))
        st = nb_error(NB_ERR_NUMERIC, "%s: the loss is %g",
                      batch_name(data, start, rows, name, sizeof name), loss);
    return st;
}

nb_status nb_evaluate_pass(nb_batcher *b, const nb_dataset *data, double *loss_sum, size_t *correct,
                           size_t *confusion, int classes, int32_t *predicted,
                           nb_regression_acc *reg)
{
    *loss_sum = 0;
    *correct = 0;
    /* Evaluation mode: no dropout, batch norm by its running estimates
     * (left as they are); the caller's mode comes back after. */
    const nb_mode mode = nb_graph_mode(b->graph);
    nb_status st = nb_graph_set_mode(b->graph, NB_MODE_EVAL);
    const nb_scaler *ts = nb_model_target_scaler(b->model);
    for (size_t start = 0; start < data->count && st == NB_OK; start += (size_t)b->batch) {
        size_t left = data->count - start;
        int rows = left < (size_t)b->batch ? (int)left : b->batch;
        st = nb_batcher_load(b, data, NULL, start, rows);
        if (st == NB_OK) st = nb_graph_forward(b->graph);
        if (st == NB_OK) st = check_batch(b, data, start, rows);
        if (st != NB_OK) break;
        *loss_sum += nb_batcher_loss_sum(b, rows);
        if (data->classes == 0) {
            const nb_real *y = nb_node_value(b->graph, b->output);
            for (int r = 0; reg && r < rows; r++)
                regression_add(reg, ts, y + (size_t)r * b->outputs,
                               data->y + (start + (size_t)r) * (size_t)b->outputs);
            continue;
        }
        for (int r = 0; r < rows; r++) {
            size_t s = start + (size_t)r;
            int p = nb_batcher_predict(b, r), t = data->labels[s];
            *correct += p == t;
            if (confusion && p < classes && t < classes) confusion[(size_t)t * classes + p]++;
            if (predicted) predicted[s] = p;
        }
    }
    nb_status back = nb_batcher_use(b, b->batch);
    nb_graph_set_mode(b->graph, mode);
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
    nb_regression_acc reg = {0};
    if (st == NB_OK && data->classes == 0) st = nb_regression_acc_init(&reg, b.outputs);
    double loss = 0;
    size_t correct = 0;
    if (st == NB_OK)
        st = nb_evaluate_pass(&b, data, &loss, &correct, out->confusion, out->classes,
                              out->predicted, data->classes == 0 ? &reg : NULL);
    if (st != NB_OK) {
        nb_regression_acc_free(&reg);
        nb_metrics_free(out);
        return st;
    }
    out->samples = data->count;
    out->loss = loss / (double)data->count;
    out->accuracy = -1;
    nb_regression_acc_result(&reg, &out->mae, &out->rmse, &out->r2);
    nb_regression_acc_free(&reg);
    if (data->classes > 0) {
        out->accuracy = (double)correct / (double)data->count;
        precision_recall(out);
    }
    return NB_OK;
}
