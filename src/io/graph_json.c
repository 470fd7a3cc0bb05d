/* A model's graph as JSON, and back: the "graph" metadata of a model file.
 * Reading trusts nothing: every field is checked before it is used, and
 * every size against the documented limits, before anything is built. */
#include "graph_json.h"

#include "nn/model_internal.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXACT    9007199254740992.0 /* 2^53: larger JSON numbers are not exact */
#define MAX_ATTRS    16                 /* attributes of one node (no op takes more) */
#define BATCH_SYMBOL "N"

static const char *const init_names[] = {
    [NB_INIT_ZEROS] = "zeros",
    [NB_INIT_CONSTANT] = "constant",
    [NB_INIT_NORMAL] = "normal",
    [NB_INIT_UNIFORM] = "uniform",
    [NB_INIT_XAVIER_UNIFORM] = "xavier_uniform",
    [NB_INIT_XAVIER_NORMAL] = "xavier_normal",
    [NB_INIT_HE_UNIFORM] = "he_uniform",
    [NB_INIT_HE_NORMAL] = "he_normal",
};
#define INIT_KINDS ((int)(sizeof init_names / sizeof init_names[0]))

/* Tensor names the file gives to other things: a parameter or constant
 * (stored as a tensor of its own name) may not take them. */
static const char *const reserved_tensors[] = {"__metadata__", "scaler.offset", "scaler.scale",
                                               "target_scaler.offset", "target_scaler.scale"};

static int reserved_tensor(const char *name)
{
    for (size_t i = 0; i < sizeof reserved_tensors / sizeof reserved_tensors[0]; i++)
        if (strcmp(name, reserved_tensors[i]) == 0) return 1;
    return 0;
}

static const char *kind_name(const nb_gnode *n)
{
    if (n->kind != NB_NODE_OP) return nb_leaf_name(n->kind);
    return n->op ? n->op->name : "?";
}

/* ------------------------------------------------------------- shapes */

int nb_gshape_at(const nb_gshape *s, int batch, nb_shape *out)
{
    *out = nb_shape0();
    out->ndim = s->ndim;
    for (int i = 0; i < s->ndim; i++) {
        if (s->batch[i] > 0 && s->batch[i] > INT_MAX / batch) return 0;
        out->dim[i] = s->batch[i] > 0 ? s->batch[i] * batch : s->dim[i];
    }
    return 1;
}

const char *nb_gshape_format(const nb_gshape *s, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && used < size; i++) {
        const char *sep = i ? ", " : "";
        if (s->batch[i] == 1)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, BATCH_SYMBOL);
        else if (s->batch[i] > 1)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%d%s", sep, s->batch[i], BATCH_SYMBOL);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%d", sep, s->dim[i]);
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

static nb_gshape fixed_shape(nb_shape s)
{
    nb_gshape g;
    memset(&g, 0, sizeof g);
    g.ndim = s.ndim;
    for (int i = 0; i < s.ndim; i++) g.dim[i] = s.dim[i];
    return g;
}

/* The element count of s, or 0 when it overflows a size_t. */
static int count_of(nb_shape s, size_t *count)
{
    *count = 1;
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] < 1 || !nb_mul_size(*count, (size_t)s.dim[i], count)) return 0;
    return 1;
}

/* --------------------------------------------------------- descriptions */

void nb_graph_desc_free(nb_graph_desc *d)
{
    if (!d) return;
    for (int i = 0; i < d->count; i++) {
        nb_free(d->nodes[i].in);
        nb_free(d->nodes[i].attrs);
    }
    nb_free(d->nodes);
    nb_free(d->inputs);
    nb_names_free(&d->index);
    memset(d, 0, sizeof *d);
}

static const char *desc_name_of(const void *owner, int i)
{
    return ((const nb_graph_desc *)owner)->nodes[i].name;
}

static int find_node(const nb_graph_desc *d, const char *name)
{
    return nb_names_find(&d->index, name, desc_name_of, d);
}

/* ------------------------------------------------------------- building */

/* A message about node i of d, after "node I "NAME" (KIND): ". */
static nb_status node_error(nb_status st, const nb_gnode *n, int i, const char *fmt, ...)
    NB_PRINTF(4, 5);
