/* The explain page (nb_explain_write_html): one HTML file holding the
 * graph laid out by Graphviz as inline SVG, the recorded steps as JSON
 * and the bundled style and script (page.css, page.js). Every number is
 * written here as text (%.9g: every digit of a float), so the script only
 * shows what the graph computed. A tensor of more than SHOW_ALL values is
 * summarised as the trace does it (its first SHOW_ALL / 2 values, min,
 * max, mean) and drawn as a heat map of at most HEAT_MAX x HEAT_MAX cells. */
#include "explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_ALL 32 /* the trace's limit (src/graph/trace.c): the same numbers */
#define HEAT_MAX 32

/* ------------------------------------------------------------ JSON text */

/* A JSON string that is also safe inside an HTML <script> element: <, >
 * and & as \u escapes (no "</script>" or "<!--" can appear), control
 * characters escaped, the line separators U+2028 and U+2029 too. */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '&')
            fprintf(f, "\\u%04x", *p);
        else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
            fprintf(f, "\\u%04x", p[2] == 0xa8 ? 0x2028 : 0x2029), p += 2;
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_number(FILE *f, double v)
{
    fprintf(f, "\"%.9g\"", v);
}

static void put_shape(FILE *f, nb_shape s)
{
    fputc('[', f);
    for (int k = 0; k < s.ndim; k++) fprintf(f, "%s%d", k ? "," : "", s.dim[k]);
    fputc(']', f);
}

/* The heat map's grid: the tensor as rows x cols (the last dimension
 * across; one row of a square number of values as a square image). */
static void heat_grid(nb_shape s, size_t count, size_t *rows, size_t *cols)
{
    *cols = s.ndim ? (size_t)s.dim[s.ndim - 1] : 1;
    *rows = *cols ? count / *cols : 0;
    size_t side = (size_t)sqrt((double)count);
    if (*rows == 1 && side * side == count) *rows = side, *cols = side;
}

/* Cells as hex bytes: 0..255 from lo to hi when no value is negative
 * ("seq"), else 0..255 from -m to m with m the largest magnitude ("div"),
 * each the mean of its block of values. */
static void put_heat(FILE *f, const nb_real *v, nb_shape s, size_t count, double lo, double hi)
{
    size_t rows, cols;
    heat_grid(s, count, &rows, &cols);
    if (rows == 0 || cols == 0) return;
    size_t R = rows < HEAT_MAX ? rows : HEAT_MAX, C = cols < HEAT_MAX ? cols : HEAT_MAX;
    int diverging = lo < 0;
    double m = fmax(fabs(lo), fabs(hi));
    fprintf(f, ",\"heat\":{\"rows\":%zu,\"cols\":%zu,\"scale\":\"%s\",\"cells\":\"", R, C,
            diverging ? "div" : "seq");
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) {
            size_t r0 = r * rows / R, r1 = (r + 1) * rows / R;
            size_t c0 = c * cols / C, c1 = (c + 1) * cols / C;
            double sum = 0;
            for (size_t i = r0; i < r1; i++)
                for (size_t j = c0; j < c1; j++) sum += v[i * cols + j];
            double mean = sum / (double)((r1 - r0) * (c1 - c0)), t;
            if (diverging)
                t = m > 0 ? 0.5 + 0.5 * mean / m : 0.5;
            else
                t = hi > lo ? (mean - lo) / (hi - lo) : 0;
            if (!(t >= 0)) t = 0; /* NaN too */
            if (t > 1) t = 1;
            fprintf(f, "%02x", (unsigned)lround(t * 255));
        }
    fputs("\"}", f);
}

/* A tensor: {"shape", "n", "v": all values, or the first SHOW_ALL / 2 with
 * "min", "max", "mean" and a heat map}; null for none. */
