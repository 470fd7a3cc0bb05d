/* Every op: its forward values against plain double arithmetic written out
 * here, its backward against central differences (nb_gradcheck) through
 * the scalar L = sum(y * W) + sum_leaves sum(leaf * V) with fixed random W
 * and V, so that every element of dL/dy differs and every input has a
 * second consumer. Broadcasting, fan-out, batches > 1 and shape errors too. A
 * last test fails if an op of nb_op_names() has no passing gradient check. */
#include "check.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#ifdef NABLA_DOUBLE
/* Step 1e-6: truncation error ~eps^2 |f'''| ~ 1e-12, rounding ~1e-16 |L| /
 * eps ~ 1e-10; both far below the required 1e-6. */
#define GC_EPS   1e-6
#define GC_BOUND 1e-6
#else
/* float has 24 bits: a central difference carries a rounding error of about
 * ulp(L) / eps ~ 6e-8 |L| / eps and a truncation error of eps^2 |f'''| / 6.
 * eps = 1e-2 balances the two for |L| of a few units, which leaves relative
 * errors of up to about 1e-3 (against the 1e-2 floor); 2e-2 leaves room for
 * other draws and still catches any wrong formula (a missing factor, term
 * or sign is an error of order 1). */
#define GC_EPS   1e-2
#define GC_BOUND 2e-2
#endif

#define MAX_LEAVES 6
#define MAX_CASES  64

/* ------------------------------------------------------------ harness */

typedef struct op_case op_case;

typedef struct leaf {
    nb_node node;
    size_t count;
    double *v; /* the values, already rounded to nb_real */
    int is_param;
} leaf;

typedef struct harness {
    nb_graph *g;
    nb_rng rng;
    int n;
    leaf leaves[MAX_LEAVES];
    op_case *c;
} harness;

struct op_case {
    const char *op;    /* the op under test: the node checked is of this op */
    const char *label; /* the cmocka test name */
    void (*run)(harness *h);
    int checked;    /* set once its gradient check passed */
    double max_rel; /* worst relative gradient error seen */
};

/* How leaf values are drawn: uniform in [lo, hi], or with away > 0 a
 * magnitude in [away, hi] and a random sign (away from kinks and poles). */
typedef struct draw {
    double lo, hi, away;
} draw;

static draw uni(double lo, double hi)
{
    return (draw){lo, hi, 0};
}

static draw away(double min, double max)
{
    return (draw){0, max, min};
}

static double sample(nb_rng *r, draw d)
{
    double u = nb_rng_uniform(r);
    if (d.away > 0) {
        double m = d.away + (d.hi - d.away) * u;
        return nb_rng_uniform(r) < 0.5 ? -m : m;
    }
    return d.lo + (d.hi - d.lo) * u;
}

static double *alloc_doubles(size_t n)
{
    double *v = calloc(n ? n : 1, sizeof *v);
    assert_non_null(v);
    return v;
}

/* A leaf with the given values (rounded to nb_real): a parameter (its
 * gradient is checked) or a constant (data, no gradient). */
static const double *leaf_values(harness *h, const char *name, nb_shape s, int is_param,
                                 const double *values)
{
    assert_true(h->n < MAX_LEAVES);
    leaf *l = &h->leaves[h->n++];
    l->count = nb_shape_count(s);
    l->v = alloc_doubles(l->count);
    l->is_param = is_param;
    nb_real *tmp = calloc(l->count, sizeof *tmp);
    assert_non_null(tmp);
    for (size_t i = 0; i < l->count; i++) {
        tmp[i] = (nb_real)values[i];
        l->v[i] = tmp[i];
    }
    l->node = is_param ? nb_param(h->g, name, s, nb_init_zeros()) : nb_constant(h->g, name, s, tmp);
    free(tmp);
    if (l->node == NB_NONE) fail_msg("leaf %s: %s", name, nb_last_error());
    return l->v;
}

static const double *leaf_drawn(harness *h, const char *name, nb_shape s, int is_param, draw d)
{
    size_t n = nb_shape_count(s);
    double *v = alloc_doubles(n);
    for (size_t i = 0; i < n; i++) v[i] = sample(&h->rng, d);
    const double *out = leaf_values(h, name, s, is_param, v);
    free(v);
    return out;
}

static const double *param(harness *h, const char *name, nb_shape s, draw d)
{
    return leaf_drawn(h, name, s, 1, d);
}

static nb_node node_of(const harness *h, const double *values)
{
    for (int i = 0; i < h->n; i++)
        if (h->leaves[i].v == values) return h->leaves[i].node;
    fail_msg("no leaf holds these values");
    return NB_NONE;
}

/* Check node y (of op c->op and shape s) against want[], then its gradients
 * through L = sum(y * W). */