static nb_status node_error(nb_status st, const nb_gnode *n, int i, const char *fmt, ...)
{
    char msg[512], q[NB_ESCAPE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nb_error(st, "node %d \"%s\" (%s): %s", i, nb_escape(q, sizeof q, n->name), kind_name(n),
                    msg);
}

nb_status nb_graph_desc_build(const nb_graph_desc *d, int batch, size_t max_values, nb_graph **out,
                              nb_model_roles *roles)
{
    *out = NULL;
    nb_graph *g = nb_graph_create();
    if (!g) return nb_error(NB_ERR_MEMORY, "building the graph: out of memory");
    nb_status st = NB_OK;
    size_t values = 0, scratch = 0; /* scratch: the shared region so far */
    char a[64], b[64], c[64];
    for (int i = 0; i < d->count && st == NB_OK; i++) {
        const nb_gnode *n = &d->nodes[i];
        nb_shape s = nb_shape0();
        int known = n->kind != NB_NODE_OP || n->has_shape;
        if (known && !nb_gshape_at(&n->shape, batch, &s)) {
            st = node_error(NB_ERR_LIMIT, n, i, "shape %s has a dimension past %d at batch %d",
                            nb_gshape_format(&n->shape, a, sizeof a), INT_MAX, batch);
            break;
        }
        nb_node id = NB_NONE;
        switch (n->kind) {
        case NB_NODE_INPUT:
            id = nb_input(g, n->name, s);
            break;
        case NB_NODE_PARAM:
            id = nb_param(g, n->name, s, n->init);
            break;
        case NB_NODE_BUFFER:
            id = nb_buffer(g, n->name, s, n->init);
            break;
        case NB_NODE_CONST:
            id = nb_constant(g, n->name, s, NULL);
            break;
        case NB_NODE_OP:
            id = nb_apply_attrs(g, n->op->name, n->name, n->n_in, n->in, n->n_attrs, n->attrs);
            break;
        }
        if (id == NB_NONE) {
            char q[NB_ESCAPE_SIZE];
            st = nb_graph_status(g);
            st = nb_error_prefix(st == NB_OK ? NB_ERR_STATE : st, "node %d \"%s\" (%s)", i,
                                 nb_escape(q, sizeof q, n->name), kind_name(n));
            break;
        }
        nb_shape got = nb_node_shape(g, id);
        size_t count;
        if (!count_of(got, &count)) {
            st = node_error(NB_ERR_LIMIT, n, i, "its shape %s at batch %d has too many elements",
                            nb_shape_format(got, a, sizeof a), batch);
        } else if (n->kind == NB_NODE_OP && n->has_shape && !nb_shape_equal(got, s)) {
            st = node_error(NB_ERR_SHAPE, n, i,
                            "the graph gives it shape %s (%s at batch %d), but its op makes %s "
                            "of its inputs",
                            nb_gshape_format(&n->shape, a, sizeof a),
                            nb_shape_format(s, b, sizeof b), batch,
                            nb_shape_format(got, c, sizeof c));
        } else {
            /* The memory compiling takes, counted as each node is added
             * (its scratch is known once its op has inferred it). */
            nb_node_rec *r = &g->nodes[id];
            r->needs_grad = nb_node_flows_grad(g, r); /* compile sets it again */
            size_t more = nb_node_arena(r, r->needs_grad, &scratch);
            values = values > SIZE_MAX - more ? SIZE_MAX : values + more;
            if (max_values && values > max_values)
                st = node_error(NB_ERR_LIMIT, n, i,
                                "compiling the graph at batch %d takes more than %zu values up "
                                "to here (NB_MAX_ACTIVATIONS: the values, op scratch and "
                                "gradients of the inputs, constants and op nodes)",
                                batch, max_values);
        }
    }
    if (st != NB_OK) {
        nb_graph_free(g);
        return st;
    }
    roles->n_inputs = d->n_inputs;
    roles->inputs = d->inputs;
    roles->output = d->output;
    roles->target = d->target;
    roles->loss = d->loss;
    *out = g;
    return NB_OK;
}

/* ------------------------------------------------------- from a model */

static nb_status copy_node(const nb_graph *g, int i, nb_gnode *n)
{
    const nb_node_rec *r = &g->nodes[i];
    char q[NB_ESCAPE_SIZE];
    memcpy(n->name, r->name, sizeof n->name);
    n->kind = r->kind;
    n->op = r->op;
    n->init = nb_kind_is_state(r->kind) ? r->init : nb_init_zeros();
    n->shape = fixed_shape(r->shape);
    if (r->kind == NB_NODE_INPUT) { /* [batch, ...]: the model's roles say so */
        n->shape.dim[0] = 0;
        n->shape.batch[0] = 1;
    }
    if ((nb_kind_is_state(r->kind) || r->kind == NB_NODE_CONST) && reserved_tensor(r->name))
        return node_error(NB_ERR_ARGUMENT, n, i,
                          "a model file gives that name to another tensor (rename the node)");
    if (nb_kind_is_state(r->kind)) {
        const nb_init *in = &r->init;
        if ((unsigned)in->kind >= (unsigned)INIT_KINDS || !isfinite(in->a) || !isfinite(in->b))
            return node_error(NB_ERR_ARGUMENT, n, i,
                              "its initialiser (kind %d, a %g, b %g) cannot be written",
                              (int)in->kind, in->a, in->b);
    }
    if (r->n_in > 0) {
        if (!(n->in = nb_malloc((size_t)r->n_in * sizeof *n->in)))
            return nb_error(NB_ERR_MEMORY, "describing the graph: out of memory");
        memcpy(n->in, r->in, (size_t)r->n_in * sizeof *n->in);
        n->n_in = r->n_in;
    }
    if (r->n_attrs > 0) {
        if (!(n->attrs = nb_malloc((size_t)r->n_attrs * sizeof *n->attrs)))
            return nb_error(NB_ERR_MEMORY, "describing the graph: out of memory");
        memcpy(n->attrs, r->attrs, (size_t)r->n_attrs * sizeof *n->attrs);
        n->n_attrs = r->n_attrs;
        for (int k = 0; k < r->n_attrs; k++)
            for (int v = 0; r->attrs[k].type == NB_ATTR_INT && v < r->attrs[k].count; v++)
                if (r->attrs[k].ints[v] >= (int64_t)MAX_EXACT ||
                    r->attrs[k].ints[v] <= -(int64_t)MAX_EXACT)
                    return node_error(NB_ERR_LIMIT, n, i,
                                      "attribute \"%s\" value %d (%lld) is 2^53 or past it in "
                                      "magnitude, which JSON does not hold exactly (2^53 and "
                                      "2^53 + 1 read alike)",
                                      nb_escape(q, sizeof q, r->attrs[k].name), v,
                                      (long long)r->attrs[k].ints[v]);
    }
    return NB_OK;
}

/* Every op node's shape as a multiple of the batch where it follows it:
 * the graph built at batches b1 and b2 = b1 + 1. A dimension d1 at b1 and
 * d2 at b2 is fixed when they are equal, k N when d1 = k b1 and d2 = k b2. */
static nb_status infer_shapes(nb_graph_desc *d)
{
    const int b1 = NB_LOAD_BATCH, b2 = NB_LOAD_BATCH + 1;
    nb_graph *g1 = NULL, *g2 = NULL;
    nb_model_roles roles;
    nb_status st = nb_graph_desc_build(d, b1, NB_MAX_ACTIVATIONS, &g1, &roles);
    if (st == NB_OK) st = nb_graph_desc_build(d, b2, 0, &g2, &roles);
    if (st == NB_ERR_LIMIT)
        st = nb_error_prefix(st, "the graph is past a model file's limits");
    else if (st != NB_OK)
        st = nb_error_prefix(st, "the graph does not build at batch %d", g1 ? b2 : b1);
    for (int i = 0; i < d->count && st == NB_OK; i++) {
        nb_gnode *n = &d->nodes[i];
        if (n->kind != NB_NODE_OP) continue;
        nb_shape s1 = nb_node_shape(g1, i), s2 = nb_node_shape(g2, i);
        char a[64], b[64];
        if (s1.ndim != s2.ndim) {
            st = node_error(NB_ERR_SHAPE, n, i, "its shape is %s at batch %d but %s at batch %d",
                            nb_shape_format(s1, a, sizeof a), b1, nb_shape_format(s2, b, sizeof b),
                            b2);
            break;
        }
        n->shape = fixed_shape(s1);
        for (int k = 0; k < s1.ndim && st == NB_OK; k++) {
            int d1 = s1.dim[k], d2 = s2.dim[k], per = d2 - d1;
            if (d1 == d2) continue;
            if (per > 0 && d1 == per * b1) {
                n->shape.dim[k] = 0;
                n->shape.batch[k] = per;
            } else {
                st = node_error(NB_ERR_SHAPE, n, i,
                                "dimension %d is %d at batch %d and %d at batch %d: not a "
                                "multiple of the batch, which a file cannot state",
                                k, d1, b1, d2, b2);
            }
        }
        n->has_shape = 1;
    }
    nb_graph_free(g1);
    nb_graph_free(g2);
    return st;
}

nb_status nb_graph_desc_of(const nb_model *m, nb_graph_desc *out)
{
    memset(out, 0, sizeof *out);
    const nb_graph *g = m->graph;
    /* Nodes may have been added since the model was made. */
    nb_status st = nb_model_check_roles(m);
    if (st != NB_OK) return st;
    if (g->count > NB_MAX_NODES)
        return nb_error(NB_ERR_LIMIT, "the graph has %d nodes, more than a file holds (%d)",
                        g->count, NB_MAX_NODES);
    out->nodes = nb_calloc((size_t)g->count, sizeof *out->nodes);
    out->inputs = nb_malloc((size_t)m->n_inputs * sizeof *out->inputs);
    if (!out->nodes || !out->inputs) {
        nb_graph_desc_free(out);
        return nb_error(NB_ERR_MEMORY, "describing the graph: out of memory");
    }
    out->capacity = g->count;
    st = NB_OK;
    for (int i = 0; i < g->count && st == NB_OK; i++) {
        st = copy_node(g, i, &out->nodes[i]);
        out->count = i + 1; /* freed with the rest */
    }
    memcpy(out->inputs, m->inputs, (size_t)m->n_inputs * sizeof *out->inputs);
    out->n_inputs = m->n_inputs;
    out->output = m->output;
    out->target = m->target;
    out->loss = m->loss;
    if (st == NB_OK) st = infer_shapes(out);
    if (st != NB_OK) nb_graph_desc_free(out);
    return st;
}

/* -------------------------------------------------------------- writing */

static cJSON *raw_real(double v)
{
    char buf[NB_NUMBER_SIZE];
    return cJSON_CreateRaw(nb_number_text(buf, sizeof buf, v));
}

static cJSON *raw_int(long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return cJSON_CreateRaw(buf);
}

/* Add item to array (object NULL) or as key of object; 0 when item is
 * NULL or cannot be added (it is freed). */
static int put(cJSON *to, const char *key, cJSON *item)
{
    if (!item) return 0;
    if (key ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

static cJSON *shape_json(const nb_gshape *s)
{
    cJSON *a = cJSON_CreateArray();
    int ok = a != NULL;
    for (int i = 0; ok && i < s->ndim; i++) {
        char sym[24];
        if (s->batch[i] > 1)
            snprintf(sym, sizeof sym, "%d%s", s->batch[i], BATCH_SYMBOL);
        else
            snprintf(sym, sizeof sym, "%s", BATCH_SYMBOL);
        ok = put(a, NULL, s->batch[i] ? cJSON_CreateString(sym) : raw_int(s->dim[i]));
    }
    if (!ok) cJSON_Delete(a);
    return ok ? a : NULL;
}

static cJSON *attrs_json(const nb_gnode *n)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (int k = 0; ok && k < n->n_attrs; k++) {
        const nb_attr *at = &n->attrs[k];
        cJSON *typed = cJSON_CreateObject(), *values = cJSON_CreateArray();
        ok = typed && values;
        for (int v = 0; ok && v < at->count; v++)
            ok = put(values, NULL,
                     at->type == NB_ATTR_INT ? raw_int((long long)at->ints[v])
                                             : raw_real(at->reals[v]));
        if (ok) {
            ok = put(typed, at->type == NB_ATTR_INT ? "int" : "real", values);
            values = NULL;
        }
        cJSON_Delete(values);
        if (ok) {
            ok = put(o, at->name, typed);
            typed = NULL;
        }
        cJSON_Delete(typed);
    }
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

static cJSON *init_json(const nb_init *in)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && put(o, "kind", cJSON_CreateString(init_names[in->kind])) &&
             put(o, "a", raw_real(in->a)) && put(o, "b", raw_real(in->b)) &&
             put(o, "fan_in", raw_int(in->fan_in)) && put(o, "fan_out", raw_int(in->fan_out));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

static cJSON *node_json(const nb_graph_desc *d, const nb_gnode *n)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && put(o, "name", cJSON_CreateString(n->name)) &&
             put(o, "op", cJSON_CreateString(kind_name(n)));
    if (ok && n->kind == NB_NODE_OP) {
        cJSON *in = cJSON_CreateArray();
        ok = in != NULL;
        for (int k = 0; ok && k < n->n_in; k++)
            ok = put(in, NULL, cJSON_CreateString(d->nodes[n->in[k]].name));
        if (ok)
            ok = put(o, "inputs", in);
        else
            cJSON_Delete(in);
        if (ok && n->n_attrs > 0) ok = put(o, "attrs", attrs_json(n));
    }
    if (ok && nb_kind_is_state(n->kind)) ok = put(o, "init", init_json(&n->init));
    if (ok) ok = put(o, "shape", shape_json(&n->shape));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

nb_status nb_graph_desc_text(const nb_graph_desc *d, char **out)
{
    *out = NULL;
    cJSON *root = cJSON_CreateObject(),
          *nodes = root ? cJSON_AddArrayToObject(root, "nodes") : NULL, *inputs = NULL;
    int ok = nodes != NULL;
    for (int i = 0; ok && i < d->count; i++) ok = put(nodes, NULL, node_json(d, &d->nodes[i]));
    ok = ok && (inputs = cJSON_AddArrayToObject(root, "inputs")) != NULL;
    for (int i = 0; ok && i < d->n_inputs; i++)
        ok = put(inputs, NULL, cJSON_CreateString(d->nodes[d->inputs[i]].name));
    ok = ok && put(root, "output", cJSON_CreateString(d->nodes[d->output].name)) &&
         put(root, "target", cJSON_CreateString(d->nodes[d->target].name)) &&
         put(root, "loss", cJSON_CreateString(d->nodes[d->loss].name));
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    size_t len = text ? strlen(text) + 1 : 0;
    if (text) *out = nb_malloc(len);
    if (*out) memcpy(*out, text, len);
    cJSON_free(text);
    return *out ? NB_OK : nb_error(NB_ERR_MEMORY, "writing the graph: out of memory");
}

nb_status nb_model_graph_json(const nb_model *model, char **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "the graph as JSON: no output pointer");
    *out = NULL;
    if (!model) return nb_error(NB_ERR_ARGUMENT, "the graph as JSON: no model");
    nb_graph_desc d;
    nb_status st = nb_graph_desc_of(model, &d);
    if (st != NB_OK) return st;
    st = nb_graph_desc_text(&d, out);
    nb_graph_desc_free(&d);
    return st;
}

/* The values compiling d takes at batch: *out, SIZE_MAX when past the
 * address space. */
static nb_status arena_at(const nb_graph_desc *d, int batch, size_t *out)
{
    nb_graph *g;
    nb_model_roles roles;
    nb_status st = nb_graph_desc_build(d, batch, 0, &g, &roles);
    if (st != NB_OK) return st;
    size_t values = 0, scratch = 0;
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *r = &g->nodes[i];
        r->needs_grad = nb_node_flows_grad(g, r);
        size_t more = nb_node_arena(r, r->needs_grad, &scratch);
        values = values > SIZE_MAX - more ? SIZE_MAX : values + more;
    }
    nb_graph_free(g);
    *out = values;
    return NB_OK;
}

nb_status nb_model_activation_values(const nb_model *model, int batch, size_t *out)
{
    if (!model || !out || batch < 1)
        return nb_error(NB_ERR_ARGUMENT, "counting a model's activations: no model or batch");
    nb_graph_desc d;
    nb_status st = nb_graph_desc_of(model, &d);
    if (st == NB_OK) st = arena_at(&d, batch, out);
    nb_graph_desc_free(&d);
    return st;
}

int nb_model_batch_within(const nb_model *model, int want, size_t max_values)
{
    int lo = want < NB_LOAD_BATCH ? want : NB_LOAD_BATCH, hi = want;
    nb_graph_desc d;
    size_t values;
    if (!model || want < 1 || nb_graph_desc_of(model, &d) != NB_OK) return lo < 1 ? 1 : lo;
    if (arena_at(&d, want, &values) == NB_OK && values <= max_values) {
        nb_graph_desc_free(&d);
        return want;
    }
    /* The largest batch that fits: lo fits (a model loads there), hi does
     * not; activations grow with the batch. */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (arena_at(&d, mid, &values) == NB_OK && values <= max_values)
            lo = mid;
        else
            hi = mid;
    }
    nb_graph_desc_free(&d);
    return lo;
}

