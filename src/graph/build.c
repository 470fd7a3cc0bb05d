/* Building a graph: leaves and op nodes. A node may only use nodes made
 * before it, so creation order is already a topological order. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

nb_graph *nb_graph_create(void)
{
    nb_graph *g = nb_calloc(1, sizeof *g);
    if (!g) nb_error(NB_ERR_MEMORY, "creating a graph: out of memory");
    return g;
}

void nb_graph_free(nb_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->count; i++) {
        if (g->nodes[i].op && g->nodes[i].op->release) g->nodes[i].op->release(&g->nodes[i]);
        nb_free(g->nodes[i].const_data);
        nb_free(g->nodes[i].in);
        nb_free(g->nodes[i].attrs);
    }
    nb_free(g->nodes);
    nb_free(g->arena);
    nb_free(g->params);
    nb_free(g->param_grads);
    nb_names_free(&g->names);
    nb_free(g);
}

nb_status nb_graph_status(const nb_graph *g)
{
    return g ? g->status : nb_error(NB_ERR_ARGUMENT, "graph status: no graph");
}

/* Record the first building error; later ones are consequences. */
nb_status nb_graph_fail(nb_graph *g, nb_status status)
{
    if (g->status == NB_OK && status != NB_OK) {
        g->status = status;
        snprintf(g->status_text, sizeof g->status_text, "%s", nb_last_error());
    }
    return status;
}

static nb_node fail(nb_graph *g, nb_status status)
{
    nb_graph_fail(g, status);
    return NB_NONE;
}

/* Why name cannot name a node, or NULL: 1 to NB_NAME_MAX - 1 bytes of
 * UTF-8 that prints as itself (nb_text_problem: no control, invisible or
 * format character), no quote or backslash (names are quoted in messages
 * and files). The reason goes into why. */
static const char *name_problem(const char *name, char *why, size_t size)
{
    if (!name || !name[0]) return "is empty";
    if (strnlen(name, NB_NAME_MAX) >= NB_NAME_MAX) return "is too long";
    if (strchr(name, '"') || strchr(name, '\\')) return "has a quote or a backslash";
    return nb_text_problem(why, size, name, 0);
}

static const char *name_of(const void *owner, int node)
{
    return ((const nb_graph *)owner)->nodes[node].name;
}

nb_node nb_graph_find(const nb_graph *g, const char *name)
{
    if (!g || !name) return NB_NONE;
    int i = nb_names_find(&g->names, name, name_of, g);
    return i >= 0 ? i : NB_NONE;
}

/* Undo the last add_node (its op or constant could not be made). */
static void drop_last(nb_graph *g)
{
    g->count--;
    nb_free(g->nodes[g->count].in);
    nb_free(g->nodes[g->count].attrs);
    nb_names_remove(&g->names, g->nodes[g->count].name, g->count);
}

/* Append a node record named name (or "<base><index>"). */
static nb_node add_node(nb_graph *g, enum nb_node_kind kind, const char *name, const char *base)
{
    char made[NB_NAME_MAX];
    if (!g) return NB_NONE;
    if (g->status != NB_OK) return NB_NONE;
    if (!name) {
        snprintf(made, sizeof made, "%s%d", base, g->count);
        name = made;
    }
    char why[NB_TEXT_PROBLEM_SIZE];
    const char *bad = name_problem(name, why, sizeof why);
    if (bad) {
        char q[NB_ESCAPE_SIZE];
        nb_error(NB_ERR_ARGUMENT,
                 "node name \"%s\" %s (1 to %d bytes of UTF-8 that prints as itself, no quote "
                 "or backslash)",
                 nb_escape(q, sizeof q, name), bad, NB_NAME_MAX - 1);
        return fail(g, NB_ERR_ARGUMENT);
    }
    if (nb_graph_find(g, name) != NB_NONE) {
        nb_error(NB_ERR_ARGUMENT, "node name \"%s\" is used twice", name);
        return fail(g, NB_ERR_ARGUMENT);
    }
    if (g->count == g->capacity) {
        int cap = g->capacity ? g->capacity * 2 : 16;
        nb_node_rec *nodes = nb_realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            nb_error(NB_ERR_MEMORY, "adding node \"%s\": out of memory", name);
            return fail(g, NB_ERR_MEMORY);
        }
        g->nodes = nodes;
        g->capacity = cap;
    }
    nb_node_rec *n = &g->nodes[g->count];
    memset(n, 0, sizeof *n);
    strcpy(n->name, name);
    n->kind = kind;
    if (!nb_names_add(&g->names, n->name, g->count, name_of, g)) {
        nb_error(NB_ERR_MEMORY, "adding node \"%s\": out of memory", name);
        return fail(g, NB_ERR_MEMORY);
    }
    g->compiled = 0;
    return g->count++;
}

