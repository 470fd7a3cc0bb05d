/* Resuming from a training checkpoint (written by checkpoint_save.c):
 * the file is checked to belong to this run (checkpoint_check.c), then
 * its position, history, early-stopping state and tensors are read aside
 * and checked against each other; only then does the state change, all at
 * once. See docs/training.md.
 *
 * Depends on the state's fields (nabla.h, train_internal.h), the model,
 * graph and optimizer API, checkpoint_check.c, checkpoint_meta.c,
 * io/checkpoint_file, batch.c (the sample order), clock.c and state.c (the
 * guard of the public fields); it calls nothing in trainer.c (which calls
 * it). */
#include "checkpoint.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <string.h>

static int hex_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0 || n >= 16) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return n == 16;
}

static nb_status read_rng(const nb_ckpt_file *f, nb_rng *rng)
{
    cJSON *a;
    nb_status st = nb_ckpt_get_json(f, "rng", cJSON_Array, &a);
    if (st != NB_OK) return st;
    int i = 0;
    uint64_t any = 0;
    for (const cJSON *e = a->child; e && st == NB_OK; e = e->next, i++)
        if (i >= 4 || !cJSON_IsString(e) || !hex_u64(e->valuestring, &rng->s[i]))
            st = NB_ERR_FORMAT;
        else
            any |= rng->s[i];
    cJSON_Delete(a);
    if (st != NB_OK || i != 4)
        return nb_error(NB_ERR_FORMAT, "metadata \"rng\" is not 4 hex strings of 16 digits");
    /* xoshiro256's one state it never leaves (and never reaches). */
    if (!any)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"rng\" is all zero: a xoshiro256 generator in that state "
                        "gives only zeros (a seeded one never reaches it)");
    return NB_OK;
}

/* Why value v of history column i (1..9) is out of range, or NULL. A
 * loss or accuracy is never null (the trainer records finite ones): -1
 * marks one the run has none of (no validation set, no classes), else
 * losses are finite and >= 0, accuracies in [0, 1]. The regression
 * metrics are null (unknown, or none in this run), MAE and RMSE >= 0, R^2
 * at most 1. */
static const char *history_problem(int i, double v, int train_classes, int val, int val_classes)
{
    if (i >= 7) {
        if (isnan(v)) return NULL;
        if (!val || val_classes) return "null (this run has none)";
        if (i == 9) return isfinite(v) && v <= 1 ? NULL : "a finite number <= 1";
        return isfinite(v) && v >= 0 ? NULL : "a finite number >= 0";
    }
    int accuracy = i == 3 || i == 5;
    int have = i == 3 ? train_classes : i == 4 ? val : i == 5 ? val_classes : 1;
    if (i == 1 || i == 6) return isfinite(v) && v >= 0 ? NULL : "a finite number >= 0";
    if (!have) return v == -1 ? NULL : "-1 (this run has none)";
    if (isfinite(v) && v >= 0 && (!accuracy || v <= 1)) return NULL;
    return accuracy ? "in [0, 1]" : ">= 0";
}

/* A history cell as the message shows it: null for NaN. */
static const char *cell_text(char *buf, size_t size, double v)
{
    if (isnan(v)) return "null";
    snprintf(buf, size, "%g", v);
    return buf;
}

/* What a checkpoint holds, read aside: the state changes only once all of
 * it is read and checked. */
typedef struct ckpt_read {
    int epoch;
    size_t batch;
    uint64_t steps;
    nb_rng rng_start;
    uint64_t draws; /* the graph's random draws (dropout's masks) */
    double loss_sum;
    size_t correct, seen;
    nb_epoch_stats *history; /* epoch - 1 rows read (room for config.epochs) */
    int best_epoch, since_best;
    double best_loss;
    double elapsed, epoch_elapsed;
    /* The parameters go to the state's scratch (internal->saved); the
     * optimizer's slots, the best weights and the buffers to values, one
     * after the other. */
    nb_real *values;
} ckpt_read;

/* history rows 1..epochs, each as many numbers as the format version
 * writes (null: NaN). */
