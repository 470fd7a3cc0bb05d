/* A model: a layer spec built into a graph (input "x", dense layers
 * "dense0", "dense1", ..., target "target", loss "loss"), plus what it needs
 * to be used later: the scaler, class names and free-form metadata. */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const loss_names[] = {"softmax_ce", "bce", "mse", "sse", "half_sse", "sae"};

nb_status nb_loss_parse(const char *name, nb_loss_kind *kind)
{
    for (size_t i = 0; name && i < sizeof loss_names / sizeof loss_names[0]; i++)
        if (strcmp(name, loss_names[i]) == 0) {
            *kind = (nb_loss_kind)i;
            return NB_OK;
        }
    char q[NB_ESCAPE_SIZE];
    return nb_error(NB_ERR_NOT_FOUND,
                    "unknown loss \"%s\" (softmax_ce, bce, mse, sse, half_sse, sae)",
                    nb_escape(q, sizeof q, name));
}

int nb_model_meta_reserved(const char *key)
{
    static const char *const reserved[] = {"format", "format_version", "spec",
                                           "loss",   "inputs",         "outputs",
                                           "scale",  "class_names",    "target_scale"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(key, reserved[i]) == 0) return 1;
    return 0;
}

/* Class indices [N] for softmax_ce, else one row of targets per sample. */
static nb_shape target_shape(const nb_model *m, int batch)
{
    return m->loss_kind == NB_LOSS_SOFTMAX_CE ? nb_shape1(batch) : nb_shape2(batch, m->outputs);
}

static nb_status build(nb_model *m)
{
    nb_graph *g = m->graph;
    m->x = nb_input(g, "x", nb_shape2(m->batch, m->inputs));
    nb_node h = m->x;
    int dense = 0;
    for (int i = 0; i < m->layers.count; i++) {
        const nb_layer *l = &m->layers.layer[i];
        switch (l->kind) {
        case NB_LAYER_DENSE: {
            /* He keeps the variance through a ReLU; Xavier suits the rest. */
            nb_layer_kind next =
                i + 1 < m->layers.count ? m->layers.layer[i + 1].kind : NB_LAYER_IDENTITY;
            int he = next == NB_LAYER_RELU || next == NB_LAYER_LEAKY_RELU;
            char prefix[NB_NAME_MAX];
            snprintf(prefix, sizeof prefix, "dense%d", dense++);
            h = nb_dense(g, h, l->units, prefix, he ? nb_init_he() : nb_init_xavier());
            break;
        }
        case NB_LAYER_RELU:
            h = nb_relu(g, h);
            break;
        case NB_LAYER_SIGMOID:
            h = nb_sigmoid(g, h);
            break;
        case NB_LAYER_TANH:
            h = nb_tanh(g, h);
            break;
        case NB_LAYER_LEAKY_RELU:
            h = nb_leaky_relu(g, h, l->slope);
            break;
        case NB_LAYER_IDENTITY:
            h = nb_identity(g, h);
            break;
        }
    }
    m->output = h;
    m->target = nb_input(g, "target", target_shape(m, m->batch));
    switch (m->loss_kind) {
    case NB_LOSS_SOFTMAX_CE:
        m->loss = nb_softmax_with_loss(g, h, m->target);
        break;
    case NB_LOSS_BCE:
        m->loss = nb_bce_with_logits(g, h, m->target);
        break;
    case NB_LOSS_MSE:
        m->loss = nb_mse(g, h, m->target);
        break;
    case NB_LOSS_SSE:
        m->loss = nb_sse(g, h, m->target);
        break;
    case NB_LOSS_HALF_SSE:
        m->loss = nb_half_sse(g, h, m->target);
        break;
    case NB_LOSS_SAE:
        m->loss = nb_sae(g, h, m->target);
        break;
    }
    if (m->loss != NB_NONE) nb_node_set_name(g, m->loss, "loss");
    nb_status st = nb_graph_status(g);
    if (st != NB_OK) return st;
    return nb_graph_compile(g);
}

