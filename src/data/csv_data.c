/* nb_load_csv: a CSV file as a data set, and what its labels mean. Text
 * labels are classes named in order of first appearance; integer labels
 * are class indices when they are exactly 0..K-1, else class names sorted
 * numerically; expected classes (a model's) are matched by name. */
#include "csv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct csv_load {
    csv_file f;
    size_t rows, row_cap;
    nb_real *x, *y;
    int32_t *labels;
    size_t *origin; /* the line of each row */
    char **names;   /* classes seen, in order of first appearance */
    size_t *line;   /* where each was first seen */
    int n_classes, last;
    nb_strset seen;
    char *const *want; /* expected class names, or NULL */
    int want_n;        /* expected classes, 0: learn them */
    int want_numeric;  /* some expected name is a number */
    nb_strset wanted;
} csv_load;

/* Room for one more row in x and labels or y. */
static nb_status grow_rows(csv_load *c)
{
    if (c->rows < c->row_cap) return NB_OK;
    csv_file *f = &c->f;
    if (c->rows >= NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "%s: line %zu: more than %d data rows", f->src->name,
                        f->line_no, NB_MAX_SAMPLES);
    size_t cap = c->row_cap ? c->row_cap * 2 : 64;
    if (cap > NB_MAX_SAMPLES) cap = NB_MAX_SAMPLES;
    size_t features = (size_t)f->columns - 1, bytes;
    if (!nb_mul_size(cap, features * sizeof(nb_real), &bytes))
        return nb_error(NB_ERR_LIMIT, "%s: %zu rows of %zu features overflow", f->src->name, cap,
                        features);
    nb_real *x = nb_realloc(c->x, bytes);
    if (!x) goto oom;
    c->x = x;
    if (f->regression) {
        nb_real *y = nb_realloc(c->y, cap * sizeof *y);
        if (!y) goto oom;
        c->y = y;
    } else {
        int32_t *l = nb_realloc(c->labels, cap * sizeof *l);
        if (!l) goto oom;
        c->labels = l;
    }
    size_t *origin = nb_realloc(c->origin, cap * sizeof *origin);
    if (!origin) goto oom;
    c->origin = origin;
    c->row_cap = cap;
    return NB_OK;
oom:
    return nb_error(NB_ERR_MEMORY, "%s: out of memory at line %zu (%zu rows of %zu features)",
                    f->src->name, f->line_no, cap, features);
}

/* A whole number (as double), e.g. "3", "-1", "2.0". */
static int integer_value(const char *s, double *v)
{
    char *end;
    if (!*s) return 0;
    *v = strtod(s, &end);
    return end != s && !*end && isfinite(*v) && *v == floor(*v) && fabs(*v) <= 9007199254740992.0;
}

/* "a", "b", ... of the expected names, for messages. */
static void list_names(char *const *names, int n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && used + 8 < size; k++) {
        char q[NB_ESCAPE_SIZE];
        int w = snprintf(buf + used, size - used, "%s\"%s\"", k ? ", " : "",
                         nb_escape(q, sizeof q, names[k]));
        used = w < 0 ? size : used + (size_t)w;
    }
    if (used >= size) memcpy(buf + size - 4, "...", 4);
}

/* A label matched to the expected classes: by name (a number also matches
 * a name with the same value), or by value 0..K-1 when they are unnamed. */
static nb_status expected_class(csv_load *c, const char *text, int32_t *index)
{
    const csv_file *f = &c->f;
    double v, w;
    char why[640];
    if (!c->want) {
        if (integer_value(text, &v) && v >= 0 && v < c->want_n) {
            *index = (int32_t)v;
            return NB_OK;
        }
        snprintf(why, sizeof why, "not a class index in 0..%d (the expected classes are unnamed)",
                 c->want_n - 1);
        return nb_csv_cell_error(f, f->label_col, why);
    }
    int k = nb_strset_find(&c->wanted, c->want, text);
    if (k < 0 && integer_value(text, &v)) {
        for (int i = 0; i < c->want_n && k < 0; i++)
            if (integer_value(c->want[i], &w) && w == v) k = i;
        /* Names that are not numbers: an integer label is a class index. */
        if (k < 0 && !c->want_numeric && v >= 0 && v < c->want_n) k = (int)v;
    }
    if (k >= 0) {
        *index = k;
        return NB_OK;
    }
    char names[512];
    list_names(c->want, c->want_n, names, sizeof names);
    char index_text[48] = "";
    if (!c->want_numeric)
        snprintf(index_text, sizeof index_text, ", or an index 0..%d", c->want_n - 1);
    snprintf(why, sizeof why, "class label not one of the %d expected classes (%s%s)", c->want_n,
             names, index_text);
    return nb_csv_cell_error(f, f->label_col, why);
}

