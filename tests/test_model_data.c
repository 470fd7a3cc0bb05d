/* What a model needs from its data: the default loss, the outputs each loss
 * asks for, and the refusals (a classification loss on numeric targets,
 * bce on other than 2 classes, a last layer of the wrong size) with
 * messages that say both numbers. */
#include "check.h"

#include <string.h>

static void expect_error(nb_status got, nb_status want, const char *text)
{
    assert_int_equal(got, want);
    if (!strstr(nb_last_error(), text)) fail_msg("'%s' does not say '%s'", nb_last_error(), text);
}

static void test_outputs(void **state)
{
    (void)state;
    nb_dataset classes = {.classes = 3, .features = 2}, two = {.classes = 2, .features = 2};
    nb_dataset targets = {.targets = 2, .features = 2};
    assert_string_equal(nb_loss_default(&classes), "softmax_ce");
    assert_string_equal(nb_loss_default(&targets), "mse");
    int n = 0;
    assert_ok(nb_loss_outputs(NULL, &classes, &n));
    assert_int_equal(n, 3);
    assert_ok(nb_loss_outputs("mse", &classes, &n)); /* one-hot targets */
    assert_int_equal(n, 3);
    assert_ok(nb_loss_outputs("bce", &two, &n));
    assert_int_equal(n, 1);
    assert_ok(nb_loss_outputs(NULL, &targets, &n));
    assert_int_equal(n, 2);
    assert_ok(nb_loss_outputs("sae", &targets, &n));
    assert_int_equal(n, 2);
    expect_error(nb_loss_outputs("bce", &classes, &n), NB_ERR_ARGUMENT,
                 "loss bce needs 2 classes, but the data has 3 classes");
    expect_error(nb_loss_outputs("softmax_ce", &targets, &n), NB_ERR_ARGUMENT,
                 "loss softmax_ce needs class labels, but the data has numeric targets");
    expect_error(nb_loss_outputs("bce", &targets, &n), NB_ERR_ARGUMENT, "needs class labels");
    expect_error(nb_loss_outputs("nope", &targets, &n), NB_ERR_NOT_FOUND, "unknown loss");
    expect_error(nb_loss_outputs("mse", NULL, &n), NB_ERR_ARGUMENT, "must not be NULL");
}

static void test_check_data(void **state)
{
    (void)state;
    nb_dataset classes = {.classes = 3, .features = 2}, target = {.targets = 1, .features = 2};
    nb_model *m = NULL;
    assert_ok(nb_model_create("dense:4,tanh,dense:3", 2, "softmax_ce", 1, &m));
    assert_ok(nb_model_check_data(m, &classes));
    expect_error(nb_model_check_data(m, &target), NB_ERR_ARGUMENT, "needs class labels");
    nb_model_free(m);
    assert_ok(nb_model_create("dense:4,tanh,dense:5", 2, "softmax_ce", 1, &m));
    expect_error(nb_model_check_data(m, &classes), NB_ERR_ARGUMENT,
                 "the last dense layer has 5 units, but the data has 3 classes: it needs 3 "
                 "(loss softmax_ce)");
    nb_model_free(m);
    assert_ok(nb_model_create("dense:4,tanh,dense:2", 2, "mse", 1, &m));
    expect_error(nb_model_check_data(m, &target), NB_ERR_ARGUMENT,
                 "the last dense layer has 2 units, but the data has 1 regression target: it "
                 "needs 1");
    nb_dataset wide = {.targets = 2, .features = 3};
    expect_error(nb_model_check_data(m, &wide), NB_ERR_ARGUMENT,
                 "the model takes 2 inputs, but the data has 3 features");
    expect_error(nb_model_check_data(NULL, &wide), NB_ERR_ARGUMENT, "must not be NULL");
    nb_model_free(m);
}

/* Images must have the geometry of the model's image input: pixels in
 * another layout with the same count are refused by every path (check,
 * training, evaluation, feeding); data without a geometry and flat models
 * are matched by count. */
