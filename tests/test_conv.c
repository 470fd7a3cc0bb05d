/* Convolution and pooling: forwards against a direct convolution and hand-
 * computed windows written here, backwards against central differences
 * (nb_gradcheck) through L = sum(y * R) + sum over the parameters of
 * sum(p * V) (a second consumer, so an op that overwrote an input's
 * gradient would fail), shape and attribute errors, the shared scratch
 * region, and steps that allocate nothing. */
#include "check.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
#include <oneapi/dnnl/dnnl.h>
#endif

#ifdef NABLA_DOUBLE
/* L is linear in each single element these ops see (a convolution is
 * bilinear, pooling piecewise linear with every pair of values 0.05 apart),
 * so a central difference has no truncation error and a larger step only
 * shrinks the rounding error, ~1e-16 |L| / eps. */
#define GC_EPS      1e-4
#define GC_CONV_EPS 1e-4
#define GC_BOUND    1e-6
#else
/* In float that rounding error, ~6e-8 |L| / eps, is what the bound has to
 * hold. A convolution is linear in each element with no window to stay
 * inside, so its check takes a step 25 times larger than pooling's (whose
 * values are 0.05 apart); with 1e-2 the x gradient of a 3x3 same-padded
 * convolution came within 0.03 of its bound through oneDNN, whose sums
 * round differently from im2col's. */
#define GC_EPS      1e-2
#define GC_CONV_EPS 0.25
#define GC_BOUND    2e-2
#endif

/* ------------------------------------------------------------ harness */

typedef struct conv_case {
    int n, c, h, w, f, kh, kw, sh, sw, ph, pw;
    int bias;
    int only_consumer; /* no second consumer: w and b gradients written outright */
    int threads;       /* nb_set_threads for the case (0: leave) */
} conv_case;

static double worst_conv = -1, worst_max = -1, worst_avg = -1, worst_global = -1;

static nb_real *draw(nb_rng *rng, size_t n, double lo, double hi)
{
    nb_real *v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = (nb_real)(lo + (hi - lo) * nb_rng_uniform(rng));
    return v;
}

/* A parameter holding values (set after compile by set_params). */
typedef struct leafv {
    nb_node node;
    nb_real *v;
    size_t count;
} leafv;

static void set_params(nb_graph *g, const leafv *l, int n)
{
    for (int i = 0; i < n; i++)
        memcpy(nb_node_value(g, l[i].node), l[i].v, l[i].count * sizeof *l[i].v);
}

/* L = sum(y * R) (+ sum(p * V) per parameter unless only_consumer), then
 * the gradient check of every parameter; returns the worst relative error. */
static double gradcheck_node(nb_graph *g, nb_rng *rng, nb_node y, leafv *l, int n_leaves,
                             int only_consumer, double eps)
{
    size_t ny = nb_shape_count(nb_node_shape(g, y));
    nb_real *r = draw(rng, ny, 0.3, 1.5);
    nb_node loss = nb_sum(g, nb_mul(g, y, nb_constant(g, "r", nb_node_shape(g, y), r)));
    free(r);
    for (int i = 0; i < n_leaves && !only_consumer; i++) {
        nb_real *v = draw(rng, l[i].count, -1, 1);
        nb_node vn = nb_constant(g, NULL, nb_node_shape(g, l[i].node), v);
        free(v);
        loss = nb_add(g, loss, nb_sum(g, nb_mul(g, l[i].node, vn)));
    }
    if (loss == NB_NONE) fail_msg("building the loss: %s", nb_last_error());
    assert_ok(nb_graph_compile(g));
    set_params(g, l, n_leaves);
    nb_gradcheck_entry e[4];
    int count = 0;
    assert_ok(nb_gradcheck(g, loss, eps, e, 4, &count));
    assert_int_equal(count, n_leaves);
    double worst = 0;
    for (int i = 0; i < count; i++) {
        if (!(e[i].max_rel <= GC_BOUND))
            fail_msg("gradient of \"%s\": relative error %g > %g", e[i].name, e[i].max_rel,
                     GC_BOUND);
        if (e[i].max_rel > worst) worst = e[i].max_rel;
    }
    return worst;
}

/* The direct convolution: seven loops, in double. */
static double *direct_conv(const conv_case *k, const nb_real *x, const nb_real *w, const nb_real *b,
                           int oh, int ow)
{
    double *y = calloc((size_t)k->n * k->f * oh * ow, sizeof *y);
    assert_non_null(y);
    for (int n = 0; n < k->n; n++)
        for (int f = 0; f < k->f; f++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    double s = b ? b[f] : 0;
                    for (int c = 0; c < k->c; c++)
                        for (int u = 0; u < k->kh; u++)
                            for (int v = 0; v < k->kw; v++) {
                                int iy = i * k->sh - k->ph + u, ix = j * k->sw - k->pw + v;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w) continue;
                                s += (double)w[((f * k->c + c) * k->kh + u) * k->kw + v] *
                                     x[((n * k->c + c) * k->h + iy) * k->w + ix];
                            }
                    y[((n * k->f + f) * oh + i) * ow + j] = s;
                }
    return y;
}

