/* conv2d through oneDNN (built with -DNABLA_DNNL=ON, float only): its
 * convolution primitives run in the blocked layouts they choose, with
 * reorders from and to nabla's NCHW. Everything is made once, when the
 * graph is compiled; a call only points oneDNN's memory objects at the
 * node's tensors and at the node's planned scratch, which holds oneDNN's
 * own scratchpad (user mode) and the blocked copies.
 *
 * The batch is split into parts on nabla's threads (nb_parallel), as the
 * im2col path splits it; each part runs primitives made for its own number
 * of samples on one OpenMP thread, in its own slice of the scratch. OpenMP
 * never runs a team of more than one thread: its waiting threads spin, and
 * on a loaded machine they take the cores the work needs. The parts' dW and
 * db are added in part order, so a result depends on the thread count at
 * compile time only. A call whose primitives fail returns 0 and the op
 * runs im2col instead; nothing is added into a gradient before every part
 * has succeeded. */
#include "conv.h"

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

enum { FWD, BWD_DATA, BWD_W, N_PRIMS };
/* the tensors: forward's src, weights, bias, dst; backward data's diff
 * dst, weights and diff src; backward weights' src, diff dst, diff weights
 * and diff bias */
enum { F_SRC, F_W, F_B, F_DST, D_DDST, D_W, D_DSRC, W_SRC, W_DDST, W_DW, W_DB, N_ARGS };

/* One tensor as a primitive wants it: its layout (md), nabla's (plain),
 * whether they differ, which way a reorder goes (to_plain: a result comes
 * back) and where the blocked copy lies in a part's slice (bytes). */
typedef struct dn_arg {
    dnnl_memory_desc_t md, plain;
    int used, blocked, to_plain;
    size_t at;
} dn_arg;

/* The primitives for one part size (samples per part). */
typedef struct dn_set {
    int n;
    dnnl_primitive_t prim[N_PRIMS];
    dnnl_memory_desc_t pad_md[N_PRIMS];
    size_t pad_at[N_PRIMS];
    dn_arg a[N_ARGS];
    size_t tmp_dx, tmp_dw, tmp_db; /* backward: results to add afterwards */
    size_t bytes;                  /* the slice a part of this size uses */
} dn_set;

/* One part's own objects: a stream, memory objects pointed at its tensors
 * and its slice, and the reorders (made per part: a reorder may keep a
 * scratchpad of its own, which concurrent calls must not share). */
typedef struct dn_part {
    const dn_set *set;
    int first; /* its first sample */
    size_t at; /* its slice in the scratch */
    dnnl_stream_t stream;
    dnnl_memory_t mem[N_ARGS], plain[N_ARGS], pad[N_PRIMS];
    dnnl_primitive_t reorder[N_ARGS];
    int ok; /* the last call's outcome */
} dn_part;

/* Near-equal runs of samples give at most two part sizes. */
#define N_SETS 2

struct nb_dnnl_conv {
    dnnl_engine_t engine;
    nb_conv_geom c;
    int bias, data, n_sets, parts;
    dn_set sets[N_SETS];
    dn_part part[NB_CONV_MAX_PARTS];
    size_t slice; /* bytes per part */
};

#define ALIGN 64

/* Test hook: execute calls left before every one fails (-1: none fails). */
static atomic_int fail_after = -1;

int nb_dnnl_conv_fail_after(int calls)
{
    return atomic_exchange(&fail_after, calls);
}

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

/* nabla's layouts for n samples: x, w, b, y. */
static void plain_mds(const nb_conv_geom *c, int n, dnnl_memory_desc_t md[4])
{
    dnnl_dims_t xd = {n, c->c, c->h, c->w}, wd = {c->f, c->c, c->kh, c->kw}, bd = {c->f};
    dnnl_dims_t yd = {n, c->f, c->oh, c->ow};
    md[0] = plain_md(4, xd, dnnl_nchw);
    md[1] = plain_md(4, wd, dnnl_oihw);
    md[2] = plain_md(1, bd, dnnl_x);
    md[3] = plain_md(4, yd, dnnl_nchw);
}

