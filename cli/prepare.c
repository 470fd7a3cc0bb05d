/* Data and model preparation shared by train and gradcheck (prepare.h). */
#include "prepare.h"

#include "cli.h"
#include "data_opts.h"

#include <string.h>

/* The library's table of scalings, for the messages that list them. */
static const char *scale_name(int kind)
{
    return nb_scale_name((nb_scale_kind)kind);
}

int cli_data_check_options(const arg_command *cmd, const cli_data_options *o)
{
    nb_scale_kind scale;
    char names[64];
    if (o->scale && nb_scale_parse(o->scale, &scale) != NB_OK)
        return args_usage_error(cmd, "--scale: unknown scaling '%s' (%s)", o->scale,
                                cli_name_list(names, sizeof names, scale_name, NULL));
    /* Targets are never scaled as bytes. */
    const char *unit = nb_scale_name(NB_SCALE_UNIT);
    if (o->scale_targets &&
        (nb_scale_parse(o->scale_targets, &scale) != NB_OK || scale == NB_SCALE_UNIT))
        return args_usage_error(cmd, "--scale-targets: unknown scaling '%s' (%s)", o->scale_targets,
                                cli_name_list(names, sizeof names, scale_name, unit));
    char delim;
    int header;
    if (o->delimiter && cli_parse_delimiter(o->delimiter, &delim) != 0)
        return args_usage_error(cmd, "--delimiter: %s", cli_delimiter_problem(o->delimiter));
    if (o->header && cli_parse_header(o->header, &header) != 0)
        return args_usage_error(cmd, "--header: '%s' is not yes, no or auto", o->header);
    return -1;
}

int cli_model_check_options(const arg_command *cmd, const char *spec, const char *loss,
                            const cli_data_options *o)
{
    int outputs = 0;
    if (nb_spec_outputs(spec, &outputs) != NB_OK)
        return args_usage_error(cmd, "--model: %s", nb_last_error());
    if (!loss) return -1;
    nb_loss_info info;
    if (nb_loss_info_of(loss, &info) != NB_OK)
        return args_usage_error(cmd, "--loss: %s", nb_last_error());
    int bce = info.binary, softmax = info.classifier && !bce;
    nb_scale_kind targets = NB_SCALE_NONE;
    if (o->scale_targets) nb_scale_parse(o->scale_targets, &targets);
    if ((softmax || bce) && o->regression)
        return args_usage_error(cmd,
                                "--loss %s needs class labels, but --regression makes the label "
                                "a number to fit (use --loss mse)",
                                loss);
    if ((softmax || bce) && targets != NB_SCALE_NONE)
        return args_usage_error(cmd,
                                "--scale-targets %s applies to numeric targets, but --loss %s "
                                "trains on class labels (one-hot class targets are never scaled)",
                                o->scale_targets, loss);
    if (softmax && outputs < 2)
        return args_usage_error(cmd,
                                "--loss softmax_ce needs one output per class (2 or more), but "
                                "the last dense layer of --model has 1 unit (for two classes: "
                                "dense:2, or --loss bce with dense:1)");
    if (bce && outputs != 1)
        return args_usage_error(cmd,
                                "--loss bce needs one output (one logit for two classes), but "
                                "the last dense layer of --model has %d units (use dense:1, or "
                                "--loss softmax_ce with one unit per class)",
                                outputs);
    return -1;
}