static nb_node conv_node(nb_graph *g, const conv_case *k, nb_node x, nb_node w, nb_node b)
{
    int64_t s[2] = {k->sh, k->sw}, p[2] = {k->ph, k->pw};
    nb_attr a[2] = {nb_attr_ints("stride", 2, s), nb_attr_ints("pad", 2, p)};
    nb_node in[3] = {x, w, b};
    return nb_apply_attrs(g, "conv2d", "conv", k->bias ? 3 : 2, in, 2, a);
}

static void run_conv(const conv_case *k)
{
    int saved = nb_get_threads();
    if (k->threads) assert_ok(nb_set_threads(k->threads));
    nb_rng rng;
    nb_rng_seed(&rng, (uint64_t)(k->n * 1000 + k->kh * 100 + k->kw * 10 + k->sh));
    nb_graph *g = nb_graph_create();
    nb_shape sx = nb_shape4(k->n, k->c, k->h, k->w), sw = nb_shape4(k->f, k->c, k->kh, k->kw);
    leafv l[3] = {{nb_param(g, "x", sx, nb_init_zeros()), draw(&rng, nb_shape_count(sx), -1, 1),
                   nb_shape_count(sx)},
                  {nb_param(g, "w", sw, nb_init_zeros()), draw(&rng, nb_shape_count(sw), -1, 1),
                   nb_shape_count(sw)},
                  {k->bias ? nb_param(g, "b", nb_shape1(k->f), nb_init_zeros()) : NB_NONE,
                   draw(&rng, (size_t)k->f, -1, 1), (size_t)k->f}};
    nb_node y = conv_node(g, k, l[0].node, l[1].node, l[2].node);
    if (y == NB_NONE) fail_msg("conv2d: %s", nb_last_error());
    int oh = (k->h + 2 * k->ph - k->kh) / k->sh + 1, ow = (k->w + 2 * k->pw - k->kw) / k->sw + 1;
    nb_shape want_shape = nb_shape4(k->n, k->f, oh, ow);
    assert_true(nb_shape_equal(nb_node_shape(g, y), want_shape));
    double worst = gradcheck_node(g, &rng, y, l, k->bias ? 3 : 2, k->only_consumer, GC_CONV_EPS);
    if (worst > worst_conv) worst_conv = worst;
    /* the forward against the direct convolution */
    set_params(g, l, k->bias ? 3 : 2);
    assert_ok(nb_graph_forward(g));
    double *want = direct_conv(k, l[0].v, l[1].v, k->bias ? l[2].v : NULL, oh, ow);
    const nb_real *got = nb_node_value(g, y);
    for (size_t i = 0; i < nb_shape_count(want_shape); i++)
        check_near(got[i], want[i], TOL * 10, "conv2d value", __LINE__);
    free(want);
    for (int i = 0; i < 3; i++) free(l[i].v);
    nb_graph_free(g);
    assert_ok(nb_set_threads(saved));
}

/* ------------------------------------------------------- conv2d cases */

static void test_conv_same_padding_bias(void **state)
{
    (void)state;
    run_conv(&(conv_case){.n = 2,
                          .c = 3,
                          .h = 5,
                          .w = 6,
                          .f = 4,
                          .kh = 3,
                          .kw = 3,
                          .sh = 1,
                          .sw = 1,
                          .ph = 1,
                          .pw = 1,
                          .bias = 1});
}

static void test_conv_stride2_no_bias_non_square(void **state)
{
    (void)state;
    run_conv(&(conv_case){.n = 3,
                          .c = 2,
                          .h = 7,
                          .w = 8,
                          .f = 3,
                          .kh = 2,
                          .kw = 3,
                          .sh = 2,
                          .sw = 2,
                          .ph = 0,
                          .pw = 0,
                          .bias = 0});
}

static void test_conv_per_axis_stride_pad(void **state)
{
    (void)state;
    run_conv(&(conv_case){.n = 2,
                          .c = 2,
                          .h = 6,
                          .w = 5,
                          .f = 2,
                          .kh = 3,
                          .kw = 2,
                          .sh = 2,
                          .sw = 1,
                          .ph = 1,
                          .pw = 2,
                          .bias = 1});
}

static void test_conv_one_by_one(void **state)
{
    (void)state;
    run_conv(&(conv_case){
        .n = 2, .c = 3, .h = 3, .w = 4, .f = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .bias = 1});
}

/* w and b consumed by the convolution alone: their gradients are written,
 * not added (grad_overwrite), and x's too when it is a parameter. */