/* -------------------------------------------------------------- reading */

/* A member of obj that is not one of keys (NULL-terminated), or NULL. */
static const cJSON *unknown_member(const cJSON *obj, const char *const *keys)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        int known = 0;
        for (const char *const *k = keys; *k && !known; k++) known = strcmp(c->string, *k) == 0;
        if (!known) return c;
    }
    return NULL;
}

/* A JSON number that is a whole number in [lo, hi]. */
static int whole(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
           v->valuedouble == floor(v->valuedouble);
}

/* A name as nb_input and the others take it: 1 to NB_NAME_MAX - 1 bytes,
 * no control character, quote or backslash. */
static const char *name_problem(const char *s)
{
    size_t len = strnlen(s, NB_NAME_MAX);
    if (len == 0) return "is empty";
    if (len >= NB_NAME_MAX) return "is longer than 63 bytes";
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\')
            return "holds a control character, quote or backslash";
    return NULL;
}

typedef struct reader {
    nb_graph_desc *d;
    const char *what;
    int i;           /* the node being read */
    const char *key; /* its name as read, or NULL */
} reader;

static nb_status bad(const reader *r, nb_status st, const char *fmt, ...) NB_PRINTF(3, 4);
static nb_status bad(const reader *r, nb_status st, const char *fmt, ...)
{
    char msg[512], q[NB_ESCAPE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->i < 0) return nb_error(st, "%s: %s", r->what, msg);
    if (!r->key) return nb_error(st, "%s: node %d: %s", r->what, r->i, msg);
    return nb_error(st, "%s: node %d \"%s\": %s", r->what, r->i, nb_escape(q, sizeof q, r->key),
                    msg);
}