static nb_status check_batch(int batch)
{
    if (batch < 1 || batch > NB_MAX_BATCH)
        return nb_error(NB_ERR_ARGUMENT, "model batch size %d is not in [1, %d]", batch,
                        NB_MAX_BATCH);
    return NB_OK;
}

nb_status nb_model_create(const char *spec, int inputs, const char *loss, int batch, nb_model **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "creating a model: no output pointer");
    *out = NULL;
    nb_loss_kind kind;
    nb_status st = nb_loss_parse(loss ? loss : "softmax_ce", &kind);
    if (st != NB_OK) return st;
    if (inputs < 1 || inputs > NB_MAX_FEATURES)
        return nb_error(NB_ERR_ARGUMENT, "creating a model: %d inputs is not in [1, %d]", inputs,
                        NB_MAX_FEATURES);
    if ((st = check_batch(batch)) != NB_OK) return st;
    nb_model *m = nb_calloc(1, sizeof *m);
    if (!m) return nb_error(NB_ERR_MEMORY, "creating a model: out of memory");
    if ((st = nb_spec_parse(spec, &m->layers)) != NB_OK) {
        nb_free(m);
        return st;
    }
    m->outputs = m->layers.outputs;
    if ((kind == NB_LOSS_BCE && m->outputs != 1) ||
        (kind == NB_LOSS_SOFTMAX_CE && m->outputs < 2)) {
        int outputs = m->outputs;
        char q[NB_ESCAPE_SIZE];
        nb_escape(q, sizeof q, spec);
        nb_free(m);
        if (kind == NB_LOSS_BCE)
            return nb_error(NB_ERR_ARGUMENT,
                            "loss bce needs one output logit, but spec \"%s\" ends with dense:%d",
                            q, outputs);
        return nb_error(NB_ERR_ARGUMENT,
                        "loss softmax_ce needs at least 2 outputs (classes), but spec \"%s\" "
                        "ends with dense:%d (use bce for one logit)",
                        q, outputs);
    }
    memcpy(m->spec, spec, strlen(spec) + 1);
    m->loss_kind = kind;
    m->inputs = inputs;
    m->batch = batch;
    m->scaler.kind = NB_SCALE_NONE;
    m->target_scaler.kind = NB_SCALE_NONE;
    m->graph = nb_graph_create();
    if (!m->graph) {
        nb_free(m);
        return nb_error(NB_ERR_MEMORY, "creating a model: out of memory");
    }
    if ((st = build(m)) != NB_OK || (st = nb_model_init(m, 0)) != NB_OK) {
        nb_model_free(m);
        char q[NB_ESCAPE_SIZE];
        return nb_error_prefix(st, "building model \"%s\" with %d %s", nb_escape(q, sizeof q, spec),
                               inputs, nb_plural(inputs, "input", "inputs"));
    }
    *out = m;
    return NB_OK;
}

static void clear_scaler(nb_scaler *s)
{
    nb_free(s->offset);
    nb_free(s->scale);
    *s = (nb_scaler){NB_SCALE_NONE, 0, NULL, NULL};
}

static void clear_class_names(nb_model *m)
{
    for (int i = 0; i < m->class_count; i++) nb_free(m->class_names[i]);
    nb_free(m->class_names);
    m->class_names = NULL;
    m->class_count = 0;
}

void nb_model_free(nb_model *m)
{
    if (!m) return;
    nb_graph_free(m->graph);
    clear_scaler(&m->scaler);
    clear_scaler(&m->target_scaler);
    clear_class_names(m);
    for (int i = 0; i < m->meta_count; i++) nb_free(m->meta[i].json);
    nb_free(m->meta);
    nb_names_free(&m->meta_index);
    nb_free(m);
}

/* ------------------------------------------------------------- accessors */

