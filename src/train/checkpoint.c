/* Training checkpoints: the whole nb_train_state in one safetensors file
 * (parameters, optimizer slots, best weights and non-trainable buffers as
 * tensors; everything else in "__metadata__"), so that a run resumed from
 * it ends bit for bit where an uninterrupted one would. Numbers that must
 * come back exactly are written with 17 significant digits (strtod reads
 * them back to the same double) or, for the generator, as hex. See
 * docs/training.md.
 *
 * Depends on the state's fields (nabla.h, train_internal.h), the model,
 * graph and optimizer API, io/checkpoint_file, batch.c (the sample order)
 * and clock.c; it calls nothing in trainer.c (which calls it). */
#include "train_internal.h"

#include "io/checkpoint_file.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* epoch, lr, train loss, train acc, val loss, val acc, seconds, then (from
 * format_version 2) val MAE, val RMSE, val R^2 */
#define HISTORY_COLUMNS    10
#define HISTORY_COLUMNS_V1 7
#define SLOT_NAME_0        "optimizer.slot0"
#define SLOT_NAME_1        "optimizer.slot1"
#define BEST_NAME          "early_stopping.best"
#define BUFFER_PREFIX      "buffer."

static const char *const slot_names[2] = {SLOT_NAME_0, SLOT_NAME_1};

/* The fingerprint of a data set: its x, then its labels or y. */
static uint64_t dataset_hash(const nb_dataset *d)
{
    /* Sizes are those of arrays already in memory, so they do not overflow. */
    uint64_t h = nb_fnv1a(NB_FNV1A_INIT, d->x, d->count * (size_t)d->features * sizeof *d->x);
    if (d->classes > 0 && d->labels)
        h = nb_fnv1a(h, d->labels, d->count * sizeof *d->labels);
    else if (d->y)
        h = nb_fnv1a(h, d->y, d->count * (size_t)d->targets * sizeof *d->y);
    return h;
}

/* The data's fingerprints, computed once (by the first save or load). */
static void ensure_hashes(const nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    if (in->hashed) return;
    in->train_hash = dataset_hash(s->train);
    in->val_hash = s->val ? dataset_hash(s->val) : 0;
    in->hashed = 1;
}

static int optimizer_slots(const nb_train_state *s)
{
    int n = nb_optimizer_slot_count(s->optimizer);
    return n < 2 ? n : 2;
}

/* ------------------------------------------------------------- the graph */

/* A string that grows (on the library's allocator). */
typedef struct text {
    char *s;
    size_t len, cap;
    int failed;
} text;

/* Make room for at least need bytes. */
static void text_grow(text *t, size_t need)
{
    size_t cap = t->cap ? 2 * t->cap : 256;
    if (cap < need) cap = need;
    char *s = nb_realloc(t->s, cap);
    if (!s) {
        t->failed = 1;
        return;
    }
    t->s = s;
    t->cap = cap;
}

static void text_add(text *t, const char *fmt, ...)
{
    if (!t->s) text_grow(t, 256);
    while (!t->failed) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->s + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
        } else if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        } else {
            text_grow(t, t->len + (size_t)n + 1);
        }
    }
}

/* The shortest decimal that reads back as v (0.1, not 0.10000000000000001). */
static const char *shortest(char buf[40], double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, 40, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* Is node one whose first dimension is the batch: an input or the target
 * of the model? */
static int batch_node(const nb_model *m, nb_node node)
{
    if (node == nb_model_target(m)) return 1;
    for (int i = 0; i < nb_model_input_count(m); i++)
        if (nb_model_input_at(m, i) == node) return 1;
    return 0;
}

static void add_shape(text *t, nb_shape shape, int batch)
{
    text_add(t, " [");
    for (int d = 0; d < shape.ndim; d++) {
        if (d == 0 && batch)
            text_add(t, "N");
        else
            text_add(t, "%s%d", d ? ", " : "", shape.dim[d]);
    }
    text_add(t, "]");
}

/* Node i as text that does not depend on the batch size:
 *   "name: op(input, input) attr=v,v"  an op (inputs by name)
 *   "name: param [2, 12]"              a parameter
 *   "name: input [N, 2]"               an input (N: the batch)
 *   "name: const [3] fnv1a 0123..."    a constant and its values' hash */
static void describe_node(text *t, nb_model *m, nb_node i)
{
    nb_graph *g = nb_model_graph(m);
    const char *op = nb_node_op(g, i);
    t->len = 0;
    text_add(t, "%s: %s", nb_node_name(g, i), op);
    nb_shape shape = nb_node_shape(g, i);
    if (nb_node_is_param(g, i) || nb_node_is_input(g, i)) {
        add_shape(t, shape, nb_node_is_input(g, i) && batch_node(m, i));
        return;
    }
    if (strcmp(op, "const") == 0) {
        const nb_real *v = nb_node_value(g, i);
        uint64_t h = nb_fnv1a(NB_FNV1A_INIT, v, v ? nb_shape_count(shape) * sizeof *v : 0);
        add_shape(t, shape, 0);
        text_add(t, " fnv1a %016" PRIx64, h);
        return;
    }
    text_add(t, "(");
    for (int k = 0; k < nb_node_input_count(g, i); k++)
        text_add(t, "%s%s", k ? ", " : "", nb_node_name(g, nb_node_input(g, i, k)));
    text_add(t, ")");
    char num[40];
    for (int a = 0; a < nb_node_attr_count(g, i); a++) {
        const nb_attr *attr = nb_node_attr(g, i, a);
        text_add(t, " %s=", attr->name);
        for (int k = 0; k < attr->count; k++) {
            if (attr->type == NB_ATTR_INT)
                text_add(t, "%s%" PRId64, k ? "," : "", attr->ints[k]);
            else
                text_add(t, "%s%s", k ? "," : "", shortest(num, attr->reals[k]));
        }
    }
}

/* The graph of m, one description per node in creation order: what
 * "graph" holds (NULL: out of memory). */
static cJSON *graph_json(nb_model *m)
{
    nb_graph *g = nb_model_graph(m);
    cJSON *a = cJSON_CreateArray();
    text t = {0};
    for (int i = 0; a && i < nb_graph_node_count(g); i++) {
        describe_node(&t, m, i);
        cJSON *s = t.failed ? NULL : cJSON_CreateString(t.s);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            a = NULL;
        }
    }
    nb_free(t.s);
    return a;
}

