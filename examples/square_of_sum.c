/* Notes 001 and 003, the chain rule: z = (x + y)^2 written as t = x + y,
 * z = t^2, so dz/dx = dz/dt * dt/dx = 2t * 1 = 2(x + y), and the same for y.
 * Usage: square_of_sum [x y] [--dot FILE]   (default x = 3, y = 2) */
#include "notes_graphs.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"x", "y"};
    const char *dot;
    double xy[2] = {3, 2};
    int rc = notes_parse_args(argc, argv, "Notes 001/003: the chain rule on z = (x + y)^2.", names,
                              xy, 2, &dot);
    if (rc >= 0) return rc;
    nb_graph *g = nb_graph_create();
    if (!g) return notes_exit(NB_ERR_MEMORY);
    notes_square_of_sum m;
    nb_status st = notes_build_square_of_sum(g, &m, xy[0], xy[1]);
    if (st == NB_OK) st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_graph_backward(g, m.z);
    if (st == NB_OK) {
        printf("notes 001/003: z = (x + y)^2 with t = x + y, x = %.9g, y = %.9g\n", xy[0], xy[1]);
        printf("z     = %.9g\n", (double)nb_node_value(g, m.z)[0]);
        printf("dz/dt = %.9g   (2t)\n", (double)nb_node_grad(g, m.t)[0]);
        printf("dz/dx = %.9g   (2t * dt/dx, dt/dx = 1)\n", (double)nb_node_grad(g, m.x)[0]);
        printf("dz/dy = %.9g   (2t * dt/dy, dt/dy = 1)\n\n", (double)nb_node_grad(g, m.y)[0]);
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) st = notes_write_dot(g, dot);
    nb_graph_free(g);
    return notes_exit(st);
}
