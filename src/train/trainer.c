/* The mini-batch trainer as public steps: nb_train_begin, then per epoch
 * nb_train_next_batch, nb_train_forward_backward, nb_train_apply,
 * nb_train_end_epoch and nb_train_next_epoch, then nb_train_finish; and
 * nb_train, a loop over them that adds checkpoints, resuming and the
 * interrupt flag. Shuffling, schedules, clipping, validation, stop
 * conditions and a guard against NaN.
 *
 * Depends on batch.c (the batcher, the sample order), metrics.c (the validation pass),
 * schedule.c (the checks of the configuration, the learning rate),
 * checkpoint_save.c and checkpoint_load.c (nb_checkpoint_save and
 * nb_checkpoint_load, from nb_train only), clock.c and state.c (the guard
 * of the public fields: every step checks them first and records them
 * last). Nothing in src/train/ calls into this file. */
#include "train_internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

void nb_train_result_free(nb_train_result *result)
{
    if (!result) return;
    nb_free(result->history);
    memset(result, 0, sizeof *result);
}

/* ------------------------------------------------------------- begin */

nb_status nb_train_check_config(const nb_train_config *config)
{
    if (!config) return nb_error(NB_ERR_ARGUMENT, "training: no configuration");
    nb_status st = nb_train_config_check(config);
    return st == NB_OK ? nb_shards_check(config) : st;
}

/* What nb_train refuses before it allocates anything. */
static nb_status check_call(const nb_dataset *train, const nb_dataset *val,
                            const nb_train_config *config)
{
    nb_status st = nb_train_check_config(config);
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

/* The graph's buffers (a batch norm's running estimates) as s->buffers:
 * the checkpoint saves and restores each. */
static nb_status list_buffers(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    nb_graph *g = in->b.graph;
    int n = 0;
    for (int i = 0; i < g->count; i++) n += g->nodes[i].kind == NB_NODE_BUFFER;
    s->buffer_count = 0;
    s->buffers = NULL;
    if (n == 0) return NB_OK;
    in->buffer_list = nb_calloc((size_t)n, sizeof *in->buffer_list);
    if (!in->buffer_list)
        return nb_error(NB_ERR_MEMORY, "training: no memory for a list of %d buffers", n);
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *r = &g->nodes[i];
        if (r->kind == NB_NODE_BUFFER)
            in->buffer_list[s->buffer_count++] = (nb_train_buffer){r->name, r->shape, r->value};
    }
    s->buffers = in->buffer_list;
    return NB_OK;
}

/* The buffers part of the state, which a forward pass in training changes:
 * kept aside before it and put back when the step fails. */
static void keep_buffers(nb_train_state *s, int restore)
{
    nb_train_internal *in = s->internal;
    nb_real *state = nb_graph_state(in->b.graph, NULL);
    size_t n = in->state_count - s->param_count;
    if (n == 0) return;
    if (restore)
        memcpy(state + s->param_count, in->saved + s->param_count, n * sizeof *state);
    else
        memcpy(in->saved + s->param_count, state + s->param_count, n * sizeof *state);
}

/* The samples of an epoch: all, but a last batch (with shards, the last
 * batch's last shard) that an op cannot learn from is left out (batch norm
 * over features, a batch of one); the order is shuffled each epoch, so
 * each epoch leaves out another sample. A full batch (shard) it cannot
 * learn from is an error before training starts. */