static nb_status check_leaf_shape(nb_shape shape, const char *name)
{
    char buf[64];
    if (shape.ndim < 0 || shape.ndim > NB_MAX_DIMS || nb_shape_count(shape) == 0)
        return nb_error(NB_ERR_SHAPE, "node \"%s\": shape %s is invalid (1 to %d positive dims)",
                        name ? name : "?", nb_shape_format(shape, buf, sizeof buf), NB_MAX_DIMS);
    return NB_OK;
}

static nb_node add_leaf(nb_graph *g, enum nb_node_kind kind, const char *name, nb_shape shape,
                        const char *base)
{
    if (!g || g->status != NB_OK) return NB_NONE;
    nb_status st = check_leaf_shape(shape, name);
    if (st != NB_OK) return fail(g, st);
    nb_node id = add_node(g, kind, name, base);
    if (id != NB_NONE) g->nodes[id].shape = shape;
    return id;
}

nb_node nb_input(nb_graph *g, const char *name, nb_shape shape)
{
    return add_leaf(g, NB_NODE_INPUT, name, shape, "input");
}

static nb_status check_init(nb_init init, const char *name)
{
    const char *bad = nb_init_problem(init);
    if (!bad) return NB_OK;
    return nb_error(NB_ERR_ARGUMENT,
                    "parameter \"%.64s\": the initialiser (kind %d, a %g, b %g) has %s",
                    name ? name : "?", (int)init.kind, init.a, init.b, bad);
}

/* A leaf whose values are stored with the model: a parameter or a buffer. */
static nb_node add_stored(nb_graph *g, enum nb_node_kind kind, const char *name, nb_shape shape,
                          nb_init init)
{
    if (!g || g->status != NB_OK) return NB_NONE;
    nb_status st = check_init(init, name);
    if (st != NB_OK) return fail(g, st);
    nb_node id = add_leaf(g, kind, name, shape, nb_leaf_name(kind));
    if (id != NB_NONE) g->nodes[id].init = init;
    return id;
}

nb_node nb_param(nb_graph *g, const char *name, nb_shape shape, nb_init init)
{
    return add_stored(g, NB_NODE_PARAM, name, shape, init);
}

nb_node nb_buffer(nb_graph *g, const char *name, nb_shape shape, nb_init init)
{
    return add_stored(g, NB_NODE_BUFFER, name, shape, init);
}

nb_node nb_constant(nb_graph *g, const char *name, nb_shape shape, const nb_real *values)
{
    nb_node id = add_leaf(g, NB_NODE_CONST, name, shape, "const");
    if (id == NB_NONE) return id;
    size_t count = nb_shape_count(shape);
    nb_real *copy = nb_calloc(count, sizeof *copy);
    if (!copy) {
        nb_error(NB_ERR_MEMORY, "constant \"%s\": out of memory", g->nodes[id].name);
        drop_last(g);
        return fail(g, NB_ERR_MEMORY);
    }
    if (values) memcpy(copy, values, count * sizeof *copy);
    g->nodes[id].const_data = copy;
    return id;
}

/* ------------------------------------------------------------ attributes */

/* A name that does not fit is kept without its NUL, so that nb_apply_attrs
 * refuses it rather than a shortened name being taken. */
static nb_attr make_attr(const char *name, nb_attr_type type, int count)
{
    nb_attr a;
    memset(&a, 0, sizeof a);
    if (name) memcpy(a.name, name, strnlen(name, sizeof a.name));
    a.type = type;
    a.count = count;
    return a;
}

nb_attr nb_attr_int(const char *name, int64_t value)
{
    nb_attr a = make_attr(name, NB_ATTR_INT, 1);
    a.ints[0] = value;
    return a;
}

