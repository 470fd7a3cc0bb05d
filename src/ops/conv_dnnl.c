/* conv2d through oneDNN (built with -DNABLA_DNNL=ON, float only): its
 * convolution primitives run in the blocked layouts they choose, with
 * reorders from and to nabla's NCHW. Everything is made once, when the
 * graph is compiled; a call only points oneDNN's memory objects at the
 * node's tensors and at the node's planned scratch, which holds oneDNN's
 * own scratchpad (user mode) and the blocked copies. */
#include "conv.h"

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* One tensor as a primitive wants it: its memory object, the reorder from
 * (or to) nabla's layout when the layouts differ, and where its blocked
 * copy lies in the scratch (bytes). */
typedef struct dn_arg {
    dnnl_memory_t mem;   /* the primitive's view */
    dnnl_memory_t plain; /* nabla's NCHW view (the same object when no reorder) */
    dnnl_primitive_t reorder;
    size_t at;
} dn_arg;

typedef struct dn_prim {
    dnnl_primitive_t prim;
    dnnl_memory_t pad; /* oneDNN's scratchpad */
    size_t pad_at;
} dn_prim;

enum { FWD, BWD_DATA, BWD_W, N_PRIMS };
/* the tensors: forward's src, weights, dst; backward data's diff dst,
 * weights and diff src; backward weights' src, diff dst, diff weights and
 * diff bias */
enum { F_SRC, F_W, F_B, F_DST, D_DDST, D_W, D_DSRC, W_SRC, W_DDST, W_DW, W_DB, N_ARGS };

struct nb_dnnl_conv {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dn_prim p[N_PRIMS];
    dn_arg a[N_ARGS];
    int bias, data;
    int threads;                   /* the primitives' work is divided for this many */
    size_t fwd_bytes, bwd_bytes;   /* scratch each pass uses */
    size_t tmp_dx, tmp_dw, tmp_db; /* backward: plain results to add */
};

#define ALIGN 64

static size_t take(size_t *top, size_t bytes)
{
    size_t at = *top;
    *top += (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return at;
}

static int ok(dnnl_status_t s)
{
    return s == dnnl_success;
}

static dnnl_memory_desc_t plain_md(int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_memory_desc_init_by_tag(&md, ndims, dims, dnnl_f32, tag);
    return md;
}

/* Tensor a as the primitive's query q describes it; a reorder between it
 * and plain when they differ (to_plain: the primitive's result goes back). */
static int make_arg(nb_dnnl_conv *d, dn_arg *a, const_dnnl_primitive_desc_t pd, dnnl_query_t q,
                    const dnnl_memory_desc_t *plain, int to_plain, size_t *top)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q, 0);
    if (!md || !ok(dnnl_memory_create(&a->plain, plain, d->engine, DNNL_MEMORY_NONE))) return 0;
    if (dnnl_memory_desc_equal(md, plain)) {
        a->mem = a->plain;
        return 1;
    }
    a->at = take(top, dnnl_memory_desc_get_size(md));
    if (!ok(dnnl_memory_create(&a->mem, md, d->engine, DNNL_MEMORY_NONE))) return 0;
    const dnnl_memory_desc_t *from = to_plain ? md : plain, *to = to_plain ? plain : md;
    dnnl_primitive_desc_t rpd;
    if (!ok(dnnl_reorder_primitive_desc_create(&rpd, from, d->engine, to, d->engine, NULL)))
        return 0;
    int made = ok(dnnl_primitive_create(&a->reorder, rpd));
    dnnl_primitive_desc_destroy(rpd);
    return made;
}

static int make_prim(nb_dnnl_conv *d, dn_prim *p, const_dnnl_primitive_desc_t pd, size_t *top)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (!md || !ok(dnnl_primitive_create(&p->prim, pd))) return 0;
    p->pad_at = take(top, dnnl_memory_desc_get_size(md));
    return ok(dnnl_memory_create(&p->pad, md, d->engine, DNNL_MEMORY_NONE));
}

