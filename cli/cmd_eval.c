/* nabla eval: evaluate a saved model on the test part of a data source,
 * with the model's own scaler (never refitted). */
#include "args.h"
#include "cli.h"
#include "data_opts.h"

#include <stdlib.h>
#include <string.h>

#define CMD "eval"

static const char usage[] = "nabla eval MODEL --data SOURCE [--json] [options]";

static const char help[] =
    "usage: nabla eval MODEL --data SOURCE [--json] [options]\n"
    "\n"
    "Evaluate a saved model on the test part of SOURCE. The model's saved scaler\n"
    "is applied to the data (it is never fitted again). Labels are matched to the\n"
    "model's classes by name; a label the model does not know is an error.\n"
    "\n"
    "  --data SOURCE   fashion-mnist, xor, spiral, sine, body, a folder of IDX\n"
    "                  files, or a .csv file\n"
    "  --label COL     CSV label column (default: the one used in training, else\n"
    "                  the last column)\n"
    "  --regression    the CSV label is a number (default: as in training)\n" CLI_DATA_OPTS_HELP
    "  --seed N        the 70/30 split of a CSV file or a random built-in set\n"
    "                  (default: the training seed saved in the model, so the test\n"
    "                  part is the same one)\n"
    "  --verbose       say on stderr how a CSV file was read\n"
    "  --json          print exactly one JSON object: model, data, samples, loss,\n"
    "                  accuracy, and for classifiers class_names, per_class\n"
    "                  (precision, recall, support) and confusion (rows: true class)\n"
    "\n"
    "exit codes: 0 ok, 1 evaluation failed, 2 usage, 3 data, 4 model file,\n"
    "130 interrupted.\n";

/* The training settings saved with the model give the defaults. */
static void training_defaults(const nb_model *model, const char **label, int *regression,
                              uint64_t *seed, cJSON **keep)
{
    cJSON *t = cli_model_meta_json(model, "training");
    *keep = t;
    if (!t) return;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "label");
    if (cJSON_IsString(v)) *label = v->valuestring;
    v = cJSON_GetObjectItemCaseSensitive(t, "regression");
    if (cJSON_IsTrue(v)) *regression = 1;
    v = cJSON_GetObjectItemCaseSensitive(t, "seed");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) *seed = (uint64_t)v->valuedouble;
    if (cJSON_IsString(v)) *seed = strtoull(v->valuestring, NULL, 10);
}

typedef struct eval_data_opts {
    char delimiter;
    int header, verbose;
} eval_data_opts;

