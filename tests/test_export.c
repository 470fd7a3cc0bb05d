/* nb_model_export_c on hand-built graphs: an op the exporter does not
 * know is refused naming the node and op, and no file is written; a
 * matmul + bias_add + softmax graph exports (bias folded into the
 * product); identifier prefixes are checked; the pair of files is written
 * as a set (a file that cannot be written leaves the other as it was);
 * the model file is never replaced; a weight that is not finite is
 * refused. (tests/export.sh compiles and runs exported models.) */
#include "check.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 2

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/nabla_test_export_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* The whole text of a file (NULL when it cannot be read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* x [B, 3] -> matmul w [3, 2] -> bias_add b [2] -> then (square: an op the
 * exporter does not know) or softmax, with an mse or cross-entropy loss. */
static nb_model *graph_model(int with_square)
{
    nb_graph *g = nb_graph_create();
    assert_non_null(g);
    nb_node x = nb_input(g, "x", nb_shape2(BATCH, 3));
    nb_node w = nb_param(g, "w", nb_shape2(3, 2), nb_init_uniform(-1, 1));
    nb_node b = nb_param(g, "b", nb_shape1(2), nb_init_constant(0.5));
    nb_node y = nb_bias_add(g, nb_matmul(g, x, w), b);
    nb_node t = nb_input(g, "t", nb_shape2(BATCH, 2));
    nb_node out, loss;
    if (with_square) {
        out = nb_square(g, y);
        assert_ok(nb_node_set_name(g, out, "squared"));
        loss = nb_mse(g, out, t);
    } else {
        /* A name that would end or start a comment, or make a trigraph. */
        assert_ok(nb_node_set_name(g, nb_node_input(g, y, 0), "a */ b /* c ?\?= d"));
        out = nb_softmax(g, y);
        loss = nb_cross_entropy(g, out, t);
    }
    nb_model_roles roles = {1, &x, out, t, loss};
    nb_model *m;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    return m;
}

static void unknown_op_names_the_node(void **state)
{
    (void)state;
    char prefix[128], h[160];
    nb_model *m = graph_model(1);
    nb_status st = nb_model_export_c(m, path_in(prefix, sizeof prefix, "sq"), NULL);
    assert_int_equal(st, NB_ERR_LIMIT);
    assert_non_null(strstr(nb_last_error(), "node \"squared\" (op square) cannot be exported"));
    snprintf(h, sizeof h, "%s.h", prefix);
    assert_int_equal(access(h, F_OK), -1); /* nothing written */
    nb_model_free(m);
}

static void graph_exports(void **state)
{
    (void)state;
    char prefix[128], h[160], c[160];
    nb_model *m = graph_model(0);
    nb_export_options opt = nb_export_defaults();
    opt.name = "hand_built";
    assert_ok(nb_model_export_c(m, path_in(prefix, sizeof prefix, "g"), &opt));
    snprintf(h, sizeof h, "%s.h", prefix);
    snprintf(c, sizeof c, "%s.c", prefix);
    const char *text = slurp(h);
    assert_non_null(text);
    assert_non_null(strstr(text, "#define HAND_BUILT_INPUTS 3\n"));
    assert_non_null(strstr(text, "#define HAND_BUILT_OUTPUTS 2\n"));
    assert_non_null(
        strstr(text, "int hand_built_predict(const float *in, float *out, float *scratch);"));
    text = slurp(c);
    assert_non_null(text);
    assert_non_null(strstr(text, "#include \"g.h\""));
    /* The bias is the product's: one dense stage, then the graph's softmax. */
    assert_non_null(strstr(text, "dense_in(l0_w, l0_b, in, out, 3, 2);"));
    assert_non_null(strstr(text, "softmax(out, 2);"));
    assert_null(strstr(text, "channel_affine("));
    assert_null(strstr(text, "malloc"));
    /* Node names reach comments defused: no comment ends or starts early. */
    assert_non_null(strstr(text, "a * / b / * c ? ?= d"));
    assert_null(strstr(text, "?\?"));
    nb_model_free(m);
}

static void names_are_checked(void **state)
{
    (void)state;
    assert_ok(nb_export_check_name("fashion"));
    assert_ok(nb_export_check_name("Model_2"));
    const char *bad[] = {"",
                         "2fast",
                         "_hidden",
                         "my-model",
                         "a b",
                         "caf\xc3\xa9",
                         "a123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nb_export_check_name(bad[i]), NB_ERR_ARGUMENT);
    char prefix[128];
    nb_model *m = graph_model(0);
    /* From the file name when no name is given. */
    assert_int_equal(nb_model_export_c(m, path_in(prefix, sizeof prefix, "my-model"), NULL),
                     NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "\"my-model\" is not a C identifier"));
    nb_model_free(m);
}

static void pair_is_written_as_a_set(void **state)
{
    (void)state;
    char prefix[128], h[160], c[160];
    nb_model *m = graph_model(0);
    path_in(prefix, sizeof prefix, "pair");
    snprintf(h, sizeof h, "%s.h", prefix);
    snprintf(c, sizeof c, "%s.c", prefix);
    write_file(h, "old header\n");
    assert_int_equal(mkdir(c, 0755), 0); /* pair.c cannot be replaced */
    assert_int_equal(nb_model_export_c(m, prefix, NULL), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "pair.c"));
    assert_string_equal(slurp(h), "old header\n");
    /* Once it can, both are written. */
    assert_int_equal(rmdir(c), 0);
    write_file(c, "old source\n");
    assert_ok(nb_model_export_c(m, prefix, NULL));
    assert_non_null(strstr(slurp(h), "pair_predict"));
    assert_non_null(strstr(slurp(c), "pair_predict"));
    /* No temporary or kept file is left beside them. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -c '^pair\\.') -eq 2", dir);
    assert_int_equal(system(cmd), 0);
    nb_model_free(m);
}

static void model_file_is_kept(void **state)
{
    (void)state;
    char prefix[128], model[160];
    nb_model *m = graph_model(0);
    path_in(prefix, sizeof prefix, "self");
    snprintf(model, sizeof model, "%s.c", prefix);
    assert_ok(nb_model_save(m, model));
    nb_export_options opt = nb_export_defaults();
    opt.keep = model;
    assert_int_equal(nb_model_export_c(m, prefix, &opt), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "would replace its input"));
    nb_model *back;
    assert_ok(nb_model_load(model, &back)); /* still the model */
    nb_model_free(back);
    nb_model_free(m);
}

static void weights_must_be_finite(void **state)
{
    (void)state;
    char prefix[128];
    nb_model *m = graph_model(0);
    nb_graph *g = nb_model_graph(m);
    nb_node_value(g, nb_graph_find(g, "w"))[4] = (nb_real)NAN;
    assert_int_equal(nb_model_export_c(m, path_in(prefix, sizeof prefix, "nan"), NULL),
                     NB_ERR_NUMERIC);
    assert_non_null(strstr(nb_last_error(), "value 4 of \"w\" is not finite"));
    nb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_op_names_the_node), cmocka_unit_test(graph_exports),
        cmocka_unit_test(names_are_checked),         cmocka_unit_test(pair_is_written_as_a_set),
        cmocka_unit_test(model_file_is_kept),        cmocka_unit_test(weights_must_be_finite),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
