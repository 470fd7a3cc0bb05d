/* nabla gradcheck: build a model from a spec on a few samples and compare
 * backward's gradients with central differences, tensor by tensor. */
#include "args.h"
#include "cli.h"
#include "prepare.h"

#include <math.h>
#include <string.h>

#define CMD "gradcheck"

/* The default step and pass mark for the build's number type. In double,
 * central differences with eps 1e-6 agree with backward to about 1e-8
 * relative. In float the loss is rounded to about 1e-7 of its size (more
 * after sums over hundreds of inputs), and dividing by 2 eps magnifies that:
 * eps 1e-3 gave relative errors up to 2e-2 on Fashion-MNIST; eps 1e-2 stays
 * below 1e-2 while its truncation error (eps^2 f'''(x) / 6) is about 1e-5. */
#ifdef NABLA_DOUBLE
#define DEFAULT_EPS 1e-6
#define DEFAULT_TOL 1e-6
#else
#define DEFAULT_EPS 1e-2
#define DEFAULT_TOL 1e-2
#endif
#define MAX_ENTRIES 256

static const char usage[] = "nabla gradcheck --model SPEC [--data SOURCE] [options]";

#define STR2(x)  #x
#define STR(x)   STR2(x)
#define EPS_TEXT STR(DEFAULT_EPS)
#define TOL_TEXT STR(DEFAULT_TOL)

static const char help[] =
    "usage: nabla gradcheck --model SPEC [--data SOURCE] [options]\n"
    "\n"
    "Build SPEC on the first samples of SOURCE's training part, read, scaled and\n"
    "checked exactly as train does (features and numeric targets scaled by the\n"
    "training part; a spec or loss train refuses is refused here too), and\n"
    "compare every parameter's gradient from backward with central differences\n"
    "(L(x+eps) - L(x-eps)) / 2eps. Prints each tensor's worst absolute and\n"
    "relative error, where relative is |a - n| / max(|a|, |n|, 0.01).\n"
    "\n"
    "  --model SPEC         layers, e.g. \"dense:8,tanh,dense:3\" (every kind: 'nabla\n"
    "                       train --help'; image layers need an IDX folder's data)\n"
    "  --data SOURCE        where the samples come from (default spiral)\n"
    "  --loss NAME          as for train (default: softmax_ce for classes, mse else)\n"
    "  --label COL          CSV label column;  --regression  the CSV label is a number\n"
    "  --delimiter D        CSV delimiter: ',', ';', tab, one byte or auto\n"
    "  --header H           yes|no|auto: is the first CSV row a header\n"
    "  --scale KIND         none|unit|minmax|zscore (default as for train)\n"
    "  --scale-targets KIND none|minmax|zscore for numeric targets (default zscore)\n"
    "  --samples N          samples in the batch (default 4)\n"
    "  --eps E              the finite-difference step (default " EPS_TEXT ")\n"
    "  --tolerance T        the largest relative error that passes (default " TOL_TEXT ")\n"
    "  --seed N             initial weights and the data split (default 1)\n"
    "\n"
    "The defaults suit this build (" NB_REAL_NAME "): double builds check to 1e-6,\n"
    "float builds to 1e-2 with a larger step. Exit code 0 when every tensor's\n"
    "relative error is within the tolerance, 1 when any is not (the check failed),\n"
    "2 usage (as for train: also a spec or loss that does not fit the data), 3 data.\n";

/* The gradcheck options that are not the data's. */
typedef struct check_args {
    const char *spec, *loss;
    int samples;
    double eps, tol;
} check_args;