static void check(harness *h, nb_node y, nb_shape s, const double *want)
{
    nb_graph *g = h->g;
    char b1[64], b2[64];
    if (y == NB_NONE) fail_msg("%s: building failed: %s", h->c->label, nb_last_error());
    assert_string_equal(nb_node_op(g, y), h->c->op);
    if (!nb_shape_equal(nb_node_shape(g, y), s))
        fail_msg("%s: shape %s, expected %s", h->c->label,
                 nb_shape_format(nb_node_shape(g, y), b1, sizeof b1),
                 nb_shape_format(s, b2, sizeof b2));
    size_t n = nb_shape_count(s);
    nb_real *w = calloc(n, sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) w[i] = (nb_real)sample(&h->rng, away(0.3, 1.5));
    nb_node wn = nb_constant(g, "loss_weight", s, w);
    free(w);
    nb_node loss = nb_sum(g, nb_mul(g, y, wn));
    /* + sum(leaf * V) for every parameter leaf: a second consumer whose
     * backward runs first, so an op that overwrote its inputs' gradients
     * instead of adding to them would fail the check. */
    for (int i = 0; i < h->n; i++) {
        leaf *l = &h->leaves[i];
        if (!l->is_param) continue;
        nb_real *v = calloc(l->count, sizeof *v);
        assert_non_null(v);
        for (size_t k = 0; k < l->count; k++) v[k] = (nb_real)sample(&h->rng, uni(-1, 1));
        nb_node vn = nb_constant(g, NULL, nb_node_shape(g, l->node), v);
        free(v);
        loss = nb_add(g, loss, nb_sum(g, nb_mul(g, l->node, vn)));
    }
    assert_int_not_equal(loss, NB_NONE);
    assert_ok(nb_graph_compile(g));
    int params = 0;
    for (int i = 0; i < h->n; i++) {
        leaf *l = &h->leaves[i];
        if (!l->is_param) continue;
        params++;
        nb_real *dst = nb_node_value(g, l->node);
        for (size_t k = 0; k < l->count; k++) dst[k] = (nb_real)l->v[k];
    }
    assert_ok(nb_graph_forward(g));
    const nb_real *got = nb_node_value(g, y);
    for (size_t i = 0; i < n; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s value[%zu]", h->c->label, i);
        check_near(got[i], want[i], TOL, what, __LINE__);
    }
    nb_gradcheck_entry e[MAX_LEAVES];
    int count = 0;
    assert_ok(nb_gradcheck(g, loss, GC_EPS, e, MAX_LEAVES, &count));
    assert_int_equal(count, params);
    for (int i = 0; i < count; i++) {
        if (!(e[i].max_rel <= GC_BOUND))
            fail_msg("%s: gradient of \"%s\": relative error %g > %g (abs %g)", h->c->label,
                     e[i].name, e[i].max_rel, GC_BOUND, e[i].max_abs);
        if (e[i].max_rel > h->c->max_rel) h->c->max_rel = e[i].max_rel;
    }
    h->c->checked = 1;
}

static void run_case(void **state)
{
    op_case *c = *state;
    harness h;
    memset(&h, 0, sizeof h);
    h.c = c;
    /* A seed per case, from its label, so cases do not share draws. */
    uint64_t seed = 1469598103934665603ULL;
    for (const char *p = c->label; *p; p++) seed = (seed ^ (unsigned char)*p) * 1099511628211ULL;
    nb_rng_seed(&h.rng, seed);
    h.g = nb_graph_create();
    assert_non_null(h.g);
    c->run(&h);
    nb_graph_free(h.g);
    for (int i = 0; i < h.n; i++) free(h.leaves[i].v);
}

/* ------------------------------------------------------- element-wise */

typedef nb_node (*binary_fn)(nb_graph *, nb_node, nb_node);
typedef nb_node (*unary_fn)(nb_graph *, nb_node);

static void binary(harness *h, binary_fn f, double (*ref)(double, double), nb_shape sa, nb_shape sb,
                   draw da, draw db)
{
    const double *a = param(h, "a", sa, da), *b = param(h, "b", sb, db);
    size_t na = nb_shape_count(sa), nbb = nb_shape_count(sb), n = na > nbb ? na : nbb;
    double *want = alloc_doubles(n);
    for (size_t i = 0; i < n; i++) want[i] = ref(a[na == n ? i : 0], b[nbb == n ? i : 0]);
    check(h, f(h->g, node_of(h, a), node_of(h, b)), na >= nbb ? sa : sb, want);
    free(want);
}

static void unary(harness *h, unary_fn f, double (*ref)(double), nb_shape s, draw d)
{
    const double *x = param(h, "x", s, d);
    size_t n = nb_shape_count(s);
    double *want = alloc_doubles(n);
    for (size_t i = 0; i < n; i++) want[i] = ref(x[i]);
    check(h, f(h->g, node_of(h, x)), s, want);
    free(want);
}

static double r_add(double a, double b)
{
    return a + b;
}
static double r_sub(double a, double b)
{
    return a - b;
}
static double r_mul(double a, double b)
{
    return a * b;
}
static double r_div(double a, double b)
{
    return a / b;
}
static double r_neg(double x)
{
    return -x;
}
static double r_reciprocal(double x)
{
    return 1 / x;
}
static double r_square(double x)
{
    return x * x;
}
static double r_identity(double x)
{
    return x;
}
static double r_sigmoid(double x)
{
    return 1 / (1 + exp(-x));
}
static double r_relu(double x)
{
    return x > 0 ? x : 0;
}

#define M23 nb_shape2(2, 3)
#define S0  nb_shape0()

static void c_add(harness *h)
{
    binary(h, nb_add, r_add, M23, M23, uni(-1, 1), uni(-1, 1));
}
static void c_add_scalar(harness *h)
{
    binary(h, nb_add, r_add, M23, S0, uni(-1, 1), uni(-1, 1));
}
static void c_add_one(harness *h)
{
    binary(h, nb_add, r_add, nb_shape1(1), M23, uni(-1, 1), uni(-1, 1));
}
static void c_sub(harness *h)
{
    binary(h, nb_sub, r_sub, M23, M23, uni(-1, 1), uni(-1, 1));
}
static void c_sub_scalar(harness *h)
{
    binary(h, nb_sub, r_sub, M23, S0, uni(-1, 1), uni(-1, 1));
}
static void c_scalar_sub(harness *h)
{
    binary(h, nb_sub, r_sub, S0, M23, uni(-1, 1), uni(-1, 1));
}
static void c_mul(harness *h)
{
    binary(h, nb_mul, r_mul, M23, M23, uni(-2, 2), uni(-2, 2));
}
static void c_mul_scalar(harness *h)
{
    binary(h, nb_mul, r_mul, M23, S0, uni(-2, 2), uni(-2, 2));
}
static void c_div(harness *h)
{
    binary(h, nb_div, r_div, M23, M23, uni(-2, 2), away(0.5, 2));
}
static void c_div_scalar(harness *h)
{
    binary(h, nb_div, r_div, M23, S0, uni(-2, 2), away(0.5, 2));
}
static void c_scalar_div(harness *h)
{
    binary(h, nb_div, r_div, S0, M23, uni(-2, 2), away(0.5, 2));
}

