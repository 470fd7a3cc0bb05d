/* What a model needs from the data it learns: the default loss, the number
 * of outputs a loss asks for, and whether a built model fits the data. One
 * answer for every caller, so a check (nabla gradcheck) refuses exactly the
 * models that training refuses. */
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

nb_status nb_loss_check(const char *loss)
{
    const char *op;
    if (!loss) return nb_error(NB_ERR_ARGUMENT, "no loss name (NULL)");
    return nb_loss_parse(loss, &op);
}

const char *nb_loss_default(const nb_dataset *data)
{
    return data && data->classes > 0 ? "softmax_ce" : "mse";
}

/* What a loss of def needs of data's outputs; name names it. */
static nb_status loss_outputs(const nb_loss_def *def, const char *name, const nb_dataset *data,
                              int *outputs)
{
    const char *loss = name;
    int classifier = nb_loss_is_classifier(def);
    if (data->classes == 0 && classifier)
        return nb_error(NB_ERR_ARGUMENT,
                        "loss %s needs class labels, but the data has numeric targets (a "
                        "regression loss fits them: mse, sse, half_sse or sae)",
                        loss);
    if (def->target == NB_TARGET_BINARY && data->classes != 2)
        return nb_error(NB_ERR_ARGUMENT, "loss bce needs 2 classes, but the data has %d %s",
                        data->classes, nb_plural(data->classes, "class", "classes"));
    if (data->classes > 0)
        *outputs = def->target == NB_TARGET_BINARY ? 1 : data->classes;
    else
        *outputs = data->targets;
    return NB_OK;
}

nb_status nb_loss_outputs(const char *loss, const nb_dataset *data, int *outputs)
{
    if (!data || !outputs)
        return nb_error(NB_ERR_ARGUMENT, "nb_loss_outputs: data and outputs must not be NULL");
    if (!loss) loss = nb_loss_default(data);
    const char *op;
    nb_status st = nb_loss_parse(loss, &op);
    if (st != NB_OK) return st;
    return loss_outputs(nb_op_find(op)->loss, loss, data, outputs);
}

/* An image [C, H, W] as "HxW" (one channel) or "CxHxW". */
static const char *image_text(nb_shape s, char *buf, size_t size)
{
    if (s.dim[0] == 1)
        snprintf(buf, size, "%dx%d", s.dim[1], s.dim[2]);
    else
        snprintf(buf, size, "%dx%dx%d", s.dim[0], s.dim[1], s.dim[2]);
    return buf;
}

/* The model's sample when its one input is an image [N, C, H, W]: [C, H, W];
 * else [inputs_total]. */
static nb_shape model_sample(const nb_model *m)
{
    nb_shape in = nb_node_shape(m->graph, m->inputs[0]);
    if (m->n_inputs == 1 && in.ndim == 4) return nb_shape3(in.dim[1], in.dim[2], in.dim[3]);
    return nb_shape1(m->inputs_total);
}

nb_status nb_model_check_sample_shape(const nb_model *model, nb_shape sample)
{
    if (!model)
        return nb_error(NB_ERR_ARGUMENT, "nb_model_check_sample_shape: model must not be NULL");
    nb_shape want = model_sample(model);
    size_t have = nb_shape_count(sample);
    int inputs = model->inputs_total;
    char a[48], b[48], c[64];
    /* Pixels in another layout are another image, whatever the model does
     * with them (a dense layer's weights belong to pixel positions too). */
    if (sample.ndim == 3 && want.ndim == 3 && !nb_shape_equal(sample, want))
        return nb_error(NB_ERR_ARGUMENT,
                        "the data's images are %s (%zu values), but the model expects %s "
                        "(images of %s)",
                        image_text(sample, a, sizeof a), have, nb_shape_format(want, c, sizeof c),
                        image_text(want, b, sizeof b));
    if (have == (size_t)inputs) return NB_OK;
    if (sample.ndim == 3)
        return nb_error(
            NB_ERR_ARGUMENT, "the data's images are %s (%zu values), but the model takes %d %s",
            image_text(sample, a, sizeof a), have, inputs, nb_plural(inputs, "input", "inputs"));
    return nb_error(NB_ERR_ARGUMENT, "the model takes %d %s, but the data has %zu %s", inputs,
                    nb_plural(inputs, "input", "inputs"), have,
                    nb_plural((long long)have, "feature", "features"));
}

nb_status nb_model_check_data(const nb_model *model, const nb_dataset *data)
{
    if (!model || !data)
        return nb_error(NB_ERR_ARGUMENT, "nb_model_check_data: model and data must not be NULL");
    const char *loss = nb_model_loss_name(model);
    int want = 0;
    nb_status st = loss_outputs(model->loss_def, loss, data, &want);
    if (st != NB_OK) return st;
    if ((st = nb_model_check_sample_shape(model, nb_dataset_sample_shape(data))) != NB_OK)
        return st;
    /* A spec's outputs are its last dense layer's units. */
    const char *what = model->spec[0] ? "the last dense layer has" : "the model's output has";
    const char *unit = model->spec[0] ? "unit" : "value",
               *units = model->spec[0] ? "units" : "values";
    int have = model->outputs;
    if (have == want) return NB_OK;
    if (data->classes > 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "%s %d %s, but the data has %d classes: it needs %d (loss %s)", what, have,
                        nb_plural(have, unit, units), data->classes, want, loss);
    return nb_error(NB_ERR_ARGUMENT, "%s %d %s, but the data has %d regression %s: it needs %d",
                    what, have, nb_plural(have, unit, units), want,
                    nb_plural(want, "target", "targets"), want);
}