nb_graph *nb_model_graph(nb_model *m)
{
    return m ? m->graph : NULL;
}
nb_node nb_model_input(const nb_model *m)
{
    return m ? m->x : NB_NONE;
}
nb_node nb_model_output(const nb_model *m)
{
    return m ? m->output : NB_NONE;
}
nb_node nb_model_target(const nb_model *m)
{
    return m ? m->target : NB_NONE;
}
nb_node nb_model_loss(const nb_model *m)
{
    return m ? m->loss : NB_NONE;
}
const char *nb_model_spec(const nb_model *m)
{
    return m ? m->spec : NULL;
}
int nb_model_inputs(const nb_model *m)
{
    return m ? m->inputs : 0;
}
int nb_model_outputs(const nb_model *m)
{
    return m ? m->outputs : 0;
}
int nb_model_batch(const nb_model *m)
{
    return m ? m->batch : 0;
}

const char *nb_model_loss_name(const nb_model *m)
{
    return m ? loss_names[m->loss_kind] : NULL;
}

/* The loss itself is a classifier's, or a regression loss was given one-hot
 * classes (their names say so). */
static int classifier_loss(const nb_model *m)
{
    return m->loss_kind == NB_LOSS_SOFTMAX_CE || m->loss_kind == NB_LOSS_BCE;
}

int nb_model_is_classifier(const nb_model *m)
{
    return m && (classifier_loss(m) || m->class_count > 0);
}

/* ------------------------------------------------------ batch and init */

static nb_status reshape(nb_model *m, int batch)
{
    nb_status st = nb_input_reshape(m->graph, m->x, nb_shape2(batch, m->inputs));
    if (st == NB_OK) st = nb_input_reshape(m->graph, m->target, target_shape(m, batch));
    if (st == NB_OK) st = nb_graph_compile(m->graph);
    return st;
}

nb_status nb_model_set_batch(nb_model *m, int batch)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting the batch size: no model");
    nb_status st = check_batch(batch);
    if (st != NB_OK) return st;
    if (batch == m->batch && m->graph->compiled) return NB_OK;
    size_t count;
    if (!nb_mul_size((size_t)batch, (size_t)m->inputs, &count))
        return nb_error(NB_ERR_LIMIT, "batch %d x %d inputs overflows", batch, m->inputs);
    st = reshape(m, batch);
    if (st != NB_OK) {
        /* Go back to the old batch, whose memory is still there. */
        reshape(m, m->batch);
        return nb_error_prefix(st, "setting the model's batch size to %d", batch);
    }
    m->batch = batch;
    return NB_OK;
}

nb_status nb_model_init(nb_model *m, uint64_t seed)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "initialising a model: no model");
    if (!m->graph->compiled) {
        nb_status st = nb_graph_compile(m->graph);
        if (st != NB_OK) return st;
    }
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    return nb_graph_init_params(m->graph, &rng);
}

/* --------------------------------------------------------------- predict */

/* p = 1 / (1 + e^-x), written so that neither branch overflows. */
static nb_real sigmoid(nb_real x)
{
    if (x >= 0) return (nb_real)(1 / (1 + exp(-(double)x)));
    double e = exp((double)x);
    return (nb_real)(e / (1 + e));
}

static nb_status predict_chunk(nb_model *m, const nb_real *x, int rows, size_t first, size_t count,
                               nb_real *out)
{
    nb_graph *g = m->graph;
    nb_status st = nb_graph_feed(g, m->x, x, (size_t)rows * (size_t)m->inputs);
    if (st != NB_OK) return st;
    nb_real *in = nb_node_value(g, m->x);
    nb_scaler_apply(&m->scaler, in, (size_t)rows);
    if ((st = nb_check_rows_finite(in, rows, m->inputs, first, count, "input (after scaling)")) !=
        NB_OK)
        return st;
    /* The output is made before the loss: the loss and target are skipped. */
    if ((st = nb_graph_forward_to(g, m->output)) != NB_OK) return st;
    const nb_real *y = nb_node_value(g, m->output);
    if ((st = nb_check_rows_finite(y, rows, m->outputs, first, count, "output")) != NB_OK)
        return st;
    size_t n = (size_t)rows * (size_t)m->outputs;
    if (m->loss_kind == NB_LOSS_SOFTMAX_CE) {
        nb_softmax_rows(y, out, rows, m->outputs);
    } else if (m->loss_kind == NB_LOSS_BCE) {
        for (size_t i = 0; i < n; i++) out[i] = sigmoid(y[i]);
    } else {
        memcpy(out, y, n * sizeof *out);
        /* Back to the targets' units; a huge scale can overflow here. */
        nb_scaler_invert(&m->target_scaler, out, (size_t)rows);
        if ((st = nb_check_rows_finite(out, rows, m->outputs, first, count,
                                       "output (in target units)")) != NB_OK)
            return st;
    }
    return NB_OK;
}