static void c_neg(harness *h)
{
    unary(h, nb_neg, r_neg, M23, uni(-2, 2));
}
static void c_reciprocal(harness *h)
{
    unary(h, nb_reciprocal, r_reciprocal, M23, away(0.5, 2));
}
static void c_square(harness *h)
{
    unary(h, nb_square, r_square, M23, uni(-2, 2));
}
static void c_exp(harness *h)
{
    unary(h, nb_exp, exp, M23, uni(-2, 2));
}
static void c_log(harness *h)
{
    unary(h, nb_log, log, M23, uni(0.5, 3));
}
static void c_identity(harness *h)
{
    unary(h, nb_identity, r_identity, M23, uni(-2, 2));
}
static void c_sigmoid(harness *h)
{
    unary(h, nb_sigmoid, r_sigmoid, M23, uni(-3, 3));
}
static void c_relu(harness *h)
{
    unary(h, nb_relu, r_relu, nb_shape2(3, 4), away(0.1, 2));
}
static void c_tanh(harness *h)
{
    unary(h, nb_tanh, tanh, M23, uni(-2, 2));
}

static void c_leaky_relu(harness *h)
{
    const double slope = 0.1;
    const double *x = param(h, "x", nb_shape2(3, 4), away(0.1, 2));
    double want[12];
    for (int i = 0; i < 12; i++) want[i] = x[i] > 0 ? x[i] : slope * x[i];
    check(h, nb_leaky_relu(h->g, node_of(h, x), slope), nb_shape2(3, 4), want);
}

/* x used as both operands: dL/dx sums both paths (2 x w). */
static void c_mul_self(harness *h)
{
    const double *x = param(h, "x", M23, uni(-2, 2));
    double want[6];
    for (int i = 0; i < 6; i++) want[i] = x[i] * x[i];
    nb_node xn = node_of(h, x);
    check(h, nb_mul(h->g, xn, xn), M23, want);
}

/* h = tanh(x) feeds three consumers: y = h h + exp(h) + x. */
static void c_fan_out(harness *h)
{
    const double *x = param(h, "x", M23, uni(-2, 2));
    double want[6];
    for (int i = 0; i < 6; i++) {
        double t = tanh(x[i]);
        want[i] = t * t + exp(t) + x[i];
    }
    nb_graph *g = h->g;
    nb_node xn = node_of(h, x), t = nb_tanh(g, xn);
    check(h, nb_add(g, nb_add(g, nb_mul(g, t, t), nb_exp(g, t)), xn), M23, want);
}

/* --------------------------------------------------------- reductions */

static void c_sum(harness *h)
{
    const double *x = param(h, "x", nb_shape2(3, 4), uni(-2, 2));
    double want = 0;
    for (int i = 0; i < 12; i++) want += x[i];
    check(h, nb_sum(h->g, node_of(h, x)), S0, &want);
}

static void c_mean(harness *h)
{
    const double *x = param(h, "x", nb_shape2(3, 4), uni(-2, 2));
    double want = 0;
    for (int i = 0; i < 12; i++) want += x[i];
    want /= 12;
    check(h, nb_mean(h->g, node_of(h, x)), S0, &want);
}

static void c_reshape(harness *h)
{
    const double *x = param(h, "x", nb_shape2(2, 6), uni(-2, 2));
    check(h, nb_reshape(h->g, node_of(h, x), nb_shape2(3, 4)), nb_shape2(3, 4), x);
}

static void c_flatten(harness *h)
{
    const double *x = param(h, "x", nb_shape3(2, 3, 4), uni(-2, 2));
    check(h, nb_flatten(h->g, node_of(h, x)), nb_shape2(2, 12), x);
}

/* Three inputs [2, 3], [2, 1], [2, 2] along 1, or [1, 3], [2, 3] along 0. */
static void c_concat(harness *h)
{
    const double *a = param(h, "a", nb_shape2(2, 3), uni(-2, 2));
    const double *b = param(h, "b", nb_shape2(2, 1), uni(-2, 2));
    const double *c = param(h, "c", nb_shape2(2, 2), uni(-2, 2));
    double want[12];
    for (int r = 0, k = 0; r < 2; r++) {
        for (int j = 0; j < 3; j++) want[k++] = a[r * 3 + j];
        want[k++] = b[r];
        for (int j = 0; j < 2; j++) want[k++] = c[r * 2 + j];
    }
    nb_node xs[3] = {node_of(h, a), node_of(h, b), node_of(h, c)};
    check(h, nb_concat(h->g, 3, xs, 1), nb_shape2(2, 6), want);
}

static void c_concat_rows(harness *h)
{
    const double *a = param(h, "a", nb_shape2(1, 3), uni(-2, 2));
    const double *b = param(h, "b", nb_shape2(2, 3), uni(-2, 2));
    double want[9];
    for (int k = 0; k < 3; k++) want[k] = a[k];
    for (int k = 0; k < 6; k++) want[3 + k] = b[k];
    nb_node xs[2] = {node_of(h, a), node_of(h, b)};
    check(h, nb_concat(h->g, 2, xs, 0), nb_shape2(3, 3), want);
}

/* ------------------------------------------------------------ matrices */

enum { N = 3, D = 4, H = 5 };

static void matmul_ref(const double *x, const double *w, const double *b, double *y)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++) {
            double s = b ? b[j] : 0;
            for (int k = 0; k < D; k++) s += x[i * D + k] * w[k * H + j];
            y[i * H + j] = s;
        }
}

static void c_matmul(harness *h)
{
    const double *x = param(h, "x", nb_shape2(N, D), uni(-1, 1));
    const double *w = param(h, "w", nb_shape2(D, H), uni(-1, 1));
    double want[N * H];
    matmul_ref(x, w, NULL, want);
    check(h, nb_matmul(h->g, node_of(h, x), node_of(h, w)), nb_shape2(N, H), want);
}

