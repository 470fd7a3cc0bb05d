/* nabla: train, evaluate and run neural networks from the command line.
 * Dispatches to one function per subcommand. */
#include "cli.h"
#include "parallel.h"
#include "internal.h"

#include <string.h>

static const char usage_text[] =
    "usage: nabla <command> [options]\n"
    "\n"
    "Neural networks on a computational graph with reverse-mode autodiff.\n"
    "\n"
    "commands:\n"
    "  train      train a model on a data set, save it, write a log and a report\n"
    "  eval       evaluate a saved model on a data set's test part\n"
    "  predict    class probabilities (or values) for rows of a CSV or IDX file\n"
    "  info       what a model file holds: spec, tensors, scaler, settings, metrics\n"
    "  gradcheck  compare backward's gradients with numerical ones for a spec\n"
    "  export     write a model as standalone C (for firmware or other programs)\n"
    "  explain    a page that steps through a graph's forward and backward passes\n"
    "\n"
    "  nabla <command> --help   options of one command (or: nabla help <command>)\n"
    "  nabla --version          the version, the number type and the kernels\n"
    "\n"
    "example:\n"
    "  nabla train --data fashion-mnist --model \"dense:100,relu,dense:10\" \\\n"
    "              --optimizer sgd --lr 0.1 --batch 100 --epochs 5 --seed 1 \\\n"
    "              --out model.safetensors --log train.jsonl --report report.html\n"
    "\n"
    "exit codes:\n"
    "  0    success\n"
    "  1    the requested check or training failed (e.g. the loss became NaN)\n"
    "  2    usage error: unknown option, bad value or missing argument\n"
    "  3    input data error: a data file is missing or malformed\n"
    "  4    model file error: a model file is missing, malformed or does not fit\n"
    "  5    output error: the model, log or report cannot be written\n"
    "  130  interrupted (Ctrl-C)\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"train", cmd_train},     {"eval", cmd_eval},           {"predict", cmd_predict},
    {"info", cmd_info},       {"gradcheck", cmd_gradcheck}, {"export", cmd_export},
    {"explain", cmd_explain},
};

static const char see_help[] = "(see 'nabla --help')\n";

static int (*find_command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run;
    return NULL;
}

static int unknown_command(const char *name)
{
    char q[NB_ESCAPE_SIZE];
    fprintf(stderr, "nabla: unknown command '%s'\n%s", nb_escape(q, sizeof q, name), see_help);
    return CLI_EXIT_USAGE;
}

static int usage_error(const char *fmt, const char *name, const char *got)
{
    char q[NB_ESCAPE_SIZE];
    fputs("nabla: ", stderr);
    fprintf(stderr, fmt, name, nb_escape(q, sizeof q, got));
    fprintf(stderr, "\n%s", see_help);
    return CLI_EXIT_USAGE;
}

/* "nabla help [COMMAND]" (also --help, -h): the top-level help, or one
 * command's ("nabla help train" is "nabla train --help"). */
static int help(int argc, char **argv)
{
    const char *name = argv[1];
    if (argc > 3) {
        char got[256];
        size_t used = 0;
        got[0] = '\0';
        for (int i = 2; i < argc && used < sizeof got; i++) {
            int w = snprintf(got + used, sizeof got - used, "%s%s", i > 2 ? " " : "", argv[i]);
            used = w < 0 ? sizeof got : used + (size_t)w;
        }
        return usage_error("%s takes one command name (got '%s')", name, got);
    }
    if (argc == 3 && strcmp(argv[2], "help") != 0) {
        if (argv[2][0] == '-')
            return usage_error("%s takes no options, only a command name (got '%s')", name,
                               argv[2]);
        char *args[] = {argv[2], "--help", NULL};
        int (*run)(int, char **) = find_command(argv[2]);
        if (run) return run(2, args);
        return unknown_command(argv[2]);
    }
    fputs(usage_text, stdout); /* "nabla help help" asks about help itself */
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0)
        return help(argc, argv);
    if (strcmp(name, "--version") == 0) {
        if (argc > 2) return usage_error("%s takes no arguments (got '%s')", name, argv[2]);
        char backends[256];
        nb_backends(backends, sizeof backends);
        printf("nabla %s (%s)\n%s\n%s\n", NB_VERSION, NB_REAL_NAME, backends, cli_parallel_about());
        return CLI_EXIT_OK;
    }
    int (*run)(int, char **) = find_command(name);
    /* Only training runs on several processes; anything else would run
     * once per process, each writing the same files. */
    if (run && run != cmd_train && cli_parallel_launched()) {
        if (cli_parallel_rank() == 0)
            fprintf(stderr,
                    "nabla: %s runs as one process; under mpirun only 'nabla train' runs "
                    "(docs/mpi.md)\n",
                    name);
        return CLI_EXIT_USAGE;
    }
    return run ? run(argc - 1, argv + 1) : unknown_command(name);
}
