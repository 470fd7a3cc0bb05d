/* Saving a training checkpoint: the whole nb_train_state in one
 * safetensors file (parameters, optimizer slots, best weights and
 * non-trainable buffers as tensors; everything else in "__metadata__"), so
 * that a run resumed from it ends bit for bit where an uninterrupted one
 * would. Numbers that must come back exactly are written with 17
 * significant digits (strtod reads them back to the same double) or, for
 * the generator, as hex. See docs/training.md; checkpoint_load.c reads it.
 *
 * Depends on the state's fields (nabla.h, train_internal.h), the model,
 * graph and optimizer API, checkpoint_graph.c ("graph" and "constants"),
 * checkpoint_meta.c (the data's fingerprints), io/checkpoint_file,
 * clock.c and state.c (the guard of the public fields); it calls nothing
 * in trainer.c (which calls it). */
#include "checkpoint.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* A JSON number that reads back as exactly v; null when not finite. */
static cJSON *exact_number(double v)
{
    char buf[40];
    if (!isfinite(v)) return cJSON_CreateNull();
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static int add_number(cJSON *obj, const char *key, double v)
{
    cJSON *n = exact_number(v);
    if (n && cJSON_AddItemToObject(obj, key, n)) return 1;
    cJSON_Delete(n);
    return 0;
}

static int put(cJSON *meta, const char *key, const char *value)
{
    return cJSON_AddStringToObject(meta, key, value) != NULL;
}

static int put_u64(cJSON *meta, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return put(meta, key, buf);
}

static int put_double(cJSON *meta, const char *key, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v); /* "inf" for no best loss yet */
    return put(meta, key, buf);
}

/* Adds obj as JSON text under key; takes obj (NULL: fails). */
static int put_json(cJSON *meta, const char *key, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    int ok = text && put(meta, key, text);
    cJSON_free(text);
    return ok;
}

