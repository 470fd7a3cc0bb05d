/* nabla info: what a model file holds. */
#include "args.h"
#include "cli.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CMD "info"

static const char usage[] = "nabla info MODEL [--json]";

static const char help[] =
    "usage: nabla info MODEL [--json]\n"
    "\n"
    "Show a model file: layer spec (or, for a model built as a graph, its node\n"
    "and op counts), loss, inputs, outputs, the input nodes in order (the order of\n"
    "a sample's features, as predict reads them), the output and target nodes, each\n"
    "with its shape per sample, parameter count, every tensor with its shape, the\n"
    "scaler, class names, the training settings and test metrics saved by 'nabla\n"
    "train', and every other metadata key.\n"
    "\n"
    "  --json   print one JSON object instead\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 4 model file (missing, malformed, inconsistent).\n";

/* A value from the file as one line: a string as it is, anything else as
 * compact JSON, with control characters and bytes that are not UTF-8
 * escaped (a crafted file could otherwise move the cursor or forge a line). */
static void print_value(const cJSON *it)
{
    char buf[256];
    if (cJSON_IsString(it)) {
        fputs(nb_escape(buf, sizeof buf, it->valuestring), stdout);
        return;
    }
    char *text = cJSON_PrintUnformatted(it);
    if (text && strlen(text) > 80 && (cJSON_IsArray(it) || cJSON_IsObject(it)))
        printf("(%d %s; see --json)", cJSON_GetArraySize(it),
               nb_plural(cJSON_GetArraySize(it), "entry", "entries"));
    else
        fputs(text ? nb_escape(buf, sizeof buf, text) : "?", stdout);
    free(text);
}

/* Print a JSON object's members as "  key value" lines (anything else on
 * the title's line). */
static void print_members(const char *title, const cJSON *obj)
{
    if (!obj) return;
    if (!cJSON_IsObject(obj)) {
        printf("%s: ", title);
        print_value(obj);
        putchar('\n');
        return;
    }
    if (!obj->child) return;
    printf("%s:\n", title);
    char key[NB_ESCAPE_SIZE];
    for (const cJSON *it = obj->child; it; it = it->next) {
        printf("  %-16s ", nb_escape(key, sizeof key, it->string));
        print_value(it);
        putchar('\n');
    }
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The metadata keys besides "training" and "metrics" (set with
 * nb_model_set_meta), as one object of key -> parsed value, keys sorted;
 * NULL when there are none or out of memory (*oom set). */
static cJSON *other_metadata(const nb_model *model, int *oom)
{
    int count = nb_model_meta_count(model), n = 0;
    *oom = 0;
    if (count == 0) return NULL;
    const char **keys = malloc((size_t)count * sizeof *keys);
    cJSON *all = cJSON_CreateObject();
    if (!keys || !all) goto fail;
    for (int i = 0; i < count; i++) {
        const char *key = nb_model_meta_key(model, i);
        if (strcmp(key, "training") != 0 && strcmp(key, "metrics") != 0) keys[n++] = key;
    }
    qsort(keys, (size_t)n, sizeof *keys, by_text);
    for (int i = 0; i < n; i++) {
        cJSON *v = cli_model_meta_json(model, keys[i]);
        if (!v || !cJSON_AddItemToObject(all, keys[i], v)) {
            cJSON_Delete(v);
            goto fail;
        }
    }
    free(keys);
    if (n > 0) return all;
    cJSON_Delete(all);
    return NULL;
fail:
    free(keys);
    cJSON_Delete(all);
    *oom = 1;
    return NULL;
}

/* A model without a spec: its nodes counted by op ("input", "param",
 * "const" or the op's name), in order of first appearance; NULL when out
 * of memory. */
static cJSON *graph_ops(nb_graph *g)
{
    cJSON *ops = cJSON_CreateObject();
    for (int i = 0; ops && i < nb_graph_node_count(g); i++) {
        const char *op = nb_node_op(g, i);
        cJSON *n = cJSON_GetObjectItemCaseSensitive(ops, op);
        if (n) {
            cJSON_SetNumberValue(n, n->valuedouble + 1);
        } else if (!cJSON_AddNumberToObject(ops, op, 1)) {
            cJSON_Delete(ops);
            ops = NULL;
        }
    }
    return ops;
}

/* A node's shape per sample: its shape without the batch (the first
 * dimension); [] for one value per sample (a class index). */
static nb_shape per_sample(nb_graph *g, nb_node node)
{
    nb_shape s = nb_node_shape(g, node), out = nb_shape0();
    out.ndim = s.ndim > 0 ? s.ndim - 1 : 0;
    for (int i = 0; i < out.ndim; i++) out.dim[i] = s.dim[i + 1];
    return out;
}

static cJSON *node_json(nb_graph *g, nb_node node)
{
    nb_shape s = per_sample(g, node);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", nb_node_name(g, node));
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < s.ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(s.dim[d]));
    return o;
}

