/* nabla train: load data, scale it, build a model from a spec, train it,
 * evaluate it on the test part, save it, and write a log and a report. */
#include "args.h"
#include "cli.h"
#include "data_opts.h"
#include "internal.h"
#include "prepare.h"
#include "progress.h"
#include "report.h"
#include "train_checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "train"

static const char usage[] = "nabla train --data SOURCE --model SPEC [options]";

static const char help[] =
    "usage: nabla train --data SOURCE --model SPEC [options]\n"
    "\n"
    "Train a model on the training part of SOURCE, evaluate it on the test part,\n"
    "and save it with its scaler, class names, settings and test metrics.\n"
    "\n"
    "data:\n"
    "  --data SOURCE        fashion-mnist, xor, spiral, sine, body, a folder of IDX\n"
    "                       files, or a CSV file of any name, - for standard input\n"
    "                       (split 70/30 by --seed)\n"
    "  --label COL          CSV label column, by header name or 0-based index\n"
    "                       (default: the last column)\n"
    "  --regression         the CSV label is a number to fit, not a class\n"
    "  --delimiter D        CSV delimiter: ',', ';', tab, one byte or auto (default:\n"
    "                       detected among tab, ';' and ',')\n"
    "  --header H           yes|no|auto: is the first CSV row a header (default auto:\n"
    "                       yes when a cell that must be a number is text)\n"
    "  --scale KIND         none|unit|minmax|zscore, fitted on the training part only\n"
    "                       (default: unit for IDX images, zscore for CSV, none for\n"
    "                       the built-in sets)\n"
    "  --scale-targets KIND none|minmax|zscore for numeric targets (default zscore),\n"
    "                       fitted on the training part; saved with the model, and\n"
    "                       predict answers in the original units\n"
    "  --val FRACTION       validation part carved from the training part, in [0, 0.99]\n"
    "                       (default 0, or 0.1 with --patience)\n"
    "model:\n"
    "  --model SPEC         layers, e.g. \"dense:100,relu,dense:10\"; the input size\n"
    "                       comes from the data, the last dense layer must have one\n"
    "                       unit per class (or per target)\n"
    "  --loss NAME          softmax_ce|bce|mse|sse|half_sse|sae (default: softmax_ce\n"
    "                       for class labels, mse for numeric targets)\n"
    "optimizer:\n"
    "  --optimizer NAME     sgd|momentum|nesterov|adagrad|rmsprop|adam|adamw (default sgd)\n"
    "  --lr RATE            learning rate in (0, 1e6] (default 0.01 for SGD-like,\n"
    "                       0.001 for Adam)\n"
    "  --momentum M         momentum and nesterov, in [0, 1) (default 0.9)\n"
    "  --beta1 B --beta2 B  adam and adamw, each in [0, 1) (default 0.9, 0.999)\n"
    "  --weight-decay W     L2 penalty (decoupled for adamw; default 0, adamw 0.01)\n"
    "  --clip-norm N        scale gradients to at most this L2 norm, N > 0 (default: off)\n"
    "schedule:\n"
    "  --batch N            samples per step (default 32)\n"
    "  --epochs N           most epochs (default 10)\n"
    "  --seed N             data split, shuffling and initial weights (default 1)\n"
    "  --schedule KIND      constant|step|cosine (default constant)\n"
    "  --step-epochs N      step: multiply the rate by --gamma every N epochs (default 10)\n"
    "  --gamma G            step: the factor, G > 0 (default 0.1)\n"
    "  --lr-min R           cosine: the final rate, in [0, lr] (default 0)\n"
    "stopping:\n"
    "  --target-loss L      stop once the training loss is at most L\n"
    "  --target-accuracy A  stop once validation (else training) accuracy reaches A\n"
    "  --time-limit S       stop after S seconds\n"
    "  --patience N         stop when the validation loss has not improved for N\n"
    "                       epochs, and keep the best weights\n"
    "output:\n"
    "  --out FILE           save the model (safetensors)\n"
    "  --log FILE           JSON lines, one object per epoch, flushed as it ends\n"
    "  --report FILE        a self-contained HTML report\n"
    "                       (outputs are never an input, a file the data source\n"
    "                       reads, or each other; a file is replaced whole, a\n"
    "                       device or FIFO written directly)\n"
    "  --quiet              no progress bar or epoch lines\n"
    "  --threads N          threads for matrix products (default 0: one per core)\n"
    "checkpoints:\n"
    "  --checkpoint FILE    save the whole training state to FILE every\n"
    "                       --checkpoint-every (atomically, the last one kept)\n"
    "  --checkpoint-every N N epochs (default 1), Nm minutes or Nb batches\n"
    "  --resume FILE        continue an interrupted run from its checkpoint; give\n"
    "                       the same data, model and training options again\n"
    "\n"
    "Ctrl-C finishes the current batch, writes a checkpoint (to --checkpoint FILE,\n"
    "else <--out>.ckpt, else nabla.ckpt), prints how to resume and exits with 130;\n"
    "a second Ctrl-C exits at once. A run started with SIGINT ignored (with & in a\n"
    "script) leaves it ignored. A resumed run rewrites --log from the checkpoint's\n"
    "history (every epoch once); once it finishes and saves, the Ctrl-C checkpoint\n"
    "it resumed from is removed (a --checkpoint FILE is kept).\n"
    "\n"
    "Numbers are decimal, the whole text (no spaces, hex or trailing letters). An\n"
    "option that has no effect with the chosen optimizer or schedule is an error.\n"
    "For numeric targets the test metrics add MAE, RMSE and R^2 in the targets'\n"
    "own units, with a warning when R^2 <= 0.\n"
    "\n"
    "exit codes: 0 ok, 1 training failed, 2 usage, 3 data, 4 model, 5 output,\n"
    "130 interrupted (see 'nabla --help').\n";