static nb_status epoch_samples(nb_train_state *s, int batch)
{
    nb_train_internal *in = s->internal;
    int shard = in->b.batch; /* the rows the graph is compiled for */
    size_t count = s->train->count, last = count % (size_t)batch % (size_t)shard;
    /* A full batch's last shard may be shorter: 7 rows in shards of 2
     * end in a shard of 1. */
    int tail = batch - (batch - 1) / shard * shard;
    nb_status st = nb_graph_check_rows(in->b.graph, shard);
    if (st == NB_OK && tail < shard) {
        st = nb_graph_check_rows(in->b.graph, tail);
        if (st != NB_OK)
            return nb_error_prefix(st,
                                   "training: batches of %d in %d shards of up to %d rows end "
                                   "in a shard of %d (give a --shards or --batch that divide "
                                   "evenly)",
                                   batch, in->shards, shard, tail);
    }
    if (st != NB_OK && shard < batch)
        return nb_error_prefix(st, "training: %d shards of %d %s", in->shards, shard,
                               nb_plural(shard, "row", "rows"));
    if (st != NB_OK)
        return batch < s->config.batch
                   ? nb_error_prefix(st, "training: the training set has %zu %s", count,
                                     nb_plural((long long)count, "sample", "samples"))
                   : nb_error_prefix(st, "training");
    in->epoch_samples = count;
    if (last > 0 && nb_graph_check_rows(in->b.graph, (int)last) != NB_OK) {
        in->epoch_samples = count - last;
        nb_clear_error();
    }
    return NB_OK;
}

/* Compile the model for the batch, check the data against it and allocate
 * everything; the position is epoch 1, batch 0. */
static nb_status prepare(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_train_config *c = &s->config;
    size_t count = s->train->count;
    int batch = (size_t)c->batch < count ? c->batch : (int)count;
    /* With shards the graph runs one shard at a time. */
    in->shards = nb_shards_plan(c, s->model, batch);
    nb_status st = nb_batcher_init(&in->b, s->model, nb_shards_rows(batch, in->shards));
    if (st == NB_OK) st = nb_batcher_check(&in->b, s->train, "training set");
    if (st == NB_OK && s->val) st = nb_batcher_check(&in->b, s->val, "validation set");
    if (st != NB_OK) return st;
    if ((st = epoch_samples(s, batch)) != NB_OK) return st;
    s->batch_rows = batch;
    s->batches = (in->epoch_samples + (size_t)batch - 1) / (size_t)batch;
    s->params = nb_graph_params(in->b.graph, &s->param_count);
    s->grads = nb_graph_param_grads(in->b.graph, NULL);
    if (!s->params || s->param_count == 0)
        return nb_error(NB_ERR_STATE, "training: the model has no parameters");
    st = nb_optimizer_create(&c->optimizer, s->param_count, &s->optimizer);
    if (st != NB_OK) return st;
    nb_graph_state(in->b.graph, &in->state_count);
    in->index = nb_calloc(count, sizeof *in->index);
    in->saved = nb_calloc(in->state_count, sizeof *in->saved);
    s->best = c->patience > 0 ? nb_calloc(in->state_count, sizeof *s->best) : NULL;
    s->history = nb_calloc((size_t)c->epochs, sizeof *s->history);
    if (!in->index || !in->saved || (c->patience > 0 && !s->best) || !s->history)
        return nb_error(NB_ERR_MEMORY,
                        "training: no memory for %zu samples, %zu parameters and %d epochs", count,
                        in->state_count, c->epochs);
    if ((st = list_buffers(s)) != NB_OK) return st;
    if ((st = nb_shards_prepare(s)) != NB_OK) return st;
    /* Dropout's masks come from the run's seed, a stream apart from the
     * shuffle's; a checkpoint holds how far they have gone. */
    nb_graph_set_seed(in->b.graph, nb_graph_seed_of(c->seed));
    s->epoch = 1;
    nb_rng_seed(&s->rng_start, c->seed);
    nb_train_order(s);
    s->best_loss = INFINITY;
    return NB_OK;
}

void nb_train_state_free(nb_train_state *s)
{
    if (!s) return;
    nb_train_internal *in = s->internal;
    /* The pointers as the library left them, whatever a caller wrote. */
    const nb_train_state *own = in && in->synced ? &in->mirror : s;
    nb_optimizer_free(own->optimizer);
    nb_free(own->best);
    nb_free(own->history);
    if (in) {
        nb_free(in->index);
        nb_free(in->saved);
        nb_free(in->buffer_list);
        nb_free(in->graph_json);
        nb_free(in->constants_json);
        nb_shards_free(in);
        nb_free(in);
    }
    nb_free(s);
}

