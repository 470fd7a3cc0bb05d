/* nabla predict: class probabilities (or regression values) for rows of
 * raw features from a CSV file, or for the images of an IDX file, read
 * through the library's feature reader and printed as they are read. */
#include "args.h"
#include "cli.h"

#include "data_opts.h"

#include <stdlib.h>
#include <string.h>

#define CMD "predict"

static const char usage[] = "nabla predict MODEL --input FILE [--top K] [--json] [options]";

static const char help[] =
    "usage: nabla predict MODEL --input FILE [--top K] [--json] [options]\n"
    "\n"
    "Predict for every row of FILE. The model's saved scaler is applied first, so\n"
    "the rows hold raw features, as in the training data. Rows are read, predicted\n"
    "and printed in chunks, so any number of rows fits in memory.\n"
    "\n"
    "  --input FILE    CSV text with one column per model input (or one more: a\n"
    "                  label column, which is skipped), or an IDX images file\n"
    "                  (idx3-ubyte) for a model trained on images; plain or gzip,\n"
    "                  told apart by content; - reads standard input\n"
    "  --label COL     the label column to skip (a header name or a 0-based index;\n"
    "                  default: the training label column, else the last "
    "column)\n" CLI_DATA_OPTS_HELP
    "  --top K         classes shown per row, most probable first (default 3,\n"
    "                  at most 64)\n"
    "  --json          print one JSON object: {\"predictions\": [{\"row\", \"top\":\n"
    "                  [{\"class\", \"index\", \"probability\"}]} or {\"row\",\n"
    "                  \"values\"}]} (\"score\" for \"probability\" when a regression\n"
    "                  loss was trained on classes: its outputs are not probabilities)\n"
    "  --verbose       say on stderr how FILE was read (format, delimiter, header)\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 usage, 3 input file, 4 model file.\n";

/* Indices of the k largest of p[0..n), largest first. */
static void top_k(const nb_real *p, int n, int k, int *out)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < j; q++) taken |= out[q] == i;
            if (!taken && (best < 0 || p[i] > p[best])) best = i;
        }
        out[j] = best;
    }
}

/* softmax_ce and bce give probabilities; a regression loss trained on
 * one-hot classes gives scores (argmax is the class). */
static int probabilities(const nb_model *model)
{
    return nb_model_loss_info(model).probabilities;
}

#define CHUNK_ROWS 256 /* rows read, predicted and printed at a time, */
/* ... fewer when a chunk's inputs and outputs would hold more values than
 * this (4 Mi: 16 MiB in the float build), so that a model of many inputs
 * or outputs does not make predict's buffers large; at least one row. */
#define CHUNK_VALUES (1 << 22)

static size_t chunk_rows(const nb_model *model)
{
    size_t per_row = (size_t)nb_model_inputs(model) + (size_t)nb_model_outputs(model);
    size_t rows = per_row > 0 ? CHUNK_VALUES / per_row : CHUNK_ROWS;
    return rows < 1 ? 1 : rows > CHUNK_ROWS ? CHUNK_ROWS : rows;
}

/* One row's answer: text, or one JSON object. */
static int print_row(const nb_model *model, size_t row, const nb_real *p, int top, int json,
                     int first)
{
    int outputs = nb_model_outputs(model);
    int classifier = nb_model_is_classifier(model);
    /* bce has one output, the probability of class 1. */
    int classes = classifier ? (outputs == 1 ? 2 : outputs) : 0;
    int k = top < classes ? top : classes;
    nb_real two[2];
    int idx[64];
    char buf[32];
    if (k > 64) k = 64;
    cJSON *item = json ? cJSON_CreateObject() : NULL;
    if (json) {
        if (!item) return -1;
        cJSON_AddNumberToObject(item, "row", (double)row);
    } else {
        printf("row %zu:", row);
    }
    if (!classifier) {
        cJSON *values = json ? cJSON_AddArrayToObject(item, "values") : NULL;
        for (int i = 0; i < outputs; i++) {
            if (json)
                cJSON_AddItemToArray(values, cJSON_CreateNumber(p[i]));
            else
                printf(" %.6g", (double)p[i]);
        }
    } else {
        if (outputs == 1) {
            two[0] = 1 - p[0], two[1] = p[0];
            p = two;
        }
        top_k(p, classes, k, idx);
        cJSON *tops = json ? cJSON_AddArrayToObject(item, "top") : NULL;
        for (int j = 0; j < k; j++) {
            const char *name = nb_model_class_name(model, idx[j]);
            if (!name) snprintf(buf, sizeof buf, "%d", idx[j]), name = buf;
            if (json) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "class", name);
                cJSON_AddNumberToObject(e, "index", idx[j]);
                cJSON_AddNumberToObject(e, probabilities(model) ? "probability" : "score",
                                        p[idx[j]]);
                cJSON_AddItemToArray(tops, e);
            } else {
                printf("%s %s %.4f", j ? "," : "", name, (double)p[idx[j]]);
            }
        }
    }
    if (!json) {
        putchar('\n');
        return 0;
    }
    char *text = cli_json_text(item);
    cJSON_Delete(item);
    if (!text) return -1;
    printf("%s%s", first ? "" : ",", text);
    nb_free(text);
    return 0;
}

/* A chunk failed, and the library names the sample within the chunk:
 * predict its rows one at a time, printing them as usual, and name the
 * first that fails as the output counts rows (1-based over the input). */