/* The index of the row's class label, learned in order of first appearance
 * or matched to the expected classes. */
static nb_status class_index(csv_load *c, int32_t *index)
{
    const csv_file *f = &c->f;
    const char *text = nb_csv_cell(f, f->label_col);
    if (nb_csv_is_missing(text))
        return nb_csv_cell_error(f, f->label_col,
                                 "a missing class label (NA, N/A, ? and empty cells are missing "
                                 "values)");
    if (c->want_n > 0) return expected_class(c, text, index);
    if (c->n_classes > 0 && strcmp(c->names[c->last], text) == 0) {
        *index = c->last;
        return NB_OK;
    }
    int k = nb_strset_find(&c->seen, c->names, text);
    if (k >= 0) {
        *index = c->last = k;
        return NB_OK;
    }
    if (strlen(text) >= NB_LABEL_NAME_MAX)
        return nb_csv_cell_error(f, f->label_col,
                                 "class label longer than NB_LABEL_NAME_MAX - 1 (63) bytes");
    if (c->n_classes >= NB_MAX_CLASSES)
        return nb_csv_cell_error(f, f->label_col,
                                 "more distinct class labels than NB_MAX_CLASSES (1000)");
    if (!(c->names[c->n_classes] = nb_data_strdup(text)))
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
    c->line[c->n_classes] = f->line_no;
    nb_strset_add(&c->seen, c->names, c->n_classes);
    *index = c->last = c->n_classes++;
    return NB_OK;
}

static nb_status add_row(csv_load *c)
{
    csv_file *f = &c->f;
    nb_status st = grow_rows(c);
    if (st) return st;
    if ((st = nb_csv_features(f, c->x + c->rows * (size_t)(f->columns - 1)))) return st;
    if (f->regression) {
        double v;
        if ((st = nb_csv_number(f, f->label_col, &v))) return st;
        c->y[c->rows] = (nb_real)v;
    } else if ((st = class_index(c, &c->labels[c->rows]))) {
        return st;
    }
    c->origin[c->rows++] = f->line_no;
    return NB_OK;
}

typedef struct ranked {
    double value;
    int k;
} ranked;

static int by_value(const void *a, const void *b)
{
    double x = ((const ranked *)a)->value, y = ((const ranked *)b)->value;
    return (x > y) - (x < y);
}

/* Line 1 taken for data whose label is the only text among integer labels
 * is most likely a header of number-like names: refuse to guess. */
static nb_status check_first_row(const csv_load *c, const int32_t *labels, const int *integer)
{
    const csv_file *f = &c->f;
    if (!f->header_auto || f->header || c->n_classes < 2 || c->rows == 0) return NB_OK;
    int k0 = labels[0];
    if (integer[k0]) return NB_OK;
    for (int k = 0; k < c->n_classes; k++)
        if (k != k0 && !integer[k]) return NB_OK;
    for (size_t i = 1; i < c->rows; i++)
        if (labels[i] == k0) return NB_OK;
    char q[NB_ESCAPE_SIZE];
    return nb_error(NB_ERR_FORMAT,
                    "%s: line %zu was read as data (none of its feature cells is text), but its "
                    "label \"%s\" is the only text label among integers: is it a header? give "
                    "--header yes or --header no",
                    f->src->name, c->line[k0], nb_escape(q, sizeof q, c->names[k0]));
}

