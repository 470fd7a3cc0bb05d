/* Feature scaling, fitted on the training set only, and one-hot labels.
 * Every kind is x' = (x - offset[j]) * scale[j] for feature j. */
#include "data.h"

#include <math.h>
#include <string.h>

static const char *const scale_names[] = {"none", "unit", "minmax", "zscore"};

const char *nb_scale_name(nb_scale_kind kind)
{
    if ((int)kind < 0 || (int)kind > NB_SCALE_ZSCORE) return "unknown";
    return scale_names[kind];
}

nb_status nb_scale_parse(const char *name, nb_scale_kind *kind)
{
    if (!name || !kind) return nb_error(NB_ERR_ARGUMENT, "nb_scale_parse: NULL argument");
    for (int k = 0; k <= NB_SCALE_ZSCORE; k++)
        if (strcmp(name, scale_names[k]) == 0) {
            *kind = (nb_scale_kind)k;
            return NB_OK;
        }
    if (strcmp(name, "min-max") == 0) {
        *kind = NB_SCALE_MINMAX;
        return NB_OK;
    }
    if (strcmp(name, "z-score") == 0 || strcmp(name, "standard") == 0) {
        *kind = NB_SCALE_ZSCORE;
        return NB_OK;
    }
    return nb_error(NB_ERR_NOT_FOUND,
                    "unknown scaling \"%s\" (expected none, unit, minmax or zscore)", name);
}

static nb_status scaler_alloc(nb_scaler *out, nb_scale_kind kind, int features)
{
    out->kind = kind;
    out->features = features;
    out->offset = nb_calloc((size_t)features, sizeof(nb_real));
    out->scale = nb_calloc((size_t)features, sizeof(nb_real));
    if (!out->offset || !out->scale) {
        nb_scaler_free(out);
        return nb_error(NB_ERR_MEMORY, "out of memory for a scaler of %d features", features);
    }
    return NB_OK;
}

/* Per feature, in double: min, max and mean, then the population deviation
 * sigma = sqrt(sum (x - mean)^2 / n) from a second pass. */
static nb_status fit_stats(const nb_dataset *d, double *lo, double *hi, double *mean, double *sigma)
{
    size_t f = (size_t)d->features;
    for (size_t j = 0; j < f; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
        mean[j] = 0;
        sigma[j] = 0;
    }
    for (size_t i = 0; i < d->count; i++) {
        const nb_real *x = d->x + i * f;
        for (size_t j = 0; j < f; j++) {
            double v = x[j];
            if (!isfinite(v))
                return nb_error(NB_ERR_NUMERIC,
                                "scaler fit: sample %zu, feature %zu is not finite (%g)", i, j, v);
            if (v < lo[j]) lo[j] = v;
            if (v > hi[j]) hi[j] = v;
            mean[j] += v;
        }
    }
    for (size_t j = 0; j < f; j++) mean[j] /= (double)d->count;
    for (size_t i = 0; i < d->count; i++) {
        const nb_real *x = d->x + i * f;
        for (size_t j = 0; j < f; j++) {
            double e = x[j] - mean[j];
            sigma[j] += e * e;
        }
    }
    for (size_t j = 0; j < f; j++) sigma[j] = sqrt(sigma[j] / (double)d->count);
    return NB_OK;
}