/* ------------------------------------------------------------------ save */

/* A JSON number that reads back as exactly v; null when not finite. */
static cJSON *exact_number(double v)
{
    char buf[40];
    if (!isfinite(v)) return cJSON_CreateNull();
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static int add_number(cJSON *obj, const char *key, double v)
{
    cJSON *n = exact_number(v);
    if (n && cJSON_AddItemToObject(obj, key, n)) return 1;
    cJSON_Delete(n);
    return 0;
}

static int put(cJSON *meta, const char *key, const char *value)
{
    return cJSON_AddStringToObject(meta, key, value) != NULL;
}

static int put_u64(cJSON *meta, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return put(meta, key, buf);
}

static int put_double(cJSON *meta, const char *key, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v); /* "inf" for no best loss yet */
    return put(meta, key, buf);
}

/* Adds obj as JSON text under key; takes obj (NULL: fails). */
static int put_json(cJSON *meta, const char *key, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    int ok = text && put(meta, key, text);
    cJSON_free(text);
    return ok;
}

static cJSON *optimizer_json(const nb_optimizer_config *o)
{
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddStringToObject(j, "kind", nb_optimizer_name(o->kind));
    ok = ok && add_number(j, "lr", o->lr) && add_number(j, "momentum", o->momentum);
    ok = ok && add_number(j, "rho", o->rho) && add_number(j, "beta1", o->beta1);
    ok = ok && add_number(j, "beta2", o->beta2) && add_number(j, "eps", o->eps);
    ok = ok && add_number(j, "weight_decay", o->weight_decay);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

static cJSON *training_json(const nb_train_config *c)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    cJSON *j = cJSON_CreateObject();
    int ok = j && add_number(j, "batch", c->batch) && add_number(j, "epochs", c->epochs);
    ok = ok && cJSON_AddStringToObject(j, "seed", seed); /* may not fit a double */
    ok = ok && cJSON_AddStringToObject(j, "schedule", nb_schedule_name(c->schedule));
    ok = ok && add_number(j, "step_epochs", c->step_epochs) && add_number(j, "gamma", c->gamma);
    ok = ok && add_number(j, "lr_min", c->lr_min) && add_number(j, "clip_norm", c->clip_norm);
    ok = ok && add_number(j, "patience", c->patience);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

static cJSON *data_json(const nb_dataset *d, uint64_t hash)
{
    char hex[20];
    snprintf(hex, sizeof hex, "%016" PRIx64, hash);
    cJSON *j = cJSON_CreateObject();
    int ok =
        j && add_number(j, "count", (double)d->count) && add_number(j, "features", d->features);
    ok = ok && add_number(j, "classes", d->classes) && add_number(j, "targets", d->targets);
    ok = ok && cJSON_AddStringToObject(j, "fnv1a", hex);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

static cJSON *rng_json(const nb_rng *rng)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < 4; i++) {
        char hex[20];
        snprintf(hex, sizeof hex, "%016" PRIx64, rng->s[i]);
        cJSON *s = cJSON_CreateString(hex);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* One row per finished epoch: epoch, lr, train loss, train accuracy, val
 * loss, val accuracy, seconds, val MAE, val RMSE, val R^2. */
static cJSON *history_json(const nb_train_state *s)
{
    cJSON *a = cJSON_CreateArray();
    for (int e = 0; a && e < s->epoch - 1; e++) {
        const nb_epoch_stats *h = &s->history[e];
        double v[HISTORY_COLUMNS] = {h->epoch,    h->lr,           h->train_loss, h->train_accuracy,
                                     h->val_loss, h->val_accuracy, h->seconds,    h->val_mae,
                                     h->val_rmse, h->val_r2};
        cJSON *row = cJSON_CreateArray();
        int ok = row && cJSON_AddItemToArray(a, row);
        if (!ok) cJSON_Delete(row);
        for (int i = 0; ok && i < HISTORY_COLUMNS; i++) {
            cJSON *n = exact_number(v[i]);
            ok = n && cJSON_AddItemToArray(row, n);
            if (!ok) cJSON_Delete(n);
        }
        if (!ok) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *make_metadata(const nb_train_state *s)
{
    const nb_train_config *c = &s->config;
    const nb_train_internal *in = s->internal;
    nb_model *m = s->model;
    double now = nb_train_clock();
    cJSON *meta = cJSON_CreateObject();
    int ok = meta && put(meta, "format", NB_CHECKPOINT_FORMAT);
    ok = ok && put_u64(meta, "format_version", NB_CHECKPOINT_VERSION);
    ok = ok && put(meta, "real", NB_REAL_NAME);
    /* A hand-built graph has no spec: "graph" describes every model. */
    ok = ok && (!nb_model_spec(m) || put(meta, "spec", nb_model_spec(m)));
    ok = ok && put_json(meta, "graph", graph_json(m));
    ok = ok && put(meta, "loss", nb_model_loss_name(m));
    ok = ok && put_u64(meta, "inputs", (uint64_t)nb_model_inputs(m));
    ok = ok && put_u64(meta, "outputs", (uint64_t)nb_model_outputs(m));
    ok = ok && put_json(meta, "optimizer", optimizer_json(&c->optimizer));
    ok = ok && put_u64(meta, "optimizer_steps", *nb_optimizer_steps(s->optimizer));
    ok = ok && put_json(meta, "training", training_json(c));
    ok = ok && put_json(meta, "train_data", data_json(s->train, in->train_hash));
    ok = ok && (s->val ? put_json(meta, "val_data", data_json(s->val, in->val_hash))
                       : put(meta, "val_data", "none"));
    ok = ok && put_u64(meta, "threads", (uint64_t)nb_get_threads());
    ok = ok && put_u64(meta, "epoch", (uint64_t)s->epoch);
    ok = ok && put_u64(meta, "batch", s->batch) && put_u64(meta, "batches", s->batches);
    ok = ok && put_json(meta, "rng", rng_json(&s->rng_start));
    ok = ok && put_double(meta, "loss_sum", s->loss_sum);
    ok = ok && put_u64(meta, "correct", s->correct) && put_u64(meta, "seen", s->seen);
    ok = ok && put_json(meta, "history", history_json(s));
    ok = ok && put_u64(meta, "best_epoch", (uint64_t)s->best_epoch);
    ok = ok && put_u64(meta, "since_best", (uint64_t)s->since_best);
    ok = ok && put_double(meta, "best_val_loss", s->best_loss);
    ok = ok && put_double(meta, "elapsed", now - s->start);
    ok = ok && put_double(meta, "epoch_elapsed", now - s->epoch_start);
    if (!ok) cJSON_Delete(meta);
    return ok ? meta : NULL;
}

/* A buffer's tensor name: "buffer." + its name, in names (NB_NAME_MAX +
 * 8 bytes per buffer). */
static const char *buffer_name(char *names, int i, const char *name)
{
    char *at = names + (size_t)i * (NB_NAME_MAX + 8);
    snprintf(at, NB_NAME_MAX + 8, BUFFER_PREFIX "%s", name);
    return at;
}

/* The parameters under their model-file names, the optimizer's slots, the
 * best weights and the buffers; *count entries in a new array, their
 * names in *names (free both). */
static nb_status list_tensors(const nb_train_state *s, nb_ckpt_tensor **out, char **names,
                              int *count)
{
    nb_graph *g = nb_model_graph(s->model);
    int nodes = nb_graph_node_count(g), n = 0, buffers = s->buffer_count;
    *out = NULL;
    *names = NULL;
    nb_ckpt_tensor *t = nb_calloc((size_t)nodes + 3 + (size_t)buffers, sizeof *t);
    char *text = buffers > 0 ? nb_calloc((size_t)buffers, NB_NAME_MAX + 8) : NULL;
    if (!t || (buffers > 0 && !text)) {
        nb_free(t);
        nb_free(text);
        return nb_error(NB_ERR_MEMORY, "out of memory listing %d tensors", nodes + 3 + buffers);
    }
    for (int i = 0; i < nodes; i++)
        if (nb_node_is_param(g, i))
            t[n++] = (nb_ckpt_tensor){nb_node_name(g, i), nb_node_shape(g, i), nb_node_value(g, i)};
    nb_shape all = nb_shape1((int)s->param_count);
    for (int k = 0; k < optimizer_slots(s); k++)
        t[n++] = (nb_ckpt_tensor){slot_names[k], all, nb_optimizer_slot(s->optimizer, k)};
    if (s->best) t[n++] = (nb_ckpt_tensor){BEST_NAME, all, s->best};
    for (int i = 0; i < buffers; i++) {
        const nb_train_buffer *b = &s->buffers[i];
        t[n++] = (nb_ckpt_tensor){buffer_name(text, i, b->name), b->shape, b->values};
    }
    *out = t;
    *names = text;
    *count = n;
    return NB_OK;
}

nb_status nb_checkpoint_save(const nb_train_state *s, const char *path)
{
    if (!s || !s->internal) return nb_error(NB_ERR_ARGUMENT, "saving a checkpoint: no state");
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "saving a checkpoint: no path");
    const nb_train_internal *in = s->internal;
    if (in->finished)
        return nb_error(NB_ERR_STATE, "checkpoint \"%s\": the run is finished (nb_train_finish)",
                        path);
    if (in->epoch_ended && s->stop_reason)
        return nb_error(NB_ERR_STATE,
                        "checkpoint \"%s\": the run stopped (%s) at the end of epoch %d; a "
                        "checkpoint is saved between batches or after nb_train_next_epoch",
                        path, s->stop_reason, s->epoch);
    if (in->epoch_ended)
        return nb_error(NB_ERR_STATE,
                        "checkpoint \"%s\": epoch %d is recorded but the next has not started; "
                        "save before nb_train_end_epoch or after nb_train_next_epoch",
                        path, s->epoch);
    if (s->param_count > (size_t)INT_MAX)
        return nb_error(NB_ERR_LIMIT, "checkpoint \"%s\": %zu parameters are more than %d", path,
                        s->param_count, INT_MAX);
    ensure_hashes(s);
    cJSON *meta = make_metadata(s);
    if (!meta) return nb_error(NB_ERR_MEMORY, "checkpoint \"%s\": out of memory", path);
    nb_ckpt_tensor *tensors = NULL;
    char *names = NULL;
    int count = 0;
    nb_status st = list_tensors(s, &tensors, &names, &count);
    if (st == NB_OK) st = nb_ckpt_file_save(path, meta, tensors, count);
    nb_free(tensors);
    nb_free(names);
    cJSON_Delete(meta);
    return st;
}

/* ------------------------------------------------------------------ load */

static nb_status need(const nb_ckpt_file *f, const char *key, const char **out)
{
    *out = nb_ckpt_file_meta(f, key);
    if (!*out) return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is missing", key);
    return NB_OK;
}

/* A decimal integer in [0, max]: digits only, no leading zero (as
 * put_u64 writes it; some readers take a leading zero for octal). */
static nb_status get_u64(const nb_ckpt_file *f, const char *key, uint64_t max, uint64_t *out)
{
    const char *s;
    nb_status st = need(f, key, &s);
    if (st != NB_OK) return st;
    char *end = NULL, q[48];
    errno = 0;
    int digits = s[0] >= '0' && s[0] <= '9' && !(s[0] == '0' && s[1]);
    unsigned long long v = digits ? strtoull(s, &end, 10) : 0;
    if (!end || *end || errno || v > max)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"%s\" is \"%s\", not an integer in [0, %" PRIu64 "]", key,
                        nb_escape(q, sizeof q, s), max);
    *out = v;
    return NB_OK;
}

static nb_status get_int(const nb_ckpt_file *f, const char *key, int max, int *out)
{
    uint64_t v = 0;
    nb_status st = get_u64(f, key, (uint64_t)max, &v);
    *out = (int)v;
    return st;
}

static nb_status get_size(const nb_ckpt_file *f, const char *key, size_t max, size_t *out)
{
    uint64_t v = 0;
    nb_status st = get_u64(f, key, (uint64_t)max, &v);
    *out = (size_t)v;
    return st;
}

/* A decimal number as put_double writes it (sign, digits, point,
 * exponent: no spaces, no hex, no "nan"), not negative, finite or, where
 * allowed, "inf". */
static nb_status get_double(const nb_ckpt_file *f, const char *key, int allow_inf, double *out)
{
    const char *s;
    nb_status st = need(f, key, &s);
    if (st != NB_OK) return st;
    char *end = NULL, q[48];
    int plain = s[0] != '\0' && strspn(s, "0123456789.eE+-") == strlen(s);
    double v = plain ? strtod(s, &end) : allow_inf && strcmp(s, "inf") == 0 ? INFINITY : NAN;
    if ((plain && (!end || *end)) || !(v >= 0) || (isinf(v) && !allow_inf))
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is \"%s\", not a %snumber >= 0%s", key,
                        nb_escape(q, sizeof q, s), allow_inf ? "" : "finite ",
                        allow_inf ? " or \"inf\"" : "");
    *out = v;
    return NB_OK;
}

/* Metadata key as parsed JSON of the given type (cJSON_Object, ...), read
 * strictly: nothing after it, no key twice, no \u0000 in a string. */
static nb_status get_json(const nb_ckpt_file *f, const char *key, int type, cJSON **out)
{
    const char *s;
    *out = NULL;
    nb_status st = need(f, key, &s);
    if (st != NB_OK) return st;
    char what[64];
    snprintf(what, sizeof what, "metadata \"%s\"", key);
    if ((st = nb_json_parse(s, NB_ERR_FORMAT, what, out)) != NB_OK) return st;
    if (((*out)->type & 0xFF) != type) {
        cJSON_Delete(*out);
        *out = NULL;
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is not a JSON %s", key,
                        type == cJSON_Array ? "array" : "object");
    }
    return NB_OK;
}

