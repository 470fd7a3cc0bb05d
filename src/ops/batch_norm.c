/* Batch normalisation (Ioffe and Szegedy, "Batch normalization:
 * accelerating deep network training by reducing internal covariate
 * shift", ICML 2015) of x [N, C] per feature or [N, C, H, W] per channel,
 * over the m = N (H W) values of each channel c:
 *     y = gamma_c * xhat + beta_c,  xhat = (x - mean_c) / sqrt(var_c + eps).
 * NB_MODE_TRAIN and NB_MODE_HELD take the batch's mean and biased variance
 * (sum (x - mean)^2 / m); TRAIN also moves the running estimates (buffers),
 * as PyTorch does:
 *     running_mean = (1 - momentum) running_mean + momentum mean,
 *     running_var  = (1 - momentum) running_var + momentum var m / (m - 1).
 * NB_MODE_EVAL normalises by the running estimates instead. work keeps
 * each channel's mean and 1 / sqrt(var + eps), then whether they were the
 * batch's (1) or the running ones (0); backward recomputes xhat from them.
 * Backward with batch statistics (the mean and variance depend on x):
 *     dbeta = sum dy,  dgamma = sum dy xhat,
 *     dx = gamma / (m sqrt(var + eps)) (m dy - dbeta - xhat dgamma);
 * with running estimates (constants): dx = gamma dy / sqrt(var + eps). */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Channels C and values per channel in one sample (H W, 1 for [N, C]). */
static void layout(const nb_node_rec *n, int *batch, int *channels, size_t *spatial)
{
    *batch = n->shape.dim[0];
    *channels = n->shape.dim[1];
    *spatial = n->shape.ndim == 4 ? (size_t)n->shape.dim[2] * (size_t)n->shape.dim[3] : 1;
}

static int is_vector(nb_shape s, int c)
{
    return s.ndim == 1 && s.dim[0] == c;
}

static nb_status infer_batch_norm(nb_graph *g, nb_node_rec *n)
{
    const nb_node_rec *x = nb_in(g, n, 0);
    if (x->shape.ndim != 2 && x->shape.ndim != 4)
        return nb_shape_error(g, n,
                              "x [N, C] or [N, C, H, W], then gamma, beta, running_mean "
                              "and running_var [C]");
    int c = x->shape.dim[1];
    for (int i = 1; i < 5; i++)
        if (!is_vector(nb_in(g, n, i)->shape, c))
            return nb_shape_error(g, n,
                                  "gamma, beta, running_mean and running_var of shape [C], "
                                  "C = x's dimension 1");
    for (int i = 3; i < 5; i++) {
        const nb_node_rec *b = nb_in(g, n, i);
        if (b->kind != NB_NODE_BUFFER)
            return nb_error(NB_ERR_ARGUMENT,
                            "op batch_norm (node \"%s\"): input %d (%s) \"%s\" must be a buffer "
                            "(nb_buffer): training writes the running estimates into it",
                            n->name, i, i == 3 ? "running_mean" : "running_var", b->name);
    }
    double momentum = nb_attr_of(n, "momentum")->reals[0], eps = nb_attr_of(n, "eps")->reals[0];
    if (!(momentum >= 0 && momentum <= 1))
        return nb_error(NB_ERR_ARGUMENT,
                        "op batch_norm (node \"%s\"): momentum is %g; it must be in [0, 1]",
                        n->name, momentum);
    if (!(eps > 0))
        return nb_error(NB_ERR_ARGUMENT, "op batch_norm (node \"%s\"): eps is %g; it must be > 0",
                        n->name, eps);
    n->shape = x->shape;
    n->work_count = 2 * (size_t)c + 1;
    return NB_OK;
}

/* A running variance is a mean of squares: a negative one (or NaN) has
 * no meaning, and var + eps <= 0 would make 1 / sqrt(var + eps) NaN or
 * infinite in evaluation, hidden by a later relu or max. Refused in every
 * mode, so that a model file's bad value fails the same way in training,
 * evaluation and prediction. */
static nb_status check_running_var(nb_graph *g, const nb_node_rec *n)
{
    const nb_node_rec *rv = nb_in(g, n, 4);
    int channels = rv->shape.dim[0];
    for (int c = 0; c < channels; c++) {
        double v = rv->value[c];
        if (!(v >= 0))
            return nb_error(NB_ERR_ARGUMENT,
                            "op batch_norm (node \"%s\"): running_var \"%s\" of channel %d "
                            "(0-based) is %g; a variance must be a number >= 0",
                            n->name, rv->name, c, v);
    }
    return NB_OK;
}

/* Training takes an unbiased variance over the rows (N) H W values of
 * each channel: it needs two. */
static nb_status check_rows_batch_norm(const nb_graph *g, const nb_node_rec *n, int rows)
{
    const nb_node_rec *x = &g->nodes[n->in[0]];
    size_t spatial = x->shape.ndim == 4 ? (size_t)x->shape.dim[2] * (size_t)x->shape.dim[3] : 1;
    if ((size_t)rows * spatial >= 2) return NB_OK;
    return nb_error(NB_ERR_SHAPE,
                    "op batch_norm (node \"%s\"): training needs at least 2 values per channel "
                    "(N * H * W), got 1: a batch of one sample%s",
                    n->name,
                    x->shape.ndim == 2
                        ? " (batch norm over features needs batches of at least 2 samples)"
                        : " of 1 x 1 images");
}

static nb_status check_batch_norm(nb_graph *g, const nb_node_rec *n)
{
    nb_status st = check_running_var(g, n);
    if (st != NB_OK || g->mode != NB_MODE_TRAIN) return st;
    return check_rows_batch_norm(g, n, n->shape.dim[0]);
}

