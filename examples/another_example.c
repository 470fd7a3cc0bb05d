/* Notes 004, "Another Example": inputs x1 = 1.7, x2 = 3.5, five hidden
 * units u_i = w1_i x1 + w2_i x2 with the notes' table of weights, the
 * activation v_i = 1 / u_i, the output
 *   F = v1 v2 + v3 / v4 - v5,  y = sigmoid(F),  L = (y - 2)^2,
 * and the gradient the notes ask for, dL/dw_{52} = dL/du5 * x2, where
 *   dL/du5 = dL/dv5 * (-1 / u5^2),  dL/dv5 = dL/dF * (-1),
 *   dL/dF = dL/dy * y (1 - y),      dL/dy = 2 (y - 2).
 * The notes' w_{52} is the weight from x2 into unit 5 (their table's
 * w_{2_5} = 1.3), named w2_5 here.
 * Usage: another_example [--dot FILE] */
#include "notes_graphs.h"

int main(int argc, char **argv)
{
    const char *dot;
    int rc =
        notes_parse_args(argc, argv,
                         "Notes 004, \"Another Example\": dL/dw_52 through five units, sigmoid "
                         "and a squared loss.",
                         NULL, NULL, 0, &dot);
    if (rc >= 0) return rc;
    nb_graph *g = nb_graph_create();
    if (!g) return notes_exit(NB_ERR_MEMORY);
    notes_another m;
    nb_status st = notes_build_another(g, &m);
    if (st == NB_OK) st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_graph_backward(g, m.L);
    if (st == NB_OK) {
        printf("notes 004, Another Example\n");
        printf("%-5s %-16s %-16s %-16s %-16s\n", "unit", "u", "v = 1/u", "dL/dw1", "dL/dw2");
        for (int i = 0; i < NOTES_UNITS; i++)
            printf("%-5d %-16.9g %-16.9g %-16.9g %-16.9g\n", i + 1,
                   (double)nb_node_value(g, m.u[i])[0], (double)nb_node_value(g, m.v[i])[0],
                   (double)nb_node_grad(g, m.w1[i])[0], (double)nb_node_grad(g, m.w2[i])[0]);
        printf("F          = %.9g\n", (double)nb_node_value(g, m.F)[0]);
        printf("y          = %.9g\n", (double)nb_node_value(g, m.y)[0]);
        printf("L          = %.9g\n", (double)nb_node_value(g, m.L)[0]);
        printf("dL/dy      = %.9g\n", (double)nb_node_grad(g, m.y)[0]);
        printf("dL/dF      = %.9g\n", (double)nb_node_grad(g, m.F)[0]);
        printf("dL/dv5     = %.9g\n", (double)nb_node_grad(g, m.v[4])[0]);
        printf("dL/du5     = %.9g\n", (double)nb_node_grad(g, m.u[4])[0]);
        printf("dL/dw_52   = %.9g   (the notes' question: w2_5, x2 -> unit 5)\n\n",
               (double)nb_node_grad(g, m.w2[4])[0]);
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) st = notes_write_dot(g, dot);
    nb_graph_free(g);
    return notes_exit(st);
}