/* Every key of obj is one of keys (NULL-terminated): a key this build does
 * not write has no meaning here (a misspelt one would be ignored). */
static nb_status only_keys(const cJSON *obj, const char *where, const char *const *keys)
{
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        int known = 0;
        for (int i = 0; keys[i] && !known; i++) known = strcmp(c->string, keys[i]) == 0;
        char q[NB_ESCAPE_SIZE];
        if (!known)
            return nb_error(NB_ERR_FORMAT, "%s: key \"%s\" does not belong in a checkpoint", where,
                            nb_escape(q, sizeof q, c->string));
    }
    return NB_OK;
}

/* A number member of a JSON object (null reads as NaN when allowed). */
static nb_status member(const cJSON *obj, const char *where, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\": \"%s\" is missing or not a finite number",
                        where, key);
    *out = v->valuedouble;
    return NB_OK;
}

static const char *member_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The graph the file describes ("graph", optional before format_version
 * 3) against m's, node by node. */
static nb_status check_graph(const nb_ckpt_file *f, nb_model *m, int required)
{
    if (!required && !nb_ckpt_file_meta(f, "graph")) return NB_OK;
    cJSON *file;
    nb_status st = get_json(f, "graph", cJSON_Array, &file);
    if (st != NB_OK) return st;
    cJSON *mine = graph_json(m);
    if (!mine) {
        cJSON_Delete(file);
        return nb_error(NB_ERR_MEMORY, "out of memory describing the graph");
    }
    int n = cJSON_GetArraySize(file), k = cJSON_GetArraySize(mine), i = 0;
    char was[2 * NB_ESCAPE_SIZE], now[2 * NB_ESCAPE_SIZE];
    const cJSON *a = file->child, *b = mine->child;
    for (; a && b && st == NB_OK; a = a->next, b = b->next, i++) {
        if (!cJSON_IsString(a))
            st = nb_error(NB_ERR_FORMAT, "metadata \"graph\": node %d is not a string", i);
        else if (strcmp(a->valuestring, b->valuestring) != 0)
            st = nb_error(NB_ERR_ARGUMENT,
                          "it was written for another graph: its node %d is \"%s\", this "
                          "model's is \"%s\"",
                          i, nb_escape(was, sizeof was, a->valuestring),
                          nb_escape(now, sizeof now, b->valuestring));
    }
    if (st == NB_OK && n != k) {
        const cJSON *extra = a ? a : b;
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written for a graph of %d %s, this model's has %d (node %d: \"%s\" "
                      "%s)",
                      n, nb_plural(n, "node", "nodes"), k, i,
                      nb_escape(was, sizeof was,
                                cJSON_IsString(extra) ? extra->valuestring : "(not a string)"),
                      a ? "only in the file" : "only in this model");
    }
    cJSON_Delete(file);
    cJSON_Delete(mine);
    return st;
}

