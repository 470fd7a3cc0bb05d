/* Mini-batches: samples of a data set gathered into the rows of a model's
 * input and target nodes, through buffers allocated once; the epoch's
 * sample order. Depends on nothing else in src/train/. */
#include "train_internal.h"

#include <string.h>

nb_status nb_batcher_init(nb_batcher *b, nb_model *model, int batch)
{
    memset(b, 0, sizeof *b);
    if (!model) return nb_error(NB_ERR_ARGUMENT, "training: no model");
    b->model = model;
    b->graph = nb_model_graph(model);
    b->input = nb_model_input(model);
    b->target = nb_model_target(model);
    b->output = nb_model_output(model);
    b->loss = nb_model_loss(model);
    b->features = nb_model_inputs(model);
    b->outputs = nb_model_outputs(model);
    const char *loss = nb_model_loss_name(model);
    if (!b->graph || b->features < 1 || b->outputs < 1 || !loss)
        return nb_error(NB_ERR_STATE, "training: the model is not built");
    const nb_loss_def *def = nb_model_loss_def(model);
    b->binary = def->target == NB_TARGET_BINARY;
    b->summed = def->reduction == NB_REDUCE_SUM;
    /* One output holds a 0/1 label unless softmax makes it a 1-class model. */
    b->label_limit = b->outputs == 1 && def->link != NB_LINK_SOFTMAX ? 2 : b->outputs;

    nb_status st = nb_model_set_batch(model, batch);
    if (st != NB_OK) return nb_error_prefix(st, "training: compiling for batch %d", batch);
    b->batch = b->current = batch;
    size_t tg = nb_shape_count(nb_node_shape(b->graph, b->target));
    if (tg % (size_t)batch != 0)
        return nb_error(NB_ERR_STATE,
                        "training: the model's target (%zu values) does not hold %d rows", tg,
                        batch);
    b->target_width = tg / (size_t)batch;
    if (b->target_width != 1 && b->target_width != (size_t)b->outputs)
        return nb_error(NB_ERR_STATE,
                        "training: the model's target has %zu values per row, "
                        "expected 1 or %d",
                        b->target_width, b->outputs);
    return NB_OK;
}

nb_status nb_batcher_check(const nb_batcher *b, const nb_dataset *data, const char *what)
{
    if (!data->x || data->count == 0)
        return nb_error(NB_ERR_ARGUMENT, "%s: it holds no samples", what);
    if (nb_model_check_sample_shape(b->model, nb_dataset_sample_shape(data)) != NB_OK)
        return nb_error_prefix(NB_ERR_SHAPE, "%s", what);
    if (data->classes > 0) {
        if (!data->labels) return nb_error(NB_ERR_ARGUMENT, "%s: no labels", what);
        for (size_t i = 0; i < data->count; i++)
            if (data->labels[i] < 0 || data->labels[i] >= b->label_limit)
                return nb_error(NB_ERR_ARGUMENT,
                                "%s: sample %zu has label %d, the model has classes 0..%d", what, i,
                                (int)data->labels[i], b->label_limit - 1);
        return NB_OK;
    }
    if (b->binary || !data->y)
        return nb_error(NB_ERR_ARGUMENT, "%s: loss %s needs class labels, the set has %s", what,
                        nb_model_loss_name(b->model), data->y ? "regression targets" : "none");
    if ((size_t)data->targets != b->target_width)
        return nb_error(NB_ERR_SHAPE, "%s: %d target values per sample, the model has %zu", what,
                        data->targets, b->target_width);
    return NB_OK;
}

nb_status nb_batcher_use(nb_batcher *b, int rows)
{
    if (rows == b->current) return NB_OK;
    nb_status st = nb_model_set_batch(b->model, rows);
    if (st != NB_OK) return nb_error_prefix(st, "compiling for a batch of %d", rows);
    b->current = rows;
    return NB_OK;
}

nb_status nb_batcher_load(nb_batcher *b, const nb_dataset *data, const int *index, size_t start,
                          int rows)
{
    nb_status st = nb_batcher_use(b, rows);
    if (st != NB_OK) return st;
    /* Rows go straight into the graph's inputs and target: one copy. */
    return nb_model_feed(b->model, data, index, start, rows);
}

double nb_batcher_loss_sum(const nb_batcher *b, int rows)
{
    double loss = nb_node_value(b->graph, b->loss)[0];
    return b->summed ? loss : loss * rows;
}

int nb_batcher_predict(const nb_batcher *b, int r)
{
    const nb_real *y = nb_node_value(b->graph, b->output) + (size_t)r * b->outputs;
    if (b->outputs == 1) return b->binary ? y[0] > 0 : y[0] > (nb_real)0.5;
    int best = 0; /* the first of equal maxima */
    for (int c = 1; c < b->outputs; c++)
        if (y[c] > y[best]) best = c;
    return best;
}

void nb_train_order(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    if (in->order_valid && memcmp(&in->order_rng, &s->rng_start, sizeof s->rng_start) == 0) return;
    size_t count = s->train->count;
    for (size_t i = 0; i < count; i++) in->index[i] = (int)i;
    s->rng = s->rng_start;
    nb_rng_shuffle(&s->rng, in->index, count);
    in->order_rng = s->rng_start;
    in->order_valid = 1;
}
