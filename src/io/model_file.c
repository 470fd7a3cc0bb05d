/* Model files: safetensors with nabla's metadata, the graph included
 * (format version 2; version 1 files, which hold the spec alone, still
 * load). Saving is atomic (a temporary file in the same directory,
 * flushed, synced and renamed over the old one); loading checks every
 * field before it is used. */
#include "model_file.h"

#include "graph_json.h"
#include "nn/model_internal.h"
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCALER_OFFSET "scaler.offset"
#define SCALER_SCALE  "scaler.scale"
#define TARGET_OFFSET "target_scaler.offset"
#define TARGET_SCALE  "target_scaler.scale"
#define GRAPH_WHAT    "metadata \"graph\""

/* ------------------------------------------------------------------ save */

/* One tensor to write (or to read into). */
typedef nb_st_out out_tensor;

/* The model's tensors: its parameters, buffers and constants in creation order,
 * then the scaler's two arrays, then the target scaler's; an nb_malloc'd
 * list. More than a file holds (NB_MAX_TENSORS) is NB_ERR_LIMIT. */
static nb_status list_tensors(const nb_model *m, out_tensor **out, int *count)
{
    nb_graph *g = m->graph;
    const nb_scaler *s = &m->scaler, *ts = &m->target_scaler;
    size_t n = 0;
    *out = NULL;
    *count = 0;
    for (int i = 0; i < g->count; i++)
        n += nb_kind_is_state(g->nodes[i].kind) || g->nodes[i].kind == NB_NODE_CONST;
    n += (s->kind != NB_SCALE_NONE ? 2 : 0) + (ts->kind != NB_SCALE_NONE ? 2 : 0);
    if (n > NB_MAX_TENSORS)
        return nb_error(
            NB_ERR_LIMIT,
            "the model has %zu tensors (parameters, buffers, constants and scaler arrays), "
            "more than a file holds (%d, NB_MAX_TENSORS)",
            n, NB_MAX_TENSORS);
    out_tensor *t = nb_calloc(n ? n : 1, sizeof *t);
    if (!t) return nb_error(NB_ERR_MEMORY, "out of memory for a list of %zu tensors", n);
    int k = 0;
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *r = &g->nodes[i];
        if (nb_kind_is_state(r->kind) || r->kind == NB_NODE_CONST)
            t[k++] = (out_tensor){r->name, r->shape,
                                  r->kind == NB_NODE_CONST ? r->const_data : r->value};
    }
    if (s->kind != NB_SCALE_NONE) {
        t[k++] = (out_tensor){SCALER_OFFSET, nb_shape1(s->features), s->offset};
        t[k++] = (out_tensor){SCALER_SCALE, nb_shape1(s->features), s->scale};
    }
    if (ts->kind != NB_SCALE_NONE) {
        t[k++] = (out_tensor){TARGET_OFFSET, nb_shape1(ts->features), ts->offset};
        t[k++] = (out_tensor){TARGET_SCALE, nb_shape1(ts->features), ts->scale};
    }
    *out = t;
    *count = k;
    return NB_OK;
}

static int add_meta(cJSON *meta, const char *key, const char *value)
{
    return cJSON_AddStringToObject(meta, key, value) != NULL;
}

static int add_meta_int(cJSON *meta, const char *key, int value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", value);
    return add_meta(meta, key, buf);
}

static int add_class_names(cJSON *meta, const nb_model *m)
{
    cJSON *names = cJSON_CreateArray();
    int ok = names != NULL;
    for (int i = 0; ok && i < m->class_count; i++) {
        cJSON *s = cJSON_CreateString(m->class_names[i]);
        ok = s && cJSON_AddItemToArray(names, s);
    }
    char *text = ok ? cJSON_PrintUnformatted(names) : NULL;
    ok = text && add_meta(meta, "class_names", text);
    cJSON_free(text);
    cJSON_Delete(names);
    return ok;
}

/* The header's JSON: nabla's metadata (the tensors are added by
 * nb_st_write), graph its graph's text. NULL when out of memory. */