nb_status nb_train_begin(nb_model *model, const nb_dataset *train, const nb_dataset *val,
                         const nb_train_config *config, nb_train_state **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "training: no place for the state");
    *out = NULL;
    if (!model || !train || !config)
        return nb_error(NB_ERR_ARGUMENT, "training: no model, training set or configuration");
    nb_status st = check_call(train, val, config);
    if (st != NB_OK) return st;
    nb_train_state *s = nb_calloc(1, sizeof *s);
    nb_train_internal *in = nb_calloc(1, sizeof *in);
    if (!s || !in) {
        nb_free(s);
        nb_free(in);
        return nb_error(NB_ERR_MEMORY, "training: out of memory for the state");
    }
    s->internal = in;
    s->model = model;
    s->train = train;
    s->val = val;
    s->config = *config;
    s->start = s->epoch_start = nb_train_clock();
    st = prepare(s);
    nb_train_state_sync(s);
    if (st != NB_OK) {
        nb_train_state_free(s);
        return st;
    }
    *out = s;
    return NB_OK;
}

/* ------------------------------------------------------------- steps */

/* Can s take a step? what names the call in the message. Whether the run
 * has ended is the library's own record (a caller who clears stop_reason
 * changes nothing); then every public field but stop must be as the
 * library left it, so that the position, the sizes and the pointers the
 * step uses are its own; and the position is within the run. */
static nb_status usable(const nb_train_state *s, const char *what)
{
    if (!s || !s->internal) return nb_error(NB_ERR_ARGUMENT, "training: %s: no state", what);
    const nb_train_internal *in = s->internal;
    if (in->finished) return nb_error(NB_ERR_STATE, "training: %s after nb_train_finish", what);
    if (in->mirror.stop_reason)
        return nb_error(NB_ERR_STATE, "training: %s after the run ended (%s)", what,
                        in->mirror.stop_reason);
    nb_status st = nb_train_state_check(s, what);
    if (st != NB_OK) return st;
    if (s->epoch < 1 || s->epoch > s->config.epochs)
        return nb_error(NB_ERR_STATE, "training: %s at epoch %d of %d: the run has ended", what,
                        s->epoch, s->config.epochs);
    return NB_OK;
}

typedef nb_status (*step_fn)(nb_train_state *s);

/* A step: refused unless s can take it; the fields it changed are
 * recorded whatever it returns. */
static nb_status step(nb_train_state *s, const char *what, step_fn fn)
{
    nb_status st = usable(s, what);
    if (st != NB_OK) return st;
    st = fn(s);
    nb_train_state_sync(s);
    return st;
}

static nb_status next_batch(nb_train_state *s, int *rows)
{
    if (!rows) return nb_error(NB_ERR_ARGUMENT, "training: nb_train_next_batch: no rows");
    nb_train_internal *in = s->internal;
    if (in->epoch_ended)
        return nb_error(NB_ERR_STATE, "training: epoch %d has ended; nb_train_next_epoch first",
                        s->epoch);
    nb_train_order(s);
    in->loaded = in->computed = 0;
    s->rows = 0;
    if (!s->stop) in->asked = 0; /* a caller cleared the callback's stop */
    if (s->stop || s->batch >= s->batches) return NB_OK;
    size_t start = s->batch * (size_t)s->batch_rows, left = in->epoch_samples - start;
    int n = left < (size_t)s->batch_rows ? (int)left : s->batch_rows;
    /* Shards load their own rows in nb_train_forward_backward. */
    nb_status st = in->sharded ? NB_OK : nb_batcher_load(&in->b, s->train, in->index, start, n);
    if (st != NB_OK) return st;
    s->rows = *rows = n;
    in->loaded = 1;
    return NB_OK;
}

