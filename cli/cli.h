/* Shared pieces of the nabla command: exit codes, error messages, metrics
 * output and Ctrl-C handling. */
#ifndef NABLA_CLI_H
#define NABLA_CLI_H

#include "nabla.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* Exit codes, documented in docs/cli.md and `nabla --help`. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,      /* the requested check or training failed */
    CLI_EXIT_USAGE = 2,        /* unknown option, bad value, missing argument */
    CLI_EXIT_DATA = 3,         /* missing or malformed data file */
    CLI_EXIT_MODEL = 4,        /* missing or malformed model file */
    CLI_EXIT_OUTPUT = 5,       /* cannot write the model, log or report */
    CLI_EXIT_INTERRUPTED = 130 /* Ctrl-C (128 + SIGINT) */
};

/* What a command was doing when a status came back: the same status (an
 * i/o error, say) means a data, model or output problem depending on it. */
enum cli_stage {
    CLI_STAGE_USAGE,  /* checking what the user typed (spec, names) */
    CLI_STAGE_DATA,   /* reading data */
    CLI_STAGE_MODEL,  /* reading a model file */
    CLI_STAGE_OUTPUT, /* writing a file */
    CLI_STAGE_RUN     /* training, evaluating, checking */
};

/* The one mapping from a library status to an exit code. */
int cli_exit_code(nb_status status, enum cli_stage stage);

/* "nabla <cmd>: <message>" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* fmt and its arguments to out, escaped (see nb_escape): for a line that
 * quotes user input or file content. */
void cli_vputs_escaped(FILE *out, const char *fmt, va_list ap);
/* A status line on stderr ("model saved to PATH"), escaped like errors. */
void cli_note(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Report the library's last error after what (may be NULL) and return the
 * exit code for status at stage. */
int cli_fail(const char *cmd, nb_status status, enum cli_stage stage, const char *what);
/* The names a library table gives (nb_optimizer_name, nb_scale_name...),
 * for a message that lists them: name(0), name(1), ... up to the first
 * "unknown", leaving out skip (may be NULL), as "a, b, c" in buf.
 * Returns buf. */
const char *cli_name_list(char *buf, size_t size, const char *(*name)(int kind), const char *skip);

/* Ctrl-C sets a flag (the trainer's progress callback asks it to stop);
 * a SIGINT that was ignored on entry stays ignored. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_interrupt(void);

/* Metrics as JSON: samples, loss, accuracy (null for regression), and for
 * classifiers classes, per-class precision/recall and the confusion matrix
 * (rows: true class). names may be NULL. NULL when out of memory. */
cJSON *cli_metrics_json(const nb_metrics *metrics, char *const *names);
/* The same as text for people: per-class tables aligned by display width
 * (see cli_text_width). */
void cli_metrics_print(FILE *out, const nb_metrics *metrics, char *const *names);
/* The same, its first line led by part ("all") instead of "test". */
void cli_metrics_print_part(FILE *out, const char *part, const nb_metrics *metrics,
                            char *const *names);
/* On stderr, "nabla <cmd>: warning: ..." when a regression's R^2 <= 0. */
void cli_metrics_warn(const char *cmd, const nb_metrics *metrics);
/* Columns a UTF-8 string takes on a terminal: 2 for East Asian wide
 * characters and emoji, 0 for combining marks, 1 for the rest (a byte that
 * is not valid UTF-8 counts 1). Self-contained, so the output does not
 * depend on the locale. */
int cli_text_width(const char *s);
/* A class's display name: names[i], else its number in buf. */
const char *cli_class_name(char *const *names, int classes, int index, char *buf, size_t size);

/* The model's class names as an array (entries may be NULL); free with
 * nb_free (the strings belong to the model). NULL when it has none. */
char **cli_model_class_names(const nb_model *model, int classes);

/* Load a model file; on failure report it (naming path) and return the
 * exit code, else 0. */
int cli_load_model(const char *cmd, const char *path, nb_model **out);
/* Was the model saved by a training run that stopped on a numeric error
 * (training.stop_reason)? epoch and batch (may be NULL): its last step
 * taken, from stopped_at_epoch and stopped_at_batch, -1 when unknown.
 * cli_load_model warns on stderr about such a model. */
int cli_model_diverged(const nb_model *model, int *epoch, int *batch);
/* What such a model's warning says after "was saved when ": "training
 * stopped on a numeric error (the weights kept are from epoch E, batch
 * B): its outputs may be meaningless" (epoch and batch as
 * cli_model_diverged gives them). */
#define CLI_DIVERGED_TEXT_SIZE 192
void cli_diverged_text(char *buf, size_t size, int epoch, int batch);
/* cli_fail, adding to a numeric error that the model comes from a
 * training run that stopped on one. */
int cli_fail_model(const char *cmd, nb_status status, enum cli_stage stage, const char *what,
                   const nb_model *model);
/* The model's metadata key parsed as JSON, or NULL. Free with cJSON_Delete. */
cJSON *cli_model_meta_json(const nb_model *model, const char *key);
/* j as the one line of JSON the command prints: unformatted, with the
 * invisible and format characters (a bidi override, a zero-width space)
 * escaped as \uXXXX. Free with nb_free; NULL when out of memory. */
char *cli_json_text(const cJSON *j);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* The subcommands: argv[0] is the subcommand's name. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_explain(int argc, char **argv);

#endif
