/* Regression targets: the target scaler (fit, invert, saved with the
 * model, inverted by predict), MAE, RMSE and R^2 in the original units
 * against values worked out by hand, non-finite inputs and outputs as
 * errors naming the sample, and a regression loss on one-hot classes. */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The hand-made case: one input, y' = w x + b with w = 1, b = -0.5 on
 * targets scaled by t' = (t - 5) * 0.5, so y = 2 y' + 5.
 *   x            0     1     2     3
 *   t            4     8     9    14
 *   y' (scaled) -0.5   0.5   1.5   2.5
 *   y            4     6     8    10
 *   y - t        0    -2    -1    -4
 * MAE = 7/4 = 1.75; RMSE = sqrt(21/4); mean t = 8.75, SS_tot = 22.5625 +
 * 0.5625 + 0.0625 + 27.5625 = 50.75, SS_res = 21, R^2 = 1 - 21/50.75.
 * The loss (mse on scaled targets t' = -0.5, 1.5, 2, 4.5): the errors are
 * 0, -1, -0.5, -2, so (0 + 1 + 0.25 + 4) / 4 = 1.3125. */
static nb_real hand_x[4] = {0, 1, 2, 3};
static const nb_real hand_t[4] = {4, 8, 9, 14};

static nb_model *hand_model(int batch)
{
    nb_model *m = NULL;
    assert_ok(nb_model_create("dense:1", 1, "mse", batch, &m));
    size_t count = 0;
    nb_real *p = nb_graph_params(nb_model_graph(m), &count);
    assert_int_equal(count, 2);
    p[0] = 1;    /* dense0.weight */
    p[1] = -0.5; /* dense0.bias */
    nb_real offset = 5, scale = 0.5;
    nb_scaler ts = {NB_SCALE_ZSCORE, 1, &offset, &scale};
    assert_ok(nb_model_set_target_scaler(m, &ts));
    return m;
}

static void check_hand_metrics(nb_model *m)
{
    nb_real y[4];
    memcpy(y, hand_t, sizeof y);
    nb_scaler_apply(nb_model_target_scaler(m), y, 4); /* the data, scaled as trained */
    nb_dataset d = {.count = 4, .features = 1, .targets = 1, .x = hand_x, .y = y};
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    assert_int_equal(met.samples, 4);
    assert_near(met.loss, 1.3125, TOL);
    assert_true(met.accuracy < 0);
    assert_near(met.mae, 1.75, TOL);
    assert_near(met.rmse, sqrt(21.0 / 4.0), TOL);
    assert_near(met.r2, 1 - 21 / 50.75, TOL);
    nb_metrics_free(&met);
}

static void test_hand_metrics(void **state)
{
    (void)state;
    /* Batches of 3 then 1, and of 4: the same sums. */
    for (int batch = 3; batch <= 4; batch++) {
        nb_model *m = hand_model(batch);
        check_hand_metrics(m);
        nb_real out[4];
        assert_ok(nb_model_predict(m, hand_x, 4, out));
        const double want[4] = {4, 6, 8, 10};
        for (int i = 0; i < 4; i++) assert_near(out[i], want[i], TOL);
        nb_model_free(m);
    }
}

/* Two targets: R^2 is the mean of each target's; a constant target counts
 * 1 when it is met exactly, else 0. */
static void test_r2_per_target(void **state)
{
    (void)state;
    nb_model *m = NULL;
    assert_ok(nb_model_create("dense:2", 1, "mse", 8, &m));
    size_t count = 0;
    nb_real *p = nb_graph_params(nb_model_graph(m), &count);
    assert_int_equal(count, 4);
    /* weight [1, 2] = (1, 0), bias (0, 7): y = (x, 7). */
    p[0] = 1, p[1] = 0, p[2] = 0, p[3] = 7;
    nb_real x[3] = {1, 2, 3};
    /* target 0: 1, 2, 5 (mean 8/3, SS_tot = 26/3, SS_res = 4);
     * target 1: 7, 7, 7 (constant, met exactly). */
    nb_real y[6] = {1, 7, 2, 7, 5, 7};
    nb_dataset d = {.count = 3, .features = 1, .targets = 2, .x = x, .y = y};
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    assert_near(met.mae, 2.0 / 6.0, TOL);
    assert_near(met.rmse, sqrt(4.0 / 6.0), TOL);
    assert_near(met.r2, ((1 - 4 / (26.0 / 3.0)) + 1) / 2, TOL);
    nb_metrics_free(&met);
    y[1] = y[3] = y[5] = 8; /* a constant target missed: it counts 0 */
    assert_ok(nb_evaluate(m, &d, &met));
    assert_near(met.r2, (1 - 4 / (26.0 / 3.0)) / 2, TOL);
    nb_metrics_free(&met);
    nb_model_free(m);
}

static void test_fit_and_invert(void **state)
{
    (void)state;
    nb_real x[4] = {0, 0, 0, 0};
    nb_real y[4] = {100000, 300000, 500000, 900000}; /* mean 450000 */
    nb_dataset d = {.count = 4, .features = 1, .targets = 1, .x = x, .y = y};
    nb_scaler s;
    assert_ok(nb_scaler_fit_targets(NB_SCALE_ZSCORE, &d, &s));
    /* sigma = sqrt((350000^2 + 150000^2 + 50000^2 + 450000^2) / 4) */
    double sigma =
        sqrt((350000.0 * 350000 + 150000.0 * 150000 + 50000.0 * 50000 + 450000.0 * 450000) / 4);
    assert_near(s.offset[0], 450000, TOL);
    assert_near(s.scale[0], 1 / sigma, TOL);
    nb_real v[4];
    memcpy(v, y, sizeof v);
    nb_scaler_apply(&s, v, 4);
    assert_near(v[0], -350000 / sigma, TOL);
    nb_scaler_invert(&s, v, 4);
    for (int i = 0; i < 4; i++) assert_near(v[i], y[i], TOL);
    nb_scaler_free(&s);
    assert_ok(nb_scaler_fit_targets(NB_SCALE_MINMAX, &d, &s));
    assert_near(s.offset[0], 100000, TOL);
    assert_near(s.scale[0], 1 / 800000.0, TOL);
    nb_scaler_free(&s);
    /* unit is for bytes; a classification set has no targets. */
    assert_int_equal(nb_scaler_fit_targets(NB_SCALE_UNIT, &d, &s), NB_ERR_ARGUMENT);
    int32_t labels[4] = {0, 1, 0, 1};
    nb_dataset c = {.count = 4, .features = 1, .classes = 2, .x = x, .labels = labels};
    assert_int_equal(nb_scaler_fit_targets(NB_SCALE_ZSCORE, &c, &s), NB_ERR_ARGUMENT);
}

static void test_saved_with_model(void **state)
{
    (void)state;
    char path[] = "/tmp/nabla_regression_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    nb_model *m = hand_model(4), *back = NULL;
    assert_ok(nb_model_save(m, path));
    assert_ok(nb_model_load(path, &back));
    const nb_scaler *ts = nb_model_target_scaler(back);
    assert_non_null(ts);
    assert_int_equal(ts->kind, NB_SCALE_ZSCORE);
    assert_int_equal(ts->features, 1);
    assert_near(ts->offset[0], 5, TOL);
    assert_near(ts->scale[0], 0.5, TOL);
    check_hand_metrics(back);
    nb_model_free(back);
    /* Unset, the file has no target scaler and loads without one. */
    assert_ok(nb_model_set_target_scaler(m, NULL));
    assert_ok(nb_model_save(m, path));
    assert_ok(nb_model_load(path, &back));
    assert_null(nb_model_target_scaler(back));
    nb_model_free(back);
    nb_model_free(m);
    unlink(path);
    /* A file written before target scaling existed: targets unscaled. */
    assert_ok(nb_model_load(NABLA_SOURCE_DIR "/fuzz/corpus/model/sine-regression", &back));
    assert_null(nb_model_target_scaler(back));
    nb_model_free(back);
}

static void test_target_scaler_refused(void **state)
{
    (void)state;
    nb_model *m = NULL;
    nb_real offset[2] = {0, 0}, scale[2] = {1, 1}, zero = 0;
    nb_scaler two = {NB_SCALE_ZSCORE, 2, offset, scale};
    assert_ok(nb_model_create("dense:1", 1, "mse", 4, &m));
    assert_int_equal(nb_model_set_target_scaler(m, &two), NB_ERR_SHAPE); /* 1 output */
    nb_scaler flat = {NB_SCALE_ZSCORE, 1, offset, &zero};
    assert_int_equal(nb_model_set_target_scaler(m, &flat), NB_ERR_NUMERIC); /* scale 0 */
    nb_model_free(m);
    assert_ok(nb_model_create("dense:2", 1, "softmax_ce", 4, &m));
    assert_int_equal(nb_model_set_target_scaler(m, &two), NB_ERR_ARGUMENT); /* a classifier */
    nb_model_free(m);
}

/* A NaN or infinite input (after scaling) or output is an error naming the
 * first bad sample, in predict and in evaluate. */
static void test_nonfinite(void **state)
{
    (void)state;
    nb_model *m = hand_model(2);
    nb_real x[3] = {1, NAN, 2}, out[3];
    assert_int_equal(nb_model_predict(m, x, 3, out), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "sample 1 (0-based)"));
    /* A finite input whose output overflows: w x with w = x = big. */
#ifdef NABLA_DOUBLE
    const double big = 1e200, root = 1e160; /* root^2 overflows */
#else
    const double big = 1e30, root = 1e20;
#endif
    size_t count;
    nb_real *p = nb_graph_params(nb_model_graph(m), &count);
    p[0] = (nb_real)big;
    x[1] = 0;
    x[2] = (nb_real)big;
    assert_int_equal(nb_model_predict(m, x, 3, out), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "sample 2 (0-based): output 0"));
    x[0] = 0; /* (1e30 - 0)^2 would overflow the loss of samples 0 and 1 */
    nb_real y[3] = {0, 0, 0};
    nb_dataset d = {.count = 3, .features = 1, .targets = 1, .x = x, .y = y};
    nb_metrics met;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "sample 2 (0-based)"));
    p[0] = 1;
    x[0] = INFINITY;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "sample 0 (0-based): input"));
    /* A finite output whose loss overflows names the batch's samples. */
    x[0] = (nb_real)root; /* y^2 overflows, y does not */
    p[0] = 1;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "samples 0 to 1 (0-based): the loss is inf"));
    /* Samples read from a file are named by their line (or record). */
    size_t lines[3] = {17, 4, 9};
    d.origin = lines;
    d.origin_kind = NB_ORIGIN_LINE;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "the samples at lines 17 and 4 of the data: the loss"));
    x[0] = INFINITY;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "line 17 of the data: input (after scaling) 0"));
    d.origin_kind = NB_ORIGIN_RECORD;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "record 17 of the data: input"));
    /* A target that is not finite is named before the loss it spoils. */
    x[0] = 0;
    y[1] = INFINITY;
    assert_int_equal(nb_evaluate(m, &d, &met), NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "record 4 of the data: target (after scaling) 0"));
    nb_model_free(m);
}

