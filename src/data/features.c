/* Rows of features to predict on, read in batches: CSV text (with the same
 * rules as data sets) or an IDX images or vectors file, plain or gzip,
 * decided by content. Memory does not grow with the number of rows. */
#include "csv.h"
#include "idx.h"

#include <string.h>

struct nb_feature_reader {
    nb_src src;
    nb_src_format format;
    csv_file csv;
    nb_idx idx;
    int features;
    int rows, cols; /* IDX images: their geometry; else 0 */
    size_t left;    /* IDX: samples not read yet */
    unsigned char *row;
    nb_data_info info;
};

static nb_status open_reader(nb_feature_reader *r, const char *path, const nb_csv_options *o)
{
    nb_status st = nb_src_open(&r->src, path);
    if (st) return st;
    r->info.gzip = r->src.gzip;
    if ((st = nb_src_detect(&r->src, "a CSV text file or an IDX images file", &r->format)))
        return st;
    if (r->format == NB_SRC_EMPTY)
        return nb_error(NB_ERR_FORMAT, "%s: empty file (no rows)", r->src.name);
    if (r->format == NB_SRC_CSV) {
        memcpy(r->info.format, "csv", 4);
        nb_csv_init(&r->csv, &r->src, &r->info);
        return nb_csv_begin(&r->csv, o, r->features);
    }
    memcpy(r->info.format, "idx", 4);
    const char *given = o->label && !o->label_saved ? "a label column (--label)"
                        : o->header != -1           ? "a header setting (--header)"
                        : o->delimiter              ? "a delimiter (--delimiter)"
                                                    : NULL;
    if (given)
        return nb_error(NB_ERR_ARGUMENT, "%s applies to CSV input, but %s is an IDX file", given,
                        r->src.name);
    if ((st = nb_idx_begin(&r->idx, &r->src, 0))) return st;
    size_t count;
    int features, rows, cols, exact;
    if ((st = nb_idx_image_shape(&r->idx, &count, &features, &rows, &cols))) return st;
    if (features != r->features && rows > 0)
        return nb_error(NB_ERR_FORMAT,
                        "%s: images of %dx%d (%d values), but %d values are expected", r->src.name,
                        rows, cols, features, r->features);
    if (features != r->features)
        return nb_error(NB_ERR_FORMAT, "%s: %d values per sample, but %d are expected", r->src.name,
                        features, r->features);
    r->rows = rows;
    r->cols = cols;
    if ((st = nb_idx_check_claim(&r->idx, (uint64_t)count * (uint64_t)features, &exact))) return st;
    r->left = count;
    r->row = nb_malloc((size_t)features);
    if (!r->row) return nb_error(NB_ERR_MEMORY, "%s: out of memory", r->src.name);
    return NB_OK;
}

nb_status nb_feature_reader_open(const char *path, const nb_csv_options *options, int features,
                                 nb_feature_reader **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_feature_reader_open: out is NULL");
    *out = NULL;
    if (!path) return nb_error(NB_ERR_ARGUMENT, "nb_feature_reader_open: path is NULL");
    if (features < 1 || features > NB_MAX_FEATURES)
        return nb_error(NB_ERR_ARGUMENT, "nb_feature_reader_open: features %d is not in 1..%d",
                        features, NB_MAX_FEATURES);
    nb_csv_options o = {.header = -1};
    if (options) o = *options;
    o.regression = 0;
    o.class_names = NULL;
    o.classes = 0;
    nb_status st = nb_csv_check_options(&o, "nb_feature_reader_open");
    if (st) return st;
    nb_feature_reader *r = nb_calloc(1, sizeof *r);
    char q[NB_PATH_SHOWN];
    if (!r)
        return nb_error(NB_ERR_MEMORY, "out of memory opening %s", nb_escape(q, sizeof q, path));
    r->features = features;
    r->info.label_column = -1;
    r->idx.own.fd = -1;
    st = open_reader(r, path, &o);
    if (options && options->info) *options->info = r->info;
    if (st) {
        nb_feature_reader_close(r);
        return st;
    }
    *out = r;
    return NB_OK;
}

static nb_status read_idx_rows(nb_feature_reader *r, nb_real *x, size_t max, size_t *rows)
{
    size_t f = (size_t)r->features;
    while (*rows < max && r->left > 0) {
        nb_status st = nb_idx_read(&r->idx, r->row, f, "the image values");
        if (st) return st;
        for (size_t j = 0; j < f; j++) x[*rows * f + j] = (nb_real)r->row[j];
        r->left--;
        ++*rows;
        r->info.rows++;
    }
    if (r->left == 0) return nb_idx_expect_end(&r->idx);
    return NB_OK;
}

nb_status nb_feature_reader_read(nb_feature_reader *r, nb_real *x, size_t max, size_t *rows)
{
    if (!rows) return nb_error(NB_ERR_ARGUMENT, "nb_feature_reader_read: rows is NULL");
    *rows = 0;
    if (!r || (!x && max > 0))
        return nb_error(NB_ERR_ARGUMENT, "nb_feature_reader_read: reader or x is NULL");
    if (r->format == NB_SRC_IDX) return read_idx_rows(r, x, max, rows);
    while (*rows < max) {
        int got;
        nb_status st = nb_csv_next(&r->csv, &got);
        if (st) return st;
        if (!got) break;
        if ((st = nb_csv_features(&r->csv, x + *rows * (size_t)r->features))) return st;
        ++*rows;
    }
    return NB_OK;
}

const nb_data_info *nb_feature_reader_info(const nb_feature_reader *r)
{
    return r ? &r->info : NULL;
}

nb_shape nb_feature_reader_sample_shape(const nb_feature_reader *r)
{
    if (!r) return nb_shape1(0);
    return r->rows > 0 ? nb_shape3(1, r->rows, r->cols) : nb_shape1(r->features);
}

void nb_feature_reader_close(nb_feature_reader *r)
{
    if (!r) return;
    nb_csv_close(&r->csv);
    nb_idx_close(&r->idx);
    nb_src_close(&r->src);
    nb_free(r->row);
    nb_free(r);
}
