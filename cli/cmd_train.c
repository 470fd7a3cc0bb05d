/* nabla train: parse and check the options into a training job
 * (train_job.h) and run it. */
#include "args.h"
#include "cli.h"
#include "prepare.h"
#include "train_checkpoint.h"
#include "train_job.h"

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
    "  --model SPEC         layers, e.g. \"dense:100,relu,dense:10\" or\n"
    "                       \"conv:32:3,relu,maxpool:2,dense:10\"; the input shape\n"
    "                       comes from the data, the last dense layer must have one\n"
    "                       unit per class (or per target)\n"
    "  --loss NAME          softmax_ce|bce|mse|sse|half_sse|sae (default: softmax_ce\n"
    "                       for class labels, mse for numeric targets)\n"
    "layers of --model (comma-separated; see docs/layers.md):\n"
    "  dense:N              N units; flattens an image first\n"
    "  relu, sigmoid, tanh, leaky_relu[:slope], identity\n"
    "                       activations (slope in [0, 1], default 0.01)\n"
    "  flatten              an image [C, H, W] as [C*H*W] values\n"
    "  conv:F:K[:S[:P]]     F filters of KxK, stride S (default 1), zero padding P\n"
    "                       (default (K-1)/2 for an odd K: the same size; else 0)\n"
    "  maxpool:K[:S]        the largest of each KxK window, S apart (default K)\n"
    "  avgpool:K[:S]        the mean of each KxK window, S apart (default K)\n"
    "  gap                  each channel's mean: [C, H, W] to [C]\n"
    "  dropout:P            in training, zero a fraction P in [0, 1) and scale the\n"
    "                       rest by 1/(1-P); nothing in evaluation\n"
    "  batchnorm            normalise each channel (or feature) by the batch in\n"
    "                       training, by running estimates in evaluation\n"
    "  A spec starts with any layer but an activation and ends with dense:N.\n"
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
    "  --threads N          threads (default 0: one per core): a batch's shards run\n"
    "                       at once, one per thread, as do convolutions' parts and\n"
    "                       the optimizer's update\n"
    "  --shards K           split each batch into K fixed shards summed in a fixed\n"
    "                       order, a power of two (default: one per thread, fewer\n"
    "                       when a shard would have under 32 rows, 1 with batch\n"
    "                       norm; times the process count under mpirun); the same\n"
    "                       K gives the same weights for any process count, and\n"
    "                       for any thread count if the model has no convolution\n"
    "                       (docs/mpi.md)\n"
    "checkpoints:\n"
    "  --checkpoint FILE    save the whole training state to FILE every\n"
    "                       --checkpoint-every (atomically, the last one kept)\n"
    "  --checkpoint-every N N epochs (default 1), Nm minutes or Nb batches\n"
    "  --resume FILE        continue an interrupted run from its checkpoint; give\n"
    "                       the same data, model and training options again\n"
    "\n"
    "Ctrl-C (or SIGTERM, as kill, a batch scheduler or mpirun sends) finishes the\n"
    "current batch, writes a checkpoint (to --checkpoint FILE, else <--out>.ckpt,\n"
    "else nabla.ckpt), prints how to resume and exits with 130; a second one exits\n"
    "at once. A run started with SIGINT ignored (with & in a script) leaves it\n"
    "ignored. A resumed run rewrites --log from the checkpoint's\n"
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

/* The options that are not yet the job's values: names to look up, and
 * settings whose default depends on the optimizer. */
typedef struct train_args {
    const char *optimizer, *schedule, *checkpoint_every;
    double lr, momentum, beta1, beta2, weight_decay;
} train_args;

/* The library's name tables, for the messages that list them. */
static const char *optimizer_name(int kind)
{
    return nb_optimizer_name((nb_optimizer_kind)kind);
}

