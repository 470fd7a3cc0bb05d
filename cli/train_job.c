/* One training run (see train_job.h): data, split, scale, build, train,
 * evaluate, save. */
#include "train_job.h"

#include "cli.h"
#include "internal.h"
#include "parallel.h"
#include "progress.h"
#include "train_checkpoint.h"
#include "train_job_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "train"

cli_data_options cli_train_job_data(const cli_train_job *job)
{
    return (cli_data_options){.source = job->data,
                              .label = job->label,
                              .delimiter = job->delimiter,
                              .header = job->header,
                              .scale = job->scale,
                              .scale_targets = job->scale_targets,
                              .regression = job->regression,
                              .quiet = job->quiet,
                              .seed = job->config.seed};
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

static int load_data(const cli_train_job *job, train_state *s)
{
    cli_data_options data = cli_train_job_data(job);
    int rc = cli_data_load(CMD, &data, &s->all, &s->test, &s->scale, &s->target_scale, s->label);
    if (rc != CLI_EXIT_OK) return rc;
    s->test_fingerprint = nb_dataset_fingerprint(&s->test);
    if (job->val > 0) {
        nb_status st =
            nb_dataset_split(&s->all, 1 - job->val, job->config.seed + 1, &s->train, &s->val);
        if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_DATA, "validation split");
        if (s->val.count == 0 || s->train.count == 0) {
            if (job->val_default)
                cli_error(CMD,
                          "--patience needs a validation part, but its default --val %g of %zu "
                          "training samples leaves an empty part (give a larger --val)",
                          job->val, s->all.count);
            else
                cli_error(CMD, "--val %g of %zu training samples leaves an empty part", job->val,
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
static int scale_data(train_state *s)
{
    return cli_data_scale(CMD, s->scale, s->target_scale, &s->train, &s->val, &s->test, &s->scaler,
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

static int build_model(const arg_command *cmd, const cli_train_job *job, train_state *s)
{
    const nb_dataset *d = &s->train;
    int rc = cli_model_build(cmd, job->data, d, job->spec, job->loss, job->config.batch, &s->model);
    if (rc != CLI_EXIT_OK) return rc;
    int classifier_loss = nb_model_loss_info(s->model).classifier;
    nb_status st = nb_model_init(s->model, job->config.seed);
    if (st == NB_OK) st = nb_model_set_scaler(s->model, &s->scaler);
    if (st == NB_OK) st = nb_model_set_target_scaler(s->model, &s->target_scaler);
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_RUN, "building the model");
    /* The data's class names and label column are saved with the model: one
     * the model file refuses (a control character, say) is a data problem,
     * found now rather than when the trained model is saved. */
    char what[512];
    snprintf(what, sizeof what, "data '%.400s'", job->data);
    if (d->classes > 0 && (d->class_names || !classifier_loss) &&
        (st = set_class_names(s->model, d)) != NB_OK)
        return cli_fail(CMD, st, CLI_STAGE_DATA, what);
    const char *label = job->label ? job->label : s->label;
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

static void print_header(const cli_train_job *job, const train_state *s)
{
    const nb_train_config *c = &job->config;
    const nb_dataset *d = &s->train;
    size_t params = 0;
    nb_graph_params(nb_model_graph(s->model), &params);
    char q[512];
    fprintf(stderr, "data: %s: %zu training", nb_escape(q, sizeof q, job->data), d->count);
    if (s->val.count) fprintf(stderr, ", %zu validation", s->val.count);
    fprintf(stderr, ", %zu test %s; %d %s, ", s->test.count,
            nb_plural((long long)s->test.count, "sample", "samples"), d->features,
            nb_plural(d->features, "feature", "features"));
    if (d->classes > 0)
        fprintf(stderr, "%d classes", d->classes);
    else
        fprintf(stderr, "%d %s", d->targets, nb_plural(d->targets, "target", "targets"));
    fprintf(stderr, "; scale %s", nb_scale_name(s->scale));
    if (d->classes == 0) fprintf(stderr, ", targets %s", nb_scale_name(s->target_scale));
    fputc('\n', stderr);
    fprintf(stderr, "model: %s (%zu parameters), loss %s\n", job->spec, params,
            nb_model_loss_name(s->model));
    fprintf(stderr, "training: %s lr %g, batch %d, epochs %d, seed %llu, schedule %s",
            nb_optimizer_name(c->optimizer.kind), c->optimizer.lr, c->batch, c->epochs,
            (unsigned long long)c->seed, nb_schedule_name(c->schedule));
    if (c->shards > 1) fprintf(stderr, ", %d shards", c->shards);
    if (c->comm && c->comm->size > 1) fprintf(stderr, ", %d processes (MPI)", c->comm->size);
    fputc('\n', stderr);
}

/* After nb_train: go on to evaluate and save (CLI_EXIT_OK, with
 * s->numeric_stop set when the weights are those from before a step that
 * went non-finite), or stop with an exit code. */
static int check_training(const cli_train_job *job, train_state *s, nb_status st)
{
    if (st == NB_ERR_INTERRUPTED) {
        char line[1024], shown[4 * sizeof line];
        snprintf(line, sizeof line, "interrupted at epoch %d, batch %zu; checkpoint written to %s",
                 s->result.last_epoch, s->result.last_batch, s->checkpoint);
        fprintf(stderr, "nabla %s: %s; resume with: ", CMD, nb_escape(shown, sizeof shown, line));
        const nb_comm *comm = job->config.comm;
        if (comm && comm->size > 1) fprintf(stderr, "mpirun -np %d ", comm->size);
        cli_print_resume_command(stderr, s->checkpoint, job->argc, job->argv);
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

static int evaluate(const cli_train_job *job, train_state *s)
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
    if (job->report && classes == 0 && s->raw_x) {
        /* The report plots the fitted function against the test points. */
        s->predictions = nb_calloc(s->test.count, (size_t)s->test.targets * sizeof(nb_real));
        if (!s->predictions) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "report");
        st = nb_model_predict(s->model, s->raw_x, s->test.count, s->predictions);
        if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_RUN, "predicting for the report");
    }
    return CLI_EXIT_OK;
}

/* The log is closed before the outputs are saved; a log that failed
 * during training or on closing is reported, after the model is saved. */
static int close_log(const cli_train_job *job, train_state *s, const cli_progress *p)
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
        cli_error(CMD, "cannot write log '%s' (epoch %d and later are missing): %s", job->log,
                  p->log_epoch, strerror(err ? err : EIO));
    else
        cli_error(CMD, "cannot write log '%s': %s", job->log, strerror(err ? err : EIO));
    return CLI_EXIT_OUTPUT;
}

static int run(const cli_train_job *job, train_state *s)
{
    /* Usage errors found on the way (a model that does not fit the data)
     * are reported with the command's usage line. */
    const arg_command cmd = {CMD, job->usage, NULL, NULL, 0, 0, 0};
    /* Ctrl-C stops after the current batch and saves a checkpoint here. */
    s->checkpoint = cli_checkpoint_path(job->checkpoint, job->out, &s->checkpoint_owned);
    if (!s->checkpoint) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--out");
    int rc = cli_train_check_files(&cmd, job, &s->checkpoint);
    if (rc != CLI_EXIT_OK) return rc;
    nb_set_threads(job->threads); /* 0..1024, checked by the parser */
    /* What the settings alone rule out (shards that do not divide the
     * batch, say) is a usage error before any data is read. */
    nb_train_config early = job->config;
    early.checkpoint_path = s->checkpoint;
    if (nb_train_check_config(&early) != NB_OK)
        return args_usage_error(&cmd, "%s", nb_last_error());
    if ((rc = load_data(job, s)) != CLI_EXIT_OK) return rc;
    if (job->report && (rc = keep_raw_test(s)) != CLI_EXIT_OK) return rc;
    if ((rc = scale_data(s)) != CLI_EXIT_OK) return rc;
    if ((rc = build_model(&cmd, job, s)) != CLI_EXIT_OK) return rc;
    nb_train_config config = job->config;
    if (!job->quiet) print_header(job, s);
    const char *resume = config.resume_path;
    if (resume && !job->quiet) cli_note("resuming from checkpoint %s", resume);
    /* Without a checkpoint to write, Ctrl-C keeps its default action. */
    config.checkpoint_path = s->checkpoint;
    if (s->checkpoint) config.interrupt = &cli_interrupted;
    /* A fresh run's log is replaced now, so that a log that cannot be
     * written stops the run before training. A resumed run's is replaced
     * once the checkpoint is accepted, and rewritten from the epochs the
     * checkpoint holds (cli_progress_update): never appended to, so it
     * holds every epoch once, however old the checkpoint. */
    if (job->log && !resume && nb_output_open(job->log, 0, &s->log) != NB_OK) {
        cli_error(CMD, "--log: %s", nb_last_error());
        return CLI_EXIT_OUTPUT;
    }
    cli_progress progress;
    cli_progress_init(&progress, job->quiet, s->train.classes > 0, &s->log, job->log);
    if (config.comm && config.comm->rank != 0) progress.hold_at = 0; /* rank 0's test hold */
    config.progress = cli_progress_update;
    config.progress_user = &progress;
    if (s->checkpoint) cli_catch_interrupt();
    nb_status st =
        nb_train(s->model, &s->train, s->val.count ? &s->val : NULL, &config, &s->result);
    cli_progress_finish(&progress);
    /* Under mpirun the other processes trained the same model: rank 0
     * evaluates, saves and reports; they only say what went wrong. */
    if (config.comm && config.comm->rank != 0)
        return st == NB_OK || st == NB_ERR_NUMERIC
                   ? CLI_EXIT_OK
                   : (st == NB_ERR_INTERRUPTED ? CLI_EXIT_INTERRUPTED
                                               : cli_fail(CMD, st, CLI_STAGE_RUN, NULL));
    if ((rc = check_training(job, s, st)) != CLI_EXIT_OK) return rc;
    if (!job->quiet && !s->numeric_stop)
        fprintf(stderr, "stopped after %d %s (%s), keeping epoch %d, %.2f s\n",
                s->result.epochs_run, nb_plural(s->result.epochs_run, "epoch", "epochs"),
                s->result.stop_reason ? s->result.stop_reason : "epochs", s->result.best_epoch,
                s->result.seconds);
    int log_rc = close_log(job, s, &progress);
    /* Weights that went non-finite are not evaluated; a failed evaluation
     * still saves the model it evaluated. */
    int eval_rc = s->numeric_stop ? CLI_EXIT_FAILURE : evaluate(job, s);
    int save_rc = cli_train_save_outputs(job, s);
    if (eval_rc != CLI_EXIT_OK) return eval_rc;
    if (save_rc != CLI_EXIT_OK) return save_rc;
    if (log_rc == CLI_EXIT_OK && !s->numeric_stop)
        cli_remove_ctrl_c_checkpoint(resume, job->checkpoint, s->checkpoint, job->quiet);
    return log_rc;
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

int cli_train_job_run(const cli_train_job *job)
{
    train_state s;
    memset(&s, 0, sizeof s);
    const nb_comm *comm = NULL;
    int rc = cli_parallel_start(&comm);
    if (rc == CLI_EXIT_OK) {
        /* Under mpirun only rank 0 prints and writes the log; every
         * process reads the data and trains. */
        cli_train_job mine = *job;
        mine.config.comm = comm;
        if (comm && comm->rank != 0) {
            mine.log = mine.report = NULL;
            mine.quiet = 1;
        }
        rc = run(&mine, &s);
    }
    free_state(&s);
    return cli_parallel_end(comm, rc);
}