nb_status nb_train_next_batch(nb_train_state *s, int *rows)
{
    if (rows) *rows = 0;
    nb_status st = usable(s, "nb_train_next_batch");
    if (st != NB_OK) return st;
    st = next_batch(s, rows);
    nb_train_state_sync(s);
    return st;
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

static nb_status forward_backward_pass(nb_train_state *s);

static nb_status forward_backward(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    if (!in->loaded)
        return nb_error(NB_ERR_STATE,
                        "training: no batch is loaded (nb_train_next_batch gives one)");
    in->computed = 0;
    nb_batcher *b = &in->b;
    /* Training mode: dropout draws, batch norm moves its running estimates
     * (put back if the step fails). */
    nb_status st = nb_graph_set_mode(b->graph, NB_MODE_TRAIN);
    if (st != NB_OK) return st;
    keep_buffers(s, 0);
    if (in->sharded) {
        st = nb_shards_forward_backward(s);
        in->computed = st == NB_OK;
    } else {
        st = forward_backward_pass(s);
    }
    if (st != NB_OK) keep_buffers(s, 1);
    return st;
}

static nb_status forward_backward_pass(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    nb_batcher *b = &in->b;
    nb_status st = nb_graph_forward(b->graph);
    if (st != NB_OK) return st;
    double loss = nb_node_value(b->graph, b->loss)[0];
    char where[NB_NAME_MAX + 96];
    if (!isfinite(loss))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the loss is %g at epoch %d, batch %zu of %zu%s; the weights "
                        "from before this step are kept",
                        loss, s->epoch, s->batch + 1, s->batches,
                        first_nonfinite(b->graph, where, sizeof where));
    /* The epoch's train loss is the sum's mean: it stays finite. */
    double sum = nb_batcher_loss_sum(b, s->rows);
    if (!isfinite(s->loss_sum + sum))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the epoch's summed loss overflows at epoch %d, batch %zu of "
                        "%zu (this batch's loss %g); the weights from before this step are kept",
                        s->epoch, s->batch + 1, s->batches, loss);
    size_t correct = 0;
    if (s->train->classes > 0) {
        const int32_t *labels = s->train->labels;
        size_t start = s->batch * (size_t)s->batch_rows;
        for (int i = 0; i < s->rows; i++)
            correct += nb_batcher_predict(b, i) == labels[in->index[start + (size_t)i]];
    }
    if ((st = nb_graph_backward(b->graph, b->loss)) != NB_OK) return st;
    s->batch_loss = loss;
    s->batch_correct = correct;
    in->batch_loss_sum = sum;
    in->computed = 1;
    return NB_OK;
}

nb_status nb_train_forward_backward(nb_train_state *s)
{
    return step(s, "nb_train_forward_backward", forward_backward);
}

/* After a batch: the progress callback and the time limit. */
static void report_batch(nb_train_state *s)
{
    const nb_train_config *c = &s->config;
    double t = nb_train_clock();
    if (c->progress) {
        double done = (double)(s->epoch - 1) * s->batches + s->batch;
        double total = (double)s->batches * c->epochs;
        nb_progress p = {.epoch = s->epoch,
                         .epochs = c->epochs,
                         .batch = s->batch,
                         .batches = s->batches,
                         .loss = s->loss_sum / s->seen};
        p.samples_per_second = t > s->epoch_start ? s->seen / (t - s->epoch_start) : 0;
        p.eta_seconds = (t - s->start) / done * (total - done);
        if (c->progress(&p, c->progress_user) && !s->stop) {
            s->stop = "stopped";
            s->internal->asked = 1;
        }
    }
    if (!s->stop && c->time_limit > 0 && t - s->start >= c->time_limit) s->stop = "time limit";
}