typedef struct train_args {
    const char *data, *label, *delimiter, *header, *spec, *loss, *optimizer, *schedule, *scale;
    const char *scale_targets;
    const char *out, *log, *report;
    const char *checkpoint, *checkpoint_every, *resume;
    int argc; /* the command line, to print how to resume */
    char **argv;
    int regression, quiet, batch, epochs, step_epochs, patience, threads;
    int val_default; /* --val is the default --patience brings */
    double lr, momentum, beta1, beta2, weight_decay, gamma, lr_min, clip_norm;
    double target_loss, target_accuracy, time_limit, val;
    uint64_t seed;
} train_args;

/* Everything train allocates, freed in one place. */
typedef struct train_state {
    nb_dataset all, train, val, test;
    nb_scaler scaler, target_scaler;
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

static int parse_schedule(const char *name, nb_schedule_kind *kind)
{
    if (strcmp(name, "constant") == 0)
        *kind = NB_SCHEDULE_CONSTANT;
    else if (strcmp(name, "step") == 0)
        *kind = NB_SCHEDULE_STEP;
    else if (strcmp(name, "cosine") == 0)
        *kind = NB_SCHEDULE_COSINE;
    else
        return 0;
    return 1;
}

static const char *schedule_name(nb_schedule_kind kind)
{
    return kind == NB_SCHEDULE_STEP ? "step" : kind == NB_SCHEDULE_COSINE ? "cosine" : "constant";
}

/* A file train writes or reads, named by its option. */
typedef struct named_path {
    const char *option; /* "--out", or a description for the Ctrl-C checkpoint */
    const char *path;
} named_path;

#define CTRL_C_CHECKPOINT "the Ctrl-C checkpoint"

/* Fail before training, not after it, when an output cannot be written:
 * its folder exists and is writable, and it is not a folder. The implicit
 * Ctrl-C checkpoint is only written on Ctrl-C: a problem with it is a
 * warning, and Ctrl-C then ends the run at once (s->checkpoint NULL). */
static int check_output(const named_path *o, train_state *s)
{
    if (nb_output_check(o->path) == NB_OK) return CLI_EXIT_OK;
    if (strcmp(o->option, CTRL_C_CHECKPOINT) == 0) {
        fprintf(stderr,
                "nabla %s: warning: %s: %s; Ctrl-C will save none and end the run at once (give "
                "--checkpoint FILE)\n",
                CMD, o->option, nb_last_error());
        s->checkpoint = NULL;
        return CLI_EXIT_OK;
    }
    cli_error(CMD, "%s: %s", o->option, nb_last_error());
    return CLI_EXIT_OUTPUT;
}

/* The outputs, and the first data file one of them is (nb_data_files). */
typedef struct data_clash {
    const named_path *out;
    int n_out;
    int hit;    /* the output's index, or -1 */
    char *file; /* the data file it is */
} data_clash;

static int find_data_clash(const char *path, void *user)
{
    data_clash *c = user;
    for (int i = 0; i < c->n_out; i++)
        if (nb_files_collide(c->out[i].path, path)) {
            c->hit = i;
            c->file = strdup(path);
            return 1;
        }
    return 0;
}

/* No output may be a file the data source reads: a CSV file, or any of the
 * IDX files of a folder (those not there yet too: one would be read). */
static int check_data_clash(const arg_command *cmd, const char *data, const named_path *out,
                            int n_out)
{
    data_clash c = {out, n_out, -1, NULL};
    if (nb_data_files(data, find_data_clash, &c) != NB_OK)
        return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--data");
    if (c.hit < 0) return CLI_EXIT_OK;
    const named_path *o = &out[c.hit];
    int rc;
    if (!c.file)
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--data");
    else if (strcmp(c.file, data) == 0)
        rc = args_usage_error(cmd,
                              "%s '%s' and --data '%s' are the same file: the output would "
                              "replace the input",
                              o->option, o->path, data);
    else
        rc = args_usage_error(cmd,
                              "%s '%s' and --data '%s' (its file '%s') are the same file: the "
                              "output would replace the input",
                              o->option, o->path, data, c.file);
    free(c.file);
    return rc;
}

/* No output may replace an input or another output: compared as files
 * (device and inode, through links), not as strings. The checkpoint that
 * --resume reads may be the one this run writes: it is read whole before
 * the first save replaces it. */
static int check_collisions(const arg_command *cmd, const train_args *a, const named_path *out,
                            int n_out)
{
    for (int i = 0; i < n_out; i++) {
        for (int j = 0; j < i; j++)
            if (nb_files_collide(out[i].path, out[j].path))
                return args_usage_error(cmd,
                                        "%s '%s' and %s '%s' are the same file: one output "
                                        "would replace the other",
                                        out[j].option, out[j].path, out[i].option, out[i].path);
        int checkpoint = strcmp(out[i].option, "--checkpoint") == 0 ||
                         strcmp(out[i].option, CTRL_C_CHECKPOINT) == 0;
        if (a->resume && !checkpoint && nb_files_collide(out[i].path, a->resume))
            return args_usage_error(cmd,
                                    "%s '%s' and --resume '%s' are the same file: the output "
                                    "would replace the input",
                                    out[i].option, out[i].path, a->resume);
    }
    return check_data_clash(cmd, a->data, out, n_out);
}

/* Every output and input of the run, checked before the data is loaded:
 * clashes (2), the checkpoint to resume from (4), the outputs (5). */
static int check_files(const arg_command *cmd, const train_args *a, train_state *s)
{
    named_path out[5];
    int n_out = 0;
    if (a->out) out[n_out++] = (named_path){"--out", a->out};
    if (a->log) out[n_out++] = (named_path){"--log", a->log};
    if (a->report) out[n_out++] = (named_path){"--report", a->report};
    out[n_out++] = (named_path){a->checkpoint ? "--checkpoint" : CTRL_C_CHECKPOINT, s->checkpoint};
    int rc = check_collisions(cmd, a, out, n_out);
    if (rc != CLI_EXIT_OK) return rc;
    if (a->resume) {
        nb_status st = nb_input_check(a->resume);
        if (st != NB_OK) {
            cli_error(CMD, "resuming from checkpoint \"%s\": %s", a->resume, nb_last_error());
            return cli_exit_code(st, CLI_STAGE_MODEL);
        }
    }
    for (int i = 0; i < n_out && rc == CLI_EXIT_OK; i++) rc = check_output(&out[i], s);
    return rc;
}

static void free_state(train_state *s)
{
    nb_dataset_free(&s->all);
    nb_dataset_free(&s->train);
    nb_dataset_free(&s->val);
    nb_dataset_free(&s->test);
    nb_scaler_free(&s->scaler);
    nb_scaler_free(&s->target_scaler);
    nb_model_free(s->model);
    nb_train_result_free(&s->result);
    if (s->have_metrics) nb_metrics_free(&s->metrics);
    nb_free(s->raw_x);
    nb_free(s->predictions);
    if (s->log) fclose(s->log);
    free(s->settings);
    free(s->checkpoint_owned);
}

/* The settings as JSON, saved as the model's "training" metadata and shown
 * in the report. */
static char *settings_json(const train_args *a, const nb_train_config *cfg, const train_state *s,
                           nb_scale_kind scale)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "data", a->data);
    if (a->label || s->label[0])
        cJSON_AddStringToObject(j, "label", a->label ? a->label : s->label);
    if (a->regression) cJSON_AddBoolToObject(j, "regression", 1);
    cJSON_AddStringToObject(j, "model", a->spec);
    cJSON_AddStringToObject(j, "loss", nb_model_loss_name(s->model));
    cJSON_AddStringToObject(j, "optimizer", nb_optimizer_name(cfg->optimizer.kind));
    cJSON_AddNumberToObject(j, "lr", cfg->optimizer.lr);
    switch (cfg->optimizer.kind) {
    case NB_OPT_MOMENTUM:
    case NB_OPT_NESTEROV:
        cJSON_AddNumberToObject(j, "momentum", cfg->optimizer.momentum);
        break;
    case NB_OPT_ADAM:
    case NB_OPT_ADAMW:
        cJSON_AddNumberToObject(j, "beta1", cfg->optimizer.beta1);
        cJSON_AddNumberToObject(j, "beta2", cfg->optimizer.beta2);
        break;
    default:
        break;
    }
    cJSON_AddNumberToObject(j, "weight_decay", cfg->optimizer.weight_decay);
    cJSON_AddNumberToObject(j, "batch", cfg->batch);
    cJSON_AddNumberToObject(j, "epochs", cfg->epochs);
    /* A seed may not fit a double exactly: keep it as text when so. */
    if (cfg->seed <= (1ull << 53)) {
        cJSON_AddNumberToObject(j, "seed", (double)cfg->seed);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)cfg->seed);
        cJSON_AddStringToObject(j, "seed", buf);
    }
    cJSON_AddStringToObject(j, "schedule", schedule_name(cfg->schedule));
    if (cfg->schedule == NB_SCHEDULE_STEP) {
        cJSON_AddNumberToObject(j, "step_epochs", cfg->step_epochs);
        cJSON_AddNumberToObject(j, "gamma", cfg->gamma);
    } else if (cfg->schedule == NB_SCHEDULE_COSINE) {
        cJSON_AddNumberToObject(j, "lr_min", cfg->lr_min);
    }
    if (cfg->clip_norm > 0) cJSON_AddNumberToObject(j, "clip_norm", cfg->clip_norm);
    if (cfg->target_loss > 0) cJSON_AddNumberToObject(j, "target_loss", cfg->target_loss);
    if (cfg->target_accuracy > 0)
        cJSON_AddNumberToObject(j, "target_accuracy", cfg->target_accuracy);
    if (cfg->time_limit > 0) cJSON_AddNumberToObject(j, "time_limit", cfg->time_limit);
    if (cfg->patience > 0) cJSON_AddNumberToObject(j, "patience", cfg->patience);
    cJSON_AddNumberToObject(j, "val", a->val);
    cJSON_AddStringToObject(j, "scale", nb_scale_name(scale));
    if (s->train.classes == 0)
        cJSON_AddStringToObject(j, "scale_targets", nb_scale_name(s->target_scale));
    cJSON_AddNumberToObject(j, "train_samples", (double)s->train.count);
    cJSON_AddNumberToObject(j, "val_samples", (double)s->val.count);
    cJSON_AddNumberToObject(j, "test_samples", (double)s->test.count);
    if (s->test.count) {
        /* eval compares it with the test part it reads: the same samples? */
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s->test_fingerprint);
        cJSON_AddStringToObject(j, "test_fingerprint", hex);
    }
    cJSON_AddNumberToObject(j, "epochs_run", s->result.epochs_run);
    /* A numeric stop keeps the weights of its last step (stopped_at_*
     * below), not those of a finished epoch: no best_epoch then. */
    if (!s->numeric_stop) cJSON_AddNumberToObject(j, "best_epoch", s->result.best_epoch);
    const char *stop = s->result.stop_reason ? s->result.stop_reason : "epochs";
    cJSON_AddStringToObject(j, "stop_reason", s->numeric_stop ? "numeric error" : stop);
    if (s->numeric_stop) {
        /* The weights are from after this step (mid-epoch, say). */
        cJSON_AddNumberToObject(j, "stopped_at_epoch", s->result.last_epoch);
        cJSON_AddNumberToObject(j, "stopped_at_batch", (double)s->result.last_batch);
    }
    cJSON_AddNumberToObject(j, "seconds", s->result.seconds);
    cJSON_AddStringToObject(j, "nabla", NB_VERSION);
    cJSON_AddStringToObject(j, "real", NB_REAL_NAME);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