/* A dimension: an integer in [1, 2^31 - 1], or when symbolic, "N" or "kN"
 * (k from 2, no leading zero). */
static int read_dim(const cJSON *v, int symbolic, int *dim, int *batch)
{
    *dim = 0;
    *batch = 0;
    if (whole(v, 1, INT_MAX)) {
        *dim = (int)v->valuedouble;
        return 1;
    }
    if (!symbolic || !cJSON_IsString(v)) return 0;
    const char *s = v->valuestring;
    if (strcmp(s, BATCH_SYMBOL) == 0) {
        *batch = 1;
        return 1;
    }
    long k = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 9) k = k * 10 + (s[n++] - '0');
    if (n == 0 || s[0] == '0' || k < 2 || strcmp(s + n, BATCH_SYMBOL) != 0) return 0;
    *batch = (int)k;
    return 1;
}

static nb_status read_shape(const reader *r, const cJSON *v, nb_gnode *n)
{
    int leaf = n->kind != NB_NODE_OP, count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (count < 0 || count > NB_MAX_DIMS)
        return bad(r, NB_ERR_FORMAT, "\"shape\" is not an array of at most %d dimensions",
                   NB_MAX_DIMS);
    n->shape.ndim = count;
    int k = 0;
    for (const cJSON *e = v->child; e; e = e->next, k++) {
        int input_batch = n->kind == NB_NODE_INPUT && k == 0;
        if (!read_dim(e, !leaf || input_batch, &n->shape.dim[k], &n->shape.batch[k]))
            return bad(r, NB_ERR_FORMAT, "\"shape\" dimension %d is not %s", k,
                       input_batch ? "\"N\" (an input's first dimension is the batch)"
                       : leaf      ? "an integer in [1, 2147483647]"
                                   : "an integer in [1, 2147483647], \"N\" or \"kN\"");
        if (input_batch && n->shape.batch[0] != 1)
            return bad(r, NB_ERR_FORMAT, "\"shape\" dimension 0 is not \"N\" (the batch)");
    }
    if (n->kind == NB_NODE_INPUT && count < 1)
        return bad(r, NB_ERR_FORMAT, "an input's \"shape\" needs the batch, \"N\", first");
    char buf[64];
    size_t total = 1;
    for (int i = 0; i < count; i++)
        if (!n->shape.batch[i] && !nb_mul_size(total, (size_t)n->shape.dim[i], &total))
            return bad(r, NB_ERR_LIMIT, "shape %s has too many elements",
                       nb_gshape_format(&n->shape, buf, sizeof buf));
    if (n->kind == NB_NODE_INPUT && total > NB_MAX_FEATURES)
        return bad(r, NB_ERR_LIMIT, "shape %s holds %zu values per sample (at most %d)",
                   nb_gshape_format(&n->shape, buf, sizeof buf), total, NB_MAX_FEATURES);
    return NB_OK;
}

