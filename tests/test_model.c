/* Models: the layer-spec parser, building, batch changes, initialisation
 * and prediction checked against a forward pass written out by hand. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ spec parser */

static void test_spec_valid(void **state)
{
    (void)state;
    const char *good[] = {
        "dense:10",
        "dense:100,relu,dense:10",
        " dense:3 , leaky_relu:0.2 ,\tdense:2 ",
        "dense:4,leaky_relu,dense:1",
        "dense:4,sigmoid,dense:4,tanh,dense:4,identity,dense:2",
        "dense:1,leaky_relu:0,dense:1",
        "dense:1,leaky_relu:1,dense:1",
        "dense:65536",
        "dense:007",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        nb_status st = nb_spec_check(good[i]);
        if (st != NB_OK) fail_msg("\"%s\" rejected: %s", good[i], nb_last_error());
    }
}

/* The spec must fail with status and a message holding every string in want. */
static void expect_bad(const char *spec, nb_status status, const char *want1, const char *want2)
{
    nb_clear_error();
    nb_status st = nb_spec_check(spec);
    const char *msg = nb_last_error();
    if (st != status)
        fail_msg("\"%s\": status %s, expected %s (%s)", spec ? spec : "(null)", nb_status_name(st),
                 nb_status_name(status), msg);
    if (want1 && !strstr(msg, want1))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec, msg, want1);
    if (want2 && !strstr(msg, want2))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec, msg, want2);
}

static void test_spec_invalid(void **state)
{
    (void)state;
    /* item, 1-based position, byte offset of the item, what is accepted */
    expect_bad("dense:10,dens:5,dense:2", NB_ERR_FORMAT, "item 2 \"dens:5\" at byte offset 9",
               "accepted: dense:N");
    expect_bad("", NB_ERR_FORMAT, "empty", "accepted");
    expect_bad("   ", NB_ERR_FORMAT, "empty", NULL);
    expect_bad("dense:10,,dense:2", NB_ERR_FORMAT, "item 2", "empty");
    expect_bad("dense:10,", NB_ERR_FORMAT, "item 2", "empty");
    expect_bad("dense:0", NB_ERR_FORMAT, "item 1", "at least 1");
    expect_bad("dense:65537", NB_ERR_FORMAT, "larger than 65536", NULL);
    expect_bad("dense:99999999999999999999999", NB_ERR_FORMAT, "larger than 65536", NULL);
    expect_bad("dense:10x", NB_ERR_FORMAT, "after the unit count", "\"dense:10x\"");
    expect_bad("dense:10 0", NB_ERR_FORMAT, "after the unit count", NULL);
    expect_bad("dense:-1", NB_ERR_FORMAT, "not a number", NULL);
    expect_bad("dense:+1", NB_ERR_FORMAT, "not a number", NULL);
    expect_bad("dense:", NB_ERR_FORMAT, "unit count", NULL);
    expect_bad("dense", NB_ERR_FORMAT, "unit count", NULL);
    expect_bad("dense:3,relu:3,dense:2", NB_ERR_FORMAT, "item 2 \"relu:3\" at byte offset 8",
               "no argument");
    expect_bad("dense:3, softmax ,dense:2", NB_ERR_FORMAT, "item 2 \"softmax\" at byte offset 9",
               "unknown layer");
    expect_bad("dense:3,leaky_relu:nan,dense:2", NB_ERR_FORMAT, "slope", NULL);
    expect_bad("dense:3,leaky_relu:2,dense:2", NB_ERR_FORMAT, "slope", NULL);
    expect_bad("dense:3,leaky_relu:0.1x,dense:2", NB_ERR_FORMAT, "slope", NULL);
    expect_bad("relu,dense:2", NB_ERR_FORMAT, "start with a dense", NULL);
    expect_bad("dense:2,relu", NB_ERR_FORMAT, "end with a dense", NULL);
    expect_bad(NULL, NB_ERR_ARGUMENT, NULL, NULL);

    /* NB_MAX_LAYERS items pass, one more does not. */
    char many[NB_MAX_LAYERS * 8 + 16] = "";
    for (int i = 0; i < NB_MAX_LAYERS; i++) strcat(many, i ? ",dense:1" : "dense:1");
    assert_ok(nb_spec_check(many));
    strcat(many, ",dense:1");
    expect_bad(many, NB_ERR_LIMIT, "more than 64 items", NULL);

    /* NB_SPEC_MAX bytes pass (whitespace padding), one more does not. */
    char *longspec = malloc(NB_SPEC_MAX + 2);
    assert_non_null(longspec);
    memset(longspec, ' ', NB_SPEC_MAX + 1);
    memcpy(longspec, "dense:1", 7);
    longspec[NB_SPEC_MAX] = '\0';
    assert_ok(nb_spec_check(longspec));
    longspec[NB_SPEC_MAX] = ' ';
    longspec[NB_SPEC_MAX + 1] = '\0';
    expect_bad(longspec, NB_ERR_LIMIT, "longer than 1024", NULL);
    free(longspec);
}

