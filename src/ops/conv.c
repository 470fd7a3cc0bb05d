/* 2-D convolution over NCHW (notes 007): per sample, im2col turns the
 * input into a column matrix so that the output is one product,
 * y_n [F, OH*OW] = W [F, C*KH*KW] cols_n [C*KH*KW, OH*OW], which lands in
 * NCHW as it is. Backward recomputes cols_n rather than keeping every
 * sample's (memory stays one sample's columns per thread):
 * dW += dy_n cols_nᵀ, dcols = Wᵀ dy_n then col2im into dx, db += Σ dy.
 * All products go through nb_gemm's transpose flags. The batch is split in
 * parts run on threads; each part sums its own dW, and the parts are added
 * in order, so a result depends only on the number of parts. */
#include "conv.h"

#include <limits.h>
#include <string.h>

static const nb_attr_def conv_attrs[] = {
    {"stride", NB_ATTR_INT, 2, 0, 1}, {"pad", NB_ATTR_INT, 2, 0, 0}, {NULL}};

void nb_attr_pair(const nb_node_rec *node, const char *name, int *a, int *b)
{
    const nb_attr *at = nb_attr_of(node, name);
    int64_t va = at->ints[0], vb = at->count > 1 ? at->ints[1] : va;
    /* infer has refused values past INT_MAX; clamp so that a call before it
     * never overflows */
    *a = va > INT_MAX ? INT_MAX : va < INT_MIN ? INT_MIN : (int)va;
    *b = vb > INT_MAX ? INT_MAX : vb < INT_MIN ? INT_MIN : (int)vb;
}

static nb_conv_geom geom_of(nb_graph *g, const nb_node_rec *n)
{
    nb_shape x = nb_in(g, n, 0)->shape, w = nb_in(g, n, 1)->shape;
    nb_conv_geom c = {.n = x.dim[0],
                      .c = x.dim[1],
                      .h = x.dim[2],
                      .w = x.dim[3],
                      .f = w.dim[0],
                      .kh = w.dim[2],
                      .kw = w.dim[3]};
    nb_attr_pair(n, "stride", &c.sh, &c.sw);
    nb_attr_pair(n, "pad", &c.ph, &c.pw);
    /* in 64 bits: a dimension near 2^31 plus padding must not wrap */
    long long oh = ((long long)c.h + 2LL * c.ph - c.kh) / c.sh + 1;
    long long ow = ((long long)c.w + 2LL * c.pw - c.kw) / c.sw + 1;
    c.oh = oh > INT_MAX ? INT_MAX : (int)oh;
    c.ow = ow > INT_MAX ? INT_MAX : (int)ow;
    return c;
}

/* One part's scratch: cols and dcols of one sample, and its dW sum. */
static size_t part_size(const nb_conv_geom *c)
{
    return 2 * nb_conv_rows(c) * nb_conv_cols(c) + (size_t)c->f * nb_conv_rows(c);
}

/* Both values of attribute name in [least, NB_WINDOW_MAX]. */
nb_status nb_check_pair(const nb_node_rec *n, const char *name, int least)
{
    const nb_attr *a = nb_attr_of(n, name);
    for (int i = 0; i < a->count; i++)
        if (a->ints[i] < least || a->ints[i] > NB_WINDOW_MAX)
            return nb_error(
                NB_ERR_ARGUMENT, "op %s (node \"%s\"): attribute \"%s\" must be %d to %d, got %lld",
                n->op->name, n->name, name, least, NB_WINDOW_MAX, (long long)a->ints[i]);
    return NB_OK;
}

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
static int use_dnnl = 1;

int nb_conv_use_dnnl(int on)
{
    int was = use_dnnl;
    use_dnnl = on;
    return was;
}
#endif

static void release_conv(nb_node_rec *n)
{
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    nb_dnnl_conv_free(n->op_state);
#endif
    n->op_state = NULL;
}