/* Number the learned classes (see the top of the file). */
static nb_status finish_labels(csv_load *c, nb_dataset *out)
{
    const csv_file *f = &c->f;
    char col[NB_ESCAPE_SIZE + 32];
    char q[NB_ESCAPE_SIZE], q2[NB_ESCAPE_SIZE];
    int n = c->n_classes;
    if (n == 1)
        return nb_error(NB_ERR_FORMAT,
                        "%s: the data has one class (\"%s\" in %s): a classifier needs at least "
                        "2; for a number to fit, use regression",
                        f->src->name, nb_escape(q, sizeof q, c->names[0]),
                        nb_csv_column(f, f->label_col, col, sizeof col));
    int integer[NB_MAX_CLASSES], integers = 1;
    ranked rank[NB_MAX_CLASSES];
    for (int k = 0; k < n; k++) {
        integer[k] = integer_value(c->names[k], &rank[k].value);
        rank[k].k = k;
        integers &= integer[k];
    }
    nb_status st = check_first_row(c, out->labels, integer);
    if (st) return st;
    int32_t map[NB_MAX_CLASSES] = {0};
    char **names = c->names;
    if (integers) {
        qsort(rank, (size_t)n, sizeof *rank, by_value);
        int indices = 1;
        for (int r = 0; r < n; r++) {
            if (r > 0 && rank[r].value == rank[r - 1].value)
                return nb_error(NB_ERR_FORMAT,
                                "%s: %s: class labels \"%s\" (line %zu) and \"%s\" (line %zu) are "
                                "the same number",
                                f->src->name, nb_csv_column(f, f->label_col, col, sizeof col),
                                nb_escape(q, sizeof q, c->names[rank[r - 1].k]),
                                c->line[rank[r - 1].k],
                                nb_escape(q2, sizeof q2, c->names[rank[r].k]), c->line[rank[r].k]);
            map[rank[r].k] = r;
            indices &= rank[r].value == r;
        }
        for (size_t i = 0; i < c->rows; i++) out->labels[i] = map[out->labels[i]];
        out->classes = n;
        if (indices) return NB_OK; /* 0..K-1: the labels are the indices, unnamed */
        names = nb_calloc((size_t)n, sizeof *names);
        if (!names) return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
        for (int r = 0; r < n; r++) {
            names[r] = c->names[rank[r].k];
            c->names[rank[r].k] = NULL;
        }
        nb_data_free_names(c->names, n);
        c->names = NULL;
        out->class_names = names;
        return NB_OK;
    }
    /* Text among the labels: the numbers are names, but one number
     * written two ways ("1", "1.0") is still refused. */
    for (int a = 0; a < n; a++)
        for (int b = a + 1; integer[a] && b < n; b++)
            if (integer[b] && rank[a].value == rank[b].value)
                return nb_error(NB_ERR_FORMAT,
                                "%s: %s: class labels \"%s\" (line %zu) and \"%s\" (line %zu) are "
                                "the same number",
                                f->src->name, nb_csv_column(f, f->label_col, col, sizeof col),
                                nb_escape(q, sizeof q, c->names[a]), c->line[a],
                                nb_escape(q2, sizeof q2, c->names[b]), c->line[b]);
    out->classes = n;
    out->class_names = c->names;
    c->names = NULL;
    return NB_OK;
}