static void test_conv_only_consumer(void **state)
{
    (void)state;
    run_conv(&(conv_case){.n = 3,
                          .c = 2,
                          .h = 5,
                          .w = 5,
                          .f = 3,
                          .kh = 3,
                          .kw = 2,
                          .sh = 1,
                          .sw = 2,
                          .ph = 1,
                          .pw = 0,
                          .bias = 1,
                          .only_consumer = 1});
}

/* The batch split over threads (parts summed in order). */
static void test_conv_threads(void **state)
{
    (void)state;
    run_conv(&(conv_case){.n = 5,
                          .c = 2,
                          .h = 6,
                          .w = 6,
                          .f = 3,
                          .kh = 3,
                          .kw = 3,
                          .sh = 1,
                          .sw = 1,
                          .ph = 1,
                          .pw = 1,
                          .bias = 1,
                          .threads = 3});
    run_conv(&(conv_case){.n = 5,
                          .c = 2,
                          .h = 6,
                          .w = 6,
                          .f = 3,
                          .kh = 3,
                          .kw = 3,
                          .sh = 2,
                          .sw = 1,
                          .ph = 0,
                          .pw = 1,
                          .bias = 1,
                          .threads = 2,
                          .only_consumer = 1});
}

/* ------------------------------------------- oneDNN against im2col */

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
#include "ops/conv.h"

/* A convolution's value and gradients (NULL where none flows). */
typedef struct conv_run {
    nb_real *y, *dx, *dw, *db;
} conv_run;

static nb_real *copy_of(const nb_real *v, size_t count)
{
    if (!v) return NULL;
    nb_real *c = malloc(count * sizeof *c);
    assert_non_null(c);
    memcpy(c, v, count * sizeof *c);
    return c;
}

/* The oneDNN calls that succeed in conv_pass before every later one fails
 * (-1: none fails). */
static int dnnl_calls_ok = -1;

/* Case k compiled with oneDNN's primitives or im2col (dnnl), on the same
 * values: x (an input without gradient when no_dx), w and b; the loss of
 * gradcheck_node, its weights drawn from the same seed either way. */
static conv_run conv_pass(const conv_case *k, int dnnl, int no_dx, nb_real *const v[3])
{
    int was = nb_conv_use_dnnl(dnnl), saved = nb_get_threads();
    if (k->threads) assert_ok(nb_set_threads(k->threads));
    nb_graph *g = nb_graph_create();
    nb_shape sx = nb_shape4(k->n, k->c, k->h, k->w), sw = nb_shape4(k->f, k->c, k->kh, k->kw);
    nb_node x = no_dx ? nb_input(g, "x", sx) : nb_param(g, "x", sx, nb_init_zeros());
    nb_node p[3] = {x, nb_param(g, "w", sw, nb_init_zeros()),
                    k->bias ? nb_param(g, "b", nb_shape1(k->f), nb_init_zeros()) : NB_NONE};
    size_t count[3] = {nb_shape_count(sx), nb_shape_count(sw), (size_t)k->f};
    nb_node y = conv_node(g, k, p[0], p[1], p[2]);
    nb_shape sy = nb_node_shape(g, y);
    size_t ny = nb_shape_count(sy);
    nb_rng rng;
    nb_rng_seed(&rng, 77);
    nb_real *r = draw(&rng, ny, 0.3, 1.5);
    nb_node loss = nb_sum(g, nb_mul(g, y, nb_constant(g, "r", sy, r)));
    free(r);
    for (int i = no_dx; i < (k->bias ? 3 : 2) && !k->only_consumer; i++) {
        nb_real *vv = draw(&rng, count[i], -1, 1);
        loss = nb_add(g, loss,
                      nb_sum(g, nb_mul(g, p[i], nb_constant(g, NULL, nb_node_shape(g, p[i]), vv))));
        free(vv);
    }
    if (loss == NB_NONE) fail_msg("building the loss: %s", nb_last_error());
    assert_ok(nb_graph_compile(g));
    /* the path asked for is the path taken */
    assert_int_equal(g->nodes[y].op_state != NULL, dnnl);
    if (no_dx)
        assert_ok(nb_graph_feed(g, x, v[0], count[0]));
    else
        memcpy(nb_node_value(g, x), v[0], count[0] * sizeof *v[0]);
    for (int i = 1; i < (k->bias ? 3 : 2); i++)
        memcpy(nb_node_value(g, p[i]), v[i], count[i] * sizeof *v[i]);
    /* twice: a second step's gradients are the same (nothing left over) */
    int fail_was = nb_dnnl_conv_fail_after(dnnl_calls_ok);
    for (int step = 0; step < 2; step++) {
        assert_ok(nb_graph_forward(g));
        assert_ok(nb_graph_backward(g, loss));
    }
    nb_dnnl_conv_fail_after(fail_was);
    conv_run out = {copy_of(nb_node_value(g, y), ny),
                    no_dx ? NULL : copy_of(nb_node_grad(g, x), count[0]),
                    copy_of(nb_node_grad(g, p[1]), count[1]),
                    k->bias ? copy_of(nb_node_grad(g, p[2]), count[2]) : NULL};
    nb_graph_free(g);
    assert_ok(nb_set_threads(saved));
    nb_conv_use_dnnl(was);
    return out;
}

