/* Initialisers and random numbers. Statistical checks use large samples and
 * a tolerance of 5 standard errors of the statistic (a false alarm about
 * once in 1.7 million for a normal statistic); the seeds are fixed, so the
 * outcome is the same on every run. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define SIGMAS 5.0

typedef struct stats {
    double mean, sd, min, max;
    double within_1sd; /* fraction with |v - mean| < sd */
} stats;

static stats stats_of(const nb_real *v, size_t n)
{
    stats s = {0, 0, v[0], v[0], 0};
    for (size_t i = 0; i < n; i++) {
        s.mean += v[i];
        s.min = fmin(s.min, v[i]);
        s.max = fmax(s.max, v[i]);
    }
    s.mean /= (double)n;
    for (size_t i = 0; i < n; i++) s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(s.sd / (double)(n - 1));
    for (size_t i = 0; i < n; i++) s.within_1sd += fabs(v[i] - s.mean) < s.sd;
    s.within_1sd /= (double)n;
    return s;
}

static void check_within(double got, double want, double standard_error, const char *what)
{
    if (!(fabs(got - want) <= SIGMAS * standard_error))
        fail_msg("%s = %.6g, expected %.6g +- %.3g", what, got, want, SIGMAS * standard_error);
}

/* U(lo, hi): mean (lo + hi) / 2 with standard error w / sqrt(12 n); the
 * sample deviation w / sqrt(12) with standard error sqrt(mu4 - s^4) / (2 s
 * sqrt(n)), mu4 = w^4 / 80 and s^4 = w^4 / 144; the whole range is used
 * (no sample in the outer 0.1% at either end has probability e^-100). */
static void check_uniform(const nb_real *v, size_t n, double lo, double hi, const char *what)
{
    stats s = stats_of(v, n);
    double w = hi - lo, sd = w / sqrt(12.0);
    char buf[128];
    /* Rounding to nb_real is monotonic: values stay within the rounded bounds. */
    assert_true(s.min >= (nb_real)lo && s.max <= (nb_real)hi);
    assert_true(s.min < lo + 1e-3 * w && s.max > hi - 1e-3 * w);
    snprintf(buf, sizeof buf, "%s mean", what);
    check_within(s.mean, (lo + hi) / 2, sd / sqrt((double)n), buf);
    snprintf(buf, sizeof buf, "%s deviation", what);
    double se_sd = sqrt(pow(w, 4) / 80 - pow(w, 4) / 144) / (2 * sd * sqrt((double)n));
    check_within(s.sd, sd, se_sd, buf);
}

/* N(mean, dev^2): mean with standard error dev / sqrt(n), deviation with
 * dev / sqrt(2 n), and 68.27% within one deviation (standard error
 * sqrt(p (1 - p) / n)): a uniform of the same deviation has 57.7%. */
static void check_normal(const nb_real *v, size_t n, double mean, double dev, const char *what)
{
    stats s = stats_of(v, n);
    char buf[128];
    snprintf(buf, sizeof buf, "%s mean", what);
    check_within(s.mean, mean, dev / sqrt((double)n), buf);
    snprintf(buf, sizeof buf, "%s deviation", what);
    check_within(s.sd, dev, dev / sqrt(2.0 * (double)n), buf);
    snprintf(buf, sizeof buf, "%s fraction within 1 deviation", what);
    const double p = 0.682689492137;
    check_within(s.within_1sd, p, sqrt(p * (1 - p) / (double)n), buf);
}

static nb_real *fill(nb_init init, nb_shape shape, uint64_t seed)
{
    size_t n = nb_shape_count(shape);
    nb_real *v = malloc(n * sizeof *v);
    assert_non_null(v);
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    nb_init_fill(init, shape, v, &rng);
    return v;
}

enum { FAN_IN = 200, FAN_OUT = 300, COUNT = FAN_IN * FAN_OUT };

static void test_constant_kinds(void **state)
{
    (void)state;
    nb_real *v = fill(nb_init_zeros(), nb_shape2(3, 4), 1);
    for (int i = 0; i < 12; i++) assert_true(v[i] == 0);
    free(v);
    v = fill(nb_init_constant(-2.5), nb_shape3(2, 3, 4), 1);
    for (int i = 0; i < 24; i++) assert_true(v[i] == (nb_real)-2.5);
    free(v);
}

static void test_uniform_and_normal(void **state)
{
    (void)state;
    nb_shape s = nb_shape2(FAN_IN, FAN_OUT);
    nb_real *v = fill(nb_init_uniform(-0.5, 1.5), s, 11);
    check_uniform(v, COUNT, -0.5, 1.5, "uniform(-0.5, 1.5)");
    free(v);
    v = fill(nb_init_normal(3, 0.5), s, 12);
    check_normal(v, COUNT, 3, 0.5, "normal(3, 0.5)");
    free(v);
}

