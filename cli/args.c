/* The shared option parser (see args.h). */
#include "args.h"

#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int args_usage_error(const arg_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nabla %s: ", cmd->name);
    va_start(ap, fmt);
    cli_vputs_escaped(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n(see 'nabla %s --help')\n", cmd->usage, cmd->name);
    return CLI_EXIT_USAGE;
}

static arg_option *find_option(arg_command *cmd, const char *name, size_t len)
{
    for (int i = 0; i < cmd->n_options; i++)
        if (strlen(cmd->options[i].name) == len && strncmp(cmd->options[i].name, name, len) == 0)
            return &cmd->options[i];
    return NULL;
}

int args_seen(const arg_command *cmd, const char *name)
{
    for (int i = 0; i < cmd->n_options; i++)
        if (strcmp(cmd->options[i].name, name) == 0) return cmd->options[i].seen;
    return 0;
}

/* Digits from s; how many. */
static size_t digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') n++;
    return n;
}

int args_number(const char *text, int integer, double *out, const char **rest, const char **why)
{
    /* Scan the grammar first: strtod alone would take leading spaces, hex,
     * "inf", "nan" and locale-specific forms. */
    size_t i = text[0] == '+' || text[0] == '-';
    size_t whole = digits(text + i), frac = 0;
    i += whole;
    if (!integer && text[i] == '.') {
        frac = digits(text + i + 1);
        if (whole || frac) i += 1 + frac;
    }
    if (whole + frac == 0) {
        *why = integer ? "is not a whole number" : "is not a decimal number";
        return -1;
    }
    if (!integer && (text[i] == 'e' || text[i] == 'E')) {
        size_t j = i + 1 + (text[i + 1] == '+' || text[i + 1] == '-');
        size_t exp = digits(text + j);
        if (exp) i = j + exp; /* else "2e": the 'e' is not part of the number */
    }
    if (!rest && text[i]) {
        *why = integer ? "is not a whole number" : "is not a decimal number";
        return -1;
    }
    /* Copy the scanned part so strtod reads exactly it. */
    char buf[128];
    if (i >= sizeof buf) {
        *why = "is too long for a number";
        return -1;
    }
    memcpy(buf, text, i);
    buf[i] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    /* ERANGE also means underflow (a subnormal or 0): a finite number. */
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1)) {
        *why = "is too large";
        return -1;
    }
    *out = v;
    if (rest) *rest = text + i;
    return 0;
}

/* "[lo, hi]" with each end open or closed. */
static int in_range(const arg_option *opt, double v)
{
    int above = opt->kind & ARG_OPEN_MIN ? v > opt->min : v >= opt->min;
    int below = opt->kind & ARG_OPEN_MAX ? v < opt->max : v <= opt->max;
    return above && below;
}

static int range_error(arg_command *cmd, const arg_option *opt, const char *text)
{
    char lo[NB_NUMBER_SIZE], hi[NB_NUMBER_SIZE];
    return args_usage_error(
        cmd, "--%s: %s is out of range %c%s, %s%c", opt->name, text,
        opt->kind & ARG_OPEN_MIN ? '(' : '[', nb_number_text(lo, sizeof lo, opt->min),
        nb_number_text(hi, sizeof hi, opt->max), opt->kind & ARG_OPEN_MAX ? ')' : ']');
}

/* Store text into opt by its kind; 2 on a bad value. */
static int set_value(arg_command *cmd, arg_option *opt, const char *text)
{
    const char *why = NULL;
    double v = 0;
    int kind = opt->kind & ARG_KIND_MASK;
    switch (kind) {
    case ARG_FLAG:
        *(int *)opt->value = 1;
        return -1;
    case ARG_STRING:
        if (!text[0]) return args_usage_error(cmd, "--%s: the value is empty", opt->name);
        *(const char **)opt->value = text;
        return -1;
    case ARG_INT:
    case ARG_REAL:
        if (args_number(text, kind == ARG_INT, &v, NULL, &why) != 0)
            return args_usage_error(cmd, "--%s: '%s' %s", opt->name, text, why);
        if (!in_range(opt, v)) return range_error(cmd, opt, text);
        if (kind == ARG_INT)
            *(int *)opt->value = (int)v; /* whole and in an int's range by now */
        else
            *(double *)opt->value = v;
        return -1;
    case ARG_U64: {
        /* strtoull accepts a sign, spaces and wraps "-1" around: digits only. */
        size_t n = digits(text);
        char *end = NULL;
        errno = 0;
        unsigned long long u = n ? strtoull(text, &end, 10) : 0;
        if (!n || text[n] || errno == ERANGE)
            return args_usage_error(cmd, "--%s: '%s' is not a number from 0 to 2^64-1", opt->name,
                                    text);
        *(uint64_t *)opt->value = (uint64_t)u;
        return -1;
    }
    }
    return -1;
}

int args_parse(arg_command *cmd, int argc, char **argv, char **positional, int *n_positional)
{
    *n_positional = 0;
    /* --help wins wherever it is, even after a mistake: a command typed
     * half-way with --help at the end asks what the options are. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cmd->help, stdout);
            return CLI_EXIT_OK;
        }
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (*n_positional >= cmd->max_positional)
                return args_usage_error(cmd, "unexpected argument '%s'", arg);
            positional[(*n_positional)++] = argv[i];
            continue;
        }
        if (arg[1] != '-') return args_usage_error(cmd, "unknown option '%s'", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        /* --help is every command's flag, though no table lists it. */
        if (eq && len == 4 && strncmp(name, "help", 4) == 0)
            return args_usage_error(cmd, "--help takes no value");
        arg_option *opt = find_option(cmd, name, len);
        if (!opt) return args_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
        if (opt->seen) return args_usage_error(cmd, "--%s is given twice", opt->name);
        opt->seen = 1;
        const char *value = NULL;
        if ((opt->kind & ARG_KIND_MASK) == ARG_FLAG) {
            if (eq) return args_usage_error(cmd, "--%s takes no value", opt->name);
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            return args_usage_error(cmd, "--%s needs a value", opt->name);
        }
        int rc = set_value(cmd, opt, value);
        if (rc >= 0) return rc;
    }
    if (*n_positional < cmd->min_positional)
        return args_usage_error(cmd, "missing argument (expected %d, got %d)", cmd->min_positional,
                                *n_positional);
    return -1;
}