/* The options that read and scale the data, as gradcheck shares them. */
static cli_data_options data_options(const train_args *a)
{
    return (cli_data_options){.source = a->data,
                              .label = a->label,
                              .delimiter = a->delimiter,
                              .header = a->header,
                              .scale = a->scale,
                              .scale_targets = a->scale_targets,
                              .regression = a->regression,
                              .quiet = a->quiet,
                              .seed = a->seed};
}

/* Copy the unscaled test features for the report (pictures, axes). */
static int keep_raw_test(train_state *s)
{
    if (!s->test.count) return CLI_EXIT_OK;
    /* The set is in memory already, so count x features fits a size_t. */
    size_t row = (size_t)s->test.features * sizeof *s->raw_x;
    s->raw_x = nb_calloc(s->test.count, row);
    if (!s->raw_x) {
        cli_error(CMD, "out of memory keeping %zu test samples for the report", s->test.count);
        return CLI_EXIT_FAILURE;
    }
    memcpy(s->raw_x, s->test.x, s->test.count * row);
    return CLI_EXIT_OK;
}

/* An option that would have no effect is a mistake: say which setting it
 * needs rather than ignore it. -1 when all apply, else 2. */
static int check_applicable(const arg_command *cmd, nb_optimizer_kind opt,
                            nb_schedule_kind schedule)
{
    int momentum = opt == NB_OPT_MOMENTUM || opt == NB_OPT_NESTEROV;
    int adam = opt == NB_OPT_ADAM || opt == NB_OPT_ADAMW;
    static const struct {
        const char *option, *needs;
    } rules[] = {
        {"momentum", "--optimizer momentum or nesterov"},
        {"beta1", "--optimizer adam or adamw"},
        {"beta2", "--optimizer adam or adamw"},
        {"step-epochs", "--schedule step"},
        {"gamma", "--schedule step"},
        {"lr-min", "--schedule cosine"},
    };
    const int applies[] = {momentum,
                           adam,
                           adam,
                           schedule == NB_SCHEDULE_STEP,
                           schedule == NB_SCHEDULE_STEP,
                           schedule == NB_SCHEDULE_COSINE};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (args_seen(cmd, rules[i].option) && !applies[i])
            return args_usage_error(cmd, "--%s has no effect without %s", rules[i].option,
                                    rules[i].needs);
    return -1;
}

