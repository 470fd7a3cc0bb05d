/* What the parts of a training run share: the run's state (train_job.c),
 * the checks of its files (train_files.c) and the saving of its outputs
 * (train_save.c). Not for other commands: they use train_job.h. */
#ifndef NABLA_CLI_TRAIN_JOB_INTERNAL_H
#define NABLA_CLI_TRAIN_JOB_INTERNAL_H

#include "args.h"
#include "train_job.h"

#include <stdio.h>

/* Everything a run allocates, freed in one place. */
typedef struct train_state {
    nb_dataset all, train, val, test;
    nb_scaler scaler, target_scaler;
    nb_scale_kind scale;        /* the features' */
    nb_scale_kind target_scale; /* NB_SCALE_NONE for classes */
    nb_model *model;
    nb_train_result result;
    nb_metrics metrics;
    int have_metrics;
    nb_real *raw_x, *predictions;
    FILE *log;
    char *settings;
    const char *checkpoint; /* where Ctrl-C saves; NULL: nowhere, Ctrl-C ends the run */
    char *checkpoint_owned; /* <--out>.ckpt */
    int numeric_stop;       /* the weights are from before a non-finite step */
    /* The CSV label column as read, saved for eval and predict. */
    char label[NB_LABEL_NAME_MAX];
    /* The test part's fingerprint as read, before scaling: eval compares. */
    uint64_t test_fingerprint;
} train_state;

/* Every output and input of the run, checked before the data is loaded:
 * clashes (2, reported against cmd), the checkpoint to resume from (4),
 * the outputs (5). *checkpoint is the Ctrl-C checkpoint: one that cannot
 * be written is a warning and becomes NULL. */
int cli_train_check_files(const arg_command *cmd, const cli_train_job *job,
                          const char **checkpoint);

/* Save the settings and metrics in the model's metadata, then the model
 * (--out) and the report: one failing does not stop the other. The first
 * failure's exit code, else 0. */
int cli_train_save_outputs(const cli_train_job *job, train_state *s);

#endif