nb_status nb_model_predict(nb_model *m, const nb_real *x, size_t count, nb_real *out)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "predicting: no model");
    if (count == 0) return NB_OK;
    if (!x || !out)
        return nb_error(NB_ERR_ARGUMENT, "predicting %zu %s: no input or output", count,
                        nb_plural((long long)count, "sample", "samples"));
    nb_status st = NB_OK;
    if (!m->graph->compiled && (st = nb_graph_compile(m->graph)) != NB_OK) return st;
    const int batch = m->batch;
    for (size_t done = 0; done < count && st == NB_OK;) {
        int rows = count - done < (size_t)batch ? (int)(count - done) : batch;
        if (rows != m->batch) st = nb_model_set_batch(m, rows); /* the last, partial chunk */
        if (st == NB_OK)
            st = predict_chunk(m, x + done * (size_t)m->inputs, rows, done, count,
                               out + done * (size_t)m->outputs);
        done += (size_t)rows;
    }
    if (m->batch != batch) {
        nb_status back = nb_model_set_batch(m, batch);
        if (st == NB_OK) st = back;
    }
    if (st == NB_OK) return NB_OK;
    return count == 1 ? nb_error_prefix(st, "predicting")
                      : nb_error_prefix(st, "predicting %zu samples", count);
}

/* ------------------------------------------- scaler, class names, metadata */

/* Copy s (features values each) into *dst; what names it in messages. */
static nb_status set_scaler(nb_scaler *dst, const nb_scaler *s, int features, const char *what,
                            const char *unit_one, const char *unit)
{
    if (!s || s->kind == NB_SCALE_NONE) {
        clear_scaler(dst);
        return NB_OK;
    }
    if ((unsigned)s->kind > NB_SCALE_ZSCORE)
        return nb_error(NB_ERR_ARGUMENT, "setting a %s: unknown kind %d", what, (int)s->kind);
    if (s->features != features || !s->offset || !s->scale)
        return nb_error(NB_ERR_SHAPE, "setting a %s of %d %s on a model of %d %s%s", what,
                        s->features, nb_plural(s->features, "value", "values"), features,
                        features == 1 ? unit_one : unit,
                        s->offset && s->scale ? "" : " (no arrays)");
    /* x' = (x - offset) * scale: a scale of 0 erases a value, a negative
     * one flips it; no fit gives either. */
    for (int j = 0; j < s->features; j++)
        if (!isfinite(s->offset[j]) || !isfinite(s->scale[j]) || !(s->scale[j] > 0))
            return nb_error(NB_ERR_NUMERIC,
                            "setting a %s: entry %d has offset %g, scale %g (a finite offset "
                            "and a finite scale > 0 are needed)",
                            what, j, (double)s->offset[j], (double)s->scale[j]);
    size_t bytes = (size_t)s->features * sizeof(nb_real);
    nb_real *offset = nb_malloc(bytes), *scale = nb_malloc(bytes);
    if (!offset || !scale) {
        nb_free(offset);
        nb_free(scale);
        return nb_error(NB_ERR_MEMORY, "setting a %s of %d values: out of memory", what,
                        s->features);
    }
    memcpy(offset, s->offset, bytes);
    memcpy(scale, s->scale, bytes);
    clear_scaler(dst);
    *dst = (nb_scaler){s->kind, s->features, offset, scale};
    return NB_OK;
}