/* Turn the options into checked values before anything is loaded. */
static int check_args(const arg_command *cmd, train_args *a, train_state *s, nb_optimizer_kind *opt,
                      nb_schedule_kind *schedule)
{
    if (!a->data) return args_usage_error(cmd, "missing --data SOURCE");
    if (!a->spec) return args_usage_error(cmd, "missing --model SPEC");
    cli_data_options data = data_options(a);
    int rc = cli_model_check_options(cmd, a->spec, a->loss, &data);
    if (rc >= 0) return rc;
    if (nb_optimizer_parse(a->optimizer, opt) != NB_OK)
        return args_usage_error(cmd,
                                "--optimizer: unknown optimizer '%s' (sgd, momentum, nesterov, "
                                "adagrad, rmsprop, adam, adamw)",
                                a->optimizer);
    if (!parse_schedule(a->schedule, schedule))
        return args_usage_error(cmd, "--schedule: unknown schedule '%s' (constant, step, cosine)",
                                a->schedule);
    rc = cli_data_check_options(cmd, &data);
    if (rc >= 0) return rc;
    rc = check_applicable(cmd, *opt, *schedule);
    if (rc >= 0) return rc;
    if (a->regression && args_seen(cmd, "target-accuracy"))
        return args_usage_error(cmd, "--target-accuracy needs class labels, but --regression "
                                     "makes the label a number to fit (use --target-loss)");
    /* The rate the cosine schedule ends at cannot be above the one it starts at. */
    double lr = args_seen(cmd, "lr") ? a->lr : nb_optimizer_defaults(*opt).lr;
    if (args_seen(cmd, "lr-min") && a->lr_min > lr)
        return args_usage_error(cmd, "--lr-min %g is above the learning rate %g%s", a->lr_min, lr,
                                args_seen(cmd, "lr") ? "" : " (the default of this optimizer)");
    if (a->patience > 0 && args_seen(cmd, "val") && a->val <= 0)
        return args_usage_error(cmd, "--patience needs a validation part (--val > 0)");
    if (a->patience > 0 && !args_seen(cmd, "val")) {
        a->val = 0.1;
        a->val_default = 1; /* for a message that names --patience */
    }
    if (a->checkpoint_every) {
        nb_train_config probe = nb_train_defaults();
        char err[256];
        if (!a->checkpoint)
            return args_usage_error(cmd, "--checkpoint-every needs --checkpoint FILE");
        if (cli_checkpoint_every(a->checkpoint_every, &probe, err, sizeof err) != 0)
            return args_usage_error(cmd, "%s", err);
    }
    /* Ctrl-C stops after the current batch and saves a checkpoint here. */
    s->checkpoint = cli_checkpoint_path(a->checkpoint, a->out, &s->checkpoint_owned);
    if (!s->checkpoint) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--out");
    rc = check_files(cmd, a, s);
    return rc == CLI_EXIT_OK ? -1 : rc;
}