/* The model's input nodes in order (a sample's features are input 0's
 * values, then input 1's, ...: the CSV columns predict reads), its output
 * and its target, each with its shape per sample. */
static void add_roles_json(cJSON *j, const nb_model *model, nb_graph *g)
{
    cJSON *inputs = cJSON_AddArrayToObject(j, "input_nodes");
    for (int i = 0; i < nb_model_input_count(model); i++) {
        nb_node in = nb_model_input_at(model, i);
        cJSON *o = node_json(g, in);
        cJSON_AddNumberToObject(o, "features", (double)nb_shape_count(per_sample(g, in)));
        cJSON_AddItemToArray(inputs, o);
    }
    cJSON_AddItemToObject(j, "output_node", node_json(g, nb_model_output(model)));
    cJSON_AddItemToObject(j, "target_node", node_json(g, nb_model_target(model)));
}

static void print_roles(const nb_model *model, nb_graph *g)
{
    char name[NB_ESCAPE_SIZE], shape[64];
    size_t first = 1;
    for (int i = 0; i < nb_model_input_count(model); i++) {
        nb_node in = nb_model_input_at(model, i);
        nb_shape s = per_sample(g, in);
        size_t n = nb_shape_count(s);
        printf("input node  %s %s (", nb_escape(name, sizeof name, nb_node_name(g, in)),
               nb_shape_format(s, shape, sizeof shape));
        if (n == 1)
            printf("feature %zu)\n", first);
        else
            printf("features %zu-%zu)\n", first, first + n - 1);
        first += n;
    }
    printf("output node %s %s\n",
           nb_escape(name, sizeof name, nb_node_name(g, nb_model_output(model))),
           nb_shape_format(per_sample(g, nb_model_output(model)), shape, sizeof shape));
    printf("target node %s %s\n",
           nb_escape(name, sizeof name, nb_node_name(g, nb_model_target(model))),
           nb_shape_format(per_sample(g, nb_model_target(model)), shape, sizeof shape));
}

/* A node the model file stores as a tensor: a parameter, a buffer (stored
 * state such as a batch norm's running mean) or a constant. */
static int is_tensor(nb_graph *g, int i)
{
    const char *op = nb_node_op(g, i);
    return nb_node_is_param(g, i) || strcmp(op, "const") == 0 || strcmp(op, "buffer") == 0;
}