/* Tensor a as the primitive's query q describes it (to_plain: the
 * primitive's result goes back into nabla's layout). */
static int set_arg(dn_arg *a, const_dnnl_primitive_desc_t pd, dnnl_query_t q,
                   const dnnl_memory_desc_t *plain, int to_plain, size_t *top)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q, 0);
    if (!md) return 0;
    a->md = *md;
    a->plain = *plain;
    a->used = 1;
    a->to_plain = to_plain;
    a->blocked = !dnnl_memory_desc_equal(md, plain);
    if (a->blocked) a->at = take(top, dnnl_memory_desc_get_size(md));
    return 1;
}

/* Bias and diff bias: always nabla's layout. */
static void plain_arg(dn_arg *a, const dnnl_memory_desc_t *plain)
{
    a->md = a->plain = *plain;
    a->used = 1;
}

static int set_prim(dn_set *s, int i, const_dnnl_primitive_desc_t pd, size_t *top)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (!md || !ok(dnnl_primitive_create(&s->prim[i], pd))) return 0;
    s->pad_md[i] = *md;
    s->pad_at[i] = take(top, dnnl_memory_desc_get_size(md));
    return 1;
}

/* The three primitive descriptors for n samples; backward data only when
 * data. A layout of oneDNN's choice is fastest, except backward data into
 * few channels (an image's first layer), which is far faster in plain
 * NCHW. */
static int make_descs(const nb_conv_geom *c, int n, int bias, int data, dnnl_engine_t engine,
                      const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t pd[N_PRIMS])
{
    dnnl_dims_t xd = {n, c->c, c->h, c->w}, wd = {c->f, c->c, c->kh, c->kw}, bd = {c->f};
    dnnl_dims_t yd = {n, c->f, c->oh, c->ow}, st = {c->sh, c->sw}, pad = {c->ph, c->pw};
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

/* Set s's primitives and the layout of its slice: forward's, and
 * backward's (the results to add first, as they must outlive both
 * passes; then backward data's, then backward weights' over the same
 * bytes). */
static int fill_set(dn_set *s, const nb_conv_geom *c, int bias, int data,
                    dnnl_primitive_desc_t pd[N_PRIMS])
{
    dnnl_memory_desc_t md[4];
    plain_mds(c, s->n, md);
    size_t top = 0;
    if (!set_prim(s, FWD, pd[FWD], &top) ||
        !set_arg(&s->a[F_SRC], pd[FWD], dnnl_query_src_md, &md[0], 0, &top) ||
        !set_arg(&s->a[F_W], pd[FWD], dnnl_query_weights_md, &md[1], 0, &top) ||
        !set_arg(&s->a[F_DST], pd[FWD], dnnl_query_dst_md, &md[3], 1, &top))
        return 0;
    size_t fwd = top;
    top = 0;
    s->tmp_dx = take(&top, data ? dnnl_memory_desc_get_size(&md[0]) : 0);
    s->tmp_dw = take(&top, dnnl_memory_desc_get_size(&md[1]));
    s->tmp_db = take(&top, dnnl_memory_desc_get_size(&md[2]));
    size_t kept = top;
    if (data && (!set_prim(s, BWD_DATA, pd[BWD_DATA], &top) ||
                 !set_arg(&s->a[D_DDST], pd[BWD_DATA], dnnl_query_diff_dst_md, &md[3], 0, &top) ||
                 !set_arg(&s->a[D_W], pd[BWD_DATA], dnnl_query_weights_md, &md[1], 0, &top) ||
                 !set_arg(&s->a[D_DSRC], pd[BWD_DATA], dnnl_query_diff_src_md, &md[0], 1, &top)))
        return 0;
    size_t data_top = top;
    top = kept;
    if (!set_prim(s, BWD_W, pd[BWD_W], &top) ||
        !set_arg(&s->a[W_SRC], pd[BWD_W], dnnl_query_src_md, &md[0], 0, &top) ||
        !set_arg(&s->a[W_DDST], pd[BWD_W], dnnl_query_diff_dst_md, &md[3], 0, &top) ||
        !set_arg(&s->a[W_DW], pd[BWD_W], dnnl_query_diff_weights_md, &md[1], 1, &top))
        return 0;
    if (bias) {
        plain_arg(&s->a[F_B], &md[2]);
        plain_arg(&s->a[W_DB], &md[2]);
    }
    size_t bwd = top > data_top ? top : data_top;
    s->bytes = fwd > bwd ? fwd : bwd;
    return 1;
}

/* The primitives for parts of n samples, made for one thread. */
static int make_set(nb_dnnl_conv *d, dn_set *s, int n)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd[N_PRIMS] = {NULL};
    s->n = n;
    int made = ok(dnnl_primitive_attr_create(&attr)) &&
               ok(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) &&
               make_descs(&d->c, n, d->bias, d->data, d->engine, attr, pd) &&
               fill_set(s, &d->c, d->bias, d->data, pd);
    for (int i = 0; i < N_PRIMS; i++)
        if (pd[i]) dnnl_primitive_desc_destroy(pd[i]);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return made;
}