static nb_status load_rows(csv_load *c, const nb_csv_options *o, nb_dataset *out)
{
    csv_file *f = &c->f;
    nb_src_format format;
    nb_status st = nb_src_detect(f->src, "a CSV text file", &format);
    if (st) return st;
    if (format == NB_SRC_IDX)
        return nb_error(NB_ERR_FORMAT,
                        "%s: an IDX file, expected a CSV text file (an IDX pair is read from a "
                        "directory)",
                        f->src->name);
    if ((st = nb_csv_begin(f, o, -1))) return st;
    if (!f->regression) {
        if (c->want_n > 0 && c->want) {
            if ((st = nb_strset_init(&c->wanted, (size_t)c->want_n))) return st;
            double v;
            for (int k = 0; k < c->want_n; k++) {
                nb_strset_add(&c->wanted, c->want, k);
                c->want_numeric |= integer_value(c->want[k], &v);
            }
        } else if (c->want_n == 0) {
            c->names = nb_calloc(NB_MAX_CLASSES, sizeof *c->names);
            c->line = nb_calloc(NB_MAX_CLASSES, sizeof *c->line);
            if (!c->names || !c->line)
                return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
            if ((st = nb_strset_init(&c->seen, NB_MAX_CLASSES))) return st;
        }
    }
    for (;;) {
        int got;
        if ((st = nb_csv_next(f, &got))) return st;
        if (!got) break;
        if ((st = add_row(c))) return st;
    }
    if (c->rows == 0)
        return nb_error(NB_ERR_FORMAT, "%s: no data rows (only a header on line %zu)", f->src->name,
                        f->first_line);
    out->count = c->rows;
    out->features = f->columns - 1;
    out->x = c->x;
    c->x = NULL;
    out->origin = c->origin;
    out->origin_kind = NB_ORIGIN_LINE;
    c->origin = NULL;
    if (f->regression) {
        out->targets = 1;
        out->y = c->y;
        c->y = NULL;
    } else {
        out->labels = c->labels;
        c->labels = NULL;
        if (c->want_n > 0) {
            out->classes = c->want_n;
            if ((st = nb_data_copy_names(c->want, c->want_n, &out->class_names))) return st;
        } else if ((st = finish_labels(c, out))) {
            return st;
        }
    }
    if (f->names) {
        out->feature_names = nb_calloc((size_t)out->features, sizeof(char *));
        if (!out->feature_names) return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
        for (int j = 0, k = 0; j < f->columns; j++) {
            if (j == f->label_col) continue;
            out->feature_names[k++] = f->names[j];
            f->names[j] = NULL;
        }
    }
    return NB_OK;
}

nb_status nb_csv_check_options(const nb_csv_options *o, const char *fn)
{
    if (o->delimiter == '"' || o->delimiter == '\n' || o->delimiter == '\r')
        return nb_error(NB_ERR_ARGUMENT, "%s: delimiter 0x%02x is not allowed", fn,
                        (unsigned char)o->delimiter);
    if (o->header < -1 || o->header > 1)
        return nb_error(NB_ERR_ARGUMENT, "%s: header must be -1, 0 or 1, not %d", fn, o->header);
    if (o->classes < 0 || o->classes > NB_MAX_CLASSES || (o->class_names && o->classes < 1))
        return nb_error(NB_ERR_ARGUMENT, "%s: classes %d is not in 1..%d", fn, o->classes,
                        NB_MAX_CLASSES);
    if (o->features < 0 || o->features > NB_MAX_FEATURES)
        return nb_error(NB_ERR_ARGUMENT, "%s: features %d is not in 0..%d", fn, o->features,
                        NB_MAX_FEATURES);
    if (o->regression && o->classes)
        return nb_error(NB_ERR_ARGUMENT, "%s: expected classes given for regression", fn);
    for (int k = 0; o->class_names && k < o->classes; k++)
        if (!o->class_names[k])
            return nb_error(NB_ERR_ARGUMENT, "%s: class_names[%d] is NULL", fn, k);
    return NB_OK;
}

nb_status nb_load_csv(const char *path, const nb_csv_options *options, nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_load_csv: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return nb_error(NB_ERR_ARGUMENT, "nb_load_csv: path is NULL");
    nb_csv_options o = {.header = -1};
    if (options) o = *options;
    nb_status st = nb_csv_check_options(&o, "nb_load_csv");
    if (st) return st;
    nb_data_info local = {.label_column = -1}, *info = o.info ? o.info : &local;
    memset(info, 0, sizeof *info);
    memcpy(info->format, "csv", 4);
    info->label_column = -1;

    csv_load c;
    memset(&c, 0, sizeof c);
    nb_src src;
    st = nb_src_open(&src, path);
    nb_csv_init(&c.f, &src, info);
    c.want = o.class_names;
    c.want_n = o.regression ? 0 : o.classes;
    if (!st) st = load_rows(&c, &o, out);
    nb_csv_close(&c.f);
    nb_src_close(&src);
    nb_free(c.x);
    nb_free(c.y);
    nb_free(c.labels);
    nb_free(c.origin);
    nb_data_free_names(c.names, c.n_classes);
    nb_free(c.line);
    nb_strset_free(&c.seen);
    nb_strset_free(&c.wanted);
    if (st) nb_dataset_free(out);
    return st;
}
