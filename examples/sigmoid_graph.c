/* Notes 003, figures 5-19 and 5-20: the sigmoid y = 1 / (1 + exp(-x))
 * built node by node (x -1, exp, +1, 1/x) and compared with the fused
 * sigmoid op. Backward through the nodes multiplies the local derivatives
 *   1/x: -y^2,  +1: 1,  exp: exp(-x),  x -1: -1
 * which simplifies to y (1 - y), the fused op's derivative.
 * Usage: sigmoid_graph [x] [--dot FILE]   (default x = 0.5) */
#include "notes_graphs.h"

#include <math.h>

int main(int argc, char **argv)
{
    static const char *const names[] = {"x"};
    const char *dot;
    double x = 0.5;
    int rc = notes_parse_args(argc, argv,
                              "Notes 003: the sigmoid node by node against the fused sigmoid op.",
                              names, &x, 1, &dot);
    if (rc >= 0) return rc;
    nb_graph *g = nb_graph_create();
    if (!g) return notes_exit(NB_ERR_MEMORY);
    notes_sigmoid m;
    nb_status st = notes_build_sigmoid(g, &m, x);
    if (st == NB_OK) st = nb_graph_forward(g);
    /* Two backward passes, one from each output: gradients are overwritten,
     * so read each before the next. */
    double dy_nodes = 0, dy_fused = 0;
    if (st == NB_OK) st = nb_graph_backward(g, m.y);
    if (st == NB_OK) {
        dy_nodes = nb_node_grad(g, m.x)[0];
        printf("notes 003: sigmoid at x = %.9g\n\n", x);
        printf("backward from y (node by node):\n");
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) st = notes_write_dot(g, dot);
    if (st == NB_OK) st = nb_graph_backward(g, m.y_fused);
    if (st == NB_OK) {
        dy_fused = nb_node_grad(g, m.x)[0];
        printf("\nbackward from y_fused (the sigmoid op):\n");
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) {
        double y = nb_node_value(g, m.y)[0], yf = nb_node_value(g, m.y_fused)[0];
        printf("\n             %-16s %-16s |difference|\n", "node by node", "fused op");
        printf("y          = %-16.9g %-16.9g %.3g\n", y, yf, fabs(y - yf));
        printf("dy/dx      = %-16.9g %-16.9g %.3g\n", dy_nodes, dy_fused,
               fabs(dy_nodes - dy_fused));
        printf("y (1 - y)  = %.9g\n", y * (1 - y));
    }
    nb_graph_free(g);
    return notes_exit(st);
}
