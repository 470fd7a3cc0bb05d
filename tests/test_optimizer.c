/* Optimizers: three steps on a small vector against the update rules written
 * out here in double arithmetic, a convex quadratic built as a graph that
 * each optimizer must shrink, names, and bad configurations. */
#include "check.h"

#include <string.h>

#define P     4
#define STEPS 3

static const double start[P] = {1.0, -2.0, 0.5, 3.0};
/* A different gradient on each step, so that state carried over between
 * steps (velocity, squared averages, step counter) is exercised. */
static const double grads[STEPS][P] = {
    {0.5, -1.2, 2.0, 0.01},
    {-0.3, 0.8, 1.5, -0.02},
    {0.9, -0.1, -2.5, 0.05},
};

/* The reference: PyTorch's formulations of each rule. g' = g + wd p (L2)
 * for all but AdamW, which first shrinks p by lr wd (decoupled). */
static void reference(const nb_optimizer_config *c, double p[P])
{
    double s0[P] = {0}, s1[P] = {0};
    for (int t = 1; t <= STEPS; t++)
        for (int i = 0; i < P; i++) {
            double g = grads[t - 1][i];
            if (c->kind != NB_OPT_ADAMW) g += c->weight_decay * p[i];
            switch (c->kind) {
            case NB_OPT_SGD:
                p[i] -= c->lr * g;
                break;
            case NB_OPT_MOMENTUM:
                s0[i] = c->momentum * s0[i] + g;
                p[i] -= c->lr * s0[i];
                break;
            case NB_OPT_NESTEROV:
                s0[i] = c->momentum * s0[i] + g;
                p[i] -= c->lr * (g + c->momentum * s0[i]);
                break;
            case NB_OPT_ADAGRAD:
                s0[i] += g * g;
                p[i] -= c->lr * g / (sqrt(s0[i]) + c->eps);
                break;
            case NB_OPT_RMSPROP:
                s0[i] = c->rho * s0[i] + (1 - c->rho) * g * g;
                p[i] -= c->lr * g / (sqrt(s0[i]) + c->eps);
                break;
            case NB_OPT_ADAM:
            case NB_OPT_ADAMW: {
                if (c->kind == NB_OPT_ADAMW) p[i] *= 1 - c->lr * c->weight_decay;
                s0[i] = c->beta1 * s0[i] + (1 - c->beta1) * g;
                s1[i] = c->beta2 * s1[i] + (1 - c->beta2) * g * g;
                double m = s0[i] / (1 - pow(c->beta1, t));
                double v = s1[i] / (1 - pow(c->beta2, t));
                p[i] -= c->lr * m / (sqrt(v) + c->eps);
                break;
            }
            }
        }
}

static nb_optimizer_config config_for(nb_optimizer_kind kind, double weight_decay)
{
    nb_optimizer_config c = nb_optimizer_defaults(kind);
    /* Settings away from the defaults, so a hard-coded default would show. */
    c.lr = 0.1;
    c.momentum = 0.8;
    c.rho = 0.9;
    c.beta1 = 0.85;
    c.beta2 = 0.99;
    c.eps = 1e-6;
    c.weight_decay = weight_decay;
    return c;
}

static void check_steps(nb_optimizer_kind kind, double weight_decay)
{
    nb_optimizer_config c = config_for(kind, weight_decay);
    nb_optimizer *opt;
    assert_ok(nb_optimizer_create(&c, P, &opt));
    nb_real p[P], g[P];
    double want[P];
    for (int i = 0; i < P; i++) p[i] = (nb_real)(want[i] = start[i]);
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < P; i++) g[i] = (nb_real)grads[t][i];
        nb_optimizer_step(opt, p, g, c.lr);
    }
    reference(&c, want);
    for (int i = 0; i < P; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s (wd %g) p[%d]", nb_optimizer_name(kind), weight_decay, i);
        /* The library computes in nb_real: float rounding in the float build. */
        check_near(p[i], want[i], TOL * 10, what, __LINE__);
        /* The parameter really moved: the check is not vacuous. */
        assert_true(fabs(want[i] - start[i]) > 1e-4);
    }
    assert_int_equal(*nb_optimizer_steps(opt), STEPS);
    nb_optimizer_free(opt);
}

static void test_update_rules(void **state)
{
    (void)state;
    for (int k = NB_OPT_SGD; k <= NB_OPT_ADAMW; k++) {
        check_steps((nb_optimizer_kind)k, 0.0);
        check_steps((nb_optimizer_kind)k, 0.05);
    }
}

/* AdamW's decay is decoupled: with a zero gradient Adam's L2 term still
 * goes through the moment estimates (a step of about lr), AdamW only
 * shrinks p by the factor (1 - lr wd). */