static nb_status apply(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    if (!in->computed)
        return nb_error(NB_ERR_STATE,
                        "training: no gradients to apply (nb_train_forward_backward gives them)");
    in->computed = in->loaded = 0;
    nb_graph *g = in->b.graph;
    const size_t k = s->batch + 1;
    char where[NB_NAME_MAX + 96];
    double clip = s->config.clip_norm;
    if (clip > 0) {
        /* Global L2 norm over all gradients, scaled down to clip_norm. */
        double sq = 0;
        for (size_t i = 0; i < s->param_count; i++) sq += (double)s->grads[i] * s->grads[i];
        double norm = sqrt(sq);
        if (!isfinite(norm)) {
            keep_buffers(s, 1);
            return nb_error(NB_ERR_NUMERIC,
                            "training: the gradient norm is %g at epoch %d, batch %zu of %zu%s; "
                            "the weights from before this step are kept",
                            norm, s->epoch, k, s->batches, first_nonfinite(g, where, sizeof where));
        }
        if (norm > clip) {
            nb_real scale = (nb_real)(clip / norm);
            for (size_t i = 0; i < s->param_count; i++) s->grads[i] *= scale;
        }
    }
    /* A NaN or infinite gradient, or a step that overflows, leaves a
     * non-finite weight: the guarded step catches both in the same pass and
     * puts the weights back. */
    double lr = nb_schedule_lr(&s->config, s->epoch);
    /* SGD's step reads and writes each value once: split over threads it
     * gains only while the pool is busy with shards anyway; waking an idle
     * pool each step cost more (784-100-10, batch 32: 0.43 s per epoch on
     * 2 threads, 0.30 s unsplit). Adam's longer loop gains either way. */
    int threads = nb_optimizer_slot_count(s->optimizer) == 0 && in->workers <= 1 ? 1 : 0;
    if (nb_optimizer_step_split(s->optimizer, s->params, s->grads, lr, in->saved, threads) !=
        NB_OK) {
        keep_buffers(s, 1); /* the running estimates of this step's forward pass too */
        return nb_error(NB_ERR_NUMERIC,
                        "training: the step at epoch %d, batch %zu of %zu made a weight "
                        "non-finite (learning rate %g)%s; the weights from before it are kept",
                        s->epoch, k, s->batches, lr, first_nonfinite(g, where, sizeof where));
    }
    s->loss_sum += in->batch_loss_sum;
    s->correct += s->batch_correct;
    s->seen += (size_t)s->rows;
    s->batch = k;
    report_batch(s);
    /* One process's time limit or callback stops them all. */
    return nb_train_agree_stop(s);
}

nb_status nb_train_apply(nb_train_state *s)
{
    return step(s, "nb_train_apply", apply);
}

/* Validation loss and accuracy (-1 without a validation set). */
static nb_status validate(nb_train_state *s, nb_epoch_stats *e)
{
    e->val_loss = e->val_accuracy = -1;
    e->val_mae = e->val_rmse = e->val_r2 = NAN;
    if (!s->val) return NB_OK;
    nb_batcher *b = &s->internal->b;
    double loss;
    size_t correct;
    nb_regression_acc reg = {0};
    nb_status st = s->val->classes == 0 ? nb_regression_acc_init(&reg, b->outputs) : NB_OK;
    if (st == NB_OK)
        st = nb_evaluate_pass(b, s->val, &loss, &correct, NULL, 0, NULL,
                              s->val->classes == 0 ? &reg : NULL);
    nb_regression_acc_result(&reg, &e->val_mae, &e->val_rmse, &e->val_r2);
    nb_regression_acc_free(&reg);
    if (st != NB_OK) return nb_error_prefix(st, "training: evaluating the validation set");
    e->val_loss = loss / (double)s->val->count;
    if (s->val->classes > 0) e->val_accuracy = (double)correct / (double)s->val->count;
    return NB_OK;
}

