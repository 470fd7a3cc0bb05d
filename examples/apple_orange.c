/* Notes 001: buying 2 apples at 100 and 3 oranges at 150 with a 10% tax,
 *   price = (100 * 2 + 150 * 3) * 1.1 = 715,
 * as a computational graph. The backward pass gives how much the price
 * moves per unit change of each input: dprice/dapple_price = 2 * 1.1, ...
 * Usage: apple_orange [--dot FILE] */
#include "notes_graphs.h"

int main(int argc, char **argv)
{
    const char *dot;
    int rc = notes_parse_args(
        argc, argv, "Notes 001: the price of 2 apples and 3 oranges with tax, and its gradient.",
        NULL, NULL, 0, &dot);
    if (rc >= 0) return rc;
    nb_graph *g = nb_graph_create();
    if (!g) return notes_exit(NB_ERR_MEMORY);
    notes_apple_orange m;
    nb_status st = notes_build_apple_orange(g, &m);
    if (st == NB_OK) st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_graph_backward(g, m.price);
    if (st == NB_OK) {
        const nb_node inputs[] = {m.apple_price, m.apple_count, m.orange_price, m.orange_count,
                                  m.tax};
        printf("notes 001: price = (apple_price * apple_count + orange_price * orange_count)"
               " * tax\n");
        printf("price = %.9g\n", (double)nb_node_value(g, m.price)[0]);
        for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
            printf("dprice/d%-13s = %.9g\n", nb_node_name(g, inputs[i]),
                   (double)nb_node_grad(g, inputs[i])[0]);
        printf("\n");
        st = nb_graph_print_trace(g, stdout);
    }
    if (st == NB_OK) st = notes_write_dot(g, dot);
    nb_graph_free(g);
    return notes_exit(st);
}
