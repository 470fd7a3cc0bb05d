/* Whether a checkpoint file belongs to this run: a checkpoint of a format
 * version this build reads, for this model (spec, loss, sizes, graph), this
 * optimizer, these settings and this data. What the file says about the
 * run's progress is checkpoint_load.c's.
 *
 * Depends on the state's fields (nabla.h, train_internal.h), the model and
 * optimizer API, checkpoint_graph.c and checkpoint_meta.c; it calls
 * nothing in trainer.c. */
#include "checkpoint.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

/* The file describes the same model as the one being trained: its spec
 * (when both have one), loss, sizes and graph. */
static nb_status check_model(const nb_ckpt_file *f, nb_model *m)
{
    const char *s;
    int n, version;
    nb_status st;
    char q[NB_ESCAPE_SIZE], spec[2 * NB_ESCAPE_SIZE];
    if ((st = nb_ckpt_need(f, "format", &s)) != NB_OK) return st;
    if (strcmp(s, NB_CHECKPOINT_FORMAT) != 0)
        return nb_error(NB_ERR_FORMAT, "metadata \"format\" is \"%s\", not \"%s\"%s",
                        nb_escape(q, 40, s), NB_CHECKPOINT_FORMAT,
                        strcmp(s, "nabla") == 0 ? " (this is a model file, not a checkpoint)" : "");
    if ((st = nb_ckpt_get_int(f, "format_version", INT_MAX, &version)) != NB_OK) return st;
    if (version < 1 || version > NB_CHECKPOINT_VERSION)
        return nb_error(NB_ERR_FORMAT, "format_version %d is not one this build reads (1..%d)",
                        version, NB_CHECKPOINT_VERSION);
    if ((st = nb_ckpt_need(f, "real", &s)) != NB_OK) return st;
    if (strcmp(s, NB_REAL_NAME) != 0)
        return nb_error(NB_ERR_FORMAT,
                        "it was written by a build with %s numbers, this build uses %s; resume "
                        "with the same build",
                        nb_escape(q, 24, s), NB_REAL_NAME);
    /* Before version 3 every checkpoint had a spec and no graph. */
    const char *mine = nb_model_spec(m), *graph = nb_ckpt_file_meta(f, "graph");
    s = nb_ckpt_file_meta(f, "spec");
    if (version < 3 && (st = nb_ckpt_need(f, "spec", &s)) != NB_OK) return st;
    if (s && mine && strcmp(s, mine) != 0)
        return nb_error(NB_ERR_ARGUMENT, "it was written for model \"%s\", this model is \"%s\"",
                        nb_escape(spec, sizeof spec, s), nb_escape(q, sizeof q, mine));
    if (s && !mine && !graph)
        return nb_error(NB_ERR_ARGUMENT,
                        "it was written for model \"%s\", this model is a hand-built graph",
                        nb_escape(spec, sizeof spec, s));
    if ((st = nb_ckpt_need(f, "loss", &s)) != NB_OK) return st;
    if (strcmp(s, nb_model_loss_name(m)) != 0)
        return nb_error(NB_ERR_ARGUMENT, "it was written for loss %s, this model has %s",
                        nb_escape(q, 40, s), nb_model_loss_name(m));
    if ((st = nb_ckpt_get_int(f, "inputs", INT_MAX, &n)) != NB_OK) return st;
    if (n != nb_model_inputs(m))
        return nb_error(NB_ERR_ARGUMENT, "it was written for %d %s, this model has %d", n,
                        nb_plural(n, "input", "inputs"), nb_model_inputs(m));
    if ((st = nb_ckpt_get_int(f, "outputs", INT_MAX, &n)) != NB_OK) return st;
    if (n != nb_model_outputs(m))
        return nb_error(NB_ERR_ARGUMENT, "it was written for %d %s, this model has %d", n,
                        nb_plural(n, "output", "outputs"), nb_model_outputs(m));
    return nb_ckpt_check_graph(f, m, version >= 3);
}

