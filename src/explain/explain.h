/* Inside the explain module: the recorded steps of one graph (steps.c),
 * the readable rules (rules.c), the layout by Graphviz (layout.c) and the
 * page (page.c). */
#ifndef NABLA_EXPLAIN_H
#define NABLA_EXPLAIN_H

#include "internal.h"

#include <stdio.h>

typedef struct explain_step {
    nb_pass pass;
    nb_node node;
} explain_step;

struct nb_explain {
    nb_graph *graph; /* not owned */
    nb_node loss;    /* NB_NONE: forward steps only */
    explain_step *steps;
    int n_steps;
    /* The gradient each consumer's backward sent into each of its inputs:
     * edge_first[j] + k indexes slot k of node j in edge_at, an offset
     * into edge_values, or SIZE_MAX when none flowed there. */
    int *edge_first;
    size_t *edge_at;
    nb_real *edge_values;
};

/* The SVG text `dot -Tsvg` makes of source (nb_malloc'd, from "<svg" on),
 * or a status with a message saying why not. */
nb_status nb_explain_layout(const char *source, size_t length, char **svg);

/* The bundled style and script of the page (cmake/embed.cmake makes them
 * from src/explain/page.css and page.js). */
extern const unsigned char nb_explain_page_css[];
extern const unsigned char nb_explain_page_js[];

#endif
