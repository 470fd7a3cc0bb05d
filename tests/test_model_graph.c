/* Models from hand-built graphs (nb_model_from_graph): the notes' "Another
 * Example" network (notes 004) with its two inputs x1 and x2 as separate
 * input nodes, and a network whose two inputs are merged by concat. Each
 * is trained, evaluated and used to predict through the same functions as
 * a spec model: trained with the public training steps, checkpointed and
 * resumed bit for bit, saved and loaded (the graph is in the file) to
 * predict bit for bit; the roles are checked. */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNITS 5
#define BATCH 4

/* Notes 004: u_i = w1_i x1 + w2_i x2, v_i = 1 / u_i,
 * F = v1 v2 + v3 / v4 - v5, y = sigmoid(F), and the loss (y - t)^2 as a
 * mean over the batch (mse). Weights start at the notes' table. */
static nb_model *another_example(void)
{
    const double w1[UNITS] = {0.1, 0.5, 0.3, 2.1, -0.2};
    const double w2[UNITS] = {1.1, 0.0, 0.4, -0.1, 1.3};
    nb_graph *g = nb_graph_create();
    assert_non_null(g);
    nb_node x1 = nb_input(g, "x1", nb_shape2(BATCH, 1)),
            x2 = nb_input(g, "x2", nb_shape2(BATCH, 1));
    nb_node w[2][UNITS], v[UNITS];
    char name[NB_NAME_MAX];
    for (int i = 0; i < UNITS; i++) {
        snprintf(name, sizeof name, "w1_%d", i + 1);
        w[0][i] = nb_param(g, name, nb_shape1(1), nb_init_constant(w1[i]));
        snprintf(name, sizeof name, "w2_%d", i + 1);
        w[1][i] = nb_param(g, name, nb_shape1(1), nb_init_constant(w2[i]));
        nb_node u = nb_add(g, nb_mul(g, x1, w[0][i]), nb_mul(g, x2, w[1][i]));
        v[i] = nb_reciprocal(g, u);
    }
    nb_node f = nb_sub(g, nb_add(g, nb_mul(g, v[0], v[1]), nb_div(g, v[2], v[3])), v[4]);
    nb_node y = nb_sigmoid(g, f);
    nb_node t = nb_input(g, "t", nb_shape2(BATCH, 1));
    nb_node loss = nb_mse(g, y, t);
    nb_node inputs[2] = {x1, x2};
    nb_model_roles roles = {2, inputs, y, t, loss};
    nb_model *m;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    return m;
}

/* Samples near the notes' point (x1, x2) = (1.7, 3.5), targets in (0, 1). */
static void make_data(nb_dataset *d, size_t count, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->count = count;
    d->features = 2;
    d->targets = 1;
    d->x = calloc(count * 2, sizeof *d->x);
    d->y = calloc(count, sizeof *d->y);
    assert_true(d->x && d->y);
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    for (size_t i = 0; i < count; i++) {
        double a = 1.7 + 0.2 * (nb_rng_uniform(&rng) - 0.5);
        double b = 3.5 + 0.2 * (nb_rng_uniform(&rng) - 0.5);
        d->x[2 * i] = (nb_real)a;
        d->x[2 * i + 1] = (nb_real)b;
        d->y[i] = (nb_real)(0.2 + 0.1 * (a - 1.7) + 0.05 * (b - 3.5));
    }
}