static int load_data(const train_args *a, train_state *s, nb_scale_kind *scale)
{
    cli_data_options data = data_options(a);
    int rc = cli_data_load(CMD, &data, &s->all, &s->test, scale, &s->target_scale, s->label);
    if (rc != CLI_EXIT_OK) return rc;
    s->test_fingerprint = nb_dataset_fingerprint(&s->test);
    nb_status st;
    if (a->val > 0) {
        st = nb_dataset_split(&s->all, 1 - a->val, a->seed + 1, &s->train, &s->val);
        if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_DATA, "validation split");
        if (s->val.count == 0 || s->train.count == 0) {
            if (a->val_default)
                cli_error(CMD,
                          "--patience needs a validation part, but its default --val %g of %zu "
                          "training samples leaves an empty part (give a larger --val)",
                          a->val, s->all.count);
            else
                cli_error(CMD, "--val %g of %zu training samples leaves an empty part", a->val,
                          s->all.count);
            return CLI_EXIT_USAGE;
        }
        nb_dataset_free(&s->all);
    } else {
        s->train = s->all;
        memset(&s->all, 0, sizeof s->all);
    }
    return CLI_EXIT_OK;
}

/* Fit the scalers on the training part only and apply them to every part. */
static int scale_data(train_state *s, nb_scale_kind kind)
{
    return cli_data_scale(CMD, kind, s->target_scale, &s->train, &s->val, &s->test, &s->scaler,
                          &s->target_scaler);
}

/* The data's class names, or "0".."K-1": a regression loss on classes
 * (one-hot targets) needs names to be a classifier later. */
static nb_status set_class_names(nb_model *model, const nb_dataset *d)
{
    if (d->class_names) return nb_model_set_class_names(model, d->class_names, d->classes);
    char **names = nb_calloc((size_t)d->classes, sizeof *names);
    char *text = nb_calloc((size_t)d->classes, 12);
    nb_status st = NB_ERR_MEMORY;
    if (names && text) {
        for (int i = 0; i < d->classes; i++) {
            names[i] = text + (size_t)i * 12;
            snprintf(names[i], 12, "%d", i);
        }
        st = nb_model_set_class_names(model, names, d->classes);
    }
    nb_free(names);
    nb_free(text);
    return st;
}

static int build_model(const arg_command *cmd, const train_args *a, train_state *s)
{
    const nb_dataset *d = &s->train;
    int rc = cli_model_build(cmd, a->data, d, a->spec, a->loss, a->batch, &s->model);
    if (rc != CLI_EXIT_OK) return rc;
    const char *loss = nb_model_loss_name(s->model);
    int classifier_loss = strcmp(loss, "softmax_ce") == 0 || strcmp(loss, "bce") == 0;
    nb_status st = nb_model_init(s->model, a->seed);
    if (st == NB_OK) st = nb_model_set_scaler(s->model, &s->scaler);
    if (st == NB_OK) st = nb_model_set_target_scaler(s->model, &s->target_scaler);
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_RUN, "building the model");
    /* The data's class names and label column are saved with the model: one
     * the model file refuses (a control character, say) is a data problem,
     * found now rather than when the trained model is saved. */
    char what[512];
    snprintf(what, sizeof what, "data '%.400s'", a->data);
    if (d->classes > 0 && (d->class_names || !classifier_loss) &&
        (st = set_class_names(s->model, d)) != NB_OK)
        return cli_fail(CMD, st, CLI_STAGE_DATA, what);
    const char *label = a->label ? a->label : s->label;
    if (label[0]) {
        cJSON *j = cJSON_CreateObject();
        char *text =
            j && cJSON_AddStringToObject(j, "label", label) ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!text) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "building the model");
        st = nb_model_set_meta(s->model, "training", text); /* replaced when saved */
        free(text);
        if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_DATA, what);
    }
    return CLI_EXIT_OK;
}

static nb_train_config make_config(const arg_command *cmd, const train_args *a,
                                   nb_optimizer_kind kind, nb_schedule_kind schedule)
{
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(kind);
    if (args_seen(cmd, "lr")) c.optimizer.lr = a->lr;
    if (args_seen(cmd, "momentum")) c.optimizer.momentum = a->momentum;
    if (args_seen(cmd, "beta1")) c.optimizer.beta1 = a->beta1;
    if (args_seen(cmd, "beta2")) c.optimizer.beta2 = a->beta2;
    if (args_seen(cmd, "weight-decay")) c.optimizer.weight_decay = a->weight_decay;
    c.batch = a->batch;
    c.epochs = a->epochs;
    c.seed = a->seed;
    c.schedule = schedule;
    if (args_seen(cmd, "step-epochs")) c.step_epochs = a->step_epochs;
    if (args_seen(cmd, "gamma")) c.gamma = a->gamma;
    if (args_seen(cmd, "lr-min")) c.lr_min = a->lr_min;
    c.clip_norm = a->clip_norm;
    c.target_loss = a->target_loss;
    c.target_accuracy = a->target_accuracy;
    c.time_limit = a->time_limit;
    c.patience = a->patience;
    char err[256]; /* --checkpoint-every was checked by check_args */
    if (a->checkpoint_every)
        cli_checkpoint_every(a->checkpoint_every, &c, err, sizeof err);
    else if (a->checkpoint)
        c.checkpoint_epochs = 1;
    c.resume_path = a->resume;
    return c;
}

