/* The outputs of a training run (see train_job_internal.h): the settings
 * and metrics in the model's metadata, the model file and the report. */
#include "cli.h"
#include "report.h"
#include "train_job_internal.h"

#include <stdlib.h>

#define CMD "train"

/* The settings as JSON, saved as the model's "training" metadata and shown
 * in the report. */
static char *settings_json(const cli_train_job *job, const train_state *s)
{
    const nb_train_config *cfg = &job->config;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "data", job->data);
    if (job->label || s->label[0])
        cJSON_AddStringToObject(j, "label", job->label ? job->label : s->label);
    if (job->regression) cJSON_AddBoolToObject(j, "regression", 1);
    cJSON_AddStringToObject(j, "model", job->spec);
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
    /* cJSON prints a number with 15 significant digits when that reads
     * back within a rounding of it, so a seed past 10^15 may not come back
     * exactly: keep it as text then. */
    if (cfg->seed < 1000000000000000ull) {
        cJSON_AddNumberToObject(j, "seed", (double)cfg->seed);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)cfg->seed);
        cJSON_AddStringToObject(j, "seed", buf);
    }
    cJSON_AddStringToObject(j, "schedule", nb_schedule_name(cfg->schedule));
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
    cJSON_AddNumberToObject(j, "val", job->val);
    cJSON_AddStringToObject(j, "scale", nb_scale_name(s->scale));
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

/* The settings and metrics, saved in the model's metadata. */
static int set_metadata(const cli_train_job *job, train_state *s)
{
    s->settings = settings_json(job, s);
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

#define MAP_IMAGES 4 /* test images whose first feature maps the report shows */

/* The model's first convolution for the report: its weights, and its
 * outputs for the first test images (*maps, to free). An exit code. */
static int view_first_conv(train_state *s, cli_conv_view *v, nb_real **maps)
{
    nb_graph *g = nb_model_graph(s->model);
    nb_node conv = nb_graph_find_op(g, "conv2d", 0);
    *maps = NULL;
    if (conv == NB_NONE) return CLI_EXIT_OK;
    nb_node w = nb_node_input(g, conv, 1);
    v->filters = nb_node_value(g, w);
    v->filters_shape = nb_node_shape(g, w);
    nb_shape out = nb_node_shape(g, conv);
    size_t images = s->test.count < MAP_IMAGES ? s->test.count : MAP_IMAGES;
    if (!s->raw_x || images == 0 || out.ndim != 4) return CLI_EXIT_OK;
    size_t per_image = nb_shape_count(out) / (size_t)out.dim[0];
    *maps = nb_calloc(images * per_image, sizeof **maps);
    if (!*maps) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_OUTPUT, "report: feature maps");
    nb_status st = nb_model_node_values(s->model, conv, s->raw_x, images, *maps);
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_OUTPUT, "report");
    v->maps = *maps;
    v->maps_shape = nb_shape3(out.dim[1], out.dim[2], out.dim[3]);
    v->map_images = (int)images;
    return CLI_EXIT_OK;
}

static int write_report(const cli_train_job *job, train_state *s)
{
    cli_conv_view conv = {0};
    nb_real *maps;
    int rc = view_first_conv(s, &conv, &maps);
    if (rc != CLI_EXIT_OK) {
        nb_free(maps);
        return rc;
    }
    size_t params = 0;
    nb_graph_params(nb_model_graph(s->model), &params);
    char **names = cli_model_class_names(s->model, s->test.classes);
    cli_report r = {
        .data_source = job->data,
        .spec = job->spec,
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
        .conv = conv.filters ? &conv : NULL,
    };
    nb_status st = cli_report_write(&r, job->report);
    nb_free(names);
    nb_free(maps);
    if (st != NB_OK) return cli_fail(CMD, st, CLI_STAGE_OUTPUT, NULL);
    if (!job->quiet) cli_note("report written to %s", job->report);
    return CLI_EXIT_OK;
}

int cli_train_save_outputs(const cli_train_job *job, train_state *s)
{
    int rc = set_metadata(job, s);
    if (rc != CLI_EXIT_OK) return rc;
    if (job->out) {
        nb_status st = nb_model_save(s->model, job->out);
        if (st != NB_OK)
            rc = cli_fail(CMD, st, CLI_STAGE_OUTPUT, NULL);
        else if (s->numeric_stop)
            fprintf(stderr,
                    "nabla %s: the weights from before the failing step were saved to %s "
                    "(training.stop_reason \"numeric error\")\n",
                    CMD, job->out);
        else if (!job->quiet)
            cli_note("model saved to %s", job->out);
    }
    if (job->report) {
        int report_rc = write_report(job, s);
        if (rc == CLI_EXIT_OK) rc = report_rc;
    }
    return rc;
}