/* The file describes the same model as the one being trained: its spec
 * (when both have one), loss, sizes and graph. */
static nb_status check_model(const nb_ckpt_file *f, nb_model *m)
{
    const char *s;
    int n, version;
    nb_status st;
    char q[NB_ESCAPE_SIZE], spec[2 * NB_ESCAPE_SIZE];
    if ((st = need(f, "format", &s)) != NB_OK) return st;
    if (strcmp(s, NB_CHECKPOINT_FORMAT) != 0)
        return nb_error(NB_ERR_FORMAT, "metadata \"format\" is \"%s\", not \"%s\"%s",
                        nb_escape(q, 40, s), NB_CHECKPOINT_FORMAT,
                        strcmp(s, "nabla") == 0 ? " (this is a model file, not a checkpoint)" : "");
    if ((st = get_int(f, "format_version", INT_MAX, &version)) != NB_OK) return st;
    if (version < 1 || version > NB_CHECKPOINT_VERSION)
        return nb_error(NB_ERR_FORMAT, "format_version %d is not one this build reads (1..%d)",
                        version, NB_CHECKPOINT_VERSION);
    if ((st = need(f, "real", &s)) != NB_OK) return st;
    if (strcmp(s, NB_REAL_NAME) != 0)
        return nb_error(NB_ERR_FORMAT,
                        "it was written by a build with %s numbers, this build uses %s; resume "
                        "with the same build",
                        nb_escape(q, 24, s), NB_REAL_NAME);
    /* Before version 3 every checkpoint had a spec and no graph. */
    const char *mine = nb_model_spec(m), *graph = nb_ckpt_file_meta(f, "graph");
    s = nb_ckpt_file_meta(f, "spec");
    if (version < 3 && (st = need(f, "spec", &s)) != NB_OK) return st;
    if (s && mine && strcmp(s, mine) != 0)
        return nb_error(NB_ERR_ARGUMENT, "it was written for model \"%s\", this model is \"%s\"",
                        nb_escape(spec, sizeof spec, s), nb_escape(q, sizeof q, mine));
    if (s && !mine && !graph)
        return nb_error(NB_ERR_ARGUMENT,
                        "it was written for model \"%s\", this model is a hand-built graph",
                        nb_escape(spec, sizeof spec, s));
    if ((st = need(f, "loss", &s)) != NB_OK) return st;
    if (strcmp(s, nb_model_loss_name(m)) != 0)
        return nb_error(NB_ERR_ARGUMENT, "it was written for loss %s, this model has %s",
                        nb_escape(q, 40, s), nb_model_loss_name(m));
    if ((st = get_int(f, "inputs", INT_MAX, &n)) != NB_OK) return st;
    if (n != nb_model_inputs(m))
        return nb_error(NB_ERR_ARGUMENT, "it was written for %d %s, this model has %d", n,
                        nb_plural(n, "input", "inputs"), nb_model_inputs(m));
    if ((st = get_int(f, "outputs", INT_MAX, &n)) != NB_OK) return st;
    if (n != nb_model_outputs(m))
        return nb_error(NB_ERR_ARGUMENT, "it was written for %d %s, this model has %d", n,
                        nb_plural(n, "output", "outputs"), nb_model_outputs(m));
    return check_graph(f, m, version >= 3);
}

