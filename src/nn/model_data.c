/* What a model needs from the data it learns: the default loss, the number
 * of outputs a loss asks for, and whether a built model fits the data. One
 * answer for every caller, so a check (nabla gradcheck) refuses exactly the
 * models that training refuses. */
#include "model_internal.h"

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

nb_status nb_model_check_data(const nb_model *model, const nb_dataset *data)
{
    if (!model || !data)
        return nb_error(NB_ERR_ARGUMENT, "nb_model_check_data: model and data must not be NULL");
    const char *loss = nb_model_loss_name(model);
    int want = 0;
    nb_status st = loss_outputs(model->loss_def, loss, data, &want);
    if (st != NB_OK) return st;
    int inputs = model->inputs_total;
    if (inputs != data->features)
        return nb_error(NB_ERR_ARGUMENT, "the model takes %d %s, but the data has %d %s", inputs,
                        nb_plural(inputs, "input", "inputs"), data->features,
                        nb_plural(data->features, "feature", "features"));
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