/* max |a - b| / max |b| over a tensor: float rounding in sums of up to
 * C*KH*KW (or N*OH*OW) terms in another order stays far below 1e-5; a
 * wrong index, layout or padding is off by the order of the values. */
static double tensor_rel(const nb_real *a, const nb_real *b, size_t count)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < count; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

#define PATHS_BOUND 1e-5

static void compare_paths(const conv_case *k, int no_dx)
{
    nb_rng rng;
    nb_rng_seed(&rng, (uint64_t)(k->c * 100 + k->f));
    size_t count[3] = {(size_t)k->n * k->c * k->h * k->w, (size_t)k->f * k->c * k->kh * k->kw,
                       (size_t)k->f};
    nb_real *v[3];
    for (int i = 0; i < 3; i++) v[i] = draw(&rng, count[i], -1, 1);
    conv_run a = conv_pass(k, 1, no_dx, v), b = conv_pass(k, 0, no_dx, v);
    int oh = (k->h + 2 * k->ph - k->kh) / k->sh + 1, ow = (k->w + 2 * k->pw - k->kw) / k->sw + 1;
    const char *names[4] = {"y", "dx", "dw", "db"};
    const nb_real *got[4] = {a.y, a.dx, a.dw, a.db}, *want[4] = {b.y, b.dx, b.dw, b.db};
    size_t n[4] = {(size_t)k->n * k->f * oh * ow, count[0], count[1], count[2]};
    for (int i = 0; i < 4; i++) {
        assert_true((got[i] == NULL) == (want[i] == NULL));
        if (!got[i]) continue;
        double rel = tensor_rel(got[i], want[i], n[i]);
        if (!(rel <= PATHS_BOUND))
            fail_msg("C=%d F=%d %dx%d stride %dx%d pad %dx%d: oneDNN's %s differs from "
                     "im2col's by %g of its largest value (bound %g)",
                     k->c, k->f, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw, names[i], rel,
                     PATHS_BOUND);
        free((void *)got[i]);
        free((void *)want[i]);
    }
    for (int i = 0; i < 3; i++) free(v[i]);
}

/* oneDNN's forward and every gradient against im2col's, which the gradient
 * checks above hold: few channels (plain layouts) and many (blocked),
 * stride, padding, non-square kernels, with and without bias, gradients
 * written and added, with and without dx, on one thread and two. */
static void test_conv_dnnl_matches_im2col(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {.n = 2,
         .c = 3,
         .h = 5,
         .w = 6,
         .f = 4,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 1,
         .pw = 1,
         .bias = 1},
        {.n = 4,
         .c = 1,
         .h = 12,
         .w = 12,
         .f = 8,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 1,
         .pw = 1,
         .bias = 1,
         .only_consumer = 1,
         .threads = 2},
        {.n = 3,
         .c = 16,
         .h = 7,
         .w = 7,
         .f = 32,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 1,
         .pw = 1,
         .bias = 1},
        {.n = 2,
         .c = 32,
         .h = 9,
         .w = 8,
         .f = 16,
         .kh = 3,
         .kw = 3,
         .sh = 2,
         .sw = 2,
         .ph = 0,
         .pw = 0,
         .bias = 0,
         .only_consumer = 1,
         .threads = 2},
        {.n = 3,
         .c = 20,
         .h = 6,
         .w = 7,
         .f = 24,
         .kh = 2,
         .kw = 3,
         .sh = 2,
         .sw = 1,
         .ph = 1,
         .pw = 0,
         .bias = 1,
         .threads = 1},
        {.n = 2,
         .c = 16,
         .h = 4,
         .w = 5,
         .f = 8,
         .kh = 1,
         .kw = 1,
         .sh = 1,
         .sw = 1,
         .bias = 1,
         .only_consumer = 1},
        {.n = 5,
         .c = 2,
         .h = 8,
         .w = 8,
         .f = 5,
         .kh = 5,
         .kw = 5,
         .sh = 1,
         .sw = 1,
         .ph = 2,
         .pw = 2,
         .bias = 1,
         .threads = 2},
        /* parts of 2, 2 and 3 samples: two sets of primitives */
        {.n = 7,
         .c = 16,
         .h = 6,
         .w = 6,
         .f = 16,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 1,
         .pw = 1,
         .bias = 1,
         .threads = 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        compare_paths(&cases[i], 0);
        compare_paths(&cases[i], 1);
    }
}