static nb_status end_epoch(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_train_config *c = &s->config;
    nb_status st;
    if (in->epoch_ended)
        return nb_error(NB_ERR_STATE, "training: epoch %d is recorded already", s->epoch);
    /* An epoch with no batch has no loss to record (0 / 0). */
    if (s->seen == 0)
        return nb_error(NB_ERR_STATE,
                        "training: no batch of epoch %d has been taken (nb_train_next_batch, "
                        "nb_train_forward_backward, nb_train_apply); there is nothing to "
                        "record%s",
                        s->epoch,
                        s->stop ? " (with stop set, nb_train_next_epoch ends the run without it)"
                                : "");
    /* usable() keeps the position within the run: history has one row per epoch. */
    if (s->epoch < 1 || s->epoch > c->epochs)
        return nb_error(NB_ERR_STATE, "training: no history row for epoch %d of %d", s->epoch,
                        c->epochs);
    in->loaded = in->computed = 0;
    nb_train_order(s); /* the next epoch starts from the generator after it */
    /* A partial last batch left the graph compiled for fewer rows. */
    if ((st = nb_batcher_use(&in->b, in->b.batch)) != NB_OK) return st;

    const int epoch = s->epoch;
    nb_epoch_stats *e = &s->history[epoch - 1];
    e->epoch = epoch;
    e->lr = nb_schedule_lr(c, epoch);
    e->train_loss = s->loss_sum / s->seen;
    e->train_accuracy = s->train->classes > 0 ? (double)s->correct / s->seen : -1;
    if ((st = validate(s, e)) != NB_OK) return st;
    e->seconds = nb_train_clock() - s->epoch_start;
    s->epochs_run = epoch;
    in->epoch_ended = 1;

    /* Every recorded epoch is reported, one cut short by the time limit
     * too; only a callback that asked to stop has heard enough. */
    if (c->progress && !(in->asked && s->stop)) {
        const double total = (double)s->batches * c->epochs;
        nb_progress p = {.epoch = epoch,
                         .epochs = c->epochs,
                         .batch = s->batch,
                         .batches = s->batches,
                         .loss = e->train_loss,
                         .stats = e};
        p.samples_per_second = e->seconds > 0 ? s->seen / e->seconds : 0;
        double done = (double)(epoch - 1) * s->batches + s->batch, t = nb_train_clock() - s->start;
        p.eta_seconds = t / done * (total - done);
        if (c->progress(&p, c->progress_user) && !s->stop) s->stop = "stopped";
    }
    if (c->patience > 0) {
        if (e->val_loss < s->best_loss) {
            s->best_loss = e->val_loss;
            s->best_epoch = epoch;
            s->since_best = 0;
            memcpy(s->best, s->params, in->state_count * sizeof *s->best);
        } else {
            s->since_best++;
        }
    }
    double accuracy = s->val ? e->val_accuracy : e->train_accuracy;
    if (!s->stop && c->target_loss > 0 && e->train_loss <= c->target_loss) s->stop = "target loss";
    if (!s->stop && c->target_accuracy > 0 && accuracy >= c->target_accuracy)
        s->stop = "target accuracy";
    if (!s->stop && c->patience > 0 && s->since_best >= c->patience) s->stop = "early stopping";
    return nb_train_agree_stop(s);
}

nb_status nb_train_end_epoch(nb_train_state *s)
{
    return step(s, "nb_train_end_epoch", end_epoch);
}

static nb_status next_epoch(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    /* A stop before the epoch's first batch ends the run with nothing of
     * the epoch to record. */
    int empty = s->stop && s->seen == 0 && s->batch == 0;
    if (!in->epoch_ended && !empty)
        return nb_error(NB_ERR_STATE, "training: epoch %d is not recorded (nb_train_end_epoch)",
                        s->epoch);
    if (s->stop) {
        s->stop_reason = s->stop;
        return NB_OK;
    }
    /* Every finished epoch ran all its batches (the checkpoint relies on it). */
    if (s->batch < s->batches)
        return nb_error(NB_ERR_STATE,
                        "training: epoch %d ran %zu of its %zu batches; an epoch cut short ends "
                        "the run (set stop)",
                        s->epoch, s->batch, s->batches);
    /* The next epoch starts from the generator as the shuffle left it.
     * After the last epoch the position is epoch `epochs` + 1, batch 0, so
     * that a checkpoint saved there holds every epoch and resuming from it
     * runs nothing more. */
    nb_train_order(s);
    s->epoch++;
    s->batch = 0;
    s->rng_start = s->rng;
    s->loss_sum = 0;
    s->correct = s->seen = 0;
    s->rows = 0;
    s->epoch_start = nb_train_clock();
    in->epoch_ended = in->asked = 0;
    if (s->epoch > s->config.epochs) s->stop_reason = "epochs";
    return NB_OK;
}