/* The outputs a spec gives, known before any data: the last dense layer's. */
static void test_spec_outputs(void **state)
{
    (void)state;
    int outputs = -1;
    assert_ok(nb_spec_outputs("dense:100,relu,dense:10", &outputs));
    assert_int_equal(outputs, 10);
    assert_ok(nb_spec_outputs(" dense:3 , tanh , dense:1 ", &outputs));
    assert_int_equal(outputs, 1);
    assert_ok(nb_spec_outputs("dense:7", &outputs));
    assert_int_equal(outputs, 7);
    assert_int_equal(nb_spec_outputs("dense:3,relu", &outputs), NB_ERR_FORMAT);
    assert_int_equal(outputs, 0);
    assert_non_null(strstr(nb_last_error(), "end with a dense"));
    assert_int_equal(nb_spec_outputs("dense:3", NULL), NB_ERR_ARGUMENT);
}

/* ------------------------------------------------------------- building */

static void assert_shape(nb_graph *g, nb_node node, nb_shape want)
{
    nb_shape got = nb_node_shape(g, node);
    char a[64], b[64];
    if (!nb_shape_equal(got, want))
        fail_msg("node %s: shape %s, expected %s", nb_node_name(g, node),
                 nb_shape_format(got, a, sizeof a), nb_shape_format(want, b, sizeof b));
}

static nb_node find(nb_graph *g, const char *name)
{
    nb_node n = nb_graph_find(g, name);
    if (n == NB_NONE) fail_msg("no node \"%s\"", name);
    return n;
}

static void test_create_shapes(void **state)
{
    (void)state;
    nb_model *m;
    assert_ok(nb_model_create("dense:5,relu,dense:3", 4, "softmax_ce", 7, &m));
    nb_graph *g = nb_model_graph(m);
    assert_shape(g, nb_model_input(m), nb_shape2(7, 4));
    assert_shape(g, nb_model_output(m), nb_shape2(7, 3));
    assert_shape(g, nb_model_target(m), nb_shape1(7));
    assert_shape(g, nb_model_loss(m), nb_shape0());
    assert_shape(g, find(g, "dense0.weight"), nb_shape2(4, 5));
    assert_shape(g, find(g, "dense0.bias"), nb_shape1(5));
    assert_shape(g, find(g, "dense1.weight"), nb_shape2(5, 3));
    assert_shape(g, find(g, "dense1.bias"), nb_shape1(3));
    assert_int_equal(nb_graph_find(g, "x"), nb_model_input(m));
    assert_int_equal(nb_graph_find(g, "target"), nb_model_target(m));
    assert_int_equal(nb_graph_find(g, "loss"), nb_model_loss(m));
    assert_string_equal(nb_node_op(g, nb_model_loss(m)), "softmax_with_loss");
    size_t count;
    nb_graph_params(g, &count);
    assert_int_equal(count, 4 * 5 + 5 + 5 * 3 + 3);
    assert_int_equal(nb_model_inputs(m), 4);
    assert_int_equal(nb_model_outputs(m), 3);
    assert_int_equal(nb_model_batch(m), 7);
    assert_true(nb_model_is_classifier(m));
    assert_string_equal(nb_model_spec(m), "dense:5,relu,dense:3");
    assert_string_equal(nb_model_loss_name(m), "softmax_ce");
    nb_model_free(m);

    /* Regression losses take [N, outputs] targets; bce takes [N, 1]. */
    const char *losses[] = {"mse", "sse", "half_sse", "sae"};
    const char *ops[] = {"mse", "sse", "half_sse", "sae"};
    for (int i = 0; i < 4; i++) {
        assert_ok(nb_model_create("dense:2", 3, losses[i], 5, &m));
        assert_shape(nb_model_graph(m), nb_model_target(m), nb_shape2(5, 2));
        assert_string_equal(nb_node_op(nb_model_graph(m), nb_model_loss(m)), ops[i]);
        assert_false(nb_model_is_classifier(m));
        nb_model_free(m);
    }
    assert_ok(nb_model_create("dense:4,sigmoid,dense:1", 3, "bce", 5, &m));
    assert_shape(nb_model_graph(m), nb_model_target(m), nb_shape2(5, 1));
    assert_true(nb_model_is_classifier(m));
    nb_model_free(m);
    /* NULL loss: softmax_ce */
    assert_ok(nb_model_create("dense:2", 3, NULL, 1, &m));
    assert_string_equal(nb_model_loss_name(m), "softmax_ce");
    nb_model_free(m);

    m = (nb_model *)&count; /* must be reset to NULL on failure */
    assert_int_equal(nb_model_create("dense:3", 3, "bce", 5, &m), NB_ERR_ARGUMENT);
    assert_null(m);
    assert_int_equal(nb_model_create("dense:1", 3, "softmax_ce", 5, &m), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_create("dense:2", 3, "hinge", 5, &m), NB_ERR_NOT_FOUND);
    assert_non_null(strstr(nb_last_error(), "hinge"));
    assert_int_equal(nb_model_create("dense:2", 0, "mse", 5, &m), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_create("dense:2", 3, "mse", 0, &m), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_create("dense:2,relu", 3, "mse", 4, &m), NB_ERR_FORMAT);
    assert_null(m);

    /* Past NB_MAX_PARAMS: refused before anything is allocated, naming the
     * parameter that crosses it (65536 x 65536 weights; 1452 x 2 x 325 x 325). */
    assert_int_equal(nb_model_create("dense:65536,relu,dense:65536", 3, "mse", 1, &m),
                     NB_ERR_LIMIT);
    assert_null(m);
    assert_non_null(strstr(nb_last_error(), "\"dense1.weight\""));
    assert_non_null(strstr(nb_last_error(), "NB_MAX_PARAMS"));
    assert_int_equal(
        nb_model_create_shaped("conv:1452:325,gap,dense:3", nb_shape3(2, 6, 5), "mse", 2, &m),
        NB_ERR_LIMIT);
    assert_non_null(strstr(nb_last_error(), "\"conv0.weight\""));
}