/* x [N, C, H, W], w [F, C, KH, KW], b [F] -> [N, F, OH, OW] */
static nb_status infer_conv(nb_graph *g, nb_node_rec *n)
{
    static const char want[] = "x [N, C, H, W], w [F, C, KH, KW] and optional b [F]";
    nb_status st;
    if ((st = nb_check_pair(n, "stride", 1)) != NB_OK || (st = nb_check_pair(n, "pad", 0)) != NB_OK)
        return st;
    nb_shape x = nb_in(g, n, 0)->shape, w = nb_in(g, n, 1)->shape;
    if (x.ndim != 4 || w.ndim != 4 || w.dim[1] != x.dim[1] ||
        (n->n_in == 3 &&
         (nb_in(g, n, 2)->shape.ndim != 1 || nb_in(g, n, 2)->shape.dim[0] != w.dim[0])))
        return nb_shape_error(g, n, want);
    nb_conv_geom c = geom_of(g, n);
    long long ph = (long long)c.h + 2LL * c.ph, pw = (long long)c.w + 2LL * c.pw;
    if (ph < c.kh || pw < c.kw) {
        char msg[192];
        snprintf(msg, sizeof msg, "a kernel (%dx%d) that fits in the padded input (%lldx%lld); %s",
                 c.kh, c.kw, ph, pw, want);
        return nb_shape_error(g, n, msg);
    }
    size_t rows = nb_conv_rows(&c), cols = nb_conv_cols(&c), part;
    if (rows > INT_MAX || cols > INT_MAX || !nb_mul_size(rows, cols, &part) || part > INT_MAX)
        return nb_shape_error(g, n, "a column matrix (C*KH*KW by OH*OW) under 2^31 values");
    /* the parts the batch is split into, fixed here so that the scratch
     * planned holds them all */
    int parts = nb_get_threads();
    if (parts > c.n) parts = c.n;
    if (parts > NB_CONV_MAX_PARTS) parts = NB_CONV_MAX_PARTS;
    n->iattr = parts;
    n->shape = nb_shape4(c.n, c.f, c.oh, c.ow);
    n->work_count = 0;
    if (!nb_mul_size(part_size(&c), (size_t)parts, &n->scratch_count))
        return nb_shape_error(g, n, "a convolution whose scratch fits in memory");
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    release_conv(n);
    size_t count = 0;
    if (use_dnnl)
        n->op_state =
            nb_dnnl_conv_create(&c, parts, n->n_in == 3, nb_in(g, n, 0)->needs_grad, &count);
    if (n->op_state && count > n->scratch_count) n->scratch_count = count;
#endif
    return NB_OK;
}

/* What every part of one call shares. */
typedef struct conv_call {
    nb_graph *g;
    nb_node_rec *node;
    nb_conv_geom c;
    int parts;
} conv_call;

static nb_real *part_scratch(const conv_call *k, int part)
{
    return k->node->scratch + (size_t)part * part_size(&k->c);
}

/* Samples [*first, *last) of part p: the batch in near-equal runs. */
static void part_range(const conv_call *k, int p, int *first, int *last)
{
    *first = (int)((long long)k->c.n * p / k->parts);
    *last = (int)((long long)k->c.n * (p + 1) / k->parts);
}

static void forward_part(void *ctx, int p)
{
    const conv_call *k = ctx;
    const nb_conv_geom *c = &k->c;
    const nb_node_rec *x = nb_in(k->g, k->node, 0), *w = nb_in(k->g, k->node, 1);
    const nb_node_rec *b = k->node->n_in == 3 ? nb_in(k->g, k->node, 2) : NULL;
    int rows = (int)nb_conv_rows(c), cols = (int)nb_conv_cols(c), first, last;
    size_t in_size = (size_t)c->c * c->h * c->w, out_size = (size_t)c->f * cols;
    nb_real *col = part_scratch(k, p);
    part_range(k, p, &first, &last);
    for (int s = first; s < last; s++) {
        nb_real *y = k->node->value + (size_t)s * out_size;
        nb_im2col(c, x->value + (size_t)s * in_size, col, (size_t)cols);
        if (b)
            for (int f = 0; f < c->f; f++)
                for (int q = 0; q < cols; q++) y[(size_t)f * cols + q] = b->value[f];
        nb_gemm(0, 0, c->f, cols, rows, 1, w->value, rows, col, cols, b ? 1 : 0, y, cols);
    }
}

/* Part p's dW sum: part 0 sums straight into w's gradient (written
 * outright for its first sample when w->grad_overwrite), the others into
 * their scratch, added in order after all parts are done. */
static void backward_part(void *ctx, int p)
{
    const conv_call *k = ctx;
    const nb_conv_geom *c = &k->c;
    const nb_node_rec *dy_node = k->node;
    nb_node_rec *x = nb_in(k->g, k->node, 0), *w = nb_in(k->g, k->node, 1);
    int rows = (int)nb_conv_rows(c), cols = (int)nb_conv_cols(c), first, last;
    size_t in_size = (size_t)c->c * c->h * c->w, out_size = (size_t)c->f * cols;
    nb_real *col = part_scratch(k, p), *dcol = col + (size_t)rows * cols;
    nb_real *dw = p == 0 ? w->grad : dcol + (size_t)rows * cols;
    int overwrite = p > 0 || w->grad_overwrite;
    part_range(k, p, &first, &last);
    for (int s = first; s < last; s++) {
        const nb_real *dy = dy_node->grad + (size_t)s * out_size;
        if (w->grad) {
            nb_im2col(c, x->value + (size_t)s * in_size, col, (size_t)cols);
            nb_real beta = overwrite && s == first ? 0 : 1;
            nb_gemm(0, 1, c->f, rows, cols, 1, dy, cols, col, cols, beta, dw, rows);
        }
        if (x->grad) {
            nb_gemm(1, 0, rows, cols, c->f, 1, w->value, rows, dy, cols, 0, dcol, cols);
            nb_col2im(c, dcol, (size_t)cols, x->grad + (size_t)s * in_size);
        }
    }
}