static nb_status read_inputs(const reader *r, const cJSON *v, nb_gnode *n)
{
    int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (count < 1 || count > NB_MAX_NODES)
        return bad(r, NB_ERR_FORMAT, "\"inputs\" is not an array of 1 to %d node names",
                   NB_MAX_NODES);
    if (!(n->in = nb_malloc((size_t)count * sizeof *n->in)))
        return bad(r, NB_ERR_MEMORY, "out of memory for %d inputs", count);
    int k = 0;
    char q[NB_ESCAPE_SIZE];
    for (const cJSON *e = v->child; e; e = e->next, k++) {
        int at = cJSON_IsString(e) ? find_node(r->d, e->valuestring) : -1;
        if (!cJSON_IsString(e))
            return bad(r, NB_ERR_FORMAT, "\"inputs\" item %d is not a string", k);
        if (at < 0)
            return bad(r, NB_ERR_FORMAT, "input %d \"%s\" is no node before it", k,
                       nb_escape(q, sizeof q, e->valuestring));
        n->in[k] = at;
        n->n_in = k + 1;
    }
    return NB_OK;
}

static nb_status read_attr(const reader *r, const cJSON *v, nb_attr *a)
{
    char q[NB_ESCAPE_SIZE];
    const char *name = nb_escape(q, sizeof q, v->string);
    memset(a, 0, sizeof *a);
    if (strlen(v->string) >= NB_ATTR_NAME_MAX)
        return bad(r, NB_ERR_FORMAT, "attribute \"%s\": the name is longer than %d bytes", name,
                   NB_ATTR_NAME_MAX - 1);
    memcpy(a->name, v->string, strlen(v->string) + 1);
    const cJSON *values = cJSON_IsObject(v) ? v->child : NULL;
    int is_int = values && strcmp(values->string, "int") == 0;
    if (!values || values->next || (!is_int && strcmp(values->string, "real") != 0))
        return bad(r, NB_ERR_FORMAT,
                   "attribute \"%s\" is not an object of one member, \"int\" or \"real\"", name);
    int count = cJSON_IsArray(values) ? cJSON_GetArraySize(values) : -1;
    if (count < 1 || count > NB_ATTR_MAX_VALUES)
        return bad(r, NB_ERR_FORMAT, "attribute \"%s\": \"%s\" is not an array of 1 to %d numbers",
                   name, values->string, NB_ATTR_MAX_VALUES);
    a->type = is_int ? NB_ATTR_INT : NB_ATTR_REAL;
    a->count = count;
    int k = 0;
    for (const cJSON *e = values->child; e; e = e->next, k++) {
        /* A JSON reader gives 2^53 + 1 as 2^53: an integer that reads as
         * 2^53 or more in magnitude may be any of several, so none is taken
         * (nabla writes none). */
        if (is_int && cJSON_IsNumber(e) && fabs(e->valuedouble) >= MAX_EXACT)
            return bad(r, NB_ERR_FORMAT,
                       "attribute \"%s\": value %d is an integer at or past 2^53 in magnitude, "
                       "which JSON does not hold exactly (at most 2^53 - 1)",
                       name, k);
        if (is_int ? !whole(e, -MAX_EXACT, MAX_EXACT)
                   : !cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return bad(r, NB_ERR_FORMAT, "attribute \"%s\": value %d is not %s", name, k,
                       is_int ? "an integer" : "a finite number");
        if (is_int)
            a->ints[k] = (int64_t)e->valuedouble;
        else
            a->reals[k] = e->valuedouble;
    }
    return NB_OK;
}

static nb_status read_attrs(const reader *r, const cJSON *v, nb_gnode *n)
{
    int count = cJSON_IsObject(v) ? cJSON_GetArraySize(v) : -1;
    if (count < 0 || count > MAX_ATTRS)
        return bad(r, NB_ERR_FORMAT, "\"attrs\" is not an object of at most %d attributes",
                   MAX_ATTRS);
    if (count == 0) return NB_OK;
    if (!(n->attrs = nb_calloc((size_t)count, sizeof *n->attrs)))
        return bad(r, NB_ERR_MEMORY, "out of memory for %d attributes", count);
    n->n_attrs = count;
    int k = 0;
    nb_status st = NB_OK;
    for (const cJSON *e = v->child; e && st == NB_OK; e = e->next, k++)
        st = read_attr(r, e, &n->attrs[k]);
    return st;
}

static nb_status read_init(const reader *r, const cJSON *v, nb_gnode *n)
{
    static const char *const keys[] = {"kind", "a", "b", "fan_in", "fan_out", NULL};
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "kind"),
                *a = cJSON_GetObjectItemCaseSensitive(v, "a"),
                *b = cJSON_GetObjectItemCaseSensitive(v, "b"),
                *fi = cJSON_GetObjectItemCaseSensitive(v, "fan_in"),
                *fo = cJSON_GetObjectItemCaseSensitive(v, "fan_out");
    char q[NB_ESCAPE_SIZE];
    const cJSON *odd = cJSON_IsObject(v) ? unknown_member(v, keys) : NULL;
    if (!cJSON_IsObject(v) || odd || !cJSON_IsString(kind) || !cJSON_IsNumber(a) ||
        !cJSON_IsNumber(b) || !fi || !fo)
        return bad(r, NB_ERR_FORMAT,
                   "\"init\" is not an object of \"kind\", \"a\", \"b\", \"fan_in\" and "
                   "\"fan_out\"%s%s%s",
                   odd ? " (it has \"" : "", odd ? nb_escape(q, sizeof q, odd->string) : "",
                   odd ? "\")" : "");
    int k = 0;
    while (k < INIT_KINDS && strcmp(kind->valuestring, init_names[k]) != 0) k++;
    if (k == INIT_KINDS)
        return bad(r, NB_ERR_FORMAT,
                   "\"init\" kind \"%s\" is not zeros, constant, normal, uniform, "
                   "xavier_uniform, xavier_normal, he_uniform or he_normal",
                   nb_escape(q, sizeof q, kind->valuestring));
    if (!isfinite(a->valuedouble) || !isfinite(b->valuedouble))
        return bad(r, NB_ERR_FORMAT, "\"init\" \"a\" or \"b\" is not finite");
    if (!whole(fi, 0, INT_MAX) || !whole(fo, 0, INT_MAX))
        return bad(r, NB_ERR_FORMAT,
                   "\"init\" \"fan_in\" or \"fan_out\" is not an integer in [0, %d]", INT_MAX);
    n->init = (nb_init){(nb_init_kind)k, a->valuedouble, b->valuedouble, (int)fi->valuedouble,
                        (int)fo->valuedouble};
    return NB_OK;
}