/* One setting of the file against this run's; the message names both. */
static nb_status same_number(const cJSON *obj, const char *where, const char *key, double want)
{
    double v = 0;
    nb_status st = member(obj, where, key, &v);
    if (st != NB_OK) return st;
    char was[NB_NUMBER_SIZE], now[NB_NUMBER_SIZE];
    if (v != want)
        return nb_error(NB_ERR_ARGUMENT,
                        "it was written with %s %s %s, this run has %s; resume with the same "
                        "settings",
                        where, key, nb_number_text(was, sizeof was, v),
                        nb_number_text(now, sizeof now, want));
    return NB_OK;
}

static nb_status same_string(const cJSON *obj, const char *where, const char *key, const char *want)
{
    const char *s = member_string(obj, key);
    char q[48];
    if (!s)
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\": \"%s\" is missing or not a string", where,
                        key);
    if (strcmp(s, want) != 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "it was written with %s %s \"%s\", this run has \"%s\"; resume with "
                        "the same settings",
                        where, key, nb_escape(q, sizeof q, s), want);
    return NB_OK;
}

static nb_status check_optimizer(const cJSON *j, const nb_optimizer_config *o)
{
    static const char *const keys[] = {"kind",  "lr",  "momentum",     "rho", "beta1",
                                       "beta2", "eps", "weight_decay", NULL};
    const char *w = "optimizer";
    nb_status st = only_keys(j, "metadata \"optimizer\"", keys);
    if (st == NB_OK) st = same_string(j, w, "kind", nb_optimizer_name(o->kind));
    if (st == NB_OK) st = same_number(j, w, "lr", o->lr);
    if (st == NB_OK) st = same_number(j, w, "momentum", o->momentum);
    if (st == NB_OK) st = same_number(j, w, "rho", o->rho);
    if (st == NB_OK) st = same_number(j, w, "beta1", o->beta1);
    if (st == NB_OK) st = same_number(j, w, "beta2", o->beta2);
    if (st == NB_OK) st = same_number(j, w, "eps", o->eps);
    if (st == NB_OK) st = same_number(j, w, "weight_decay", o->weight_decay);
    return st;
}

static nb_status check_training(const cJSON *j, const nb_train_config *c)
{
    static const char *const keys[] = {"batch", "epochs", "seed",      "schedule", "step_epochs",
                                       "gamma", "lr_min", "clip_norm", "patience", NULL};
    const char *w = "training";
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    nb_status st = only_keys(j, "metadata \"training\"", keys);
    if (st == NB_OK) st = same_number(j, w, "batch", c->batch);
    if (st == NB_OK) st = same_number(j, w, "epochs", c->epochs);
    if (st == NB_OK) st = same_string(j, w, "seed", seed);
    if (st == NB_OK) st = same_string(j, w, "schedule", nb_schedule_name(c->schedule));
    if (st == NB_OK) st = same_number(j, w, "step_epochs", c->step_epochs);
    if (st == NB_OK) st = same_number(j, w, "gamma", c->gamma);
    if (st == NB_OK) st = same_number(j, w, "lr_min", c->lr_min);
    if (st == NB_OK) st = same_number(j, w, "clip_norm", c->clip_norm);
    if (st == NB_OK) st = same_number(j, w, "patience", c->patience);
    return st;
}

/* The fingerprint of the data the file was written for against d's. */
static nb_status check_data(const nb_ckpt_file *f, const char *key, const char *what,
                            const nb_dataset *d, uint64_t hash)
{
    const char *s;
    nb_status st = need(f, key, &s);
    if (st != NB_OK) return st;
    if (strcmp(s, "none") == 0 || !d) {
        if (strcmp(s, "none") == 0 && !d) return NB_OK;
        return nb_error(NB_ERR_ARGUMENT, "it was written %s a %s, this run has %s",
                        d ? "without" : "with", what, d ? "one" : "none");
    }
    static const char *const keys[] = {"count", "features", "classes", "targets", "fnv1a", NULL};
    cJSON *j;
    if ((st = get_json(f, key, cJSON_Object, &j)) != NB_OK) return st;
    double count = 0, features = 0, classes = 0, targets = 0;
    const char *hex = member_string(j, "fnv1a");
    char where[32], q[40];
    snprintf(where, sizeof where, "metadata \"%s\"", key);
    st = only_keys(j, where, keys);
    if (st == NB_OK) st = member(j, key, "count", &count);
    if (st == NB_OK) st = member(j, key, "features", &features);
    if (st == NB_OK) st = member(j, key, "classes", &classes);
    if (st == NB_OK) st = member(j, key, "targets", &targets);
    if (st == NB_OK && !hex)
        st = nb_error(NB_ERR_FORMAT, "metadata \"%s\": \"fnv1a\" is missing", key);
    char mine[20];
    snprintf(mine, sizeof mine, "%016" PRIx64, hash);
    /* The file's numbers are doubles of any size: "== 1" picks the word. */
    if (st == NB_OK && (count != (double)d->count || features != d->features ||
                        classes != d->classes || targets != d->targets || strcmp(hex, mine) != 0))
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written for a different %s: %.0f %s of %.0f %s, %.0f %s, "
                      "FNV-1a %s; this one has %zu %s of %d %s, %d %s, FNV-1a %s (resume with "
                      "the same data, split, seed and scaling)",
                      what, count, nb_plural(count == 1, "sample", "samples"), features,
                      nb_plural(features == 1, "feature", "features"), classes,
                      nb_plural(classes == 1, "class", "classes"), nb_escape(q, sizeof q, hex),
                      d->count, nb_plural((long long)d->count, "sample", "samples"), d->features,
                      nb_plural(d->features, "feature", "features"), d->classes,
                      nb_plural(d->classes, "class", "classes"), mine);
    cJSON_Delete(j);
    return st;
}