nb_status nb_scaler_fit(nb_scale_kind kind, const nb_dataset *train, nb_scaler *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_scaler_fit: out is NULL");
    memset(out, 0, sizeof *out);
    if (!train) return nb_error(NB_ERR_ARGUMENT, "nb_scaler_fit: train is NULL");
    if ((int)kind < 0 || (int)kind > NB_SCALE_ZSCORE)
        return nb_error(NB_ERR_ARGUMENT, "nb_scaler_fit: unknown scaling kind %d", (int)kind);
    if (train->features < 1)
        return nb_error(NB_ERR_ARGUMENT, "nb_scaler_fit: the data set has %d features",
                        train->features);
    if ((kind == NB_SCALE_MINMAX || kind == NB_SCALE_ZSCORE) && train->count == 0)
        return nb_error(NB_ERR_ARGUMENT, "nb_scaler_fit: cannot fit %s on 0 samples",
                        nb_scale_name(kind));
    nb_status st = scaler_alloc(out, kind, train->features);
    if (st) return st;
    size_t f = (size_t)train->features;
    if (kind == NB_SCALE_NONE || kind == NB_SCALE_UNIT) {
        for (size_t j = 0; j < f; j++) {
            out->offset[j] = 0;
            out->scale[j] = kind == NB_SCALE_UNIT ? (nb_real)(1.0 / 255.0) : 1;
        }
        return NB_OK;
    }
    double *stats = nb_calloc(4 * f, sizeof(double));
    if (!stats) {
        nb_scaler_free(out);
        return nb_error(NB_ERR_MEMORY, "nb_scaler_fit: out of memory for %zu features", f);
    }
    double *lo = stats, *hi = stats + f, *mean = stats + 2 * f, *sigma = stats + 3 * f;
    if ((st = fit_stats(train, lo, hi, mean, sigma))) {
        nb_free(stats);
        nb_scaler_free(out);
        return st;
    }
    for (size_t j = 0; j < f; j++) {
        /* A constant feature (max == min) keeps scale 1: it maps to 0. */
        int constant = hi[j] == lo[j];
        if (kind == NB_SCALE_MINMAX) { /* (x - min) / (max - min) */
            out->offset[j] = (nb_real)lo[j];
            out->scale[j] = constant ? 1 : (nb_real)(1.0 / (hi[j] - lo[j]));
        } else { /* (x - mean) / sigma */
            out->offset[j] = (nb_real)(constant ? lo[j] : mean[j]);
            out->scale[j] = constant || sigma[j] == 0 ? 1 : (nb_real)(1.0 / sigma[j]);
        }
    }
    nb_free(stats);
    return NB_OK;
}

nb_status nb_scaler_fit_targets(nb_scale_kind kind, const nb_dataset *train, nb_scaler *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "fitting a target scaler: out is NULL");
    memset(out, 0, sizeof *out);
    if (!train) return nb_error(NB_ERR_ARGUMENT, "fitting a target scaler: train is NULL");
    if (kind == NB_SCALE_UNIT)
        return nb_error(NB_ERR_ARGUMENT,
                        "fitting a target scaler: \"unit\" (x / 255) is for image bytes, not "
                        "targets (none, minmax or zscore)");
    if (train->classes > 0 || !train->y || train->targets < 1)
        return nb_error(NB_ERR_ARGUMENT,
                        "fitting a target scaler: the data set has no regression targets");
    /* The targets seen as features: the same fit, per target. */
    nb_dataset view = {.count = train->count, .features = train->targets, .x = train->y};
    nb_status st = nb_scaler_fit(kind, &view, out);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "fitting a target scaler");
}

nb_status nb_scaler_copy(const nb_scaler *src, nb_scaler *out)
{
    if (!src || !out) return nb_error(NB_ERR_ARGUMENT, "nb_scaler_copy: NULL argument");
    memset(out, 0, sizeof *out);
    if (!src->offset || !src->scale || src->features < 1) {
        out->kind = src->kind; /* an unfitted scaler: nothing to copy */
        return NB_OK;
    }
    nb_status st = scaler_alloc(out, src->kind, src->features);
    if (st) return st;
    memcpy(out->offset, src->offset, (size_t)src->features * sizeof(nb_real));
    memcpy(out->scale, src->scale, (size_t)src->features * sizeof(nb_real));
    return NB_OK;
}

void nb_scaler_apply(const nb_scaler *scaler, nb_real *x, size_t count)
{
    if (!scaler || !x || scaler->kind == NB_SCALE_NONE || !scaler->offset || !scaler->scale) return;
    size_t f = (size_t)scaler->features;
    for (size_t i = 0; i < count; i++, x += f)
        for (size_t j = 0; j < f; j++) x[j] = (x[j] - scaler->offset[j]) * scaler->scale[j];
}

void nb_scaler_invert(const nb_scaler *scaler, nb_real *x, size_t count)
{
    if (!scaler || !x || scaler->kind == NB_SCALE_NONE || !scaler->offset || !scaler->scale) return;
    size_t f = (size_t)scaler->features;
    for (size_t i = 0; i < count; i++, x += f)
        for (size_t j = 0; j < f; j++) x[j] = x[j] / scaler->scale[j] + scaler->offset[j];
}

void nb_scaler_free(nb_scaler *scaler)
{
    if (!scaler) return;
    nb_free(scaler->offset);
    nb_free(scaler->scale);
    memset(scaler, 0, sizeof *scaler);
}

/* Labels outside 0..classes-1 leave their row all zeros. */
void nb_one_hot(const int32_t *labels, size_t count, int classes, nb_real *out)
{
    if (!labels || !out || classes < 1) return;
    memset(out, 0, count * (size_t)classes * sizeof *out);
    for (size_t i = 0; i < count; i++)
        if (labels[i] >= 0 && labels[i] < classes) out[i * (size_t)classes + labels[i]] = 1;
}