static void c_bias_add(harness *h)
{
    const double *x = param(h, "x", nb_shape2(N, H), uni(-1, 1));
    const double *b = param(h, "b", nb_shape1(H), uni(-1, 1));
    double want[N * H];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H; j++) want[i * H + j] = x[i * H + j] + b[j];
    check(h, nb_bias_add(h->g, node_of(h, x), node_of(h, b)), nb_shape2(N, H), want);
}

static void c_affine(harness *h)
{
    const double *x = param(h, "x", nb_shape2(N, D), uni(-1, 1));
    const double *w = param(h, "w", nb_shape2(D, H), uni(-1, 1));
    const double *b = param(h, "b", nb_shape1(H), uni(-1, 1));
    double want[N * H];
    matmul_ref(x, w, b, want);
    check(h, nb_affine(h->g, node_of(h, x), node_of(h, w), node_of(h, b)), nb_shape2(N, H), want);
}

/* ------------------------------------------------- dropout, batch norm */

/* EVAL: the identity (the value checked); the gradient check runs in HELD
 * mode, which draws one mask and keeps it: dx = dy * mask. */
static void dropout_case(harness *h, nb_shape s)
{
    const double *x = param(h, "x", s, uni(-2, 2));
    double *want = alloc_doubles(nb_shape_count(s));
    for (size_t i = 0; i < nb_shape_count(s); i++) want[i] = x[i];
    nb_node y = nb_dropout(h->g, node_of(h, x), 0.4);
    assert_ok(nb_graph_set_mode(h->g, NB_MODE_EVAL));
    check(h, y, s, want);
    free(want);
}
static void c_dropout(harness *h)
{
    dropout_case(h, nb_shape2(4, 5));
}
static void c_dropout_4d(harness *h)
{
    dropout_case(h, nb_shape4(2, 3, 2, 2));
}

/* TRAIN: each channel normalised by its batch mean and biased variance,
 * written out here in plain double arithmetic. */
static void batch_norm_case(harness *h, nb_shape s)
{
    const int n = s.dim[0], c = s.dim[1], sp = s.ndim == 4 ? s.dim[2] * s.dim[3] : 1;
    const double eps = 1e-5;
    const double *x = param(h, "x", s, uni(-2, 2));
    const double *gamma = param(h, "gamma", nb_shape1(c), uni(0.5, 1.5));
    const double *beta = param(h, "beta", nb_shape1(c), uni(-1, 1));
    nb_node rm = nb_buffer(h->g, "running_mean", nb_shape1(c), nb_init_zeros());
    nb_node rv = nb_buffer(h->g, "running_var", nb_shape1(c), nb_init_constant(1));
    double *want = alloc_doubles(nb_shape_count(s));
    for (int ch = 0; ch < c; ch++) {
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < sp; k++) mean += x[(i * c + ch) * sp + k];
        mean /= n * sp;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < sp; k++) {
                double d = x[(i * c + ch) * sp + k] - mean;
                var += d * d;
            }
        var /= n * sp;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < sp; k++) {
                int at = (i * c + ch) * sp + k;
                want[at] = gamma[ch] * (x[at] - mean) / sqrt(var + eps) + beta[ch];
            }
    }
    check(h,
          nb_batch_norm(h->g, node_of(h, x), node_of(h, gamma), node_of(h, beta), rm, rv, 0.1, eps),
          s, want);
    free(want);
}
static void c_batch_norm(harness *h)
{
    batch_norm_case(h, nb_shape2(5, 3));
}
static void c_batch_norm_4d(harness *h)
{
    batch_norm_case(h, nb_shape4(3, 2, 2, 3));
}

/* ---------------------------------------------------------- softmax */

static void softmax_ref(const double *x, double *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++) s += exp(x[r * cols + c]);
        for (int c = 0; c < cols; c++) y[r * cols + c] = exp(x[r * cols + c]) / s;
    }
}

static void c_softmax(harness *h)
{
    const double *x = param(h, "x", nb_shape2(N, H), uni(-2, 2));
    double want[N * H];
    softmax_ref(x, want, N, H);
    check(h, nb_softmax(h->g, node_of(h, x)), nb_shape2(N, H), want);
}

static void c_softmax_vector(harness *h)
{
    const double *x = param(h, "x", nb_shape1(H), uni(-2, 2));
    double want[H];
    softmax_ref(x, want, 1, H);
    check(h, nb_softmax(h->g, node_of(h, x)), nb_shape1(H), want);
}

/* ------------------------------------------------------------ losses */

enum { R = 4, C = 5 }; /* a batch of R rows over C classes */

static const double class_index[R] = {2, 0, 4, 2};

static const double *one_hot_param(harness *h)
{
    double t[R * C] = {0};
    for (int r = 0; r < R; r++) t[r * C + (int)class_index[r]] = 1;
    return leaf_values(h, "t", nb_shape2(R, C), 1, t);
}

/* L = -(1/R) sum_r log softmax(x_r)[k_r] */
static void c_softmax_loss_index(harness *h)
{
    const double *x = param(h, "x", nb_shape2(R, C), uni(-2, 2));
    const double *t = leaf_values(h, "t", nb_shape1(R), 0, class_index);
    double p[R * C], want = 0;
    softmax_ref(x, p, R, C);
    for (int r = 0; r < R; r++) want -= log(p[r * C + (int)class_index[r]]);
    want /= R;
    check(h, nb_softmax_with_loss(h->g, node_of(h, x), node_of(h, t)), S0, &want);
}

/* One-hot target as a parameter: checks dL/dt = -log p / R as well. */
static void c_softmax_loss_one_hot(harness *h)
{
    const double *x = param(h, "x", nb_shape2(R, C), uni(-2, 2));
    const double *t = one_hot_param(h);
    double p[R * C], want = 0;
    softmax_ref(x, p, R, C);
    for (int i = 0; i < R * C; i++) want -= t[i] * log(p[i]);
    want /= R;
    check(h, nb_softmax_with_loss(h->g, node_of(h, x), node_of(h, t)), S0, &want);
}