/* A oneDNN call that fails, at any point of forward or backward and in any
 * part, runs im2col instead: the values and gradients are im2col's, and no
 * gradient that is added to has a part added twice. */
static void test_conv_dnnl_failure_falls_back(void **state)
{
    (void)state;
    const conv_case cases[] = {{.n = 5,
                                .c = 16,
                                .h = 6,
                                .w = 5,
                                .f = 16,
                                .kh = 3,
                                .kw = 3,
                                .sh = 1,
                                .sw = 1,
                                .ph = 1,
                                .pw = 1,
                                .bias = 1,
                                .threads = 2},
                               {.n = 3,
                                .c = 2,
                                .h = 7,
                                .w = 7,
                                .f = 4,
                                .kh = 3,
                                .kw = 3,
                                .sh = 2,
                                .sw = 2,
                                .bias = 1,
                                .threads = 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int calls = 0; calls < 40; calls += 3) {
            dnnl_calls_ok = calls;
            compare_paths(&cases[i], 0);
            compare_paths(&cases[i], 1);
        }
    dnnl_calls_ok = -1;
}
#endif

/* ------------------------------------------------------------ pooling */

/* x [2, 2, 5, 6] (distinct values, so no ties) pooled by op with kernel
 * [kh, kw] and stride [sh, sw]; the gradient check. */
static double pool_gradcheck(const char *op, int kh, int kw, int sh, int sw)
{
    nb_rng rng;
    nb_rng_seed(&rng, (uint64_t)(kh * 1000 + kw * 100 + sh * 10 + sw));
    nb_graph *g = nb_graph_create();
    nb_shape sx = nb_shape4(2, 2, 5, 6);
    size_t count = nb_shape_count(sx);
    leafv l = {nb_param(g, "x", sx, nb_init_zeros()), calloc(count, sizeof(nb_real)), count};
    assert_non_null(l.v);
    /* a shuffled ramp: every pair of values at least 0.05 apart, far more
     * than eps, so each window's maximum is the same on both sides */
    for (size_t i = 0; i < count; i++) l.v[i] = (nb_real)(0.05 * (double)i - 3);
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)(nb_rng_uniform(&rng) * (double)(i + 1)) % (i + 1);
        nb_real t = l.v[i];
        l.v[i] = l.v[j];
        l.v[j] = t;
    }
    nb_node y;
    if (strcmp(op, "global_avg_pool") == 0) {
        y = nb_global_avg_pool(g, l.node);
    } else {
        int64_t k[2] = {kh, kw}, s[2] = {sh, sw};
        nb_attr a[2] = {nb_attr_ints("kernel", 2, k), nb_attr_ints("stride", 2, s)};
        y = nb_apply_attrs(g, op, NULL, 1, &l.node, 2, a);
    }
    if (y == NB_NONE) fail_msg("%s: %s", op, nb_last_error());
    double worst = gradcheck_node(g, &rng, y, &l, 1, 0, GC_EPS);
    free(l.v);
    nb_graph_free(g);
    return worst;
}

static void test_pool_gradients(void **state)
{
    (void)state;
    worst_max = fmax(pool_gradcheck("max_pool2d", 2, 2, 2, 2), worst_max);
    worst_max = fmax(pool_gradcheck("max_pool2d", 3, 3, 2, 1), worst_max); /* overlapping */
    worst_max = fmax(pool_gradcheck("max_pool2d", 2, 3, 1, 2), worst_max);
    worst_avg = fmax(pool_gradcheck("avg_pool2d", 2, 2, 2, 2), worst_avg);
    worst_avg = fmax(pool_gradcheck("avg_pool2d", 3, 2, 1, 1), worst_avg); /* overlapping */
    worst_global = fmax(pool_gradcheck("global_avg_pool", 0, 0, 0, 0), worst_global);
}

/* One [1, 1, 4, 4] input through node y (of x), forward and backward with
 * dL/dy = 1 + index; values and dx against want. */
static void pool_by_hand(nb_node (*make)(nb_graph *, nb_node), const nb_real *x, int oh, int ow,
                         const double *want_y, const double *want_dx)
{
    nb_graph *g = nb_graph_create();
    nb_node xn = nb_param(g, "x", nb_shape4(1, 1, 4, 4), nb_init_zeros());
    nb_node y = make(g, xn);
    assert_int_not_equal(y, NB_NONE);
    nb_real r[16];
    for (int i = 0; i < oh * ow; i++) r[i] = (nb_real)(1 + i);
    nb_node loss = nb_sum(g, nb_mul(g, y, nb_constant(g, "r", nb_shape4(1, 1, oh, ow), r)));
    assert_ok(nb_graph_compile(g));
    memcpy(nb_node_value(g, xn), x, 16 * sizeof *x);
    assert_ok(nb_graph_forward(g));
    assert_ok(nb_graph_backward(g, loss));
    for (int i = 0; i < oh * ow; i++) assert_near(nb_node_value(g, y)[i], want_y[i], TOL);
    for (int i = 0; i < 16; i++) assert_near(nb_node_grad(g, xn)[i], want_dx[i], TOL);
    nb_graph_free(g);
}