static cJSON *make_header(const nb_model *m, const char *graph)
{
    cJSON *root = cJSON_CreateObject(),
          *meta = root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    int ok = meta != NULL;
    ok = ok && add_meta(meta, "format", "nabla");
    ok = ok && add_meta_int(meta, "format_version", NB_MODEL_FORMAT_VERSION);
    if (m->spec[0]) ok = ok && add_meta(meta, "spec", m->spec);
    ok = ok && add_meta(meta, "loss", nb_model_loss_name(m));
    ok = ok && add_meta_int(meta, "inputs", m->inputs_total);
    ok = ok && add_meta_int(meta, "outputs", m->outputs);
    ok = ok && add_meta(meta, "scale", nb_scale_name(m->scaler.kind));
    /* Only when set: files without it load as unscaled targets. */
    if (m->target_scaler.kind != NB_SCALE_NONE)
        ok = ok && add_meta(meta, "target_scale", nb_scale_name(m->target_scaler.kind));
    ok = ok && add_class_names(meta, m);
    ok = ok && add_meta(meta, "graph", graph);
    for (int i = 0; ok && i < m->meta_count; i++)
        ok = add_meta(meta, m->meta[i].key, m->meta[i].json);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static nb_status write_failed(void)
{
    return nb_error(NB_ERR_IO, "write failed: %s", strerror(errno ? errno : EIO));
}

/* The file's bytes; the message names no file (the caller does, once). */
static nb_status write_file(const nb_model *m, FILE *f)
{
    out_tensor *t = NULL;
    int count = 0;
    char *graph = NULL;
    nb_status st = m->outputs > NB_MAX_FEATURES
                       ? nb_error(NB_ERR_LIMIT,
                                  "the model has %d outputs per sample, more than a file holds "
                                  "(%d, NB_MAX_FEATURES)",
                                  m->outputs, NB_MAX_FEATURES)
                       : list_tensors(m, &t, &count);
    if (st == NB_OK) st = nb_model_graph_json(m, &graph);
    cJSON *root = st == NB_OK ? make_header(m, graph) : NULL;
    if (st == NB_OK)
        st = root ? nb_st_write(f, root, t, count)
                  : nb_error(NB_ERR_MEMORY, "out of memory for the header");
    nb_free(graph);
    nb_free(t);
    if (st != NB_OK) return st;
    errno = 0;
    return fflush(f) != 0 || ferror(f) ? write_failed() : NB_OK;
}

nb_status nb_model_write(const nb_model *m, FILE *f, const char *path)
{
    if (!m || !f) return nb_error(NB_ERR_ARGUMENT, "writing a model: no model or file");
    if (!path) path = "(stream)";
    nb_status st = write_file(m, f);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "saving model \"%s\"", path);
}

static nb_status write_model(FILE *f, const void *user)
{
    return write_file(user, f);
}

nb_status nb_model_save(const nb_model *m, const char *path)
{
    if (!m || !path || !path[0])
        return nb_error(NB_ERR_ARGUMENT, "saving a model: no model or path");
    nb_status st = nb_write_atomic(path, write_model, m);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "saving model \"%s\"", path);
}

/* ------------------------------------------------------------------ load */

static const char *meta_string(const nb_st_header *h, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static nb_status meta_required(const nb_st_header *h, const char *key, const char **out)
{
    *out = meta_string(h, key);
    if (!*out) return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is missing", key);
    return NB_OK;
}

/* A decimal integer in [lo, hi], nothing else: no sign, no space, no
 * leading zero (which some readers take for octal). */
static nb_status meta_int(const nb_st_header *h, const char *key, long lo, long hi, int *out)
{
    const char *s;
    nb_status st = meta_required(h, key, &s);
    if (st != NB_OK) return st;
    char *end = NULL, q[40];
    errno = 0;
    int digits = s[0] >= '0' && s[0] <= '9' && !(s[0] == '0' && s[1]);
    long v = digits ? strtol(s, &end, 10) : 0;
    if (!digits || *end || errno || v < lo || v > hi)
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is \"%s\", not an integer in [%ld, %ld]",
                        key, nb_escape(q, sizeof q, s), lo, hi);
    *out = (int)v;
    return NB_OK;
}