/* A soft target (rows of a probability distribution). */
static void c_softmax_loss_soft(harness *h)
{
    const double *x = param(h, "x", nb_shape2(R, C), uni(-2, 2));
    double raw[R * C], t[R * C];
    for (int i = 0; i < R * C; i++) raw[i] = sample(&h->rng, uni(-1, 1));
    softmax_ref(raw, t, R, C);
    const double *tv = leaf_values(h, "t", nb_shape2(R, C), 1, t);
    double p[R * C], want = 0;
    softmax_ref(x, p, R, C);
    for (int i = 0; i < R * C; i++) want -= tv[i] * log(p[i]);
    want /= R;
    check(h, nb_softmax_with_loss(h->g, node_of(h, x), node_of(h, tv)), S0, &want);
}

#define CE_DELTA 1e-7 /* the guard of notes 004: log(y + delta) */

static void c_cross_entropy_one_hot(harness *h)
{
    const double *y = param(h, "y", nb_shape2(R, C), uni(0.05, 1));
    const double *t = one_hot_param(h);
    double want = 0;
    for (int i = 0; i < R * C; i++) want -= t[i] * log(y[i] + CE_DELTA);
    want /= R;
    check(h, nb_cross_entropy(h->g, node_of(h, y), node_of(h, t)), S0, &want);
}

static void c_cross_entropy_index(harness *h)
{
    const double *y = param(h, "y", nb_shape2(R, C), uni(0.05, 1));
    const double *t = leaf_values(h, "t", nb_shape1(R), 0, class_index);
    double want = 0;
    for (int r = 0; r < R; r++) want -= log(y[r * C + (int)class_index[r]] + CE_DELTA);
    want /= R;
    check(h, nb_cross_entropy(h->g, node_of(h, y), node_of(h, t)), S0, &want);
}

/* mean of -(t log s(x) + (1 - t) log(1 - s(x))) */
static void c_bce(harness *h)
{
    const double *x = param(h, "x", M23, uni(-3, 3));
    const double *t = param(h, "t", M23, uni(0, 1));
    double want = 0;
    for (int i = 0; i < 6; i++) {
        double s = 1 / (1 + exp(-x[i]));
        want -= t[i] * log(s) + (1 - t[i]) * log(1 - s);
    }
    want /= 6;
    check(h, nb_bce_with_logits(h->g, node_of(h, x), node_of(h, t)), S0, &want);
}

/* Pair losses of y and t: which = 0 sse, 1 half_sse, 2 mse, 3 sae. */
static void pair_loss(harness *h, binary_fn f, int which)
{
    double tv[6], yv[6];
    for (int i = 0; i < 6; i++) {
        tv[i] = sample(&h->rng, uni(-1, 1));
        /* |y - t| >= 0.1 keeps sae away from its kink at 0 */
        yv[i] = tv[i] + sample(&h->rng, away(0.1, 1));
    }
    const double *y = leaf_values(h, "y", M23, 1, yv);
    const double *t = leaf_values(h, "t", M23, 1, tv);
    double want = 0;
    for (int i = 0; i < 6; i++) {
        double r = y[i] - t[i];
        want += which == 3 ? fabs(r) : r * r;
    }
    if (which == 1) want /= 2;
    if (which == 2) want /= 6;
    check(h, f(h->g, node_of(h, y), node_of(h, t)), S0, &want);
}

static void c_sse(harness *h)
{
    pair_loss(h, nb_sse, 0);
}
static void c_half_sse(harness *h)
{
    pair_loss(h, nb_half_sse, 1);
}
static void c_mse(harness *h)
{
    pair_loss(h, nb_mse, 2);
}
static void c_sae(harness *h)
{
    pair_loss(h, nb_sae, 3);
}

/* ------------------------------------------------------------- cases */

#define CASE(op, label, fn)                                                                        \
    {                                                                                              \
        op, label, fn, 0, 0                                                                        \
    }

static op_case cases[] = {
    CASE("add", "add", c_add),
    CASE("add", "add tensor + scalar", c_add_scalar),
    CASE("add", "add [1] + tensor", c_add_one),
    CASE("sub", "sub", c_sub),
    CASE("sub", "sub tensor - scalar", c_sub_scalar),
    CASE("sub", "sub scalar - tensor", c_scalar_sub),
    CASE("mul", "mul", c_mul),
    CASE("mul", "mul tensor * scalar", c_mul_scalar),
    CASE("mul", "mul x * x (one node consumed twice)", c_mul_self),
    CASE("add", "fan-out: tanh(x) used three times", c_fan_out),
    CASE("div", "div", c_div),
    CASE("div", "div tensor / scalar", c_div_scalar),
    CASE("div", "div scalar / tensor", c_scalar_div),
    CASE("neg", "neg", c_neg),
    CASE("reciprocal", "reciprocal", c_reciprocal),
    CASE("square", "square", c_square),
    CASE("exp", "exp", c_exp),
    CASE("log", "log", c_log),
    CASE("identity", "identity", c_identity),
    CASE("sum", "sum", c_sum),
    CASE("mean", "mean", c_mean),
    CASE("reshape", "reshape", c_reshape),
    CASE("flatten", "flatten", c_flatten),
    CASE("concat", "concat three inputs along 1", c_concat),
    CASE("concat", "concat along 0", c_concat_rows),
    CASE("dropout", "dropout [N, C] (eval value, held gradient)", c_dropout),
    CASE("dropout", "dropout [N, C, H, W]", c_dropout_4d),
    CASE("batch_norm", "batch_norm [N, C]", c_batch_norm),
    CASE("batch_norm", "batch_norm [N, C, H, W]", c_batch_norm_4d),
    CASE("matmul", "matmul batch 3", c_matmul),
    CASE("bias_add", "bias_add batch 3", c_bias_add),
    CASE("affine", "affine batch 3", c_affine),
    CASE("sigmoid", "sigmoid", c_sigmoid),
    CASE("relu", "relu", c_relu),
    CASE("leaky_relu", "leaky_relu slope 0.1", c_leaky_relu),
    CASE("tanh", "tanh", c_tanh),
    CASE("softmax", "softmax rows", c_softmax),
    CASE("softmax", "softmax vector", c_softmax_vector),
    CASE("softmax_with_loss", "softmax_with_loss class indices", c_softmax_loss_index),
    CASE("softmax_with_loss", "softmax_with_loss one-hot", c_softmax_loss_one_hot),
    CASE("softmax_with_loss", "softmax_with_loss soft targets", c_softmax_loss_soft),
    CASE("cross_entropy", "cross_entropy one-hot", c_cross_entropy_one_hot),
    CASE("cross_entropy", "cross_entropy class indices", c_cross_entropy_index),
    CASE("bce_with_logits", "bce_with_logits", c_bce),
    CASE("sse", "sse", c_sse),
    CASE("half_sse", "half_sse", c_half_sse),
    CASE("mse", "mse", c_mse),
    CASE("sae", "sae", c_sae),
};

