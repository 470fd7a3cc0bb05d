/* Notes 002: a network of 2 inputs, 2 sigmoid hidden units and 2 outputs
 * with softmax-with-loss, for x = (1.0, 2.0) and the label t = (1, 0):
 *   z1 = x W1 + b1, a1 = sigmoid(z1), z2 = a1 W2 + b2,
 *   y = softmax(z2), loss = -sum t log y
 * and its backward pass (notes 000, 003: dW = x^T dz, db = dz, dx = dz W^T).
 * The notes write z2 = x W2 + b2 but mean a1 W2 + b2, and their backward
 * pass multiplies by W instead of W^T; this is the correct computation
 * (docs/notes.md lists the differences).
 * Usage: two_layer_softmax [--dot FILE] */
#include "notes_graphs.h"

int main(int argc, char **argv)
{
    const char *dot;
    int rc = notes_parse_args(
        argc, argv, "Notes 002: a 2-2-2 network with softmax-with-loss, forward and backward.",
        NULL, NULL, 0, &dot);
    if (rc >= 0) return rc;
    nb_graph *g = nb_graph_create();
    if (!g) return notes_exit(NB_ERR_MEMORY);
    notes_two_layer m;
    nb_status st = notes_build_two_layer(g, &m);
    if (st == NB_OK) st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_graph_backward(g, m.loss);
    if (st == NB_OK) {
        printf("notes 002: Affine -> Sigmoid -> Affine -> Softmax-with-Loss\n");
        printf("forward:\n");
        notes_print(g, "z1", m.z1, nb_node_value(g, m.z1));
        notes_print(g, "a1", m.a1, nb_node_value(g, m.a1));
        notes_print(g, "z2", m.z2, nb_node_value(g, m.z2));
        notes_print(g, "y", m.y, nb_node_value(g, m.y));
        notes_print(g, "loss", m.loss, nb_node_value(g, m.loss));
        printf("backward:\n");
        notes_print(g, "dz2", m.z2, nb_node_grad(g, m.z2));
        notes_print(g, "dW2", m.W2, nb_node_grad(g, m.W2));
        notes_print(g, "db2", m.b2, nb_node_grad(g, m.b2));
        notes_print(g, "da1", m.a1, nb_node_grad(g, m.a1));
        notes_print(g, "dz1", m.z1, nb_node_grad(g, m.z1));
        notes_print(g, "dW1", m.W1, nb_node_grad(g, m.W1));
        notes_print(g, "db1", m.b1, nb_node_grad(g, m.b1));
        notes_print(g, "dX", m.x, nb_node_grad(g, m.x));
        printf("\n");
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) st = notes_write_dot(g, dot);
    nb_graph_free(g);
    return notes_exit(st);
}