nb_attr nb_attr_real(const char *name, double value)
{
    nb_attr a = make_attr(name, NB_ATTR_REAL, 1);
    a.reals[0] = value;
    return a;
}

nb_attr nb_attr_ints(const char *name, int count, const int64_t *values)
{
    nb_attr a = make_attr(name, NB_ATTR_INT, values ? count : 0); /* no values: refused */
    for (int i = 0; values && i < count && i < NB_ATTR_MAX_VALUES; i++) a.ints[i] = values[i];
    return a;
}

const nb_attr *nb_attr_of(const nb_node_rec *node, const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
    return NULL;
}

static const char *type_name(nb_attr_type type)
{
    return type == NB_ATTR_INT ? "integer" : "real";
}

/* The op's attributes in its order, given or default, into *out (owned by
 * the caller); the message names the op and the attribute. */
static nb_status resolve_attrs(const nb_op_def *op, int n_given, const nb_attr *given,
                               nb_attr **out, int *n_out)
{
    int n_defs = 0;
    while (op->attrs && op->attrs[n_defs].name) n_defs++;
    *out = NULL;
    *n_out = 0;
    if (n_given < 0 || (n_given > 0 && !given))
        return nb_error(NB_ERR_ARGUMENT, "op %s: %d attributes%s", op->name, n_given,
                        given ? " (a count below 0)" : " and no array");
    for (int i = 0; i < n_given; i++) {
        const nb_attr *a = &given[i];
        char q[NB_ESCAPE_SIZE];
        size_t len = strnlen(a->name, NB_ATTR_NAME_MAX);
        int k = 0;
        if (len == NB_ATTR_NAME_MAX)
            return nb_error(NB_ERR_ARGUMENT,
                            "op %s: attribute %d has a name of %d bytes or more "
                            "(at most %d)",
                            op->name, i, NB_ATTR_NAME_MAX, NB_ATTR_NAME_MAX - 1);
        while (k < n_defs && strcmp(op->attrs[k].name, a->name) != 0) k++;
        nb_escape(q, sizeof q, a->name);
        if (k == n_defs)
            return nb_error(NB_ERR_ARGUMENT, "op %s takes no attribute \"%s\"%s", op->name, q,
                            n_defs ? " (docs/ops.md lists its attributes)" : "");
        for (int j = 0; j < i; j++)
            if (strcmp(given[j].name, a->name) == 0)
                return nb_error(NB_ERR_ARGUMENT, "op %s: attribute \"%s\" is given twice", op->name,
                                q);
        const nb_attr_def *d = &op->attrs[k];
        if (a->type != d->type)
            return nb_error(NB_ERR_ARGUMENT, "op %s: attribute \"%s\" must be %s, not %s", op->name,
                            q, type_name(d->type),
                            a->type == NB_ATTR_INT || a->type == NB_ATTR_REAL
                                ? type_name(a->type)
                                : "of an unknown type");
        if (a->count < 1 || a->count > d->max_count)
            return nb_error(NB_ERR_ARGUMENT, "op %s: attribute \"%s\" has %d values, not 1 to %d",
                            op->name, q, a->count, d->max_count);
        for (int v = 0; a->type == NB_ATTR_REAL && v < a->count; v++)
            if (!isfinite(a->reals[v]))
                return nb_error(NB_ERR_ARGUMENT, "op %s: attribute \"%s\" value %d is %g", op->name,
                                q, v, a->reals[v]);
    }
    if (n_defs == 0) return NB_OK;
    nb_attr *all = nb_calloc((size_t)n_defs, sizeof *all);
    if (!all) return nb_error(NB_ERR_MEMORY, "op %s: out of memory for attributes", op->name);
    for (int k = 0; k < n_defs; k++) {
        const nb_attr_def *d = &op->attrs[k];
        const nb_attr *a = NULL;
        for (int i = 0; i < n_given && !a; i++)
            if (strcmp(given[i].name, d->name) == 0) a = &given[i];
        if (!a && d->required) {
            nb_free(all);
            return nb_error(NB_ERR_ARGUMENT, "op %s needs the attribute \"%s\"", op->name, d->name);
        }
        all[k] = a                        ? *a
                 : d->type == NB_ATTR_INT ? nb_attr_int(d->name, (int64_t)d->def)
                                          : nb_attr_real(d->name, d->def);
    }
    *out = all;
    *n_out = n_defs;
    return NB_OK;
}