/* He (normal, deviation sqrt(2 / fan_in)) before relu, Xavier (uniform on
 * +-sqrt(6 / (fan_in + fan_out))) otherwise, biases zero. */
static void test_init(void **state)
{
    (void)state;
    nb_model *m;
    const int n = 300;
    assert_ok(nb_model_create("dense:300,relu,dense:300,tanh,dense:2", n, "softmax_ce", 2, &m));
    assert_ok(nb_model_init(m, 42));
    nb_graph *g = nb_model_graph(m);
    const nb_real *w0 = nb_node_value(g, find(g, "dense0.weight"));
    const nb_real *w1 = nb_node_value(g, find(g, "dense1.weight"));
    const nb_real *b0 = nb_node_value(g, find(g, "dense0.bias"));
    double s0 = 0, s1 = 0, max1 = 0;
    for (int i = 0; i < n * n; i++) {
        s0 += (double)w0[i] * w0[i];
        s1 += (double)w1[i] * w1[i];
        if (fabs(w1[i]) > max1) max1 = fabs(w1[i]);
    }
    double r = sqrt(6.0 / (n + n));
    /* 90,000 samples: the sample deviation is within 1% of the true one. */
    assert_near(sqrt(s0 / (n * n)), sqrt(2.0 / n), 0.02);
    assert_near(sqrt(s1 / (n * n)), r / sqrt(3.0), 0.02);
    assert_true(max1 <= r);
    assert_true(max1 > 0.99 * r);
    for (int i = 0; i < n; i++) assert_true(b0[i] == 0);

    /* The same seed gives the same weights; another seed others. */
    size_t count;
    nb_real *p = nb_graph_params(g, &count);
    nb_real *copy = malloc(count * sizeof *copy);
    memcpy(copy, p, count * sizeof *copy);
    assert_ok(nb_model_init(m, 7));
    assert_true(memcmp(copy, p, count * sizeof *copy) != 0);
    assert_ok(nb_model_init(m, 42));
    assert_memory_equal(copy, p, count * sizeof *copy);
    free(copy);
    nb_model_free(m);
}