static void print_header(const train_args *a, const train_state *s, const nb_train_config *c,
                         nb_scale_kind scale)
{
    const nb_dataset *d = &s->train;
    size_t params = 0;
    nb_graph_params(nb_model_graph(s->model), &params);
    char q[512];
    fprintf(stderr, "data: %s: %zu training", nb_escape(q, sizeof q, a->data), d->count);
    if (s->val.count) fprintf(stderr, ", %zu validation", s->val.count);
    fprintf(stderr, ", %zu test %s; %d %s, ", s->test.count,
            nb_plural((long long)s->test.count, "sample", "samples"), d->features,
            nb_plural(d->features, "feature", "features"));
    if (d->classes > 0)
        fprintf(stderr, "%d classes", d->classes);
    else
        fprintf(stderr, "%d %s", d->targets, nb_plural(d->targets, "target", "targets"));
    fprintf(stderr, "; scale %s", nb_scale_name(scale));
    if (d->classes == 0) fprintf(stderr, ", targets %s", nb_scale_name(s->target_scale));
    fputc('\n', stderr);
    fprintf(stderr, "model: %s (%zu parameters), loss %s\n", a->spec, params,
            nb_model_loss_name(s->model));
    fprintf(stderr, "training: %s lr %g, batch %d, epochs %d, seed %llu, schedule %s\n",
            nb_optimizer_name(c->optimizer.kind), c->optimizer.lr, c->batch, c->epochs,
            (unsigned long long)c->seed, schedule_name(c->schedule));
}

/* After nb_train: go on to evaluate and save (CLI_EXIT_OK, with
 * s->numeric_stop set when the weights are those from before a step that
 * went non-finite), or stop with an exit code. */
static int check_training(const train_args *a, train_state *s, nb_status st)
{
    if (st == NB_ERR_INTERRUPTED) {
        char line[1024], shown[4 * sizeof line];
        snprintf(line, sizeof line, "interrupted at epoch %d, batch %zu; checkpoint written to %s",
                 s->result.last_epoch, s->result.last_batch, s->checkpoint);
        fprintf(stderr, "nabla %s: %s; resume with: ", CMD, nb_escape(shown, sizeof shown, line));
        cli_print_resume_command(stderr, s->checkpoint, a->argc, a->argv);
        return CLI_EXIT_INTERRUPTED;
    }
    /* A checkpoint that cannot be read or does not fit this run. */
    if (st != NB_OK && strncmp(nb_last_error(), "resuming from", 13) == 0)
        return cli_fail(CMD, st, CLI_STAGE_MODEL, NULL);
    /* The trainer writes only checkpoints (a full disk, say). */
    if (st == NB_ERR_IO) return cli_fail(CMD, st, CLI_STAGE_OUTPUT, NULL);
    if (st == NB_ERR_NUMERIC) {
        /* The trainer's messages already start with "training" and say
         * which weights are kept: those are saved, marked. */
        cli_fail(CMD, st, CLI_STAGE_RUN, NULL);
        s->numeric_stop = 1;
        return CLI_EXIT_OK;
    }
    if (st != NB_OK) {
        int named = strncmp(nb_last_error(), "training", 8) == 0;
        return cli_fail(CMD, st, CLI_STAGE_RUN, named ? NULL : "training failed");
    }
    const nb_train_result *r = &s->result;
    if (r->epochs_run > 0 && !isfinite(r->history[r->epochs_run - 1].train_loss)) {
        cli_error(CMD,
                  "training failed: the training loss became %g at epoch %d (try a smaller "
                  "--lr or --clip-norm)",
                  r->history[r->epochs_run - 1].train_loss, r->epochs_run);
        s->numeric_stop = 1;
    }
    return CLI_EXIT_OK;
}

static int evaluate(const train_args *a, train_state *s)
{
    if (!s->test.count) {
        fprintf(stderr, "no test part: nothing to evaluate\n");
        return CLI_EXIT_OK;
    }
    nb_status st = nb_evaluate(s->model, &s->test, &s->metrics);
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_RUN, "evaluating on the test part");
    s->have_metrics = 1;
    int classes = s->test.classes;
    char **names = cli_model_class_names(s->model, classes);
    cli_metrics_print(stdout, &s->metrics, names);
    nb_free(names);
    fflush(stdout);
    cli_metrics_warn(CMD, &s->metrics);
    /* The report shows the test targets in their own units, as predicted. */
    if (s->test.y) nb_scaler_invert(&s->target_scaler, s->test.y, s->test.count);
    if (a->report && classes == 0 && s->raw_x) {
        /* The report plots the fitted function against the test points. */
        s->predictions = nb_calloc(s->test.count, (size_t)s->test.targets * sizeof(nb_real));
        if (!s->predictions) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "report");
        st = nb_model_predict(s->model, s->raw_x, s->test.count, s->predictions);
        if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_RUN, "predicting for the report");
    }
    return CLI_EXIT_OK;
}

