/* CSV files: numeric feature columns and one label column (a class, as an
 * integer or text, or a number to fit). Every error names the file, the
 * line and the column. Quoted fields may hold the delimiter and "" for a
 * quote, but not a line break. */
#include "data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CELL_SHOWN 40 /* bytes of a bad cell quoted in a message */

typedef struct csv_reader {
    const char *path;
    FILE *fp;
    char delim;
    char *line; /* getline's buffer: libc owns it, so it is released with free() */
    size_t line_cap;
    size_t line_no; /* 1-based number of the line in line */
    char *cells;    /* the cells of the current line, unescaped, each NUL-terminated */
    size_t cells_cap;
    size_t *cell; /* offset of each cell in cells */
    int n_cells, cell_cap;
} csv_reader;

/* A classification label seen so far: its text and where it first appeared. */
typedef struct csv_class {
    char name[NB_LABEL_NAME_MAX];
    size_t line;
} csv_class;

typedef struct csv_load {
    csv_reader r;
    int columns, label_col, header, regression;
    char **header_names; /* columns names when there is a header */
    size_t rows, row_cap;
    nb_real *x, *y;
    int32_t *labels;
    csv_class *classes;
    int n_classes;
    int last_class; /* index of the last label matched: rows often repeat it */
} csv_load;

static const char *cell_text(const csv_reader *r, int j)
{
    return r->cells + r->cell[j];
}

static int is_blank(char c, char delim)
{
    return (c == ' ' || c == '\t') && c != delim;
}

/* "column 3 ("weight")" or "column 3" into buf. */
static const char *column_label(const csv_load *c, int j, char *buf, size_t size)
{
    if (c->header_names)
        snprintf(buf, size, "column %d (\"%s\")", j + 1, c->header_names[j]);
    else
        snprintf(buf, size, "column %d", j + 1);
    return buf;
}

static nb_status bad_cell(const csv_load *c, int j, const char *why)
{
    char col[NB_LABEL_NAME_MAX + 32];
    const char *text = cell_text(&c->r, j);
    int shown = (int)strnlen(text, CELL_SHOWN);
    return nb_error(NB_ERR_FORMAT, "%s: line %zu, %s: bad cell \"%.*s%s\": %s", c->r.path,
                    c->r.line_no, column_label(c, j, col, sizeof col), shown, text,
                    text[shown] ? "..." : "", why);
}

static nb_status reserve_cells(csv_reader *r, int n)
{
    if (n <= r->cell_cap) return NB_OK;
    int cap = r->cell_cap ? r->cell_cap : 16;
    while (cap < n) cap *= 2;
    size_t *p = nb_realloc(r->cell, (size_t)cap * sizeof *p);
    if (!p) return nb_error(NB_ERR_MEMORY, "%s: out of memory for %d cells", r->path, n);
    r->cell = p;
    r->cell_cap = cap;
    return NB_OK;
}

/* Split line (len bytes, no line break) into cells. */
static nb_status split_line(csv_reader *r, const char *line, size_t len)
{
    if (len + 1 > r->cells_cap) {
        char *p = nb_realloc(r->cells, len + 1);
        if (!p) return nb_error(NB_ERR_MEMORY, "%s: out of memory for a line", r->path);
        r->cells = p;
        r->cells_cap = len + 1;
    }
    char *out = r->cells;
    size_t pos = 0;
    r->n_cells = 0;
    for (;;) {
        nb_status st = reserve_cells(r, r->n_cells + 1);
        if (st) return st;
        r->cell[r->n_cells++] = (size_t)(out - r->cells);
        while (pos < len && is_blank(line[pos], r->delim)) pos++;
        if (pos < len && line[pos] == '"') {
            pos++;
            for (;;) {
                if (pos >= len)
                    return nb_error(NB_ERR_FORMAT,
                                    "%s: line %zu, column %d: quoted field not closed before the "
                                    "end of the line",
                                    r->path, r->line_no, r->n_cells);
                if (line[pos] == '"') {
                    if (pos + 1 < len && line[pos + 1] == '"') { /* "" is one quote */
                        *out++ = '"';
                        pos += 2;
                        continue;
                    }
                    pos++;
                    break;
                }
                *out++ = line[pos++];
            }
            while (pos < len && is_blank(line[pos], r->delim)) pos++;
            if (pos < len && line[pos] != r->delim)
                return nb_error(NB_ERR_FORMAT,
                                "%s: line %zu, column %d: unexpected text after a closing quote",
                                r->path, r->line_no, r->n_cells);
        } else {
            char *start = out;
            while (pos < len && line[pos] != r->delim) *out++ = line[pos++];
            while (out > start && is_blank(out[-1], r->delim)) out--;
        }
        *out++ = '\0';
        if (pos >= len) return NB_OK;
        pos++; /* the delimiter; a cell follows, maybe empty */
    }
}

