/* A model from a graph built by hand: two inputs, a 1-D "signal" [N, 1]
 * and a "context" [N, 3], joined by concat, a hidden layer and one output
 * fitted with mse to y = sin(3 s) + c0 c1 - c2 / 2. The model is trained,
 * saved with its graph, loaded back without any spec, and the loaded model
 * predicts exactly what the trained one does.
 * Usage: two_inputs [MODEL_FILE]   (default: two_inputs.safetensors) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nabla.h"

#define SAMPLES 512
#define BATCH   32

static nb_status build(nb_model **out)
{
    nb_graph *g = nb_graph_create();
    if (!g) return NB_ERR_MEMORY;
    nb_node signal = nb_input(g, "signal", nb_shape2(BATCH, 1));
    nb_node context = nb_input(g, "context", nb_shape2(BATCH, 3));
    nb_node both[2] = {signal, context};
    nb_node joined = nb_concat(g, 2, both, 1); /* [N, 4] */
    nb_node hidden = nb_tanh(g, nb_dense(g, joined, 32, "hidden", nb_init_xavier()));
    nb_node y = nb_dense(g, hidden, 1, "out", nb_init_xavier());
    nb_node target = nb_input(g, "target", nb_shape2(BATCH, 1));
    nb_node loss = nb_mse(g, y, target);
    nb_model_roles roles = {2, both, y, target, loss};
    return nb_model_from_graph(g, &roles, out); /* frees g on failure */
}

/* Each sample's features are the inputs' values in order: signal, then
 * the three context values. */
static nb_status make_data(nb_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->count = SAMPLES;
    d->features = 4;
    d->targets = 1;
    d->x = nb_calloc(SAMPLES * 4, sizeof *d->x);
    d->y = nb_calloc(SAMPLES, sizeof *d->y);
    if (!d->x || !d->y) return NB_ERR_MEMORY;
    nb_rng rng;
    nb_rng_seed(&rng, 7);
    for (int i = 0; i < SAMPLES; i++) {
        nb_real *x = d->x + i * 4;
        for (int k = 0; k < 4; k++) x[k] = (nb_real)(2 * nb_rng_uniform(&rng) - 1);
        d->y[i] = (nb_real)(sin(3 * x[0]) + x[1] * x[2] - x[3] / 2);
    }
    return NB_OK;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "two_inputs.safetensors";
    nb_dataset data;
    nb_model *model = NULL, *loaded = NULL;
    nb_train_result result;
    memset(&result, 0, sizeof result);
    nb_real before[8], after[8], trained[8];
    nb_train_config config = nb_train_defaults();
    config.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    config.optimizer.lr = 0.01;
    config.batch = BATCH;
    config.epochs = 40;

    nb_status st = make_data(&data);
    if (st == NB_OK) st = build(&model);
    if (st == NB_OK) st = nb_model_init(model, 1);
    if (st == NB_OK) st = nb_model_predict(model, data.x, 8, before);
    if (st == NB_OK) st = nb_train(model, &data, NULL, &config, &result);
    if (st == NB_OK) st = nb_model_predict(model, data.x, 8, trained);
    if (st == NB_OK) st = nb_model_save(model, path);
    if (st == NB_OK) st = nb_model_load(path, &loaded);
    if (st == NB_OK) st = nb_model_predict(loaded, data.x, 8, after);
    if (st != NB_OK) {
        fprintf(stderr, "two_inputs: %s\n", nb_last_error());
    } else {
        printf("inputs: %d (\"%s\" and \"%s\"), %d features per sample\n",
               nb_model_input_count(loaded),
               nb_node_name(nb_model_graph(loaded), nb_model_input_at(loaded, 0)),
               nb_node_name(nb_model_graph(loaded), nb_model_input_at(loaded, 1)),
               nb_model_inputs(loaded));
        printf("train loss: epoch 1 %.4f, epoch %d %.4f\n", result.history[0].train_loss,
               result.epochs_run, result.history[result.epochs_run - 1].train_loss);
        printf("%-10s %-10s %-10s %-10s\n", "target", "untrained", "trained", "loaded");
        for (int i = 0; i < 8; i++)
            printf("%-10.4f %-10.4f %-10.4f %-10.4f\n", (double)data.y[i], (double)before[i],
                   (double)trained[i], (double)after[i]);
        int same = memcmp(trained, after, sizeof after) == 0;
        printf("loaded model predicts %s\n", same ? "the same, bit for bit" : "DIFFERENTLY");
        if (!same) st = NB_ERR_STATE;
    }
    nb_train_result_free(&result);
    nb_model_free(model);
    nb_model_free(loaded);
    nb_free(data.x);
    nb_free(data.y);
    return st == NB_OK ? 0 : 1;
}