void nb_dnnl_conv_free(nb_dnnl_conv *d)
{
    if (!d) return;
    for (int i = 0; i < N_ARGS; i++) {
        if (d->a[i].mem && d->a[i].mem != d->a[i].plain) dnnl_memory_destroy(d->a[i].mem);
        if (d->a[i].plain) dnnl_memory_destroy(d->a[i].plain);
        if (d->a[i].reorder) dnnl_primitive_destroy(d->a[i].reorder);
    }
    for (int i = 0; i < N_PRIMS; i++) {
        if (d->p[i].prim) dnnl_primitive_destroy(d->p[i].prim);
        if (d->p[i].pad) dnnl_memory_destroy(d->p[i].pad);
    }
    if (d->stream) dnnl_stream_destroy(d->stream);
    if (d->engine) dnnl_engine_destroy(d->engine);
    nb_free(d);
}

/* The three primitive descriptors; backward data only when data. A layout
 * of oneDNN's choice is fastest, except backward data into few channels
 * (an image's first layer), which is far faster in plain NCHW. */
static int make_descs(const nb_conv_geom *c, int bias, int data, dnnl_engine_t engine,
                      const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t pd[N_PRIMS])
{
    dnnl_dims_t xd = {c->n, c->c, c->h, c->w}, wd = {c->f, c->c, c->kh, c->kw}, bd = {c->f};
    dnnl_dims_t yd = {c->n, c->f, c->oh, c->ow}, st = {c->sh, c->sw}, pad = {c->ph, c->pw};
    /* oneDNN wants the right padding that makes its output size exact */
    dnnl_dims_t pr = {(dnnl_dim_t)(c->oh - 1) * c->sh + c->kh - c->h - c->ph,
                      (dnnl_dim_t)(c->ow - 1) * c->sw + c->kw - c->w - c->pw};
    dnnl_memory_desc_t x = plain_md(4, xd, dnnl_format_tag_any);
    dnnl_memory_desc_t w = plain_md(4, wd, dnnl_format_tag_any), b = plain_md(1, bd, dnnl_x);
    dnnl_memory_desc_t y = plain_md(4, yd, dnnl_format_tag_any);
    dnnl_memory_desc_t xp = plain_md(4, xd, dnnl_nchw), wp = plain_md(4, wd, dnnl_oihw);
    dnnl_memory_desc_t yp = plain_md(4, yd, dnnl_nchw);
    dnnl_convolution_desc_t f, bdd, bw;
    if (!ok(dnnl_convolution_forward_desc_init(&f, dnnl_forward_training, dnnl_convolution_direct,
                                               &x, &w, bias ? &b : NULL, &y, st, pad, pr)) ||
        !ok(dnnl_primitive_desc_create(&pd[FWD], &f, attr, engine, NULL)))
        return 0;
    int few = c->c < 16;
    if (data && (!ok(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct,
                                                              few ? &xp : &x, few ? &wp : &w,
                                                              few ? &yp : &y, st, pad, pr)) ||
                 !ok(dnnl_primitive_desc_create(&pd[BWD_DATA], &bdd, attr, engine, pd[FWD]))))
        return 0;
    return ok(dnnl_convolution_backward_weights_desc_init(&bw, dnnl_convolution_direct, &x, &w,
                                                          bias ? &b : NULL, &y, st, pad, pr)) &&
           ok(dnnl_primitive_desc_create(&pd[BWD_W], &bw, attr, engine, pd[FWD]));
}

