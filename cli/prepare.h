/* Data and model preparation that train and gradcheck share: the same
 * options read the same data, scale it the same way and build the same
 * model, so gradcheck checks the model train would train and refuses what
 * train refuses, with the same messages and exit codes. */
#ifndef NABLA_CLI_PREPARE_H
#define NABLA_CLI_PREPARE_H

#include "args.h"
#include "nabla.h"

typedef struct cli_data_options {
    const char *source;        /* --data */
    const char *label;         /* --label, or NULL */
    const char *delimiter;     /* --delimiter, or NULL */
    const char *header;        /* --header, or NULL */
    const char *scale;         /* --scale, or NULL: nb_data_default_scale */
    const char *scale_targets; /* --scale-targets, or NULL: zscore for numeric targets */
    int regression;            /* --regression */
    int quiet;                 /* no "data: ..." line */
    uint64_t seed;             /* the 70/30 split */
} cli_data_options;

/* --delimiter, --header, --scale and --scale-targets, before anything is
 * read: -1 when they are good, else 2 (reported with the usage line). */
int cli_data_check_options(const arg_command *cmd, const cli_data_options *o);

/* The spec and --loss, and what the loss needs that the spec and the data
 * options already tell (a softmax over one unit, bce with more than one, a
 * classifier loss with --regression or --scale-targets), before anything is
 * read: -1 when all fits, else 2 (reported with the usage line). The data
 * is checked against the model once loaded (cli_model_build). */
int cli_model_check_options(const arg_command *cmd, const char *spec, const char *loss,
                            const cli_data_options *o);

/* Read o->source into its training and test parts and choose the feature
 * and target scaling (targets: NB_SCALE_NONE for classes). On failure the
 * error is reported and its exit code returned (2 for a label or
 * --regression with data that is not CSV, or --scale-targets on classes;
 * 3 for the data), else CLI_EXIT_OK. label (NB_LABEL_NAME_MAX bytes, may
 * be NULL) gets the label column as resolved: its header name, else its
 * index ("" when the source is not CSV). */
int cli_data_load(const char *cmd, const cli_data_options *o, nb_dataset *train, nb_dataset *test,
                  nb_scale_kind *scale, nb_scale_kind *target_scale, char *label);

/* Fit the feature scaler, and for numeric targets the target scaler, on
 * train only and apply them to train and to val and test (either may be
 * NULL). Reported, with its exit code, on failure. */
int cli_data_scale(const char *cmd, nb_scale_kind scale, nb_scale_kind target_scale,
                   nb_dataset *train, nb_dataset *val, nb_dataset *test, nb_scaler *scaler,
                   nb_scaler *target_scaler);

/* Build spec for train with loss (NULL: the data's default) and batch,
 * checked against the data: a loss that needs class labels or 2 classes,
 * a last dense layer with the wrong number of units are usage errors (2,
 * naming the source). The weights are not initialised. */
int cli_model_build(const arg_command *cmd, const char *source, const nb_dataset *train,
                    const char *spec, const char *loss, int batch, nb_model **out);

#endif
