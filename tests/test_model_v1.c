/* Model files of format version 1, written by nabla 0.1.0 before models
 * stored their graph, still load and predict as they did then. The files
 * and the predictions expected of them (tests/fixtures/model_v1) were made
 * by that release: v1_spiral.st (zscore scaler, leaky_relu:0.2 and tanh,
 * 3 classes), v1_sine.st (minmax scaler, a zscore target scaler). The
 * expected outputs come from its portable (no-BLAS) build and are matched
 * bit for bit there; OpenBLAS may sum a product in another order, so a
 * BLAS build is held to 16 units in the last place of max(|value|, 1). */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLES 40

#ifdef NABLA_DOUBLE
#define EXPECTED "expected_f64.txt"
#else
#define EXPECTED "expected_f32.txt"
#endif

#ifdef NABLA_USE_BLAS
#define ULPS_TOL (16 * (sizeof(nb_real) == 4 ? 1.2e-7 : 2.3e-16))
#else
#define ULPS_TOL 0.0
#endif

/* The inputs the expected outputs were computed for. */
static void make_inputs(nb_real *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = (nb_real)(-2.0 + 0.1 * i * (i % 3 ? 1 : -0.5));
}

static void check_file(FILE *expected, const char *name)
{
    char path[512], line[128];
    if (!fgets(line, sizeof line, expected)) fail_msg("%s: no header line", EXPECTED);
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, name);
    snprintf(path, sizeof path, "%s/tests/fixtures/model_v1/%s", NABLA_SOURCE_DIR, name);
    nb_model *m;
    assert_ok(nb_model_load(path, &m));
    int in = nb_model_inputs(m), out = nb_model_outputs(m);
    nb_real x[SAMPLES * 2], y[SAMPLES * 3];
    assert_true(in <= 2 && out <= 3);
    make_inputs(x, SAMPLES * in);
    assert_ok(nb_model_predict(m, x, SAMPLES, y));
    for (int i = 0; i < SAMPLES * out; i++) {
        if (!fgets(line, sizeof line, expected)) fail_msg("%s: too few values", EXPECTED);
        double want = strtod(line, NULL), got = (double)y[i];
        if (ULPS_TOL == 0.0 ? got != want : fabs(got - want) > ULPS_TOL * fmax(fabs(want), 1.0))
            fail_msg("%s: output %d is %a, version 1 predicted %a", name, i, got, want);
    }
    nb_model_free(m);
}

static void test_v1_files_predict_as_before(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/model_v1/%s", NABLA_SOURCE_DIR, EXPECTED);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    check_file(f, "v1_spiral.st");
    check_file(f, "v1_sine.st");
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_files_predict_as_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