nb_status nb_model_set_scaler(nb_model *m, const nb_scaler *s)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting a scaler: no model");
    return set_scaler(&m->scaler, s, m->inputs, "scaler", "input", "inputs");
}

const nb_scaler *nb_model_scaler(const nb_model *m)
{
    return m && m->scaler.kind != NB_SCALE_NONE ? &m->scaler : NULL;
}

nb_status nb_model_set_target_scaler(nb_model *m, const nb_scaler *s)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting a target scaler: no model");
    if (s && s->kind != NB_SCALE_NONE && nb_model_is_classifier(m))
        return nb_error(NB_ERR_ARGUMENT,
                        "setting a target scaler on a classifier (loss %s%s): only regression "
                        "targets are scaled",
                        loss_names[m->loss_kind], classifier_loss(m) ? "" : ", class names set");
    return set_scaler(&m->target_scaler, s, m->outputs, "target scaler", "output", "outputs");
}

const nb_scaler *nb_model_target_scaler(const nb_model *m)
{
    return m && m->target_scaler.kind != NB_SCALE_NONE ? &m->target_scaler : NULL;
}

static char *copy_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = nb_malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

/* A pointer to one of the names: its offset in the array is its index. */
typedef char *const *name_ref;

static int by_name(const void *a, const void *b)
{
    name_ref x = *(const name_ref *)a, y = *(const name_ref *)b;
    int c = strcmp(*x, *y);
    return c ? c : (x < y ? -1 : x > y); /* equal names: the earlier index first */
}

/* Each name present, 1 to NB_LABEL_NAME_MAX - 1 bytes, printing as
 * itself (nb_text_problem), no two alike; the message names the index. A
 * class name is printed raw as a row of output, where a newline or an
 * escape sequence would forge another, and names that differ only by an
 * invisible character or a trailing space would look like one class. */
static nb_status check_class_names(char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        size_t len = names[i] ? strnlen(names[i], NB_LABEL_NAME_MAX) : 0;
        if (!names[i] || len == 0 || len >= NB_LABEL_NAME_MAX)
            return nb_error(NB_ERR_ARGUMENT, "class name %d is %s (1 to %d bytes)", i,
                            !names[i]  ? "missing"
                            : len == 0 ? "empty"
                                       : "too long",
                            NB_LABEL_NAME_MAX - 1);
        char why[NB_TEXT_PROBLEM_SIZE], q[NB_ESCAPE_SIZE];
        if (nb_text_problem(why, sizeof why, names[i], 1))
            return nb_error(NB_ERR_ARGUMENT,
                            "class name %d (\"%s\") %s; class names must be UTF-8 text "
                            "that prints as itself",
                            i, nb_escape(q, sizeof q, names[i]), why);
    }
    /* Sorting finds a repeated name in O(n log n). */
    name_ref *order = nb_malloc((size_t)count * sizeof *order);
    if (!order) return nb_error(NB_ERR_MEMORY, "checking %d class names: out of memory", count);
    for (int i = 0; i < count; i++) order[i] = &names[i];
    qsort(order, (size_t)count, sizeof *order, by_name);
    nb_status st = NB_OK;
    char q[NB_ESCAPE_SIZE];
    for (int i = 1; st == NB_OK && i < count; i++)
        if (strcmp(*order[i - 1], *order[i]) == 0)
            st = nb_error(NB_ERR_ARGUMENT, "class name %d (\"%s\") is the same as class name %d",
                          (int)(order[i] - names), nb_escape(q, sizeof q, *order[i]),
                          (int)(order[i - 1] - names));
    nb_free(order);
    return st;
}

