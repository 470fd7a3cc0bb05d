/* nabla export: a saved model as standalone C source (nb_model_export_c). */
#include "args.h"
#include "cli.h"

#define CMD "export"

static const char usage[] = "nabla export MODEL --c OUT_PREFIX [--name IDENT] [--int8]";

static const char help[] =
    "usage: nabla export MODEL --c OUT_PREFIX [--name IDENT] [--int8]\n"
    "\n"
    "Write the model as standalone C99 for firmware or another program:\n"
    "OUT_PREFIX.h and OUT_PREFIX.c, with the weights as static const arrays and\n"
    "one function, IDENT_predict(in, out, scratch), that applies the model's\n"
    "scaler to raw inputs and gives the probabilities (or values) that 'nabla\n"
    "predict' gives. No allocation, no stdio, no mutable state; only <math.h>\n"
    "(and <stdint.h> with --int8). Both files are written whole or not at all.\n"
    "See docs/export.md.\n"
    "\n"
    "  --c OUT_PREFIX  the files to write, without .h and .c (e.g. out/fashion)\n"
    "  --name IDENT    the prefix of every name the files declare (IDENT_predict,\n"
    "                  IDENT_INPUTS, ...): letters, digits and underscores,\n"
    "                  starting with a letter, at most 63 of them (default:\n"
    "                  OUT_PREFIX's file name)\n"
    "  --int8          int8 weights with one float scale per output channel: a\n"
    "                  quarter of the weight bytes; activations stay float\n"
    "\n"
    "exit codes: 0 ok, 1 the model cannot be exported (an op the exporter does not\n"
    "know, named), 2 usage, 4 model file, 5 output.\n";

int cmd_export(int argc, char **argv)
{
    const char *prefix = NULL, *name = NULL;
    int int8 = 0;
    arg_option options[] = {
        {"c", ARG_STRING, &prefix, 0, 0, 0},
        {"name", ARG_STRING, &name, 0, 0, 0},
        {"int8", ARG_FLAG, &int8, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 1};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (n < 1) return args_usage_error(&cmd, "missing MODEL file");
    if (!prefix) return args_usage_error(&cmd, "missing --c OUT_PREFIX");
    if (name && nb_export_check_name(name) != NB_OK)
        return args_usage_error(&cmd, "--name: %s", nb_last_error());
    nb_model *model = NULL;
    if ((rc = cli_load_model(CMD, positional[0], &model)) != CLI_EXIT_OK) return rc;
    nb_export_options opt = nb_export_defaults();
    opt.name = name;
    opt.int8 = int8;
    opt.keep = positional[0];
    nb_status st = nb_model_export_c(model, prefix, &opt);
    nb_model_free(model);
    if (st == NB_ERR_ARGUMENT) return args_usage_error(&cmd, "%s", nb_last_error());
    if (st != NB_OK)
        return cli_fail(CMD, st, st == NB_ERR_IO ? CLI_STAGE_OUTPUT : CLI_STAGE_RUN, positional[0]);
    cli_note("model %s exported as C: %s.h and %s.c", positional[0], prefix, prefix);
    return CLI_EXIT_OK;
}
