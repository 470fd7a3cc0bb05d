/* A data set in memory: allocation, freeing, subsets and the seeded
 * train/test split. */
#include "data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *nb_data_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = nb_malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

void nb_data_free_names(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++) nb_free(names[i]);
    nb_free(names);
}

nb_status nb_data_copy_names(char *const *src, int n, char ***out)
{
    *out = NULL;
    if (!src || n <= 0) return NB_OK;
    char **names = nb_calloc((size_t)n, sizeof *names);
    if (!names) return nb_error(NB_ERR_MEMORY, "out of memory copying %d names", n);
    for (int i = 0; i < n; i++) {
        names[i] = nb_data_strdup(src[i] ? src[i] : "");
        if (!names[i]) {
            nb_data_free_names(names, n);
            return nb_error(NB_ERR_MEMORY, "out of memory copying %d names", n);
        }
    }
    *out = names;
    return NB_OK;
}

nb_status nb_data_alloc(nb_dataset *out, size_t count, int features, int classes, int targets,
                        const char *what)
{
    memset(out, 0, sizeof *out);
    if (count > NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "%s: %zu samples, more than the limit %d", what, count,
                        NB_MAX_SAMPLES);
    if (features < 1 || features > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT, "%s: %d features, expected 1 to %d", what, features,
                        NB_MAX_FEATURES);
    if (classes < 0 || classes > NB_MAX_CLASSES)
        return nb_error(NB_ERR_LIMIT, "%s: %d classes, expected 0 to %d", what, classes,
                        NB_MAX_CLASSES);
    if (classes == 0 && (targets < 1 || targets > NB_MAX_FEATURES))
        return nb_error(NB_ERR_LIMIT, "%s: %d regression targets, expected 1 to %d", what, targets,
                        NB_MAX_FEATURES);
    size_t cells;
    if (!nb_mul_size(count, (size_t)features, &cells))
        return nb_error(NB_ERR_LIMIT, "%s: %zu x %d values overflow", what, count, features);
    /* Refuse what cannot fit in memory with a message, not an OOM kill. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double bytes = (double)cells * sizeof(nb_real);
    if (pages > 0 && page > 0 && bytes > (double)pages * (double)page)
        return nb_error(NB_ERR_LIMIT,
                        "%s: %zu x %d values need %.0f MiB, more than this "
                        "machine's %.0f MiB of memory",
                        what, count, features, bytes / 1048576.0,
                        (double)pages * (double)page / 1048576.0);
    out->count = count;
    out->features = features;
    out->classes = classes;
    out->targets = classes > 0 ? 0 : targets;
    /* Every caller writes every value: no zeroing pass over what can be
     * hundreds of megabytes. cells <= 2^46 by the limits, so bytes fit. */
    out->x = nb_malloc(cells * sizeof(nb_real));
    if (classes > 0)
        out->labels = nb_calloc(count, sizeof(int32_t));
    else
        out->y = nb_calloc(count, (size_t)targets * sizeof(nb_real));
    if (!out->x || (classes > 0 ? !out->labels : !out->y)) {
        nb_dataset_free(out);
        return nb_error(NB_ERR_MEMORY, "%s: out of memory for %zu samples of %d features", what,
                        count, features);
    }
    return NB_OK;
}

nb_status nb_data_alloc_origin(nb_dataset *d, nb_origin_kind kind, const char *what)
{
    d->origin = nb_malloc((d->count ? d->count : 1) * sizeof *d->origin);
    if (!d->origin)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory for where %zu samples came from", what,
                        d->count);
    d->origin_kind = kind;
    return NB_OK;
}

const char *nb_dataset_sample_name(const nb_dataset *d, size_t i, char *buf, size_t size)
{
    if (d && d->origin && i < d->count && d->origin_kind == NB_ORIGIN_LINE)
        snprintf(buf, size, "line %zu of the data", d->origin[i]);
    else if (d && d->origin && i < d->count && d->origin_kind == NB_ORIGIN_RECORD)
        snprintf(buf, size, "record %zu of the data", d->origin[i]);
    else
        snprintf(buf, size, "sample %zu (0-based)", i);
    return buf;
}

void nb_dataset_free(nb_dataset *data)
{
    if (!data) return;
    nb_free(data->origin);
    nb_free(data->x);
    nb_free(data->labels);
    nb_free(data->y);
    nb_data_free_names(data->class_names, data->classes);
    nb_data_free_names(data->feature_names, data->features);
    memset(data, 0, sizeof *data);
}

static uint64_t fnv1a_u64(uint64_t hash, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return nb_fnv1a(hash, b, sizeof b);
}

/* A value as IEEE single precision, little-endian. */
static uint64_t fnv1a_real(uint64_t hash, nb_real v)
{
    float f = (float)v;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8),
                          (unsigned char)(bits >> 16), (unsigned char)(bits >> 24)};
    return nb_fnv1a(hash, b, sizeof b);
}

