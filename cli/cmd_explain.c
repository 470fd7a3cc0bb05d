/* nabla explain: a page that steps through a graph's forward and backward
 * passes (one of the notes' examples, or a model on one data sample),
 * and the trace it shows. The library builds, runs, records and writes
 * it all; this file reads the options and prints. */
#include "args.h"
#include "cli.h"

#include "data_opts.h"

#include <stdlib.h>
#include <string.h>

#define CMD         "explain"
#define MAX_NUMBERS 8

static const char usage[] = "nabla explain (--example NAME [NUMBERS...] | MODEL --data SOURCE "
                            "--row K) [--out PAGE] [--trace] [options]";

static const char help[] =
    "usage: nabla explain --example NAME [NUMBERS...] [--out PAGE] [--trace]\n"
    "       nabla explain MODEL --data SOURCE --row K [--out PAGE] [--trace]\n"
    "       nabla explain --list\n"
    "\n"
    "Write one self-contained HTML page that steps through a computational\n"
    "graph: the forward pass node by node, then the backward pass node by node,\n"
    "each node's inputs, output, upstream gradient and local derivative rule,\n"
    "and for a node used several times the gradients arriving and their sum.\n"
    "The graph is laid out by Graphviz's dot (or the program $NABLA_DOT names).\n"
    "\n"
    "  --example NAME  one of the notes' worked examples (--list shows them);\n"
    "                  NUMBERS replace its inputs for the examples that take\n"
    "                  some (square_of_sum 3 2; after -- for a negative one)\n"
    "  --list          list the examples and the numbers each takes\n"
    "  MODEL           a model file; with --data SOURCE (any source train and\n"
    "                  eval read: a CSV file, an IDX folder, a built-in set)\n"
    "  --row K         the sample to explain: the K-th (1-based) of every\n"
    "                  sample of SOURCE in file order (default 1)\n"
    "  --label COL     the CSV label column (default: the model's training "
    "one)\n" CLI_DATA_OPTS_HELP
    "  --loss NODE     start the backward pass at this node (a scalar) instead\n"
    "                  of the example's or model's loss\n"
    "  --out PAGE      write the page there (replaced whole, never half-written;\n"
    "                  it may not be the model or a data file)\n"
    "  --trace         print every node's value and gradient (the numbers the\n"
    "                  page shows) on standard output\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 usage, 3 data, 4 model file, 5 output.\n";

typedef struct explain_opts {
    const char *example, *source, *label, *loss, *out;
    const char *delimiter_text, *header_text;
    char delimiter;
    int header, row, list, trace;
} explain_opts;

static int list_examples(void)
{
    for (int i = 0; i < nb_example_count(); i++) {
        const char *name = nb_example_name(i);
        printf("%-16s %s", name, nb_example_about(name));
        int n = nb_example_number_count(name);
        for (int k = 0; k < n; k++)
            printf("%s%s = %g", k ? ", " : " (numbers: ", nb_example_number_name(name, k),
                   nb_example_number_default(name, k));
        printf("%s\n", n ? ")" : "");
    }
    return fflush(stdout) != 0 ? CLI_EXIT_OUTPUT : CLI_EXIT_OK;
}

/* The node --loss names, else the default; *loss unchanged when absent. */
static int pick_loss(const arg_command *cmd, nb_graph *g, const char *name, nb_node *loss)
{
    if (!name) return CLI_EXIT_OK;
    nb_node n = nb_graph_find(g, name);
    if (n == NB_NONE) return args_usage_error(cmd, "--loss: the graph has no node '%s'", name);
    *loss = n;
    return CLI_EXIT_OK;
}

/* Record, then write the page and print the trace as asked. */
static int explain_and_write(nb_graph *g, nb_explain *e, const char *title, const explain_opts *o)
{
    nb_status st;
    if (o->out && (st = nb_explain_write_html(e, title, o->out)) != NB_OK) {
        char what[512];
        snprintf(what, sizeof what, "--out '%.400s'", o->out);
        return cli_fail(CMD, st, CLI_STAGE_OUTPUT, what);
    }
    if (o->trace && (st = nb_graph_print_trace(g, stdout)) != NB_OK)
        return cli_fail(CMD, st, CLI_STAGE_OUTPUT, "the trace");
    if (o->out) cli_note("page written to %s", o->out);
    return CLI_EXIT_OK;
}