static nb_status load_class_names(nb_model *m, const char *text)
{
    cJSON *arr;
    nb_status st = nb_json_parse(text, NB_ERR_FORMAT, "metadata \"class_names\"", &arr);
    if (st != NB_OK) return st;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 0 || n > NB_MAX_CLASSES)
        st = nb_error(NB_ERR_FORMAT,
                      "metadata \"class_names\" is not a JSON array of at most %d names",
                      NB_MAX_CLASSES);
    char **names = n > 0 ? nb_calloc((size_t)n, sizeof *names) : NULL;
    if (st == NB_OK && n > 0 && !names)
        st = nb_error(NB_ERR_MEMORY, "out of memory for class names");
    int i = 0;
    for (const cJSON *s = arr ? arr->child : NULL; st == NB_OK && s; s = s->next, i++) {
        if (!cJSON_IsString(s))
            st = nb_error(NB_ERR_FORMAT, "metadata \"class_names\": item %d is not a string", i);
        else
            names[i] = s->valuestring;
    }
    if (st == NB_OK && n > 0) {
        st = nb_model_set_class_names(m, names, n);
        if (st != NB_OK) st = nb_error_prefix(NB_ERR_FORMAT, "metadata \"class_names\"");
    }
    nb_free(names);
    cJSON_Delete(arr);
    return st;
}

/* The file's tensors must be exactly the model's, shape for shape. owner
 * names what needs them in messages (spec "...", the graph). */
static nb_status match_tensors(const nb_model *m, const nb_st_header *h, const out_tensor *want,
                               int count, const char *owner, const char *needs)
{
    char a[64], b[64], q[NB_ESCAPE_SIZE];
    for (int i = 0; i < count; i++) {
        const nb_st_tensor *t = nb_st_find(h, want[i].name);
        if (!t)
            return nb_error(NB_ERR_FORMAT, "tensor \"%s\" %s of %s is missing",
                            nb_escape(q, sizeof q, want[i].name),
                            nb_shape_format(want[i].shape, a, sizeof a), owner);
        if (!nb_shape_equal(t->shape, want[i].shape))
            return nb_error(NB_ERR_SHAPE, "tensor \"%s\" has shape %s in the file, but %s needs %s",
                            nb_escape(q, sizeof q, want[i].name),
                            nb_shape_format(t->shape, a, sizeof a), needs,
                            nb_shape_format(want[i].shape, b, sizeof b));
    }
    if (h->count != count) /* no duplicates, so some name is not the model's */
        for (int i = 0; i < h->count; i++) {
            int known = 0;
            for (int k = 0; k < count && !known; k++)
                known = strcmp(h->tensors[i].name, want[k].name) == 0;
            if (!known)
                return nb_error(NB_ERR_FORMAT, "tensor \"%s\" %s is not part of %s%s",
                                nb_escape(q, sizeof q, h->tensors[i].name),
                                nb_shape_format(h->tensors[i].shape, a, sizeof a), owner,
                                m->scaler.kind == NB_SCALE_NONE &&
                                        strncmp(h->tensors[i].name, "scaler.", 7) == 0
                                    ? " (the metadata says scale \"none\")"
                                : m->target_scaler.kind == NB_SCALE_NONE &&
                                        strncmp(h->tensors[i].name, "target_scaler.", 14) == 0
                                    ? " (the metadata has no \"target_scale\")"
                                    : "");
        }
    return NB_OK;
}

static nb_status read_tensors(FILE *f, uint64_t data_start, const nb_st_header *h,
                              const out_tensor *want, int count)
{
    for (int i = 0; i < count; i++) {
        const nb_st_tensor *t = nb_st_find(h, want[i].name);
        uint64_t at = data_start + t->begin;
        char q[NB_ESCAPE_SIZE];
        if (at > (uint64_t)LLONG_MAX || fseeko(f, (off_t)at, SEEK_SET) != 0)
            return nb_error(NB_ERR_IO, "tensor \"%s\": cannot seek to file byte %llu",
                            nb_escape(q, sizeof q, want[i].name), (unsigned long long)at);
        nb_status st =
            nb_st_read_values(f, t->dsize, t->count, (nb_real *)want[i].values, want[i].name);
        if (st != NB_OK) return st;
    }
    return NB_OK;
}

/* A scaler's values as read: x' = (x - offset) * scale needs a finite
 * offset and a finite scale > 0 (no fit writes anything else); predictions
 * divide by a target scale. */
