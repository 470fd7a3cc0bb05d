/* The mini-batch trainer: shuffle, gather, forward, backward, clip, step,
 * with schedules, validation, stop conditions and a guard against NaN. */
#include "train_internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

double nb_train_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void nb_train_result_free(nb_train_result *result)
{
    if (!result) return;
    nb_free(result->history);
    memset(result, 0, sizeof *result);
}

typedef nb_train_run run;

static nb_status run_prepare(run *r, nb_model *model)
{
    const nb_train_config *c = r->config;
    size_t count = r->train->count;
    int batch = (size_t)c->batch < count ? c->batch : (int)count;
    r->model = model;
    nb_status st = nb_batcher_init(&r->b, model, batch);
    if (st == NB_OK) st = nb_batcher_check(&r->b, r->train, "training set");
    if (st == NB_OK && r->val) st = nb_batcher_check(&r->b, r->val, "validation set");
    if (st != NB_OK) return st;
    r->batches = (count + (size_t)batch - 1) / (size_t)batch;
    r->params = nb_graph_params(r->b.graph, &r->param_count);
    r->grads = nb_graph_param_grads(r->b.graph, NULL);
    if (!r->params || r->param_count == 0)
        return nb_error(NB_ERR_STATE, "training: the model has no parameters");
    st = nb_optimizer_create(&c->optimizer, r->param_count, &r->opt);
    if (st != NB_OK) return st;
    r->index = nb_calloc(count, sizeof *r->index);
    r->saved = nb_calloc(r->param_count, sizeof *r->saved);
    r->best = c->patience > 0 ? nb_calloc(r->param_count, sizeof *r->best) : NULL;
    r->history = nb_calloc((size_t)c->epochs, sizeof *r->history);
    if (!r->index || !r->saved || (c->patience > 0 && !r->best) || !r->history)
        return nb_error(NB_ERR_MEMORY,
                        "training: no memory for %zu samples, %zu parameters and %d epochs", count,
                        r->param_count, c->epochs);
    /* A fresh start: epoch 1, nothing done. */
    r->epoch = 1;
    nb_rng_seed(&r->rng_start, c->seed);
    r->best_loss = INFINITY;
    if (c->checkpoint_path || c->resume_path) {
        r->train_hash = nb_dataset_hash(r->train);
        r->val_hash = r->val ? nb_dataset_hash(r->val) : 0;
    }
    return NB_OK;
}

static void run_free(run *r)
{
    nb_optimizer_free(r->opt);
    nb_free(r->index);
    nb_free(r->saved);
    nb_free(r->best);
    nb_free(r->history);
}

/* Where a NaN or infinity first appeared: " (first non-finite: the value
 * of node \"dense0.out\", op affine)", or "" when no node holds one. */
static const char *first_nonfinite(nb_graph *g, char *buf, size_t size)
{
    nb_node node;
    int in_grad;
    buf[0] = '\0';
    if (nb_graph_find_nonfinite(g, &node, &in_grad) == NB_OK && node != NB_NONE)
        snprintf(buf, size, "; first non-finite: the %s of node \"%s\" (op %s)",
                 in_grad ? "gradient" : "value", nb_node_name(g, node), nb_node_op(g, node));
    return buf;
}

/* One step on a loaded batch: forward, backward, clip, step. The parameters
 * stay finite: a bad loss or gradient stops before the step, a step that
 * makes them non-finite is undone. */
