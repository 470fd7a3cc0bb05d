/* Shared by the files of src/train/; not part of the public API.
 *
 * Who calls whom (no circle):
 *   trainer.c      -> batch.c, metrics.c, schedule.c, checkpoint_*.c, clock.c,
 *                     state.c, shards.c
 *   checkpoint_*.c -> batch.c (the sample order), clock.c, state.c,
 *                     io/checkpoint_file, io/graph_json (checkpoint.h says
 *                     which file uses what)
 *   metrics.c    -> batch.c
 *   shards.c     -> batch.c (the batcher)
 *   batch.c, schedule.c, clock.c, state.c -> nothing in src/train/ */
#ifndef NABLA_TRAIN_INTERNAL_H
#define NABLA_TRAIN_INTERNAL_H

#include "internal.h"

/* The learning rate of a 1-based epoch under config's schedule. */
double nb_schedule_lr(const nb_train_config *config, int epoch);
/* Check every field of a training configuration; the message names it. */
nb_status nb_train_config_check(const nb_train_config *config);

/* Gathers samples of a data set into the rows of a model's input and target
 * nodes, directly (it owns no memory); a smaller last batch recompiles the
 * graph for fewer rows, which reuses its memory. */
typedef struct nb_batcher {
    nb_model *model;
    nb_graph *graph;
    nb_node input, target, output, loss;
    int features, outputs;
    size_t target_width; /* target values per sample: 1 (a label) or outputs */
    int binary;          /* bce: one logit, class 1 when it is > 0 */
    int summed;          /* the loss sums over the batch instead of averaging */
    int label_limit;     /* labels must be below this */
    int batch;           /* rows of a full batch */
    int current;         /* rows the graph is compiled for now */
} nb_batcher;

/* Compile model for batch rows. */
nb_status nb_batcher_init(nb_batcher *b, nb_model *model, int batch);
/* Whether data fits the model: features, labels or targets; what names the
 * set in the message ("training set"). */
nb_status nb_batcher_check(const nb_batcher *b, const nb_dataset *data, const char *what);
/* Compile for rows rows (at most batch) unless it already is. */
nb_status nb_batcher_use(nb_batcher *b, int rows);
/* Copy samples index[start..start+rows) (or start.. when index is NULL) into
 * the buffers and feed them to the graph, compiled for rows rows. */
nb_status nb_batcher_load(nb_batcher *b, const nb_dataset *data, const int *index, size_t start,
                          int rows);
/* The loss of the last forward pass as a sum over its rows samples: the
 * batch mean times rows, or the batch sum for summed losses. */
double nb_batcher_loss_sum(const nb_batcher *b, int rows);
/* The predicted class of row r of the last forward pass. */
int nb_batcher_predict(const nb_batcher *b, int r);

/* Sums for MAE, RMSE and R^2 over regression samples, in the targets'
 * original units; per target, a running mean and sum of squared deviations
 * of the targets (Welford: no cancellation with large values). */
typedef struct nb_regression_acc {
    int targets;
    size_t n;
    double abs_sum, sq_sum;
    double *mean, *m2, *ss_res; /* targets entries each */
} nb_regression_acc;

nb_status nb_regression_acc_init(nb_regression_acc *a, int targets);
void nb_regression_acc_free(nb_regression_acc *a);
/* mae, rmse and r2 as nb_metrics defines them (NaN with no samples). */
void nb_regression_acc_result(const nb_regression_acc *a, double *mae, double *rmse, double *r2);

/* One pass over data in batches of b->batch: the summed loss (see
 * nb_batcher_loss_sum), correct predictions (classification), and when not
 * NULL the confusion matrix (classes x classes, added to), the predicted
 * class of every sample and the regression sums (reg, outputs and targets
 * taken back to the original units by the model's target scaler). A
 * non-finite input, output or loss is NB_ERR_NUMERIC naming the first bad
 * sample (0-based). The graph is left compiled for b->batch rows. */
nb_status nb_evaluate_pass(nb_batcher *b, const nb_dataset *data, double *loss_sum, size_t *correct,
                           size_t *confusion, int classes, int32_t *predicted,
                           nb_regression_acc *reg);

/* The private part of an nb_train_state (trainer.c allocates it; the
 * checkpoint reads and resets it, and calls nothing in trainer.c). */