static int run_example(const arg_command *cmd, const explain_opts *o, char **positional, int n)
{
    double numbers[MAX_NUMBERS];
    int want = nb_example_number_count(o->example);
    if (nb_example_about(o->example) && n != 0 && n != want)
        return args_usage_error(cmd,
                                "example %s takes %d number%s (or none), got %d ('%.200s'%s); a "
                                "MODEL file goes without --example",
                                o->example, want, want == 1 ? "" : "s", n, positional[0],
                                n > 1 ? ", ..." : "");
    for (int i = 0; i < n; i++) {
        const char *why;
        if (args_number(positional[i], 0, &numbers[i], NULL, &why) != 0)
            return args_usage_error(cmd, "%s: '%s' %s", nb_example_number_name(o->example, i),
                                    positional[i], why);
    }
    nb_graph *g = nb_graph_create();
    if (!g) return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, NULL);
    nb_node loss;
    nb_explain *e = NULL;
    nb_status st = nb_example_build(g, o->example, n ? numbers : NULL, n, &loss);
    int rc = CLI_EXIT_OK;
    if (st != NB_OK)
        rc = cli_fail(CMD, st, CLI_STAGE_USAGE, "--example");
    else if ((rc = pick_loss(cmd, g, o->loss, &loss)) == CLI_EXIT_OK &&
             (st = nb_explain_graph(g, loss, &e)) != NB_OK)
        rc = cli_fail(CMD, st, CLI_STAGE_RUN, NULL);
    if (rc == CLI_EXIT_OK) {
        char title[256];
        snprintf(title, sizeof title, "%s: %s", o->example, nb_example_about(o->example));
        rc = explain_and_write(g, e, title, o);
    }
    nb_explain_free(e);
    nb_graph_free(g);
    return rc;
}

/* The page, and the first data file it would replace (nb_data_files). */
typedef struct data_clash {
    const char *out;
    char file[1024];
} data_clash;

static int find_clash(const char *path, void *user)
{
    data_clash *c = user;
    if (!nb_files_collide(c->out, path)) return 0;
    snprintf(c->file, sizeof c->file, "%s", path);
    return 1;
}

/* No output may replace an input: the model or a data file. */
static int check_clash(const arg_command *cmd, const char *model, const explain_opts *o)
{
    if (!o->out) return CLI_EXIT_OK;
    if (nb_output_check(o->out) != NB_OK) {
        cli_error(CMD, "--out '%s': %s", o->out, nb_last_error());
        return CLI_EXIT_OUTPUT;
    }
    if (nb_files_collide(o->out, model))
        return args_usage_error(cmd,
                                "--out '%s' and MODEL '%s' are the same file: the page would "
                                "replace the model",
                                o->out, model);
    data_clash c = {o->out, ""};
    if (nb_data_files(o->source, find_clash, &c) != NB_OK)
        return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--data");
    if (c.file[0])
        return args_usage_error(cmd,
                                "--out '%s' and --data '%s' (its file '%s') are the same file: "
                                "the page would replace the data",
                                o->out, o->source, c.file);
    return CLI_EXIT_OK;
}