/* Part p's memory objects and reorders for its set. */
static int make_part(nb_dnnl_conv *d, dn_part *p)
{
    const dn_set *s = p->set;
    if (!ok(dnnl_stream_create(&p->stream, d->engine, dnnl_stream_default_flags))) return 0;
    for (int i = 0; i < N_PRIMS; i++)
        if (s->prim[i] &&
            !ok(dnnl_memory_create(&p->pad[i], &s->pad_md[i], d->engine, DNNL_MEMORY_NONE)))
            return 0;
    for (int i = 0; i < N_ARGS; i++) {
        const dn_arg *a = &s->a[i];
        if (!a->used) continue;
        if (!ok(dnnl_memory_create(&p->plain[i], &a->plain, d->engine, DNNL_MEMORY_NONE))) return 0;
        if (!a->blocked) {
            p->mem[i] = p->plain[i];
            continue;
        }
        if (!ok(dnnl_memory_create(&p->mem[i], &a->md, d->engine, DNNL_MEMORY_NONE))) return 0;
        const dnnl_memory_desc_t *from = a->to_plain ? &a->md : &a->plain;
        const dnnl_memory_desc_t *to = a->to_plain ? &a->plain : &a->md;
        dnnl_primitive_desc_t rpd;
        if (!ok(dnnl_reorder_primitive_desc_create(&rpd, from, d->engine, to, d->engine, NULL)))
            return 0;
        int made = ok(dnnl_primitive_create(&p->reorder[i], rpd));
        dnnl_primitive_desc_destroy(rpd);
        if (!made) return 0;
    }
    return 1;
}

void nb_dnnl_conv_free(nb_dnnl_conv *d)
{
    if (!d) return;
    for (int k = 0; k < d->parts; k++) {
        dn_part *p = &d->part[k];
        for (int i = 0; i < N_ARGS; i++) {
            if (p->mem[i] && p->mem[i] != p->plain[i]) dnnl_memory_destroy(p->mem[i]);
            if (p->plain[i]) dnnl_memory_destroy(p->plain[i]);
            if (p->reorder[i]) dnnl_primitive_destroy(p->reorder[i]);
        }
        for (int i = 0; i < N_PRIMS; i++)
            if (p->pad[i]) dnnl_memory_destroy(p->pad[i]);
        if (p->stream) dnnl_stream_destroy(p->stream);
    }
    for (int k = 0; k < d->n_sets; k++)
        for (int i = 0; i < N_PRIMS; i++)
            if (d->sets[k].prim[i]) dnnl_primitive_destroy(d->sets[k].prim[i]);
    if (d->engine) dnnl_engine_destroy(d->engine);
    nb_free(d);
}