static void test_set_batch_keeps_params(void **state)
{
    (void)state;
    nb_model *m;
    assert_ok(nb_model_create("dense:6,relu,dense:3", 4, "softmax_ce", 8, &m));
    assert_ok(nb_model_init(m, 3));
    size_t count, count2;
    const nb_real *params = nb_graph_params(nb_model_graph(m), &count);
    assert_int_equal(count, 4 * 6 + 6 + 6 * 3 + 3);
    nb_real *copy = malloc(count * sizeof *copy);
    memcpy(copy, params, count * sizeof *copy);
    assert_ok(nb_model_set_batch(m, 3));
    assert_int_equal(nb_model_batch(m), 3);
    assert_shape(nb_model_graph(m), nb_model_input(m), nb_shape2(3, 4));
    assert_shape(nb_model_graph(m), nb_model_target(m), nb_shape1(3));
    assert_shape(nb_model_graph(m), nb_model_output(m), nb_shape2(3, 3));
    assert_memory_equal(copy, nb_graph_params(nb_model_graph(m), &count2), count * sizeof *copy);
    assert_ok(nb_model_set_batch(m, 50));
    assert_shape(nb_model_graph(m), nb_model_output(m), nb_shape2(50, 3));
    assert_memory_equal(copy, nb_graph_params(nb_model_graph(m), &count2), count * sizeof *copy);
    assert_int_equal(count2, count);
    assert_int_equal(nb_model_set_batch(m, 0), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_batch(m), 50);
    free(copy);
    nb_model_free(m);
}

/* ------------------------------------------------------------ predict */

/* y = tanh((x - off) * sc W0 + b0) W1 + b1 in double, sample by sample. */
static void manual_forward(nb_graph *g, const nb_real *x, const nb_real *off, const nb_real *sc,
                           int in, int hidden, int outs, double *y)
{
    const nb_real *w0 = nb_node_value(g, find(g, "dense0.weight"));
    const nb_real *b0 = nb_node_value(g, find(g, "dense0.bias"));
    const nb_real *w1 = nb_node_value(g, find(g, "dense1.weight"));
    const nb_real *b1 = nb_node_value(g, find(g, "dense1.bias"));
    double h[16];
    for (int j = 0; j < hidden; j++) {
        double s = b0[j];
        for (int i = 0; i < in; i++) s += (x[i] - off[i]) * sc[i] * w0[i * hidden + j];
        h[j] = tanh(s);
    }
    for (int k = 0; k < outs; k++) {
        double s = b1[k];
        for (int j = 0; j < hidden; j++) s += h[j] * w1[j * outs + k];
        y[k] = s;
    }
}

enum { IN = 4, HID = 5, OUT = 3, SAMPLES = 10 };

static void fill_inputs(nb_real *x, int count)
{
    nb_rng rng;
    nb_rng_seed(&rng, 99);
    for (int i = 0; i < count; i++) x[i] = (nb_real)(4 * nb_rng_uniform(&rng) - 2);
}

static void test_predict_regression(void **state)
{
    (void)state;
    nb_model *m;
    assert_ok(nb_model_create("dense:5,tanh,dense:3", IN, "mse", 4, &m));
    assert_ok(nb_model_init(m, 11));
    nb_real off[IN] = {0.5, -1, 0, 2}, sc[IN] = {2, 0.5, 1, 0.25};
    nb_scaler s = {NB_SCALE_ZSCORE, IN, off, sc};
    assert_ok(nb_model_set_scaler(m, &s));
    off[0] = 100; /* the model holds a copy */
    off[0] = 0.5;
    nb_real x[SAMPLES * IN], xcopy[SAMPLES * IN], out[SAMPLES * OUT];
    fill_inputs(x, SAMPLES * IN);
    memcpy(xcopy, x, sizeof x);
    /* 10 samples with batch 4: chunks of 4, 4 and a partial 2. */
    assert_ok(nb_model_predict(m, x, SAMPLES, out));
    assert_memory_equal(x, xcopy, sizeof x); /* the caller's data is not scaled in place */
    assert_int_equal(nb_model_batch(m), 4);
    for (int n = 0; n < SAMPLES; n++) {
        double y[OUT];
        manual_forward(nb_model_graph(m), x + n * IN, off, sc, IN, HID, OUT, y);
        for (int k = 0; k < OUT; k++) assert_near(out[n * OUT + k], y[k], 10 * TOL);
    }
    /* One sample at a time gives the same values. */
    nb_real one[OUT];
    assert_ok(nb_model_predict(m, x + 9 * IN, 1, one));
    for (int k = 0; k < OUT; k++) assert_near(one[k], out[9 * OUT + k], 10 * TOL);
    assert_int_equal(nb_model_batch(m), 4);
    nb_model_free(m);
}

