/* Showing a graph to a person: a text trace of every node's value and
 * gradient, and a Graphviz picture of the same (notes 001, 003: values flow
 * forward left to right, gradients flow back right to left). */
#include "internal.h"

#include <math.h>
#include <stdio.h>

#define TRACE_MAX_VALUES 32 /* a tensor with more is summarised in the trace */
#define DOT_MAX_VALUES   8  /* ... and in a picture's label */

static nb_status check_graph(nb_graph *g, FILE *out, const char *what)
{
    if (!g) return nb_error(NB_ERR_ARGUMENT, "%s: no graph", what);
    if (!out) return nb_error(NB_ERR_ARGUMENT, "%s: no output stream", what);
    if (g->status != NB_OK)
        return nb_error(NB_ERR_STATE, "%s: the graph has a building error: %s", what,
                        g->status_text[0] ? g->status_text : nb_status_name(g->status));
    if (!g->compiled)
        return nb_error(NB_ERR_STATE,
                        "%s: compile the graph first (a node has a value only after "
                        "nb_graph_compile)",
                        what);
    return NB_OK;
}

static nb_status finish(FILE *out, const char *what)
{
    if (fflush(out) != 0 || ferror(out))
        return nb_error(NB_ERR_IO, "%s: writing the output failed", what);
    return NB_OK;
}

/* One number; %.9g keeps every digit of a float (9 significant digits). */
static void put_number(FILE *out, const char *fmt, nb_real v)
{
    fprintf(out, fmt, (double)v);
}

/* "[min a, max b, mean c]" of count values: a summary of a large tensor. */
static void put_summary(FILE *out, const char *fmt, const nb_real *v, size_t count)
{
    double lo = v[0], hi = v[0], sum = 0;
    for (size_t i = 0; i < count; i++) {
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
        sum += v[i];
    }
    fputs("min ", out);
    fprintf(out, fmt, lo);
    fputs(", max ", out);
    fprintf(out, fmt, hi);
    fputs(", mean ", out);
    fprintf(out, fmt, sum / (double)count);
}

/* A tensor as nested brackets in row-major order, e.g. [[1, 2], [3, 4]];
 * with more than limit elements, the first few and a summary instead. */
static void put_tensor(FILE *out, const char *fmt, const nb_real *v, nb_shape shape, size_t limit)
{
    size_t count = nb_shape_count(shape);
    if (!v) {
        fputs("-", out);
        return;
    }
    if (shape.ndim == 0) {
        put_number(out, fmt, v[0]);
        return;
    }
    if (count > limit) {
        size_t shown = limit / 2 ? limit / 2 : 1;
        fputs("[", out);
        for (size_t i = 0; i < shown; i++) {
            if (i) fputs(", ", out);
            put_number(out, fmt, v[i]);
        }
        fprintf(out, ", ...] (%zu values; ", count);
        put_summary(out, fmt, v, count);
        fputs(")", out);
        return;
    }
    /* block[k]: elements in one slice along axis k and all axes after it;
     * a bracket opens where an index is a multiple of a block. */
    size_t block[NB_MAX_DIMS] = {1, 1, 1, 1};
    size_t b = 1;
    for (int k = shape.ndim - 1; k >= 0; k--) {
        b *= (size_t)shape.dim[k];
        block[k] = b;
    }
    for (size_t i = 0; i < count; i++) {
        if (i) fputs(", ", out);
        for (int k = 0; k < shape.ndim; k++)
            if (i % block[k] == 0) fputs("[", out);
        put_number(out, fmt, v[i]);
        for (int k = 0; k < shape.ndim; k++)
            if ((i + 1) % block[k] == 0) fputs("]", out);
    }
}

/* ------------------------------------------------------------------ trace */