static nb_status read_history(const nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd,
                              int epochs)
{
    static const char *const columns[NB_CKPT_HISTORY_COLUMNS] = {
        "epoch",        "lr",      "train loss", "train accuracy", "val loss",
        "val accuracy", "seconds", "val MAE",    "val RMSE",       "val R2"};
    int val = s->val != NULL, train_classes = s->train->classes > 0,
        val_classes = val && s->val->classes > 0, version;
    cJSON *a;
    nb_status st = nb_ckpt_get_int(f, "format_version", NB_CHECKPOINT_VERSION, &version);
    if (st != NB_OK) return st;
    const int columns_n = version == 1 ? NB_CKPT_HISTORY_COLUMNS_V1 : NB_CKPT_HISTORY_COLUMNS;
    const char *const row_shape = version == 1 ? "" : ", val MAE, val RMSE, val R2";
    if ((st = nb_ckpt_get_json(f, "history", cJSON_Array, &a)) != NB_OK) return st;
    int n = cJSON_GetArraySize(a), e = 0;
    if (n != epochs)
        st = nb_error(NB_ERR_FORMAT, "metadata \"history\" has %d %s, expected %d", n,
                      nb_plural(n, "epoch", "epochs"), epochs);
    for (const cJSON *row = a->child; row && st == NB_OK; row = row->next, e++) {
        /* Columns a version 1 row lacks are unknown. */
        double v[NB_CKPT_HISTORY_COLUMNS] = {0, 0, 0, 0, 0, 0, 0, NAN, NAN, NAN};
        int i = 0;
        if (cJSON_IsArray(row) && cJSON_GetArraySize(row) == columns_n)
            for (const cJSON *x = row->child; x; x = x->next, i++)
                v[i] = cJSON_IsNumber(x)          ? x->valuedouble
                       : cJSON_IsNull(x) && i > 0 ? NAN
                                                  : INFINITY;
        if (i != columns_n || v[0] != e + 1) {
            st = nb_error(NB_ERR_FORMAT,
                          "metadata \"history\": row %d is not [%d, lr, train loss, train "
                          "accuracy, val loss, val accuracy, seconds%s]",
                          e + 1, e + 1, row_shape);
            break;
        }
        for (i = 1; i < NB_CKPT_HISTORY_COLUMNS && st == NB_OK; i++) {
            const char *why = history_problem(i, v[i], train_classes, val, val_classes);
            char text[32];
            if (why)
                st = nb_error(NB_ERR_FORMAT, "metadata \"history\": row %d, %s is %s, not %s",
                              e + 1, columns[i], cell_text(text, sizeof text, v[i]), why);
        }
        /* The rate the schedule gave the epoch (to rounding: the file may
         * come from another C library). */
        double lr = nb_schedule_lr(&s->config, e + 1);
        if (st == NB_OK && !(fabs(v[1] - lr) <= 1e-9 * fabs(lr)))
            st = nb_error(NB_ERR_FORMAT,
                          "metadata \"history\": row %d, lr is %.17g, but this run's schedule "
                          "gives epoch %d %.17g",
                          e + 1, v[1], e + 1, lr);
        if (st != NB_OK) break;
        rd->history[e] =
            (nb_epoch_stats){e + 1, v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
    }
    cJSON_Delete(a);
    return st;
}

/* Where the run stood, checked against what this run's data allows. */
static nb_status read_position(const nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    const nb_train_config *c = &s->config;
    size_t batches;
    nb_status st;
    if ((st = nb_ckpt_get_size(f, "batches", SIZE_MAX, &batches)) != NB_OK) return st;
    if (batches != s->batches)
        return nb_error(NB_ERR_FORMAT, "metadata \"batches\" is %zu, but this run has %zu", batches,
                        s->batches);
    /* Epoch `epochs` + 1, batch 0: saved after the last epoch, nothing left. */
    if ((st = nb_ckpt_get_int(f, "epoch", c->epochs + 1, &rd->epoch)) != NB_OK) return st;
    if (rd->epoch < 1) return nb_error(NB_ERR_FORMAT, "metadata \"epoch\" is 0");
    if ((st = nb_ckpt_get_size(f, "batch", batches, &rd->batch)) != NB_OK) return st;
    if (rd->epoch > c->epochs && rd->batch != 0)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"epoch\" %d (after the last) with \"batch\" %zu (not 0)",
                        rd->epoch, rd->batch);
    /* Every finished epoch ran all its batches (a shortened one ends the run). */
    uint64_t want = (uint64_t)(rd->epoch - 1) * batches + rd->batch;
    if ((st = nb_ckpt_get_u64(f, "optimizer_steps", UINT64_MAX, &rd->steps)) != NB_OK) return st;
    if (rd->steps != want)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"optimizer_steps\" is %" PRIu64 ", but epoch %d, batch %zu "
                        "means %" PRIu64,
                        rd->steps, rd->epoch, rd->batch, want);
    if ((st = read_rng(f, &rd->rng_start)) != NB_OK) return st;
    /* Before version 4 no op drew random numbers. */
    int version;
    if ((st = nb_ckpt_get_int(f, "format_version", NB_CHECKPOINT_VERSION, &version)) != NB_OK)
        return st;
    rd->draws = 0;
    if (version >= 4 && (st = nb_ckpt_get_u64(f, "random_draws", UINT64_MAX, &rd->draws)) != NB_OK)
        return st;
    if ((st = nb_ckpt_get_double(f, "loss_sum", 0, &rd->loss_sum)) != NB_OK) return st;
    size_t seen_want = rd->batch * (size_t)s->batch_rows;
    if (seen_want > s->internal->epoch_samples) seen_want = s->internal->epoch_samples;
    if ((st = nb_ckpt_get_size(f, "seen", seen_want, &rd->seen)) != NB_OK) return st;
    if (rd->seen != seen_want)
        return nb_error(NB_ERR_FORMAT, "metadata \"seen\" is %zu, but %zu batches of %d mean %zu",
                        rd->seen, rd->batch, s->batch_rows, seen_want);
    if ((st = nb_ckpt_get_size(f, "correct", rd->seen, &rd->correct)) != NB_OK) return st;
    if (s->train->classes == 0 && rd->correct != 0)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"correct\" is %zu, but this run's training set has no classes",
                        rd->correct);
    if (rd->seen == 0 && rd->loss_sum != 0)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"loss_sum\" is %.17g with no sample seen in the epoch (\"seen\" "
                        "0)",
                        rd->loss_sum);
    if ((st = read_history(f, s, rd, rd->epoch - 1)) != NB_OK) return st;
    if ((st = nb_ckpt_get_double(f, "elapsed", 0, &rd->elapsed)) != NB_OK) return st;
    if ((st = nb_ckpt_get_double(f, "epoch_elapsed", 0, &rd->epoch_elapsed)) != NB_OK) return st;
    if (rd->epoch_elapsed > rd->elapsed)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"epoch_elapsed\" %.17g is more than \"elapsed\" %.17g",
                        rd->epoch_elapsed, rd->elapsed);
    int threads;
    if ((st = nb_ckpt_get_int(f, "threads", INT_MAX, &threads)) != NB_OK) return st;
    if (threads < 1) return nb_error(NB_ERR_FORMAT, "metadata \"threads\" is 0");
    return NB_OK;
}