static nb_status train_step(run *r, int epoch, size_t batch, size_t batches, double lr, int rows,
                            size_t *correct, double *loss_sum)
{
    nb_batcher *b = &r->b;
    nb_status st = nb_graph_forward(b->graph);
    if (st != NB_OK) return st;
    double loss = nb_node_value(b->graph, b->loss)[0];
    char where[NB_NAME_MAX + 96];
    if (!isfinite(loss))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the loss is %g at epoch %d, batch %zu of %zu%s; the weights "
                        "from before this step are kept",
                        loss, epoch, batch, batches,
                        first_nonfinite(b->graph, where, sizeof where));
    if (r->train->classes > 0) {
        const int32_t *labels = r->train->labels;
        size_t start = (batch - 1) * (size_t)b->batch;
        for (int i = 0; i < rows; i++)
            *correct += nb_batcher_predict(b, i) == labels[r->index[start + (size_t)i]];
    }
    *loss_sum += nb_batcher_loss_sum(b, rows);
    st = nb_graph_backward(b->graph, b->loss);
    if (st != NB_OK) return st;

    double clip = r->config->clip_norm;
    if (clip > 0) {
        /* Global L2 norm over all gradients, scaled down to clip_norm. */
        double sq = 0;
        for (size_t i = 0; i < r->param_count; i++) sq += (double)r->grads[i] * r->grads[i];
        double norm = sqrt(sq);
        if (!isfinite(norm))
            return nb_error(NB_ERR_NUMERIC,
                            "training: the gradient norm is %g at epoch %d, batch %zu of %zu%s; "
                            "the weights from before this step are kept",
                            norm, epoch, batch, batches,
                            first_nonfinite(b->graph, where, sizeof where));
        if (norm > clip) {
            nb_real scale = (nb_real)(clip / norm);
            for (size_t i = 0; i < r->param_count; i++) r->grads[i] *= scale;
        }
    }
    /* A NaN or infinite gradient, or a step that overflows, leaves a
     * non-finite weight: the guarded step catches both in the same pass and
     * puts the weights back. */
    if (nb_optimizer_step_guarded(r->opt, r->params, r->grads, lr, r->saved) != NB_OK)
        return nb_error(NB_ERR_NUMERIC,
                        "training: the step at epoch %d, batch %zu of %zu made a weight "
                        "non-finite (learning rate %g)%s; the weights from before it are kept",
                        epoch, batch, batches, lr, first_nonfinite(b->graph, where, sizeof where));
    return NB_OK;
}

/* Validation loss and accuracy (-1 without a validation set). */
static nb_status validate(run *r, nb_epoch_stats *s)
{
    s->val_loss = s->val_accuracy = -1;
    s->val_mae = s->val_rmse = s->val_r2 = NAN;
    if (!r->val) return NB_OK;
    double loss;
    size_t correct;
    nb_regression_acc reg = {0};
    nb_status st = r->val->classes == 0 ? nb_regression_acc_init(&reg, r->b.outputs) : NB_OK;
    if (st == NB_OK)
        st = nb_evaluate_pass(&r->b, r->val, &loss, &correct, NULL, 0, NULL,
                              r->val->classes == 0 ? &reg : NULL);
    nb_regression_acc_result(&reg, &s->val_mae, &s->val_rmse, &s->val_r2);
    nb_regression_acc_free(&reg);
    if (st != NB_OK) return nb_error_prefix(st, "training: evaluating the validation set");
    s->val_loss = loss / (double)r->val->count;
    if (r->val->classes > 0) s->val_accuracy = (double)correct / (double)r->val->count;
    return NB_OK;
}

/* The position for messages: the last batch done (epoch e, batch k). */
static void last_step(const run *r, int *epoch, size_t *batch)
{
    *epoch = r->epoch;
    *batch = r->batch;
    if (r->batch == 0 && r->epoch > 1) { /* at an epoch boundary */
        *epoch = r->epoch - 1;
        *batch = r->batches;
    }
}

static nb_status save_checkpoint(run *r)
{
    nb_status st = nb_checkpoint_save(r);
    r->last_save = nb_train_clock();
    return st;
}

/* The current batch has finished: save where we are and stop. */
static nb_status interrupted(run *r)
{
    int e;
    size_t k;
    last_step(r, &e, &k);
    const char *path = r->config->checkpoint_path; /* checked by nb_train_config_check */
    nb_status st = save_checkpoint(r);
    if (st != NB_OK)
        return nb_error_prefix(st, "training interrupted at epoch %d, batch %zu of %zu", e, k,
                               r->batches);
    return nb_error(NB_ERR_INTERRUPTED,
                    "training interrupted at epoch %d, batch %zu of %zu; checkpoint written to %s",
                    e, k, r->batches, path);
}

/* After each batch: an interrupt, else a checkpoint every N batches (counted
 * over the whole run, so resuming keeps the rhythm) or M minutes. */
static nb_status after_batch(run *r, int stopping)
{
    const nb_train_config *c = r->config;
    if (c->interrupt && *c->interrupt) return interrupted(r);
    if (stopping || !c->checkpoint_path) return NB_OK;
    uint64_t done = (uint64_t)(r->epoch - 1) * r->batches + r->batch;
    int due = c->checkpoint_batches > 0 && done % (uint64_t)c->checkpoint_batches == 0;
    if (c->checkpoint_minutes > 0 && nb_train_clock() - r->last_save >= 60 * c->checkpoint_minutes)
        due = 1;
    return due ? save_checkpoint(r) : NB_OK;
}

/* The epoch has ended without a stop: the next one starts from the
 * generator as the shuffle left it. After the last epoch the position is
 * epoch `epochs` + 1, batch 0, so that a checkpoint saved there holds every
 * epoch and resuming from it runs nothing more. */
