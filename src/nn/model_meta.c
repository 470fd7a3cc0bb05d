/* What a model keeps besides its graph: the scalers, class names and
 * free-form JSON metadata, each checked as it is set. */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nb_model_meta_reserved(const char *key)
{
    static const char *const reserved[] = {"format",       "format_version", "spec",  "loss",
                                           "inputs",       "outputs",        "scale", "class_names",
                                           "target_scale", "graph"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(key, reserved[i]) == 0) return 1;
    return 0;
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
    return set_scaler(&m->scaler, s, m->inputs_total, "scaler", "input", "inputs");
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
                        m->loss_name,
                        nb_loss_is_classifier(m->loss_def) ? "" : ", class names set");
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
    int want = m->loss_def->target == NB_TARGET_BINARY || m->outputs == 1 ? 2 : m->outputs;
    if (count != want)
        return nb_error(NB_ERR_ARGUMENT, "setting %d class %s on a %s model: it has %d classes",
                        count, nb_plural(count, "name", "names"), m->loss_name, want);
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

void nb_model_clear_meta(nb_model *m)
{
    clear_scaler(&m->scaler);
    clear_scaler(&m->target_scaler);
    clear_class_names(m);
    for (int i = 0; i < m->meta_count; i++) nb_free(m->meta[i].json);
    nb_free(m->meta);
    m->meta = NULL;
    m->meta_count = m->meta_capacity = 0;
    nb_names_free(&m->meta_index);
}

/* A whole number in [lo, hi] as a JSON number, else -1 (lo >= 0). */
static long long member_int(const cJSON *obj, const char *key, long long lo, long long hi)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!whole_number(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi) return -1;
    return (long long)v->valuedouble;
}

void nb_training_record_parse(const char *json, nb_training_record *out)
{
    memset(out, 0, sizeof *out);
    out->regression = -1;
    out->stopped_epoch = out->stopped_batch = -1;
    cJSON *t = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(t)) {
        cJSON_Delete(t);
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "label");
    if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof out->label)
        memcpy(out->label, v->valuestring, strlen(v->valuestring) + 1);
    v = cJSON_GetObjectItemCaseSensitive(t, "regression");
    if (cJSON_IsBool(v)) out->regression = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(t, "seed");
    if (whole_number(v)) {
        out->has_seed = 1;
        out->seed = (uint64_t)v->valuedouble;
    } else if (cJSON_IsString(v) && decimal_u64(v->valuestring)) {
        out->has_seed = 1;
        out->seed = strtoull(v->valuestring, NULL, 10);
    }
    /* Train evaluated in batches of min(batch, training samples). */
    long long batch = member_int(t, "batch", 1, NB_MAX_BATCH);
    long long samples = member_int(t, "train_samples", 1, LLONG_MAX);
    if (batch > 0) out->batch = (int)(samples > 0 && samples < batch ? samples : batch);
    v = cJSON_GetObjectItemCaseSensitive(t, "test_fingerprint");
    char *end = NULL;
    if (cJSON_IsString(v) && strlen(v->valuestring) == 16) {
        uint64_t f = strtoull(v->valuestring, &end, 16);
        if (end && *end == '\0' && isxdigit((unsigned char)v->valuestring[0])) {
            out->has_test_fingerprint = 1;
            out->test_fingerprint = f;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(t, "stop_reason");
    out->diverged = cJSON_IsString(v) && strcmp(v->valuestring, "numeric error") == 0;
    long long e = member_int(t, "stopped_at_epoch", 0, INT_MAX);
    long long b = member_int(t, "stopped_at_batch", 0, INT_MAX);
    if (e >= 0 && b >= 0) {
        out->stopped_epoch = (int)e;
        out->stopped_batch = (int)b;
    }
    cJSON_Delete(t);
}

void nb_model_training_record(const nb_model *m, nb_training_record *out)
{
    nb_training_record_parse(m ? nb_model_meta(m, "training") : NULL, out);
}