nb_status nb_train_next_epoch(nb_train_state *s)
{
    return step(s, "nb_train_next_epoch", next_epoch);
}

/* The last batch done (epoch e, batch k; 0, 0 before any). */
static void last_step(const nb_train_state *s, int *epoch, size_t *batch)
{
    *epoch = s->epoch;
    *batch = s->batch;
    if (s->batch == 0) { /* at an epoch boundary */
        *epoch = s->epoch - 1;
        *batch = s->epoch > 1 ? s->batches : 0;
    }
}

nb_status nb_train_finish(nb_train_state *s, nb_train_result *result)
{
    if (!result) return nb_error(NB_ERR_ARGUMENT, "training: nb_train_finish: no result");
    memset(result, 0, sizeof *result);
    if (!s || !s->internal) return nb_error(NB_ERR_ARGUMENT, "training: nb_train_finish: no state");
    nb_train_internal *in = s->internal;
    if (in->finished) return nb_error(NB_ERR_STATE, "training: nb_train_finish ran already");
    nb_status st = nb_train_state_check(s, "nb_train_finish");
    if (st != NB_OK) return st;
    in->finished = 1;
    in->loaded = in->computed = 0;
    /* An error in a partial batch leaves the graph compiled for it; with
     * shards, for a shard. */
    if (in->b.batch > 0 && in->b.current != in->b.batch) st = nb_batcher_use(&in->b, in->b.batch);
    if (st == NB_OK && in->sharded && in->b.batch != s->batch_rows &&
        (st = nb_model_set_batch(s->model, s->batch_rows)) == NB_OK)
        in->b.current = in->b.batch = s->batch_rows;
    result->epochs_run = s->epochs_run;
    result->best_epoch = s->best_epoch;
    result->stop_reason = s->stop_reason;
    if (s->stop_reason) {
        if (s->config.patience > 0 && s->best_epoch > 0)
            memcpy(s->params, s->best, in->state_count * sizeof *s->params);
        else
            result->best_epoch = s->epochs_run;
    }
    last_step(s, &result->last_epoch, &result->last_batch);
    result->history = s->history;
    s->history = NULL;
    result->seconds = nb_train_clock() - s->start;
    nb_train_state_sync(s);
    return st;
}

/* ----------------------------------------------------------- nb_train */

/* Only the writing process (rank 0) saves; all learn whether it could. */
static nb_status save_checkpoint(const nb_train_state *s, double *last_save)
{
    const char *path = s->config.checkpoint_path;
    nb_status st = nb_train_writer(s) ? nb_checkpoint_save(s, path) : NB_OK;
    *last_save = nb_train_clock();
    int failed = st != NB_OK;
    nb_status agreed = nb_train_agree(s, &failed, 1);
    if (st != NB_OK) return st;
    if (agreed != NB_OK) return agreed;
    if (failed)
        return nb_error(NB_ERR_IO, "training: the writing process (rank 0) could not save "
                                   "the checkpoint");
    return NB_OK;
}

/* The current batch has finished: save where we are and stop. */
static nb_status interrupted(const nb_train_state *s, double *last_save)
{
    int e;
    size_t k;
    last_step(s, &e, &k);
    const char *path = s->config.checkpoint_path; /* checked by nb_train_config_check */
    nb_status st = save_checkpoint(s, last_save);
    if (st != NB_OK)
        return nb_error_prefix(st, "training interrupted at epoch %d, batch %zu of %zu", e, k,
                               s->batches);
    return nb_error(NB_ERR_INTERRUPTED,
                    "training interrupted at epoch %d, batch %zu of %zu; checkpoint written to %s",
                    e, k, s->batches, path);
}

/* After each batch: an interrupt, else a checkpoint every N batches (counted
 * over the whole run, so resuming keeps the rhythm) or M minutes. */