static int run(const arg_command *cmd, const check_args *a, const cli_data_options *o)
{
    int rc = cli_model_check_options(cmd, a->spec, a->loss, o);
    if (rc >= 0) return rc;
    rc = cli_data_check_options(cmd, o);
    if (rc >= 0) return rc;
    nb_dataset train = {0}, test = {0};
    nb_model *model = NULL;
    nb_scaler scaler = {0}, target_scaler = {0};
    nb_scale_kind scale, target_scale;
    const char *source = o->source;
    /* The same reading, scaling and model checks as train's. */
    rc = cli_data_load(CMD, o, &train, &test, &scale, &target_scale, NULL);
    if (rc == CLI_EXIT_OK)
        rc = cli_data_scale(CMD, scale, target_scale, &train, NULL, NULL, &scaler, &target_scaler);
    size_t most = train.count < (size_t)a->samples ? train.count : (size_t)a->samples;
    int n = (int)most;
    if (rc == CLI_EXIT_OK) rc = cli_model_build(cmd, source, &train, a->spec, a->loss, n, &model);
    if (rc != CLI_EXIT_OK) goto done;
    nb_graph *g = nb_model_graph(model);
    nb_status st = nb_model_init(model, o->seed);
    if (st == NB_OK) st = nb_model_feed(model, &train, NULL, 0, n);
    if (st != NB_OK) {
        rc = cli_fail(CMD, st, CLI_STAGE_RUN, "setting up the check");
        goto done;
    }
    nb_gradcheck_entry entries[MAX_ENTRIES];
    int count = 0;
    st = nb_gradcheck(g, nb_model_loss(model), a->eps, entries, MAX_ENTRIES, &count);
    if (st != NB_OK) {
        rc = cli_fail(CMD, st, CLI_STAGE_RUN, "gradient check");
        goto done;
    }
    printf("gradient check of %s (loss %s) on %d samples of %s, eps %g, %s\n", a->spec,
           nb_model_loss_name(model), n, source, a->eps, NB_REAL_NAME);
    printf("%-16s %8s  %12s  %12s\n", "tensor", "values", "max abs err", "max rel err");
    double worst = 0;
    int failed = 0;
    for (int i = 0; i < count; i++) {
        const nb_gradcheck_entry *e = &entries[i];
        int ok = e->max_rel <= a->tol; /* false for NaN */
        failed += !ok;
        if (!(e->max_rel <= worst)) worst = e->max_rel;
        printf("%-16s %8zu  %12.3e  %12.3e  %s\n", e->name, e->count, e->max_abs, e->max_rel,
               ok ? "ok" : "FAIL");
    }
    if (count == 0) {
        cli_error(CMD, "the model has no gradients to check");
        rc = CLI_EXIT_FAILURE;
    } else if (failed) {
        printf("FAILED: %d of %d tensors have a relative error above %g\n", failed, count, a->tol);
        rc = CLI_EXIT_FAILURE;
        /* A step across a kink measures the kink, not the gradient. */
        static const char *const kinked[] = {"relu", "leaky_relu", "max_pool2d"};
        for (size_t k = 0; k < sizeof kinked / sizeof kinked[0]; k++)
            if (nb_graph_find_op(g, kinked[k], 0) != NB_NONE) {
                printf("note: the model has %s, whose kinks (ReLU at 0, max pooling's ties, "
                       "common on images with a blank background) a step of eps can cross; "
                       "a failure there is the finite difference's, not the gradient's: check "
                       "the same shapes with tanh and avgpool, or in a double build\n",
                       kinked[k]);
                break;
            }
    } else {
        printf("passed: worst relative error %.3e <= %g\n", worst, a->tol);
    }
done:
    nb_model_free(model);
    nb_scaler_free(&scaler);
    nb_scaler_free(&target_scaler);
    nb_dataset_free(&train);
    nb_dataset_free(&test);
    return rc;
}

int cmd_gradcheck(int argc, char **argv)
{
    check_args a = {.samples = 4, .eps = DEFAULT_EPS, .tol = DEFAULT_TOL};
    cli_data_options o = {.source = "spiral", .seed = 1};
    arg_option options[] = {
        {"model", ARG_STRING, &a.spec, 0, 0, 0},
        {"data", ARG_STRING, &o.source, 0, 0, 0},
        {"loss", ARG_STRING, &a.loss, 0, 0, 0},
        {"label", ARG_STRING, &o.label, 0, 0, 0},
        {"regression", ARG_FLAG, &o.regression, 0, 0, 0},
        {"delimiter", ARG_STRING, &o.delimiter, 0, 0, 0},
        {"header", ARG_STRING, &o.header, 0, 0, 0},
        {"scale", ARG_STRING, &o.scale, 0, 0, 0},
        {"scale-targets", ARG_STRING, &o.scale_targets, 0, 0, 0},
        {"samples", ARG_INT, &a.samples, 1, 4096, 0},
        {"eps", ARG_REAL, &a.eps, 1e-12, 1, 0},
        {"tolerance", ARG_REAL, &a.tol, 0, 1e300, 0},
        {"seed", ARG_U64, &o.seed, 0, 0, 0},
    };
    arg_command cmd = {CMD, usage, help, options, (int)(sizeof options / sizeof options[0]), 0, 0};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (!a.spec) return args_usage_error(&cmd, "missing --model SPEC");
    return run(&cmd, &a, &o);
}