static nb_status check_scaler(const nb_scaler *s, const char *offset_name, const char *scale_name)
{
    for (int j = 0; s->kind != NB_SCALE_NONE && j < s->features; j++)
        if (!isfinite(s->offset[j]) || !isfinite(s->scale[j]) || !(s->scale[j] > 0))
            return nb_error(NB_ERR_FORMAT,
                            "tensors \"%s\" and \"%s\": element %d has offset %g, scale %g (a "
                            "finite offset and a finite scale > 0 expected)",
                            offset_name, scale_name, j, (double)s->offset[j], (double)s->scale[j]);
    return NB_OK;
}

/* An identity scaler of kind on count values, filled from the file later. */
static nb_status placeholder_scaler(nb_model *m, nb_scale_kind kind, int count, int target)
{
    nb_real *ones = nb_malloc((size_t)count * sizeof *ones);
    nb_real *zeros = nb_calloc((size_t)count, sizeof *zeros);
    for (int j = 0; ones && j < count; j++) ones[j] = 1;
    nb_scaler s = {kind, count, zeros, ones};
    nb_status st = !ones || !zeros ? nb_error(NB_ERR_MEMORY, "out of memory for the scaler")
                   : target        ? nb_model_set_target_scaler(m, &s)
                                   : nb_model_set_scaler(m, &s);
    nb_free(ones);
    nb_free(zeros);
    return st;
}

/* A spec's parameters must be tensors of the file, of their shapes (in
 * version 1 they are the file's tensors; in version 2 they are the graph's,
 * whose tensors are checked already). Checked on the graph the spec builds
 * on input x, not compiled (nothing is allocated for values), before its
 * model is made: a spec of huge layers in a small file is refused, not
 * allocated. A spec that does not parse passes here; making the model
 * says why. */
static nb_status check_spec_tensors(const nb_st_header *h, const char *spec, nb_shape x_shape)
{
    nb_spec layers;
    if (nb_spec_parse(spec, &layers) != NB_OK) return NB_OK;
    nb_graph *g = nb_graph_create();
    if (!g) return nb_error(NB_ERR_MEMORY, "out of memory for the spec's graph");
    nb_node x = nb_input(g, "x", x_shape), y;
    nb_status st = nb_spec_build(g, &layers, x, &y);
    char a[64], b[64], q[NB_ESCAPE_SIZE], sq[NB_ESCAPE_SIZE];
    nb_escape(sq, sizeof sq, spec);
    for (int i = 0; st == NB_OK && i < nb_graph_node_count(g); i++) {
        if (!nb_node_is_param(g, i)) continue;
        const char *name = nb_node_name(g, i);
        nb_shape want = nb_node_shape(g, i);
        const nb_st_tensor *t = nb_st_find(h, name);
        if (!t)
            st = nb_error(NB_ERR_FORMAT, "tensor \"%s\" %s of spec \"%s\" is missing",
                          nb_escape(q, sizeof q, name), nb_shape_format(want, a, sizeof a), sq);
        else if (!nb_shape_equal(t->shape, want))
            st = nb_error(NB_ERR_SHAPE,
                          "tensor \"%s\" has shape %s in the file, but the spec needs %s",
                          nb_escape(q, sizeof q, name), nb_shape_format(t->shape, a, sizeof a),
                          nb_shape_format(want, b, sizeof b));
    }
    nb_graph_free(g);
    return st;
}

/* Version 1: the model the spec builds. */
static nb_status build_v1(const nb_st_header *h, nb_model **out)
{
    const char *spec, *loss;
    int inputs, outputs;
    nb_status st;
    *out = NULL;
    if ((st = meta_required(h, "spec", &spec)) != NB_OK ||
        (st = meta_required(h, "loss", &loss)) != NB_OK ||
        (st = meta_int(h, "inputs", 1, NB_MAX_FEATURES, &inputs)) != NB_OK ||
        (st = meta_int(h, "outputs", 1, NB_MAX_UNITS, &outputs)) != NB_OK ||
        (st = check_spec_tensors(h, spec, nb_shape2(NB_LOAD_BATCH, inputs))) != NB_OK)
        return st;
    nb_model *m;
    if ((st = nb_model_create(spec, inputs, loss, NB_LOAD_BATCH, &m)) != NB_OK)
        return nb_error_prefix(NB_ERR_FORMAT, "metadata describes no valid model");
    if (m->outputs != outputs) {
        char sq[NB_ESCAPE_SIZE];
        st = nb_error(NB_ERR_FORMAT, "metadata \"outputs\" is %d, but spec \"%s\" has %d", outputs,
                      nb_escape(sq, sizeof sq, spec), m->outputs);
        nb_model_free(m);
        return st;
    }
    *out = m;
    return NB_OK;
}