static void test_adamw_is_decoupled(void **state)
{
    (void)state;
    nb_optimizer_config c = config_for(NB_OPT_ADAMW, 0.1);
    nb_optimizer *opt;
    assert_ok(nb_optimizer_create(&c, 1, &opt));
    nb_real p = 2, g = 0;
    nb_optimizer_step(opt, &p, &g, c.lr);
    assert_near(p, 2 * (1 - 0.1 * 0.1), TOL);
    nb_optimizer_free(opt);
    c.kind = NB_OPT_ADAM;
    assert_ok(nb_optimizer_create(&c, 1, &opt));
    p = 2;
    nb_optimizer_step(opt, &p, &g, c.lr);
    /* g' = 0.2: m^ = 0.2, v^ = 0.04, step = lr 0.2 / (0.2 + eps) */
    assert_near(p, 2 - 0.1 * 0.2 / (0.2 + 1e-6), TOL * 10);
    nb_optimizer_free(opt);
}

/* L = sum_i c_i (p_i - target_i)^2, a convex bowl with different curvatures;
 * each optimizer must cut it to a twentieth in 200 steps. */
static void test_reduces_quadratic(void **state)
{
    (void)state;
    const nb_real target[P] = {0.5, -1.0, 2.0, 0.0};
    const nb_real curve[P] = {1.0, 3.0, 0.5, 2.0};
    /* Learning rates suited to each rule on this bowl (curvatures 1..6). */
    const double lr[] = {0.05, 0.02, 0.02, 0.5, 0.02, 0.05, 0.05};
    for (int k = NB_OPT_SGD; k <= NB_OPT_ADAMW; k++) {
        nb_graph *g = nb_graph_create();
        nb_node p = nb_param(g, "p", nb_shape1(P), nb_init_uniform(-3, 3));
        nb_node t = nb_constant(g, "target", nb_shape1(P), target);
        nb_node c = nb_constant(g, "curve", nb_shape1(P), curve);
        nb_node loss = nb_sum(g, nb_mul(g, c, nb_square(g, nb_sub(g, p, t))));
        assert_ok(nb_graph_compile(g));
        nb_rng rng;
        nb_rng_seed(&rng, 42);
        assert_ok(nb_graph_init_params(g, &rng));
        nb_optimizer_config cfg = nb_optimizer_defaults((nb_optimizer_kind)k);
        cfg.lr = lr[k];
        nb_optimizer *opt;
        size_t count;
        nb_real *params = nb_graph_params(g, &count);
        assert_int_equal(count, P);
        assert_ok(nb_optimizer_create(&cfg, count, &opt));
        double first = 0, last = 0;
        for (int step = 0; step < 200; step++) {
            assert_ok(nb_graph_forward(g));
            assert_ok(nb_graph_backward(g, loss));
            last = nb_node_value(g, loss)[0];
            if (step == 0) first = last;
            nb_optimizer_step(opt, params, nb_graph_param_grads(g, NULL), cfg.lr);
        }
        assert_ok(nb_graph_forward(g));
        last = nb_node_value(g, loss)[0];
        if (!(first > 1 && last < first / 20))
            fail_msg("%s: loss %g -> %g", nb_optimizer_name((nb_optimizer_kind)k), first, last);
        nb_optimizer_free(opt);
        nb_graph_free(g);
    }
}

static void test_names_round_trip(void **state)
{
    (void)state;
    const char *want[] = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"};
    for (int k = NB_OPT_SGD; k <= NB_OPT_ADAMW; k++) {
        assert_string_equal(nb_optimizer_name((nb_optimizer_kind)k), want[k]);
        nb_optimizer_kind back = NB_OPT_SGD;
        if (k == NB_OPT_SGD) back = NB_OPT_ADAMW;
        assert_ok(nb_optimizer_parse(nb_optimizer_name((nb_optimizer_kind)k), &back));
        assert_int_equal(back, k);
    }
    nb_optimizer_kind kind;
    assert_int_equal(nb_optimizer_parse("adamax", &kind), NB_ERR_NOT_FOUND);
    assert_non_null(strstr(nb_last_error(), "adamax"));
    assert_int_equal(nb_optimizer_parse("", &kind), NB_ERR_NOT_FOUND);
    assert_int_equal(nb_optimizer_parse(NULL, &kind), NB_ERR_NOT_FOUND);
    assert_int_equal(nb_optimizer_parse("SGD ", &kind), NB_ERR_NOT_FOUND);
}

static void test_defaults_and_slots(void **state)
{
    (void)state;
    const int slots[] = {0, 1, 1, 1, 1, 2, 2};
    for (int k = NB_OPT_SGD; k <= NB_OPT_ADAMW; k++) {
        nb_optimizer_config c = nb_optimizer_defaults((nb_optimizer_kind)k);
        assert_int_equal(c.kind, k);
        assert_near(c.lr, k >= NB_OPT_ADAM ? 0.001 : 0.01, 1e-15);
        nb_optimizer *opt;
        assert_ok(nb_optimizer_create(&c, 10, &opt));
        assert_int_equal(nb_optimizer_slot_count(opt), slots[k]);
        for (int s = 0; s < slots[k]; s++) {
            nb_real *v = nb_optimizer_slot(opt, s);
            assert_non_null(v);
            for (int i = 0; i < 10; i++) assert_true(v[i] == 0);
        }
        assert_null(nb_optimizer_slot(opt, slots[k]));
        assert_null(nb_optimizer_slot(opt, -1));
        assert_int_equal(*nb_optimizer_steps(opt), 0);
        assert_int_equal(nb_optimizer_get_config(opt)->kind, k);
        nb_optimizer_free(opt);
    }
}