nb_status nb_graph_print_trace(nb_graph *g, FILE *out)
{
    nb_status st = check_graph(g, out, "trace");
    if (st != NB_OK) return st;
    int width = snprintf(NULL, 0, "%d", g->count - 1);
    fprintf(out,
            "graph of %d %s (value: last forward pass; grad: dL/d(node) of the last "
            "backward pass, - when the node has none)\n",
            g->count, nb_plural(g->count, "node", "nodes"));
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        char shape[64];
        fprintf(out, "[%*d] %s = %s", width, i, n->name, nb_node_op(g, i));
        if (n->kind == NB_NODE_OP) {
            fputs("(", out);
            for (int k = 0; k < n->n_in; k++)
                fprintf(out, "%s%s", k ? ", " : "", nb_in(g, n, k)->name);
            fputs(")", out);
        }
        fprintf(out, "  shape %s\n", nb_shape_format(n->shape, shape, sizeof shape));
        fprintf(out, "%*s value ", width + 2, "");
        put_tensor(out, "%.9g", n->value, n->shape, TRACE_MAX_VALUES);
        fprintf(out, "\n%*s grad  ", width + 2, "");
        put_tensor(out, "%.9g", n->grad, n->shape, TRACE_MAX_VALUES);
        fputs("\n", out);
    }
    return finish(out, "trace");
}

/* -------------------------------------------------------------- Graphviz */

/* Text inside a DOT "quoted string": quotes and backslashes escaped, and
 * control characters (which would break the line) replaced. */
void nb_dot_put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fputc('?', out);
        else
            fputc(c, out);
    }
}

/* Shapes and colours tell the five kinds of node apart at a glance. */
const char *nb_dot_node_style(enum nb_node_kind kind)
{
    switch (kind) {
    case NB_NODE_INPUT:
        return "shape=ellipse, style=filled, fillcolor=\"#cfe2ff\"";
    case NB_NODE_PARAM:
        return "shape=box, peripheries=2, style=filled, fillcolor=\"#ffdca8\"";
    case NB_NODE_CONST:
        return "shape=box, style=\"filled,dashed\", fillcolor=\"#eeeeee\"";
    case NB_NODE_BUFFER:
        return "shape=box, peripheries=2, style=\"filled,dashed\", fillcolor=\"#ffdca8\"";
    case NB_NODE_OP:
        return "shape=box, style=\"filled,rounded\", fillcolor=\"#d4f0d4\"";
    }
    return "shape=box";
}

nb_status nb_graph_write_dot(nb_graph *g, FILE *out)
{
    nb_status st = check_graph(g, out, "writing a DOT picture");
    if (st != NB_OK) return st;
    fputs("digraph nabla {\n"
          "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=10, labelloc=b,\n"
          "         label=\"ellipse: input, double box: parameter, dashed box: constant, "
          "dashed double box: buffer, rounded box: op, bold: output\\nvalue: forward pass; grad: "
          "dL/d(node) of the "
          "backward pass (- when none)\"];\n"
          "  node [fontname=\"Helvetica\", fontsize=10];\n"
          "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n",
          out);
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        char shape[64];
        int used = 0;
        for (int j = i + 1; j < g->count && !used; j++)
            for (int k = 0; k < g->nodes[j].n_in; k++) used |= g->nodes[j].in[k] == i;
        fprintf(out, "  n%d [%s%s, label=\"", i, nb_dot_node_style(n->kind),
                used ? "" : ", penwidth=2");
        nb_dot_put_text(out, n->name);
        fprintf(out, "\\n%s %s\\nvalue ", nb_node_op(g, i),
                nb_shape_format(n->shape, shape, sizeof shape));
        put_tensor(out, "%.6g", n->value, n->shape, DOT_MAX_VALUES);
        fputs("\\ngrad ", out);
        put_tensor(out, "%.6g", n->grad, n->shape, DOT_MAX_VALUES);
        fputs("\"];\n", out);
    }
    /* Edges from inputs to consumers; numbered where the order matters. */
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            fprintf(out, "  n%d -> n%d", n->in[k], i);
            if (n->n_in > 1) fprintf(out, " [label=\"%d\"]", k);
            fputs(";\n", out);
        }
    }
    fputs("}\n", out);
    return finish(out, "writing a DOT picture");
}
