/* nabla eval: evaluate a saved model on the test part of a data source
 * (or all of it),
 * with the model's own scaler (never refitted). */
#include "args.h"
#include "cli.h"
#include "data_opts.h"
#include "internal.h"
#include "io/graph_json.h"

#include <stdlib.h>
#include <string.h>

#define CMD "eval"

static const char usage[] = "nabla eval MODEL --data SOURCE [--json] [options]";

static const char help[] =
    "usage: nabla eval MODEL --data SOURCE [--json] [options]\n"
    "\n"
    "Evaluate a saved model on a part of SOURCE. The model's saved scaler is\n"
    "applied to the data (it is never fitted again). By default the part is the\n"
    "model's own test part when SOURCE gives the very samples it was tested on\n"
    "(train saves their fingerprint; the path and folder do not matter), else\n"
    "every row of a CSV file, or the test part of a built-in set or IDX folder.\n"
    "The output says which part and why. Labels are matched to the model's\n"
    "classes by name (integer labels 0..K-1 by index when the class names are not\n"
    "numbers); a label the model does not know is an error. Batches are as in\n"
    "training (as far as NB_MAX_ACTIVATIONS allows: a note says when not), so on\n"
    "its own test part the metrics equal those saved with it.\n"
    "\n"
    "  --data SOURCE   fashion-mnist, xor, spiral, sine, body, a folder of IDX\n"
    "                  files, or a CSV file of any name (the content decides;\n"
    "                  - reads standard input)\n"
    "  --part P        test (the seeded or fixed test part) or all (every sample:\n"
    "                  a CSV file in file order, both parts of an IDX folder)\n"
    "                  (default: see above)\n"
    "  --label COL     CSV label column (default: the one used in training, else\n"
    "                  the last column)\n"
    "  --regression    the CSV label is a number (default: yes unless the model is\n"
    "                  a classifier; a usage error for a classifier model)\n" CLI_DATA_OPTS_HELP
    "  --seed N        the 70/30 split of a CSV file or a random built-in set\n"
    "                  (default: the training seed saved in the model, so the test\n"
    "                  part is the same one); not for fixed parts (xor,\n"
    "                  fashion-mnist, an IDX folder) or --part all on a CSV file\n"
    "  --verbose       say on stderr how a CSV file was read\n"
    "  --json          print exactly one JSON object: the metrics object saved with\n"
    "                  the model (samples, loss, accuracy; mae, rmse, r2 for\n"
    "                  regression; classes, class_names, per_class and confusion\n"
    "                  for classifiers) plus model, data and part\n"
    "\n"
    "exit codes: 0 ok, 1 evaluation failed, 2 usage, 3 data, 4 model file,\n"
    "130 interrupted.\n";

typedef struct eval_opts {
    const char *source, *label, *part;
    const char *why; /* why this part, when not asked for with --part; or NULL */
    char delimiter;
    int header, verbose, regression, json, seed_seen;
    uint64_t seed;
} eval_opts;

/* Options that cannot apply. */
static int check_opts(const arg_command *cmd, const char *path, const nb_model *model,
                      const eval_opts *o)
{
    int classifier = nb_model_is_classifier(model);
    if (o->regression && classifier) {
        int outputs = nb_model_outputs(model);
        return args_usage_error(cmd, "--regression: model %s is a classifier (%d classes)", path,
                                outputs == 1 ? 2 : outputs);
    }
    if (o->seed_seen && !nb_data_seeded(o->source))
        return args_usage_error(cmd, "--seed: the parts of %s are fixed (%s), not split by a seed",
                                o->source,
                                strcmp(o->source, "xor") == 0 ? "all four points in each"
                                                              : "by its train and t10k files");
    if (o->seed_seen && o->part && strcmp(o->part, "all") == 0 &&
        (nb_data_source_kind(o->source) == NB_SOURCE_FILE))
        return args_usage_error(cmd, "--seed: --part all reads every row of %s, unsplit",
                                o->source);
    return CLI_EXIT_OK;
}

/* Whether test holds the samples the model was tested on: train saved the
 * fingerprint of its test part as read (before scaling). */
static int own_test_part(const nb_training_record *saved, const nb_dataset *test)
{
    return saved->has_test_fingerprint && saved->test_fingerprint == nb_dataset_fingerprint(test);
}

/* The part --part asks for; without it, the model's own test part when the
 * seeded test part of the source is the one it was tested on (whatever the
 * path or folder), else every row of a data file, or the fixed or seeded
 * test part of a built-in set or IDX folder. o->part and o->why say which
 * and why. */