uint64_t nb_dataset_fingerprint(const nb_dataset *d)
{
    uint64_t h = NB_FNV1A_INIT;
    size_t count = d ? d->count : 0;
    int features = count ? d->features : 0, classes = count ? d->classes : 0;
    int targets = count && classes == 0 ? d->targets : 0;
    h = fnv1a_u64(h, count);
    h = fnv1a_u64(h, (uint64_t)(features > 0 ? features : 0));
    h = fnv1a_u64(h, (uint64_t)(targets > 0 ? targets : 0));
    /* The arrays are in memory, so count x features does not overflow. */
    if (d && d->x)
        for (size_t i = 0; i < count * (size_t)features; i++) h = fnv1a_real(h, d->x[i]);
    if (classes > 0 && d->labels) {
        for (size_t i = 0; i < count; i++) {
            char buf[24];
            int k = d->labels[i];
            const char *name = d->class_names && k >= 0 && k < classes && d->class_names[k]
                                   ? d->class_names[k]
                                   : (snprintf(buf, sizeof buf, "%d", k), buf);
            h = nb_fnv1a(h, name, strlen(name) + 1);
        }
    } else if (targets > 0 && d->y) {
        for (size_t i = 0; i < count * (size_t)targets; i++) h = fnv1a_real(h, d->y[i]);
    }
    return h;
}

nb_status nb_dataset_subset(const nb_dataset *src, const size_t *index, size_t count,
                            nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_subset: out is NULL");
    memset(out, 0, sizeof *out);
    if (!src || (count > 0 && !index))
        return nb_error(NB_ERR_ARGUMENT, "nb_dataset_subset: src or index is NULL");
    for (size_t i = 0; i < count; i++)
        if (index[i] >= src->count)
            return nb_error(NB_ERR_ARGUMENT,
                            "nb_dataset_subset: index[%zu] = %zu, but the data set has %zu samples",
                            i, index[i], src->count);
    nb_status st = nb_data_alloc(out, count, src->features, src->classes, src->targets, "subset");
    if (st) return st;
    out->rows = src->rows;
    out->cols = src->cols;
    out->channels = src->channels;
    size_t f = (size_t)src->features, t = (size_t)src->targets;
    for (size_t i = 0; i < count; i++) {
        memcpy(out->x + i * f, src->x + index[i] * f, f * sizeof(nb_real));
        if (src->classes > 0)
            out->labels[i] = src->labels[index[i]];
        else
            memcpy(out->y + i * t, src->y + index[i] * t, t * sizeof(nb_real));
    }
    if (src->origin && !(st = nb_data_alloc_origin(out, src->origin_kind, "subset")))
        for (size_t i = 0; i < count; i++) out->origin[i] = src->origin[index[i]];
    if (st || (st = nb_data_copy_names(src->class_names, src->classes, &out->class_names)) ||
        (st = nb_data_copy_names(src->feature_names, src->features, &out->feature_names))) {
        nb_dataset_free(out);
        return st;
    }
    return NB_OK;
}

nb_status nb_data_concat(const nb_dataset *a, const nb_dataset *b, nb_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (a->features != b->features || (a->classes > 0) != (b->classes > 0) ||
        a->targets != b->targets || a->rows != b->rows || a->cols != b->cols ||
        a->channels != b->channels)
        return nb_error(NB_ERR_FORMAT,
                        "joining two parts that differ: %d and %d features (images %dx%d and "
                        "%dx%d), %d and %d targets",
                        a->features, b->features, a->rows, a->cols, b->rows, b->cols, a->targets,
                        b->targets);
    int classes = a->classes > b->classes ? a->classes : b->classes;
    nb_status st = nb_data_alloc(out, a->count + b->count, a->features, classes,
                                 a->targets > 0 ? a->targets : 1, "joined parts");
    if (st) return st;
    out->rows = a->rows;
    out->cols = a->cols;
    out->channels = a->channels;
    size_t f = (size_t)a->features, t = (size_t)a->targets;
    const nb_dataset *part[2] = {a, b};
    for (size_t p = 0, at = 0; p < 2; at += part[p]->count, p++) {
        const nb_dataset *d = part[p];
        if (d->count) memcpy(out->x + at * f, d->x, d->count * f * sizeof(nb_real));
        if (classes > 0 && d->count)
            memcpy(out->labels + at, d->labels, d->count * sizeof(int32_t));
        else if (d->count)
            memcpy(out->y + at * t, d->y, d->count * t * sizeof(nb_real));
    }
    /* Origins only when both parts name theirs the same way. */
    if (a->origin && b->origin && a->origin_kind == b->origin_kind &&
        !(st = nb_data_alloc_origin(out, a->origin_kind, "joined parts"))) {
        if (a->count) memcpy(out->origin, a->origin, a->count * sizeof *out->origin);
        if (b->count) memcpy(out->origin + a->count, b->origin, b->count * sizeof *out->origin);
    }
    if (st) {
        nb_dataset_free(out);
        return st;
    }
    const nb_dataset *named = a->class_names && a->classes == classes ? a : b;
    if ((named->class_names && named->classes == classes &&
         (st = nb_data_copy_names(named->class_names, classes, &out->class_names))) ||
        (st = nb_data_copy_names(a->feature_names, a->features, &out->feature_names))) {
        nb_dataset_free(out);
        return st;
    }
    return NB_OK;
}