static int run_model(const arg_command *cmd, const explain_opts *o, const char *path)
{
    nb_model *model = NULL;
    int rc = cli_load_model(CMD, path, &model);
    if (rc != CLI_EXIT_OK) return rc;
    nb_training_record saved;
    nb_model_training_record(model, &saved);
    int outputs = nb_model_outputs(model), classifier = nb_model_is_classifier(model);
    int limit = classifier && outputs == 1 ? 2 : outputs; /* bce: one logit, 2 classes */
    char **names = classifier ? cli_model_class_names(model, limit) : NULL;
    nb_data_info info = {.label_column = -1};
    nb_csv_options csv = {.label = o->label         ? o->label
                                   : saved.label[0] ? saved.label
                                                    : NULL,
                          .header = o->header,
                          .regression = !classifier,
                          .delimiter = o->delimiter,
                          .class_names = names,
                          .classes = classifier ? limit : 0,
                          .features = nb_model_inputs(model),
                          .info = &info,
                          .label_saved = !o->label && saved.label[0],
                          .regression_saved = 1};
    nb_dataset data = {0};
    nb_explain *e = NULL;
    nb_status st = nb_data_open_all(o->source, &csv, saved.has_seed ? saved.seed : 1, &data);
    if (st != NB_OK) {
        char what[512];
        snprintf(what, sizeof what, "data '%.400s'", o->source);
        rc = cli_fail(CMD, st, st == NB_ERR_ARGUMENT ? CLI_STAGE_USAGE : CLI_STAGE_DATA,
                      strstr(nb_last_error(), o->source) ? NULL : what);
    } else if ((size_t)o->row > data.count) {
        rc = args_usage_error(cmd, "--row %d: data '%s' has %zu sample%s", o->row, o->source,
                              data.count, data.count == 1 ? "" : "s");
    } else if ((st = nb_explain_model(model, &data, (size_t)o->row - 1, &e)) != NB_OK) {
        rc = cli_fail_model(CMD, st, st == NB_ERR_SHAPE ? CLI_STAGE_DATA : CLI_STAGE_RUN, NULL,
                            model);
    } else {
        nb_graph *g = nb_model_graph(model);
        nb_node loss = nb_explain_loss(e);
        if (o->loss && (rc = pick_loss(cmd, g, o->loss, &loss)) == CLI_EXIT_OK) {
            nb_explain_free(e);
            e = NULL;
            if ((st = nb_explain_graph(g, loss, &e)) != NB_OK)
                rc = cli_fail(CMD, st, CLI_STAGE_RUN, NULL);
        }
        if (rc == CLI_EXIT_OK) {
            char title[512];
            snprintf(title, sizeof title, "model %.200s on sample %d of %.200s", path, o->row,
                     o->source);
            rc = explain_and_write(g, e, title, o);
        }
    }
    nb_explain_free(e);
    nb_dataset_free(&data);
    nb_free(names);
    nb_model_free(model);
    return rc;
}

int cmd_explain(int argc, char **argv)
{
    explain_opts o = {.header = -1, .row = 1};
    arg_option options[] = {
        {"example", ARG_STRING, &o.example, 0, 0, 0},
        {"list", ARG_FLAG, &o.list, 0, 0, 0},
        {"data", ARG_STRING, &o.source, 0, 0, 0},
        {"row", ARG_INT, &o.row, 1, 2147483647, 0},
        {"label", ARG_STRING, &o.label, 0, 0, 0},
        {"delimiter", ARG_STRING, &o.delimiter_text, 0, 0, 0},
        {"header", ARG_STRING, &o.header_text, 0, 0, 0},
        {"loss", ARG_STRING, &o.loss, 0, 0, 0},
        {"out", ARG_STRING, &o.out, 0, 0, 0},
        {"trace", ARG_FLAG, &o.trace, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage,      help, options, (int)(sizeof options / sizeof options[0]),
                       0,   MAX_NUMBERS};
    char *positional[MAX_NUMBERS];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (o.list) {
        if (o.example || n || o.source || o.out || o.trace)
            return args_usage_error(&cmd, "--list takes no other option or argument");
        return list_examples();
    }
    if (o.delimiter_text && cli_parse_delimiter(o.delimiter_text, &o.delimiter) != 0)
        return args_usage_error(&cmd, "--delimiter: %s", cli_delimiter_problem(o.delimiter_text));
    if (o.header_text && cli_parse_header(o.header_text, &o.header) != 0)
        return args_usage_error(&cmd, "--header: '%s' is not yes, no or auto", o.header_text);
    if (!o.out && !o.trace) return args_usage_error(&cmd, "give --out PAGE, --trace or both");
    if (o.example) {
        if (o.source || args_seen(&cmd, "row") || o.label || o.delimiter_text || o.header_text)
            return args_usage_error(&cmd, "--example: --data, --row, --label, --delimiter and "
                                          "--header are for a MODEL");
        if (o.out && nb_output_check(o.out) != NB_OK) {
            cli_error(CMD, "--out '%s': %s", o.out, nb_last_error());
            return CLI_EXIT_OUTPUT;
        }
        return run_example(&cmd, &o, positional, n);
    }
    if (n == 0) return args_usage_error(&cmd, "give --example NAME, or a MODEL file with --data");
    if (n > 1) return args_usage_error(&cmd, "one MODEL file, got %d arguments", n);
    if (!o.source) return args_usage_error(&cmd, "MODEL needs --data SOURCE (and --row K)");
    if ((rc = check_clash(&cmd, positional[0], &o)) != CLI_EXIT_OK) return rc;
    return run_model(&cmd, &o, positional[0]);
}