nb_status nb_model_set_class_names(nb_model *m, char *const *names, int count)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "setting class names: no model");
    if (!names || count == 0) {
        clear_class_names(m);
        return NB_OK;
    }
    /* A regression loss on classes learns one-hot rows (or a 0/1 value for
     * one output), like softmax_ce (or bce). */
    int want = m->loss_kind == NB_LOSS_BCE || m->outputs == 1 ? 2 : m->outputs;
    if (count != want)
        return nb_error(NB_ERR_ARGUMENT, "setting %d class %s on a %s model: it has %d classes",
                        count, nb_plural(count, "name", "names"), loss_names[m->loss_kind], want);
    if (m->target_scaler.kind != NB_SCALE_NONE)
        return nb_error(NB_ERR_ARGUMENT,
                        "setting class names on a model with a target scaler: one-hot classes "
                        "are not scaled");
    nb_status st = check_class_names(names, count);
    if (st != NB_OK) return st;
    char **copy = nb_calloc((size_t)count, sizeof *copy);
    if (!copy) return nb_error(NB_ERR_MEMORY, "setting class names: out of memory");
    for (int i = 0; i < count; i++)
        if (!(copy[i] = copy_text(names[i]))) {
            for (int k = 0; k < i; k++) nb_free(copy[k]);
            nb_free(copy);
            return nb_error(NB_ERR_MEMORY, "setting class names: out of memory");
        }
    clear_class_names(m);
    m->class_names = copy;
    m->class_count = count;
    return NB_OK;
}

const char *nb_model_class_name(const nb_model *m, int index)
{
    return m && index >= 0 && index < m->class_count ? m->class_names[index] : NULL;
}

int nb_model_class_count(const nb_model *m)
{
    return m ? m->class_count : 0;
}

static const char *meta_key_of(const void *owner, int i)
{
    return ((const nb_model *)owner)->meta[i].key;
}

static nb_meta_entry *find_meta(const nb_model *m, const char *key)
{
    int i = nb_names_find(&m->meta_index, key, meta_key_of, m);
    return i >= 0 ? &m->meta[i] : NULL;
}

/* Remove entry e: the last entry moves into its place. */
static void remove_meta(nb_model *m, nb_meta_entry *e)
{
    int i = (int)(e - m->meta), last = m->meta_count - 1;
    nb_names_remove(&m->meta_index, e->key, i);
    nb_free(e->json);
    if (i != last) {
        nb_names_rekey(&m->meta_index, m->meta[last].key, last, m->meta[last].key, i);
        *e = m->meta[last];
    }
    m->meta_count--;
}

/* A new entry for key (absent), its JSON unset; NULL when out of memory. */
static nb_meta_entry *add_meta(nb_model *m, const char *key, size_t klen)
{
    if (m->meta_count == m->meta_capacity) { /* doubling: amortised O(1) */
        int cap = m->meta_capacity ? m->meta_capacity * 2 : 8;
        nb_meta_entry *grown = nb_realloc(m->meta, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        m->meta = grown;
        m->meta_capacity = cap;
    }
    nb_meta_entry *e = &m->meta[m->meta_count];
    memcpy(e->key, key, klen + 1);
    e->json = NULL;
    if (!nb_names_add(&m->meta_index, e->key, m->meta_count, meta_key_of, m)) return NULL;
    m->meta_count++;
    return e;
}

/* A JSON number that is a whole number in [0, 2^53] (exact in a double). */
static int whole_number(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0 &&
           v->valuedouble == floor(v->valuedouble);
}

/* A decimal integer in [0, 2^64 - 1]: digits only, no leading zero. */
static int decimal_u64(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20 || (s[0] == '0' && n > 1)) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n < 20 || strcmp(s, "18446744073709551615") <= 0;
}

/* The members of "training" that nabla reads back (eval and predict take
 * their defaults from them) have one meaning each: an object holding
 * "label" as a string, "regression" as true or false and "seed" as a
 * whole number or, past 2^53, its decimal digits. */