/* Samples [first, first + count) of part p: the batch in near-equal runs,
 * as the im2col path splits it. */
static void part_range(int n, int parts, int p, int *first, int *count)
{
    *first = (int)((long long)n * p / parts);
    *count = (int)((long long)n * (p + 1) / parts) - *first;
}

/* The set for parts of n samples, made when there is none yet. */
static dn_set *set_for(nb_dnnl_conv *d, int n)
{
    for (int k = 0; k < d->n_sets; k++)
        if (d->sets[k].n == n) return &d->sets[k];
    if (d->n_sets == N_SETS) return NULL;
    dn_set *s = &d->sets[d->n_sets++];
    return make_set(d, s, n) ? s : NULL;
}

static int make_parts(nb_dnnl_conv *d)
{
    for (int k = 0; k < d->parts; k++) {
        int count;
        part_range(d->c.n, d->parts, k, &d->part[k].first, &count);
        if (!(d->part[k].set = set_for(d, count))) return 0;
    }
    d->slice = 0;
    for (int k = 0; k < d->n_sets; k++)
        if (d->sets[k].bytes > d->slice) d->slice = d->sets[k].bytes;
    d->slice = (d->slice + ALIGN - 1) / ALIGN * ALIGN;
    for (int k = 0; k < d->parts; k++) {
        d->part[k].at = (size_t)k * d->slice;
        if (!make_part(d, &d->part[k])) return 0;
    }
    return 1;
}

nb_dnnl_conv *nb_dnnl_conv_create(const nb_conv_geom *c, int parts, int bias, int data,
                                  size_t *scratch_count)
{
    if (parts < 1 || parts > NB_CONV_MAX_PARTS || parts > c->n) return NULL;
    nb_dnnl_conv *d = nb_malloc(sizeof *d);
    if (!d) return NULL;
    memset(d, 0, sizeof *d);
    d->c = *c;
    d->bias = bias;
    d->data = data;
    d->parts = parts;
    /* a primitive divides its work (and sizes its scratchpad) for the
     * OpenMP threads there are when it is made: one, as in every call */
    omp_set_num_threads(1);
    if (!ok(dnnl_engine_create(&d->engine, dnnl_cpu, 0)) || !make_parts(d)) {
        nb_dnnl_conv_free(d);
        return NULL;
    }
    size_t bytes = (size_t)parts * d->slice;
    /* room to align the scratch's start */
    *scratch_count = (bytes + ALIGN) / sizeof(nb_real) + 1;
    return d;
}

static char *aligned(nb_real *scratch)
{
    uintptr_t p = (uintptr_t)scratch;
    return (char *)((p + ALIGN - 1) / ALIGN * ALIGN);
}

/* One primitive's call; 0 when oneDNN reports a failure (or the test hook
 * makes one). */
static int exec(dn_part *p, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
    int left = atomic_load(&fail_after);
    while (left > 0 && !atomic_compare_exchange_weak(&fail_after, &left, left - 1)) continue;
    return left != 0 && ok(dnnl_primitive_execute(prim, p->stream, n, args));
}

/* Point tensor i at t; when the primitive wants another layout, at its
 * copy in the slice, filled from t unless out (a result). */
static int bind(dn_part *p, int i, const nb_real *t, char *slice, int out)
{
    const dn_arg *a = &p->set->a[i];
    if (!ok(dnnl_memory_set_data_handle(p->plain[i], (void *)t))) return 0;
    if (!a->blocked) return 1;
    return ok(dnnl_memory_set_data_handle(p->mem[i], slice + a->at)) &&
           (out ||
            exec(p, p->reorder[i], 2,
                 (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, p->plain[i]}, {DNNL_ARG_TO, p->mem[i]}}));
}

