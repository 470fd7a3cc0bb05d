/* Numerical gradients by central differences, and the check that compares
 * them with backward's: (L(x + eps) - L(x - eps)) / 2 eps. */
#include "internal.h"

#include <math.h>
#include <string.h>

static nb_status loss_value(nb_graph *g, nb_node loss, double *out)
{
    nb_status st = nb_graph_forward(g);
    if (st != NB_OK) return st;
    *out = g->nodes[loss].value[0];
    return NB_OK;
}

/* A step that is a positive, finite number. */
static nb_status check_eps(double eps, const char *what)
{
    if (!(eps > 0) || !isfinite(eps))
        return nb_error(NB_ERR_ARGUMENT, "%s: the step eps is %g; it must be positive and finite",
                        what, eps);
    return NB_OK;
}

static nb_status numeric_grad(nb_graph *g, nb_node loss, nb_node_rec *n, double eps, nb_real *out);

nb_status nb_numeric_grad(nb_graph *g, nb_node loss, nb_node node, double eps, nb_real *out)
{
    if (!g) return nb_error(NB_ERR_ARGUMENT, "numeric gradient: no graph");
    if (!out) return nb_error(NB_ERR_ARGUMENT, "numeric gradient: no output array (NULL)");
    nb_status st = check_eps(eps, "numeric gradient");
    if (st != NB_OK) return st;
    if (!g->compiled) return nb_error(NB_ERR_STATE, "numeric gradient: compile first");
    if (loss < 0 || loss >= g->count || node < 0 || node >= g->count)
        return nb_error(NB_ERR_ARGUMENT, "numeric gradient: node not in the graph");
    if (nb_shape_count(g->nodes[loss].shape) != 1)
        return nb_error(NB_ERR_SHAPE, "numeric gradient: loss \"%s\" is not a scalar",
                        g->nodes[loss].name);
    nb_node_rec *n = &g->nodes[node];
    if (n->kind == NB_NODE_OP || (n->kind == NB_NODE_INPUT && n->bound))
        return nb_error(NB_ERR_ARGUMENT,
                        "numeric gradient: \"%s\" must be a parameter, constant or fed input",
                        n->name);
    /* Held mode: dropout keeps its mask and batch norm its running
     * estimates, so that the loss is one function of the values. */
    const nb_mode mode = g->mode;
    nb_graph_set_mode(g, NB_MODE_HELD);
    st = numeric_grad(g, loss, n, eps, out);
    nb_graph_set_mode(g, mode);
    return st;
}

static nb_status numeric_grad(nb_graph *g, nb_node loss, nb_node_rec *n, double eps, nb_real *out)
{
    nb_status st;
    size_t count = nb_shape_count(n->shape);
    for (size_t i = 0; i < count; i++) {
        nb_real keep = n->value[i];
        /* The step actually taken after rounding to nb_real: 0 when eps is
         * below the value's precision (a quotient of 0 / 0). */
        double step = (double)(nb_real)(keep + eps) - (double)(nb_real)(keep - eps);
        if (!(step > 0) || !isfinite(step))
            return nb_error(NB_ERR_ARGUMENT,
                            "numeric gradient of \"%s\": eps %g is no step at element %zu "
                            "(value %g) in %s",
                            n->name, eps, i, (double)keep, NB_REAL_NAME);
        double plus, minus;
        n->value[i] = (nb_real)(keep + eps);
        st = loss_value(g, loss, &plus);
        n->value[i] = (nb_real)(keep - eps);
        if (st == NB_OK) st = loss_value(g, loss, &minus);
        n->value[i] = keep;
        if (st != NB_OK) return st;
        out[i] = (nb_real)((plus - minus) / step);
    }
    return nb_graph_forward(g);
}

static nb_status gradcheck(nb_graph *g, nb_node loss, double eps, nb_gradcheck_entry *entries,
                           int max_entries, int *n_entries);

nb_status nb_gradcheck(nb_graph *g, nb_node loss, double eps, nb_gradcheck_entry *entries,
                       int max_entries, int *n_entries)
{
    if (!n_entries || (!entries && max_entries != 0) || max_entries < 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "gradient check: no entries array or count, or max_entries %d < 0",
                        max_entries);
    *n_entries = 0;
    nb_status st = check_eps(eps, "gradient check");
    if (st != NB_OK) return st;
    if (!g) return nb_error(NB_ERR_ARGUMENT, "gradient check: no graph");
    /* Held mode throughout (see nb_numeric_grad); the caller's comes back. */
    const nb_mode mode = g->mode;
    nb_graph_set_mode(g, NB_MODE_HELD);
    st = gradcheck(g, loss, eps, entries, max_entries, n_entries);
    nb_graph_set_mode(g, mode);
    return st;
}

static nb_status gradcheck(nb_graph *g, nb_node loss, double eps, nb_gradcheck_entry *entries,
                           int max_entries, int *n_entries)
{
    nb_status st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_graph_backward(g, loss);
    if (st != NB_OK) return st;
    size_t biggest = 0;
    for (int i = 0; i < g->count; i++)
        if (g->nodes[i].grad && g->nodes[i].kind != NB_NODE_OP) {
            size_t c = nb_shape_count(g->nodes[i].shape);
            biggest = c > biggest ? c : biggest;
        }
    nb_real *numeric = nb_calloc(biggest ? biggest : 1, sizeof *numeric);
    nb_real *analytic = nb_calloc(biggest ? biggest : 1, sizeof *analytic);
    if (!numeric || !analytic) {
        nb_free(numeric);
        nb_free(analytic);
        return nb_error(NB_ERR_MEMORY, "gradient check: out of memory");
    }
    for (int i = 0; i < g->count && *n_entries < max_entries && st == NB_OK; i++) {
        nb_node_rec *n = &g->nodes[i];
        if (!n->grad || n->kind == NB_NODE_OP) continue;
        size_t count = nb_shape_count(n->shape);
        memcpy(analytic, n->grad, count * sizeof *analytic);
        st = nb_numeric_grad(g, loss, i, eps, numeric);
        if (st != NB_OK) break;
        nb_gradcheck_entry *e = &entries[(*n_entries)++];
        memset(e, 0, sizeof *e);
        strcpy(e->name, n->name);
        e->count = count;
        for (size_t k = 0; k < count; k++) {
            double a = analytic[k], num = numeric[k];
            double diff = fabs(a - num);
            double scale = fmax(fmax(fabs(a), fabs(num)), NB_GRADCHECK_FLOOR);
            if (!(diff <= e->max_abs)) e->max_abs = diff; /* a NaN sticks */
            if (!(diff / scale <= e->max_rel)) e->max_rel = diff / scale;
        }
    }
    nb_free(numeric);
    nb_free(analytic);
    if (st == NB_OK) st = nb_graph_backward(g, loss); /* leave analytic gradients in place */
    return st;
}