typedef struct nb_train_internal {
    nb_batcher b;
    int *index;                   /* the sample order of the epoch */
    size_t epoch_samples;         /* samples an epoch trains on: the training set's,
                                     less a last batch the model cannot learn from
                                     (a batch of one through batch norm over features) */
    nb_rng order_rng;             /* the rng_start that index is the shuffle of */
    int order_valid;              /* index and s->rng hold that shuffle */
    nb_real *saved;               /* the state before the last step: params (the guarded
                                     step's copy), then the buffers (copied before the
                                     forward pass that updates them) */
    size_t state_count;           /* params and buffers (nb_graph_state): s->best's length */
    nb_train_buffer *buffer_list; /* s->buffers: the graph's buffer nodes */
    double batch_loss_sum;        /* the loaded batch's loss as a sum over its rows */
    int loaded;                   /* a batch is loaded at the position */
    int computed;                 /* its gradients are computed */
    int epoch_ended;              /* nb_train_end_epoch recorded the epoch */
    int asked;                    /* the progress callback asked to stop in this epoch */
    int finished;                 /* nb_train_finish ran: no more steps */
    /* Fingerprints of the data (FNV-1a of x and labels or y), computed by
     * the first checkpoint saved or loaded. */
    int hashed;
    uint64_t train_hash, val_hash;
    /* The graph's "graph" and "constants" texts, made by the first
     * checkpoint saved (checkpoint_graph.c); owned. */
    char *graph_json, *constants_json;
    /* Shards (shards.c): the batch in `shards` row ranges of shard_rows
     * rows, this process computing first_shard .. first_shard + own - 1;
     * sharded is set when shards > 1 or several processes share them. */
    int sharded, shards, shard_rows, first_shard, own;
    int levels;            /* log2(own) + 1 */
    size_t slot_bytes;     /* one process's sum: its head, then state_count values */
    double *slots;         /* with other processes: this one's sum and a peer's */
    nb_real *step_buffers; /* the buffers before the step's first shard */
    /* Each of the own shards: its gradient (param_count values, weighted
     * in the sum), its head (loss, correct, failure flags) and its weighted
     * buffers; its status and message. */
    nb_real *shard_grads, *shard_buffers;
    double *shard_heads;
    nb_real *shard_weights;
    nb_status *shard_status;
    char *shard_messages; /* own x NB_ERROR_TEXT */
    /* Workers that compute shards at once, each on its own thread and
     * graph: worker 0 the model's (b), worker w > 0 replica w - 1. */
    int workers;
    nb_model **replicas;
    nb_batcher *replica_b;
    int interrupt_agreed; /* some process saw the interrupt flag (nb_train) */
    /* The public fields as the library last left them (state.c). */
    nb_train_state mirror;
    int synced;
} nb_train_internal;

/* The guard of the public fields (state.c). Sync after the library
 * changed the state (the end of every step, begin, finish, a load); check
 * before using it: every field but stop must be as the library left it,
 * else NB_ERR_STATE naming the field (what names the call). The values
 * the library uses (sizes, positions, pointers) are then its own. */
void nb_train_state_sync(nb_train_state *s);
nb_status nb_train_state_check(const nb_train_state *s, const char *what);

/* The epoch's sample order (batch.c): the identity order shuffled by
 * s->rng_start, so that it depends only on the seed and the epoch and a
 * resumed epoch gets the same one; s->rng becomes the generator after the
 * shuffle. Shuffles once per rng_start. */
void nb_train_order(nb_train_state *s);

/* Shards and processes (shards.c). Refuse a shard count or communicator
 * that cannot work (the message names the field). */
nb_status nb_shards_check(const nb_train_config *config);
/* Plan the shards of s (after the batcher is compiled for shard_rows
 * rows) and allocate the partial sums. */
nb_status nb_shards_prepare(nb_train_state *s);
void nb_shards_free(nb_train_internal *in);
/* The shard count: config's, or one per process when it is 0. */
int nb_shards_count(const nb_train_config *config);
/* The shard count a run uses: config's when set; else one per process
 * times the threads' shards (nb_shards_per_process) for a batch of batch
 * rows of model. */
int nb_shards_plan(const nb_train_config *config, nb_model *model, int batch);
/* Rows of a full batch each shard holds: ceil(batch / shards). */
int nb_shards_rows(int batch, int shards);
/* Forward and backward over this process's shards of the loaded batch,
 * the sums combined with the other processes: s->grads, the buffers, the
 * batch's loss and correct predictions, as one pass over the whole batch
 * would give them up to the shards' own statistics. */
nb_status nb_shards_forward_backward(nb_train_state *s);
/* values[0 .. count) := their maximum over the processes (no-op alone). */
nb_status nb_train_agree(const nb_train_state *s, int *values, int count);
/* Agree on s->stop: the strongest reason any process has (a fixed order). */
nb_status nb_train_agree_stop(nb_train_state *s);
/* Is this the process that writes (rank 0, or the only one)? */
int nb_train_writer(const nb_train_state *s);

/* Seconds on a monotonic clock (clock.c). */
double nb_train_clock(void);

#define NB_CHECKPOINT_FORMAT "nabla-checkpoint"
/* 2: history rows add the validation MAE, RMSE and R^2 (version 1 rows
 * lack them). 3: "graph" holds the model's graph (the model file's JSON)
 * and "constants" its constants' hashes, and "spec" is there only for a
 * model made from a spec. All three are read. */
/* 4: "random_draws" holds the graph's draw count (dropout's masks), and
 * "early_stopping.best" holds the whole state, buffers after parameters. */
#define NB_CHECKPOINT_VERSION 4

#endif