/* Early stopping's state must agree with the history. */
static nb_status read_early_stopping(const nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    int done = rd->epoch - 1;
    nb_status st;
    if ((st = nb_ckpt_get_int(f, "best_epoch", done, &rd->best_epoch)) != NB_OK) return st;
    if ((st = nb_ckpt_get_int(f, "since_best", done, &rd->since_best)) != NB_OK) return st;
    if ((st = nb_ckpt_get_double(f, "best_val_loss", 1, &rd->best_loss)) != NB_OK) return st;
    int patience = s->config.patience > 0;
    int since_want = patience ? done - rd->best_epoch : 0;
    double best_want =
        patience && rd->best_epoch > 0 ? rd->history[rd->best_epoch - 1].val_loss : INFINITY;
    if ((!patience && rd->best_epoch != 0) || rd->since_best != since_want ||
        memcmp(&rd->best_loss, &best_want, sizeof best_want) != 0)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"best_epoch\" %d, \"since_best\" %d and \"best_val_loss\" %g "
                        "do not agree with the history",
                        rd->best_epoch, rd->since_best, rd->best_loss);
    return NB_OK;
}

/* Is name one of the tensors a checkpoint of s holds? */
static int known_tensor(const nb_train_state *s, const char *name)
{
    nb_graph *g = nb_model_graph(s->model);
    nb_node node = nb_graph_find(g, name);
    if (node != NB_NONE && nb_node_is_param(g, node)) return 1;
    for (int k = 0; k < nb_ckpt_slots(s); k++)
        if (strcmp(name, nb_ckpt_slot_name(k)) == 0) return 1;
    if (s->best && strcmp(name, NB_CKPT_BEST) == 0) return 1;
    size_t prefix = strlen(NB_CKPT_BUFFER_PREFIX);
    for (int i = 0; i < s->buffer_count && strncmp(name, NB_CKPT_BUFFER_PREFIX, prefix) == 0; i++)
        if (strcmp(name + prefix, s->buffers[i].name) == 0) return 1;
    return 0;
}

/* Slot k of the optimizer when it holds squared gradients, summed or
 * averaged (never negative): what it is; else NULL. */