/* A result's way back into nabla's layout. */
static int unbind(dn_part *p, int i)
{
    if (!p->set->a[i].blocked) return 1;
    return exec(p, p->reorder[i], 2,
                (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, p->mem[i]}, {DNNL_ARG_TO, p->plain[i]}});
}

static int run(dn_part *p, int prim, dnnl_exec_arg_t *args, int n, char *slice)
{
    return ok(dnnl_memory_set_data_handle(p->pad[prim], slice + p->set->pad_at[prim])) &&
           exec(p, p->set->prim[prim], n, args);
}

/* What every part of one call shares. */
typedef struct dn_call {
    nb_dnnl_conv *d;
    const nb_real *x, *w, *b;
    nb_real *y;
    const nb_dnnl_grads *gr;
    char *base;
} dn_call;

static void forward_part(void *ctx, int k)
{
    const dn_call *call = ctx;
    const nb_conv_geom *c = &call->d->c;
    dn_part *p = &call->d->part[k];
    char *slice = call->base + p->at;
    omp_set_num_threads(1);
    size_t in = (size_t)c->c * c->h * c->w, out = (size_t)c->f * c->oh * c->ow;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p->mem[F_SRC]},
                              {DNNL_ARG_WEIGHTS, p->mem[F_W]},
                              {DNNL_ARG_DST, p->mem[F_DST]},
                              {DNNL_ARG_SCRATCHPAD, p->pad[FWD]},
                              {DNNL_ARG_BIAS, p->plain[F_B]}};
    p->ok = bind(p, F_SRC, call->x + (size_t)p->first * in, slice, 0) &&
            bind(p, F_W, call->w, slice, 0) &&
            bind(p, F_DST, call->y + (size_t)p->first * out, slice, 1) &&
            (!call->d->bias || ok(dnnl_memory_set_data_handle(p->plain[F_B], (void *)call->b))) &&
            run(p, FWD, args, call->d->bias ? 5 : 4, slice) && unbind(p, F_DST) &&
            ok(dnnl_stream_wait(p->stream));
}

static int all_ok(const nb_dnnl_conv *d)
{
    for (int k = 0; k < d->parts; k++)
        if (!d->part[k].ok) return 0;
    return 1;
}

int nb_dnnl_conv_forward(nb_dnnl_conv *d, const nb_real *x, const nb_real *w, const nb_real *b,
                         nb_real *y, nb_real *scratch)
{
    dn_call call = {.d = d, .x = x, .w = w, .b = b, .y = y, .base = aligned(scratch)};
    nb_parallel(d->parts, forward_part, &call);
    return all_ok(d);
}

/* Where part p writes dx, dW and db: straight into the gradient when it
 * is overwritten (dW and db: part 0 only), else into its slice. */
static nb_real *dx_of(const dn_call *call, const dn_part *p, char *slice)
{
    const nb_conv_geom *c = &call->d->c;
    if (call->gr->add_dx) return (nb_real *)(slice + p->set->tmp_dx);
    return call->gr->dx + (size_t)p->first * c->c * c->h * c->w;
}

static int direct(const dn_call *call, const dn_part *p, size_t add)
{
    return p == &call->d->part[0] && !add;
}

static int data_part(const dn_call *call, dn_part *p, char *slice)
{
    const nb_dnnl_grads *gr = call->gr;
    const nb_conv_geom *c = &call->d->c;
    size_t out = (size_t)c->f * c->oh * c->ow;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_DST, p->mem[D_DDST]},
                              {DNNL_ARG_WEIGHTS, p->mem[D_W]},
                              {DNNL_ARG_DIFF_SRC, p->mem[D_DSRC]},
                              {DNNL_ARG_SCRATCHPAD, p->pad[BWD_DATA]}};
    return bind(p, D_DDST, gr->dy + (size_t)p->first * out, slice, 0) &&
           bind(p, D_W, gr->w, slice, 0) && bind(p, D_DSRC, dx_of(call, p, slice), slice, 1) &&
           run(p, BWD_DATA, args, 4, slice) && unbind(p, D_DSRC) && ok(dnnl_stream_wait(p->stream));
}