static nb_node max2(nb_graph *g, nb_node x)
{
    return nb_max_pool2d(g, x, 2, 0);
}
static nb_node max3s1(nb_graph *g, nb_node x)
{
    return nb_max_pool2d(g, x, 3, 1);
}
static nb_node avg2s1(nb_graph *g, nb_node x)
{
    return nb_avg_pool2d(g, x, 2, 1);
}

static void test_pool_by_hand(void **state)
{
    (void)state;
    /* ties: the first largest (row-major within the window) takes dy */
    const nb_real x[16] = {1, 5, 2, 2, 5, 3, 2, 2, 0, -1, 7, 4, -2, -3, 4, 7};
    const double y2[4] = {5, 2, 0, 7};
    const double dx2[16] = {0, 1, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    pool_by_hand(max2, x, 2, 2, y2, dx2);
    /* overlapping 3x3 windows, stride 1: dy adds up where maxima coincide */
    const double y3[4] = {7, 7, 7, 7};
    const double dx3[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0};
    pool_by_hand(max3s1, x, 2, 2, y3, dx3);
    /* 2x2 means, stride 1: 3x3 outputs; dx = sum of dy / 4 over covering windows */
    double ya[9], dxa[16] = {0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            ya[i * 3 + j] =
                (x[i * 4 + j] + x[i * 4 + j + 1] + x[i * 4 + 4 + j] + x[i * 4 + 5 + j]) / 4.0;
            for (int u = 0; u < 2; u++)
                for (int v = 0; v < 2; v++) dxa[(i + u) * 4 + j + v] += (1 + i * 3 + j) / 4.0;
        }
    pool_by_hand(avg2s1, x, 3, 3, ya, dxa);
}

static void test_global_avg_pool_by_hand(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape4(2, 2, 1, 3));
    nb_node y = nb_global_avg_pool(g, x);
    assert_true(nb_shape_equal(nb_node_shape(g, y), nb_shape2(2, 2)));
    assert_ok(nb_graph_compile(g));
    const nb_real v[12] = {1, 2, 3, 4, 5, 9, -1, -2, -3, 0, 0, 6};
    assert_ok(nb_graph_feed(g, x, v, 12));
    assert_ok(nb_graph_forward(g));
    const double want[4] = {2, 6, -2, 2};
    for (int i = 0; i < 4; i++) assert_near(nb_node_value(g, y)[i], want[i], TOL);
    nb_graph_free(g);
}

/* ------------------------------------------------------------- errors */

/* Building y fails with status and a message holding every part. */
static void expect_error(nb_graph *g, nb_node y, nb_status status, const char *const *parts)
{
    assert_int_equal(y, NB_NONE);
    assert_int_equal(nb_graph_status(g), status);
    const char *msg = nb_last_error();
    for (; *parts; parts++)
        if (!strstr(msg, *parts)) fail_msg("message \"%s\" lacks \"%s\"", msg, *parts);
    nb_graph_free(g);
}

