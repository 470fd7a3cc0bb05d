/* Shared by the trainer, the batch gatherer and the metrics; not part of the
 * public API. */
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

/* Everything a training run holds, allocated once before the first batch
 * (trainer.c), and where it stands: what a checkpoint saves (checkpoint.c). */
typedef struct nb_train_run {
    const nb_train_config *config;
    const nb_dataset *train, *val;
    nb_model *model;
    nb_batcher b;
    nb_optimizer *opt;
    nb_real *params, *grads;
    size_t param_count;
    size_t batches; /* per epoch */
    int *index;     /* the sample order of the epoch */
    nb_real *saved; /* params before the last step */
    nb_real *best;  /* params of the best validation loss (patience) */
    nb_epoch_stats *history;
    double start;       /* the clock at the start, less earlier sessions' time */
    double epoch_start; /* the clock at the epoch's start, less earlier sessions' */
    double last_save;   /* the clock at the last checkpoint (or the start) */
    /* The position: epoch `epoch` (1-based) has run `batch` batches. The
     * epoch's order is rng_start's shuffle; rng is the live generator. */
    int epoch;
    size_t batch;
    nb_rng rng_start, rng;
    double loss_sum;
    size_t correct, seen;
    int best_epoch, since_best;
    double best_loss;
    /* Fingerprints of the data (FNV-1a of x and labels or y), when checkpoints
     * are written or read. */
    uint64_t train_hash, val_hash;
} nb_train_run;

/* Seconds on a monotonic clock. */
double nb_train_clock(void);

/* The fingerprint of a data set: its x, then its labels or y. */
uint64_t nb_dataset_hash(const nb_dataset *data);

/* Save r's whole state to r->config->checkpoint_path (atomically). */
nb_status nb_checkpoint_save(nb_train_run *r);
/* Restore r's state from the checkpoint at path, after checking that it was
 * written for this model, data and configuration. r is prepared (buffers
 * and optimizer allocated); on failure the model's weights are untouched. */
nb_status nb_checkpoint_resume(nb_train_run *r, const char *path);

#define NB_CHECKPOINT_FORMAT "nabla-checkpoint"
/* 2: history rows add the validation MAE, RMSE and R^2 (version 1 rows
 * lack them; both are read). */
#define NB_CHECKPOINT_VERSION 2

#endif
