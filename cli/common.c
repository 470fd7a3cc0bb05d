/* Shared pieces of the nabla command (see cli.h). */
#include "cli.h"
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
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

void cli_vputs_escaped(FILE *out, const char *fmt, va_list ap)
{
    /* The text quotes paths and names typed by the user and messages about
     * file content: escaped as a whole (nb_escape leaves escaped text as it
     * is), so no control, invisible or invalid byte reaches the terminal. */
    char line[2048], shown[4 * sizeof line];
    vsnprintf(line, sizeof line, fmt, ap);
    fputs(nb_escape(shown, sizeof shown, line), out);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vputs_escaped(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nabla %s: ", cmd);
    va_start(ap, fmt);
    cli_vputs_escaped(stderr, fmt, ap);
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

const char *cli_name_list(char *buf, size_t size, const char *(*name)(int kind), const char *skip)
{
    size_t used = 0;
    if (size) buf[0] = 0;
    /* A table has a handful of names: the bound only guards the loop. */
    for (int k = 0; k < 256; k++) {
        const char *n = name(k);
        if (strcmp(n, "unknown") == 0) break;
        if (skip && strcmp(n, skip) == 0) continue;
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", n);
        if (w < 0 || (size_t)w >= size - used) {
            buf[used] = 0; /* the names that fit whole */
            break;
        }
        used += (size_t)w;
    }
    return buf;
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

/* Ctrl-C, and SIGTERM: what a batch scheduler, kill or mpirun (on its own
 * Ctrl-C) sends to stop a job, so that it too ends with a checkpoint. */
void cli_catch_interrupt(void)
{
    static const int signals[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction sa;
        /* A signal ignored on entry (SIGINT of a job started with & by a
         * non-interactive shell) stays ignored, as POSIX programs do: Ctrl-C
         * at the terminal is not meant for it. */
        if (sigaction(signals[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_interrupt;
        sigemptyset(&sa.sa_mask);
        sigaction(signals[i], &sa, NULL);
    }
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
    if (m->classes == 0) { /* regression, in the targets' own units */
        cJSON_AddItemToObject(root, "mae", number_or_null(m->mae));
        cJSON_AddItemToObject(root, "rmse", number_or_null(m->rmse));
        cJSON_AddItemToObject(root, "r2", number_or_null(m->r2));
    }
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

/* Decode one UTF-8 character of s into *cp; its length in bytes (1 for a
 * byte that does not start a valid sequence, *cp then -1). */
static int utf8_next(const unsigned char *s, long *cp)
{
    int len = s[0] < 0x80                   ? 1
              : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
              : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
              : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                            : 0;
    if (len == 0) {
        *cp = -1;
        return 1;
    }
    long c = len == 1 ? s[0] : s[0] & (0x3f >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        c = c << 6 | (s[i] & 0x3f);
    }
    *cp = c;
    return len;
}

/* Display columns of one code point: the common ranges of Unicode's East
 * Asian Width (W, F) and of zero-width marks; wcwidth would depend on the
 * locale, and tables printed to a file or a pipe must line up too. */
static int char_width(long c)
{
    static const long zero[][2] = {
        {0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a}, {0x064b, 0x065f},
        {0x0e31, 0x0e31}, {0x0e34, 0x0e3a}, {0x0e47, 0x0e4e}, {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff},
        {0x200b, 0x200f}, {0x20d0, 0x20ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}, {0xe0100, 0xe01ef},
    };
    static const long wide[][2] = {
        {0x1100, 0x115f},   {0x231a, 0x231b},   {0x2329, 0x232a},   {0x23e9, 0x23ec},
        {0x25fd, 0x25fe},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x26a1, 0x26a1},
        {0x26aa, 0x26ab},   {0x26bd, 0x26be},   {0x26c4, 0x26c5},   {0x26d4, 0x26d4},
        {0x26ea, 0x26ea},   {0x26f2, 0x26f5},   {0x26fa, 0x26fd},   {0x2705, 0x2705},
        {0x270a, 0x270b},   {0x2728, 0x2728},   {0x274c, 0x274c},   {0x2753, 0x2757},
        {0x2795, 0x2797},   {0x27b0, 0x27b0},   {0x2b1b, 0x2b1c},   {0x2b50, 0x2b55},
        {0x2e80, 0x303e},   {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},
        {0xa000, 0xa4cf},   {0xa960, 0xa97f},   {0xac00, 0xd7a3},   {0xf900, 0xfaff},
        {0xfe10, 0xfe19},   {0xfe30, 0xfe6f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},
        {0x16fe0, 0x18aff}, {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf},
        {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f2ff}, {0x1f300, 0x1f64f},
        {0x1f680, 0x1f6ff}, {0x1f7e0, 0x1f7eb}, {0x1f90c, 0x1f9ff}, {0x1fa70, 0x1faff},
        {0x20000, 0x3fffd},
    };
    if (c < 0x300) return 1;
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (c >= zero[i][0] && c <= zero[i][1]) return 0;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (c >= wide[i][0] && c <= wide[i][1]) return 2;
    return 1;
}

int cli_text_width(const char *s)
{
    int width = 0;
    long c;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += utf8_next(p, &c);
        width += c < 0 ? 1 : char_width(c);
    }
    return width;
}

/* s in exactly width columns: cut at a whole character, padded with spaces. */
static void put_cell(FILE *out, const char *s, int width)
{
    int used = 0;
    long c;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = utf8_next(p, &c), w = c < 0 ? 1 : char_width(c);
        if (used + w > width) break;
        fwrite(p, 1, (size_t)len, out);
        used += w;
        p += len;
    }
    fprintf(out, "%*s", width - used, "");
}

void cli_metrics_print(FILE *out, const nb_metrics *m, char *const *names)
{
    cli_metrics_print_part(out, "test", m, names);
}

void cli_metrics_print_part(FILE *out, const char *part, const nb_metrics *m, char *const *names)
{
    fprintf(out, "%s: %zu %s, loss %.6g", part, m->samples,
            nb_plural((long long)m->samples, "sample", "samples"), m->loss);
    if (m->accuracy >= 0) fprintf(out, ", accuracy %.2f%%", 100.0 * m->accuracy);
    if (m->classes == 0 && isfinite(m->r2))
        fprintf(out, ", MAE %.6g, RMSE %.6g, R\u00b2 %.4f", m->mae, m->rmse, m->r2);
    fputc('\n', out);
    if (m->classes <= 0 || !m->confusion || !m->precision || !m->recall) return;
    int c = m->classes;
    char buf[32];
    int width = 5; /* "class" */
    for (int i = 0; i < c; i++) {
        int w = cli_text_width(cli_class_name(names, c, i, buf, sizeof buf));
        if (w > width) width = w;
    }
    if (width > 24) width = 24;
    fputc('\n', out);
    put_cell(out, "class", width);
    fputs("  precision  recall  support\n", out);
    for (int i = 0; i < c; i++) {
        size_t support = 0;
        for (int j = 0; j < c; j++) support += m->confusion[(size_t)i * (size_t)c + (size_t)j];
        put_cell(out, cli_class_name(names, c, i, buf, sizeof buf), width);
        fprintf(out, "  %9.4f  %6.4f  %7zu\n", m->precision[i], m->recall[i], support);
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
        fprintf(out, "%2d  ", i);
        put_cell(out, cli_class_name(names, c, i, buf, sizeof buf), width);
        fputc(' ', out);
        for (int j = 0; j < c; j++)
            fprintf(out, " %*zu", cell, m->confusion[(size_t)i * (size_t)c + (size_t)j]);
        fputc('\n', out);
    }
}

void cli_metrics_warn(const char *cmd, const nb_metrics *m)
{
    if (m->classes == 0 && isfinite(m->r2) && m->r2 <= 0)
        cli_error(cmd,
                  "warning: R\u00b2 is %.4f <= 0: the model is no better than predicting the mean",
                  m->r2);
}

int cli_model_diverged(const nb_model *model, int *epoch, int *batch)
{
    nb_training_record t;
    nb_model_training_record(model, &t);
    if (epoch) *epoch = t.stopped_epoch;
    if (batch) *batch = t.stopped_batch;
    return t.diverged;
}

void cli_diverged_text(char *buf, size_t size, int epoch, int batch)
{
    char when[96] = "";
    if (epoch > 0)
        snprintf(when, sizeof when, " (the weights kept are from epoch %d, batch %d)", epoch,
                 batch);
    else if (epoch == 0)
        snprintf(when, sizeof when, " (the weights kept are the initial ones)");
    snprintf(buf, size, "training stopped on a numeric error%s: its outputs may be meaningless",
             when);
}

/* A model saved by a run that diverged loads and runs, but its weights are
 * those of the last finite step: say so once, whatever the command. */
static void warn_diverged(const char *cmd, const char *path, const nb_model *model)
{
    int epoch, batch;
    if (!cli_model_diverged(model, &epoch, &batch)) return;
    char text[CLI_DIVERGED_TEXT_SIZE];
    cli_diverged_text(text, sizeof text, epoch, batch);
    cli_error(cmd, "warning: model \"%s\" was saved when %s", path, text);
}

int cli_fail_model(const char *cmd, nb_status status, enum cli_stage stage, const char *what,
                   const nb_model *model)
{
    if (status != NB_ERR_NUMERIC || !cli_model_diverged(model, NULL, NULL))
        return cli_fail(cmd, status, stage, what);
    const char *msg = nb_last_error();
    cli_error(cmd, "%s%s%s (the model was saved when its training stopped on a numeric error)",
              what ? what : "", what ? ": " : "", msg[0] ? msg : nb_status_name(status));
    return cli_exit_code(status, stage);
}

int cli_load_model(const char *cmd, const char *path, nb_model **out)
{
    *out = NULL;
    nb_status st = nb_model_load(path, out);
    if (st == NB_OK) {
        warn_diverged(cmd, path, *out);
        return CLI_EXIT_OK;
    }
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

char *cli_json_text(const cJSON *j)
{
    char *raw = j ? cJSON_PrintUnformatted(j) : NULL;
    char *text = raw ? nb_json_escape_invisible(raw) : NULL;
    cJSON_free(raw);
    return text;
}