static void put_tensor(FILE *f, const nb_real *v, nb_shape s)
{
    if (!v) {
        fputs("null", f);
        return;
    }
    size_t count = nb_shape_count(s);
    fputs("{\"shape\":", f);
    put_shape(f, s);
    fprintf(f, ",\"n\":%zu,\"v\":[", count);
    size_t shown = count > SHOW_ALL ? SHOW_ALL / 2 : count;
    for (size_t i = 0; i < shown; i++) {
        if (i) fputc(',', f);
        put_number(f, v[i]);
    }
    fputc(']', f);
    if (count > SHOW_ALL) {
        /* As the trace computes them, so the two print alike. */
        double lo = v[0], hi = v[0], sum = 0;
        for (size_t i = 0; i < count; i++) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
            sum += v[i];
        }
        fputs(",\"min\":", f);
        put_number(f, lo);
        fputs(",\"max\":", f);
        put_number(f, hi);
        fputs(",\"mean\":", f);
        put_number(f, sum / (double)count);
        put_heat(f, v, s, count, lo, hi);
    }
    fputc('}', f);
}

static const char *kind_name(const nb_node_rec *n)
{
    const char *leaf = nb_leaf_name(n->kind);
    return leaf ? leaf : "op";
}

static void put_nodes(FILE *f, const nb_explain *e)
{
    nb_graph *g = e->graph;
    char rule[1024];
    fputs("\"nodes\":[", f);
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        fputs(i ? ",\n{" : "\n{", f);
        fputs("\"name\":", f);
        put_string(f, n->name);
        fputs(",\"op\":", f);
        put_string(f, nb_node_op(g, i));
        fputs(",\"kind\":", f);
        put_string(f, kind_name(n));
        fputs(",\"in\":[", f);
        for (int k = 0; k < n->n_in; k++) fprintf(f, "%s%d", k ? "," : "", n->in[k]);
        fputs("],\"value\":", f);
        put_tensor(f, n->value, n->shape);
        fputs(",\"grad\":", f);
        put_tensor(f, n->grad, n->shape);
        if (nb_explain_rule(g, i, rule, sizeof rule) == NB_OK && rule[0]) {
            fputs(",\"rule\":", f);
            put_string(f, rule);
        }
        fputc('}', f);
    }
    fputs("]", f);
}

/* Every edge (input slot k of node j), numbered as the SVG's ids. */
static void put_edges(FILE *f, const nb_explain *e)
{
    nb_graph *g = e->graph;
    int first = 1;
    fputs(",\n\"edges\":[", f);
    for (int j = 0; j < g->count; j++) {
        const nb_node_rec *n = &g->nodes[j];
        for (int k = 0; k < n->n_in; k++) {
            fprintf(f, "%s\n{\"from\":%d,\"to\":%d,\"slot\":%d,\"grad\":", first ? "" : ",",
                    n->in[k], j, k);
            put_tensor(f, nb_explain_edge_grad(e, j, k), nb_in(g, n, k)->shape);
            fputc('}', f);
            first = 0;
        }
    }
    fputs("]", f);
}

static void put_steps(FILE *f, const nb_explain *e)
{
    fputs(",\n\"steps\":[", f);
    for (int s = 0; s < e->n_steps; s++)
        fprintf(f, "%s{\"pass\":\"%s\",\"node\":%d}", s ? "," : "",
                e->steps[s].pass == NB_PASS_FORWARD ? "forward" : "backward", e->steps[s].node);
    fputs("]", f);
}

static void put_data(FILE *f, const nb_explain *e, const char *title)
{
    fputs("{\"title\":", f);
    put_string(f, title);
    fprintf(f, ",\"real\":\"%s\",\"loss\":%d,\n", NB_REAL_NAME, e->loss);
    put_nodes(f, e);
    put_edges(f, e);
    put_steps(f, e);
    fputs("}", f);
}

/* ------------------------------------------------------------- the DOT */

/* The graph for dot: node i has the SVG id "node-i", edge number k (in
 * put_edges' order) "edge-k". Labels name the node and its op or kind. */