/* One setting of the file against this run's; the message names both. */
static nb_status same_number(const cJSON *obj, const char *where, const char *key, double want)
{
    double v = 0;
    nb_status st = nb_ckpt_member(obj, where, key, &v);
    if (st != NB_OK) return st;
    char was[NB_NUMBER_SIZE], now[NB_NUMBER_SIZE];
    if (v != want)
        return nb_error(NB_ERR_ARGUMENT,
                        "it was written with %s %s %s, this run has %s; resume with the same "
                        "settings",
                        where, key, nb_number_text(was, sizeof was, v),
                        nb_number_text(now, sizeof now, want));
    return NB_OK;
}

static nb_status same_string(const cJSON *obj, const char *where, const char *key, const char *want)
{
    const char *s = nb_ckpt_member_string(obj, key);
    char q[48];
    if (!s)
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\": \"%s\" is missing or not a string", where,
                        key);
    if (strcmp(s, want) != 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "it was written with %s %s \"%s\", this run has \"%s\"; resume with "
                        "the same settings",
                        where, key, nb_escape(q, sizeof q, s), want);
    return NB_OK;
}

static nb_status check_optimizer(const cJSON *j, const nb_optimizer_config *o)
{
    static const char *const keys[] = {"kind",  "lr",  "momentum",     "rho", "beta1",
                                       "beta2", "eps", "weight_decay", NULL};
    const char *w = "optimizer";
    nb_status st = nb_ckpt_only_keys(j, "metadata \"optimizer\"", keys);
    if (st == NB_OK) st = same_string(j, w, "kind", nb_optimizer_name(o->kind));
    if (st == NB_OK) st = same_number(j, w, "lr", o->lr);
    if (st == NB_OK) st = same_number(j, w, "momentum", o->momentum);
    if (st == NB_OK) st = same_number(j, w, "rho", o->rho);
    if (st == NB_OK) st = same_number(j, w, "beta1", o->beta1);
    if (st == NB_OK) st = same_number(j, w, "beta2", o->beta2);
    if (st == NB_OK) st = same_number(j, w, "eps", o->eps);
    if (st == NB_OK) st = same_number(j, w, "weight_decay", o->weight_decay);
    return st;
}

/* shards: this run's planned count. Checkpoints older than shards have
 * no "shards" key: they ran every batch in one piece. */
static nb_status check_training(const cJSON *j, const nb_train_config *c, int shards)
{
    static const char *const keys[] = {"batch",       "epochs", "seed",   "schedule",
                                       "step_epochs", "gamma",  "lr_min", "clip_norm",
                                       "patience",    "shards", NULL};
    const char *w = "training";
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    nb_status st = nb_ckpt_only_keys(j, "metadata \"training\"", keys);
    if (st == NB_OK) st = same_number(j, w, "batch", c->batch);
    if (st == NB_OK) st = same_number(j, w, "epochs", c->epochs);
    if (st == NB_OK) st = same_string(j, w, "seed", seed);
    if (st == NB_OK) st = same_string(j, w, "schedule", nb_schedule_name(c->schedule));
    if (st == NB_OK) st = same_number(j, w, "step_epochs", c->step_epochs);
    if (st == NB_OK) st = same_number(j, w, "gamma", c->gamma);
    if (st == NB_OK) st = same_number(j, w, "lr_min", c->lr_min);
    if (st == NB_OK) st = same_number(j, w, "clip_norm", c->clip_norm);
    if (st == NB_OK) st = same_number(j, w, "patience", c->patience);
    double was = 1;
    if (st == NB_OK && cJSON_GetObjectItemCaseSensitive(j, "shards"))
        st = nb_ckpt_member(j, w, "shards", &was);
    if (st == NB_OK && was != shards)
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written with batches split into %.0f %s, this run splits them "
                      "into %d%s; resume with --shards %.0f",
                      was, was == 1 ? "shard" : "shards", shards,
                      c->shards > 0 ? "" : " (by default the threads and processes decide)", was);
    return st;
}