static void test_sample_shape(void **state)
{
    (void)state;
    nb_model *cnn = NULL, *dense = NULL, *flat = NULL;
    assert_ok(nb_model_create_shaped("conv:2:3,relu,dense:3", nb_shape3(1, 8, 8), NULL, 4, &cnn));
    assert_ok(nb_model_create_shaped("dense:3", nb_shape3(1, 8, 8), NULL, 4, &dense));
    assert_ok(nb_model_create("dense:3", 64, NULL, 4, &flat));
    assert_ok(nb_model_check_sample_shape(cnn, nb_shape3(1, 8, 8)));
    assert_ok(nb_model_check_sample_shape(cnn, nb_shape1(64))); /* CSV rows */
    nb_model *image_models[] = {cnn, dense};
    for (int i = 0; i < 2; i++) {
        expect_error(nb_model_check_sample_shape(image_models[i], nb_shape3(1, 4, 16)),
                     NB_ERR_ARGUMENT,
                     "the data's images are 4x16 (64 values), but the model expects [1, 8, 8] "
                     "(images of 8x8)");
        expect_error(nb_model_check_sample_shape(image_models[i], nb_shape3(1, 7, 7)),
                     NB_ERR_ARGUMENT,
                     "the data's images are 7x7 (49 values), but the model "
                     "expects [1, 8, 8]");
    }
    assert_ok(nb_model_check_sample_shape(flat, nb_shape3(1, 4, 16)));
    expect_error(nb_model_check_sample_shape(flat, nb_shape3(1, 7, 7)), NB_ERR_ARGUMENT,
                 "the data's images are 7x7 (49 values), but the model takes 64 inputs");
    expect_error(nb_model_check_sample_shape(NULL, nb_shape1(2)), NB_ERR_ARGUMENT,
                 "must not be NULL");

    /* Data of 4x16 images: the check, training, evaluation and feeding. */
    nb_real x[4 * 64] = {0};
    int32_t labels[4] = {0, 1, 2, 0};
    nb_dataset wide = {.count = 4,
                       .features = 64,
                       .rows = 4,
                       .cols = 16,
                       .channels = 1,
                       .classes = 3,
                       .x = x,
                       .labels = labels};
    expect_error(nb_model_check_data(cnn, &wide), NB_ERR_ARGUMENT,
                 "the data's images are 4x16 (64 values), but the model expects [1, 8, 8]");
    nb_train_config c = nb_train_defaults();
    c.batch = 4;
    c.epochs = 1;
    nb_train_state *s = NULL;
    expect_error(nb_train_begin(cnn, &wide, NULL, &c, &s), NB_ERR_SHAPE,
                 "training set: the data's images are 4x16");
    nb_metrics metrics;
    expect_error(nb_evaluate(dense, &wide, &metrics), NB_ERR_SHAPE,
                 "evaluating: the data's images are 4x16");
    expect_error(nb_model_feed(cnn, &wide, NULL, 0, 4), NB_ERR_SHAPE,
                 "feeding samples: the data's images are 4x16");
    assert_ok(nb_evaluate(flat, &wide, &metrics)); /* a flat model takes any layout */
    nb_metrics_free(&metrics);
    wide.rows = 8;
    wide.cols = 8;
    assert_ok(nb_model_check_data(cnn, &wide));
    assert_ok(nb_evaluate(cnn, &wide, &metrics));
    nb_metrics_free(&metrics);
    nb_model_free(cnn);
    nb_model_free(dense);
    nb_model_free(flat);
}

/* What each loss is comes from its op's table entry. */
static void test_loss_info(void **state)
{
    (void)state;
    const struct {
        const char *name;
        int summed, classifier, binary;
    } want[] = {{"softmax_ce", 0, 1, 0}, {"bce", 0, 1, 1},      {"mse", 0, 0, 0},
                {"sse", 1, 0, 0},        {"half_sse", 1, 0, 0}, {"sae", 1, 0, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        nb_loss_info info;
        assert_int_equal(nb_loss_info_of(want[i].name, &info), NB_OK);
        assert_int_equal(info.summed, want[i].summed);
        assert_int_equal(info.classifier, want[i].classifier);
        assert_int_equal(info.binary, want[i].binary);
        assert_int_equal(info.probabilities, want[i].classifier);
    }
    nb_loss_info info;
    assert_int_equal(nb_loss_info_of("cross_entropy", &info), NB_ERR_NOT_FOUND);
    assert_non_null(strstr(nb_last_error(), "softmax_ce, bce, mse, sse, half_sse, sae"));
}

/* The "training" record as eval, predict, info and the report read it. */
static void test_training_record(void **state)
{
    (void)state;
    nb_training_record r;
    nb_training_record_parse("{\"label\":\"species\",\"regression\":false,\"seed\":"
                             "\"18446744073709551615\",\"batch\":64,\"train_samples\":50,"
                             "\"test_fingerprint\":\"6fc94b41e6a583b0\",\"stop_reason\":"
                             "\"numeric error\",\"stopped_at_epoch\":3,\"stopped_at_batch\":7}",
                             &r);
    assert_string_equal(r.label, "species");
    assert_int_equal(r.regression, 0);
    assert_true(r.has_seed && r.seed == UINT64_MAX);
    assert_int_equal(r.batch, 50); /* at most the training samples */
    assert_true(r.has_test_fingerprint && r.test_fingerprint == 0x6fc94b41e6a583b0ull);
    assert_true(r.diverged && r.stopped_epoch == 3 && r.stopped_batch == 7);
    nb_training_record_parse("{\"regression\":true,\"seed\":12,\"batch\":32,\"stop_reason\":"
                             "\"epochs\",\"test_fingerprint\":\"6fc94b41e6a583bz\"}",
                             &r);
    assert_true(r.regression == 1 && r.has_seed && r.seed == 12 && r.batch == 32);
    assert_false(r.has_test_fingerprint);
    assert_false(r.diverged);
    assert_int_equal(r.stopped_epoch, -1);
    /* Nothing, or not an object, or members of other forms: all unknown. */
    const char *unknown[] = {NULL, "[1]",
                             "{\"label\":7,\"regression\":1,\"seed\":-1,\"batch\":0.5}"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        nb_training_record_parse(unknown[i], &r);
        assert_true(r.label[0] == '\0' && r.regression == -1 && !r.has_seed && r.batch == 0);
        assert_true(!r.has_test_fingerprint && !r.diverged && r.stopped_batch == -1);
    }
    nb_model_training_record(NULL, &r);
    assert_int_equal(r.regression, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_record), cmocka_unit_test(test_loss_info),
        cmocka_unit_test(test_outputs),         cmocka_unit_test(test_check_data),
        cmocka_unit_test(test_sample_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