static void put_dot(FILE *f, const nb_explain *e)
{
    nb_graph *g = e->graph;
    char shape[64];
    fputs("digraph nabla {\n"
          "  graph [rankdir=LR, bgcolor=\"transparent\", nodesep=0.3, ranksep=0.45];\n"
          "  node [fontname=\"Helvetica\", fontsize=12, margin=\"0.12,0.06\"];\n"
          "  edge [color=\"#555555\", arrowsize=0.7];\n",
          f);
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        fprintf(f, "  n%d [id=\"node-%d\", %s, label=\"", i, i, nb_dot_node_style(n->kind));
        nb_dot_put_text(f, n->name);
        fputs("\\n", f);
        nb_dot_put_text(f, nb_node_op(g, i));
        if (n->shape.ndim) fprintf(f, " %s", nb_shape_format(n->shape, shape, sizeof shape));
        fputs("\"];\n", f);
    }
    for (int j = 0, edge = 0; j < g->count; j++)
        for (int k = 0; k < g->nodes[j].n_in; k++, edge++)
            fprintf(f, "  n%d -> n%d [id=\"edge-%d\"];\n", g->nodes[j].in[k], j, edge);
    fputs("}\n", f);
}

/* ------------------------------------------------------------- the page */

static void put_html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
        }
    }
}

typedef struct page {
    const nb_explain *e;
    const char *title;
    const char *svg;
} page;

static nb_status write_page(FILE *f, const void *user)
{
    const page *p = user;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    put_html_text(f, p->title);
    fputs("</title>\n<style>\n", f);
    fputs((const char *)nb_explain_page_css, f);
    fputs("</style>\n</head>\n<body>\n<header><h1>", f);
    put_html_text(f, p->title);
    fputs("</h1>\n<p class=\"hint\">Values flow forward (left to right), then gradients flow "
          "back. Step with the buttons or the arrow keys (space plays and pauses); hover over or "
          "tap an edge to see its tensor.</p></header>\n<main>\n<section id=\"graph\" "
          "aria-label=\"the computational graph\">\n",
          f);
    fputs(p->svg, f);
    fputs("</section>\n<section id=\"side\">\n<nav id=\"controls\" aria-label=\"steps\">"
          "<button id=\"reset\" type=\"button\" title=\"Reset (Home)\">&#x21BA; Reset</button>"
          "<button id=\"back\" type=\"button\" title=\"Back (Left arrow)\">&#x25C0; Back</button>"
          "<button id=\"play\" type=\"button\" title=\"Play or pause (Space)\">&#x25B6; "
          "Play</button>"
          "<button id=\"next\" type=\"button\" title=\"Next (Right arrow)\">Next "
          "&#x25B6;</button></nav>\n"
          "<p id=\"where\" aria-live=\"polite\"></p>\n<div id=\"panel\"></div>\n"
          "<noscript><p>This page steps through the graph with JavaScript; the graph above "
          "shows without it.</p></noscript>\n</section>\n</main>\n"
          "<div id=\"tip\" role=\"tooltip\" hidden></div>\n"
          "<script type=\"application/json\" id=\"data\">",
          f);
    put_data(f, p->e, p->title);
    fputs("</script>\n<script>\n", f);
    fputs((const char *)nb_explain_page_js, f);
    fputs("</script>\n</body>\n</html>\n", f);
    return ferror(f) ? nb_error(NB_ERR_IO, "writing the page failed") : NB_OK;
}

nb_status nb_explain_write_html(const nb_explain *e, const char *title, const char *path)
{
    if (!e || !path) return nb_error(NB_ERR_ARGUMENT, "writing the page: no record or no path");
    if (!title) title = "nabla explain";
    char *dot = NULL, *svg = NULL;
    size_t dot_len = 0;
    FILE *mem = open_memstream(&dot, &dot_len);
    if (!mem) return nb_error(NB_ERR_MEMORY, "writing the page: out of memory");
    put_dot(mem, e);
    if (fclose(mem) != 0 || !dot) {
        free(dot);
        return nb_error(NB_ERR_MEMORY, "writing the page: out of memory");
    }
    nb_status st = nb_explain_layout(dot, dot_len, &svg);
    free(dot);
    if (st != NB_OK) return st;
    page p = {e, title, svg};
    st = nb_write_atomic(path, write_page, &p);
    nb_free(svg);
    return st;
}