static void batch_norm_forward(nb_graph *g, nb_node_rec *n)
{
    const nb_real *x = nb_in(g, n, 0)->value, *gamma = nb_in(g, n, 1)->value,
                  *beta = nb_in(g, n, 2)->value;
    nb_real *run_mean = nb_in(g, n, 3)->value, *run_var = nb_in(g, n, 4)->value;
    const double momentum = nb_attr_of(n, "momentum")->reals[0];
    const double eps = nb_attr_of(n, "eps")->reals[0];
    int batch, channels;
    size_t spatial;
    layout(n, &batch, &channels, &spatial);
    const size_t m = (size_t)batch * spatial, stride = (size_t)channels * spatial;
    nb_real *mean = n->work, *inv_std = n->work + channels;
    const int from_batch = g->mode != NB_MODE_EVAL;
    n->work[2 * channels] = (nb_real)from_batch;
    for (int c = 0; c < channels; c++) {
        const nb_real *xc = x + (size_t)c * spatial;
        double mu, var;
        if (from_batch) {
            double sum = 0, sq = 0;
            for (int i = 0; i < batch; i++)
                for (size_t s = 0; s < spatial; s++) sum += xc[i * stride + s];
            mu = sum / (double)m;
            for (int i = 0; i < batch; i++)
                for (size_t s = 0; s < spatial; s++) {
                    double d = xc[i * stride + s] - mu;
                    sq += d * d;
                }
            var = sq / (double)m; /* two passes: no cancellation */
            if (g->mode == NB_MODE_TRAIN) {
                run_mean[c] = (nb_real)((1 - momentum) * run_mean[c] + momentum * mu);
                run_var[c] =
                    (nb_real)((1 - momentum) * run_var[c] + momentum * sq / (double)(m - 1));
            }
        } else {
            mu = run_mean[c];
            var = run_var[c];
        }
        double is = 1 / sqrt(var + eps), a = gamma[c] * is, b = beta[c] - a * mu;
        mean[c] = (nb_real)mu;
        inv_std[c] = (nb_real)is;
        nb_real *yc = n->value + (size_t)c * spatial;
        for (int i = 0; i < batch; i++)
            for (size_t s = 0; s < spatial; s++)
                yc[i * stride + s] = (nb_real)(a * xc[i * stride + s] + b);
    }
}

static void batch_norm_backward(nb_graph *g, nb_node_rec *n)
{
    nb_node_rec *xn = nb_in(g, n, 0), *gn = nb_in(g, n, 1), *bn = nb_in(g, n, 2);
    const nb_real *x = xn->value, *gamma = gn->value, *dy = n->grad;
    int batch, channels;
    size_t spatial;
    layout(n, &batch, &channels, &spatial);
    const size_t m = (size_t)batch * spatial, stride = (size_t)channels * spatial;
    const nb_real *mean = n->work, *inv_std = n->work + channels;
    const int from_batch = n->work[2 * channels] != 0;
    for (int c = 0; c < channels; c++) {
        const nb_real *xc = x + (size_t)c * spatial, *dyc = dy + (size_t)c * spatial;
        const double mu = mean[c], is = inv_std[c];
        double dbeta = 0, dgamma = 0;
        for (int i = 0; i < batch; i++)
            for (size_t s = 0; s < spatial; s++) {
                size_t k = i * stride + s;
                dbeta += dyc[k];
                dgamma += dyc[k] * (xc[k] - mu) * is;
            }
        if (gn->grad) gn->grad[c] = (nb_real)(gn->grad_overwrite ? dgamma : gn->grad[c] + dgamma);
        if (bn->grad) bn->grad[c] = (nb_real)(bn->grad_overwrite ? dbeta : bn->grad[c] + dbeta);
        if (!xn->grad) continue;
        nb_real *dxc = xn->grad + (size_t)c * spatial;
        const double a = gamma[c] * is;
        if (!from_batch) {
            for (int i = 0; i < batch; i++)
                for (size_t s = 0; s < spatial; s++)
                    dxc[i * stride + s] += (nb_real)(a * dyc[i * stride + s]);
            continue;
        }
        const double mb = dbeta / (double)m, mg = dgamma / (double)m;
        for (int i = 0; i < batch; i++)
            for (size_t s = 0; s < spatial; s++) {
                size_t k = i * stride + s;
                double xhat = (xc[k] - mu) * is;
                dxc[k] += (nb_real)(a * (dyc[k] - mb - xhat * mg));
            }
    }
}

static const nb_attr_def batch_norm_attrs[] = {
    {"momentum", NB_ATTR_REAL, 1, 0, 0.1}, {"eps", NB_ATTR_REAL, 1, 0, 1e-5}, {NULL}};

const nb_op_def nb_ops_batch_norm[] = {
    {.name = "batch_norm",
     .arity = 5,
     .attrs = batch_norm_attrs,
     .infer = infer_batch_norm,
     .check = check_batch_norm,
     .check_stored = check_running_var,
     .check_rows = check_rows_batch_norm,
     .forward = batch_norm_forward,
     .backward = batch_norm_backward,
     .first_write = 1},
    {.name = NULL},
};

nb_node nb_batch_norm(nb_graph *g, nb_node x, nb_node gamma, nb_node beta, nb_node running_mean,
                      nb_node running_var, double momentum, double eps)
{
    nb_node in[5] = {x, gamma, beta, running_mean, running_var};
    nb_attr a[2] = {nb_attr_real("momentum", momentum), nb_attr_real("eps", eps)};
    return nb_apply_attrs(g, "batch_norm", NULL, 5, in, 2, a);
}