static nb_status after_batch(const nb_train_state *s, double *last_save)
{
    const nb_train_config *c = &s->config;
    /* An interrupt, or a checkpoint due by the clock, on any process is
     * every process's. */
    int flags[2] = {c->interrupt && *c->interrupt,
                    c->checkpoint_minutes > 0 &&
                        nb_train_clock() - *last_save >= 60 * c->checkpoint_minutes};
    nb_status st = nb_train_agree(s, flags, 2);
    if (st != NB_OK) return st;
    if (flags[0]) return interrupted(s, last_save);
    if (s->stop || !c->checkpoint_path) return NB_OK;
    uint64_t done = (uint64_t)(s->epoch - 1) * s->batches + s->batch;
    int due = c->checkpoint_batches > 0 && done % (uint64_t)c->checkpoint_batches == 0;
    return due || flags[1] ? save_checkpoint(s, last_save) : NB_OK;
}

/* The next epoch has started (or the run has ended after its last): an
 * interrupt, else a checkpoint every N epochs. */
static nb_status after_epoch(const nb_train_state *s, double *last_save)
{
    const nb_train_config *c = &s->config;
    int finished = s->epoch > c->epochs;
    int flag = !finished && c->interrupt && *c->interrupt;
    nb_status st = finished ? NB_OK : nb_train_agree(s, &flag, 1);
    if (st != NB_OK) return st;
    if (flag) return interrupted(s, last_save);
    if (c->checkpoint_path && c->checkpoint_epochs > 0 &&
        (s->epoch - 1) % c->checkpoint_epochs == 0)
        return save_checkpoint(s, last_save);
    return NB_OK;
}

static nb_status run_epoch(nb_train_state *s, double *last_save)
{
    int rows;
    nb_status st;
    while ((st = nb_train_next_batch(s, &rows)) == NB_OK && rows > 0) {
        if ((st = nb_train_forward_backward(s)) != NB_OK) return st;
        if ((st = nb_train_apply(s)) != NB_OK) return st;
        if ((st = after_batch(s, last_save)) != NB_OK) return st;
    }
    if (st == NB_OK) st = nb_train_end_epoch(s);
    if (st != NB_OK) return st;
    int stopping = s->stop != NULL;
    if ((st = nb_train_next_epoch(s)) != NB_OK || stopping) return st;
    return after_epoch(s, last_save);
}

nb_status nb_train(nb_model *model, const nb_dataset *train, const nb_dataset *val,
                   const nb_train_config *config, nb_train_result *result)
{
    if (!result) return nb_error(NB_ERR_ARGUMENT, "training: no result");
    memset(result, 0, sizeof *result);
    nb_train_state *s = NULL;
    nb_status st = nb_train_begin(model, train, val, config, &s);
    if (st != NB_OK) return st;
    double last_save = nb_train_clock();
    if (config->resume_path) {
        /* Every process reads the checkpoint; one refusal stops all. */
        st = nb_checkpoint_load(s, config->resume_path);
        int failed = st != NB_OK;
        nb_status agreed = nb_train_agree(s, &failed, 1);
        if (st == NB_OK && agreed != NB_OK) st = agreed;
        if (st == NB_OK && failed)
            st = nb_error(NB_ERR_ARGUMENT,
                          "resuming from checkpoint \"%s\": another process could not read it",
                          config->resume_path);
        last_save = nb_train_clock();
    }
    /* A checkpoint saved after the last epoch resumes with nothing to do. */
    while (st == NB_OK && !s->stop_reason) st = run_epoch(s, &last_save);
    nb_status done = nb_train_finish(s, result);
    if (st == NB_OK) st = done;
    /* A numeric stop or an interrupt keeps the epochs that finished. */
    if (st == NB_ERR_NUMERIC) result->stop_reason = "numeric error";
    if (st == NB_ERR_INTERRUPTED) result->stop_reason = "interrupted";
    if (st != NB_OK && st != NB_ERR_NUMERIC && st != NB_ERR_INTERRUPTED)
        nb_train_result_free(result);
    nb_train_state_free(s);
    return st;
}