static nb_status check_known_meta(const char *key, const cJSON *j, const char *what)
{
    if (strcmp(key, "training") != 0) return NB_OK;
    if (!cJSON_IsObject(j))
        return nb_error(NB_ERR_ARGUMENT, "%s is not a JSON object (the training settings)", what);
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *regression = cJSON_GetObjectItemCaseSensitive(j, "regression");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (label && !cJSON_IsString(label))
        return nb_error(NB_ERR_ARGUMENT, "%s: \"label\" is not a string", what);
    if (label) {
        /* A column name or index, quoted raw by eval's and predict's
         * messages: it must print as itself. */
        const char *text = label->valuestring;
        size_t len = strnlen(text, NB_LABEL_NAME_MAX);
        char why[NB_TEXT_PROBLEM_SIZE], q[NB_ESCAPE_SIZE];
        if (len == 0 || len >= NB_LABEL_NAME_MAX)
            return nb_error(NB_ERR_ARGUMENT, "%s: \"label\" is %s (1 to %d bytes)", what,
                            len ? "too long" : "empty", NB_LABEL_NAME_MAX - 1);
        if (nb_text_problem(why, sizeof why, text, 1))
            return nb_error(NB_ERR_ARGUMENT, "%s: \"label\" (\"%s\") %s", what,
                            nb_escape(q, sizeof q, text), why);
    }
    if (regression && !cJSON_IsBool(regression))
        return nb_error(NB_ERR_ARGUMENT, "%s: \"regression\" is not true or false", what);
    if (seed && !whole_number(seed) && !(cJSON_IsString(seed) && decimal_u64(seed->valuestring)))
        return nb_error(NB_ERR_ARGUMENT,
                        "%s: \"seed\" is not a whole number in [0, 2^53] or a decimal string "
                        "in [0, 2^64 - 1]",
                        what);
    /* eval evaluates in batches of it. */
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(j, "batch");
    if (batch && !(whole_number(batch) && batch->valuedouble >= 1 && batch->valuedouble <= INT_MAX))
        return nb_error(NB_ERR_ARGUMENT, "%s: \"batch\" is not a whole number in [1, %d]", what,
                        INT_MAX);
    return NB_OK;
}

nb_status nb_model_set_meta(nb_model *m, const char *key, const char *json)
{
    if (!m || !key) return nb_error(NB_ERR_ARGUMENT, "setting metadata: no model or key");
    size_t klen = strnlen(key, NB_META_KEY_MAX);
    if (klen == 0 || klen >= NB_META_KEY_MAX)
        return nb_error(NB_ERR_ARGUMENT, "metadata key must be 1 to %d bytes", NB_META_KEY_MAX - 1);
    char what[NB_ESCAPE_SIZE + 16], q[NB_ESCAPE_SIZE];
    snprintf(what, sizeof what, "metadata \"%s\"", nb_escape(q, sizeof q, key));
    if (nb_model_meta_reserved(key) || strcmp(key, "__metadata__") == 0)
        return nb_error(NB_ERR_ARGUMENT, "%s: the key is reserved for the file format", what);
    char why[NB_TEXT_PROBLEM_SIZE];
    if (nb_text_problem(why, sizeof why, key, 0)) /* a key is printed by "nabla info" */
        return nb_error(NB_ERR_ARGUMENT, "%s: the key %s", what, why);
    nb_meta_entry *e = find_meta(m, key);
    if (!json) { /* unset */
        if (e) remove_meta(m, e);
        return NB_OK;
    }
    cJSON *parsed;
    nb_status st = nb_json_parse(json, NB_ERR_ARGUMENT, what, &parsed);
    if (st == NB_OK) st = check_known_meta(key, parsed, what);
    cJSON_Delete(parsed);
    if (st != NB_OK) return st;
    char *copy = copy_text(json);
    if (!copy) return nb_error(NB_ERR_MEMORY, "%s: out of memory", what);
    if (!e && !(e = add_meta(m, key, klen))) {
        nb_free(copy);
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", what);
    }
    nb_free(e->json);
    e->json = copy;
    return NB_OK;
}

const char *nb_model_meta(const nb_model *m, const char *key)
{
    const nb_meta_entry *e = m && key ? find_meta(m, key) : NULL;
    return e ? e->json : NULL;
}

int nb_model_meta_count(const nb_model *m)
{
    return m ? m->meta_count : 0;
}

const char *nb_model_meta_key(const nb_model *m, int index)
{
    return m && index >= 0 && index < m->meta_count ? m->meta[index].key : NULL;
}