static nb_status read_node(reader *r, const cJSON *v, nb_gnode *n)
{
    static const char *const keys[] = {"name", "op", "inputs", "attrs", "init", "shape", NULL};
    char q[NB_ESCAPE_SIZE];
    r->key = NULL;
    if (!cJSON_IsObject(v)) return bad(r, NB_ERR_FORMAT, "not a JSON object");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name"),
                *op = cJSON_GetObjectItemCaseSensitive(v, "op"),
                *inputs = cJSON_GetObjectItemCaseSensitive(v, "inputs"),
                *attrs = cJSON_GetObjectItemCaseSensitive(v, "attrs"),
                *init = cJSON_GetObjectItemCaseSensitive(v, "init"),
                *shape = cJSON_GetObjectItemCaseSensitive(v, "shape"), *odd;
    if (!cJSON_IsString(name)) return bad(r, NB_ERR_FORMAT, "no \"name\" string");
    const char *problem = name_problem(name->valuestring);
    if (problem)
        return bad(r, NB_ERR_FORMAT, "the name \"%s\" %s",
                   nb_escape(q, sizeof q, name->valuestring), problem);
    r->key = name->valuestring;
    if ((odd = unknown_member(v, keys)))
        return bad(r, NB_ERR_FORMAT, "unknown field \"%s\"", nb_escape(q, sizeof q, odd->string));
    if (find_node(r->d, name->valuestring) >= 0)
        return bad(r, NB_ERR_FORMAT, "the name is used by an earlier node");
    memcpy(n->name, name->valuestring, strlen(name->valuestring) + 1);
    if (!cJSON_IsString(op)) return bad(r, NB_ERR_FORMAT, "no \"op\" string");
    const char *o = op->valuestring;
    n->kind = strcmp(o, "input") == 0    ? NB_NODE_INPUT
              : strcmp(o, "param") == 0  ? NB_NODE_PARAM
              : strcmp(o, "const") == 0  ? NB_NODE_CONST
              : strcmp(o, "buffer") == 0 ? NB_NODE_BUFFER
                                         : NB_NODE_OP;
    if (n->kind == NB_NODE_OP && !(n->op = nb_op_find(o)))
        return bad(r, NB_ERR_FORMAT, "op \"%s\" is not an op of this build (docs/ops.md)",
                   nb_escape(q, sizeof q, o));
    int is_op = n->kind == NB_NODE_OP, is_param = nb_kind_is_state(n->kind);
    if (!is_op && (inputs || attrs))
        return bad(r, NB_ERR_FORMAT, "a leaf (%s) has no \"%s\"", o, inputs ? "inputs" : "attrs");
    if (is_param != (init != NULL))
        return is_param ? bad(r, NB_ERR_FORMAT, "a %s needs \"init\"", o)
                        : bad(r, NB_ERR_FORMAT, "only a param or a buffer has \"init\"");
    if (!shape) return bad(r, NB_ERR_FORMAT, "no \"shape\"");
    if ((nb_kind_is_state(n->kind) || n->kind == NB_NODE_CONST) && reserved_tensor(n->name))
        return bad(r, NB_ERR_FORMAT, "a %s may not take the name of another tensor", o);
    nb_status st = NB_OK;
    if (is_op && !inputs) st = bad(r, NB_ERR_FORMAT, "an op node needs \"inputs\"");
    if (st == NB_OK && is_op) st = read_inputs(r, inputs, n);
    if (st == NB_OK && attrs) st = read_attrs(r, attrs, n);
    if (st == NB_OK && init) st = read_init(r, init, n);
    if (st == NB_OK) st = read_shape(r, shape, n);
    n->has_shape = is_op;
    return st;
}