/* What building a graph from the file refused, as a file's error: a
 * shape, a limit or memory stays what it is, anything else (an attribute,
 * an arity, a role) is the file's format. */
static nb_status file_status(nb_status st)
{
    return st == NB_ERR_SHAPE || st == NB_ERR_LIMIT || st == NB_ERR_MEMORY ? st : NB_ERR_FORMAT;
}

/* Every parameter, buffer and constant of the graph is a tensor of the file, of
 * its shape: checked before the graph is built, so that nothing is
 * allocated for a tensor the file does not hold. */
static nb_status check_leaf_tensors(const nb_st_header *h, const nb_graph_desc *d)
{
    char a[64], b[64], q[NB_ESCAPE_SIZE];
    for (int i = 0; i < d->count; i++) {
        const nb_gnode *n = &d->nodes[i];
        nb_shape want;
        if (!nb_kind_is_state(n->kind) && n->kind != NB_NODE_CONST) continue;
        nb_gshape_at(&n->shape, NB_LOAD_BATCH, &want); /* no batch dimension */
        const nb_st_tensor *t = nb_st_find(h, n->name);
        if (!t)
            return nb_error(NB_ERR_FORMAT, "tensor \"%s\" %s of the graph is missing",
                            nb_escape(q, sizeof q, n->name), nb_shape_format(want, a, sizeof a));
        if (!nb_shape_equal(t->shape, want))
            return nb_error(NB_ERR_SHAPE,
                            "tensor \"%s\" has shape %s in the file, but the graph needs %s",
                            nb_escape(q, sizeof q, n->name), nb_shape_format(t->shape, a, sizeof a),
                            nb_shape_format(want, b, sizeof b));
    }
    return NB_OK;
}

/* A spec in a version-2 file must build the graph the file holds (the
 * graph is what is used; the spec says where it came from). */
static nb_status check_spec(const nb_st_header *h, nb_model *m, const char *spec, const char *loss)
{
    char sq[NB_ESCAPE_SIZE], why[384];
    nb_escape(sq, sizeof sq, spec);
    if (m->n_inputs != 1)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"spec\" (\"%s\") is for one input; the graph has %d", sq,
                        m->n_inputs);
    nb_shape x = nb_node_shape(m->graph, m->x), sample = {x.ndim - 1, {0}};
    for (int i = 1; i < x.ndim; i++) sample.dim[i - 1] = x.dim[i];
    nb_status st = check_spec_tensors(h, spec, x);
    if (st != NB_OK) return st;
    /* The spec's model is compiled at the load batch too: m lets go of its
     * activations meanwhile and is compiled again after, so that loading
     * never holds two (its parameters stay). */
    nb_graph *g = m->graph;
    nb_free(g->arena);
    g->arena = NULL;
    g->arena_capacity = 0;
    g->compiled = 0;
    nb_model *s;
    st = nb_model_create_shaped(spec, sample, loss, NB_LOAD_BATCH, &s);
    if (st != NB_OK) {
        st = nb_error_prefix(file_status(st), "metadata \"spec\"");
    } else {
        if (nb_model_graph_diff(s, m, "by the spec", "in the graph", why, sizeof why) >= 0)
            st =
                nb_error(NB_ERR_FORMAT,
                         "metadata \"spec\" (\"%s\") does not build the file's graph: %s", sq, why);
        else
            memcpy(m->spec, s->spec, sizeof m->spec);
        nb_model_free(s);
    }
    if (st == NB_OK) st = nb_graph_compile(g);
    return st;
}

/* Version 2: the model the graph describes (its spec, when it has one,
 * must build the same graph). */