static const char *squares_slot(nb_optimizer_kind kind, int k)
{
    switch (kind) {
    case NB_OPT_ADAGRAD:
        return k == 0 ? "sum of squared gradients" : NULL;
    case NB_OPT_RMSPROP:
        return k == 0 ? "average of squared gradients" : NULL;
    case NB_OPT_ADAM:
    case NB_OPT_ADAMW:
        return k == 1 ? "second moment, an average of squared gradients" : NULL;
    default:
        return NULL;
    }
}

/* The optimizer's slot k as the file holds it (values, param_count of
 * them): finite, and not negative where it holds squares (the step divides
 * by their square root). */
static nb_status check_slot(const nb_train_state *s, int k, const nb_real *values)
{
    nb_optimizer_kind kind = s->config.optimizer.kind;
    const char *squares = squares_slot(kind, k);
    for (size_t i = 0; i < s->param_count; i++) {
        double v = values[i];
        if (!isfinite(v) || (squares && v < 0))
            return nb_error(NB_ERR_FORMAT, "tensor \"%s\" (%s's %s): element %zu is %g, not %s",
                            nb_ckpt_slot_name(k), nb_optimizer_name(kind),
                            squares ? squares : "state", i, v,
                            squares ? "a finite number >= 0" : "finite");
    }
    return NB_OK;
}

/* Exactly the tensors a checkpoint of s holds, read aside: the parameters
 * into internal->saved, the rest into rd->values. */
static nb_status read_tensors(nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    nb_graph *g = nb_model_graph(s->model);
    nb_real *saved = s->internal->saved, *next = rd->values;
    int expected = 0;
    nb_status st = NB_OK;
    for (int i = 0; i < nb_graph_node_count(g) && st == NB_OK; i++) {
        if (!nb_node_is_param(g, i)) continue;
        size_t offset = (size_t)(nb_node_value(g, i) - s->params);
        st = nb_ckpt_file_read(f, nb_node_name(g, i), nb_node_shape(g, i), saved + offset);
        expected++;
    }
    nb_shape all = nb_shape1((int)s->param_count);
    for (int k = 0; k < nb_ckpt_slots(s) && st == NB_OK; k++, expected++) {
        st = nb_ckpt_file_read(f, nb_ckpt_slot_name(k), all, next);
        if (st == NB_OK) st = check_slot(s, k, next);
        next += s->param_count;
    }
    if (st == NB_OK && s->best) {
        size_t state = s->internal->state_count;
        st = nb_ckpt_file_read(f, NB_CKPT_BEST, nb_shape1((int)state), next);
        next += state;
        expected++;
    }
    for (int i = 0; i < s->buffer_count && st == NB_OK; i++, expected++) {
        char name[NB_NAME_MAX + 8];
        const nb_train_buffer *b = &s->buffers[i];
        snprintf(name, sizeof name, NB_CKPT_BUFFER_PREFIX "%s", b->name);
        st = nb_ckpt_file_read(f, name, b->shape, next);
        next += nb_shape_count(b->shape);
    }
    if (st == NB_OK && f->header.count != expected)
        for (int i = 0; i < f->header.count; i++) {
            const char *name = f->header.tensors[i].name;
            char q[NB_ESCAPE_SIZE];
            if (!known_tensor(s, name))
                return nb_error(NB_ERR_FORMAT,
                                "tensor \"%s\" does not belong in a checkpoint of this run "
                                "(optimizer %s, patience %d)",
                                nb_escape(q, sizeof q, name),
                                nb_optimizer_name(s->config.optimizer.kind), s->config.patience);
        }
    return st;
}

static nb_status read_checkpoint(nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    nb_status st = nb_ckpt_check_run(f, s);
    if (st == NB_OK) st = read_position(f, s, rd);
    if (st == NB_OK) st = read_early_stopping(f, s, rd);
    if (st == NB_OK) st = read_tensors(f, s, rd);
    return st;
}