static nb_status open_part(eval_opts *o, const nb_csv_options *csv, uint64_t seed,
                           const nb_training_record *saved, nb_dataset *test)
{
    if (o->part && strcmp(o->part, "all") == 0) return nb_data_open_all(o->source, csv, seed, test);
    nb_dataset train;
    nb_status st = nb_data_open(o->source, csv, seed, &train, test);
    nb_dataset_free(&train);
    if (o->part) return st;
    o->part = "test";
    if (st == NB_OK && own_test_part(saved, test)) {
        o->why = "the model's own test part";
        return st;
    }
    const char *other = saved->has_test_fingerprint ? "not the data the model was tested on"
                                                    : "the model records no test part to compare";
    /* A seed asks for a split: the seeded test part of a data file too. */
    if (!(nb_data_source_kind(o->source) == NB_SOURCE_FILE) || o->seed_seen) {
        if (st == NB_OK) o->why = other;
        return st;
    }
    nb_dataset_free(test);
    o->part = "all";
    o->why = other;
    return nb_data_open_all(o->source, csv, seed, test);
}

/* The data, its labels checked against the model's classes. */
static int check_data(const char *path, const char *source, const nb_model *model,
                      const nb_dataset *test)
{
    int outputs = nb_model_outputs(model);
    int classifier = nb_model_is_classifier(model);
    int limit = classifier && outputs == 1 ? 2 : outputs; /* bce: one logit, 2 classes */
    if (nb_model_check_sample_shape(model, nb_dataset_sample_shape(test)) != NB_OK) {
        cli_error(CMD, "data '%s' does not fit model '%s': %s", source, path, nb_last_error());
        return CLI_EXIT_DATA;
    }
    if (test->count == 0) {
        cli_error(CMD, "data '%s' has no test part to evaluate on", source);
        return CLI_EXIT_DATA;
    }
    if (classifier && test->classes == 0) {
        cli_error(CMD, "data '%s' has numeric targets, but model '%s' is a classifier", source,
                  path);
        return CLI_EXIT_DATA;
    }
    if (classifier && test->classes > limit) {
        cli_error(CMD, "data '%s' has %d classes, but model '%s' has %d outputs", source,
                  test->classes, path, outputs);
        return CLI_EXIT_DATA;
    }
    if (!classifier && test->classes == 0 && test->targets != outputs) {
        cli_error(CMD, "data '%s' has %d %s, but model '%s' has %d %s", source, test->targets,
                  nb_plural(test->targets, "target", "targets"), path, outputs,
                  nb_plural(outputs, "output", "outputs"));
        return CLI_EXIT_DATA;
    }
    return CLI_EXIT_OK;
}

static int print_metrics(const char *path, const eval_opts *o, const nb_metrics *metrics,
                         char *const *names)
{
    if (o->json) {
        cJSON *j = cli_metrics_json(metrics, names);
        char *text = NULL;
        if (j) {
            cJSON_AddStringToObject(j, "model", path);
            cJSON_AddStringToObject(j, "data", o->source);
            cJSON_AddStringToObject(j, "part", o->part);
            text = cli_json_text(j);
        }
        cJSON_Delete(j);
        if (!text) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "JSON output");
        puts(text);
        nb_free(text);
    } else {
        int all = strcmp(o->part, "all") == 0;
        int own = o->why && strcmp(o->why, "the model's own test part") == 0;
        char qp[1024], qs[1024];
        printf("model %s on %s (%s: %zu sample%s%s%s)\n", nb_escape(qp, sizeof qp, path),
               nb_escape(qs, sizeof qs, o->source),
               all   ? "every row"
               : own ? o->why
                     : "the test part",
               metrics->samples, metrics->samples == 1 ? "" : "s", o->why && !own ? "; " : "",
               o->why && !own ? o->why : "");
        cli_metrics_print_part(stdout, all ? "all" : "test", metrics, names);
    }
    cli_metrics_warn(CMD, metrics);
    return fflush(stdout) != 0 ? CLI_EXIT_OUTPUT : CLI_EXIT_OK;
}