static cJSON *optimizer_json(const nb_optimizer_config *o)
{
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddStringToObject(j, "kind", nb_optimizer_name(o->kind));
    ok = ok && add_number(j, "lr", o->lr) && add_number(j, "momentum", o->momentum);
    ok = ok && add_number(j, "rho", o->rho) && add_number(j, "beta1", o->beta1);
    ok = ok && add_number(j, "beta2", o->beta2) && add_number(j, "eps", o->eps);
    ok = ok && add_number(j, "weight_decay", o->weight_decay);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

/* shards: the batch's row ranges as the run planned them (the default
 * follows the thread and process count), which resume must repeat. */
static cJSON *training_json(const nb_train_config *c, int shards)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    cJSON *j = cJSON_CreateObject();
    int ok = j && add_number(j, "batch", c->batch) && add_number(j, "epochs", c->epochs);
    ok = ok && cJSON_AddStringToObject(j, "seed", seed); /* may not fit a double */
    ok = ok && cJSON_AddStringToObject(j, "schedule", nb_schedule_name(c->schedule));
    ok = ok && add_number(j, "step_epochs", c->step_epochs) && add_number(j, "gamma", c->gamma);
    ok = ok && add_number(j, "lr_min", c->lr_min) && add_number(j, "clip_norm", c->clip_norm);
    ok = ok && add_number(j, "patience", c->patience) && add_number(j, "shards", shards);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

static cJSON *data_json(const nb_dataset *d, uint64_t hash)
{
    char hex[20];
    snprintf(hex, sizeof hex, "%016" PRIx64, hash);
    cJSON *j = cJSON_CreateObject();
    int ok =
        j && add_number(j, "count", (double)d->count) && add_number(j, "features", d->features);
    ok = ok && add_number(j, "classes", d->classes) && add_number(j, "targets", d->targets);
    ok = ok && cJSON_AddStringToObject(j, "fnv1a", hex);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

static cJSON *rng_json(const nb_rng *rng)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < 4; i++) {
        char hex[20];
        snprintf(hex, sizeof hex, "%016" PRIx64, rng->s[i]);
        cJSON *s = cJSON_CreateString(hex);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* One row per finished epoch: epoch, lr, train loss, train accuracy, val
 * loss, val accuracy, seconds, val MAE, val RMSE, val R^2. */
static cJSON *history_json(const nb_train_state *s)
{
    cJSON *a = cJSON_CreateArray();
    for (int e = 0; a && e < s->epoch - 1; e++) {
        const nb_epoch_stats *h = &s->history[e];
        double v[NB_CKPT_HISTORY_COLUMNS] = {
            h->epoch,        h->lr,      h->train_loss, h->train_accuracy, h->val_loss,
            h->val_accuracy, h->seconds, h->val_mae,    h->val_rmse,       h->val_r2};
        cJSON *row = cJSON_CreateArray();
        int ok = row && cJSON_AddItemToArray(a, row);
        if (!ok) cJSON_Delete(row);
        for (int i = 0; ok && i < NB_CKPT_HISTORY_COLUMNS; i++) {
            cJSON *n = exact_number(v[i]);
            ok = n && cJSON_AddItemToArray(row, n);
            if (!ok) cJSON_Delete(n);
        }
        if (!ok) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* The metadata of s: everything but the tensors. */
static nb_status make_metadata(const nb_train_state *s, cJSON **out)
{
    const nb_train_config *c = &s->config;
    nb_train_internal *in = s->internal;
    nb_model *m = s->model;
    double now = nb_train_clock();
    cJSON *meta = cJSON_CreateObject();
    int ok = meta && put(meta, "format", NB_CHECKPOINT_FORMAT);
    ok = ok && put_u64(meta, "format_version", NB_CHECKPOINT_VERSION);
    ok = ok && put(meta, "real", NB_REAL_NAME);
    /* A hand-built graph has no spec: "graph" describes every model. */
    ok = ok && (!nb_model_spec(m) || put(meta, "spec", nb_model_spec(m)));
    nb_status st = ok ? nb_ckpt_put_graph(meta, m, in) : NB_OK; /* NB_OK: failed before it */
    ok = ok && st == NB_OK && put(meta, "loss", nb_model_loss_name(m));
    ok = ok && put_u64(meta, "inputs", (uint64_t)nb_model_inputs(m));
    ok = ok && put_u64(meta, "outputs", (uint64_t)nb_model_outputs(m));
    ok = ok && put_json(meta, "optimizer", optimizer_json(&c->optimizer));
    ok = ok && put_u64(meta, "optimizer_steps", *nb_optimizer_steps(s->optimizer));
    ok = ok && put_json(meta, "training", training_json(c, in->shards));
    ok = ok && put_json(meta, "train_data", data_json(s->train, in->train_hash));
    ok = ok && (s->val ? put_json(meta, "val_data", data_json(s->val, in->val_hash))
                       : put(meta, "val_data", "none"));
    ok = ok && put_u64(meta, "threads", (uint64_t)nb_get_threads());
    ok = ok && put_u64(meta, "epoch", (uint64_t)s->epoch);
    ok = ok && put_u64(meta, "batch", s->batch) && put_u64(meta, "batches", s->batches);
    ok = ok && put_json(meta, "rng", rng_json(&s->rng_start));
    ok = ok && put_u64(meta, "random_draws", nb_model_graph(m)->draws);
    ok = ok && put_double(meta, "loss_sum", s->loss_sum);
    ok = ok && put_u64(meta, "correct", s->correct) && put_u64(meta, "seen", s->seen);
    ok = ok && put_json(meta, "history", history_json(s));
    ok = ok && put_u64(meta, "best_epoch", (uint64_t)s->best_epoch);
    ok = ok && put_u64(meta, "since_best", (uint64_t)s->since_best);
    ok = ok && put_double(meta, "best_val_loss", s->best_loss);
    ok = ok && put_double(meta, "elapsed", now - s->start);
    ok = ok && put_double(meta, "epoch_elapsed", now - s->epoch_start);
    *out = ok ? meta : NULL;
    if (ok) return NB_OK;
    cJSON_Delete(meta);
    return st != NB_OK ? st : nb_error(NB_ERR_MEMORY, "out of memory");
}

/* A buffer's tensor name: "buffer." + its name, in names (NB_NAME_MAX +
 * 8 bytes per buffer). */
static const char *buffer_name(char *names, int i, const char *name)
{
    char *at = names + (size_t)i * (NB_NAME_MAX + 8);
    snprintf(at, NB_NAME_MAX + 8, NB_CKPT_BUFFER_PREFIX "%s", name);
    return at;
}

/* The parameters under their model-file names, the optimizer's slots, the
 * best weights and the buffers; *count entries in a new array, their
 * names in *names (free both). */
static nb_status list_tensors(const nb_train_state *s, nb_ckpt_tensor **out, char **names,
                              int *count)
{
    nb_graph *g = nb_model_graph(s->model);
    int nodes = nb_graph_node_count(g), n = 0, buffers = s->buffer_count;
    *out = NULL;
    *names = NULL;
    nb_ckpt_tensor *t = nb_calloc((size_t)nodes + 3 + (size_t)buffers, sizeof *t);
    char *text = buffers > 0 ? nb_calloc((size_t)buffers, NB_NAME_MAX + 8) : NULL;
    if (!t || (buffers > 0 && !text)) {
        nb_free(t);
        nb_free(text);
        return nb_error(NB_ERR_MEMORY, "out of memory listing %d tensors", nodes + 3 + buffers);
    }
    for (int i = 0; i < nodes; i++)
        if (nb_node_is_param(g, i))
            t[n++] = (nb_ckpt_tensor){nb_node_name(g, i), nb_node_shape(g, i), nb_node_value(g, i)};
    nb_shape all = nb_shape1((int)s->param_count);
    for (int k = 0; k < nb_ckpt_slots(s); k++)
        t[n++] = (nb_ckpt_tensor){nb_ckpt_slot_name(k), all, nb_optimizer_slot(s->optimizer, k)};
    if (s->best) /* the whole state: the buffers too */
        t[n++] = (nb_ckpt_tensor){NB_CKPT_BEST, nb_shape1((int)s->internal->state_count), s->best};
    for (int i = 0; i < buffers; i++) {
        const nb_train_buffer *b = &s->buffers[i];
        t[n++] = (nb_ckpt_tensor){buffer_name(text, i, b->name), b->shape, b->values};
    }
    *out = t;
    *names = text;
    *count = n;
    return NB_OK;
}

nb_status nb_checkpoint_save(const nb_train_state *s, const char *path)
{
    if (!s || !s->internal) return nb_error(NB_ERR_ARGUMENT, "saving a checkpoint: no state");
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "saving a checkpoint: no path");
    const nb_train_internal *in = s->internal;
    if (in->finished)
        return nb_error(NB_ERR_STATE, "checkpoint \"%s\": the run is finished (nb_train_finish)",
                        path);
    /* Every field the file is made of is as the steps left it. */
    nb_status st = nb_train_state_check(s, "nb_checkpoint_save");
    if (st != NB_OK) return nb_error_prefix(st, "checkpoint \"%s\"", path);
    if (in->epoch_ended && s->stop_reason)
        return nb_error(NB_ERR_STATE,
                        "checkpoint \"%s\": the run stopped (%s) at the end of epoch %d; a "
                        "checkpoint is saved between batches or after nb_train_next_epoch",
                        path, s->stop_reason, s->epoch);
    if (in->epoch_ended)
        return nb_error(NB_ERR_STATE,
                        "checkpoint \"%s\": epoch %d is recorded but the next has not started; "
                        "save before nb_train_end_epoch or after nb_train_next_epoch",
                        path, s->epoch);
    if (in->state_count > (size_t)INT_MAX)
        return nb_error(NB_ERR_LIMIT,
                        "checkpoint \"%s\": %zu parameters and buffer values are more than %d",
                        path, in->state_count, INT_MAX);
    nb_ckpt_hash_data(s);
    cJSON *meta = NULL;
    st = make_metadata(s, &meta);
    if (st != NB_OK) return nb_error_prefix(st, "checkpoint \"%s\"", path);
    nb_ckpt_tensor *tensors = NULL;
    char *names = NULL;
    int count = 0;
    st = list_tensors(s, &tensors, &names, &count);
    if (st == NB_OK) st = nb_ckpt_file_save(path, meta, tensors, count);
    nb_free(tensors);
    nb_free(names);
    cJSON_Delete(meta);
    return st;
}
