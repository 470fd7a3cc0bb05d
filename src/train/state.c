/* The guard of the training state's public fields: a private copy of each
 * field as the library last left it, compared before every step, save and
 * load, so that no size, position or pointer the library uses comes from a
 * field a caller wrote. A caller may write stop (and the values of grads);
 * any other change makes the state untrustworthy: NB_ERR_STATE naming the
 * field. Depends on nothing else in src/train/. */
#include "train_internal.h"

#include <stddef.h>
#include <string.h>

typedef struct field {
    size_t offset, size;
    const char *name;
} field;

#define FIELD(f)                                                                                   \
    {                                                                                              \
        offsetof(nb_train_state, f), sizeof(((nb_train_state *)0)->f), #f                          \
    }

/* Every field but stop and internal (config member by member: no padding
 * is compared). */
static const field fields[] = {
    FIELD(model),
    FIELD(train),
    FIELD(val),
    FIELD(config.optimizer.kind),
    FIELD(config.optimizer.lr),
    FIELD(config.optimizer.momentum),
    FIELD(config.optimizer.rho),
    FIELD(config.optimizer.beta1),
    FIELD(config.optimizer.beta2),
    FIELD(config.optimizer.eps),
    FIELD(config.optimizer.weight_decay),
    FIELD(config.batch),
    FIELD(config.epochs),
    FIELD(config.seed),
    FIELD(config.schedule),
    FIELD(config.step_epochs),
    FIELD(config.gamma),
    FIELD(config.lr_min),
    FIELD(config.clip_norm),
    FIELD(config.target_loss),
    FIELD(config.target_accuracy),
    FIELD(config.time_limit),
    FIELD(config.patience),
    FIELD(config.progress),
    FIELD(config.progress_user),
    FIELD(config.checkpoint_path),
    FIELD(config.checkpoint_epochs),
    FIELD(config.checkpoint_minutes),
    FIELD(config.checkpoint_batches),
    FIELD(config.resume_path),
    FIELD(config.interrupt),
    FIELD(config.shards),
    FIELD(config.comm),
    FIELD(optimizer),
    FIELD(params),
    FIELD(grads),
    FIELD(param_count),
    FIELD(buffer_count),
    FIELD(buffers),
    FIELD(batch_rows),
    FIELD(batches),
    FIELD(epoch),
    FIELD(batch),
    FIELD(rng_start),
    FIELD(rng),
    FIELD(rows),
    FIELD(batch_loss),
    FIELD(batch_correct),
    FIELD(loss_sum),
    FIELD(correct),
    FIELD(seen),
    FIELD(history),
    FIELD(epochs_run),
    FIELD(best_epoch),
    FIELD(since_best),
    FIELD(best_loss),
    FIELD(best),
    FIELD(start),
    FIELD(epoch_start),
    FIELD(stop_reason),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

void nb_train_state_sync(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    for (size_t i = 0; i < N_FIELDS; i++)
        memcpy((char *)&in->mirror + fields[i].offset, (const char *)s + fields[i].offset,
               fields[i].size);
    in->synced = 1;
}

nb_status nb_train_state_check(const nb_train_state *s, const char *what)
{
    const nb_train_internal *in = s->internal;
    if (!in->synced) return nb_error(NB_ERR_STATE, "training: %s: the state is not set up", what);
    for (size_t i = 0; i < N_FIELDS; i++)
        if (memcmp((const char *)&in->mirror + fields[i].offset, (const char *)s + fields[i].offset,
                   fields[i].size) != 0)
            return nb_error(NB_ERR_STATE,
                            "training: %s: the state's field %s was changed by the caller (only "
                            "stop, and the values in grads before nb_train_apply, may be "
                            "written); put it back to go on",
                            what, fields[i].name);
    return NB_OK;
}
