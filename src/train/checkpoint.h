/* Shared by the files of a training checkpoint; private to src/train/.
 * What each depends on (no circle; none calls trainer.c, which calls
 * nb_checkpoint_save and nb_checkpoint_load):
 *   checkpoint_save.c  -> checkpoint_graph.c, checkpoint_meta.c, clock.c,
 *                         io/checkpoint_file
 *   checkpoint_load.c  -> checkpoint_check.c, checkpoint_meta.c, batch.c (the
 *                         sample order), clock.c, io/checkpoint_file
 *   checkpoint_check.c -> checkpoint_graph.c, checkpoint_meta.c
 *   checkpoint_graph.c -> checkpoint_meta.c, io/graph_json
 *   checkpoint_meta.c  -> io/checkpoint_file
 * The file's layout is in docs/training.md ("Checkpoints and resuming"). */
#ifndef NABLA_CHECKPOINT_H
#define NABLA_CHECKPOINT_H

#include "train_internal.h"

#include "io/checkpoint_file.h"

/* ------------------------------------------------------- what it holds */

/* epoch, lr, train loss, train acc, val loss, val acc, seconds, then (from
 * format_version 2) val MAE, val RMSE, val R^2 */
#define NB_CKPT_HISTORY_COLUMNS    10
#define NB_CKPT_HISTORY_COLUMNS_V1 7

/* Tensor names besides the parameters' own. */
#define NB_CKPT_SLOT_0        "optimizer.slot0"
#define NB_CKPT_SLOT_1        "optimizer.slot1"
#define NB_CKPT_BEST          "early_stopping.best"
#define NB_CKPT_BUFFER_PREFIX "buffer."

/* The tensor of the optimizer's slot k (0 or 1). */
static inline const char *nb_ckpt_slot_name(int k)
{
    return k ? NB_CKPT_SLOT_1 : NB_CKPT_SLOT_0;
}

/* How many of the optimizer's slots a checkpoint holds (at most 2). */
int nb_ckpt_slots(const nb_train_state *s);

/* The data's fingerprints (FNV-1a) in s->internal, computed once (by the
 * first save or load). */
void nb_ckpt_hash_data(const nb_train_state *s);

/* ---------------------------------------------- reading the metadata */

/* Each reads metadata key of f; the message names the key. */

/* The string, NB_ERR_FORMAT when missing. */
nb_status nb_ckpt_need(const nb_ckpt_file *f, const char *key, const char **out);
/* A decimal integer in [0, max]: digits only, no leading zero. */
nb_status nb_ckpt_get_u64(const nb_ckpt_file *f, const char *key, uint64_t max, uint64_t *out);
nb_status nb_ckpt_get_int(const nb_ckpt_file *f, const char *key, int max, int *out);
nb_status nb_ckpt_get_size(const nb_ckpt_file *f, const char *key, size_t max, size_t *out);
/* A plain decimal number >= 0, finite or, where allowed, "inf". */
nb_status nb_ckpt_get_double(const nb_ckpt_file *f, const char *key, int allow_inf, double *out);
/* JSON of the given type (cJSON_Object, cJSON_Array), read strictly
 * (nb_json_parse); free *out with cJSON_Delete. */
nb_status nb_ckpt_get_json(const nb_ckpt_file *f, const char *key, int type, cJSON **out);

/* Every key of obj is one of keys (NULL-terminated); where names obj. */
nb_status nb_ckpt_only_keys(const cJSON *obj, const char *where, const char *const *keys);
/* A finite number member of a JSON object (metadata key where). */
nb_status nb_ckpt_member(const cJSON *obj, const char *where, const char *key, double *out);
/* A string member, NULL when missing or not a string. */
const char *nb_ckpt_member_string(const cJSON *obj, const char *key);

/* ---------------------------------------------------------- the graph */

/* Adds "graph" (nb_model_graph_json of m) and "constants" to meta, made
 * once per run and kept in in. A graph a model file cannot hold is
 * refused with the graph's own message. */
nb_status nb_ckpt_put_graph(cJSON *meta, nb_model *m, nb_train_internal *in);
/* The file's "graph" and "constants" against m's (required: else only
 * when the file has a "graph"). */
nb_status nb_ckpt_check_graph(const nb_ckpt_file *f, nb_model *m, int required);

/* --------------------------------------------------------- the checks */

/* The file is a checkpoint this build reads, of this run: its format,
 * number type, model (spec, loss, sizes, graph), optimizer, settings and
 * data, and it holds no metadata key this build does not write. */
nb_status nb_ckpt_check_run(const nb_ckpt_file *f, const nb_train_state *s);

#endif
