/* nabla predict: class probabilities (or regression values) for rows of
 * raw features from a CSV file, or for the images of an IDX file. */
#include "args.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CMD "predict"

static const char usage[] = "nabla predict MODEL --input FILE [--top K] [--json] [options]";

static const char help[] =
    "usage: nabla predict MODEL --input FILE [--top K] [--json] [options]\n"
    "\n"
    "Predict for every row of FILE. The model's saved scaler is applied first, so\n"
    "the rows hold raw features, as in the training data.\n"
    "\n"
    "  --input FILE    a CSV file of feature rows (a header row is detected when\n"
    "                  its first cell is not a number), or an IDX image file\n"
    "                  (idx3-ubyte, plain or .gz) for a model trained on images\n"
    "  --label COL     a CSV column to ignore (a header name or a 0-based index);\n"
    "                  the training label column is ignored by name when present\n"
    "  --top K         classes shown per row, most probable first (default 3,\n"
    "                  at most 64)\n"
    "  --json          print one JSON object: {\"predictions\": [{\"row\", \"top\":\n"
    "                  [{\"class\", \"index\", \"probability\"}]} or {\"row\",\n"
    "                  \"values\"}]}\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 usage, 3 input file, 4 model file.\n";

/* Rows of raw features read from a file. */
typedef struct table {
    size_t rows;
    int cols;
    nb_real *x;
} table;

/* Trim spaces and one pair of double quotes, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

static int parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return s[0] && !*end && errno != ERANGE && isfinite(*out);
}

/* Split line at ',' into at most max cells; the count, or max + 1 when
 * there are more. */
static int split(char *line, char **cells, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (n < max) cells[n] = trim(p);
        n++;
        if (!comma || n > max) break;
        p = comma + 1;
    }
    return n;
}

static int grow(table *t, size_t *cap)
{
    if (t->rows < *cap) return 1;
    size_t want = *cap ? *cap * 2 : 64;
    if (want > NB_MAX_SAMPLES) want = NB_MAX_SAMPLES;
    if (t->rows >= want) return 0;
    nb_real *x = nb_realloc(t->x, want * (size_t)t->cols * sizeof *x);
    if (!x) return 0;
    t->x = x;
    *cap = want;
    return 1;
}

/* Read a CSV of inputs features per row, dropping one column: drop_name
 * (by header) or drop_index (>= 0). */
static int read_csv(const char *path, int inputs, const char *label, const char *saved_label,
                    table *t)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error(CMD, "cannot open input '%s': %s", path, strerror(errno));
        return CLI_EXIT_DATA;
    }
    char *line = NULL, **cells = NULL;
    size_t line_cap = 0, cap = 0;
    int max = inputs + 2, drop = -1, width = -1, rc = CLI_EXIT_OK;
    long line_no = 0;
    cells = nb_calloc((size_t)max, sizeof *cells);
    t->cols = inputs;
    ssize_t len;
    if (!cells) {
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "reading input");
        goto done;
    }
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        if (len > NB_MAX_LINE) {
            cli_error(CMD, "%s:%ld: line longer than %d bytes", path, line_no, NB_MAX_LINE);
            rc = CLI_EXIT_DATA;
            goto done;
        }
        char *s = trim(line);
        if (!s[0]) continue;
        int n = split(line, cells, max);
        if (n > max) n = max;
        double v;
        if (width < 0) {
            width = n;
            /* A first row with a non-number is a header. */
            int header = 0;
            for (int i = 0; i < n; i++) header |= !parse_real(cells[i], &v);
            const char *want = label ? label : saved_label;
            if (want) {
                for (int i = 0; header && i < n; i++)
                    if (strcmp(cells[i], want) == 0) drop = i;
                char *end;
                long idx = strtol(want, &end, 10);
                if (drop < 0 && (label || width == inputs + 1) && want[0] && !*end && idx >= 0 &&
                    idx < n)
                    drop = (int)idx;
                if (drop < 0 && label) {
                    cli_error(CMD, "--label: no column '%s' in '%s'", label, path);
                    rc = CLI_EXIT_USAGE;
                    goto done;
                }
            }
            if (width - (drop >= 0) != inputs) {
                cli_error(CMD, "%s:%ld: %d feature columns, but the model takes %d inputs%s", path,
                          line_no, width - (drop >= 0), inputs,
                          drop < 0 && width == inputs + 1 ? " (name a label column with --label)"
                                                          : "");
                rc = CLI_EXIT_DATA;
                goto done;
            }
            if (header) continue;
        }
        if (n != width) {
            cli_error(CMD, "%s:%ld: %d columns, but the first row has %d", path, line_no, n, width);
            rc = CLI_EXIT_DATA;
            goto done;
        }
        if (!grow(t, &cap)) {
            rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "reading input");
            goto done;
        }
        nb_real *row = t->x + t->rows * (size_t)inputs;
        for (int i = 0, j = 0; i < n; i++) {
            if (i == drop) continue;
            if (!parse_real(cells[i], &v)) {
                cli_error(CMD, "%s:%ld: column %d: '%s' is not a number", path, line_no, i + 1,
                          cells[i]);
                rc = CLI_EXIT_DATA;
                goto done;
            }
            row[j++] = (nb_real)v;
        }
        t->rows++;
    }
    if (ferror(f)) {
        cli_error(CMD, "cannot read input '%s': %s", path, strerror(errno));
        rc = CLI_EXIT_DATA;
    } else if (t->rows == 0) {
        cli_error(CMD, "input '%s' has no rows", path);
        rc = CLI_EXIT_DATA;
    }
done:
    free(line);
    nb_free(cells);
    fclose(f);
    return rc;
}