static const char *schedule_name(int kind)
{
    return nb_schedule_name((nb_schedule_kind)kind);
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

/* Turn the options into checked values before anything is loaded: -1 when
 * all are good, else 2. */
static int check_args(const arg_command *cmd, const train_args *a, cli_train_job *job,
                      nb_optimizer_kind *opt, nb_schedule_kind *schedule)
{
    if (!job->data) return args_usage_error(cmd, "missing --data SOURCE");
    if (!job->spec) return args_usage_error(cmd, "missing --model SPEC");
    cli_data_options data = cli_train_job_data(job);
    int rc = cli_model_check_options(cmd, job->spec, job->loss, &data);
    if (rc >= 0) return rc;
    char names[128];
    if (nb_optimizer_parse(a->optimizer, opt) != NB_OK)
        return args_usage_error(cmd, "--optimizer: unknown optimizer '%s' (%s)", a->optimizer,
                                cli_name_list(names, sizeof names, optimizer_name, NULL));
    if (nb_schedule_parse(a->schedule, schedule) != NB_OK)
        return args_usage_error(cmd, "--schedule: unknown schedule '%s' (%s)", a->schedule,
                                cli_name_list(names, sizeof names, schedule_name, NULL));
    rc = cli_data_check_options(cmd, &data);
    if (rc >= 0) return rc;
    rc = check_applicable(cmd, *opt, *schedule);
    if (rc >= 0) return rc;
    if (job->regression && args_seen(cmd, "target-accuracy"))
        return args_usage_error(cmd, "--target-accuracy needs class labels, but --regression "
                                     "makes the label a number to fit (use --target-loss)");
    /* The rate the cosine schedule ends at cannot be above the one it starts at. */
    double lr = args_seen(cmd, "lr") ? a->lr : nb_optimizer_defaults(*opt).lr;
    if (args_seen(cmd, "lr-min") && job->config.lr_min > lr)
        return args_usage_error(cmd, "--lr-min %g is above the learning rate %g%s",
                                job->config.lr_min, lr,
                                args_seen(cmd, "lr") ? "" : " (the default of this optimizer)");
    if (job->config.patience > 0 && args_seen(cmd, "val") && job->val <= 0)
        return args_usage_error(cmd, "--patience needs a validation part (--val > 0)");
    if (job->config.patience > 0 && !args_seen(cmd, "val")) {
        job->val = 0.1;
        job->val_default = 1; /* for a message that names --patience */
    }
    if (a->checkpoint_every) {
        nb_train_config probe = nb_train_defaults();
        char err[256];
        if (!job->checkpoint)
            return args_usage_error(cmd, "--checkpoint-every needs --checkpoint FILE");
        if (cli_checkpoint_every(a->checkpoint_every, &probe, err, sizeof err) != 0)
            return args_usage_error(cmd, "%s", err);
    }
    return -1;
}

/* The optimizer's settings, the schedule and how often to save a
 * checkpoint, into the job's config (which holds the options parsed
 * straight into it). */
static void set_config(const arg_command *cmd, const train_args *a, cli_train_job *job,
                       nb_optimizer_kind kind, nb_schedule_kind schedule)
{
    nb_train_config *c = &job->config;
    c->optimizer = nb_optimizer_defaults(kind);
    if (args_seen(cmd, "lr")) c->optimizer.lr = a->lr;
    if (args_seen(cmd, "momentum")) c->optimizer.momentum = a->momentum;
    if (args_seen(cmd, "beta1")) c->optimizer.beta1 = a->beta1;
    if (args_seen(cmd, "beta2")) c->optimizer.beta2 = a->beta2;
    if (args_seen(cmd, "weight-decay")) c->optimizer.weight_decay = a->weight_decay;
    c->schedule = schedule;
    if (a->checkpoint_every) {
        char err[256]; /* --checkpoint-every was checked by check_args */
        cli_checkpoint_every(a->checkpoint_every, c, err, sizeof err);
    } else if (job->checkpoint) {
        c->checkpoint_epochs = 1;
    }
}

int cmd_train(int argc, char **argv)
{
    train_args a = {.optimizer = "sgd", .schedule = "constant"};
    cli_train_job job = {.config = nb_train_defaults(), .usage = usage, .argc = argc, .argv = argv};
    nb_train_config *c = &job.config; /* options with no other default */
    arg_option options[] = {
        {"data", ARG_STRING, &job.data, 0, 0, 0},
        {"label", ARG_STRING, &job.label, 0, 0, 0},
        {"regression", ARG_FLAG, &job.regression, 0, 0, 0},
        {"delimiter", ARG_STRING, &job.delimiter, 0, 0, 0},
        {"header", ARG_STRING, &job.header, 0, 0, 0},
        {"model", ARG_STRING, &job.spec, 0, 0, 0},
        {"loss", ARG_STRING, &job.loss, 0, 0, 0},
        {"optimizer", ARG_STRING, &a.optimizer, 0, 0, 0},
        {"lr", ARG_REAL | ARG_OPEN_MIN, &a.lr, 0, 1e6, 0},
        {"momentum", ARG_REAL | ARG_OPEN_MAX, &a.momentum, 0, 1, 0},
        {"beta1", ARG_REAL | ARG_OPEN_MAX, &a.beta1, 0, 1, 0},
        {"beta2", ARG_REAL | ARG_OPEN_MAX, &a.beta2, 0, 1, 0},
        {"weight-decay", ARG_REAL, &a.weight_decay, 0, 1e6, 0},
        {"batch", ARG_INT, &c->batch, 1, 1 << 24, 0},
        {"epochs", ARG_INT, &c->epochs, 1, 10000000, 0},
        {"seed", ARG_U64, &c->seed, 0, 0, 0},
        {"schedule", ARG_STRING, &a.schedule, 0, 0, 0},
        {"step-epochs", ARG_INT, &c->step_epochs, 1, 10000000, 0},
        {"gamma", ARG_REAL | ARG_OPEN_MIN, &c->gamma, 0, 1e6, 0},
        {"lr-min", ARG_REAL, &c->lr_min, 0, 1e6, 0},
        {"clip-norm", ARG_REAL | ARG_OPEN_MIN, &c->clip_norm, 0, 1e300, 0},
        {"target-loss", ARG_REAL | ARG_OPEN_MIN, &c->target_loss, 0, 1e300, 0},
        {"target-accuracy", ARG_REAL | ARG_OPEN_MIN, &c->target_accuracy, 0, 1, 0},
        {"time-limit", ARG_REAL | ARG_OPEN_MIN, &c->time_limit, 0, 1e9, 0},
        {"patience", ARG_INT, &c->patience, 1, 10000000, 0},
        {"val", ARG_REAL, &job.val, 0, 0.99, 0},
        {"scale", ARG_STRING, &job.scale, 0, 0, 0},
        {"scale-targets", ARG_STRING, &job.scale_targets, 0, 0, 0},
        {"out", ARG_STRING, &job.out, 0, 0, 0},
        {"log", ARG_STRING, &job.log, 0, 0, 0},
        {"report", ARG_STRING, &job.report, 0, 0, 0},
        {"quiet", ARG_FLAG, &job.quiet, 0, 0, 0},
        {"threads", ARG_INT, &job.threads, 0, 1024, 0},
        {"shards", ARG_INT, &c->shards, 1, 1 << 24, 0},
        {"checkpoint", ARG_STRING, &job.checkpoint, 0, 0, 0},
        {"checkpoint-every", ARG_STRING, &a.checkpoint_every, 0, 0, 0},
        {"resume", ARG_STRING, &c->resume_path, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 0};
    char *positional[1];
    int n_positional;
    int rc = args_parse(&cmd, argc, argv, positional, &n_positional);
    if (rc >= 0) return rc;
    nb_optimizer_kind opt = NB_OPT_SGD;
    nb_schedule_kind schedule = NB_SCHEDULE_CONSTANT;
    rc = check_args(&cmd, &a, &job, &opt, &schedule);
    if (rc >= 0) return rc;
    set_config(&cmd, &a, &job, opt, schedule);
    return cli_train_job_run(&job);
}
