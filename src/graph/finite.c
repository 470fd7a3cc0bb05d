/* Finding where a NaN or an infinity first appeared: the first node, in
 * forward order, whose value (or, after backward, gradient) is not finite. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* A value is not finite when its exponent bits are all ones. Testing the
 * bits as integers, OR-ed over the array, has no branch and no chain of
 * float adds, so the loop vectorises. */
#ifdef NABLA_DOUBLE
typedef uint64_t bits_t;
#define EXPONENT 0x7ff0000000000000ULL
#else
typedef uint32_t bits_t;
#define EXPONENT 0x7f800000U
#endif

static int all_finite(const nb_real *v, size_t n)
{
    bits_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bits_t b;
        memcpy(&b, &v[i], sizeof b);
        bad |= (bits_t)((b & EXPONENT) == EXPONENT);
    }
    return bad == 0;
}

nb_status nb_graph_find_nonfinite(nb_graph *g, nb_node *node, int *in_grad)
{
    if (!g || !node || !in_grad)
        return nb_error(NB_ERR_ARGUMENT, "checking values: no graph, node or in_grad pointer");
    *node = NB_NONE;
    *in_grad = 0;
    if (!g->compiled) return nb_error(NB_ERR_STATE, "checking values: compile first");
    for (int i = 0; i < g->count; i++) {
        const nb_node_rec *n = &g->nodes[i];
        if (!all_finite(n->value, nb_shape_count(n->shape))) {
            *node = i;
            return NB_OK;
        }
    }
    /* Gradients flow backwards: the first bad one is the last in order. */
    for (int i = g->count - 1; i >= 0; i--) {
        const nb_node_rec *n = &g->nodes[i];
        if (n->grad && !all_finite(n->grad, nb_shape_count(n->shape))) {
            *node = i;
            *in_grad = 1;
            return NB_OK;
        }
    }
    return NB_OK;
}

int nb_values_finite(const nb_real *values, size_t count)
{
    if (!values) return count == 0; /* no values to hold count of them */
    return all_finite(values, count);
}

/* The first non-finite value, its sample named by data or by first +
 * row (not at all when count is 1). */
static nb_status rows_finite(const nb_real *v, int rows, int cols, const nb_dataset *data,
                             size_t first, size_t count, const char *what)
{
    /* The fast test first; the loop below only runs to name the culprit. */
    if (all_finite(v, (size_t)rows * (size_t)cols)) return NB_OK;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            double x = v[(size_t)r * (size_t)cols + (size_t)j];
            if (isfinite(x)) continue;
            if (!data && count == 1)
                return nb_error(NB_ERR_NUMERIC, "%s %d (0-based) is %g", what, j, x);
            char name[64];
            return nb_error(NB_ERR_NUMERIC, "%s: %s %d (0-based) is %g",
                            nb_dataset_sample_name(data, first + (size_t)r, name, sizeof name),
                            what, j, x);
        }
    return NB_OK;
}

nb_status nb_check_rows_finite(const nb_real *v, int rows, int cols, size_t first, size_t count,
                               const char *what)
{
    return rows_finite(v, rows, cols, NULL, first, count, what);
}

nb_status nb_check_data_rows_finite(const nb_real *v, int rows, int cols, const nb_dataset *data,
                                    size_t first, const char *what)
{
    return rows_finite(v, rows, cols, data, first, 0, what);
}