static void free_data(nb_dataset *d)
{
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

static void test_another_example_trains(void **state)
{
    (void)state;
    nb_model *m = another_example();
    assert_int_equal(nb_model_input_count(m), 2);
    assert_int_equal(nb_model_inputs(m), 2);
    assert_int_equal(nb_model_outputs(m), 1);
    assert_string_equal(nb_model_loss_name(m), "mse");
    assert_null(nb_model_spec(m));
    assert_false(nb_model_is_classifier(m));
    nb_graph *g = nb_model_graph(m);
    /* The weights kept the notes' table (the graph was compiled and
     * filled by nb_model_from_graph's initialisation from nb_init). */
    assert_true(nb_node_value(g, nb_graph_find(g, "w2_5"))[0] == (nb_real)1.3);

    /* One sample at the notes' point: y = sigmoid(F) as computed by hand
     * from the table (u = w1 x1 + w2 x2 per unit). */
    const double w1[UNITS] = {0.1, 0.5, 0.3, 2.1, -0.2};
    const double w2[UNITS] = {1.1, 0.0, 0.4, -0.1, 1.3};
    double vv[UNITS];
    for (int i = 0; i < UNITS; i++) vv[i] = 1 / (w1[i] * 1.7 + w2[i] * 3.5);
    double f = vv[0] * vv[1] + vv[2] / vv[3] - vv[4], want = 1 / (1 + exp(-f));
    nb_real x[2] = {(nb_real)1.7, (nb_real)3.5}, out[1];
    assert_ok(nb_model_predict(m, x, 1, out));
    assert_near(out[0], want, TOL);

    nb_dataset train, val;
    make_data(&train, 64, 1);
    make_data(&val, 16, 2);
    assert_ok(nb_model_check_data(m, &train));

    /* The gradients of the loss on a batch agree with central differences. */
    assert_ok(nb_model_feed(m, &train, NULL, 0, BATCH));
    nb_gradcheck_entry entries[2 * UNITS];
    int n = 0;
#ifdef NABLA_DOUBLE
    const double eps = 1e-6, bound = 1e-6;
#else
    const double eps = 1e-2, bound = 5e-2;
#endif
    assert_ok(nb_gradcheck(g, nb_model_loss(m), eps, entries, 2 * UNITS, &n));
    assert_int_equal(n, 2 * UNITS);
    for (int i = 0; i < n; i++)
        if (!(entries[i].max_rel <= bound))
            fail_msg("%s: relative gradient error %g", entries[i].name, entries[i].max_rel);
    nb_metrics before, after;
    assert_ok(nb_evaluate(m, &val, &before));
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.01;
    c.batch = BATCH;
    c.epochs = 5;
    nb_train_result r;
    assert_ok(nb_train(m, &train, &val, &c, &r));
    assert_int_equal(r.epochs_run, 5);
    assert_ok(nb_evaluate(m, &val, &after));
    print_message("another example: val loss %.6g -> %.6g\n", before.loss, after.loss);
    assert_true(after.loss < before.loss / 2);
    nb_train_result_free(&r);
    nb_metrics_free(&before);
    nb_metrics_free(&after);
    free_data(&train);
    free_data(&val);
    nb_model_free(m);
}

/* Two inputs [N, 2] and [N, 3] joined by concat into [N, 5], a dense
 * layer of 3 classes and softmax_with_loss: a classifier whose sample is
 * the 5 values of both inputs. */
static nb_model *concat_model(int batch)
{
    nb_graph *g = nb_graph_create();
    nb_node a = nb_input(g, "a", nb_shape2(batch, 2)), b = nb_input(g, "b", nb_shape2(batch, 3));
    nb_node ab[2] = {a, b};
    nb_node h = nb_tanh(g, nb_dense(g, nb_concat(g, 2, ab, 1), 8, "hidden", nb_init_xavier()));
    nb_node y = nb_dense(g, h, 3, "out", nb_init_xavier());
    nb_node t = nb_input(g, "label", nb_shape1(batch));
    nb_node loss = nb_softmax_with_loss(g, y, t);
    nb_model_roles roles = {2, ab, y, t, loss};
    nb_model *m;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    return m;
}

static void test_concat_model(void **state)
{
    (void)state;
    nb_model *m = concat_model(8);
    assert_int_equal(nb_model_inputs(m), 5);
    assert_int_equal(nb_model_outputs(m), 3);
    assert_string_equal(nb_model_loss_name(m), "softmax_ce");
    assert_true(nb_model_is_classifier(m));
    /* Samples: the class is which of three sums is largest. */
    nb_dataset d = {0};
    d.count = 90;
    d.features = 5;
    d.classes = 3;
    d.x = calloc(d.count * 5, sizeof *d.x);
    d.labels = calloc(d.count, sizeof *d.labels);
    nb_rng rng;
    nb_rng_seed(&rng, 7);
    for (size_t i = 0; i < d.count; i++) {
        int k = (int)(i % 3);
        for (int j = 0; j < 5; j++)
            d.x[i * 5 + (size_t)j] = (nb_real)(nb_rng_normal(&rng) * 0.3 + (j % 3 == k ? 1 : 0));
        d.labels[i] = k;
    }
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.05;
    c.batch = 8;
    c.epochs = 30;
    nb_train_result r;
    assert_ok(nb_train(m, &d, NULL, &c, &r));
    nb_metrics met;
    assert_ok(nb_evaluate(m, &d, &met));
    print_message("concat model: accuracy %.3f\n", met.accuracy);
    assert_true(met.accuracy > 0.9);
    /* predict gives probabilities that agree with evaluate's classes, in
     * chunks of the batch with a partial last one */
    nb_real *p = calloc(d.count * 3, sizeof *p);
    assert_ok(nb_model_predict(m, d.x, d.count, p));
    for (size_t i = 0; i < d.count; i++) {
        int best = 0;
        for (int k = 1; k < 3; k++)
            if (p[i * 3 + (size_t)k] > p[i * 3 + (size_t)best]) best = k;
        assert_int_equal(best, met.predicted[i]);
        assert_near(p[i * 3] + p[i * 3 + 1] + p[i * 3 + 2], 1.0, 1e-5);
    }
    free(p);
    nb_metrics_free(&met);
    nb_train_result_free(&r);
    free(d.x);
    free(d.labels);
    nb_model_free(m);
}

/* Train with the public steps for epochs epochs; with ckpt set, save a
 * checkpoint when epoch `at` has ended, and stop there. */
static void train_steps(nb_model *m, const nb_dataset *d, const nb_train_config *c,
                        const char *resume, const char *ckpt, int at)
{
    nb_train_state *s;
    assert_ok(nb_train_begin(m, d, NULL, c, &s));
    if (resume) assert_ok(nb_checkpoint_load(s, resume));
    while (!s->stop_reason) {
        int rows;
        while (nb_train_next_batch(s, &rows) == NB_OK && rows > 0) {
            assert_ok(nb_train_forward_backward(s));
            assert_ok(nb_train_apply(s));
        }
        assert_ok(nb_train_end_epoch(s));
        assert_ok(nb_train_next_epoch(s));
        if (ckpt && s->epoch == at + 1) {
            assert_ok(nb_checkpoint_save(s, ckpt));
            break;
        }
    }
    nb_train_result r;
    assert_ok(nb_train_finish(s, &r));
    nb_train_result_free(&r);
    nb_train_state_free(s);
}

static nb_real *copy_params(nb_model *m, size_t *count)
{
    const nb_real *p = nb_graph_params(nb_model_graph(m), count);
    nb_real *c = malloc(*count * sizeof *c);
    memcpy(c, p, *count * sizeof *c);
    return c;
}

/* Trained straight through, or stopped after 2 epochs and resumed from the
 * checkpoint in a new model: the same weights bit for bit. Then saved and
 * loaded: the same predictions bit for bit. */
static void check_resume_save_load(nb_model *(*make)(void), const nb_dataset *d,
                                   const nb_train_config *c, const char *what)
{
    char dir[] = "/tmp/nabla_graph_XXXXXX", ckpt[64], file[64];
    assert_non_null(mkdtemp(dir));
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
    snprintf(file, sizeof file, "%s/model.st", dir);
    nb_model *straight = make(), *first = make(), *resumed = make();
    train_steps(straight, d, c, NULL, NULL, 0);
    train_steps(first, d, c, NULL, ckpt, 2);
    train_steps(resumed, d, c, ckpt, NULL, 0);
    size_t n1, n2;
    nb_real *a = copy_params(straight, &n1), *b = copy_params(resumed, &n2);
    assert_int_equal(n1, n2);
    if (memcmp(a, b, n1 * sizeof *a) != 0) fail_msg("%s: the resumed run ends elsewhere", what);
    free(b);
    /* the first run stopped with other weights: the check can fail */
    b = copy_params(first, &n2);
    assert_true(memcmp(a, b, n1 * sizeof *a) != 0);
    free(a);
    free(b);

    assert_ok(nb_model_save(resumed, file));
    nb_model *loaded;
    assert_ok(nb_model_load(file, &loaded));
    assert_null(nb_model_spec(loaded));
    assert_int_equal(nb_model_input_count(loaded), nb_model_input_count(resumed));
    assert_string_equal(nb_model_loss_name(loaded), nb_model_loss_name(resumed));
    size_t values = d->count * (size_t)nb_model_outputs(resumed);
    nb_real *p = calloc(values, sizeof *p), *q = calloc(values, sizeof *q);
    assert_ok(nb_model_predict(resumed, d->x, d->count, p));
    assert_ok(nb_model_predict(loaded, d->x, d->count, q));
    if (memcmp(p, q, values * sizeof *p) != 0) fail_msg("%s: the loaded model differs", what);
    print_message("%s: resumed and loaded bit for bit (%zu weights, %zu outputs)\n", what, n1,
                  values);
    free(p);
    free(q);
    nb_model_free(loaded);
    nb_model_free(straight);
    nb_model_free(first);
    nb_model_free(resumed);
    unlink(ckpt);
    unlink(file);
    rmdir(dir);
}

static nb_model *concat_model8(void)
{
    return concat_model(8);
}

static void test_steps_resume_save_load(void **state)
{
    (void)state;
    nb_dataset train;
    make_data(&train, 40, 3);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_MOMENTUM);
    c.optimizer.lr = 0.01;
    c.batch = BATCH;
    c.epochs = 4;
    c.seed = 11;
    check_resume_save_load(another_example, &train, &c, "another example");
    free_data(&train);

    nb_dataset d = {0};
    d.count = 30;
    d.features = 5;
    d.classes = 3;
    d.x = calloc(d.count * 5, sizeof *d.x);
    d.labels = calloc(d.count, sizeof *d.labels);
    for (size_t i = 0; i < d.count; i++) {
        for (int j = 0; j < 5; j++)
            d.x[i * 5 + (size_t)j] = (nb_real)((i * 7 + (size_t)j * 3) % 11) / 10;
        d.labels[i] = (int32_t)(i % 3);
    }
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.batch = 8; /* 30 samples: a partial last batch */
    check_resume_save_load(concat_model8, &d, &c, "concat model");
    free(d.x);
    free(d.labels);
}

