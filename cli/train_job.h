/* One training run, whoever starts it: check the files, read the data,
 * split off a validation part, scale, build the model, train, evaluate on
 * the test part, save the model, and write the log and the report, with
 * the messages and exit codes of nabla train. nabla train parses and
 * checks its options into a cli_train_job and runs it; anything else that
 * runs the same training fills in the same struct. */
#ifndef NABLA_CLI_TRAIN_JOB_H
#define NABLA_CLI_TRAIN_JOB_H

#include "nabla.h"
#include "prepare.h"

typedef struct cli_train_job {
    /* The data: where it comes from, how it is read and scaled. */
    const char *data;          /* --data SOURCE */
    const char *label;         /* --label, or NULL: the last column */
    const char *delimiter;     /* --delimiter, or NULL: detected */
    const char *header;        /* --header, or NULL: auto */
    const char *scale;         /* --scale, or NULL: nb_data_default_scale */
    const char *scale_targets; /* --scale-targets, or NULL: zscore for numeric targets */
    int regression;            /* --regression */
    double val;                /* the validation part of the training part, in [0, 0.99] */
    int val_default;           /* val is the default --patience brings (for its message) */
    /* The model. */
    const char *spec; /* --model */
    const char *loss; /* --loss, or NULL: the data's default */
    /* Training, checked: optimizer, batch, epochs, seed (also the data's
     * split), schedule, stopping, how often to save a checkpoint and
     * resume_path (--resume). The job sets checkpoint_path, interrupt and
     * the progress callback. */
    nb_train_config config;
    /* What the run writes, NULL for none. */
    const char *out;        /* --out: the model */
    const char *log;        /* --log: JSON lines, one per epoch */
    const char *report;     /* --report: HTML */
    const char *checkpoint; /* --checkpoint; NULL: Ctrl-C saves to <out>.ckpt or nabla.ckpt */
    int quiet;              /* no progress, header or notes */
    int threads;            /* for matrix products; 0: one per core */
    /* How the run was started. */
    const char *usage; /* the usage line, shown with a usage error found on the way */
    int argc;          /* the subcommand's arguments (argv[0] "train"), to print */
    char **argv;       /* the command that resumes an interrupted run */
} cli_train_job;

/* The options that read and scale job's data, as gradcheck shares them
 * (the split by config.seed, the data line unless quiet). */
cli_data_options cli_train_job_data(const cli_train_job *job);

/* Run job, its options already checked (cmd_train). Before the data is
 * read: no output may replace an input or another output (2), the
 * checkpoint to resume from must be readable (4) and each output
 * writable (5). Then the run, reported on stderr (the test metrics on
 * stdout). Returns the exit code (cli.h); Ctrl-C during training saves a
 * checkpoint and returns 130. */
int cli_train_job_run(const cli_train_job *job);

#endif