/* mse on classes: one-hot targets, names make it a classifier (argmax). */
static void test_regression_loss_on_classes(void **state)
{
    (void)state;
    nb_model *m = NULL;
    assert_ok(nb_model_create("dense:3", 1, "mse", 4, &m));
    assert_false(nb_model_is_classifier(m));
    char *names[3] = {"a", "b", "c"};
    assert_int_equal(nb_model_set_class_names(m, names, 2), NB_ERR_ARGUMENT);
    assert_ok(nb_model_set_class_names(m, names, 3));
    assert_true(nb_model_is_classifier(m));
    nb_real offset = 0, scale = 1;
    nb_scaler ts = {NB_SCALE_ZSCORE, 3, &offset, &scale};
    assert_int_equal(nb_model_set_target_scaler(m, &ts), NB_ERR_ARGUMENT);
    /* y = x * (0, 1, -1) + (0.5, 0, 0): class 1 for x = 1, 0 for x = 0,
     * 2 for x = -1. */
    size_t count;
    nb_real *p = nb_graph_params(nb_model_graph(m), &count);
    assert_int_equal(count, 6);
    const nb_real w[6] = {0, 1, -1, 0.5, 0, 0};
    memcpy(p, w, sizeof w);
    nb_real x[3] = {1, 0, -1};
    int32_t labels[3] = {1, 0, 0};
    nb_dataset d = {.count = 3, .features = 1, .classes = 3, .x = x, .labels = labels};
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    assert_near(met.accuracy, 2.0 / 3.0, TOL);
    assert_int_equal(met.predicted[0], 1);
    assert_int_equal(met.predicted[1], 0);
    assert_int_equal(met.predicted[2], 2);
    /* mse over one-hot rows: row 0 y = (0.5, 1, -1) vs (0, 1, 0): 0.25 + 1;
     * row 1 (0.5, 0, 0) vs (1, 0, 0): 0.25; row 2 (0.5, -1, 1) vs (1, 0, 0):
     * 0.25 + 1 + 1; the mean over 9 values, per sample: 3.75 / 9. */
    assert_near(met.loss, 3.75 / 9, TOL);
    assert_true(isnan(met.r2));
    nb_metrics_free(&met);
    nb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_metrics),
        cmocka_unit_test(test_r2_per_target),
        cmocka_unit_test(test_fit_and_invert),
        cmocka_unit_test(test_saved_with_model),
        cmocka_unit_test(test_target_scaler_refused),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_regression_loss_on_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