nb_node nb_apply_attrs(nb_graph *g, const char *op_name, const char *name, int n_inputs,
                       const nb_node *inputs, int n_attrs, const nb_attr *attrs)
{
    if (!g || g->status != NB_OK) return NB_NONE;
    if (!op_name) {
        nb_error(NB_ERR_ARGUMENT, "adding a node: no op name (NULL)");
        return fail(g, NB_ERR_ARGUMENT);
    }
    const nb_op_def *op = nb_op_find(op_name);
    if (!op) {
        char q[NB_ESCAPE_SIZE];
        nb_error(NB_ERR_NOT_FOUND, "unknown op \"%s\" (nb_op_names lists the ops)",
                 nb_escape(q, sizeof q, op_name));
        return fail(g, NB_ERR_NOT_FOUND);
    }
    int most = op->max_arity > op->arity ? op->max_arity : op->arity;
    if (op->arity == NB_ARITY_ANY ? n_inputs < 1 : n_inputs < op->arity || n_inputs > most) {
        if (op->arity == NB_ARITY_ANY)
            nb_error(NB_ERR_ARGUMENT, "op %s takes one or more inputs, got %d", op->name, n_inputs);
        else if (most > op->arity)
            nb_error(NB_ERR_ARGUMENT, "op %s takes %d to %d inputs, got %d", op->name, op->arity,
                     most, n_inputs);
        else
            nb_error(NB_ERR_ARGUMENT, "op %s takes %d %s, got %d", op->name, op->arity,
                     nb_plural(op->arity, "input", "inputs"), n_inputs);
        return fail(g, NB_ERR_ARGUMENT);
    }
    if (n_inputs > 0 && !inputs) {
        nb_error(NB_ERR_ARGUMENT, "op %s: no inputs array (NULL)", op->name);
        return fail(g, NB_ERR_ARGUMENT);
    }
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i] < 0 || inputs[i] >= g->count) {
            nb_error(NB_ERR_ARGUMENT, "op %s: input %d is not a node of this graph", op->name, i);
            return fail(g, NB_ERR_ARGUMENT);
        }
    }
    nb_attr *all;
    int n_all;
    nb_status st = resolve_attrs(op, n_attrs, attrs, &all, &n_all);
    if (st != NB_OK) return fail(g, st);
    int *in = nb_malloc((size_t)n_inputs * sizeof *in);
    if (!in) {
        nb_free(all);
        nb_error(NB_ERR_MEMORY, "op %s: out of memory for %d inputs", op->name, n_inputs);
        return fail(g, NB_ERR_MEMORY);
    }
    nb_node id = add_node(g, NB_NODE_OP, name, op->name);
    if (id == NB_NONE) {
        nb_free(in);
        nb_free(all);
        return id;
    }
    nb_node_rec *n = &g->nodes[id];
    n->op = op;
    n->n_in = n_inputs;
    n->in = in;
    for (int i = 0; i < n_inputs; i++) n->in[i] = inputs[i];
    n->attrs = all;
    n->n_attrs = n_all;
    /* Infer now so that a shape error names the line that caused it. */
    st = op->infer(g, n);
    if (st != NB_OK) {
        drop_last(g);
        return fail(g, st);
    }
    return id;
}

nb_node nb_apply(nb_graph *g, const char *op, const char *name, int n_inputs, const nb_node *inputs)
{
    return nb_apply_attrs(g, op, name, n_inputs, inputs, 0, NULL);
}

nb_status nb_shape_error(nb_graph *g, const nb_node_rec *node, const char *expected)
{
    char msg[512];
    size_t used = (size_t)snprintf(msg, sizeof msg, "op %s (node \"%s\"): expected %s; got",
                                   node->op->name, node->name, expected);
    for (int i = 0; i < node->n_in && used < sizeof msg; i++) {
        char buf[64];
        const nb_node_rec *in = nb_in(g, node, i);
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s \"%s\" %s", i ? "," : "",
                                 in->name, nb_shape_format(in->shape, buf, sizeof buf));
    }
    return nb_error(NB_ERR_SHAPE, "%s", msg);
}