static int hex_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0 || n >= 16) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return n == 16;
}

static nb_status read_rng(const nb_ckpt_file *f, nb_rng *rng)
{
    cJSON *a;
    nb_status st = get_json(f, "rng", cJSON_Array, &a);
    if (st != NB_OK) return st;
    int i = 0;
    uint64_t any = 0;
    for (const cJSON *e = a->child; e && st == NB_OK; e = e->next, i++)
        if (i >= 4 || !cJSON_IsString(e) || !hex_u64(e->valuestring, &rng->s[i]))
            st = NB_ERR_FORMAT;
        else
            any |= rng->s[i];
    cJSON_Delete(a);
    if (st != NB_OK || i != 4 || !any)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"rng\" is not 4 hex strings of 16 digits, not all zero");
    return NB_OK;
}

/* Why value v of history column i (1..9) is out of range, or NULL: a
 * loss or accuracy may be NaN (null); -1 marks one the run has none of (no
 * validation set, no classes); else losses >= 0, accuracies in [0, 1]. The
 * regression metrics are null (unknown, or none in this run), MAE and RMSE
 * >= 0, R^2 at most 1. */
static const char *history_problem(int i, double v, int train_classes, int val, int val_classes)
{
    if (i >= 7) {
        if (isnan(v)) return NULL;
        if (!val || val_classes) return "null (this run has none)";
        if (i == 9) return isfinite(v) && v <= 1 ? NULL : "a finite number <= 1";
        return isfinite(v) && v >= 0 ? NULL : "a finite number >= 0";
    }
    int accuracy = i == 3 || i == 5;
    int have = i == 3 ? train_classes : i == 4 ? val : i == 5 ? val_classes : 1;
    if (i == 1 || i == 6) return isfinite(v) && v >= 0 ? NULL : "a finite number >= 0";
    if (isnan(v)) return NULL;
    if (!have) return v == -1 ? NULL : "-1 (this run has none)";
    if (v >= 0 && (!accuracy || v <= 1)) return NULL;
    return accuracy ? "in [0, 1]" : ">= 0";
}

/* What a checkpoint holds, read aside: the state changes only once all of
 * it is read and checked. */
typedef struct ckpt_read {
    int epoch;
    size_t batch;
    uint64_t steps;
    nb_rng rng_start;
    double loss_sum;
    size_t correct, seen;
    nb_epoch_stats *history; /* epoch - 1 rows read (room for config.epochs) */
    int best_epoch, since_best;
    double best_loss;
    double elapsed, epoch_elapsed;
    /* The parameters go to the state's scratch (internal->saved); the
     * optimizer's slots, the best weights and the buffers to values, one
     * after the other. */
    nb_real *values;
} ckpt_read;

/* history rows 1..epochs, each as many numbers as the format version
 * writes (null: NaN). */
static nb_status read_history(const nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd,
                              int epochs)
{
    static const char *const columns[HISTORY_COLUMNS] = {
        "epoch",        "lr",      "train loss", "train accuracy", "val loss",
        "val accuracy", "seconds", "val MAE",    "val RMSE",       "val R2"};
    int val = s->val != NULL, train_classes = s->train->classes > 0,
        val_classes = val && s->val->classes > 0, version;
    cJSON *a;
    nb_status st = get_int(f, "format_version", NB_CHECKPOINT_VERSION, &version);
    if (st != NB_OK) return st;
    const int columns_n = version == 1 ? HISTORY_COLUMNS_V1 : HISTORY_COLUMNS;
    const char *const row_shape = version == 1 ? "" : ", val MAE, val RMSE, val R2";
    if ((st = get_json(f, "history", cJSON_Array, &a)) != NB_OK) return st;
    int n = cJSON_GetArraySize(a), e = 0;
    if (n != epochs)
        st = nb_error(NB_ERR_FORMAT, "metadata \"history\" has %d %s, expected %d", n,
                      nb_plural(n, "epoch", "epochs"), epochs);
    for (const cJSON *row = a->child; row && st == NB_OK; row = row->next, e++) {
        /* Columns a version 1 row lacks are unknown. */
        double v[HISTORY_COLUMNS] = {0, 0, 0, 0, 0, 0, 0, NAN, NAN, NAN};
        int i = 0;
        if (cJSON_IsArray(row) && cJSON_GetArraySize(row) == columns_n)
            for (const cJSON *x = row->child; x; x = x->next, i++)
                v[i] = cJSON_IsNumber(x)          ? x->valuedouble
                       : cJSON_IsNull(x) && i > 0 ? NAN
                                                  : INFINITY;
        if (i != columns_n || v[0] != e + 1) {
            st = nb_error(NB_ERR_FORMAT,
                          "metadata \"history\": row %d is not [%d, lr, train loss, train "
                          "accuracy, val loss, val accuracy, seconds%s]",
                          e + 1, e + 1, row_shape);
            break;
        }
        for (i = 1; i < HISTORY_COLUMNS && st == NB_OK; i++) {
            const char *why = history_problem(i, v[i], train_classes, val, val_classes);
            if (why)
                st = nb_error(NB_ERR_FORMAT, "metadata \"history\": row %d, %s is %g, not %s",
                              e + 1, columns[i], v[i], why);
        }
        if (st != NB_OK) break;
        rd->history[e] =
            (nb_epoch_stats){e + 1, v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
    }
    cJSON_Delete(a);
    return st;
}

/* Where the run stood, checked against what this run's data allows. */
static nb_status read_position(const nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    const nb_train_config *c = &s->config;
    size_t batches;
    nb_status st;
    if ((st = get_size(f, "batches", SIZE_MAX, &batches)) != NB_OK) return st;
    if (batches != s->batches)
        return nb_error(NB_ERR_FORMAT, "metadata \"batches\" is %zu, but this run has %zu", batches,
                        s->batches);
    /* Epoch `epochs` + 1, batch 0: saved after the last epoch, nothing left. */
    if ((st = get_int(f, "epoch", c->epochs + 1, &rd->epoch)) != NB_OK) return st;
    if (rd->epoch < 1) return nb_error(NB_ERR_FORMAT, "metadata \"epoch\" is 0");
    if ((st = get_size(f, "batch", batches, &rd->batch)) != NB_OK) return st;
    if (rd->epoch > c->epochs && rd->batch != 0)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"epoch\" %d (after the last) with \"batch\" %zu (not 0)",
                        rd->epoch, rd->batch);
    /* Every finished epoch ran all its batches (a shortened one ends the run). */
    uint64_t want = (uint64_t)(rd->epoch - 1) * batches + rd->batch;
    if ((st = get_u64(f, "optimizer_steps", UINT64_MAX, &rd->steps)) != NB_OK) return st;
    if (rd->steps != want)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"optimizer_steps\" is %" PRIu64 ", but epoch %d, batch %zu "
                        "means %" PRIu64,
                        rd->steps, rd->epoch, rd->batch, want);
    if ((st = read_rng(f, &rd->rng_start)) != NB_OK) return st;
    if ((st = get_double(f, "loss_sum", 0, &rd->loss_sum)) != NB_OK) return st;
    size_t seen_want = rd->batch * (size_t)s->batch_rows;
    if (seen_want > s->train->count) seen_want = s->train->count;
    if ((st = get_size(f, "seen", seen_want, &rd->seen)) != NB_OK) return st;
    if (rd->seen != seen_want)
        return nb_error(NB_ERR_FORMAT, "metadata \"seen\" is %zu, but %zu batches of %d mean %zu",
                        rd->seen, rd->batch, s->batch_rows, seen_want);
    if ((st = get_size(f, "correct", rd->seen, &rd->correct)) != NB_OK) return st;
    if ((st = read_history(f, s, rd, rd->epoch - 1)) != NB_OK) return st;
    if ((st = get_double(f, "elapsed", 0, &rd->elapsed)) != NB_OK) return st;
    if ((st = get_double(f, "epoch_elapsed", 0, &rd->epoch_elapsed)) != NB_OK) return st;
    if (rd->epoch_elapsed > rd->elapsed)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"epoch_elapsed\" %.17g is more than \"elapsed\" %.17g",
                        rd->epoch_elapsed, rd->elapsed);
    int threads;
    if ((st = get_int(f, "threads", INT_MAX, &threads)) != NB_OK) return st;
    if (threads < 1) return nb_error(NB_ERR_FORMAT, "metadata \"threads\" is 0");
    return NB_OK;
}

