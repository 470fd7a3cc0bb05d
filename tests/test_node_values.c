/* nb_model_node_values: a hidden layer's values for raw samples, computed
 * here by hand from the model's weights and compared, through chunks
 * smaller than the sample count; nb_graph_find_op; the refusals. */
#include "check.h"

#include <math.h>
#include <string.h>

#define IN     3
#define HIDDEN 4
#define COUNT  7 /* more than the batch: two full chunks and a partial one */

static void test_hidden_values(void **state)
{
    (void)state;
    nb_model *m = NULL;
    assert_int_equal(nb_model_create("dense:4,relu,dense:2", IN, "softmax_ce", 3, &m), NB_OK);
    assert_int_equal(nb_model_init(m, 5), NB_OK);
    nb_graph *g = nb_model_graph(m);
    nb_node affine = nb_graph_find_op(g, "affine", 0);
    nb_node relu = nb_graph_find_op(g, "relu", 0);
    assert_true(affine != NB_NONE && relu > affine);
    assert_true(nb_graph_find_op(g, "affine", affine + 1) > relu); /* the second layer */
    assert_int_equal(nb_graph_find_op(g, "conv2d", 0), NB_NONE);
    nb_real x[COUNT * IN], out[COUNT * HIDDEN];
    for (int i = 0; i < COUNT * IN; i++) x[i] = (nb_real)(0.37 * i - 2.1);
    assert_int_equal(nb_model_node_values(m, affine, x, COUNT, out), NB_OK);
    const nb_real *w = nb_node_value(g, nb_graph_find(g, "dense0.weight"));
    const nb_real *b = nb_node_value(g, nb_graph_find(g, "dense0.bias"));
    for (int i = 0; i < COUNT; i++)
        for (int j = 0; j < HIDDEN; j++) {
            double want = b[j];
            for (int k = 0; k < IN; k++) want += (double)x[i * IN + k] * w[k * HIDDEN + j];
            assert_true(fabs(out[i * HIDDEN + j] - want) <= 1e-5 * (1 + fabs(want)));
        }
    assert_int_equal(nb_model_batch(m), 3); /* put back */
    /* The model still predicts as before. */
    nb_real p[COUNT * 2];
    assert_int_equal(nb_model_predict(m, x, COUNT, p), NB_OK);
    nb_model_free(m);
}

static void test_refusals(void **state)
{
    (void)state;
    nb_model *m = NULL;
    assert_int_equal(nb_model_create("dense:2", IN, "softmax_ce", 2, &m), NB_OK);
    nb_graph *g = nb_model_graph(m);
    nb_real x[IN] = {1, 2, 3}, out[8];
    assert_int_equal(nb_model_node_values(m, nb_graph_find(g, "dense0.weight"), x, 1, out),
                     NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "no batch dimension"));
    assert_int_equal(nb_model_node_values(m, nb_model_loss(m), x, 1, out), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_node_values(m, 999, x, 1, out), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_node_values(m, nb_model_output(m), NULL, 1, out), NB_ERR_ARGUMENT);
    assert_int_equal(nb_model_node_values(m, nb_model_output(m), x, 0, out), NB_OK);
    nb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hidden_values),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