#define CASE_COUNT ((int)(sizeof cases / sizeof cases[0]))
_Static_assert(sizeof cases / sizeof cases[0] <= MAX_CASES, "raise MAX_CASES");

/* Fails for an op of nb_op_names() without a case whose gradient check
 * passed: a new op must come with its check. Runs after all cases. */
static void test_every_op_has_a_gradient_check(void **state)
{
    (void)state;
    const char *const *names = nb_op_names();
    int ops = 0;
    double worst = 0;
    /* convolution and pooling: tests/test_conv.c checks them */
    const char *elsewhere = " conv2d max_pool2d avg_pool2d global_avg_pool ";
    for (; names[ops]; ops++) {
        char word[64];
        snprintf(word, sizeof word, " %s ", names[ops]);
        if (strstr(elsewhere, word)) continue;
        double op_worst = -1;
        for (int i = 0; i < CASE_COUNT; i++)
            if (strcmp(cases[i].op, names[ops]) == 0 && cases[i].checked)
                op_worst = fmax(op_worst, cases[i].max_rel);
        if (op_worst < 0) fail_msg("op \"%s\" has no passing gradient check", names[ops]);
        print_message("  %-18s worst relative gradient error %.3g\n", names[ops], op_worst);
        worst = fmax(worst, op_worst);
    }
    assert_true(ops >= 29); /* the 29 ops this suite was written for, at least */
    print_message("  all ops: worst %.3g (bound %g, eps %g)\n", worst, GC_BOUND, GC_EPS);
}

/* --------------------------------------------------------- shape errors */

static void expect_shape_error(nb_graph *g, nb_node y, const char *const *parts)
{
    assert_int_equal(y, NB_NONE);
    assert_int_equal(nb_graph_status(g), NB_ERR_SHAPE);
    const char *msg = nb_last_error();
    for (; *parts; parts++)
        if (!strstr(msg, *parts)) fail_msg("message \"%s\" lacks \"%s\"", msg, *parts);
    assert_int_equal(nb_graph_compile(g), NB_ERR_SHAPE);
    nb_graph_free(g);
}

static void test_shape_error_arith(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node in[2] = {nb_input(g, "a", nb_shape2(2, 3)), nb_input(g, "b", nb_shape2(3, 2))};
    const char *parts[] = {"add", "\"bad_add\"", "\"a\" [2, 3]", "\"b\" [3, 2]", NULL};
    expect_shape_error(g, nb_apply(g, "add", "bad_add", 2, in), parts);

    g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(2, 3));
    const int64_t dims[2] = {4, 2};
    nb_attr shape = nb_attr_ints("shape", 2, dims);
    nb_node y = nb_apply_attrs(g, "reshape", "bad_reshape", 1, &x, 1, &shape);
    const char *parts2[] = {"reshape", "\"bad_reshape\"", "\"x\" [2, 3]", "(4, 2)", NULL};
    expect_shape_error(g, y, parts2);
}

static void test_shape_error_matmul(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node in[3] = {nb_input(g, "x", nb_shape2(3, 4)),
                     nb_param(g, "w", nb_shape2(4, 5), nb_init_zeros()),
                     nb_param(g, "b", nb_shape1(4), nb_init_zeros())};
    const char *parts[] = {"affine", "\"fc\"", "\"x\" [3, 4]", "\"w\" [4, 5]", "\"b\" [4]", NULL};
    expect_shape_error(g, nb_apply(g, "affine", "fc", 3, in), parts);

    g = nb_graph_create();
    nb_node in2[2] = {nb_input(g, "x", nb_shape2(3, 5)),
                      nb_param(g, "b", nb_shape1(4), nb_init_zeros())};
    const char *parts2[] = {"bias_add", "\"plus_b\"", "\"x\" [3, 5]", "\"b\" [4]", NULL};
    expect_shape_error(g, nb_apply(g, "bias_add", "plus_b", 2, in2), parts2);
}

static void test_shape_error_loss(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node in[2] = {nb_input(g, "y", nb_shape2(2, 3)), nb_input(g, "t", nb_shape2(3, 2))};
    const char *parts[] = {"sse", "\"err\"", "\"y\" [2, 3]", "\"t\" [3, 2]", NULL};
    expect_shape_error(g, nb_apply(g, "sse", "err", 2, in), parts);

    g = nb_graph_create();
    nb_node in2[2] = {nb_input(g, "logits", nb_shape2(4, 3)), nb_input(g, "t", nb_shape1(5))};
    const char *parts2[] = {"softmax_with_loss", "\"ce\"", "\"logits\" [4, 3]", "\"t\" [5]", NULL};
    expect_shape_error(g, nb_apply(g, "softmax_with_loss", "ce", 2, in2), parts2);
}

