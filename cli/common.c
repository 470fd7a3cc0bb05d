/* Shared pieces of the nabla command (see cli.h). */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t cli_interrupted = 0;

int cli_exit_code(nb_status status, enum cli_stage stage)
{
    if (status == NB_OK) return CLI_EXIT_OK;
    if (status == NB_ERR_INTERRUPTED) return CLI_EXIT_INTERRUPTED;
    /* Running out of memory is nobody's input mistake. */
    if (status == NB_ERR_MEMORY) return CLI_EXIT_FAILURE;
    switch (stage) {
    case CLI_STAGE_USAGE:
        return CLI_EXIT_USAGE;
    case CLI_STAGE_DATA:
        return CLI_EXIT_DATA;
    case CLI_STAGE_MODEL:
        return CLI_EXIT_MODEL;
    case CLI_STAGE_OUTPUT:
        return CLI_EXIT_OUTPUT;
    case CLI_STAGE_RUN:
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_FAILURE;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nabla %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(const char *cmd, nb_status status, enum cli_stage stage, const char *what)
{
    const char *msg = nb_last_error();
    if (!msg[0]) msg = nb_status_name(status);
    if (what)
        cli_error(cmd, "%s: %s", what, msg);
    else
        cli_error(cmd, "%s", msg);
    return cli_exit_code(status, stage);
}

static void on_interrupt(int sig)
{
    (void)sig;
    /* A second Ctrl-C ends the program at once (only async-signal-safe
     * calls here). */
    if (cli_interrupted) {
        static const char msg[] = "\nnabla: interrupted again; exiting without a checkpoint\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)n;
        _exit(CLI_EXIT_INTERRUPTED);
    }
    cli_interrupted = 1;
}

void cli_catch_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *cli_class_name(char *const *names, int classes, int index, char *buf, size_t size)
{
    if (names && index >= 0 && index < classes && names[index] && names[index][0])
        return names[index];
    snprintf(buf, size, "%d", index);
    return buf;
}

char **cli_model_class_names(const nb_model *model, int classes)
{
    if (classes <= 0 || nb_model_class_count(model) <= 0) return NULL;
    char **names = nb_calloc((size_t)classes, sizeof *names);
    if (!names) return NULL;
    for (int i = 0; i < classes; i++) names[i] = (char *)nb_model_class_name(model, i);
    return names;
}

/* JSON numbers cannot be NaN or infinite: those become null. */
static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *cli_metrics_json(const nb_metrics *m, char *const *names)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddNumberToObject(root, "samples", (double)m->samples);
    cJSON_AddItemToObject(root, "loss", number_or_null(m->loss));
    if (m->accuracy >= 0)
        cJSON_AddItemToObject(root, "accuracy", number_or_null(m->accuracy));
    else
        cJSON_AddNullToObject(root, "accuracy");
    if (m->classes > 0 && m->confusion && m->precision && m->recall) {
        int c = m->classes;
        char buf[32];
        cJSON_AddNumberToObject(root, "classes", c);
        cJSON *cls = cJSON_AddArrayToObject(root, "class_names");
        cJSON *per = cJSON_AddArrayToObject(root, "per_class");
        cJSON *conf = cJSON_AddArrayToObject(root, "confusion");
        for (int i = 0; i < c; i++) {
            const char *name = cli_class_name(names, c, i, buf, sizeof buf);
            cJSON_AddItemToArray(cls, cJSON_CreateString(name));
            size_t support = 0;
            cJSON *row = cJSON_CreateArray();
            for (int j = 0; j < c; j++) {
                size_t n = m->confusion[(size_t)i * (size_t)c + (size_t)j];
                support += n;
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)n));
            }
            cJSON_AddItemToArray(conf, row);
            cJSON *entry = cJSON_CreateObject();
            cJSON_AddStringToObject(entry, "class", name);
            cJSON_AddItemToObject(entry, "precision", number_or_null(m->precision[i]));
            cJSON_AddItemToObject(entry, "recall", number_or_null(m->recall[i]));
            cJSON_AddNumberToObject(entry, "support", (double)support);
            cJSON_AddItemToArray(per, entry);
        }
    }
    return root;
}