/* Everything read goes into s at once. */
static void commit(nb_train_state *s, const ckpt_read *rd)
{
    nb_train_internal *in = s->internal;
    const nb_real *next = rd->values;
    memcpy(s->params, in->saved, s->param_count * sizeof *s->params);
    for (int k = 0; k < nb_ckpt_slots(s); k++, next += s->param_count)
        memcpy(nb_optimizer_slot(s->optimizer, k), next, s->param_count * sizeof *next);
    *nb_optimizer_steps(s->optimizer) = rd->steps;
    if (s->best) {
        memcpy(s->best, next, in->state_count * sizeof *next);
        next += in->state_count;
    }
    for (int i = 0; i < s->buffer_count; i++) {
        size_t n = nb_shape_count(s->buffers[i].shape);
        memcpy(s->buffers[i].values, next, n * sizeof *next);
        next += n;
    }
    s->epoch = rd->epoch;
    s->batch = rd->batch;
    s->rng_start = rd->rng_start;
    nb_model_graph(s->model)->draws = rd->draws;
    nb_train_order(s); /* the epoch's order and s->rng */
    s->rows = 0;
    s->batch_loss = 0;
    s->batch_correct = 0;
    s->loss_sum = rd->loss_sum;
    s->correct = rd->correct;
    s->seen = rd->seen;
    size_t rows = (size_t)(rd->epoch - 1), all = (size_t)s->config.epochs;
    memcpy(s->history, rd->history, rows * sizeof *s->history);
    memset(s->history + rows, 0, (all - rows) * sizeof *s->history);
    s->epochs_run = rd->epoch - 1;
    s->best_epoch = rd->best_epoch;
    s->since_best = rd->since_best;
    s->best_loss = rd->best_loss;
    double now = nb_train_clock();
    s->start = now - rd->elapsed;
    s->epoch_start = now - rd->epoch_elapsed;
    s->stop = NULL;
    s->stop_reason = s->epoch > s->config.epochs ? "epochs" : NULL;
    in->loaded = in->computed = in->epoch_ended = in->asked = 0;
}

/* A resumed run first reports the epochs its checkpoint finished, so that
 * a caller can rebuild its log from them; they are not new progress, and
 * the callback cannot stop them. */
static void report_restored(const nb_train_state *s)
{
    const nb_train_config *c = &s->config;
    if (!c->progress) return;
    for (int e = 1; e < s->epoch; e++) {
        const nb_epoch_stats *h = &s->history[e - 1];
        nb_progress p = {.epoch = e,
                         .epochs = c->epochs,
                         .batch = s->batches,
                         .batches = s->batches,
                         .loss = h->train_loss,
                         .eta_seconds = NAN,
                         .stats = h,
                         .restored = 1};
        p.samples_per_second = h->seconds > 0 ? (double)s->train->count / h->seconds : 0;
        (void)c->progress(&p, c->progress_user);
    }
}

nb_status nb_checkpoint_load(nb_train_state *s, const char *path)
{
    if (!s || !s->internal) return nb_error(NB_ERR_ARGUMENT, "loading a checkpoint: no state");
    if (!path) return nb_error(NB_ERR_ARGUMENT, "loading a checkpoint: no path");
    if (s->internal->finished)
        return nb_error(NB_ERR_STATE, "resuming from checkpoint \"%s\": the run is finished", path);
    /* The sizes and arrays it reads into are the ones the steps set up. */
    nb_status st = nb_train_state_check(s, "nb_checkpoint_load");
    if (st != NB_OK) return nb_error_prefix(st, "resuming from checkpoint \"%s\"", path);
    size_t extra = (size_t)nb_ckpt_slots(s), values = s->best ? s->internal->state_count : 0;
    for (int i = 0; i < s->buffer_count; i++) values += nb_shape_count(s->buffers[i].shape);
    ckpt_read rd;
    memset(&rd, 0, sizeof rd);
    rd.history = nb_calloc((size_t)s->config.epochs, sizeof *rd.history);
    values += extra * s->param_count;
    rd.values = values > 0 ? nb_calloc(values, sizeof *rd.values) : NULL;
    if (!rd.history || (values > 0 && !rd.values))
        st = nb_error(NB_ERR_MEMORY, "out of memory for %zu values and %d epochs", values,
                      s->config.epochs);
    nb_ckpt_file f;
    memset(&f, 0, sizeof f);
    if (st == NB_OK) st = nb_ckpt_file_open(path, &f);
    if (st == NB_OK) {
        st = read_checkpoint(&f, s, &rd);
        nb_ckpt_file_close(&f);
    }
    if (st == NB_OK) {
        commit(s, &rd);
        nb_train_state_sync(s);
    }
    nb_free(rd.history);
    nb_free(rd.values);
    /* A value that is not finite is a corrupt file, not a numeric stop. */
    if (st == NB_ERR_NUMERIC) st = NB_ERR_FORMAT;
    if (st != NB_OK) return nb_error_prefix(st, "resuming from checkpoint \"%s\"", path);
    report_restored(s);
    return NB_OK;
}
