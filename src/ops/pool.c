/* Pooling over NCHW windows (notes 007): max_pool2d keeps each window's
 * largest value and, in its work, where that value was (its offset i*KW + j
 * within the window: a small integer, exact in float) so that backward
 * routes dy there; avg_pool2d and global_avg_pool take means. Windows may
 * overlap (stride < kernel): backward adds. No padding. */
#include "conv.h"

#include <string.h>

static const nb_attr_def pool_attrs[] = {
    {"kernel", NB_ATTR_INT, 2, 1, 0}, {"stride", NB_ATTR_INT, 2, 0, 0}, {NULL}};

/* The window geometry: c.f = C, no padding; stride 0 means the kernel. */
static nb_conv_geom pool_geom(nb_graph *g, const nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape;
    nb_conv_geom c = {.n = x.dim[0], .c = x.dim[1], .h = x.dim[2], .w = x.dim[3], .f = x.dim[1]};
    nb_attr_pair(n, "kernel", &c.kh, &c.kw);
    nb_attr_pair(n, "stride", &c.sh, &c.sw);
    if (c.sh == 0) c.sh = c.kh;
    if (c.sw == 0) c.sw = c.kw;
    c.oh = c.h >= c.kh ? (c.h - c.kh) / c.sh + 1 : 0;
    c.ow = c.w >= c.kw ? (c.w - c.kw) / c.sw + 1 : 0;
    return c;
}

/* x [N, C, H, W] -> [N, C, OH, OW]; max_pool2d keeps one argmax per output. */
static nb_status infer_pool(nb_graph *g, nb_node_rec *n)
{
    nb_status st;
    if ((st = nb_check_pair(n, "kernel", 1)) != NB_OK ||
        (st = nb_check_pair(n, "stride", 0)) != NB_OK)
        return st;
    nb_shape x = nb_in(g, n, 0)->shape;
    if (x.ndim != 4) return nb_shape_error(g, n, "x [N, C, H, W]");
    nb_conv_geom c = pool_geom(g, n);
    if (c.oh < 1 || c.ow < 1) {
        char msg[128];
        snprintf(msg, sizeof msg, "x [N, C, H, W] at least as large as the kernel (%dx%d)", c.kh,
                 c.kw);
        return nb_shape_error(g, n, msg);
    }
    n->shape = nb_shape4(c.n, c.c, c.oh, c.ow);
    n->work_count = strcmp(n->op->name, "max_pool2d") == 0 ? nb_shape_count(n->shape) : 0;
    n->scratch_count = 0;
    return NB_OK;
}

/* Every output o in order, with its input plane p (sample and channel)
 * and the offset at of its window's first element within that plane. */
/* Every window of planes [first, last) (a plane: one channel of one
 * sample): p the plane, at the window's first element within it, o the
 * output's index. */
#define FOR_EACH_WINDOW_OF(c, first, last, p, at, o)                                               \
    for (size_t p = (first), o = (first) * (size_t)(c).oh * (c).ow; p < (last); p++)               \
        for (int oy_ = 0; oy_ < (c).oh; oy_++)                                                     \
            for (size_t ox_ = 0, at = (size_t)oy_ * (c).sh * (c).w; ox_ < (size_t)(c).ow;          \
                 ox_++, at += (size_t)(c).sw, o++)

#define FOR_EACH_WINDOW(c, p, at, o) FOR_EACH_WINDOW_OF(c, 0, (size_t)(c).n *(c).c, p, at, o)

/* The max pool's planes split between threads: each plane's outputs and
 * input gradients are its own, so the split never changes a bit. */
typedef struct pool_ctx {
    nb_graph *g;
    nb_node_rec *node;
    nb_conv_geom c;
} pool_ctx;

static void over_planes(nb_graph *g, nb_node_rec *node, void (*fn)(void *, size_t, size_t))
{
    pool_ctx u = {g, node, pool_geom(g, node)};
    size_t plane = (size_t)u.c.h * u.c.w, grain = plane ? NB_PARALLEL_GRAIN / plane : 1;
    nb_parallel_for((size_t)u.c.n * u.c.c, grain, fn, &u);
}

