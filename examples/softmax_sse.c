/* Notes 004: the softmax of x = (1, 2, 1.5, 0.6); the SSE and MSE of the
 * output (0.1, 0.7, 0.2) against the target (0, 1, 0) with their
 * gradients 2 (y - t) and 2 (y - t) / n; and the three questions of
 * "Quiz 01". The notes add the SSE up to 0.54; it is 0.14, since
 * (1 - 0.7)^2 = 0.09, not 0.49.
 * Usage: softmax_sse [--dot FILE]   (the picture shows the softmax and
 * losses graph) */
#include "notes_graphs.h"

static nb_status softmax_and_losses(const char *dot)
{
    nb_graph *g = nb_graph_create();
    if (!g) return NB_ERR_MEMORY;
    notes_softmax_sse m;
    nb_status st = notes_build_softmax_sse(g, &m);
    if (st == NB_OK) st = nb_graph_forward(g);
    if (st == NB_OK) {
        printf("notes 004: softmax, SSE and MSE\n");
        notes_print(g, "x", m.x, nb_node_value(g, m.x));
        notes_print(g, "y", m.y, nb_node_value(g, m.y));
        notes_print(g, "sse", m.sse, nb_node_value(g, m.sse));
        notes_print(g, "mse", m.mse, nb_node_value(g, m.mse));
        st = nb_graph_backward(g, m.mse);
    }
    if (st == NB_OK) {
        notes_print(g, "dmse/dy_hat", m.y_hat, nb_node_grad(g, m.y_hat));
        st = nb_graph_backward(g, m.sse); /* the trace and picture show this pass */
    }
    if (st == NB_OK) {
        notes_print(g, "dsse/dy_hat", m.y_hat, nb_node_grad(g, m.y_hat));
        printf("\nbackward from sse:\n");
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) st = notes_write_dot(g, dot);
    nb_graph_free(g);
    return st;
}

static nb_status quiz(void)
{
    nb_graph *g1 = nb_graph_create(), *g2 = nb_graph_create(), *g3 = nb_graph_create();
    nb_status st = g1 && g2 && g3 ? NB_OK : NB_ERR_MEMORY;
    notes_quiz_product q1;
    notes_quiz_gradient q2;
    notes_quiz_chain q3;
    if (st == NB_OK) st = notes_build_quiz_product(g1, &q1);
    if (st == NB_OK) st = nb_graph_forward(g1);
    if (st == NB_OK) {
        printf("\nquiz 01, 1: the transpose of (2 3 1; -1 2 3)(5, -2, 3)^T\n");
        notes_print(g1, "(Ab)^T", q1.transposed, nb_node_value(g1, q1.transposed));
        st = nb_graph_print_trace(g1, stdout);
    }
    if (st == NB_OK) st = notes_build_quiz_gradient(g2, &q2, 1, 2, 3);
    if (st == NB_OK) st = nb_graph_forward(g2);
    if (st == NB_OK) st = nb_graph_backward(g2, q2.f);
    if (st == NB_OK) {
        printf("\nquiz 01, 2: f(x, y, z) = xy + yz at (1, 2, 3); grad f = (y, x + z, y)\n");
        printf("grad f = (%.9g, %.9g, %.9g)\n", (double)nb_node_grad(g2, q2.x)[0],
               (double)nb_node_grad(g2, q2.y)[0], (double)nb_node_grad(g2, q2.z)[0]);
        st = nb_graph_print_trace(g2, stdout);
    }
    if (st == NB_OK) st = notes_build_quiz_chain(g3, &q3, 2, 3);
    if (st == NB_OK) st = nb_graph_forward(g3);
    if (st == NB_OK) st = nb_graph_backward(g3, q3.L);
    if (st == NB_OK) {
        printf("\nquiz 01, 3: L = xy, (x, y) = (ab, a + b) at (a, b) = (2, 3);"
               " dL/da = yb + x\n");
        printf("dL/da = %.9g, dL/db = %.9g\n", (double)nb_node_grad(g3, q3.a)[0],
               (double)nb_node_grad(g3, q3.b)[0]);
        st = nb_graph_print_trace(g3, stdout);
    }
    nb_graph_free(g1);
    nb_graph_free(g2);
    nb_graph_free(g3);
    return st;
}

int main(int argc, char **argv)
{
    const char *dot;
    int rc = notes_parse_args(argc, argv,
                              "Notes 004: softmax, SSE and MSE with their gradients, and quiz 01.",
                              NULL, NULL, 0, &dot);
    if (rc >= 0) return rc;
    nb_status st = softmax_and_losses(dot);
    if (st == NB_OK) st = quiz();
    return notes_exit(st);
}