static int weights_part(const dn_call *call, dn_part *p, char *slice)
{
    const nb_dnnl_grads *gr = call->gr;
    const nb_conv_geom *c = &call->d->c;
    size_t in = (size_t)c->c * c->h * c->w, out = (size_t)c->f * c->oh * c->ow;
    nb_real *dw =
        direct(call, p, gr->add_dw) && gr->dw ? gr->dw : (nb_real *)(slice + p->set->tmp_dw);
    nb_real *db =
        direct(call, p, gr->add_db) && gr->db ? gr->db : (nb_real *)(slice + p->set->tmp_db);
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p->mem[W_SRC]},
                              {DNNL_ARG_DIFF_DST, p->mem[W_DDST]},
                              {DNNL_ARG_DIFF_WEIGHTS, p->mem[W_DW]},
                              {DNNL_ARG_SCRATCHPAD, p->pad[BWD_W]},
                              {DNNL_ARG_DIFF_BIAS, p->plain[W_DB]}};
    return bind(p, W_SRC, gr->x + (size_t)p->first * in, slice, 0) &&
           bind(p, W_DDST, gr->dy + (size_t)p->first * out, slice, 0) &&
           bind(p, W_DW, dw, slice, 1) &&
           (!call->d->bias || ok(dnnl_memory_set_data_handle(p->plain[W_DB], db))) &&
           run(p, BWD_W, args, call->d->bias ? 5 : 4, slice) && unbind(p, W_DW) &&
           ok(dnnl_stream_wait(p->stream));
}

static void backward_part(void *ctx, int k)
{
    const dn_call *call = ctx;
    dn_part *p = &call->d->part[k];
    char *slice = call->base + p->at;
    omp_set_num_threads(1);
    p->ok = (!call->gr->dx || !call->d->data || data_part(call, p, slice)) &&
            ((!call->gr->dw && !call->gr->db) || weights_part(call, p, slice));
}

static void add_into(nb_real *to, const nb_real *from, size_t count)
{
    for (size_t i = 0; i < count; i++) to[i] += from[i];
}

/* The results kept in the slices, added in part order: dx's own samples,
 * dW and db every part's. */
static void add_parts(const dn_call *call)
{
    const nb_dnnl_conv *d = call->d;
    const nb_dnnl_grads *gr = call->gr;
    size_t in = (size_t)d->c.c * d->c.h * d->c.w, dw = (size_t)d->c.f * d->c.c * d->c.kh * d->c.kw;
    for (int k = 0; k < d->parts; k++) {
        const dn_part *p = &d->part[k];
        char *slice = call->base + p->at;
        if (gr->dx && d->data && gr->add_dx)
            add_into(gr->dx + (size_t)p->first * in, (nb_real *)(slice + p->set->tmp_dx),
                     (size_t)p->set->n * in);
        if (gr->dw && !direct(call, p, gr->add_dw))
            add_into(gr->dw, (nb_real *)(slice + p->set->tmp_dw), dw);
        if (gr->db && !direct(call, p, gr->add_db))
            add_into(gr->db, (nb_real *)(slice + p->set->tmp_db), (size_t)d->c.f);
    }
}

int nb_dnnl_conv_backward(nb_dnnl_conv *d, const nb_dnnl_grads *gr, nb_real *scratch)
{
    dn_call call = {.d = d, .gr = gr, .base = aligned(scratch)};
    nb_parallel(d->parts, backward_part, &call);
    if (!all_ok(d)) return 0;
    add_parts(&call);
    return 1;
}

#endif