/* Xavier: r = sqrt(6 / (fan_in + fan_out)), deviation sqrt(2 / (fan_in +
 * fan_out)); He: the same with fan_in alone. fan_in, fan_out = dim 0, 1. */
static void test_xavier_and_he(void **state)
{
    (void)state;
    nb_shape s = nb_shape2(FAN_IN, FAN_OUT);
    const double fans = FAN_IN + FAN_OUT;
    nb_real *v = fill(nb_init_xavier(), s, 21);
    check_uniform(v, COUNT, -sqrt(6 / fans), sqrt(6 / fans), "xavier uniform");
    free(v);
    v = fill((nb_init){NB_INIT_XAVIER_NORMAL, 0, 0, 0, 0}, s, 22);
    check_normal(v, COUNT, 0, sqrt(2 / fans), "xavier normal");
    free(v);
    v = fill((nb_init){NB_INIT_HE_UNIFORM, 0, 0, 0, 0}, s, 23);
    check_uniform(v, COUNT, -sqrt(6.0 / FAN_IN), sqrt(6.0 / FAN_IN), "he uniform");
    free(v);
    v = fill(nb_init_he(), s, 24);
    check_normal(v, COUNT, 0, sqrt(2.0 / FAN_IN), "he normal");
    free(v);
    /* A 1-D parameter counts its length as both fans. */
    v = fill(nb_init_xavier(), nb_shape1(COUNT), 25);
    check_uniform(v, COUNT, -sqrt(6.0 / (2 * COUNT)), sqrt(6.0 / (2 * COUNT)), "xavier 1-D");
    free(v);
}

static void test_same_seed_same_bits(void **state)
{
    (void)state;
    nb_init kinds[] = {nb_init_uniform(-1, 1), nb_init_normal(0, 1), nb_init_xavier(),
                       nb_init_he()};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        nb_real *a = fill(kinds[k], nb_shape2(30, 40), 99);
        nb_real *b = fill(kinds[k], nb_shape2(30, 40), 99);
        nb_real *c = fill(kinds[k], nb_shape2(30, 40), 100);
        assert_memory_equal(a, b, 1200 * sizeof *a);
        assert_memory_not_equal(a, c, 1200 * sizeof *a);
        free(a);
        free(b);
        free(c);
    }
    /* Through a graph: every parameter by its own init, in creation order. */
    nb_real got[2][3 * 4 + 4];
    for (int run = 0; run < 2; run++) {
        nb_graph *g = nb_graph_create();
        nb_node x = nb_input(g, "x", nb_shape2(2, 3));
        nb_node y = nb_dense(g, x, 4, "fc", nb_init_xavier());
        nb_node c = nb_param(g, "c", nb_shape0(), nb_init_constant(7));
        assert_int_not_equal(nb_mul(g, y, c), NB_NONE);
        assert_ok(nb_graph_compile(g));
        nb_rng rng;
        nb_rng_seed(&rng, 5);
        assert_ok(nb_graph_init_params(g, &rng));
        size_t count;
        nb_real *p = nb_graph_params(g, &count);
        assert_int_equal(count, 3 * 4 + 4 + 1);
        memcpy(got[run], p, sizeof got[run]);
        /* The weight by the same stream as a direct fill; bias zeros; c. */
        nb_real *want = fill(nb_init_xavier(), nb_shape2(3, 4), 5);
        assert_memory_equal(p, want, 12 * sizeof *p);
        free(want);
        for (int i = 12; i < 16; i++) assert_true(p[i] == 0);
        assert_true(p[16] == 7);
        nb_graph_free(g);
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
}

/* xoshiro256** seeded by splitmix64: the first outputs for seeds 0 and
 * 12345, from a separate implementation of both published algorithms
 * (Python integers, masked to 64 bits). */
static void test_rng_known_values(void **state)
{
    (void)state;
    const uint64_t want[2][3] = {
        {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL},
        {0xbe6a36374160d49bULL, 0x214aaa0637a688c6ULL, 0xf69d16de9954d388ULL},
    };
    const uint64_t seeds[2] = {0, 12345};
    for (int s = 0; s < 2; s++) {
        nb_rng rng;
        nb_rng_seed(&rng, seeds[s]);
        for (int i = 0; i < 3; i++) assert_true(nb_rng_next(&rng) == want[s][i]);
    }
}