void cli_metrics_print(FILE *out, const nb_metrics *m, char *const *names)
{
    fprintf(out, "test: %zu samples, loss %.6g", m->samples, m->loss);
    if (m->accuracy >= 0) fprintf(out, ", accuracy %.2f%%", 100.0 * m->accuracy);
    fputc('\n', out);
    if (m->classes <= 0 || !m->confusion || !m->precision || !m->recall) return;
    int c = m->classes;
    char buf[32];
    int width = 5;
    for (int i = 0; i < c; i++) {
        int len = (int)strlen(cli_class_name(names, c, i, buf, sizeof buf));
        if (len > width) width = len;
    }
    if (width > 24) width = 24;
    fprintf(out, "\n%-*s  precision  recall  support\n", width, "class");
    for (int i = 0; i < c; i++) {
        size_t support = 0;
        for (int j = 0; j < c; j++) support += m->confusion[(size_t)i * (size_t)c + (size_t)j];
        fprintf(out, "%-*.*s  %9.4f  %6.4f  %7zu\n", width, width,
                cli_class_name(names, c, i, buf, sizeof buf), m->precision[i], m->recall[i],
                support);
    }
    if (c > 20) {
        fprintf(out, "\n(confusion matrix of %d classes left out; see --json or the report)\n", c);
        return;
    }
    /* Columns as wide as the largest count, at least the class number. */
    size_t biggest = 0;
    for (size_t k = 0; k < (size_t)c * (size_t)c; k++)
        if (m->confusion[k] > biggest) biggest = m->confusion[k];
    int cell = snprintf(buf, sizeof buf, "%zu", biggest);
    if (cell < 3) cell = 3;
    /* Rows are "index name", columns the predicted class's index. */
    fprintf(out, "\nconfusion matrix (rows: true class, columns: predicted class number)\n");
    fprintf(out, "%*s", width + 5, "");
    for (int j = 0; j < c; j++) fprintf(out, " %*d", cell, j);
    fputc('\n', out);
    for (int i = 0; i < c; i++) {
        fprintf(out, "%2d  %-*.*s ", i, width, width, cli_class_name(names, c, i, buf, sizeof buf));
        for (int j = 0; j < c; j++)
            fprintf(out, " %*zu", cell, m->confusion[(size_t)i * (size_t)c + (size_t)j]);
        fputc('\n', out);
    }
}

int cli_load_model(const char *cmd, const char *path, nb_model **out)
{
    *out = NULL;
    nb_status st = nb_model_load(path, out);
    if (st == NB_OK) return CLI_EXIT_OK;
    /* Make sure the message names the file. */
    if (strstr(nb_last_error(), path)) return cli_fail(cmd, st, CLI_STAGE_MODEL, NULL);
    char what[512];
    snprintf(what, sizeof what, "model '%.400s'", path);
    return cli_fail(cmd, st, CLI_STAGE_MODEL, what);
}

cJSON *cli_model_meta_json(const nb_model *model, const char *key)
{
    const char *text = nb_model_meta(model, key);
    return text ? cJSON_Parse(text) : NULL;
}

int cli_is_csv(const char *source)
{
    size_t n = strlen(source);
    return n >= 4 && strcasecmp(source + n - 4, ".csv") == 0;
}

static const char *const builtin[] = {"xor", "spiral", "sine", "body"};

int cli_data_file(const char *source)
{
    struct stat st;
    if (strcmp(source, "fashion-mnist") == 0) return 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(source, builtin[i]) == 0) return 0;
    return stat(source, &st) == 0 && !S_ISDIR(st.st_mode);
}

nb_scale_kind cli_default_scale(const char *source, const nb_dataset *d)
{
    struct stat st;
    if (d->rows > 0 || strcmp(source, "fashion-mnist") == 0 ||
        (stat(source, &st) == 0 && S_ISDIR(st.st_mode)))
        return NB_SCALE_UNIT; /* IDX bytes 0..255 */
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(source, builtin[i]) == 0) return NB_SCALE_NONE;
    return NB_SCALE_ZSCORE;
}