/* Early stopping's state must agree with the history. */
static nb_status read_early_stopping(const nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    int done = rd->epoch - 1;
    nb_status st;
    if ((st = get_int(f, "best_epoch", done, &rd->best_epoch)) != NB_OK) return st;
    if ((st = get_int(f, "since_best", done, &rd->since_best)) != NB_OK) return st;
    if ((st = get_double(f, "best_val_loss", 1, &rd->best_loss)) != NB_OK) return st;
    int patience = s->config.patience > 0;
    int since_want = patience ? done - rd->best_epoch : 0;
    double best_want =
        patience && rd->best_epoch > 0 ? rd->history[rd->best_epoch - 1].val_loss : INFINITY;
    if ((!patience && rd->best_epoch != 0) || rd->since_best != since_want ||
        memcmp(&rd->best_loss, &best_want, sizeof best_want) != 0)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"best_epoch\" %d, \"since_best\" %d and \"best_val_loss\" %g "
                        "do not agree with the history",
                        rd->best_epoch, rd->since_best, rd->best_loss);
    return NB_OK;
}

/* Is name one of the tensors a checkpoint of s holds? */
static int known_tensor(const nb_train_state *s, const char *name)
{
    nb_graph *g = nb_model_graph(s->model);
    nb_node node = nb_graph_find(g, name);
    if (node != NB_NONE && nb_node_is_param(g, node)) return 1;
    for (int k = 0; k < optimizer_slots(s); k++)
        if (strcmp(name, slot_names[k]) == 0) return 1;
    if (s->best && strcmp(name, BEST_NAME) == 0) return 1;
    size_t prefix = strlen(BUFFER_PREFIX);
    for (int i = 0; i < s->buffer_count && strncmp(name, BUFFER_PREFIX, prefix) == 0; i++)
        if (strcmp(name + prefix, s->buffers[i].name) == 0) return 1;
    return 0;
}

/* Exactly the tensors a checkpoint of s holds, read aside: the parameters
 * into internal->saved, the rest into rd->values. */
static nb_status read_tensors(nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    nb_graph *g = nb_model_graph(s->model);
    nb_real *saved = s->internal->saved, *next = rd->values;
    int expected = 0;
    nb_status st = NB_OK;
    for (int i = 0; i < nb_graph_node_count(g) && st == NB_OK; i++) {
        if (!nb_node_is_param(g, i)) continue;
        size_t offset = (size_t)(nb_node_value(g, i) - s->params);
        st = nb_ckpt_file_read(f, nb_node_name(g, i), nb_node_shape(g, i), saved + offset);
        expected++;
    }
    nb_shape all = nb_shape1((int)s->param_count);
    for (int k = 0; k < optimizer_slots(s) && st == NB_OK; k++, expected++) {
        st = nb_ckpt_file_read(f, slot_names[k], all, next);
        next += s->param_count;
    }
    if (st == NB_OK && s->best) {
        st = nb_ckpt_file_read(f, BEST_NAME, all, next);
        next += s->param_count;
        expected++;
    }
    for (int i = 0; i < s->buffer_count && st == NB_OK; i++, expected++) {
        char name[NB_NAME_MAX + 8];
        const nb_train_buffer *b = &s->buffers[i];
        snprintf(name, sizeof name, BUFFER_PREFIX "%s", b->name);
        st = nb_ckpt_file_read(f, name, b->shape, next);
        next += nb_shape_count(b->shape);
    }
    if (st == NB_OK && f->header.count != expected)
        for (int i = 0; i < f->header.count; i++) {
            const char *name = f->header.tensors[i].name;
            char q[NB_ESCAPE_SIZE];
            if (!known_tensor(s, name))
                return nb_error(NB_ERR_FORMAT,
                                "tensor \"%s\" does not belong in a checkpoint of this run "
                                "(optimizer %s, patience %d)",
                                nb_escape(q, sizeof q, name),
                                nb_optimizer_name(s->config.optimizer.kind), s->config.patience);
        }
    return st;
}

/* The metadata keys make_metadata writes (and "spec", which it leaves out
 * for a hand-built graph), and no other. */