static nb_status next_epoch(run *r)
{
    const nb_train_config *c = r->config;
    r->epoch++;
    r->batch = 0;
    r->rng_start = r->rng;
    r->loss_sum = 0;
    r->correct = r->seen = 0;
    r->epoch_start = nb_train_clock();
    int finished = r->epoch > c->epochs;
    if (!finished && c->interrupt && *c->interrupt) return interrupted(r);
    if (c->checkpoint_path && c->checkpoint_epochs > 0 &&
        (r->epoch - 1) % c->checkpoint_epochs == 0)
        return save_checkpoint(r);
    return NB_OK;
}

static nb_status run_epochs(run *r, nb_train_result *result)
{
    const nb_train_config *c = r->config;
    const size_t count = r->train->count, batch = (size_t)r->b.batch, batches = r->batches;
    const double total_batches = (double)batches * c->epochs;
    result->stop_reason = "epochs";

    /* A checkpoint saved after the last epoch resumes here with nothing to do. */
    while (r->epoch <= c->epochs) {
        const int epoch = r->epoch;
        double lr = nb_schedule_lr(c, epoch);
        const char *stop = NULL;
        int asked = 0; /* the callback asked to stop */
        /* Each epoch shuffles the identity order: epoch e's order depends
         * only on the seed and e, and a resumed epoch gets the same one. */
        for (size_t i = 0; i < count; i++) r->index[i] = (int)i;
        r->rng = r->rng_start;
        nb_rng_shuffle(&r->rng, r->index, count);

        for (size_t k = r->batch + 1; k <= batches && !stop; k++) {
            size_t start = (k - 1) * batch;
            int rows = (int)(count - start < batch ? count - start : batch);
            nb_status st = nb_batcher_load(&r->b, r->train, r->index, start, rows);
            if (st == NB_OK)
                st = train_step(r, epoch, k, batches, lr, rows, &r->correct, &r->loss_sum);
            if (st != NB_OK) return st;
            r->seen += (size_t)rows;
            r->batch = k;
            result->last_epoch = epoch;
            result->last_batch = k;
            double t = nb_train_clock();
            if (c->progress) {
                double done = (double)(epoch - 1) * batches + k;
                nb_progress p = {.epoch = epoch,
                                 .epochs = c->epochs,
                                 .batch = k,
                                 .batches = batches,
                                 .loss = r->loss_sum / r->seen};
                p.samples_per_second = t > r->epoch_start ? r->seen / (t - r->epoch_start) : 0;
                p.eta_seconds = (t - r->start) / done * (total_batches - done);
                if (c->progress(&p, c->progress_user)) {
                    stop = "stopped";
                    asked = 1;
                }
            }
            if (!stop && c->time_limit > 0 && t - r->start >= c->time_limit) stop = "time limit";
            if ((st = after_batch(r, stop != NULL)) != NB_OK) return st;
        }
        /* A partial last batch left the graph compiled for fewer rows. */
        nb_status st = nb_batcher_use(&r->b, r->b.batch);
        if (st != NB_OK) return st;

        nb_epoch_stats *s = &r->history[epoch - 1];
        s->epoch = epoch;
        s->lr = lr;
        s->train_loss = r->loss_sum / r->seen;
        s->train_accuracy = r->train->classes > 0 ? (double)r->correct / r->seen : -1;
        st = validate(r, s);
        if (st != NB_OK) return st;
        s->seconds = nb_train_clock() - r->epoch_start;
        result->epochs_run = epoch;

        /* Every recorded epoch is reported, one cut short by the time limit
         * too; only a callback that asked to stop has heard enough. */
        if (c->progress && !asked) {
            nb_progress p = {.epoch = epoch,
                             .epochs = c->epochs,
                             .batch = r->batch,
                             .batches = batches,
                             .loss = s->train_loss,
                             .stats = s};
            p.samples_per_second = s->seconds > 0 ? r->seen / s->seconds : 0;
            double done = (double)(epoch - 1) * batches + r->batch, t = nb_train_clock() - r->start;
            p.eta_seconds = t / done * (total_batches - done);
            if (c->progress(&p, c->progress_user) && !stop) stop = "stopped";
        }
        if (c->patience > 0) {
            if (s->val_loss < r->best_loss) {
                r->best_loss = s->val_loss;
                r->best_epoch = epoch;
                r->since_best = 0;
                memcpy(r->best, r->params, r->param_count * sizeof *r->best);
            } else {
                r->since_best++;
            }
        }
        double accuracy = r->val ? s->val_accuracy : s->train_accuracy;
        if (!stop && c->target_loss > 0 && s->train_loss <= c->target_loss) stop = "target loss";
        if (!stop && c->target_accuracy > 0 && accuracy >= c->target_accuracy)
            stop = "target accuracy";
        if (!stop && c->patience > 0 && r->since_best >= c->patience) stop = "early stopping";
        if (stop) {
            result->stop_reason = stop;
            break;
        }
        if ((st = next_epoch(r)) != NB_OK) return st;
    }
    result->best_epoch = r->best_epoch;
    if (c->patience > 0 && r->best_epoch > 0)
        memcpy(r->params, r->best, r->param_count * sizeof *r->params);
    else
        result->best_epoch = result->epochs_run;
    return NB_OK;
}