/* Activations are element-wise (softmax per row of any shape): no shape
 * can be wrong, so their family's error is the arity instead. */
static void test_arity_error_activation(void **state)
{
    (void)state;
    nb_graph *g = nb_graph_create();
    nb_node in[2] = {nb_input(g, "a", nb_shape1(3)), nb_input(g, "b", nb_shape1(3))};
    assert_int_equal(nb_apply(g, "relu", "r", 2, in), NB_NONE);
    assert_int_equal(nb_graph_status(g), NB_ERR_ARGUMENT);
    assert_non_null(
        strstr(nb_last_error(), "op relu takes 1 input, got 2")); /* one, not "1 inputs" */
    nb_graph_free(g);
}

/* A class index that is no class is refused by the forward pass, naming
 * the node, the row and the value; backward then has nothing to run on. */
static void test_bad_class_index_is_refused(void **state)
{
    (void)state;
    const char *ops[] = {"softmax_with_loss", "cross_entropy"};
    const nb_real bad[5][2] = {
        {0, 3}, {-1, 0}, {0.5f, 1}, {0, (nb_real)NAN}, {1, (nb_real)INFINITY}};
    const char *want[5] = {"target row 1 is 3,", "target row 0 is -1,", "target row 0 is 0.5,",
                           "target row 1 is nan,", "target row 1 is inf,"};
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 5; k++) {
            nb_graph *g = nb_graph_create();
            nb_real x[6] = {0.1f, 0.2f, 0.7f, 0.3f, 0.3f, 0.4f};
            nb_node in[2] = {nb_param(g, "x", nb_shape2(2, 3), nb_init_zeros()),
                             nb_input(g, "t", nb_shape1(2))};
            nb_node l = nb_apply(g, ops[o], "loss", 2, in);
            assert_ok(nb_graph_compile(g));
            memcpy(nb_node_value(g, in[0]), x, sizeof x);
            assert_ok(nb_graph_feed(g, in[1], bad[k], 2));
            nb_clear_error();
            assert_int_equal(nb_graph_forward(g), NB_ERR_ARGUMENT);
            const char *msg = nb_last_error();
            if (!strstr(msg, ops[o]) || !strstr(msg, "\"loss\"") || !strstr(msg, want[k]) ||
                !strstr(msg, "not a class index (a whole number in 0..2)"))
                fail_msg("%s, case %d: \"%s\"", ops[o], k, msg);
            assert_int_equal(nb_graph_backward(g, l), NB_ERR_STATE);
            /* a good target works again */
            const nb_real good[2] = {2, 0};
            assert_ok(nb_graph_feed(g, in[1], good, 2));
            assert_ok(nb_graph_forward(g));
            assert_true(isfinite(nb_node_value(g, l)[0]));
            assert_ok(nb_graph_backward(g, l));
            nb_graph_free(g);
        }
}

/* ------------------------------------------------------- the extremes */

#ifdef NABLA_DOUBLE
#define REAL_MAX DBL_MAX
#else
#define REAL_MAX FLT_MAX
#endif

/* A graph of one op on an input x (with gradients) and a constant target,
 * forward and backward done. */
typedef struct extreme {
    nb_graph *g;
    nb_node x, y;
} extreme;

static extreme run_extreme(const char *op, nb_shape xs, const nb_real *x, nb_shape ts,
                           const nb_real *t)
{
    extreme e;
    e.g = nb_graph_create();
    e.x = nb_input(e.g, "x", xs);
    nb_node in[2] = {e.x, t ? nb_constant(e.g, "t", ts, t) : NB_NONE};
    e.y = nb_apply(e.g, op, "y", t ? 2 : 1, in);
    nb_node loss = nb_shape_count(xs) > 1 && !t ? nb_sum(e.g, e.y) : e.y;
    assert_ok(nb_input_set_grad(e.g, e.x, 1));
    assert_ok(nb_graph_compile(e.g));
    assert_ok(nb_graph_feed(e.g, e.x, x, nb_shape_count(xs)));
    assert_ok(nb_graph_forward(e.g));
    assert_ok(nb_graph_backward(e.g, loss));
    return e;
}

/* logits [-L, L, L] in each of two rows, class 0 (as an index or one-hot):
 * p = [0, .5, .5] exactly, so dL/dx = [-1, .5, .5] / 2 (the batch mean)
 * bit for bit, and L = 2L + log 2 wherever that is representable. Before,
 * log p = x - lse lost log 2 in lse's rounding: [-1, .4999, .4999] at 1e4,
 * [-1, 1, 1] at 1e30. */
static void test_softmax_with_loss_extremes(void **state)
{
    (void)state;
    const double big[] = {1e4, 1e30, REAL_MAX / 4, REAL_MAX / 2, REAL_MAX};
    for (size_t b = 0; b < sizeof big / sizeof big[0]; b++)
        for (int one_hot = 0; one_hot < 2; one_hot++)
            for (int cls = 0; cls < 2; cls++) {
                nb_real L = (nb_real)big[b];
                nb_real x[6] = {-L, L, L, -L, L, L};
                nb_real index[2] = {(nb_real)cls, (nb_real)cls};
                nb_real hot[6] = {0};
                hot[cls] = hot[3 + cls] = 1;
                extreme e =
                    run_extreme("softmax_with_loss", nb_shape2(2, 3), x,
                                one_hot ? nb_shape2(2, 3) : nb_shape1(2), one_hot ? hot : index);
                const nb_real *dx = nb_node_grad(e.g, e.x);
                /* class 0: p - t = [-1, .5, .5]; class 1: [0, -.5, .5] */
                const nb_real want[2][3] = {{-0.5, 0.25, 0.25}, {0, -0.25, 0.25}};
                for (int i = 0; i < 6; i++)
                    if (dx[i] != want[cls][i % 3])
                        fail_msg("L %g, one-hot %d, class %d: dx[%d] = %.17g, expected %g",
                                 (double)L, one_hot, cls, i, (double)dx[i], want[cls][i % 3]);
                double loss = nb_node_value(e.g, e.y)[0];
                double exact = cls ? log(2.0) : 2.0 * (double)L + log(2.0);
                if (exact <= REAL_MAX)
                    assert_near(loss, exact, TOL);
                else /* only where the true value is past the type's range */
                    assert_true(isinf(loss) && loss > 0);
                nb_graph_free(e.g);
            }
}