nb_status nb_dataset_split(const nb_dataset *src, double fraction, uint64_t seed, nb_dataset *first,
                           nb_dataset *second)
{
    if (!first || !second) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_split: output is NULL");
    memset(first, 0, sizeof *first);
    memset(second, 0, sizeof *second);
    if (!src) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_split: src is NULL");
    if (!(fraction >= 0 && fraction <= 1))
        return nb_error(NB_ERR_ARGUMENT, "nb_dataset_split: fraction %g is not in [0, 1]",
                        fraction);
    size_t n = src->count;
    if (n > NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "nb_dataset_split: %zu samples, more than %d", n,
                        NB_MAX_SAMPLES);
    int *order = nb_calloc(n, sizeof *order);
    size_t *index = nb_calloc(n, sizeof *index);
    if (!order || !index) {
        nb_free(order);
        nb_free(index);
        return nb_error(NB_ERR_MEMORY, "nb_dataset_split: out of memory for %zu indices", n);
    }
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    nb_rng_shuffle(&rng, order, n); /* Fisher-Yates */
    for (size_t i = 0; i < n; i++) index[i] = (size_t)order[i];
    size_t n_first = (size_t)llround(fraction * (double)n);
    if (n_first > n) n_first = n;
    nb_status st = nb_dataset_subset(src, index, n_first, first);
    if (!st) st = nb_dataset_subset(src, index + n_first, n - n_first, second);
    if (st) {
        nb_dataset_free(first);
        nb_dataset_free(second);
    }
    nb_free(order);
    nb_free(index);
    return st;
}

/* A whole number written as text, e.g. "3" or "3.0". */
static int name_value(const char *s, double *v)
{
    char *end;
    if (!s || !*s) return 0;
    *v = strtod(s, &end);
    return end != s && !*end && *v == floor(*v);
}

static int any_number(char *const *names, int n)
{
    double v;
    for (int i = 0; names && i < n; i++)
        if (name_value(names[i], &v)) return 1;
    return 0;
}

/* The expected index of class k of d, or -1: by name (a number also
 * matches a name of the same value); an unnamed class k (an index) matches
 * name k, and a named class k index k of unnamed classes, when the names
 * are not numbers (then nothing else could match them). */
static int expected_index(const nb_dataset *d, int k, char *const *names, int classes)
{
    char buf[32];
    double v, w;
    const char *text = d->class_names ? d->class_names[k] : NULL;
    if (!names) {
        if (text && name_value(text, &v)) return v >= 0 && v < classes ? (int)v : -1;
        return k < classes ? k : -1;
    }
    if (!text) {
        if (!any_number(names, classes)) return k < classes ? k : -1;
        snprintf(buf, sizeof buf, "%d", k);
        text = buf;
    }
    for (int i = 0; i < classes; i++)
        if (strcmp(names[i], text) == 0) return i;
    if (name_value(text, &v))
        for (int i = 0; i < classes; i++)
            if (name_value(names[i], &w) && w == v) return i;
    return -1;
}

nb_status nb_data_match_classes(nb_dataset *d, char *const *names, int classes, const char *what)
{
    if (d->classes <= 0 || classes <= 0) return NB_OK;
    int32_t *map = nb_calloc((size_t)d->classes, sizeof *map);
    if (!map) return nb_error(NB_ERR_MEMORY, "%s: out of memory", what);
    for (int k = 0; k < d->classes; k++) map[k] = expected_index(d, k, names, classes);
    nb_status st = NB_OK;
    for (size_t i = 0; i < d->count && !st; i++) {
        int k = d->labels[i];
        if (map[k] >= 0) continue;
        char buf[NB_ESCAPE_SIZE];
        const char *text = d->class_names ? nb_escape(buf, sizeof buf, d->class_names[k]) : NULL;
        if (!text) snprintf(buf, sizeof buf, "%d", k), text = buf;
        if (names)
            st = nb_error(NB_ERR_FORMAT,
                          "%s: class \"%s\" (sample %zu) is not one of the %d expected classes",
                          what, text, i + 1, classes);
        else
            st = nb_error(NB_ERR_FORMAT,
                          "%s: class \"%s\" (sample %zu) is not a class index in 0..%d (the "
                          "expected classes are unnamed)",
                          what, text, i + 1, classes - 1);
    }
    char **copy = NULL;
    if (!st) st = nb_data_copy_names(names, classes, &copy);
    if (!st) {
        for (size_t i = 0; i < d->count; i++) d->labels[i] = map[d->labels[i]];
        nb_data_free_names(d->class_names, d->classes);
        d->class_names = copy;
        d->classes = classes;
    }
    nb_free(map);
    return st;
}

nb_shape nb_dataset_sample_shape(const nb_dataset *d)
{
    if (!d) return nb_shape1(0);
    if (d->channels > 0 && d->rows > 0 && d->cols > 0 &&
        (size_t)d->channels * (size_t)d->rows * (size_t)d->cols == (size_t)d->features)
        return nb_shape3(d->channels, d->rows, d->cols);
    return nb_shape1(d->features);
}