static int run(const arg_command *cmd, const char *path, eval_opts *o)
{
    nb_model *model = NULL;
    int rc = cli_load_model(CMD, path, &model);
    if (rc != CLI_EXIT_OK) return rc;
    /* The training settings saved with the model give the defaults. */
    nb_training_record saved;
    nb_model_training_record(model, &saved);
    nb_dataset test = {0};
    nb_metrics metrics;
    int have_metrics = 0;
    char **names = NULL;
    if ((rc = check_opts(cmd, path, model, o)) != CLI_EXIT_OK) goto done;
    int inputs = nb_model_inputs(model), outputs = nb_model_outputs(model);
    int classifier = nb_model_is_classifier(model);
    int limit = classifier && outputs == 1 ? 2 : outputs; /* bce: one logit, 2 classes */
    /* The model decides, not its record (an edited one may say otherwise):
     * a classifier's labels are classes, any other model fits numbers. */
    int regression = o->regression || !classifier;
    nb_data_info info = {.label_column = -1};
    /* The test labels are matched to the model's classes, by name. */
    names = classifier ? cli_model_class_names(model, limit) : NULL;
    const char *saved_label = saved.label[0] ? saved.label : NULL;
    nb_csv_options csv = {.label = o->label ? o->label : saved_label,
                          .header = o->header,
                          .regression = regression,
                          .delimiter = o->delimiter,
                          .class_names = names,
                          .classes = classifier && !regression ? limit : 0,
                          .features = inputs,
                          .info = &info,
                          .label_saved = !o->label && saved_label,
                          .regression_saved = !o->regression};
    uint64_t seed = o->seed_seen ? o->seed : saved.has_seed ? saved.seed : 1;
    nb_status st = open_part(o, &csv, seed, &saved, &test);
    if (st != NB_OK) {
        char what[512];
        snprintf(what, sizeof what, "data '%.400s'", o->source);
        rc = cli_fail(CMD, st, st == NB_ERR_ARGUMENT ? CLI_STAGE_USAGE : CLI_STAGE_DATA,
                      strstr(nb_last_error(), o->source) ? NULL : what);
        goto done;
    }
    if (o->verbose) cli_print_data_info(stderr, o->source, &info);
    if ((rc = check_data(path, o->source, model, &test)) != CLI_EXIT_OK) goto done;
    const nb_scaler *scaler = nb_model_scaler(model);
    if (scaler && scaler->kind != NB_SCALE_NONE) nb_scaler_apply(scaler, test.x, test.count);
    /* Targets as the model learnt them; the metrics come back in their units. */
    if (test.classes == 0) nb_scaler_apply(nb_model_target_scaler(model), test.y, test.count);
    /* The batch train evaluated with: the saved metrics to the last bit;
     * but no larger than its activations allow (the file says the batch,
     * so the file would choose the memory). */
    if (saved.batch > 0) {
        /* A batch past the samples is one batch of them all, as it is. */
        int want = (size_t)saved.batch > test.count ? (int)test.count : saved.batch;
        int batch = nb_model_batch_within(model, want, NB_MAX_ACTIVATIONS);
        if (batch < want)
            cli_error(CMD,
                      "note: evaluating in batches of %d, smaller than in training (%d): a batch "
                      "of %d would take more than %d activation values (NB_MAX_ACTIVATIONS); the "
                      "metrics may differ from the saved ones in the last digits",
                      batch, saved.batch, want, NB_MAX_ACTIVATIONS);
        if ((st = nb_model_set_batch(model, batch)) != NB_OK) {
            rc = cli_fail(CMD, st, CLI_STAGE_RUN, "compiling for the training batch");
            goto done;
        }
    }
    cli_catch_interrupt();
    st = nb_evaluate(model, &test, &metrics);
    if (st != NB_OK) {
        char what[512];
        snprintf(what, sizeof what, "evaluating on '%.400s'", o->source);
        rc = cli_fail_model(CMD, st, CLI_STAGE_RUN, what, model);
        goto done;
    }
    have_metrics = 1;
    rc = print_metrics(path, o, &metrics, names);
done:
    nb_free(names);
    if (have_metrics) nb_metrics_free(&metrics);
    nb_dataset_free(&test);
    nb_model_free(model);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *delimiter = NULL, *header = NULL;
    eval_opts o = {.header = -1, .seed = 1};
    arg_option options[] = {
        {"data", ARG_STRING, &o.source, 0, 0, 0},
        {"label", ARG_STRING, &o.label, 0, 0, 0},
        {"regression", ARG_FLAG, &o.regression, 0, 0, 0},
        {"part", ARG_STRING, &o.part, 0, 0, 0},
        {"seed", ARG_U64, &o.seed, 0, 0, 0},
        {"json", ARG_FLAG, &o.json, 0, 0, 0},
        {"delimiter", ARG_STRING, &delimiter, 0, 0, 0},
        {"header", ARG_STRING, &header, 0, 0, 0},
        {"verbose", ARG_FLAG, &o.verbose, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 1};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (n < 1) return args_usage_error(&cmd, "missing MODEL file");
    if (!o.source) return args_usage_error(&cmd, "missing --data SOURCE");
    if (o.part && strcmp(o.part, "test") != 0 && strcmp(o.part, "all") != 0)
        return args_usage_error(&cmd, "--part: '%s' is not test or all", o.part);
    if (delimiter && cli_parse_delimiter(delimiter, &o.delimiter) != 0)
        return args_usage_error(&cmd, "--delimiter: %s", cli_delimiter_problem(delimiter));
    if (header && cli_parse_header(header, &o.header) != 0)
        return args_usage_error(&cmd, "--header: '%s' is not yes, no or auto", header);
    o.seed_seen = args_seen(&cmd, "seed");
    return run(&cmd, positional[0], &o);
}