/* A resumed run first reports the epochs its checkpoint finished, so that
 * a caller can rebuild its log from them; they are not new progress, and
 * the callback cannot stop them. */
static void report_restored(const run *r)
{
    const nb_train_config *c = r->config;
    if (!c->progress) return;
    for (int e = 1; e < r->epoch; e++) {
        const nb_epoch_stats *s = &r->history[e - 1];
        nb_progress p = {.epoch = e,
                         .epochs = c->epochs,
                         .batch = r->batches,
                         .batches = r->batches,
                         .loss = s->train_loss,
                         .eta_seconds = NAN,
                         .stats = s,
                         .restored = 1};
        p.samples_per_second = s->seconds > 0 ? (double)r->train->count / s->seconds : 0;
        (void)c->progress(&p, c->progress_user);
    }
}

/* What nb_train refuses before it allocates anything. */
static nb_status check_call(const nb_dataset *train, const nb_dataset *val,
                            const nb_train_config *config)
{
    nb_status st = nb_train_config_check(config);
    if (st != NB_OK) return st;
    /* The position after the last epoch is epoch `epochs` + 1. */
    if (config->epochs == INT_MAX)
        return nb_error(NB_ERR_ARGUMENT, "training: epochs must be < %d, got %d", INT_MAX,
                        config->epochs);
    if (train->count == 0 || train->count > (size_t)INT_MAX)
        return nb_error(NB_ERR_ARGUMENT, "training: the training set has %zu samples (1..%d)",
                        train->count, INT_MAX);
    if (config->patience > 0 && !val)
        return nb_error(NB_ERR_ARGUMENT,
                        "training: early stopping (patience %d) needs a "
                        "validation set",
                        config->patience);
    if (config->target_accuracy > 0 && (val ? val : train)->classes == 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "training: target accuracy %g needs a classification data set",
                        config->target_accuracy);
    return NB_OK;
}

nb_status nb_train(nb_model *model, const nb_dataset *train, const nb_dataset *val,
                   const nb_train_config *config, nb_train_result *result)
{
    if (!result) return nb_error(NB_ERR_ARGUMENT, "training: no result");
    memset(result, 0, sizeof *result);
    if (!model || !train || !config)
        return nb_error(NB_ERR_ARGUMENT, "training: no model, training set or configuration");
    nb_status st = check_call(train, val, config);
    if (st != NB_OK) return st;

    run r;
    memset(&r, 0, sizeof r);
    r.config = config;
    r.train = train;
    r.val = val;
    r.start = r.epoch_start = r.last_save = nb_train_clock();
    st = run_prepare(&r, model);
    if (st == NB_OK && config->resume_path) {
        st = nb_checkpoint_resume(&r, config->resume_path);
        result->epochs_run = r.epoch - 1;
        last_step(&r, &result->last_epoch, &result->last_batch);
        if (st == NB_OK) report_restored(&r);
    }
    if (st == NB_OK) st = run_epochs(&r, result);
    result->seconds = nb_train_clock() - r.start;
    if (st == NB_OK || st == NB_ERR_NUMERIC || st == NB_ERR_INTERRUPTED) {
        /* A numeric stop or an interrupt keeps the epochs that finished. */
        if (st == NB_ERR_NUMERIC) result->stop_reason = "numeric error";
        if (st == NB_ERR_INTERRUPTED) result->stop_reason = "interrupted";
        if (st != NB_OK) result->best_epoch = r.best_epoch;
        result->history = r.history;
        r.history = NULL;
    } else {
        memset(result, 0, sizeof *result);
    }
    /* An error in a partial batch leaves the graph compiled for it. */
    if (st != NB_OK && r.b.batch > 0 && r.b.current != r.b.batch) nb_batcher_use(&r.b, r.b.batch);
    run_free(&r);
    return st;
}