static int run(const char *path, int json)
{
    nb_model *model = NULL;
    int rc = cli_load_model(CMD, path, &model);
    if (rc != CLI_EXIT_OK) return rc;
    nb_graph *g = nb_model_graph(model);
    size_t params = 0, state = 0;
    nb_graph_params(g, &params);
    nb_graph_state(g, &state);
    const nb_scaler *scaler = nb_model_scaler(model);
    const char *scale = nb_scale_name(scaler ? scaler->kind : NB_SCALE_NONE);
    int classes = nb_model_class_count(model);
    cJSON *training = cli_model_meta_json(model, "training");
    cJSON *metrics = cli_model_meta_json(model, "metrics");
    int oom;
    cJSON *other = other_metadata(model, &oom);
    const char *spec = nb_model_spec(model);
    cJSON *ops = spec ? NULL : graph_ops(g);
    cJSON *j = oom || (!spec && !ops) ? NULL : cJSON_CreateObject();
    if (!j) {
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, NULL);
        goto done;
    }
    cJSON_AddStringToObject(j, "file", path);
    if (spec) {
        cJSON_AddStringToObject(j, "spec", spec);
    } else {
        cJSON_AddNullToObject(j, "spec");
        cJSON *graph = cJSON_AddObjectToObject(j, "graph");
        cJSON_AddNumberToObject(graph, "nodes", nb_graph_node_count(g));
        cJSON_AddItemReferenceToObject(graph, "ops", ops);
    }
    cJSON_AddStringToObject(j, "loss", nb_model_loss_name(model));
    cJSON_AddNumberToObject(j, "inputs", nb_model_inputs(model));
    cJSON_AddNumberToObject(j, "outputs", nb_model_outputs(model));
    add_roles_json(j, model, g);
    cJSON_AddNumberToObject(j, "parameters", (double)params);
    cJSON_AddNumberToObject(j, "buffer_values", (double)(state - params));
    cJSON *tensors = cJSON_AddArrayToObject(j, "tensors");
    for (int i = 0; i < nb_graph_node_count(g); i++) {
        if (!is_tensor(g, i)) continue;
        nb_shape s = nb_node_shape(g, i);
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", nb_node_name(g, i));
        cJSON_AddStringToObject(t, "kind", nb_node_op(g, i));
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < s.ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(s.dim[d]));
        cJSON_AddNumberToObject(t, "count", (double)nb_shape_count(s));
        cJSON_AddItemToArray(tensors, t);
    }
    cJSON_AddStringToObject(j, "scale", scale);
    cJSON *names = cJSON_AddArrayToObject(j, "class_names");
    for (int i = 0; i < classes; i++) {
        const char *name = nb_model_class_name(model, i);
        cJSON_AddItemToArray(names, name ? cJSON_CreateString(name) : cJSON_CreateNull());
    }
    if (json) {
        if (training) cJSON_AddItemReferenceToObject(j, "training", training);
        if (metrics) cJSON_AddItemReferenceToObject(j, "metrics", metrics);
        if (other) cJSON_AddItemReferenceToObject(j, "metadata", other);
        char *text = cli_json_text(j);
        if (!text) {
            rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, NULL);
            goto done;
        }
        puts(text);
        nb_free(text);
    } else {
        char buf[2 * NB_SPEC_MAX];
        printf("file        %s\n", nb_escape(buf, sizeof buf, path));
        if (spec) {
            printf("spec        %s\n", nb_escape(buf, sizeof buf, spec));
        } else {
            printf("graph       %d nodes (no spec):", nb_graph_node_count(g));
            for (const cJSON *op = ops->child; op; op = op->next)
                printf("%s %s %d", op == ops->child ? "" : ",", op->string, op->valueint);
            putchar('\n');
        }
        printf("loss        %s\n", nb_model_loss_name(model));
        printf("inputs      %d\n", nb_model_inputs(model));
        printf("outputs     %d\n", nb_model_outputs(model));
        print_roles(model, g);
        printf("parameters  %zu\n", params);
        if (state > params) printf("buffers     %zu values (not trained)\n", state - params);
        printf("scale       %s", scale);
        if (scaler && scaler->kind != NB_SCALE_NONE)
            printf(" (%d %s)", scaler->features,
                   nb_plural(scaler->features, "feature", "features"));
        putchar('\n');
        if (classes > 0) {
            printf("classes     %d:", classes);
            for (int i = 0; i < classes; i++) {
                const char *name = nb_model_class_name(model, i);
                printf("%s %s", i ? "," : "", name ? nb_escape(buf, sizeof buf, name) : "?");
            }
            putchar('\n');
        }
        printf("tensors:\n");
        char shape[64];
        int width = 16; /* the longest name, up to 40 columns */
        for (int i = 0; i < nb_graph_node_count(g); i++) {
            int len =
                is_tensor(g, i) ? (int)strlen(nb_escape(buf, sizeof buf, nb_node_name(g, i))) : 0;
            if (len > width) width = len < 40 ? len : 40;
        }
        for (int i = 0; i < nb_graph_node_count(g); i++) {
            if (!is_tensor(g, i)) continue;
            nb_shape s = nb_node_shape(g, i);
            const char *kind = nb_node_op(g, i);
            printf("  %-*s %-14s ", width, nb_escape(buf, sizeof buf, nb_node_name(g, i)),
                   nb_shape_format(s, shape, sizeof shape));
            if (strcmp(kind, "param") == 0)
                printf("%zu\n", nb_shape_count(s));
            else /* a buffer or a constant: not trained */
                printf("%-8zu %s\n", nb_shape_count(s), kind);
        }
        print_members("training", training);
        print_members("metrics", metrics);
        print_members("metadata", other);
    }
    if (fflush(stdout) != 0) rc = CLI_EXIT_OUTPUT;
done:
    cJSON_Delete(j);
    cJSON_Delete(ops);
    cJSON_Delete(training);
    cJSON_Delete(metrics);
    cJSON_Delete(other);
    nb_model_free(model);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    int json = 0;
    arg_option options[] = {{"json", ARG_FLAG, &json, 0, 0, 0}};
    arg_command cmd = {CMD, usage, help, options, 1, 0, 1};
    char *positional[1];
    int n;
    int rc = args_parse(&cmd, argc, argv, positional, &n);
    if (rc >= 0) return rc;
    if (n < 1) return args_usage_error(&cmd, "missing MODEL file");
    return run(positional[0], json);
}