/* Each role that does not fit is refused, naming it; the graph is freed. */
static void expect_roles_refused(int which, const char *part)
{
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(4, 2)), t = nb_input(g, "t", nb_shape2(4, 1));
    nb_node w = nb_param(g, "w", nb_shape2(2, 1), nb_init_xavier());
    nb_node y = nb_matmul(g, x, w);
    nb_node loss = nb_mse(g, y, t);
    nb_node square = nb_sum(g, nb_square(g, nb_sub(g, y, t)));
    nb_node in[2] = {x, x};
    nb_model_roles r = {1, in, y, t, loss};
    if (which == 3) nb_input(g, "spare", nb_shape2(4, 1)); /* an input without a role */
    if (which == 4) in[1] = nb_input(g, "other", nb_shape2(3, 2));
    if (which == 8) { /* the output reads the target: training would see it, predict not */
        nb_node xt[2] = {x, t};
        nb_node peek = nb_matmul(g, nb_concat(g, 2, xt, 1),
                                 nb_param(g, "v", nb_shape2(3, 1), nb_init_xavier()));
        r.output = peek;
        r.loss = nb_mse(g, peek, t);
    }
    if (which == 9) { /* the output is the target */
        r.output = t;
        r.loss = nb_mse(g, t, t);
    }
    if (which == 10) { /* a reshape to a fixed batch of 4 builds for no other */
        int64_t dims[2] = {4, 2};
        nb_attr fixed = nb_attr_ints("shape", 2, dims);
        nb_node flat = nb_apply_attrs(g, "reshape", "fixed", 1, &x, 1, &fixed);
        r.output = nb_matmul(g, flat, w);
        r.loss = nb_mse(g, r.output, t);
    }
    switch (which) {
    case 0:
        r.loss = square;
        break; /* not a loss op */
    case 1:
        r.n_inputs = 2;
        break; /* the same input twice */
    case 2:
        r.inputs = &w;
        break; /* a parameter */
    case 4:
        r.n_inputs = 2;
        break; /* a batch of 3 beside one of 4 */
    case 5:
        r.output = w;
        break; /* the loss does not take it */
    case 6:
        r.n_inputs = 0;
        break;
    case 7:
        r.target = x;
        break; /* the target is an input */
    }
    nb_model *m = (nb_model *)1;
    assert_int_not_equal(nb_model_from_graph(g, &r, &m), NB_OK);
    assert_null(m);
    if (!strstr(nb_last_error(), part))
        fail_msg("message \"%s\" lacks \"%s\"", nb_last_error(), part);
}