/* The next line that is not blank, split into cells; 0 at the end. */
static nb_status next_row(csv_reader *r, int *got)
{
    *got = 0;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->line_cap, r->fp);
        if (n < 0) {
            if (ferror(r->fp))
                return nb_error(NB_ERR_IO, "%s: read error after line %zu: %s", r->path, r->line_no,
                                strerror(errno ? errno : EIO));
            return NB_OK;
        }
        r->line_no++;
        size_t len = (size_t)n;
        if (len > 0 && r->line[len - 1] == '\n') len--;
        if (len > 0 && r->line[len - 1] == '\r') len--;
        if (len > NB_MAX_LINE)
            return nb_error(NB_ERR_LIMIT, "%s: line %zu is %zu bytes long, more than the limit %d",
                            r->path, r->line_no, len, NB_MAX_LINE);
        if (memchr(r->line, '\0', len))
            return nb_error(NB_ERR_FORMAT, "%s: line %zu contains a NUL byte (not a text file?)",
                            r->path, r->line_no);
        const char *text = r->line;
        if (r->line_no == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
            text += 3; /* a UTF-8 byte-order mark */
            len -= 3;
        }
        if (len == 0) continue;
        *got = 1;
        return split_line(r, text, len);
    }
}

/* strtod over the whole cell; the value must be finite as nb_real too. */
static const char *parse_number(const char *s, double *value)
{
    if (!*s) return "empty cell, expected a number";
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return "not a number";
    if (!isfinite(d)) return "not a finite number";
    if (!isfinite((nb_real)d)) return "out of range for " NB_REAL_NAME;
    *value = d;
    return NULL;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Find the label column in the first row (cells of r). */
static nb_status find_label(csv_load *c, const char *label, int *by_name)
{
    csv_reader *r = &c->r;
    *by_name = 0;
    if (!label) {
        c->label_col = c->columns - 1;
        return NB_OK;
    }
    if (c->header != 0)
        for (int j = 0; j < c->columns; j++)
            if (strcmp(cell_text(r, j), label) == 0) {
                c->label_col = j;
                *by_name = 1;
                return NB_OK;
            }
    if (all_digits(label)) {
        errno = 0;
        long j = strtol(label, NULL, 10);
        if (errno || j >= c->columns)
            return nb_error(NB_ERR_NOT_FOUND,
                            "%s: label column %s is out of range: line %zu has %d columns "
                            "(0-based index 0 to %d)",
                            r->path, label, r->line_no, c->columns, c->columns - 1);
        c->label_col = (int)j;
        return NB_OK;
    }
    if (c->header == 0)
        return nb_error(NB_ERR_NOT_FOUND,
                        "%s: label column \"%s\" not found: the file has no header (give a "
                        "0-based column index)",
                        r->path, label);
    char names[512];
    size_t used = 0;
    names[0] = '\0';
    for (int j = 0; j < c->columns && used + 8 < sizeof names; j++) {
        int w =
            snprintf(names + used, sizeof names - used, "%s\"%s\"", j ? ", " : "", cell_text(r, j));
        used = w < 0 ? sizeof names : used + (size_t)w;
    }
    if (used >= sizeof names) memcpy(names + sizeof names - 4, "...", 4);
    return nb_error(NB_ERR_NOT_FOUND,
                    "%s: label column \"%s\" not found in the header (line %zu: %s)", r->path,
                    label, r->line_no, names);
}

/* A first row is a header when a cell that must be a number is not one. */
static int looks_like_header(const csv_load *c)
{
    double v;
    for (int j = 0; j < c->columns; j++) {
        if (j == c->label_col && !c->regression) continue;
        if (parse_number(cell_text(&c->r, j), &v)) return 1;
    }
    return 0;
}

static nb_status keep_header(csv_load *c)
{
    c->header_names = nb_calloc((size_t)c->columns, sizeof(char *));
    if (!c->header_names) return nb_error(NB_ERR_MEMORY, "%s: out of memory", c->r.path);
    for (int j = 0; j < c->columns; j++) {
        const char *name = cell_text(&c->r, j);
        if (strlen(name) >= NB_LABEL_NAME_MAX)
            return nb_error(NB_ERR_LIMIT,
                            "%s: line %zu, column %d: column name is longer than %d bytes",
                            c->r.path, c->r.line_no, j + 1, NB_LABEL_NAME_MAX - 1);
        if (!(c->header_names[j] = nb_data_strdup(name)))
            return nb_error(NB_ERR_MEMORY, "%s: out of memory", c->r.path);
    }
    return NB_OK;
}

/* Room for one more row in x and labels or y. */
static nb_status grow_rows(csv_load *c)
{
    if (c->rows < c->row_cap) return NB_OK;
    if (c->rows >= NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "%s: line %zu: more than %d data rows", c->r.path,
                        c->r.line_no, NB_MAX_SAMPLES);
    size_t cap = c->row_cap ? c->row_cap * 2 : 64;
    if (cap > NB_MAX_SAMPLES) cap = NB_MAX_SAMPLES;
    size_t features = (size_t)c->columns - 1, bytes;
    if (!nb_mul_size(cap, features * sizeof(nb_real), &bytes))
        return nb_error(NB_ERR_LIMIT, "%s: %zu rows of %zu features overflow", c->r.path, cap,
                        features);
    nb_real *x = nb_realloc(c->x, bytes);
    if (!x) goto oom;
    c->x = x;
    if (c->regression) {
        nb_real *y = nb_realloc(c->y, cap * sizeof *y);
        if (!y) goto oom;
        c->y = y;
    } else {
        int32_t *l = nb_realloc(c->labels, cap * sizeof *l);
        if (!l) goto oom;
        c->labels = l;
    }
    c->row_cap = cap;
    return NB_OK;
oom:
    return nb_error(NB_ERR_MEMORY, "%s: out of memory at line %zu (%zu rows of %zu features)",
                    c->r.path, c->r.line_no, cap, features);
}

/* The index of a class label, added in order of first appearance. */
static nb_status class_index(csv_load *c, int32_t *index)
{
    const char *text = cell_text(&c->r, c->label_col);
    if (c->n_classes > 0 && strcmp(c->classes[c->last_class].name, text) == 0) {
        *index = c->last_class;
        return NB_OK;
    }
    for (int k = 0; k < c->n_classes; k++)
        if (strcmp(c->classes[k].name, text) == 0) {
            *index = c->last_class = k;
            return NB_OK;
        }
    if (!*text) return bad_cell(c, c->label_col, "empty class label");
    if (strlen(text) >= NB_LABEL_NAME_MAX)
        return bad_cell(c, c->label_col, "class label longer than NB_LABEL_NAME_MAX - 1 bytes");
    if (c->n_classes >= NB_MAX_CLASSES)
        return bad_cell(c, c->label_col, "more distinct class labels than NB_MAX_CLASSES (1000)");
    if (!c->classes) {
        c->classes = nb_calloc(NB_MAX_CLASSES, sizeof *c->classes);
        if (!c->classes) return nb_error(NB_ERR_MEMORY, "%s: out of memory", c->r.path);
    }
    csv_class *k = &c->classes[c->n_classes];
    memcpy(k->name, text, strlen(text) + 1);
    k->line = c->r.line_no;
    *index = c->last_class = c->n_classes++;
    return NB_OK;
}

static nb_status add_row(csv_load *c)
{
    csv_reader *r = &c->r;
    if (r->n_cells != c->columns)
        return nb_error(NB_ERR_FORMAT, "%s: line %zu: ragged row: expected %d cells, got %d",
                        r->path, r->line_no, c->columns, r->n_cells);
    nb_status st = grow_rows(c);
    if (st) return st;
    nb_real *x = c->x + c->rows * (size_t)(c->columns - 1);
    double v;
    for (int j = 0; j < c->columns; j++) {
        if (j == c->label_col) continue;
        const char *why = parse_number(cell_text(r, j), &v);
        if (why) return bad_cell(c, j, why);
        *x++ = (nb_real)v;
    }
    if (c->regression) {
        const char *why = parse_number(cell_text(r, c->label_col), &v);
        if (why) return bad_cell(c, c->label_col, why);
        c->y[c->rows] = (nb_real)v;
    } else if ((st = class_index(c, &c->labels[c->rows]))) {
        return st;
    }
    c->rows++;
    return NB_OK;
}

/* Integer labels when every distinct label is a whole number (they must be
 * 0..NB_MAX_CLASSES-1); text labels, named in order of first appearance,
 * otherwise. */
static nb_status finish_labels(csv_load *c, nb_dataset *out)
{
    int value[NB_MAX_CLASSES] = {0};
    int integers = 1, max_value = -1;
    for (int k = 0; k < c->n_classes && integers; k++) {
        double v;
        if (parse_number(c->classes[k].name, &v) || v != floor(v))
            integers = 0;
        else if (v < 0 || v >= NB_MAX_CLASSES) {
            char col[NB_LABEL_NAME_MAX + 32];
            return nb_error(NB_ERR_FORMAT,
                            "%s: line %zu, %s: integer class label %s is not in 0..%d", c->r.path,
                            c->classes[k].line, column_label(c, c->label_col, col, sizeof col),
                            c->classes[k].name, NB_MAX_CLASSES - 1);
        } else {
            value[k] = (int)v;
            if (value[k] > max_value) max_value = value[k];
        }
    }
    if (integers) {
        for (size_t i = 0; i < c->rows; i++) out->labels[i] = value[out->labels[i]];
        out->classes = max_value + 1;
        return NB_OK;
    }
    out->classes = c->n_classes;
    out->class_names = nb_calloc((size_t)c->n_classes, sizeof(char *));
    if (!out->class_names) return nb_error(NB_ERR_MEMORY, "%s: out of memory", c->r.path);
    for (int k = 0; k < c->n_classes; k++)
        if (!(out->class_names[k] = nb_data_strdup(c->classes[k].name)))
            return nb_error(NB_ERR_MEMORY, "%s: out of memory", c->r.path);
    return NB_OK;
}

static nb_status load_csv(csv_load *c, const nb_csv_options *o, nb_dataset *out)
{
    csv_reader *r = &c->r;
    int got;
    nb_status st = next_row(r, &got);
    if (st) return st;
    if (!got) return nb_error(NB_ERR_FORMAT, "%s: empty file (no rows)", r->path);
    c->columns = r->n_cells;
    if (c->columns < 2)
        return nb_error(NB_ERR_FORMAT,
                        "%s: line %zu has %d column; expected at least one feature column and a "
                        "label column (delimiter '%c')",
                        r->path, r->line_no, c->columns, r->delim);
    if (c->columns - 1 > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT, "%s: line %zu: %d feature columns, more than the limit %d",
                        r->path, r->line_no, c->columns - 1, NB_MAX_FEATURES);
    int by_name;
    if ((st = find_label(c, o->label, &by_name))) return st;
    if (c->header < 0) c->header = by_name || looks_like_header(c);
    if (c->header) {
        if ((st = keep_header(c))) return st;
    } else if ((st = add_row(c))) {
        return st;
    }
    for (;;) {
        if ((st = next_row(r, &got))) return st;
        if (!got) break;
        if ((st = add_row(c))) return st;
    }
    if (c->rows == 0)
        return nb_error(NB_ERR_FORMAT, "%s: no data rows (only a header on line %zu)", r->path,
                        r->line_no);

    out->count = c->rows;
    out->features = c->columns - 1;
    out->x = c->x;
    c->x = NULL;
    if (c->regression) {
        out->targets = 1;
        out->y = c->y;
        c->y = NULL;
    } else {
        out->labels = c->labels;
        c->labels = NULL;
        if ((st = finish_labels(c, out))) return st;
    }
    if (c->header_names) {
        out->feature_names = nb_calloc((size_t)out->features, sizeof(char *));
        if (!out->feature_names) return nb_error(NB_ERR_MEMORY, "%s: out of memory", r->path);
        for (int j = 0, f = 0; j < c->columns; j++) {
            if (j == c->label_col) continue;
            out->feature_names[f++] = c->header_names[j];
            c->header_names[j] = NULL;
        }
    }
    return NB_OK;
}

nb_status nb_load_csv(const char *path, const nb_csv_options *options, nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_load_csv: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return nb_error(NB_ERR_ARGUMENT, "nb_load_csv: path is NULL");
    nb_csv_options o = {NULL, -1, 0, ','};
    if (options) o = *options;
    if (!o.delimiter) o.delimiter = ',';
    if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r')
        return nb_error(NB_ERR_ARGUMENT, "nb_load_csv: delimiter 0x%02x is not allowed",
                        (unsigned char)o.delimiter);
    if (o.header < -1 || o.header > 1)
        return nb_error(NB_ERR_ARGUMENT, "nb_load_csv: header must be -1, 0 or 1, not %d",
                        o.header);

    csv_load c;
    memset(&c, 0, sizeof c);
    c.r.path = path;
    c.r.delim = o.delimiter;
    c.header = o.header;
    c.regression = o.regression != 0;
    c.r.fp = fopen(path, "r");
    if (!c.r.fp) return nb_error(NB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    nb_status st = load_csv(&c, &o, out);
    fclose(c.r.fp);
    free(c.r.line);
    nb_free(c.r.cells);
    nb_free(c.r.cell);
    nb_data_free_names(c.header_names, c.columns);
    nb_free(c.x);
    nb_free(c.y);
    nb_free(c.labels);
    nb_free(c.classes);
    if (st) nb_dataset_free(out);
    return st;
}