static uint32_t big_endian(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An IDX file of unsigned bytes (magic 0 0 8 ndim, big-endian sizes). */
static int is_idx(const char *path)
{
    gzFile g = gzopen(path, "rb");
    unsigned char m[4];
    int yes =
        g && gzread(g, m, 4) == 4 && m[0] == 0 && m[1] == 0 && m[2] == 8 && m[3] >= 2 && m[3] <= 3;
    if (g) gzclose(g);
    return yes;
}

static int read_idx(const char *path, int inputs, table *t)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        cli_error(CMD, "cannot open input '%s': %s", path, strerror(errno));
        return CLI_EXIT_DATA;
    }
    unsigned char head[16];
    int rc = CLI_EXIT_DATA;
    unsigned char *bytes = NULL;
    if (gzread(g, head, 4) != 4 || gzread(g, head + 4, 4 * head[3]) != 4 * head[3]) {
        cli_error(CMD, "input '%s': truncated IDX header", path);
        goto done;
    }
    uint64_t count = big_endian(head + 4), features = 1;
    for (int d = 1; d < head[3]; d++) features *= big_endian(head + 4 + 4 * d);
    if (count == 0 || count > NB_MAX_SAMPLES) {
        cli_error(CMD, "input '%s': %llu images (limit 1..%d)", path, (unsigned long long)count,
                  NB_MAX_SAMPLES);
        goto done;
    }
    if (features != (uint64_t)inputs) {
        cli_error(CMD, "input '%s' has %llu values per image, but the model takes %d inputs", path,
                  (unsigned long long)features, inputs);
        goto done;
    }
    size_t n = (size_t)count * (size_t)features; /* <= 2^26 * 2^20 */
    bytes = nb_malloc(n);
    t->x = nb_calloc(n, sizeof *t->x);
    if (!bytes || !t->x) {
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "reading input");
        goto done;
    }
    /* gzread takes an unsigned count: read in pieces. */
    for (size_t done = 0; done < n;) {
        unsigned piece = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
        int got = gzread(g, bytes + done, piece);
        if (got <= 0) {
            cli_error(CMD, "input '%s': truncated: %zu of %zu pixel bytes", path, done, n);
            goto done;
        }
        done += (size_t)got;
    }
    for (size_t i = 0; i < n; i++) t->x[i] = bytes[i];
    t->rows = (size_t)count;
    t->cols = inputs;
    rc = CLI_EXIT_OK;
done:
    nb_free(bytes);
    gzclose(g);
    return rc;
}

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

static int print_predictions(const nb_model *model, const table *t, const nb_real *out, int top,
                             int json)
{
    int outputs = nb_model_outputs(model);
    int classifier = nb_model_is_classifier(model);
    /* bce has one output, the probability of class 1. */
    int classes = classifier ? (outputs == 1 ? 2 : outputs) : 0;
    int k = top < classes ? top : classes;
    nb_real two[2];
    int idx[64];
    if (k > 64) k = 64;
    char buf[32];
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *list = json ? cJSON_AddArrayToObject(root, "predictions") : NULL;
    for (size_t r = 0; r < t->rows; r++) {
        const nb_real *p = out + r * (size_t)outputs;
        cJSON *item = json ? cJSON_CreateObject() : NULL;
        if (json) {
            cJSON_AddNumberToObject(item, "row", (double)(r + 1));
            cJSON_AddItemToArray(list, item);
        } else {
            printf("row %zu:", r + 1);
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
                    cJSON_AddNumberToObject(e, "probability", p[idx[j]]);
                    cJSON_AddItemToArray(tops, e);
                } else {
                    printf("%s %s %.4f", j ? "," : "", name, (double)p[idx[j]]);
                }
            }
        }
        if (!json) putchar('\n');
    }
    if (json) {
        char *text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!text) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "JSON output");
        puts(text);
        free(text);
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_OUTPUT;
}

static int run(const char *path, const char *input, const char *label, int top, int json)
{
    nb_model *model = NULL;
    int rc = cli_load_model(CMD, path, &model);
    if (rc != CLI_EXIT_OK) return rc;
    table t = {0};
    nb_real *out = NULL;
    cJSON *training = cli_model_meta_json(model, "training");
    cJSON *saved = cJSON_GetObjectItemCaseSensitive(training, "label");
    int inputs = nb_model_inputs(model);
    if (is_idx(input))
        rc = read_idx(input, inputs, &t);
    else
        rc = read_csv(input, inputs, label, cJSON_IsString(saved) ? saved->valuestring : NULL, &t);
    if (rc != CLI_EXIT_OK) goto done;
    out = nb_calloc(t.rows, (size_t)nb_model_outputs(model) * sizeof *out);
    if (!out) {
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "predicting");
        goto done;
    }
    nb_status st = nb_model_predict(model, t.x, t.rows, out);
    if (st != NB_OK) {
        rc = cli_fail(CMD, st, CLI_STAGE_RUN, "predicting");
        goto done;
    }
    rc = print_predictions(model, &t, out, top, json);
done:
    nb_free(out);
    nb_free(t.x);
    cJSON_Delete(training);
    nb_model_free(model);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    const char *input = NULL, *label = NULL;
    int top = 3, json = 0;
    arg_option options[] = {
        {"input", ARG_STRING, &input, 0, 0, 0},
        {"label", ARG_STRING, &label, 0, 0, 0},
        {"top", ARG_INT, &top, 1, 64, 0},
        {"json", ARG_FLAG, &json, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 1};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (n < 1) return args_usage_error(&cmd, "missing MODEL file");
    if (!input) return args_usage_error(&cmd, "missing --input FILE");
    return run(positional[0], input, label, top, json);
}