static conv_call call_of(nb_graph *g, nb_node_rec *node)
{
    conv_call k = {g, node, geom_of(g, node), nb_get_threads()};
    if (k.parts > node->iattr) k.parts = node->iattr; /* the scratch holds that many */
    if (k.parts < 1) k.parts = 1;
    return k;
}

static void conv_forward(nb_graph *g, nb_node_rec *node)
{
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    /* a call oneDNN fails runs im2col instead */
    if (node->op_state) {
        const nb_node_rec *b = node->n_in == 3 ? nb_in(g, node, 2) : NULL;
        if (nb_dnnl_conv_forward(node->op_state, nb_in(g, node, 0)->value, nb_in(g, node, 1)->value,
                                 b ? b->value : NULL, node->value, node->scratch))
            return;
    }
#endif
    conv_call k = call_of(g, node);
    nb_parallel(k.parts, forward_part, &k);
}

/* db += Σ over samples and positions of dy */
static void bias_backward(const conv_call *k, nb_node_rec *b)
{
    size_t cols = nb_conv_cols(&k->c);
    if (b->grad_overwrite) memset(b->grad, 0, (size_t)k->c.f * sizeof *b->grad);
    for (int s = 0; s < k->c.n; s++)
        for (int f = 0; f < k->c.f; f++) {
            const nb_real *dy = k->node->grad + ((size_t)s * k->c.f + f) * cols;
            nb_real sum = 0;
            for (size_t q = 0; q < cols; q++) sum += dy[q];
            b->grad[f] += sum;
        }
}

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
static int dnnl_backward(nb_graph *g, nb_node_rec *node)
{
    nb_node_rec *x = nb_in(g, node, 0), *w = nb_in(g, node, 1);
    nb_node_rec *b = node->n_in == 3 ? nb_in(g, node, 2) : NULL;
    nb_dnnl_grads gr = {.x = x->value,
                        .w = w->value,
                        .dy = node->grad,
                        .dx = x->grad,
                        .dw = w->grad,
                        .db = b ? b->grad : NULL};
    gr.add_dx = x->grad_overwrite ? 0 : nb_shape_count(x->shape);
    gr.add_dw = w->grad_overwrite ? 0 : nb_shape_count(w->shape);
    gr.add_db = !b || b->grad_overwrite ? 0 : nb_shape_count(b->shape);
    return nb_dnnl_conv_backward(node->op_state, &gr, node->scratch);
}
#endif

static void conv_backward(nb_graph *g, nb_node_rec *node)
{
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    /* a call oneDNN fails runs im2col instead, which writes or adds every
     * gradient as it would have */
    if (node->op_state && dnnl_backward(g, node)) return;
#endif
    conv_call k = call_of(g, node);
    nb_node_rec *x = nb_in(g, node, 0), *w = nb_in(g, node, 1);
    if (x->grad && x->grad_overwrite)
        memset(x->grad, 0, nb_shape_count(x->shape) * sizeof *x->grad);
    if (x->grad || w->grad) nb_parallel(k.parts, backward_part, &k);
    /* the parts' dW sums, added in a fixed order */
    size_t dw_count = (size_t)k.c.f * nb_conv_rows(&k.c);
    for (int p = 1; w->grad && p < k.parts; p++) {
        int first, last;
        part_range(&k, p, &first, &last);
        if (first == last) continue;
        const nb_real *part = part_scratch(&k, p) + 2 * nb_conv_rows(&k.c) * nb_conv_cols(&k.c);
        for (size_t i = 0; i < dw_count; i++) w->grad[i] += part[i];
    }
    if (node->n_in == 3 && nb_in(g, node, 2)->grad) bias_backward(&k, nb_in(g, node, 2));
}

const nb_op_def nb_ops_conv[] = {
    {.name = "conv2d",
     .arity = 2,
     .max_arity = 3,
     .attrs = conv_attrs,
     .infer = infer_conv,
     .forward = conv_forward,
     .backward = conv_backward,
     .first_write = 1,
     .release = release_conv},
    {.name = NULL},
};