/* softmax [-L, L, L] = [0, .5, .5]; sigmoid and tanh saturate to exact
 * 0, 1 and -1, 1 with finite gradients; exp and log at the ends of the range. */
static void test_activations_extremes(void **state)
{
    (void)state;
    const nb_real L = (nb_real)REAL_MAX;
    nb_real x[3] = {-L, L, L};
    extreme e = run_extreme("softmax", nb_shape2(1, 3), x, nb_shape0(), NULL);
    const nb_real *y = nb_node_value(e.g, e.y);
    assert_true(y[0] == 0 && y[1] == 0.5 && y[2] == 0.5);
    assert_true(nb_values_finite(nb_node_grad(e.g, e.x), 3));
    nb_graph_free(e.g);

    nb_real ends[4] = {-L, L, -(nb_real)1e30, (nb_real)1e30};
    const char *ops[] = {"sigmoid", "tanh"};
    for (int o = 0; o < 2; o++) {
        e = run_extreme(ops[o], nb_shape1(4), ends, nb_shape0(), NULL);
        y = nb_node_value(e.g, e.y);
        nb_real lo = o ? -1 : 0;
        assert_true(y[0] == lo && y[1] == 1 && y[2] == lo && y[3] == 1);
        assert_true(nb_values_finite(nb_node_grad(e.g, e.x), 4));
        nb_graph_free(e.g);
    }
    nb_real small[2] = {-L, 0};
    e = run_extreme("exp", nb_shape1(2), small, nb_shape0(), NULL);
    y = nb_node_value(e.g, e.y);
    assert_true(y[0] == 0 && y[1] == 1);
    nb_graph_free(e.g);
    nb_real pos[2] = {L, 1};
    e = run_extreme("log", nb_shape1(2), pos, nb_shape0(), NULL);
    y = nb_node_value(e.g, e.y);
    assert_near(y[0], log((double)L), TOL);
    assert_true(y[1] == 0);
    nb_graph_free(e.g);
}

/* Means whose sums overflow: mean, mse and bce_with_logits of values near
 * the type's maximum stay finite and right. */
static void test_means_extremes(void **state)
{
    (void)state;
    const nb_real L = (nb_real)REAL_MAX;
    nb_real two[2] = {L, L};
    extreme e = run_extreme("mean", nb_shape1(2), two, nb_shape0(), NULL);
    assert_near(nb_node_value(e.g, e.y)[0], (double)L, TOL);
    nb_graph_free(e.g);

    /* bce: l(L, 0) = L; l(-L, 0) = l(L, 1) = 0; l(-L, 1) = L */
    nb_real x[4] = {L, -L, L, -L}, t[4] = {0, 0, 1, 1};
    e = run_extreme("bce_with_logits", nb_shape1(4), x, nb_shape1(4), t);
    assert_near(nb_node_value(e.g, e.y)[0], (double)L / 2, TOL);
    const nb_real *dx = nb_node_grad(e.g, e.x);
    assert_true(dx[0] == 0.25 && dx[1] == 0 && dx[2] == 0 && dx[3] == -0.25);
    nb_graph_free(e.g);

    /* mse of r = 1e150 (double) / 1e18 (float): r^2 overflows only a
     * float's range, never the double sum's, until the double build */
    nb_real r = (nb_real)(sizeof(nb_real) == 8 ? 1e154 : 1e18);
    nb_real yv[2] = {r, r}, tv[2] = {0, 0};
    e = run_extreme("mse", nb_shape1(2), yv, nb_shape1(2), tv);
    double want = (double)r * (double)r;
    if (want <= REAL_MAX) assert_near(nb_node_value(e.g, e.y)[0], want, TOL);
    nb_graph_free(e.g);

    /* cross-entropy of p = [0, .5, .5]: class 0 is -log(delta), class 1 log 2 */
    nb_real p[6] = {0, 0.5, 0.5, 0, 0.5, 0.5}, cls[2] = {0, 1};
    e = run_extreme("cross_entropy", nb_shape2(2, 3), p, nb_shape1(2), cls);
    assert_near(nb_node_value(e.g, e.y)[0], (-log(1e-7) - log(0.5 + 1e-7)) / 2, 1e-5);
    assert_true(nb_values_finite(nb_node_grad(e.g, e.x), 6));
    nb_graph_free(e.g);
}

int main(void)
{
    struct CMUnitTest tests[MAX_CASES + 8];
    int n = 0;
    for (int i = 0; i < CASE_COUNT; i++) {
        memset(&tests[n], 0, sizeof tests[n]);
        tests[n].name = cases[i].label;
        tests[n].test_func = run_case;
        tests[n].initial_state = &cases[i];
        n++;
    }
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_every_op_has_a_gradient_check),
        cmocka_unit_test(test_shape_error_arith),
        cmocka_unit_test(test_shape_error_matmul),
        cmocka_unit_test(test_shape_error_loss),
        cmocka_unit_test(test_arity_error_activation),
        cmocka_unit_test(test_bad_class_index_is_refused),
        cmocka_unit_test(test_softmax_with_loss_extremes),
        cmocka_unit_test(test_activations_extremes),
        cmocka_unit_test(test_means_extremes),
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) tests[n++] = fixed[i];
    return _cmocka_run_group_tests("test_ops", tests, (size_t)n, NULL, NULL);
}