static void test_conv_errors(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape4(2, 3, 5, 5));
    nb_node w = nb_param(g, "w", nb_shape4(4, 2, 3, 3), nb_init_zeros());
    nb_node y = nb_apply(g, "conv2d", "c1", 2, (nb_node[]){x, w});
    const char *channels[] = {"conv2d", "\"c1\"", "\"x\" [2, 3, 5, 5]", "\"w\" [4, 2, 3, 3]", NULL};
    expect_error(g, y, NB_ERR_SHAPE, channels);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 1, 4, 4));
    w = nb_param(g, "w", nb_shape4(1, 1, 7, 3), nb_init_zeros());
    const char *big[] = {"conv2d", "kernel (7x3)", "padded input (6x6)", NULL};
    expect_error(g, nb_conv2d(g, x, w, NB_NONE, 1, 1), NB_ERR_SHAPE, big);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 1, 4, 4));
    w = nb_param(g, "w", nb_shape4(2, 1, 3, 3), nb_init_zeros());
    nb_node b = nb_param(g, "b", nb_shape1(3), nb_init_zeros());
    const char *bias[] = {"conv2d", "optional b [F]", "\"b\" [3]", NULL};
    expect_error(g, nb_conv2d(g, x, w, b, 1, 0), NB_ERR_SHAPE, bias);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(4, 4));
    w = nb_param(g, "w", nb_shape4(2, 1, 3, 3), nb_init_zeros());
    const char *flat[] = {"x [N, C, H, W]", "\"x\" [4, 4]", NULL};
    expect_error(g, nb_conv2d(g, x, w, NB_NONE, 1, 0), NB_ERR_SHAPE, flat);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 1, 4, 4));
    w = nb_param(g, "w", nb_shape4(2, 1, 3, 3), nb_init_zeros());
    const char *stride[] = {"conv2d", "\"stride\" must be 1 to 65535, got 0", NULL};
    expect_error(g, nb_conv2d(g, x, w, NB_NONE, 0, 0), NB_ERR_ARGUMENT, stride);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 1, 4, 4));
    w = nb_param(g, "w", nb_shape4(2, 1, 3, 3), nb_init_zeros());
    const char *pad[] = {"\"pad\" must be 0 to 65535, got -1", NULL};
    expect_error(g, nb_conv2d(g, x, w, NB_NONE, 1, -1), NB_ERR_ARGUMENT, pad);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 1, 4, 4));
    w = nb_param(g, "w", nb_shape4(2, 1, 3, 3), nb_init_zeros());
    const int64_t three[3] = {1, 1, 1};
    nb_attr a = nb_attr_ints("stride", 3, three);
    const char *count[] = {"\"stride\" has 3 values, not 1 to 2", NULL};
    expect_error(g, nb_apply_attrs(g, "conv2d", NULL, 2, (nb_node[]){x, w}, 1, &a), NB_ERR_ARGUMENT,
                 count);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 1, 4, 4));
    const char *arity[] = {"op conv2d takes 2 to 3 inputs, got 1", NULL};
    expect_error(g, nb_apply(g, "conv2d", NULL, 1, &x), NB_ERR_ARGUMENT, arity);
}

static void test_pool_errors(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape4(1, 2, 3, 5));
    const char *big[] = {"max_pool2d", "kernel (4x4)", "\"x\" [1, 2, 3, 5]", NULL};
    expect_error(g, nb_max_pool2d(g, x, 4, 0), NB_ERR_SHAPE, big);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 2, 3, 5));
    const char *kernel[] = {"avg_pool2d", "\"kernel\" must be 1 to 65535, got 0", NULL};
    expect_error(g, nb_avg_pool2d(g, x, 0, 0), NB_ERR_ARGUMENT, kernel);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 2, 3, 5));
    const char *stride[] = {"\"stride\" must be 0 to 65535, got -2", NULL};
    expect_error(g, nb_max_pool2d(g, x, 2, -2), NB_ERR_ARGUMENT, stride);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape4(1, 2, 3, 5));
    const char *needed[] = {"op max_pool2d needs the attribute \"kernel\"", NULL};
    expect_error(g, nb_apply(g, "max_pool2d", NULL, 1, &x), NB_ERR_ARGUMENT, needed);

    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape3(2, 3, 5));
    const char *flat[] = {"global_avg_pool", "x [N, C, H, W]", "\"x\" [2, 3, 5]", NULL};
    expect_error(g, nb_global_avg_pool(g, x), NB_ERR_SHAPE, flat);
}

/* ---------------------------------------------------- memory planning */

/* Two convolutions share one scratch region: the arena is the sum of the
 * nodes' own memory plus the larger scratch, less than with both. */
static void test_scratch_is_shared(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape4(4, 3, 12, 12));
    nb_node w1 = nb_param(g, "w1", nb_shape4(8, 3, 3, 3), nb_init_he());
    nb_node w2 = nb_param(g, "w2", nb_shape4(5, 8, 5, 5), nb_init_he());
    nb_node c1 = nb_conv2d(g, x, w1, NB_NONE, 1, 1);
    nb_node c2 = nb_conv2d(g, nb_relu(g, c1), w2, NB_NONE, 1, 2);
    nb_node loss = nb_mean(g, nb_max_pool2d(g, c2, 2, 0));
    assert_int_not_equal(loss, NB_NONE);
    assert_ok(nb_graph_compile(g));
    const nb_node_rec *n1 = &g->nodes[c1], *n2 = &g->nodes[c2];
    assert_true(n1->scratch_count > 0 && n2->scratch_count > 0);
    assert_ptr_equal(n1->scratch, n2->scratch);
    size_t sum = 0, scratch = 0, all_scratch = 0;
    for (int i = 0; i < g->count; i++) {
        sum += nb_node_arena(&g->nodes[i], g->nodes[i].needs_grad, &scratch);
        all_scratch += g->nodes[i].scratch_count;
    }
    assert_int_equal(sum, g->arena_capacity); /* the count the model limit uses */
    size_t larger = n1->scratch_count > n2->scratch_count ? n1->scratch_count : n2->scratch_count;
    assert_true(scratch >= larger && scratch < all_scratch);
    assert_true(g->arena_capacity < sum - scratch + all_scratch);
    /* max_pool2d's argmax is its own work, not scratch */
    assert_true(g->nodes[g->count - 2].work_count > 0 && !g->nodes[g->count - 2].scratch);
    nb_graph_free(g);
}