static int run(const arg_command *cmd, const char *path, const char *source, const char *label,
               int regression, uint64_t seed, int seed_seen, int json, const eval_data_opts *d)
{
    nb_model *model = NULL;
    int rc = cli_load_model(CMD, path, &model);
    if (rc != CLI_EXIT_OK) return rc;
    cJSON *training = NULL;
    const char *saved_label = NULL;
    int saved_regression = 0;
    uint64_t saved_seed = 1;
    training_defaults(model, &saved_label, &saved_regression, &saved_seed, &training);
    if (!label) label = saved_label;
    if (!regression) regression = saved_regression;
    if (!seed_seen) seed = saved_seed;
    (void)cmd;

    nb_dataset train = {0}, test = {0};
    nb_metrics metrics;
    int have_metrics = 0;
    char **names = NULL;
    int inputs = nb_model_inputs(model), outputs = nb_model_outputs(model);
    int classifier = nb_model_is_classifier(model);
    int limit = classifier && outputs == 1 ? 2 : outputs; /* bce: one logit, 2 classes */
    nb_data_info info = {.label_column = -1};
    /* The test labels are matched to the model's classes, by name. */
    names = classifier ? cli_model_class_names(model, limit) : NULL;
    nb_csv_options csv = {.label = label,
                          .header = d->header,
                          .regression = regression,
                          .delimiter = d->delimiter,
                          .class_names = names,
                          .classes = classifier && !regression ? limit : 0,
                          .features = inputs,
                          .info = &info};
    nb_status st = nb_data_open(source, &csv, seed, &train, &test);
    nb_dataset_free(&train);
    if (st != NB_OK) {
        char what[512];
        snprintf(what, sizeof what, "data '%.400s'", source);
        rc = cli_fail(CMD, st, st == NB_ERR_ARGUMENT ? CLI_STAGE_USAGE : CLI_STAGE_DATA,
                      strstr(nb_last_error(), source) ? NULL : what);
        goto done;
    }
    if (d->verbose) cli_print_data_info(stderr, source, &info);
    if (test.features != inputs) {
        cli_error(CMD, "data '%s' has %d features, but model '%s' takes %d inputs", source,
                  test.features, path, inputs);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    if (test.count == 0) {
        cli_error(CMD, "data '%s' has no test part to evaluate on", source);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    if (classifier && (test.classes == 0 || test.classes > limit)) {
        if (test.classes == 0)
            cli_error(CMD, "data '%s' has numeric targets, but model '%s' is a classifier", source,
                      path);
        else
            cli_error(CMD, "data '%s' has %d classes, but model '%s' has %d outputs", source,
                      test.classes, path, outputs);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    if (!classifier && test.classes == 0 && test.targets != outputs) {
        cli_error(CMD, "data '%s' has %d targets, but model '%s' has %d outputs", source,
                  test.targets, path, outputs);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    const nb_scaler *scaler = nb_model_scaler(model);
    if (scaler && scaler->kind != NB_SCALE_NONE) nb_scaler_apply(scaler, test.x, test.count);
    /* Targets as the model learnt them; the metrics come back in their units. */
    if (test.classes == 0) nb_scaler_apply(nb_model_target_scaler(model), test.y, test.count);
    cli_catch_interrupt();
    st = nb_evaluate(model, &test, &metrics);
    if (st != NB_OK) {
        rc = cli_fail(CMD, st, CLI_STAGE_RUN, "evaluating");
        goto done;
    }
    have_metrics = 1;
    if (json) {
        cJSON *j = cli_metrics_json(&metrics, names);
        char *text = NULL;
        if (j) {
            cJSON_AddStringToObject(j, "model", path);
            cJSON_AddStringToObject(j, "data", source);
            text = cJSON_PrintUnformatted(j);
        }
        cJSON_Delete(j);
        if (!text) {
            rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "JSON output");
            goto done;
        }
        puts(text);
        free(text);
    } else {
        printf("model %s on %s\n", path, source);
        cli_metrics_print(stdout, &metrics, names);
    }
    cli_metrics_warn(CMD, &metrics);
    if (fflush(stdout) != 0) rc = CLI_EXIT_OUTPUT;
done:
    nb_free(names);
    if (have_metrics) nb_metrics_free(&metrics);
    nb_dataset_free(&test);
    cJSON_Delete(training);
    nb_model_free(model);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *data = NULL, *label = NULL, *delimiter = NULL, *header = NULL;
    int json = 0, regression = 0;
    eval_data_opts d = {0, -1, 0};
    uint64_t seed = 1;
    arg_option options[] = {
        {"data", ARG_STRING, &data, 0, 0, 0},
        {"label", ARG_STRING, &label, 0, 0, 0},
        {"regression", ARG_FLAG, &regression, 0, 0, 0},
        {"seed", ARG_U64, &seed, 0, 0, 0},
        {"json", ARG_FLAG, &json, 0, 0, 0},
        {"delimiter", ARG_STRING, &delimiter, 0, 0, 0},
        {"header", ARG_STRING, &header, 0, 0, 0},
        {"verbose", ARG_FLAG, &d.verbose, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 1};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (n < 1) return args_usage_error(&cmd, "missing MODEL file");
    if (!data) return args_usage_error(&cmd, "missing --data SOURCE");
    if (delimiter && cli_parse_delimiter(delimiter, &d.delimiter) != 0)
        return args_usage_error(&cmd, "--delimiter: '%s' is not one byte, tab or auto", delimiter);
    if (header && cli_parse_header(header, &d.header) != 0)
        return args_usage_error(&cmd, "--header: '%s' is not yes, no or auto", header);
    return run(&cmd, positional[0], data, label, regression, seed, args_seen(&cmd, "seed"), json,
               &d);
}