/* A role: the name of a node of the kind it needs. */
static nb_status read_role(reader *r, const cJSON *root, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    char q[NB_ESCAPE_SIZE];
    r->i = -1;
    if (!cJSON_IsString(v)) return bad(r, NB_ERR_FORMAT, "no \"%s\" string (a node name)", key);
    if ((*out = find_node(r->d, v->valuestring)) < 0)
        return bad(r, NB_ERR_FORMAT, "\"%s\" names \"%s\", which is no node", key,
                   nb_escape(q, sizeof q, v->valuestring));
    return NB_OK;
}

static nb_status read_roles(reader *r, const cJSON *root)
{
    nb_graph_desc *d = r->d;
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    int count = cJSON_IsArray(inputs) ? cJSON_GetArraySize(inputs) : -1;
    r->i = -1;
    if (count < 1 || count > d->count)
        return bad(r, NB_ERR_FORMAT, "\"inputs\" is not an array of 1 to %d node names", d->count);
    if (!(d->inputs = nb_malloc((size_t)count * sizeof *d->inputs)))
        return bad(r, NB_ERR_MEMORY, "out of memory for %d inputs", count);
    int k = 0;
    char q[NB_ESCAPE_SIZE];
    for (const cJSON *e = inputs->child; e; e = e->next, k++) {
        int at = cJSON_IsString(e) ? find_node(d, e->valuestring) : -1;
        if (at < 0 || d->nodes[at].kind != NB_NODE_INPUT)
            return bad(r, NB_ERR_FORMAT,
                       "\"inputs\" item %d%s%s%s is not the name of an input node", k,
                       cJSON_IsString(e) ? " \"" : "",
                       cJSON_IsString(e) ? nb_escape(q, sizeof q, e->valuestring) : "",
                       cJSON_IsString(e) ? "\"" : "");
        d->inputs[k] = at;
        d->n_inputs = k + 1;
    }
    nb_status st = read_role(r, root, "output", &d->output);
    if (st == NB_OK) st = read_role(r, root, "target", &d->target);
    if (st == NB_OK) st = read_role(r, root, "loss", &d->loss);
    return st;
}