/* The settings and metrics, saved in the model's metadata. */
static int set_metadata(const train_args *a, train_state *s, nb_scale_kind scale,
                        const nb_train_config *c)
{
    s->settings = settings_json(a, c, s, scale);
    if (!s->settings) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "settings");
    nb_status st = nb_model_set_meta(s->model, "training", s->settings);
    if (st == NB_OK && s->have_metrics) {
        char **names = cli_model_class_names(s->model, s->test.classes);
        cJSON *m = cli_metrics_json(&s->metrics, names);
        nb_free(names);
        char *text = m ? cJSON_PrintUnformatted(m) : NULL;
        cJSON_Delete(m);
        if (!text) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "metrics");
        st = nb_model_set_meta(s->model, "metrics", text);
        free(text);
    }
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_RUN, "model metadata");
    return CLI_EXIT_OK;
}

static int write_report(const train_args *a, train_state *s)
{
    size_t params = 0;
    nb_graph_params(nb_model_graph(s->model), &params);
    char **names = cli_model_class_names(s->model, s->test.classes);
    cli_report r = {
        .data_source = a->data,
        .spec = a->spec,
        .loss = nb_model_loss_name(s->model),
        .settings_json = s->settings,
        .result = &s->result,
        .metrics = s->have_metrics ? &s->metrics : NULL,
        .class_names = names,
        .classes = s->test.count ? s->test.classes : s->train.classes,
        .test = &s->test,
        .test_raw_x = s->raw_x,
        .test_predictions = s->predictions,
        .parameters = params,
    };
    nb_status st = cli_report_write(&r, a->report);
    nb_free(names);
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_OUTPUT, NULL);
    if (!a->quiet) cli_note("report written to %s", a->report);
    return CLI_EXIT_OK;
}

/* Save the model, then the report: one failing does not stop the other.
 * The first failure's exit code, else 0. */
static int save_outputs(const train_args *a, train_state *s, nb_scale_kind scale,
                        const nb_train_config *c)
{
    int rc = set_metadata(a, s, scale, c);
    if (rc != CLI_EXIT_OK) return rc;
    if (a->out) {
        nb_status st = nb_model_save(s->model, a->out);
        if (st != NB_OK)
            rc = cli_fail(CMD, st, CLI_STAGE_OUTPUT, NULL);
        else if (s->numeric_stop)
            fprintf(stderr,
                    "nabla %s: the weights from before the failing step were saved to %s "
                    "(training.stop_reason \"numeric error\")\n",
                    CMD, a->out);
        else if (!a->quiet)
            cli_note("model saved to %s", a->out);
    }
    if (a->report) {
        int report_rc = write_report(a, s);
        if (rc == CLI_EXIT_OK) rc = report_rc;
    }
    return rc;
}

/* The log is closed before the outputs are saved; a log that failed
 * during training or on closing is reported, after the model is saved. */
static int close_log(const train_args *a, train_state *s, const cli_progress *p)
{
    int failed = p->log_failed, err = p->log_errno;
    if (s->log) {
        errno = 0;
        if (fclose(s->log) != 0 && !failed) {
            failed = 1;
            err = errno;
        }
        s->log = NULL;
    }
    if (!failed) return CLI_EXIT_OK;
    if (p->log_failed)
        cli_error(CMD, "cannot write log '%s' (epoch %d and later are missing): %s", a->log,
                  p->log_epoch, strerror(err ? err : EIO));
    else
        cli_error(CMD, "cannot write log '%s': %s", a->log, strerror(err ? err : EIO));
    return CLI_EXIT_OUTPUT;
}

static int run(const arg_command *cmd, train_args *a, train_state *s)
{
    nb_optimizer_kind opt = NB_OPT_SGD;
    nb_schedule_kind schedule = NB_SCHEDULE_CONSTANT;
    nb_scale_kind scale;
    int rc = check_args(cmd, a, s, &opt, &schedule);
    if (rc >= 0) return rc;
    nb_set_threads(a->threads); /* 0..1024, checked by the parser */
    if ((rc = load_data(a, s, &scale)) != CLI_EXIT_OK) return rc;
    if (a->report && (rc = keep_raw_test(s)) != CLI_EXIT_OK) return rc;
    if ((rc = scale_data(s, scale)) != CLI_EXIT_OK) return rc;
    if ((rc = build_model(cmd, a, s)) != CLI_EXIT_OK) return rc;
    nb_train_config config = make_config(cmd, a, opt, schedule);
    if (!a->quiet) print_header(a, s, &config, scale);
    if (a->resume && !a->quiet) cli_note("resuming from checkpoint %s", a->resume);
    /* Without a checkpoint to write, Ctrl-C keeps its default action. */
    config.checkpoint_path = s->checkpoint;
    if (s->checkpoint) config.interrupt = &cli_interrupted;
    /* A fresh run's log is replaced now, so that a log that cannot be
     * written stops the run before training. A resumed run's is replaced
     * once the checkpoint is accepted, and rewritten from the epochs the
     * checkpoint holds (cli_progress_update): never appended to, so it
     * holds every epoch once, however old the checkpoint. */
    if (a->log && !a->resume && nb_output_open(a->log, 0, &s->log) != NB_OK) {
        cli_error(CMD, "--log: %s", nb_last_error());
        return CLI_EXIT_OUTPUT;
    }
    cli_progress progress;
    cli_progress_init(&progress, a->quiet, s->train.classes > 0, &s->log, a->log);
    config.progress = cli_progress_update;
    config.progress_user = &progress;
    if (s->checkpoint) cli_catch_interrupt();
    nb_status st =
        nb_train(s->model, &s->train, s->val.count ? &s->val : NULL, &config, &s->result);
    cli_progress_finish(&progress);
    if ((rc = check_training(a, s, st)) != CLI_EXIT_OK) return rc;
    if (!a->quiet && !s->numeric_stop)
        fprintf(stderr, "stopped after %d %s (%s), keeping epoch %d, %.2f s\n",
                s->result.epochs_run, nb_plural(s->result.epochs_run, "epoch", "epochs"),
                s->result.stop_reason ? s->result.stop_reason : "epochs", s->result.best_epoch,
                s->result.seconds);
    int log_rc = close_log(a, s, &progress);
    /* Weights that went non-finite are not evaluated; a failed evaluation
     * still saves the model it evaluated. */
    int eval_rc = s->numeric_stop ? CLI_EXIT_FAILURE : evaluate(a, s);
    int save_rc = save_outputs(a, s, scale, &config);
    if (eval_rc != CLI_EXIT_OK) return eval_rc;
    if (save_rc != CLI_EXIT_OK) return save_rc;
    if (log_rc == CLI_EXIT_OK && !s->numeric_stop)
        cli_remove_ctrl_c_checkpoint(a->resume, a->checkpoint, s->checkpoint, a->quiet);
    return log_rc;
}

