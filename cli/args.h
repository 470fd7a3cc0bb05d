/* A small option parser shared by the subcommands: --name VALUE and
 * --name=VALUE, flags, positional arguments anywhere, "--" ends options.
 * Numbers are checked strictly by one parser (args_number): decimal only,
 * the whole text, no spaces, finite, in range; an error names the option
 * and shows the command's usage line. */
#ifndef NABLA_CLI_ARGS_H
#define NABLA_CLI_ARGS_H

#include <stdint.h>

typedef enum arg_kind {
    ARG_FLAG,   /* int: set to 1 */
    ARG_STRING, /* const char *: points into argv */
    ARG_INT,    /* int, in [min, max]: [+-]digits */
    ARG_REAL,   /* double, finite, in [min, max]: a decimal number */
    ARG_U64,    /* uint64_t (seeds): digits only */
    ARG_KIND_MASK = 0xff,
    /* Or-ed into a kind: that end of [min, max] is excluded, e.g.
     * ARG_REAL | ARG_OPEN_MIN for a rate in (0, max]. */
    ARG_OPEN_MIN = 0x100,
    ARG_OPEN_MAX = 0x200,
} arg_kind;

typedef struct arg_option {
    const char *name; /* without the leading "--" */
    int kind;         /* an arg_kind, with ARG_OPEN_MIN or ARG_OPEN_MAX or-ed in */
    void *value;
    double min, max; /* ARG_INT and ARG_REAL: the allowed range */
    int seen;        /* set by args_parse */
} arg_option;

typedef struct arg_command {
    const char *name;  /* "train" */
    const char *usage; /* "nabla train --data SOURCE --model SPEC [options]" */
    const char *help;  /* the whole --help text (starts with the usage) */
    arg_option *options;
    int n_options;
    int min_positional, max_positional;
} arg_command;

/* Parse argv[1..argc) (argv[0] is the command's name). Positional
 * arguments go to positional (room for max_positional). Returns -1 to go
 * on, 0 after printing --help, or 2 (usage error, already reported). */
int args_parse(arg_command *cmd, int argc, char **argv, char **positional, int *n_positional);

/* The one number parser: text must be exactly a decimal number
 * [+-](digits[.digits]|.digits)[(e|E)[+-]digits], with no fraction or
 * exponent when integer is set. No spaces, hex, "inf" or "nan". A value
 * too small for a double (e.g. 1e-400) becomes a subnormal or 0, which is
 * fine; one too large is refused. With rest non-NULL, text may go on after
 * the number and *rest points there. 0 on success, else -1 with *why set
 * to a short reason. */
int args_number(const char *text, int integer, double *out, const char **rest, const char **why);

/* Was --name given? */
int args_seen(const arg_command *cmd, const char *name);

/* Report a usage error for cmd (message, then the usage line); returns 2. */
int args_usage_error(const arg_command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
