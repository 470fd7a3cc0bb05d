/* The shared option parser (see args.h). */
#include "args.h"

#include "cli.h"

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
    vfprintf(stderr, fmt, ap);
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

/* Store text into opt by its kind; 2 on a bad value. */
static int set_value(arg_command *cmd, arg_option *opt, const char *text)
{
    char *end = NULL;
    errno = 0;
    switch (opt->kind) {
    case ARG_FLAG:
        *(int *)opt->value = 1;
        return -1;
    case ARG_STRING:
        if (!text[0]) return args_usage_error(cmd, "--%s: the value is empty", opt->name);
        *(const char **)opt->value = text;
        return -1;
    case ARG_INT: {
        long v = strtol(text, &end, 10);
        if (!text[0] || *end || errno == ERANGE)
            return args_usage_error(cmd, "--%s: '%s' is not a whole number", opt->name, text);
        if ((double)v < opt->min || (double)v > opt->max)
            return args_usage_error(cmd, "--%s: %ld is out of range [%.17g, %.17g]", opt->name, v,
                                    opt->min, opt->max);
        *(int *)opt->value = (int)v;
        return -1;
    }
    case ARG_REAL: {
        double v = strtod(text, &end);
        if (!text[0] || *end || errno == ERANGE || !isfinite(v))
            return args_usage_error(cmd, "--%s: '%s' is not a finite number", opt->name, text);
        if (v < opt->min || v > opt->max)
            return args_usage_error(cmd, "--%s: %g is out of range [%g, %g]", opt->name, v,
                                    opt->min, opt->max);
        *(double *)opt->value = v;
        return -1;
    }
    case ARG_U64: {
        /* strtoull accepts a sign and wraps "-1" around: allow digits only. */
        size_t digits = strspn(text, "0123456789");
        unsigned long long v = strtoull(text, &end, 10);
        if (!text[0] || text[digits] || *end || errno == ERANGE)
            return args_usage_error(cmd, "--%s: '%s' is not a number from 0 to 2^64-1", opt->name,
                                    text);
        *(uint64_t *)opt->value = (uint64_t)v;
        return -1;
    }
    }
    return -1;
}

int args_parse(arg_command *cmd, int argc, char **argv, char **positional, int *n_positional)
{
    *n_positional = 0;
    /* --help wins wherever it is, even after a mistake. */
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
        arg_option *opt = find_option(cmd, name, len);
        if (!opt) return args_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
        if (opt->seen) return args_usage_error(cmd, "--%s is given twice", opt->name);
        opt->seen = 1;
        const char *value = NULL;
        if (opt->kind == ARG_FLAG) {
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