static const char *const metadata_keys[] = {
    "format",   "format_version", "real",       "spec",       "graph",
    "loss",     "inputs",         "outputs",    "optimizer",  "optimizer_steps",
    "training", "train_data",     "val_data",   "threads",    "epoch",
    "batch",    "batches",        "rng",        "loss_sum",   "correct",
    "seen",     "history",        "best_epoch", "since_best", "best_val_loss",
    "elapsed",  "epoch_elapsed",  NULL};

static nb_status read_checkpoint(nb_ckpt_file *f, const nb_train_state *s, ckpt_read *rd)
{
    if (!f->header.metadata)
        return nb_error(NB_ERR_FORMAT, "no \"__metadata__\": not a checkpoint");
    nb_status st = check_model(f, s->model);
    if (st == NB_OK) st = only_keys(f->header.metadata, "\"__metadata__\"", metadata_keys);
    cJSON *j = NULL;
    if (st == NB_OK && (st = get_json(f, "optimizer", cJSON_Object, &j)) == NB_OK) {
        st = check_optimizer(j, &s->config.optimizer);
        cJSON_Delete(j);
    }
    if (st == NB_OK && (st = get_json(f, "training", cJSON_Object, &j)) == NB_OK) {
        st = check_training(j, &s->config);
        cJSON_Delete(j);
    }
    if (st == NB_OK) ensure_hashes(s);
    if (st == NB_OK)
        st = check_data(f, "train_data", "training set", s->train, s->internal->train_hash);
    if (st == NB_OK)
        st = check_data(f, "val_data", "validation set", s->val, s->internal->val_hash);
    if (st == NB_OK) st = read_position(f, s, rd);
    if (st == NB_OK) st = read_early_stopping(f, s, rd);
    if (st == NB_OK) st = read_tensors(f, s, rd);
    return st;
}

/* Everything read goes into s at once. */
static void commit(nb_train_state *s, const ckpt_read *rd)
{
    nb_train_internal *in = s->internal;
    const nb_real *next = rd->values;
    memcpy(s->params, in->saved, s->param_count * sizeof *s->params);
    for (int k = 0; k < optimizer_slots(s); k++, next += s->param_count)
        memcpy(nb_optimizer_slot(s->optimizer, k), next, s->param_count * sizeof *next);
    *nb_optimizer_steps(s->optimizer) = rd->steps;
    if (s->best) {
        memcpy(s->best, next, s->param_count * sizeof *next);
        next += s->param_count;
    }
    for (int i = 0; i < s->buffer_count; i++) {
        size_t n = nb_shape_count(s->buffers[i].shape);
        memcpy(s->buffers[i].values, next, n * sizeof *next);
        next += n;
    }
    s->epoch = rd->epoch;
    s->batch = rd->batch;
    s->rng_start = rd->rng_start;
    nb_train_order(s); /* the epoch's order and s->rng */
    s->rows = 0;
    s->batch_loss = 0;
    s->batch_correct = 0;
    s->loss_sum = rd->loss_sum;
    s->correct = rd->correct;
    s->seen = rd->seen;
    size_t rows = (size_t)(rd->epoch - 1), all = (size_t)s->config.epochs;
    memcpy(s->history, rd->history, rows * sizeof *s->history);
    memset(s->history + rows, 0, (all - rows) * sizeof *s->history);
    s->epochs_run = rd->epoch - 1;
    s->best_epoch = rd->best_epoch;
    s->since_best = rd->since_best;
    s->best_loss = rd->best_loss;
    double now = nb_train_clock();
    s->start = now - rd->elapsed;
    s->epoch_start = now - rd->epoch_elapsed;
    s->stop = NULL;
    s->stop_reason = s->epoch > s->config.epochs ? "epochs" : NULL;
    in->loaded = in->computed = in->epoch_ended = in->asked = 0;
}

/* A resumed run first reports the epochs its checkpoint finished, so that
 * a caller can rebuild its log from them; they are not new progress, and
 * the callback cannot stop them. */
static void report_restored(const nb_train_state *s)
{
    const nb_train_config *c = &s->config;
    if (!c->progress) return;
    for (int e = 1; e < s->epoch; e++) {
        const nb_epoch_stats *h = &s->history[e - 1];
        nb_progress p = {.epoch = e,
                         .epochs = c->epochs,
                         .batch = s->batches,
                         .batches = s->batches,
                         .loss = h->train_loss,
                         .eta_seconds = NAN,
                         .stats = h,
                         .restored = 1};
        p.samples_per_second = h->seconds > 0 ? (double)s->train->count / h->seconds : 0;
        (void)c->progress(&p, c->progress_user);
    }
}

nb_status nb_checkpoint_load(nb_train_state *s, const char *path)
{
    if (!s || !s->internal) return nb_error(NB_ERR_ARGUMENT, "loading a checkpoint: no state");
    if (!path) return nb_error(NB_ERR_ARGUMENT, "loading a checkpoint: no path");
    if (s->internal->finished)
        return nb_error(NB_ERR_STATE, "resuming from checkpoint \"%s\": the run is finished", path);
    size_t extra = (size_t)optimizer_slots(s) + (s->best != NULL), values = 0;
    for (int i = 0; i < s->buffer_count; i++) values += nb_shape_count(s->buffers[i].shape);
    ckpt_read rd;
    memset(&rd, 0, sizeof rd);
    rd.history = nb_calloc((size_t)s->config.epochs, sizeof *rd.history);
    values += extra * s->param_count;
    rd.values = values > 0 ? nb_calloc(values, sizeof *rd.values) : NULL;
    nb_status st = NB_OK;
    if (!rd.history || (values > 0 && !rd.values))
        st = nb_error(NB_ERR_MEMORY, "out of memory for %zu values and %d epochs", values,
                      s->config.epochs);
    nb_ckpt_file f;
    memset(&f, 0, sizeof f);
    if (st == NB_OK) st = nb_ckpt_file_open(path, &f);
    if (st == NB_OK) {
        st = read_checkpoint(&f, s, &rd);
        nb_ckpt_file_close(&f);
    }
    if (st == NB_OK) commit(s, &rd);
    nb_free(rd.history);
    nb_free(rd.values);
    /* A value that is not finite is a corrupt file, not a numeric stop. */
    if (st == NB_ERR_NUMERIC) st = NB_ERR_FORMAT;
    if (st != NB_OK) return nb_error_prefix(st, "resuming from checkpoint \"%s\"", path);
    report_restored(s);
    return NB_OK;
}