static nb_status build_v2(const nb_st_header *h, nb_model **out)
{
    const char *text, *loss, *spec = meta_string(h, "spec");
    int inputs, outputs;
    nb_status st;
    *out = NULL;
    if ((st = meta_required(h, "graph", &text)) != NB_OK ||
        (st = meta_required(h, "loss", &loss)) != NB_OK ||
        (st = meta_int(h, "inputs", 1, NB_MAX_FEATURES, &inputs)) != NB_OK ||
        (st = meta_int(h, "outputs", 1, INT_MAX, &outputs)) != NB_OK)
        return st;
    /* predict and eval hold a batch of outputs: bounded as the inputs are. */
    if (outputs > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT,
                        "metadata \"outputs\" is %d, more output values per sample than a model "
                        "file holds (%d, NB_MAX_FEATURES)",
                        outputs, NB_MAX_FEATURES);
    nb_graph_desc d;
    if ((st = nb_graph_desc_parse(text, GRAPH_WHAT, &d)) != NB_OK) return st;
    nb_graph *g = NULL;
    nb_model_roles roles;
    nb_model *m = NULL;
    if ((st = check_leaf_tensors(h, &d)) == NB_OK) {
        /* Built at a second batch too, so that a dimension the file calls
         * fixed or a multiple of the batch is checked to be that. */
        nb_graph *other = NULL;
        nb_model_roles unused;
        st = nb_graph_desc_build(&d, NB_LOAD_BATCH, NB_MAX_ACTIVATIONS, &g, &roles);
        if (st != NB_OK) {
            st = nb_error_prefix(file_status(st), GRAPH_WHAT);
        } else if ((st = nb_graph_desc_build(&d, NB_LOAD_BATCH + 1, 0, &other, &unused)) != NB_OK) {
            /* The op messages quote shapes at batch 33: say which batch. */
            st = nb_error_prefix(file_status(st),
                                 GRAPH_WHAT ": the graph does not build at batch %d",
                                 NB_LOAD_BATCH + 1);
        }
        nb_graph_free(other);
        if (st != NB_OK) {
            nb_graph_free(g);
            g = NULL;
        }
    }
    if (st == NB_OK && (st = nb_model_from_graph(g, &roles, &m)) != NB_OK)
        st = nb_error_prefix(file_status(st), GRAPH_WHAT);
    nb_graph_desc_free(&d);
    if (st != NB_OK) return st;
    char q[NB_ESCAPE_SIZE];
    if (strcmp(loss, m->loss_name) != 0)
        st = nb_error(NB_ERR_FORMAT, "metadata \"loss\" is \"%s\", but the graph's loss is %s",
                      nb_escape(q, sizeof q, loss), m->loss_name);
    else if (inputs != m->inputs_total)
        st = nb_error(NB_ERR_FORMAT, "metadata \"inputs\" is %d, but the graph's inputs take %d",
                      inputs, m->inputs_total);
    else if (outputs != m->outputs)
        st = nb_error(NB_ERR_FORMAT, "metadata \"outputs\" is %d, but the graph's output has %d",
                      outputs, m->outputs);
    else if (spec)
        st = check_spec(h, m, spec, loss);
    if (st != NB_OK) {
        nb_model_free(m);
        return st;
    }
    *out = m;
    return NB_OK;
}