static void test_rng_uniform_and_normal(void **state)
{
    (void)state;
    enum { DRAWS = 1000000 };
    nb_rng rng;
    nb_rng_seed(&rng, 7);
    double sum = 0, lo = 1, hi = 0;
    for (int i = 0; i < DRAWS; i++) {
        double u = nb_rng_uniform(&rng);
        assert_true(u >= 0 && u < 1);
        sum += u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    check_within(sum / DRAWS, 0.5, 1 / sqrt(12.0 * DRAWS), "uniform mean");
    assert_true(lo < 1e-4 && hi > 1 - 1e-4);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < DRAWS; i++) {
        double z = nb_rng_normal(&rng);
        assert_true(isfinite(z));
        s1 += z;
        s2 += z * z;
    }
    check_within(s1 / DRAWS, 0, 1 / sqrt((double)DRAWS), "normal mean");
    check_within(s2 / DRAWS, 1, sqrt(2.0 / DRAWS), "normal second moment");
}

static void test_rng_below(void **state)
{
    (void)state;
    nb_rng rng;
    nb_rng_seed(&rng, 8);
    assert_true(nb_rng_below(&rng, 1) == 0);
    /* Seven buckets over 70000 draws: chi-square with 6 degrees of freedom
     * exceeds 38.5 with probability 1e-6. */
    long counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t r = nb_rng_below(&rng, 7);
        assert_true(r < 7);
        counts[r]++;
    }
    double chi2 = 0;
    for (int k = 0; k < 7; k++) chi2 += (counts[k] - 10000.0) * (counts[k] - 10000.0) / 10000.0;
    if (!(chi2 < 38.5)) fail_msg("chi-square %g over 7 buckets", chi2);
    /* n = 3 * 2^62, where 2^64 / n = 4/3 inputs per output: a plain x % n
     * puts 3/4 of the draws below 2^63 (the low 2^62 values twice), a
     * multiply-shift floor(x n / 2^64) without rejection hits multiples of
     * 3 twice as often (1/2 of the draws); unbiased gives 2/3 and 1/3. */
    const uint64_t n = 3ULL << 62;
    long below = 0, multiples = 0;
    enum { DRAWS = 100000 };
    for (int i = 0; i < DRAWS; i++) {
        uint64_t r = nb_rng_below(&rng, n);
        assert_true(r < n);
        below += r < (1ULL << 63);
        multiples += r % 3 == 0;
    }
    check_within((double)below / DRAWS, 2.0 / 3, sqrt(2.0 / 9 / DRAWS), "fraction below 2^63");
    check_within((double)multiples / DRAWS, 1.0 / 3, sqrt(2.0 / 9 / DRAWS),
                 "fraction of multiples of 3");
}

static int compare_ints(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static void test_shuffle(void **state)
{
    (void)state;
    enum { COUNT_ITEMS = 1000 };
    int items[COUNT_ITEMS];
    for (int i = 0; i < COUNT_ITEMS; i++) items[i] = i * 3;
    nb_rng rng;
    nb_rng_seed(&rng, 9);
    nb_rng_shuffle(&rng, items, COUNT_ITEMS);
    int moved = 0;
    for (int i = 0; i < COUNT_ITEMS; i++) moved += items[i] != i * 3;
    assert_true(moved > COUNT_ITEMS / 2);
    qsort(items, COUNT_ITEMS, sizeof items[0], compare_ints);
    for (int i = 0; i < COUNT_ITEMS; i++) assert_int_equal(items[i], i * 3);
    nb_rng_shuffle(&rng, items, 0); /* nothing to do, no crash */
    nb_rng_shuffle(&rng, items, 1);
    assert_int_equal(items[0], 0);
    /* All 6 orders of 3 items equally often: each count is binomial with
     * p = 1/6 over 60000 shuffles. */
    long seen[6] = {0};
    for (int t = 0; t < 60000; t++) {
        int v[3] = {0, 1, 2};
        nb_rng_shuffle(&rng, v, 3);
        seen[v[0] * 2 + (v[1] > v[2])]++;
    }
    for (int k = 0; k < 6; k++)
        check_within((double)seen[k], 10000, sqrt(60000 * (1 / 6.0) * (5 / 6.0)), "order count");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_kinds),   cmocka_unit_test(test_uniform_and_normal),
        cmocka_unit_test(test_xavier_and_he),    cmocka_unit_test(test_same_seed_same_bits),
        cmocka_unit_test(test_rng_known_values), cmocka_unit_test(test_rng_uniform_and_normal),
        cmocka_unit_test(test_rng_below),        cmocka_unit_test(test_shuffle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
