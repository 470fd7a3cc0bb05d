/* Parameter initialisers. fan_in and fan_out are the layer's (nb_init's
 * fields), else they come from a 2-D weight's [in, out] shape; a 1-D
 * parameter counts its length for both. */
#include "internal.h"

#include <math.h>

nb_init nb_init_zeros(void)
{
    return (nb_init){NB_INIT_ZEROS, 0, 0, 0, 0};
}
nb_init nb_init_constant(double value)
{
    return (nb_init){NB_INIT_CONSTANT, value, 0, 0, 0};
}
nb_init nb_init_normal(double mean, double dev)
{
    return (nb_init){NB_INIT_NORMAL, mean, dev, 0, 0};
}
nb_init nb_init_uniform(double lo, double hi)
{
    return (nb_init){NB_INIT_UNIFORM, lo, hi, 0, 0};
}
nb_init nb_init_xavier(void)
{
    return (nb_init){NB_INIT_XAVIER_UNIFORM, 0, 0, 0, 0};
}
nb_init nb_init_he(void)
{
    return (nb_init){NB_INIT_HE_NORMAL, 0, 0, 0, 0};
}

const char *nb_init_problem(nb_init init)
{
    if ((unsigned)init.kind > NB_INIT_HE_NORMAL) return "an unknown kind";
    if (init.fan_in < 0 || init.fan_out < 0) return "a negative fan-in or fan-out";
    if (init.kind == NB_INIT_CONSTANT && !isfinite(init.a)) return "a value that is not finite";
    if (init.kind == NB_INIT_NORMAL && !(isfinite(init.a) && isfinite(init.b) && init.b >= 0))
        return "a mean or deviation that is not finite, or a negative deviation";
    if (init.kind == NB_INIT_UNIFORM &&
        !(isfinite(init.a) && isfinite(init.b) && init.a <= init.b && isfinite(init.b - init.a)))
        return "bounds that are not finite, or low > high";
    return NULL;
}

/* An invalid init (see nb_param), no values, or no generator for a random
 * kind leave v as it is. */
void nb_init_fill(nb_init init, nb_shape shape, nb_real *v, nb_rng *rng)
{
    size_t n = nb_shape_count(shape);
    if (!v || nb_init_problem(init)) return;
    if (!rng && init.kind != NB_INIT_ZEROS && init.kind != NB_INIT_CONSTANT) return;
    double fan_in = init.fan_in > 0 ? init.fan_in : shape.ndim >= 1 ? shape.dim[0] : 1;
    double fan_out = init.fan_out > 0 ? init.fan_out : shape.ndim >= 2 ? shape.dim[1] : fan_in;
    double r;
    switch (init.kind) {
    case NB_INIT_ZEROS:
        for (size_t i = 0; i < n; i++) v[i] = 0;
        break;
    case NB_INIT_CONSTANT:
        for (size_t i = 0; i < n; i++) v[i] = (nb_real)init.a;
        break;
    case NB_INIT_NORMAL:
        for (size_t i = 0; i < n; i++) v[i] = (nb_real)(init.a + init.b * nb_rng_normal(rng));
        break;
    case NB_INIT_UNIFORM:
        for (size_t i = 0; i < n; i++)
            v[i] = (nb_real)(init.a + (init.b - init.a) * nb_rng_uniform(rng));
        break;
    case NB_INIT_XAVIER_UNIFORM:
        r = sqrt(6.0 / (fan_in + fan_out));
        for (size_t i = 0; i < n; i++) v[i] = (nb_real)(r * (2 * nb_rng_uniform(rng) - 1));
        break;
    case NB_INIT_XAVIER_NORMAL:
        r = sqrt(2.0 / (fan_in + fan_out));
        for (size_t i = 0; i < n; i++) v[i] = (nb_real)(r * nb_rng_normal(rng));
        break;
    case NB_INIT_HE_UNIFORM:
        r = sqrt(6.0 / fan_in);
        for (size_t i = 0; i < n; i++) v[i] = (nb_real)(r * (2 * nb_rng_uniform(rng) - 1));
        break;
    case NB_INIT_HE_NORMAL:
        r = sqrt(2.0 / fan_in);
        for (size_t i = 0; i < n; i++) v[i] = (nb_real)(r * nb_rng_normal(rng));
        break;
    }
}

nb_status nb_graph_init_params(nb_graph *g, nb_rng *rng)
{
    if (!g || !rng) return nb_error(NB_ERR_ARGUMENT, "initialising parameters: no graph or rng");
    if (!g->compiled)
        return nb_error(NB_ERR_STATE, "initialising parameters: compile the graph first");
    for (int i = 0; i < g->count; i++) {
        nb_node_rec *n = &g->nodes[i];
        if (nb_kind_is_state(n->kind)) nb_init_fill(n->init, n->shape, n->value, rng);
    }
    return NB_OK;
}