static int report_bad_row(nb_model *model, const nb_real *x, size_t rows, size_t *done,
                          nb_real *out, int top, int json, nb_status st)
{
    size_t inputs = (size_t)nb_model_inputs(model);
    for (size_t r = 0; st == NB_ERR_NUMERIC && r < rows; r++, ++*done) {
        nb_status one = nb_model_predict(model, x + r * inputs, 1, out);
        if (one != NB_OK) {
            char what[64];
            snprintf(what, sizeof what, "row %zu", *done + 1);
            return cli_fail_model(CMD, one, CLI_STAGE_RUN, what, model);
        }
        if (print_row(model, *done + 1, out, top, json, *done == 0) != 0)
            return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "JSON output");
    }
    return cli_fail_model(CMD, st, CLI_STAGE_RUN, NULL, model);
}

/* Read, predict and print chunk_rows rows at a time: memory stays the same
 * however many rows the input has. */
static int stream(nb_model *model, nb_feature_reader *reader, const char *input, int top, int json)
{
    int inputs = nb_model_inputs(model), outputs = nb_model_outputs(model);
    size_t chunk = chunk_rows(model);
    nb_real *x = nb_calloc(chunk, (size_t)inputs * sizeof *x);
    nb_real *out = nb_calloc(chunk, (size_t)outputs * sizeof *out);
    int rc = CLI_EXIT_OK;
    size_t done = 0;
    if (!x || !out) {
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "predicting");
        goto end;
    }
    if (json) fputs("{\"predictions\":[", stdout);
    for (;;) {
        size_t rows;
        nb_status st = nb_feature_reader_read(reader, x, chunk, &rows);
        if (st != NB_OK) {
            rc = cli_fail(CMD, st, CLI_STAGE_DATA, strstr(nb_last_error(), input) ? NULL : input);
            break;
        }
        if (rows == 0) break;
        if ((st = nb_model_predict(model, x, rows, out)) != NB_OK) {
            rc = report_bad_row(model, x, rows, &done, out, top, json, st);
            break;
        }
        for (size_t r = 0; r < rows; r++, done++)
            if (print_row(model, done + 1, out + r * (size_t)outputs, top, json, done == 0) != 0) {
                rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "JSON output");
                goto end;
            }
        if (ferror(stdout)) break;
    }
    if (rc == CLI_EXIT_OK && done == 0) {
        cli_error(CMD, "input '%s' has no rows", input);
        rc = CLI_EXIT_DATA;
    }
    /* A failed run leaves the JSON unclosed: nobody takes it for whole. */
    if (json && rc == CLI_EXIT_OK) fputs("]}\n", stdout);
end:
    nb_free(x);
    nb_free(out);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CLI_EXIT_OK) cli_error(CMD, "cannot write the predictions");
        if (rc == CLI_EXIT_OK) rc = CLI_EXIT_OUTPUT;
    }
    return rc;
}

static int run(const arg_command *cmd, const char *path, const char *input, const char *label,
               char delimiter, int header, int top, int json, int verbose)
{
    nb_model *model = NULL;
    int rc = cli_load_model(CMD, path, &model);
    if (rc != CLI_EXIT_OK) return rc;
    if (args_seen(cmd, "top") && !nb_model_is_classifier(model)) {
        int outputs = nb_model_outputs(model);
        nb_model_free(model);
        return args_usage_error(cmd,
                                "--top: model %s is a regression model (%d output%s, no "
                                "classes)",
                                path, outputs, outputs == 1 ? "" : "s");
    }
    nb_training_record saved;
    nb_model_training_record(model, &saved);
    nb_data_info info = {.label_column = -1};
    nb_csv_options csv = {
        .label = label            ? label
                 : saved.label[0] ? saved.label
                                  : NULL,
        .header = header,
        .delimiter = delimiter,
        .info = &info,
        .label_saved = !label && saved.label[0],
    };
    nb_feature_reader *reader = NULL;
    nb_status st = nb_feature_reader_open(input, &csv, nb_model_inputs(model), &reader);
    if (st != NB_OK) {
        rc = cli_fail(CMD, st, st == NB_ERR_ARGUMENT ? CLI_STAGE_USAGE : CLI_STAGE_DATA,
                      strstr(nb_last_error(), input) ? NULL : input);
    } else if ((st = nb_model_check_sample_shape(model, nb_feature_reader_sample_shape(reader))) !=
               NB_OK) {
        rc = cli_fail(CMD, st, CLI_STAGE_DATA, input);
    } else {
        if (verbose) cli_print_data_info(stderr, input, &info);
        rc = stream(model, reader, input, top, json);
    }
    nb_feature_reader_close(reader);
    nb_model_free(model);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    const char *input = NULL, *label = NULL, *delimiter = NULL, *header = NULL;
    int top = 3, json = 0, verbose = 0;
    arg_option options[] = {
        {"input", ARG_STRING, &input, 0, 0, 0},
        {"label", ARG_STRING, &label, 0, 0, 0},
        {"delimiter", ARG_STRING, &delimiter, 0, 0, 0},
        {"header", ARG_STRING, &header, 0, 0, 0},
        {"top", ARG_INT, &top, 1, 64, 0},
        {"json", ARG_FLAG, &json, 0, 0, 0},
        {"verbose", ARG_FLAG, &verbose, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 1};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (n < 1) return args_usage_error(&cmd, "missing MODEL file");
    if (!input) return args_usage_error(&cmd, "missing --input FILE");
    char delim = 0;
    int head = -1;
    if (delimiter && cli_parse_delimiter(delimiter, &delim) != 0)
        return args_usage_error(&cmd, "--delimiter: %s", cli_delimiter_problem(delimiter));
    if (header && cli_parse_header(header, &head) != 0)
        return args_usage_error(&cmd, "--header: '%s' is not yes, no or auto", header);
    return run(&cmd, positional[0], input, label, delim, head, top, json, verbose);
}