int cmd_train(int argc, char **argv)
{
    nb_train_config d = nb_train_defaults();
    train_args a = {
        .optimizer = "sgd",
        .schedule = "constant",
        .batch = d.batch > 0 ? d.batch : 32,
        .epochs = d.epochs > 0 ? d.epochs : 10,
        .seed = 1,
    };
    arg_option options[] = {
        {"data", ARG_STRING, &a.data, 0, 0, 0},
        {"label", ARG_STRING, &a.label, 0, 0, 0},
        {"regression", ARG_FLAG, &a.regression, 0, 0, 0},
        {"delimiter", ARG_STRING, &a.delimiter, 0, 0, 0},
        {"header", ARG_STRING, &a.header, 0, 0, 0},
        {"model", ARG_STRING, &a.spec, 0, 0, 0},
        {"loss", ARG_STRING, &a.loss, 0, 0, 0},
        {"optimizer", ARG_STRING, &a.optimizer, 0, 0, 0},
        {"lr", ARG_REAL | ARG_OPEN_MIN, &a.lr, 0, 1e6, 0},
        {"momentum", ARG_REAL | ARG_OPEN_MAX, &a.momentum, 0, 1, 0},
        {"beta1", ARG_REAL | ARG_OPEN_MAX, &a.beta1, 0, 1, 0},
        {"beta2", ARG_REAL | ARG_OPEN_MAX, &a.beta2, 0, 1, 0},
        {"weight-decay", ARG_REAL, &a.weight_decay, 0, 1e6, 0},
        {"batch", ARG_INT, &a.batch, 1, 1 << 24, 0},
        {"epochs", ARG_INT, &a.epochs, 1, 10000000, 0},
        {"seed", ARG_U64, &a.seed, 0, 0, 0},
        {"schedule", ARG_STRING, &a.schedule, 0, 0, 0},
        {"step-epochs", ARG_INT, &a.step_epochs, 1, 10000000, 0},
        {"gamma", ARG_REAL | ARG_OPEN_MIN, &a.gamma, 0, 1e6, 0},
        {"lr-min", ARG_REAL, &a.lr_min, 0, 1e6, 0},
        {"clip-norm", ARG_REAL | ARG_OPEN_MIN, &a.clip_norm, 0, 1e300, 0},
        {"target-loss", ARG_REAL | ARG_OPEN_MIN, &a.target_loss, 0, 1e300, 0},
        {"target-accuracy", ARG_REAL | ARG_OPEN_MIN, &a.target_accuracy, 0, 1, 0},
        {"time-limit", ARG_REAL | ARG_OPEN_MIN, &a.time_limit, 0, 1e9, 0},
        {"patience", ARG_INT, &a.patience, 1, 10000000, 0},
        {"val", ARG_REAL, &a.val, 0, 0.99, 0},
        {"scale", ARG_STRING, &a.scale, 0, 0, 0},
        {"scale-targets", ARG_STRING, &a.scale_targets, 0, 0, 0},
        {"out", ARG_STRING, &a.out, 0, 0, 0},
        {"log", ARG_STRING, &a.log, 0, 0, 0},
        {"report", ARG_STRING, &a.report, 0, 0, 0},
        {"quiet", ARG_FLAG, &a.quiet, 0, 0, 0},
        {"threads", ARG_INT, &a.threads, 0, 1024, 0},
        {"checkpoint", ARG_STRING, &a.checkpoint, 0, 0, 0},
        {"checkpoint-every", ARG_STRING, &a.checkpoint_every, 0, 0, 0},
        {"resume", ARG_STRING, &a.resume, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 0};
    char *positional[1];
    int n_positional;
    int rc = args_parse(&cmd, argc, argv, positional, &n_positional);
    if (rc >= 0) return rc;
    a.argc = argc;
    a.argv = argv;
    train_state s;
    memset(&s, 0, sizeof s);
    rc = run(&cmd, &a, &s);
    free_state(&s);
    return rc;
}