int cli_data_load(const char *cmd, const cli_data_options *o, nb_dataset *train, nb_dataset *test,
                  nb_scale_kind *scale, nb_scale_kind *target_scale, char *label)
{
    nb_data_info info = {.label_column = -1};
    nb_csv_options csv = {
        .label = o->label, .header = -1, .regression = o->regression, .info = &info};
    if (o->delimiter) cli_parse_delimiter(o->delimiter, &csv.delimiter); /* checked */
    if (o->header) cli_parse_header(o->header, &csv.header);
    nb_status st = nb_data_open(o->source, &csv, o->seed, train, test);
    if (st != NB_OK) {
        /* A label or regression for data that is not CSV is a usage error. */
        enum cli_stage stage = st == NB_ERR_ARGUMENT ? CLI_STAGE_USAGE : CLI_STAGE_DATA;
        /* Make sure the message names the source. */
        if (strstr(nb_last_error(), o->source)) return cli_fail(cmd, st, stage, NULL);
        char what[512];
        snprintf(what, sizeof what, "data '%s'", o->source);
        return cli_fail(cmd, st, stage, what);
    }
    if (!o->quiet) cli_print_data_info(stderr, o->source, &info);
    if (label) memcpy(label, info.label, NB_LABEL_NAME_MAX);
    if (train->count == 0) {
        cli_error(cmd, "data '%s' has no training samples", o->source);
        return CLI_EXIT_DATA;
    }
    /* Found now, not after training: a model sized for the training
     * part's classes cannot be evaluated on labels it has never seen. */
    if (test->count && test->classes > train->classes) {
        cli_error(cmd,
                  "data '%s': the test part has labels up to %d, but the training part has "
                  "only %d classes (0 to %d)",
                  o->source, test->classes - 1, train->classes, train->classes - 1);
        return CLI_EXIT_DATA;
    }
    *scale = nb_data_default_scale(o->source, train);
    if (o->scale) nb_scale_parse(o->scale, scale);
    /* Numeric targets are z-scored unless told: a net's outputs start near
     * 0 with a spread near 1, far from, say, house prices of 1e5..1e6. */
    *target_scale = train->classes > 0 ? NB_SCALE_NONE : NB_SCALE_ZSCORE;
    if (o->scale_targets) nb_scale_parse(o->scale_targets, target_scale);
    if (train->classes > 0 && *target_scale != NB_SCALE_NONE) {
        cli_error(cmd,
                  "--scale-targets %s: '%s' has %d classes, not numeric targets (one-hot class "
                  "targets are never scaled)",
                  o->scale_targets, o->source, train->classes);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_data_scale(const char *cmd, nb_scale_kind scale, nb_scale_kind target_scale,
                   nb_dataset *train, nb_dataset *val, nb_dataset *test, nb_scaler *scaler,
                   nb_scaler *target_scaler)
{
    nb_dataset *parts[] = {train, val, test};
    nb_status st = nb_scaler_fit(scale, train, scaler);
    if (st != NB_OK) return cli_fail(cmd, st, CLI_STAGE_DATA, "fitting the scaler");
    for (int i = 0; i < 3; i++)
        if (parts[i] && parts[i]->count) nb_scaler_apply(scaler, parts[i]->x, parts[i]->count);
    if (target_scale == NB_SCALE_NONE) return CLI_EXIT_OK;
    /* The targets too, by the training part's statistics only. */
    st = nb_scaler_fit_targets(target_scale, train, target_scaler);
    if (st != NB_OK) return cli_fail(cmd, st, CLI_STAGE_DATA, NULL);
    for (int i = 0; i < 3; i++)
        if (parts[i] && parts[i]->count)
            nb_scaler_apply(target_scaler, parts[i]->y, parts[i]->count);
    return CLI_EXIT_OK;
}

int cli_model_build(const arg_command *cmd, const char *source, const nb_dataset *train,
                    const char *spec, const char *loss, int batch, nb_model **out)
{
    if (!loss) loss = nb_loss_default(train);
    int outputs = 0;
    /* Before building: the loss itself may not fit the data. */
    nb_status st = nb_loss_outputs(loss, train, &outputs);
    if (st != NB_OK)
        return args_usage_error(cmd, "--loss %s does not fit '%s': %s", loss, source,
                                nb_last_error());
    st = nb_model_create_shaped(spec, nb_dataset_sample_shape(train), loss, batch, out);
    if (st != NB_OK) {
        if (st == NB_ERR_MEMORY) return cli_fail(cmd->name, st, CLI_STAGE_RUN, "--model");
        return args_usage_error(cmd, "--model: %s", nb_last_error());
    }
    if (nb_model_check_data(*out, train) != NB_OK)
        return args_usage_error(cmd, "--model does not fit '%s': %s", source, nb_last_error());
    return CLI_EXIT_OK;
}