/* The fingerprint of the data the file was written for against d's. */
static nb_status check_data(const nb_ckpt_file *f, const char *key, const char *what,
                            const nb_dataset *d, uint64_t hash)
{
    const char *s;
    nb_status st = nb_ckpt_need(f, key, &s);
    if (st != NB_OK) return st;
    if (strcmp(s, "none") == 0 || !d) {
        if (strcmp(s, "none") == 0 && !d) return NB_OK;
        return nb_error(NB_ERR_ARGUMENT, "it was written %s a %s, this run has %s",
                        d ? "without" : "with", what, d ? "one" : "none");
    }
    static const char *const keys[] = {"count", "features", "classes", "targets", "fnv1a", NULL};
    cJSON *j;
    if ((st = nb_ckpt_get_json(f, key, cJSON_Object, &j)) != NB_OK) return st;
    double count = 0, features = 0, classes = 0, targets = 0;
    const char *hex = nb_ckpt_member_string(j, "fnv1a");
    char where[32], q[40];
    snprintf(where, sizeof where, "metadata \"%s\"", key);
    st = nb_ckpt_only_keys(j, where, keys);
    if (st == NB_OK) st = nb_ckpt_member(j, key, "count", &count);
    if (st == NB_OK) st = nb_ckpt_member(j, key, "features", &features);
    if (st == NB_OK) st = nb_ckpt_member(j, key, "classes", &classes);
    if (st == NB_OK) st = nb_ckpt_member(j, key, "targets", &targets);
    if (st == NB_OK && !hex)
        st = nb_error(NB_ERR_FORMAT, "metadata \"%s\": \"fnv1a\" is missing", key);
    char mine[20];
    snprintf(mine, sizeof mine, "%016" PRIx64, hash);
    /* The file's numbers are doubles of any size: "== 1" picks the word. */
    if (st == NB_OK && (count != (double)d->count || features != d->features ||
                        classes != d->classes || targets != d->targets || strcmp(hex, mine) != 0))
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written for a different %s: %.0f %s of %.0f %s, %.0f %s, "
                      "FNV-1a %s; this one has %zu %s of %d %s, %d %s, FNV-1a %s (resume with "
                      "the same data, split, seed and scaling)",
                      what, count, nb_plural(count == 1, "sample", "samples"), features,
                      nb_plural(features == 1, "feature", "features"), classes,
                      nb_plural(classes == 1, "class", "classes"), nb_escape(q, sizeof q, hex),
                      d->count, nb_plural((long long)d->count, "sample", "samples"), d->features,
                      nb_plural(d->features, "feature", "features"), d->classes,
                      nb_plural(d->classes, "class", "classes"), mine);
    cJSON_Delete(j);
    return st;
}

/* The metadata keys checkpoint_save.c writes (and "spec", which it leaves
 * out for a hand-built graph), and no other. */
static const char *const metadata_keys[] = {
    "format",     "format_version", "real",    "spec",          "graph",           "constants",
    "loss",       "inputs",         "outputs", "optimizer",     "optimizer_steps", "training",
    "train_data", "val_data",       "threads", "epoch",         "batch",           "batches",
    "rng",        "loss_sum",       "correct", "seen",          "history",         "best_epoch",
    "since_best", "best_val_loss",  "elapsed", "epoch_elapsed", "random_draws",    NULL};

nb_status nb_ckpt_check_run(const nb_ckpt_file *f, const nb_train_state *s)
{
    if (!f->header.metadata)
        return nb_error(NB_ERR_FORMAT, "no \"__metadata__\": not a checkpoint");
    nb_status st = check_model(f, s->model);
    if (st == NB_OK) st = nb_ckpt_only_keys(f->header.metadata, "\"__metadata__\"", metadata_keys);
    cJSON *j = NULL;
    if (st == NB_OK && (st = nb_ckpt_get_json(f, "optimizer", cJSON_Object, &j)) == NB_OK) {
        st = check_optimizer(j, &s->config.optimizer);
        cJSON_Delete(j);
    }
    if (st == NB_OK && (st = nb_ckpt_get_json(f, "training", cJSON_Object, &j)) == NB_OK) {
        st = check_training(j, &s->config, s->internal->shards);
        cJSON_Delete(j);
    }
    if (st == NB_OK) nb_ckpt_hash_data(s);
    if (st == NB_OK)
        st = check_data(f, "train_data", "training set", s->train, s->internal->train_hash);
    if (st == NB_OK)
        st = check_data(f, "val_data", "validation set", s->val, s->internal->val_hash);
    return st;
}