static void test_roles_checked(void **state)
{
    (void)state;
    /* An input node added to the graph after the model was made has no
     * role: saving refuses the model, and writes nothing. */
    nb_model *made = concat_model(4);
    nb_input(nb_model_graph(made), "extra", nb_shape2(4, 1));
    char path[] = "/tmp/nabla_roles_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    assert_int_equal(nb_model_save(made, path), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "input node \"extra\" is neither"));
    assert_int_equal(access(path, F_OK), -1);
    nb_model_free(made);

    expect_roles_refused(0, "the model's loss \"sum7\" is not a node of a loss op");
    expect_roles_refused(1, "model input 1 is node \"x\", which an earlier input is");
    expect_roles_refused(2, "model input 0 (node \"w\") is not an input node");
    expect_roles_refused(3, "input node \"spare\" is neither a model input nor the target");
    expect_roles_refused(4, "with the batch 4 of input 0");
    expect_roles_refused(5, "does not take the output \"w\" and the target");
    expect_roles_refused(6, "1 or more needed");
    expect_roles_refused(7, "the model's target \"x\" is also one of its inputs");
    expect_roles_refused(8, "depends on the target \"t\": a prediction has no target");
    expect_roles_refused(9, "the model's output \"t\" depends on the target \"t\"");
    expect_roles_refused(10, "the graph does not build for a batch of 3 as well as 4");
    nb_model *m = (nb_model *)1;
    assert_int_equal(nb_model_from_graph(NULL, NULL, &m), NB_ERR_ARGUMENT);
    assert_null(m);
}

/* A model's batch size is its inputs' first dimension; setting another
 * reshapes every input and the target. */
static void test_set_batch_reshapes_every_input(void **state)
{
    (void)state;
    nb_model *m = concat_model(8);
    nb_graph *g = nb_model_graph(m);
    assert_ok(nb_model_set_batch(m, 3));
    assert_true(nb_shape_equal(nb_node_shape(g, nb_model_input_at(m, 0)), nb_shape2(3, 2)));
    assert_true(nb_shape_equal(nb_node_shape(g, nb_model_input_at(m, 1)), nb_shape2(3, 3)));
    assert_true(nb_shape_equal(nb_node_shape(g, nb_model_target(m)), nb_shape1(3)));
    assert_int_equal(nb_model_input_at(m, 2), NB_NONE);
    nb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_another_example_trains),         cmocka_unit_test(test_concat_model),
        cmocka_unit_test(test_steps_resume_save_load),         cmocka_unit_test(test_roles_checked),
        cmocka_unit_test(test_set_batch_reshapes_every_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