/* Forward and backward of a compiled CNN allocate nothing, on one thread
 * or two. */
static void test_steps_allocate_nothing(void **state)
{
    (void)state;
    int saved = nb_get_threads();
    for (int threads = 1; threads <= 2; threads++) {
        assert_ok(nb_set_threads(threads));
        nb_graph *g = nb_graph_create();
        nb_node x = nb_input(g, "x", nb_shape4(4, 1, 8, 8));
        nb_node w = nb_param(g, "w", nb_shape4(4, 1, 3, 3), nb_init_he());
        nb_node b = nb_param(g, "b", nb_shape1(4), nb_init_zeros());
        nb_node h = nb_max_pool2d(g, nb_relu(g, nb_conv2d(g, x, w, b, 1, 1)), 2, 0);
        nb_node loss = nb_mean(g, nb_avg_pool2d(g, h, 2, 1));
        assert_ok(nb_graph_compile(g));
        nb_rng rng;
        nb_rng_seed(&rng, 5);
        assert_ok(nb_graph_init_params(g, &rng));
        check_count_allocations();
        for (int step = 0; step < 3; step++) {
            assert_ok(nb_graph_forward(g));
            assert_ok(nb_graph_backward(g, loss));
        }
        nb_set_allocator(NULL);
        assert_int_equal(*check_allocations(), 0);
        nb_graph_free(g);
    }
    assert_ok(nb_set_threads(saved));
}

/* nb_backends names the convolution and matrix product kernels this build
 * has, truncates like snprintf and returns the whole length. */
static void test_backends(void **state)
{
    (void)state;
    char line[256], small[8];
    size_t n = nb_backends(line, sizeof line);
    assert_int_equal(n, strlen(line));
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    assert_non_null(strstr(line, "conv: onednn "));
#else
    assert_non_null(strstr(line, "conv: im2col + gemm"));
#endif
    /* the products' kernel named is the one nb_gemm runs */
    if (nb_gemm_uses_dnnl()) {
        assert_non_null(strstr(line, "; gemm: onednn sgemm ("));
#ifdef NABLA_USE_BLAS
        assert_non_null(strstr(line, "), openblas "));
        assert_non_null(strstr(line, " as fallback"));
#endif
    } else {
#ifdef NABLA_USE_BLAS
        assert_non_null(strstr(line, "; gemm: openblas "));
        assert_non_null(strstr(line, "(core "));
#else
        assert_non_null(strstr(line, "; gemm: portable"));
#endif
    }
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    /* oneDNN's sgemm wherever oneDNN has AVX2 */
    assert_int_equal(nb_gemm_uses_dnnl(),
                     ((unsigned)dnnl_get_effective_cpu_isa() & (unsigned)dnnl_cpu_isa_avx2) ==
                         (unsigned)dnnl_cpu_isa_avx2);
#else
    assert_false(nb_gemm_uses_dnnl());
#endif
    assert_int_equal(nb_backends(small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, line, sizeof small - 1);
    assert_int_equal(nb_backends(NULL, 0), n);
}

/* Every op of this family passed its gradient check (runs last). */
static void test_every_conv_op_checked(void **state)
{
    (void)state;
    const char *names[] = {"conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool"};
    const double worst[] = {worst_conv, worst_max, worst_avg, worst_global};
    for (int i = 0; i < 4; i++) {
        assert_true(nb_op_exists(names[i]));
        if (worst[i] < 0) fail_msg("op \"%s\" has no passing gradient check", names[i]);
        print_message("  %-16s worst relative gradient error %.3g (bound %g)\n", names[i], worst[i],
                      GC_BOUND);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same_padding_bias),
        cmocka_unit_test(test_conv_stride2_no_bias_non_square),
        cmocka_unit_test(test_conv_per_axis_stride_pad),
        cmocka_unit_test(test_conv_one_by_one),
        cmocka_unit_test(test_conv_only_consumer),
        cmocka_unit_test(test_conv_threads),
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
        cmocka_unit_test(test_conv_dnnl_matches_im2col),
        cmocka_unit_test(test_conv_dnnl_failure_falls_back),
#endif
        cmocka_unit_test(test_pool_gradients),
        cmocka_unit_test(test_pool_by_hand),
        cmocka_unit_test(test_global_avg_pool_by_hand),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_pool_errors),
        cmocka_unit_test(test_scratch_is_shared),
        cmocka_unit_test(test_steps_allocate_nothing),
        cmocka_unit_test(test_backends),
        cmocka_unit_test(test_every_conv_op_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