/* Build the model the metadata describes and fill it from the file. */
static nb_status load_model(FILE *f, uint64_t data_start, const nb_st_header *h, nb_model **out)
{
    const char *format, *scale_name, *names;
    int version;
    nb_scale_kind scale = NB_SCALE_NONE, target_scale = NB_SCALE_NONE;
    nb_status st;
    if (!h->metadata) return nb_error(NB_ERR_FORMAT, "no \"__metadata__\": not a nabla model file");
    if ((st = meta_required(h, "format", &format)) != NB_OK) return st;
    char q[40];
    if (strcmp(format, "nabla") != 0)
        return nb_error(NB_ERR_FORMAT, "metadata \"format\" is \"%s\", not \"nabla\"",
                        nb_escape(q, sizeof q, format));
    if ((st = meta_int(h, "format_version", 1, INT_MAX, &version)) != NB_OK) return st;
    if (version > NB_MODEL_FORMAT_VERSION)
        return nb_error(NB_ERR_FORMAT, "format_version %d is newer than this build reads (%d)",
                        version, NB_MODEL_FORMAT_VERSION);
    if ((scale_name = meta_string(h, "scale")) && nb_scale_parse(scale_name, &scale) != NB_OK)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"scale\" is \"%s\", not none, unit, minmax or zscore",
                        nb_escape(q, sizeof q, scale_name));
    if ((scale_name = meta_string(h, "target_scale")) &&
        nb_scale_parse(scale_name, &target_scale) != NB_OK)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"target_scale\" is \"%s\", not none, minmax or zscore",
                        nb_escape(q, sizeof q, scale_name));
    nb_model *m;
    if ((st = version == 1 ? build_v1(h, &m) : build_v2(h, &m)) != NB_OK) return st;
    out_tensor *want = NULL;
    int count = 0;
    /* Arrays to fill below; identity until then. */
    if (scale != NB_SCALE_NONE && (st = placeholder_scaler(m, scale, m->inputs_total, 0)) != NB_OK)
        goto fail;
    if (target_scale != NB_SCALE_NONE &&
        (st = placeholder_scaler(m, target_scale, m->outputs, 1)) != NB_OK) {
        st = nb_error_prefix(NB_ERR_FORMAT, "metadata \"target_scale\"");
        goto fail;
    }
    if ((st = list_tensors(m, &want, &count)) != NB_OK) goto fail;
    char owner[NB_ESCAPE_SIZE + 8], sq[NB_ESCAPE_SIZE];
    if (version == 1)
        snprintf(owner, sizeof owner, "spec \"%s\"", nb_escape(sq, sizeof sq, m->spec));
    else
        snprintf(owner, sizeof owner, "the graph");
    if ((st = match_tensors(m, h, want, count, owner, version == 1 ? "the spec" : "the graph")) !=
        NB_OK)
        goto fail;
    if ((st = read_tensors(f, data_start, h, want, count)) != NB_OK) goto fail;
    /* A compiled constant holds a copy of its values. */
    for (int i = 0; i < m->graph->count; i++) {
        nb_node_rec *r = &m->graph->nodes[i];
        if (r->kind == NB_NODE_CONST)
            memcpy(r->value, r->const_data, nb_shape_count(r->shape) * sizeof *r->value);
    }
    /* Values the ops would refuse at every forward (a negative running
     * variance) are the file's error, found at load. */
    if ((st = nb_graph_check_stored(m->graph)) != NB_OK) {
        st = NB_ERR_FORMAT;
        goto fail;
    }
    if ((st = check_scaler(&m->scaler, SCALER_OFFSET, SCALER_SCALE)) != NB_OK ||
        (st = check_scaler(&m->target_scaler, TARGET_OFFSET, TARGET_SCALE)) != NB_OK)
        goto fail;
    if ((names = meta_string(h, "class_names")) && (st = load_class_names(m, names)) != NB_OK)
        goto fail;
    for (const cJSON *e = h->metadata->child; e; e = e->next) {
        if (nb_model_meta_reserved(e->string)) continue;
        if ((st = nb_model_set_meta(m, e->string, e->valuestring)) != NB_OK) {
            st = NB_ERR_FORMAT; /* the message names the key */
            goto fail;
        }
    }
    nb_free(want);
    *out = m;
    return NB_OK;
fail:
    nb_free(want);
    nb_model_free(m);
    return st;
}

static nb_status load_file(FILE *f, nb_model **out)
{
    nb_st_header h;
    uint64_t data_start;
    nb_status st = nb_st_read_header(f, &h, &data_start);
    if (st != NB_OK) return st;
    st = load_model(f, data_start, &h, out);
    nb_st_free(&h);
    return st;
}

nb_status nb_model_load(const char *path, nb_model **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "loading a model: no output pointer");
    *out = NULL;
    if (!path) return nb_error(NB_ERR_ARGUMENT, "loading a model: no path");
    FILE *f;
    nb_status st = nb_open_regular(path, &f);
    if (st == NB_OK) {
        st = load_file(f, out);
        fclose(f);
    }
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "model file \"%s\"", path);
}