static void test_predict_classifier(void **state)
{
    (void)state;
    nb_model *m;
    assert_ok(nb_model_create("dense:5,tanh,dense:3", IN, "softmax_ce", 3, &m));
    assert_ok(nb_model_init(m, 5));
    nb_real x[SAMPLES * IN], p[SAMPLES * OUT];
    nb_real off[IN] = {0, 0, 0, 0}, sc[IN] = {1, 1, 1, 1};
    fill_inputs(x, SAMPLES * IN);
    assert_ok(nb_model_predict(m, x, SAMPLES, p));
    for (int n = 0; n < SAMPLES; n++) {
        double y[OUT], z = 0, sum = 0;
        manual_forward(nb_model_graph(m), x + n * IN, off, sc, IN, HID, OUT, y);
        for (int k = 0; k < OUT; k++) z += exp(y[k]);
        for (int k = 0; k < OUT; k++) {
            assert_near(p[n * OUT + k], exp(y[k]) / z, 10 * TOL);
            assert_true(p[n * OUT + k] > 0 && p[n * OUT + k] < 1);
            sum += p[n * OUT + k];
        }
        assert_near(sum, 1.0, 10 * TOL);
    }
    nb_model_free(m);

    /* bce: p = 1 / (1 + e^-logit) */
    assert_ok(nb_model_create("dense:5,tanh,dense:1", IN, "bce", 4, &m));
    assert_ok(nb_model_init(m, 6));
    assert_ok(nb_model_predict(m, x, SAMPLES, p));
    for (int n = 0; n < SAMPLES; n++) {
        double y[1];
        manual_forward(nb_model_graph(m), x + n * IN, off, sc, IN, HID, 1, y);
        assert_near(p[n], 1 / (1 + exp(-y[0])), 10 * TOL);
    }
    nb_model_free(m);
}

static void test_names_and_meta(void **state)
{
    (void)state;
    nb_model *m;
    assert_ok(nb_model_create("dense:3", 2, "softmax_ce", 1, &m));
    char a[8] = "cat", b[8] = "dog", c[8] = "emu";
    char *names[] = {a, b, c};
    assert_int_equal(nb_model_class_count(m), 0);
    assert_null(nb_model_class_name(m, 0));
    assert_ok(nb_model_set_class_names(m, names, 3));
    strcpy(a, "xxx");
    assert_int_equal(nb_model_class_count(m), 3);
    assert_string_equal(nb_model_class_name(m, 0), "cat");
    assert_string_equal(nb_model_class_name(m, 2), "emu");
    assert_null(nb_model_class_name(m, 3));
    assert_int_equal(nb_model_set_class_names(m, names, 2), NB_ERR_ARGUMENT);
    assert_string_equal(nb_model_class_name(m, 0), "cat"); /* unchanged */

    char json[32] = "{\"epochs\": 3}";
    assert_ok(nb_model_set_meta(m, "training", json));
    json[2] = 'X';
    assert_string_equal(nb_model_meta(m, "training"), "{\"epochs\": 3}");
    /* "training" is read back by eval and predict: an object, always. */
    assert_int_equal(nb_model_set_meta(m, "training", "[1,2]"), NB_ERR_ARGUMENT);
    assert_ok(nb_model_set_meta(m, "notes", "[1,2]"));
    assert_string_equal(nb_model_meta(m, "notes"), "[1,2]");
    assert_null(nb_model_meta(m, "metrics"));
    assert_int_equal(nb_model_set_meta(m, "metrics", "{bad"), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_set_meta(m, "spec", "1"), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_set_meta(m, "", "1"), NB_ERR_ARGUMENT);
    assert_ok(nb_model_set_meta(m, "training", NULL));
    assert_null(nb_model_meta(m, "training"));

    assert_null(nb_model_scaler(m));
    nb_real off[3] = {1, 2, 3}, sc[3] = {1, 1, 1};
    nb_scaler s = {NB_SCALE_MINMAX, 3, off, sc};
    assert_int_equal(nb_model_set_scaler(m, &s), NB_ERR_SHAPE); /* 3 features, 2 inputs */
    s.features = 2;
    assert_ok(nb_model_set_scaler(m, &s));
    off[1] = 9;
    assert_int_equal(nb_model_scaler(m)->kind, NB_SCALE_MINMAX);
    assert_true(nb_model_scaler(m)->offset[1] == 2);
    assert_ok(nb_model_set_scaler(m, NULL));
    assert_null(nb_model_scaler(m));
    nb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_valid),
        cmocka_unit_test(test_spec_invalid),
        cmocka_unit_test(test_spec_outputs),
        cmocka_unit_test(test_create_shapes),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_set_batch_keeps_params),
        cmocka_unit_test(test_predict_regression),
        cmocka_unit_test(test_predict_classifier),
        cmocka_unit_test(test_names_and_meta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
