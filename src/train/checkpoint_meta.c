/* What saving and loading a checkpoint share: the optimizer's slots, the
 * data's fingerprints, and the strict readers of metadata values (each
 * reads exactly what the save writes).
 *
 * Depends on the state's fields (nabla.h, train_internal.h), the
 * optimizer API and io/checkpoint_file; it calls nothing in trainer.c. */
#include "checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int nb_ckpt_slots(const nb_train_state *s)
{
    int n = nb_optimizer_slot_count(s->optimizer);
    return n < 2 ? n : 2;
}

/* The fingerprint of a data set: its x, then its labels or y. */
static uint64_t dataset_hash(const nb_dataset *d)
{
    /* Sizes are those of arrays already in memory, so they do not overflow. */
    uint64_t h = nb_fnv1a(NB_FNV1A_INIT, d->x, d->count * (size_t)d->features * sizeof *d->x);
    if (d->classes > 0 && d->labels)
        h = nb_fnv1a(h, d->labels, d->count * sizeof *d->labels);
    else if (d->y)
        h = nb_fnv1a(h, d->y, d->count * (size_t)d->targets * sizeof *d->y);
    return h;
}

void nb_ckpt_hash_data(const nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    if (in->hashed) return;
    in->train_hash = dataset_hash(s->train);
    in->val_hash = s->val ? dataset_hash(s->val) : 0;
    in->hashed = 1;
}

/* ---------------------------------------------------------------- values */

nb_status nb_ckpt_need(const nb_ckpt_file *f, const char *key, const char **out)
{
    *out = nb_ckpt_file_meta(f, key);
    if (!*out) return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is missing", key);
    return NB_OK;
}

/* As the save writes it: some readers take a leading zero for octal. */
nb_status nb_ckpt_get_u64(const nb_ckpt_file *f, const char *key, uint64_t max, uint64_t *out)
{
    const char *s;
    nb_status st = nb_ckpt_need(f, key, &s);
    if (st != NB_OK) return st;
    char *end = NULL, q[48];
    errno = 0;
    int digits = s[0] >= '0' && s[0] <= '9' && !(s[0] == '0' && s[1]);
    unsigned long long v = digits ? strtoull(s, &end, 10) : 0;
    if (!end || *end || errno || v > max)
        return nb_error(NB_ERR_FORMAT,
                        "metadata \"%s\" is \"%s\", not an integer in [0, %" PRIu64 "]", key,
                        nb_escape(q, sizeof q, s), max);
    *out = v;
    return NB_OK;
}

nb_status nb_ckpt_get_int(const nb_ckpt_file *f, const char *key, int max, int *out)
{
    uint64_t v = 0;
    nb_status st = nb_ckpt_get_u64(f, key, (uint64_t)max, &v);
    *out = (int)v;
    return st;
}

nb_status nb_ckpt_get_size(const nb_ckpt_file *f, const char *key, size_t max, size_t *out)
{
    uint64_t v = 0;
    nb_status st = nb_ckpt_get_u64(f, key, (uint64_t)max, &v);
    *out = (size_t)v;
    return st;
}

/* Sign, digits, point, exponent: no spaces, no hex, no "nan". */
nb_status nb_ckpt_get_double(const nb_ckpt_file *f, const char *key, int allow_inf, double *out)
{
    const char *s;
    nb_status st = nb_ckpt_need(f, key, &s);
    if (st != NB_OK) return st;
    char *end = NULL, q[48];
    int plain = s[0] != '\0' && strspn(s, "0123456789.eE+-") == strlen(s);
    double v = plain ? strtod(s, &end) : allow_inf && strcmp(s, "inf") == 0 ? INFINITY : NAN;
    if ((plain && (!end || *end)) || !(v >= 0) || (isinf(v) && !allow_inf))
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is \"%s\", not a %snumber >= 0%s", key,
                        nb_escape(q, sizeof q, s), allow_inf ? "" : "finite ",
                        allow_inf ? " or \"inf\"" : "");
    *out = v;
    return NB_OK;
}

/* Nothing after it, no key twice, no \u0000 in a string. */
nb_status nb_ckpt_get_json(const nb_ckpt_file *f, const char *key, int type, cJSON **out)
{
    const char *s;
    *out = NULL;
    nb_status st = nb_ckpt_need(f, key, &s);
    if (st != NB_OK) return st;
    char what[64];
    snprintf(what, sizeof what, "metadata \"%s\"", key);
    if ((st = nb_json_parse(s, NB_ERR_FORMAT, what, out)) != NB_OK) return st;
    if (((*out)->type & 0xFF) != type) {
        cJSON_Delete(*out);
        *out = NULL;
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\" is not a JSON %s", key,
                        type == cJSON_Array ? "array" : "object");
    }
    return NB_OK;
}

/* A key this build does not write has no meaning here (a misspelt one
 * would be ignored). */
nb_status nb_ckpt_only_keys(const cJSON *obj, const char *where, const char *const *keys)
{
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        int known = 0;
        for (int i = 0; keys[i] && !known; i++) known = strcmp(c->string, keys[i]) == 0;
        char q[NB_ESCAPE_SIZE];
        if (!known)
            return nb_error(NB_ERR_FORMAT, "%s: key \"%s\" does not belong in a checkpoint", where,
                            nb_escape(q, sizeof q, c->string));
    }
    return NB_OK;
}

nb_status nb_ckpt_member(const cJSON *obj, const char *where, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return nb_error(NB_ERR_FORMAT, "metadata \"%s\": \"%s\" is missing or not a finite number",
                        where, key);
    *out = v->valuedouble;
    return NB_OK;
}

const char *nb_ckpt_member_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