static void test_bad_config(void **state)
{
    (void)state;
    const double bad_lr[] = {0.0, -0.1, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_lr / sizeof bad_lr[0]; i++) {
        nb_optimizer_config c = nb_optimizer_defaults(NB_OPT_ADAM);
        c.lr = bad_lr[i];
        nb_optimizer *opt = (nb_optimizer *)&c; /* must be reset to NULL */
        assert_int_equal(nb_optimizer_create(&c, 3, &opt), NB_ERR_ARGUMENT);
        assert_null(opt);
        assert_non_null(strstr(nb_last_error(), "learning rate"));
    }
    /* Settings that would divide by zero or diverge by construction. */
    struct {
        nb_optimizer_kind kind;
        size_t field; /* offsetof the bad double */
        double value;
        const char *word;
    } bad[] = {
        {NB_OPT_MOMENTUM, offsetof(nb_optimizer_config, momentum), -0.5, "momentum"},
        {NB_OPT_NESTEROV, offsetof(nb_optimizer_config, momentum), 1.0, "momentum"},
        {NB_OPT_RMSPROP, offsetof(nb_optimizer_config, rho), 1.5, "rho"},
        {NB_OPT_ADAM, offsetof(nb_optimizer_config, beta1), 1.0, "beta1"},
        {NB_OPT_ADAMW, offsetof(nb_optimizer_config, beta2), -0.1, "beta2"},
        {NB_OPT_ADAGRAD, offsetof(nb_optimizer_config, eps), 0.0, "eps"},
        {NB_OPT_SGD, offsetof(nb_optimizer_config, weight_decay), -1.0, "weight decay"},
        {NB_OPT_ADAM, offsetof(nb_optimizer_config, weight_decay), NAN, "weight decay"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_optimizer_config c = nb_optimizer_defaults(bad[i].kind);
        memcpy((char *)&c + bad[i].field, &bad[i].value, sizeof(double));
        nb_optimizer *opt;
        assert_int_equal(nb_optimizer_create(&c, 3, &opt), NB_ERR_ARGUMENT);
        assert_null(opt);
        if (!strstr(nb_last_error(), bad[i].word))
            fail_msg("message \"%s\" lacks \"%s\"", nb_last_error(), bad[i].word);
    }
    nb_optimizer_config c = nb_optimizer_defaults(NB_OPT_SGD);
    c.kind = (nb_optimizer_kind)99;
    nb_optimizer *opt;
    assert_int_equal(nb_optimizer_create(&c, 3, &opt), NB_ERR_ARGUMENT);
    assert_int_equal(nb_optimizer_create(NULL, 3, &opt), NB_ERR_ARGUMENT);
}

/* The guarded step equals the plain one bit for bit (over several guard
 * blocks), and a step that overflows is refused with the old values back. */
static void test_guarded_step(void **state)
{
    (void)state;
    enum { N = 5000 };
    static nb_real p1[N], p2[N], g[N], backup[N];
    nb_rng rng;
    nb_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++) {
        p1[i] = p2[i] = (nb_real)nb_rng_normal(&rng);
        g[i] = (nb_real)nb_rng_normal(&rng);
    }
    for (int kind = NB_OPT_SGD; kind <= NB_OPT_ADAMW; kind++) {
        nb_optimizer_config c = nb_optimizer_defaults((nb_optimizer_kind)kind);
        nb_optimizer *a, *b;
        assert_ok(nb_optimizer_create(&c, N, &a));
        assert_ok(nb_optimizer_create(&c, N, &b));
        for (int step = 0; step < 3; step++) {
            nb_optimizer_step(a, p1, g, c.lr);
            assert_ok(nb_optimizer_step_guarded(b, p2, g, c.lr, backup));
        }
        assert_memory_equal(p1, p2, sizeof p1);
        nb_optimizer_free(a);
        nb_optimizer_free(b);
    }
    nb_optimizer_config c = nb_optimizer_defaults(NB_OPT_SGD);
    nb_optimizer *o;
    assert_ok(nb_optimizer_create(&c, N, &o));
    static nb_real keep[N];
    memcpy(keep, p1, sizeof p1);
    g[N - 1] = (nb_real)INFINITY; /* only the last block goes bad */
    assert_int_equal(nb_optimizer_step_guarded(o, p1, g, 0.1, backup), NB_ERR_NUMERIC);
    assert_memory_equal(p1, keep, sizeof p1);
    assert_int_equal(*nb_optimizer_steps(o), 0);
    nb_optimizer_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_rules),       cmocka_unit_test(test_adamw_is_decoupled),
        cmocka_unit_test(test_reduces_quadratic),  cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_defaults_and_slots), cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_guarded_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