nb_status nb_graph_desc_parse(const char *text, const char *what, nb_graph_desc *out)
{
    static const char *const keys[] = {"nodes", "inputs", "output", "target", "loss", NULL};
    memset(out, 0, sizeof *out);
    cJSON *root;
    nb_status st = nb_json_parse(text, NB_ERR_FORMAT, what, &root);
    if (st != NB_OK) return st;
    reader r = {out, what, -1, NULL};
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes"), *odd;
    int count = cJSON_IsArray(nodes) ? cJSON_GetArraySize(nodes) : -1;
    char q[NB_ESCAPE_SIZE];
    if (!cJSON_IsObject(root)) {
        st = bad(&r, NB_ERR_FORMAT, "not a JSON object");
    } else if ((odd = unknown_member(root, keys))) {
        st = bad(&r, NB_ERR_FORMAT, "unknown field \"%s\"", nb_escape(q, sizeof q, odd->string));
    } else if (count < 1 || count > NB_MAX_NODES) {
        st = bad(&r, count > NB_MAX_NODES ? NB_ERR_LIMIT : NB_ERR_FORMAT,
                 "\"nodes\" is not an array of 1 to %d nodes (NB_MAX_NODES)", NB_MAX_NODES);
    } else if (!(out->nodes = nb_calloc((size_t)count, sizeof *out->nodes))) {
        st = bad(&r, NB_ERR_MEMORY, "out of memory for %d nodes", count);
    }
    out->capacity = count;
    int i = 0;
    for (const cJSON *e = nodes ? nodes->child : NULL; st == NB_OK && e; e = e->next, i++) {
        r.i = i;
        out->count = i + 1; /* freed with the rest */
        st = read_node(&r, e, &out->nodes[i]);
        if (st == NB_OK && !nb_names_add(&out->index, out->nodes[i].name, i, desc_name_of, out))
            st = bad(&r, NB_ERR_MEMORY, "out of memory for the name index");
    }
    if (st == NB_OK) st = read_roles(&r, root);
    cJSON_Delete(root);
    if (st != NB_OK) nb_graph_desc_free(out);
    return st;
}

/* ------------------------------------------------------------ comparing */

static int same_attrs(const nb_node_rec *x, const nb_node_rec *y)
{
    if (x->n_attrs != y->n_attrs) return 0;
    for (int k = 0; k < x->n_attrs; k++) {
        const nb_attr *a = &x->attrs[k], *b = &y->attrs[k];
        if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->count != b->count) return 0;
        for (int v = 0; v < a->count; v++)
            if (a->type == NB_ATTR_INT ? a->ints[v] != b->ints[v] : a->reals[v] != b->reals[v])
                return 0;
    }
    return 1;
}

static int same_init(const nb_init *a, const nb_init *b)
{
    return a->kind == b->kind && a->a == b->a && a->b == b->b && a->fan_in == b->fan_in &&
           a->fan_out == b->fan_out;
}

int nb_model_graph_diff(const nb_model *ma, const nb_model *mb, const char *la, const char *lb,
                        char *buf, size_t size)
{
    const nb_graph *a = ma->graph, *b = mb->graph;
    char q[NB_ESCAPE_SIZE], r[NB_ESCAPE_SIZE], s1[64], s2[64];
    int n = a->count < b->count ? a->count : b->count;
    for (int i = 0; i < n; i++) {
        const nb_node_rec *x = &a->nodes[i], *y = &b->nodes[i];
        const char *why = NULL;
        if (strcmp(x->name, y->name) != 0 || x->kind != y->kind || x->op != y->op ||
            !nb_shape_equal(x->shape, y->shape)) {
            snprintf(buf, size, "node %d is \"%s\" %s %s %s, \"%s\" %s %s %s", i,
                     nb_escape(q, sizeof q, x->name), nb_node_op(a, i),
                     nb_shape_format(x->shape, s1, sizeof s1), la, nb_escape(r, sizeof r, y->name),
                     nb_node_op(b, i), nb_shape_format(y->shape, s2, sizeof s2), lb);
            return i;
        }
        if (x->n_in != y->n_in ||
            (x->n_in && memcmp(x->in, y->in, (size_t)x->n_in * sizeof *x->in) != 0))
            why = "other inputs";
        else if (!same_attrs(x, y))
            why = "other attributes";
        else if (nb_kind_is_state(x->kind) && !same_init(&x->init, &y->init))
            why = "another initialiser";
        if (why) {
            snprintf(buf, size, "node %d \"%s\" (%s) has %s %s", i, nb_escape(q, sizeof q, x->name),
                     nb_node_op(a, i), why, lb);
            return i;
        }
    }
    if (a->count != b->count) {
        snprintf(buf, size, "%d nodes %s, %d %s", a->count, la, b->count, lb);
        return n;
    }
    int roles = ma->n_inputs == mb->n_inputs && ma->output == mb->output &&
                ma->target == mb->target && ma->loss == mb->loss;
    for (int k = 0; roles && k < ma->n_inputs; k++) roles = ma->inputs[k] == mb->inputs[k];
    if (!roles) {
        snprintf(buf, size, "the roles (inputs, output, target, loss) %s differ from those %s", la,
                 lb);
        return n;
    }
    return -1;
}
