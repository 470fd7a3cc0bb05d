/* What a model needs from the data it learns: the default loss, the number
 * of outputs a loss asks for, and whether a built model fits the data. One
 * answer for every caller, so a check (nabla gradcheck) refuses exactly the
 * models that training refuses. */
#include "model_internal.h"

#include <string.h>

nb_status nb_loss_check(const char *loss)
{
    nb_loss_kind kind;
    if (!loss) return nb_error(NB_ERR_ARGUMENT, "no loss name (NULL)");
    return nb_loss_parse(loss, &kind);
}

const char *nb_loss_default(const nb_dataset *data)
{
    return data && data->classes > 0 ? "softmax_ce" : "mse";
}

nb_status nb_loss_outputs(const char *loss, const nb_dataset *data, int *outputs)
{
    if (!data || !outputs)
        return nb_error(NB_ERR_ARGUMENT, "nb_loss_outputs: data and outputs must not be NULL");
    if (!loss) loss = nb_loss_default(data);
    nb_loss_kind kind;
    nb_status st = nb_loss_parse(loss, &kind);
    if (st != NB_OK) return st;
    int classifier = kind == NB_LOSS_SOFTMAX_CE || kind == NB_LOSS_BCE;
    if (data->classes == 0 && classifier)
        return nb_error(NB_ERR_ARGUMENT,
                        "loss %s needs class labels, but the data has numeric targets (a "
                        "regression loss fits them: mse, sse, half_sse or sae)",
                        loss);
    if (kind == NB_LOSS_BCE && data->classes != 2)
        return nb_error(NB_ERR_ARGUMENT, "loss bce needs 2 classes, but the data has %d %s",
                        data->classes, nb_plural(data->classes, "class", "classes"));
    if (data->classes > 0)
        *outputs = kind == NB_LOSS_BCE ? 1 : data->classes;
    else
        *outputs = data->targets;
    return NB_OK;
}

nb_status nb_model_check_data(const nb_model *model, const nb_dataset *data)
{
    if (!model || !data)
        return nb_error(NB_ERR_ARGUMENT, "nb_model_check_data: model and data must not be NULL");
    const char *loss = nb_model_loss_name(model);
    int want = 0;
    nb_status st = nb_loss_outputs(loss, data, &want);
    if (st != NB_OK) return st;
    if (model->inputs != data->features)
        return nb_error(NB_ERR_ARGUMENT, "the model takes %d %s, but the data has %d %s",
                        model->inputs, nb_plural(model->inputs, "input", "inputs"), data->features,
                        nb_plural(data->features, "feature", "features"));
    int have = model->outputs;
    if (have == want) return NB_OK;
    if (data->classes > 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "the last dense layer has %d %s, but the data has %d classes: it "
                        "needs %d (loss %s)",
                        have, nb_plural(have, "unit", "units"), data->classes, want, loss);
    return nb_error(NB_ERR_ARGUMENT,
                    "the last dense layer has %d %s, but the data has %d regression %s: it "
                    "needs %d",
                    have, nb_plural(have, "unit", "units"), want,
                    nb_plural(want, "target", "targets"), want);
}
