/* Training defaults, their checks and the learning-rate schedules. */
#include "train_internal.h"

#include <math.h>
#include <string.h>

nb_train_config nb_train_defaults(void)
{
    nb_train_config c;
    memset(&c, 0, sizeof c);
    c.optimizer = nb_optimizer_defaults(NB_OPT_SGD);
    c.batch = 32;
    c.epochs = 10;
    c.seed = 1;
    c.schedule = NB_SCHEDULE_CONSTANT;
    c.step_epochs = 10;
    c.gamma = 0.1;
    /* No checkpoints, no resume, no interrupt flag. */
    c.checkpoint_path = c.resume_path = NULL;
    c.checkpoint_epochs = c.checkpoint_batches = 0;
    c.checkpoint_minutes = 0;
    c.interrupt = NULL;
    return c;
}

static const char *const schedule_names[] = {"constant", "step", "cosine"};
#define N_SCHEDULES (sizeof schedule_names / sizeof schedule_names[0])

const char *nb_schedule_name(nb_schedule_kind kind)
{
    return (unsigned)kind < N_SCHEDULES ? schedule_names[kind] : "unknown";
}

nb_status nb_schedule_parse(const char *name, nb_schedule_kind *kind)
{
    if (!kind) return nb_error(NB_ERR_ARGUMENT, "parsing a schedule name: no output pointer");
    for (size_t i = 0; name && i < N_SCHEDULES; i++)
        if (strcmp(name, schedule_names[i]) == 0) {
            *kind = (nb_schedule_kind)i;
            return NB_OK;
        }
    return nb_error(NB_ERR_NOT_FOUND, "unknown schedule \"%s\" (constant, step, cosine)",
                    name ? name : "");
}

double nb_schedule_lr(const nb_train_config *c, int epoch)
{
    double lr = c->optimizer.lr;
    switch (c->schedule) {
    case NB_SCHEDULE_STEP:
        /* lr * gamma^floor((epoch - 1) / step_epochs) */
        return lr * pow(c->gamma, (double)((epoch - 1) / c->step_epochs));
    case NB_SCHEDULE_COSINE: {
        /* lr_min + (lr - lr_min) (1 + cos(pi (epoch - 1) / epochs)) / 2 */
        const double pi = 3.14159265358979323846;
        double t = (double)(epoch - 1) / c->epochs;
        return c->lr_min + (lr - c->lr_min) * (1 + cos(pi * t)) / 2;
    }
    case NB_SCHEDULE_CONSTANT:
    default:
        return lr;
    }
}

/* A finite value >= 0. */
static int non_negative(double v)
{
    return isfinite(v) && v >= 0;
}

static nb_status check_checkpoints(const nb_train_config *c)
{
    if (c->checkpoint_epochs < 0)
        return nb_error(NB_ERR_ARGUMENT, "training: checkpoint_epochs must be >= 0, got %d",
                        c->checkpoint_epochs);
    if (c->checkpoint_batches < 0)
        return nb_error(NB_ERR_ARGUMENT, "training: checkpoint_batches must be >= 0, got %d",
                        c->checkpoint_batches);
    if (!non_negative(c->checkpoint_minutes))
        return nb_error(NB_ERR_ARGUMENT, "training: checkpoint_minutes must be >= 0, got %g",
                        c->checkpoint_minutes);
    if (c->checkpoint_path && !c->checkpoint_path[0])
        return nb_error(NB_ERR_ARGUMENT, "training: checkpoint_path is empty");
    if (c->resume_path && !c->resume_path[0])
        return nb_error(NB_ERR_ARGUMENT, "training: resume_path is empty");
    if (!c->checkpoint_path) {
        const char *needs = c->interrupt                ? "an interrupt flag"
                            : c->checkpoint_epochs > 0  ? "checkpoint_epochs"
                            : c->checkpoint_batches > 0 ? "checkpoint_batches"
                            : c->checkpoint_minutes > 0 ? "checkpoint_minutes"
                                                        : NULL;
        if (needs) return nb_error(NB_ERR_ARGUMENT, "training: %s needs a checkpoint_path", needs);
    }
    return NB_OK;
}

nb_status nb_train_config_check(const nb_train_config *c)
{
    if (c->batch < 1)
        return nb_error(NB_ERR_ARGUMENT, "training: batch size must be >= 1, got %d", c->batch);
    if (c->epochs < 1)
        return nb_error(NB_ERR_ARGUMENT, "training: epochs must be >= 1, got %d", c->epochs);
    if (!(c->optimizer.lr > 0) || !isfinite(c->optimizer.lr))
        return nb_error(NB_ERR_ARGUMENT, "training: learning rate must be > 0, got %g",
                        c->optimizer.lr);
    switch (c->schedule) {
    case NB_SCHEDULE_CONSTANT:
        break;
    case NB_SCHEDULE_STEP:
        if (c->step_epochs < 1)
            return nb_error(NB_ERR_ARGUMENT,
                            "training: step schedule needs step_epochs >= 1, got %d",
                            c->step_epochs);
        if (!(c->gamma > 0) || !isfinite(c->gamma))
            return nb_error(NB_ERR_ARGUMENT, "training: step schedule needs gamma > 0, got %g",
                            c->gamma);
        break;
    case NB_SCHEDULE_COSINE:
        if (!non_negative(c->lr_min) || c->lr_min > c->optimizer.lr)
            return nb_error(NB_ERR_ARGUMENT,
                            "training: cosine schedule needs 0 <= lr_min <= lr (%g), got %g",
                            c->optimizer.lr, c->lr_min);
        break;
    default:
        return nb_error(NB_ERR_ARGUMENT, "training: unknown schedule %d", (int)c->schedule);
    }
    if (!non_negative(c->clip_norm))
        return nb_error(NB_ERR_ARGUMENT, "training: clip_norm must be >= 0, got %g", c->clip_norm);
    if (!non_negative(c->target_loss))
        return nb_error(NB_ERR_ARGUMENT, "training: target_loss must be >= 0, got %g",
                        c->target_loss);
    if (!non_negative(c->target_accuracy) || c->target_accuracy > 1)
        return nb_error(NB_ERR_ARGUMENT, "training: target_accuracy must be in [0, 1], got %g",
                        c->target_accuracy);
    if (!non_negative(c->time_limit))
        return nb_error(NB_ERR_ARGUMENT, "training: time_limit must be >= 0 seconds, got %g",
                        c->time_limit);
    if (c->patience < 0)
        return nb_error(NB_ERR_ARGUMENT, "training: patience must be >= 0, got %d", c->patience);
    return check_checkpoints(c);
}