static void max_forward_planes(void *ctx, size_t first, size_t last)
{
    const pool_ctx *u = ctx;
    nb_conv_geom c = u->c;
    nb_node_rec *node = u->node;
    const nb_real *x = nb_in(u->g, node, 0)->value;
    size_t plane = (size_t)c.h * c.w;
    FOR_EACH_WINDOW_OF(c, first, last, p, at, o)
    {
        const nb_real *win = x + p * plane + at;
        nb_real best = win[0];
        int arg = 0;
        for (int i = 0; i < c.kh; i++)
            for (int j = 0; j < c.kw; j++)
                if (win[(size_t)i * c.w + j] > best) { /* ties: the first */
                    best = win[(size_t)i * c.w + j];
                    arg = i * c.kw + j;
                }
        node->value[o] = best;
        node->work[o] = (nb_real)arg;
    }
}

static void max_forward(nb_graph *g, nb_node_rec *node)
{
    over_planes(g, node, max_forward_planes);
}

static void max_backward_planes(void *ctx, size_t first, size_t last)
{
    const pool_ctx *u = ctx;
    nb_conv_geom c = u->c;
    const nb_node_rec *node = u->node;
    nb_real *dx = nb_in(u->g, node, 0)->grad;
    size_t plane = (size_t)c.h * c.w;
    FOR_EACH_WINDOW_OF(c, first, last, p, at, o)
    {
        int arg = (int)node->work[o];
        dx[p * plane + at + (size_t)(arg / c.kw) * c.w + arg % c.kw] += node->grad[o];
    }
}

static void max_backward(nb_graph *g, nb_node_rec *node)
{
    over_planes(g, node, max_backward_planes);
}

static void avg_forward(nb_graph *g, nb_node_rec *node)
{
    nb_conv_geom c = pool_geom(g, node);
    const nb_real *x = nb_in(g, node, 0)->value;
    size_t plane = (size_t)c.h * c.w;
    nb_real scale = (nb_real)1 / ((nb_real)c.kh * c.kw);
    FOR_EACH_WINDOW(c, p, at, o)
    {
        const nb_real *win = x + p * plane + at;
        nb_real sum = 0;
        for (int i = 0; i < c.kh; i++)
            for (int j = 0; j < c.kw; j++) sum += win[(size_t)i * c.w + j];
        node->value[o] = sum * scale;
    }
}

static void avg_backward(nb_graph *g, nb_node_rec *node)
{
    nb_conv_geom c = pool_geom(g, node);
    nb_real *dx = nb_in(g, node, 0)->grad;
    size_t plane = (size_t)c.h * c.w;
    nb_real scale = (nb_real)1 / ((nb_real)c.kh * c.kw);
    FOR_EACH_WINDOW(c, p, at, o)
    {
        nb_real *win = dx + p * plane + at, d = node->grad[o] * scale;
        for (int i = 0; i < c.kh; i++)
            for (int j = 0; j < c.kw; j++) win[(size_t)i * c.w + j] += d;
    }
}

/* x [N, C, H, W] -> [N, C] */
static nb_status infer_global(nb_graph *g, nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape;
    if (x.ndim != 4) return nb_shape_error(g, n, "x [N, C, H, W]");
    n->shape = nb_shape2(x.dim[0], x.dim[1]);
    n->work_count = n->scratch_count = 0;
    return NB_OK;
}

static void global_forward(nb_graph *g, nb_node_rec *node)
{
    const nb_node_rec *x = nb_in(g, node, 0);
    size_t planes = nb_shape_count(node->shape), plane = nb_shape_count(x->shape) / planes;
    for (size_t p = 0; p < planes; p++) {
        nb_real sum = 0;
        for (size_t k = 0; k < plane; k++) sum += x->value[p * plane + k];
        node->value[p] = sum / (nb_real)plane;
    }
}

static void global_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0);
    size_t planes = nb_shape_count(node->shape), plane = nb_shape_count(x->shape) / planes;
    for (size_t p = 0; p < planes; p++) {
        nb_real d = node->grad[p] / (nb_real)plane;
        for (size_t k = 0; k < plane; k++) x->grad[p * plane + k] += d;
    }
}

const nb_op_def nb_ops_pool[] = {
    {.name = "max_pool2d",
     .arity = 1,
     .attrs = pool_attrs,
     .infer = infer_pool,
     .forward = max_forward,
     .backward = max_backward},
    {.name = "avg_pool2d",
     .arity = 1,
     .attrs = pool_attrs,
     .infer = infer_pool,
     .forward = avg_forward,
     .backward = avg_backward},
    {.name = "global_avg_pool",
     .arity = 1,
     .infer = infer_global,
     .forward = global_forward,
     .backward = global_backward},
    {.name = NULL},
};