static int make_all(nb_dnnl_conv *d, const nb_conv_geom *c, dnnl_primitive_desc_t pd[N_PRIMS])
{
    dnnl_dims_t xd = {c->n, c->c, c->h, c->w}, wd = {c->f, c->c, c->kh, c->kw}, bd = {c->f};
    dnnl_dims_t yd = {c->n, c->f, c->oh, c->ow};
    dnnl_memory_desc_t x = plain_md(4, xd, dnnl_nchw), w = plain_md(4, wd, dnnl_oihw);
    dnnl_memory_desc_t b = plain_md(1, bd, dnnl_x), y = plain_md(4, yd, dnnl_nchw);
    size_t top = 0;
    if (!make_prim(d, &d->p[FWD], pd[FWD], &top) ||
        !make_arg(d, &d->a[F_SRC], pd[FWD], dnnl_query_src_md, &x, 0, &top) ||
        !make_arg(d, &d->a[F_W], pd[FWD], dnnl_query_weights_md, &w, 0, &top) ||
        (d->bias && !ok(dnnl_memory_create(&d->a[F_B].plain, &b, d->engine, DNNL_MEMORY_NONE))) ||
        !make_arg(d, &d->a[F_DST], pd[FWD], dnnl_query_dst_md, &y, 1, &top))
        return 0;
    if (d->bias) d->a[F_B].mem = d->a[F_B].plain;
    d->fwd_bytes = top;
    top = 0;
    if (d->data &&
        (!make_prim(d, &d->p[BWD_DATA], pd[BWD_DATA], &top) ||
         !make_arg(d, &d->a[D_DDST], pd[BWD_DATA], dnnl_query_diff_dst_md, &y, 0, &top) ||
         !make_arg(d, &d->a[D_W], pd[BWD_DATA], dnnl_query_weights_md, &w, 0, &top) ||
         !make_arg(d, &d->a[D_DSRC], pd[BWD_DATA], dnnl_query_diff_src_md, &x, 1, &top)))
        return 0;
    if (d->data) d->tmp_dx = take(&top, dnnl_memory_desc_get_size(&x));
    /* backward weights runs after backward data: its scratch starts anew */
    size_t data_top = top;
    top = 0;
    if (!make_prim(d, &d->p[BWD_W], pd[BWD_W], &top) ||
        !make_arg(d, &d->a[W_SRC], pd[BWD_W], dnnl_query_src_md, &x, 0, &top) ||
        !make_arg(d, &d->a[W_DDST], pd[BWD_W], dnnl_query_diff_dst_md, &y, 0, &top) ||
        !make_arg(d, &d->a[W_DW], pd[BWD_W], dnnl_query_diff_weights_md, &w, 1, &top) ||
        (d->bias && !ok(dnnl_memory_create(&d->a[W_DB].plain, &b, d->engine, DNNL_MEMORY_NONE))))
        return 0;
    if (d->bias) d->a[W_DB].mem = d->a[W_DB].plain;
    d->tmp_dw = take(&top, dnnl_memory_desc_get_size(&w));
    d->tmp_db = take(&top, dnnl_memory_desc_get_size(&b));
    d->bwd_bytes = top > data_top ? top : data_top;
    return 1;
}

nb_dnnl_conv *nb_dnnl_conv_create(const nb_conv_geom *c, int bias, int data, size_t *scratch_count)
{
    nb_dnnl_conv *d = nb_malloc(sizeof *d);
    if (!d) return NULL;
    memset(d, 0, sizeof *d);
    d->bias = bias;
    d->data = data;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd[N_PRIMS] = {NULL};
    /* a primitive divides its work (and sizes its scratchpad) for the
     * threads there are when it is made; every call runs on as many, so a
     * result depends on the thread count at compile time only */
    d->threads = nb_get_threads();
    omp_set_num_threads(d->threads);
    int made = ok(dnnl_engine_create(&d->engine, dnnl_cpu, 0)) &&
               ok(dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags)) &&
               ok(dnnl_primitive_attr_create(&attr)) &&
               ok(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) &&
               make_descs(c, bias, data, d->engine, attr, pd) && make_all(d, c, pd);
    for (int i = 0; i < N_PRIMS; i++)
        if (pd[i]) dnnl_primitive_desc_destroy(pd[i]);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!made) {
        nb_dnnl_conv_free(d);
        return NULL;
    }
    size_t bytes = d->fwd_bytes > d->bwd_bytes ? d->fwd_bytes : d->bwd_bytes;
    /* room to align the scratch's start */
    *scratch_count = (bytes + ALIGN) / sizeof(nb_real) + 1;
    return d;
}

static char *aligned(nb_real *scratch)
{
    uintptr_t p = (uintptr_t)scratch;
    return (char *)((p + ALIGN - 1) / ALIGN * ALIGN);
}

static void exec(nb_dnnl_conv *d, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args)
{
    dnnl_primitive_execute(p, d->stream, n, args);
}

/* Point a at nabla's tensor t; when the primitive wants another layout,
 * its copy in the scratch, filled from t unless out (a result). */
static void bind(nb_dnnl_conv *d, dn_arg *a, const nb_real *t, char *base, int out)
{
    dnnl_memory_set_data_handle(a->plain, (void *)t);
    if (a->mem == a->plain) return;
    dnnl_memory_set_data_handle(a->mem, base + a->at);
    if (!out)
        exec(d, a->reorder, 2,
             (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, a->plain}, {DNNL_ARG_TO, a->mem}});
}