nb_status nb_node_set_name(nb_graph *g, nb_node node, const char *name)
{
    if (!g || node < 0 || node >= g->count)
        return nb_error(NB_ERR_ARGUMENT, "renaming: not a node of this graph");
    char why[NB_TEXT_PROBLEM_SIZE], q[NB_ESCAPE_SIZE];
    const char *bad = name_problem(name, why, sizeof why);
    if (bad)
        return nb_error(NB_ERR_ARGUMENT, "node name \"%s\" %s", nb_escape(q, sizeof q, name), bad);
    nb_node other = nb_graph_find(g, name);
    if (other == node) return NB_OK;
    if (other != NB_NONE) return nb_error(NB_ERR_ARGUMENT, "node name \"%s\" is used twice", name);
    nb_names_rekey(&g->names, g->nodes[node].name, node, name, node);
    strcpy(g->nodes[node].name, name);
    return NB_OK;
}

nb_status nb_input_set_grad(nb_graph *g, nb_node node, int enabled)
{
    if (!g || node < 0 || node >= g->count || g->nodes[node].kind != NB_NODE_INPUT)
        return nb_error(NB_ERR_ARGUMENT, "nb_input_set_grad: node %d is not an input", node);
    g->nodes[node].wants_grad = enabled != 0;
    g->compiled = 0;
    return NB_OK;
}

nb_status nb_input_reshape(nb_graph *g, nb_node node, nb_shape shape)
{
    if (!g || node < 0 || node >= g->count || g->nodes[node].kind != NB_NODE_INPUT)
        return nb_error(NB_ERR_ARGUMENT, "nb_input_reshape: node %d is not an input", node);
    nb_node_rec *n = &g->nodes[node];
    nb_status st = check_leaf_shape(shape, n->name);
    if (st != NB_OK) return st;
    if (nb_shape_equal(shape, n->shape)) return NB_OK;
    /* Bound memory holds the old element count: the binding goes with the
     * old shape (bind again after compiling). */
    n->bound = NULL;
    n->shape = shape;
    g->compiled = 0;
    return NB_OK;
}

/* ----------------------------------------------------------- looking at */

static const nb_node_rec *get(const nb_graph *g, nb_node node)
{
    return (g && node >= 0 && node < g->count) ? &g->nodes[node] : NULL;
}

int nb_graph_node_count(const nb_graph *g)
{
    return g ? g->count : 0;
}

const char *nb_node_name(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n ? n->name : NULL;
}

const char *nb_node_op(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    if (!n) return NULL;
    return n->kind == NB_NODE_OP ? n->op->name : nb_leaf_name(n->kind);
}

nb_node nb_graph_find_op(const nb_graph *g, const char *op, nb_node from)
{
    if (!g || !op) return NB_NONE;
    for (int i = from < 0 ? 0 : from; i < g->count; i++)
        if (g->nodes[i].kind == NB_NODE_OP && strcmp(g->nodes[i].op->name, op) == 0) return i;
    return NB_NONE;
}

int nb_node_input_count(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n ? n->n_in : 0;
}

nb_node nb_node_input(const nb_graph *g, nb_node node, int index)
{
    const nb_node_rec *n = get(g, node);
    return (n && index >= 0 && index < n->n_in) ? n->in[index] : NB_NONE;
}

nb_shape nb_node_shape(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n ? n->shape : nb_shape0();
}

nb_real *nb_node_value(nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n ? n->value : NULL;
}

nb_real *nb_node_grad(nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n ? n->grad : NULL;
}

int nb_node_is_param(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n && n->kind == NB_NODE_PARAM;
}

int nb_node_is_input(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n && n->kind == NB_NODE_INPUT;
}

int nb_node_attr_count(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n ? n->n_attrs : 0;
}

const nb_attr *nb_node_attr(const nb_graph *g, nb_node node, int index)
{
    const nb_node_rec *n = get(g, node);
    return n && index >= 0 && index < n->n_attrs ? &n->attrs[index] : NULL;
}

const nb_attr *nb_node_find_attr(const nb_graph *g, nb_node node, const char *name)
{
    const nb_node_rec *n = get(g, node);
    return n && name ? nb_attr_of(n, name) : NULL;
}

nb_init nb_node_init(const nb_graph *g, nb_node node)
{
    const nb_node_rec *n = get(g, node);
    return n && nb_kind_is_state(n->kind) ? n->init : nb_init_zeros();
}