/* A result's way back into nabla's layout. */
static void unbind(nb_dnnl_conv *d, dn_arg *a)
{
    if (a->mem != a->plain)
        exec(d, a->reorder, 2,
             (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, a->mem}, {DNNL_ARG_TO, a->plain}});
}

static void pad(dn_prim *p, char *base)
{
    dnnl_memory_set_data_handle(p->pad, base + p->pad_at);
}

void nb_dnnl_conv_forward(nb_dnnl_conv *d, const nb_real *x, const nb_real *w, const nb_real *b,
                          nb_real *y, nb_real *scratch)
{
    char *base = aligned(scratch);
    omp_set_num_threads(d->threads);
    bind(d, &d->a[F_SRC], x, base, 0);
    bind(d, &d->a[F_W], w, base, 0);
    bind(d, &d->a[F_DST], y, base, 1);
    pad(&d->p[FWD], base);
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, d->a[F_SRC].mem},
                              {DNNL_ARG_WEIGHTS, d->a[F_W].mem},
                              {DNNL_ARG_DST, d->a[F_DST].mem},
                              {DNNL_ARG_SCRATCHPAD, d->p[FWD].pad},
                              {DNNL_ARG_BIAS, d->a[F_B].plain}};
    if (d->bias) dnnl_memory_set_data_handle(d->a[F_B].plain, (void *)b);
    exec(d, d->p[FWD].prim, d->bias ? 5 : 4, args);
    unbind(d, &d->a[F_DST]);
    dnnl_stream_wait(d->stream);
}

static void add_into(nb_real *to, const nb_real *from, size_t count)
{
    for (size_t i = 0; i < count; i++) to[i] += from[i];
}

/* Each gradient is written where it may be overwritten, or into the scratch
 * and then added (add_*: its count, 0 to overwrite). */
void nb_dnnl_conv_backward(nb_dnnl_conv *d, const nb_dnnl_grads *gr, nb_real *scratch)
{
    char *base = aligned(scratch);
    omp_set_num_threads(d->threads);
    if (gr->dx && d->data) {
        nb_real *dx = gr->add_dx ? (nb_real *)(base + d->tmp_dx) : gr->dx;
        bind(d, &d->a[D_DDST], gr->dy, base, 0);
        bind(d, &d->a[D_W], gr->w, base, 0);
        bind(d, &d->a[D_DSRC], dx, base, 1);
        pad(&d->p[BWD_DATA], base);
        dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_DST, d->a[D_DDST].mem},
                                  {DNNL_ARG_WEIGHTS, d->a[D_W].mem},
                                  {DNNL_ARG_DIFF_SRC, d->a[D_DSRC].mem},
                                  {DNNL_ARG_SCRATCHPAD, d->p[BWD_DATA].pad}};
        exec(d, d->p[BWD_DATA].prim, 4, args);
        unbind(d, &d->a[D_DSRC]);
        dnnl_stream_wait(d->stream);
        if (gr->add_dx) add_into(gr->dx, dx, gr->add_dx);
    }
    if (!gr->dw && !gr->db) return;
    nb_real *dw = gr->dw && !gr->add_dw ? gr->dw : (nb_real *)(base + d->tmp_dw);
    nb_real *db = gr->db && !gr->add_db ? gr->db : (nb_real *)(base + d->tmp_db);
    bind(d, &d->a[W_SRC], gr->x, base, 0);
    bind(d, &d->a[W_DDST], gr->dy, base, 0);
    bind(d, &d->a[W_DW], dw, base, 1);
    pad(&d->p[BWD_W], base);
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, d->a[W_SRC].mem},
                              {DNNL_ARG_DIFF_DST, d->a[W_DDST].mem},
                              {DNNL_ARG_DIFF_WEIGHTS, d->a[W_DW].mem},
                              {DNNL_ARG_SCRATCHPAD, d->p[BWD_W].pad},
                              {DNNL_ARG_DIFF_BIAS, d->a[W_DB].plain}};
    if (d->bias) dnnl_memory_set_data_handle(d->a[W_DB].plain, db);
    exec(d, d->p[BWD_W].prim, d->bias ? 5 : 4, args);
    unbind(d, &d->a[W_DW]);
    dnnl_stream_wait(d->stream);
    if (gr->dw && gr->add_dw) add_into(gr->dw, dw, gr->add_dw);
    if (gr->db && gr->add_db) add_into(gr->db, db, gr->add_db);
}

#endif
