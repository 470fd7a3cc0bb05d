/* CSV files: the one reader behind nb_load_csv, nb_data_open and the
 * prediction reader. Numeric feature columns and, for a data set, one label
 * column (a class, as text or an integer, or a number to fit). The rules
 * (docs/data.md): a UTF-8 byte-order mark is skipped; lines end in LF or
 * CRLF; cells may be quoted ("a, b", "" for a quote) but a quoted cell ends
 * on its line; the delimiter is given or detected among tab, ';' and ',';
 * the header is given or detected (a first row with a text cell), and only
 * then is the label column resolved; NA, N/A, ? and empty cells are missing
 * values, an error wherever they are. Every error names the file, the line
 * and the column. */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CELL_SHOWN   40  /* bytes of a bad cell quoted in a message */
#define SAMPLE_LINES 100 /* lines of the first window used to detect the delimiter */

static const char *cell_text(const csv_file *f, int j)
{
    return f->cells + f->cell[j];
}

/* File text for a message: escaped (see nb_escape), cut to fit buf. */
static const char *show_text(char *buf, size_t size, const char *text)
{
    return nb_escape(buf, size, text);
}

static int is_blank(char c, char delim)
{
    return (c == ' ' || c == '\t') && c != delim;
}

static int is_missing(const char *s)
{
    return !*s || strcmp(s, "?") == 0 || strcasecmp(s, "NA") == 0 || strcasecmp(s, "N/A") == 0;
}

/* Anything strtod takes whole, finite or not: "nan", "1e400" and "0.5" are
 * numbers (a bad one is an error later, never a header). */
static int is_number_like(const char *s)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    return end != s && !*end;
}

static int is_text(const char *s)
{
    return !is_missing(s) && !is_number_like(s);
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

const char *nb_csv_column(const csv_file *f, int j, char *buf, size_t size)
{
    char q[NB_ESCAPE_SIZE];
    if (f->names && f->names[j][0])
        snprintf(buf, size, "column %d (\"%s\")", j + 1, show_text(q, sizeof q, f->names[j]));
    else
        snprintf(buf, size, "column %d", j + 1);
    return buf;
}

static nb_status bad_cell(const csv_file *f, int j, const char *why)
{
    char col[NB_ESCAPE_SIZE + 32], q[CELL_SHOWN + 4];
    const char *text = cell_text(f, j);
    const char *hint = "";
    /* Only a missing cell (empty, NA) could be a header's: a number never is. */
    if (f->line_no == f->first_line && !f->header && f->header_auto && is_missing(text))
        hint = " (line 1 was read as data because none of its cells is text; if it is a "
               "header, give --header yes)";
    return nb_error(NB_ERR_FORMAT, "%s: line %zu, %s: bad cell \"%s\": %s%s", f->src->name,
                    f->line_no, nb_csv_column(f, j, col, sizeof col), show_text(q, sizeof q, text),
                    why, hint);
}

/* ------------------------------------------------------------- lines */

/* The next line into f->line (without its line break); *got 0 at the end.
 * The limit is checked as bytes arrive: a huge line is refused after
 * NB_MAX_LINE bytes, not read whole. */
static nb_status read_line(csv_file *f, int *got)
{
    nb_src *s = f->src;
    size_t len = 0;
    int any = 0;
    *got = 0;
    for (;;) {
        if (s->pos == s->len) {
            nb_status st = nb_src_peek(s, 1);
            if (st) return st;
            if (s->pos == s->len) break;
        }
        any = 1;
        const unsigned char *p = s->buf + s->pos;
        size_t n = s->len - s->pos;
        const unsigned char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (len + take > (size_t)NB_MAX_LINE + 1) /* + 1: a CR before the LF */
            return nb_error(NB_ERR_LIMIT, "%s: line %zu is longer than the limit of %d bytes",
                            s->name, f->line_no + 1, NB_MAX_LINE);
        if (len + take + 1 > f->line_cap) {
            size_t cap = f->line_cap ? f->line_cap : 256;
            while (cap < len + take + 1) cap *= 2;
            char *q = nb_realloc(f->line, cap);
            if (!q) return nb_error(NB_ERR_MEMORY, "%s: out of memory for a line", s->name);
            f->line = q;
            f->line_cap = cap;
        }
        memcpy(f->line + len, p, take);
        len += take;
        s->pos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!any) return NB_OK;
    f->line_no++;
    if (len > 0 && f->line[len - 1] == '\r') len--;
    if (len > NB_MAX_LINE)
        return nb_error(NB_ERR_LIMIT, "%s: line %zu is longer than the limit of %d bytes", s->name,
                        f->line_no, NB_MAX_LINE);
    f->line[len] = '\0';
    f->line_len = len;
    /* Text only: a control byte (other than tab) means this is not CSV. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)f->line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return nb_error(NB_ERR_FORMAT,
                            "%s: line %zu, byte %zu: control byte 0x%02x, expected CSV text%s",
                            s->name, f->line_no, i + 1, c,
                            c == '\r' ? " (lines that end in CR alone, as old Mac files do: "
                                        "convert the line ends to LF or CRLF)"
                                      : "");
    }
    *got = 1;
    return NB_OK;
}

static nb_status reserve_cells(csv_file *f, int n)
{
    if (n <= f->cell_cap) return NB_OK;
    int cap = f->cell_cap ? f->cell_cap : 16;
    while (cap < n) cap *= 2;
    size_t *p = nb_realloc(f->cell, (size_t)cap * sizeof *p);
    if (!p) return nb_error(NB_ERR_MEMORY, "%s: out of memory for %d cells", f->src->name, n);
    f->cell = p;
    f->cell_cap = cap;
    return NB_OK;
}

/* Split line (len bytes) into NUL-terminated, unquoted, trimmed cells. */
static nb_status split_line(csv_file *f, const char *line, size_t len)
{
    if (len + 1 > f->cells_cap) {
        char *p = nb_realloc(f->cells, len + 1);
        if (!p) return nb_error(NB_ERR_MEMORY, "%s: out of memory for a line", f->src->name);
        f->cells = p;
        f->cells_cap = len + 1;
    }
    char *out = f->cells, d = f->delim;
    size_t pos = 0;
    f->n_cells = 0;
    for (;;) {
        nb_status st = reserve_cells(f, f->n_cells + 1);
        if (st) return st;
        f->cell[f->n_cells++] = (size_t)(out - f->cells);
        while (pos < len && is_blank(line[pos], d)) pos++;
        if (pos < len && line[pos] == '"') {
            pos++;
            for (;;) {
                if (pos >= len)
                    return nb_error(NB_ERR_FORMAT,
                                    "%s: line %zu, column %d: quoted cell not closed before the "
                                    "end of the line (a quoted cell cannot hold a line break)",
                                    f->src->name, f->line_no, f->n_cells);
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
            while (pos < len && is_blank(line[pos], d)) pos++;
            if (pos < len && line[pos] != d)
                return nb_error(NB_ERR_FORMAT,
                                "%s: line %zu, column %d: unexpected text after a closing quote",
                                f->src->name, f->line_no, f->n_cells);
        } else {
            char *start = out;
            while (pos < len && line[pos] != d) *out++ = line[pos++];
            while (out > start && is_blank(out[-1], d)) out--;
        }
        *out++ = '\0';
        if (pos >= len) return NB_OK;
        pos++; /* the delimiter; a cell follows, maybe empty */
    }
}

/* The next line that is not blank, split into cells; *got 0 at the end. */
static nb_status next_row(csv_file *f, int *got)
{
    for (;;) {
        nb_status st = read_line(f, got);
        if (st || !*got) return st;
        const char *text = f->line;
        size_t len = f->line_len;
        if (f->line_no == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
            text += 3; /* a UTF-8 byte-order mark */
            len -= 3;
        }
        size_t k = 0;
        while (k < len && (text[k] == ' ' || text[k] == '\t')) k++;
        if (k == len) continue;
        return split_line(f, text, len);
    }
}

/* -------------------------------------------------------- the delimiter */

/* Cells of one line for delimiter d, quotes respected. */
static int count_cells(const unsigned char *p, size_t n, char d)
{
    int cells = 1, quoted = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            quoted = !quoted;
        else if (p[i] == (unsigned char)d && !quoted)
            cells++;
    }
    return cells;
}

/* Detect the delimiter from the lines in the first window (docs/data.md):
 * among tab, ';' and ',' the one that splits every sampled line into the
 * same number (at least 2) of cells, the most cells winning; ties go to tab,
 * then ';', then ','. When none is that regular, the one giving the first
 * line the most cells; ',' when nothing splits it. */
static nb_status detect_delimiter(csv_file *f)
{
    static const char candidates[3] = {'\t', ';', ','};
    nb_status st = nb_src_peek(f->src, NB_SRC_WINDOW);
    if (st) return st;
    const unsigned char *b = f->src->buf + f->src->pos;
    size_t n = f->src->len - f->src->pos;
    if (n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) b += 3, n -= 3;
    int first[3] = {0, 0, 0}, same[3] = {1, 1, 1}, lines = 0;
    while (n > 0 && lines < SAMPLE_LINES) {
        const unsigned char *nl = memchr(b, '\n', n);
        size_t len = nl ? (size_t)(nl - b) : n;
        if (!nl && lines > 0 && !f->src->eof) break; /* a line cut by the window */
        size_t k = 0;
        while (k < len && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r')) k++;
        if (k < len) {
            for (int c = 0; c < 3; c++) {
                int cells = count_cells(b, len, candidates[c]);
                if (lines == 0)
                    first[c] = cells;
                else if (cells != first[c])
                    same[c] = 0;
            }
            lines++;
        }
        if (!nl) break;
        b += len + 1;
        n -= len + 1;
    }
    int best = -1;
    for (int c = 0; c < 3; c++)
        if (lines > 0 && same[c] && first[c] >= 2 && (best < 0 || first[c] > first[best])) best = c;
    if (best >= 0) {
        snprintf(f->info->delimiter_why, sizeof f->info->delimiter_why,
                 "detected: %d cells on each of the first %d lines", first[best], lines);
    } else {
        for (int c = 0; c < 3; c++)
            if (first[c] >= 2 && (best < 0 || first[c] > first[best])) best = c;
        if (best >= 0)
            snprintf(f->info->delimiter_why, sizeof f->info->delimiter_why,
                     "detected: the most cells (%d) on the first line", first[best]);
        else
            snprintf(f->info->delimiter_why, sizeof f->info->delimiter_why,
                     "detected: no tab, ';' or ',' on the first line, so ','");
    }
    f->delim = best >= 0 ? candidates[best] : ',';
    return NB_OK;
}

/* ---------------------------------------------------- header and label */

/* The first text cell of the current row, skipping column skip; -1. */
static int first_text_cell(const csv_file *f, int skip)
{
    for (int j = 0; j < f->n_cells; j++)
        if (j != skip && is_text(cell_text(f, j))) return j;
    return -1;
}

static void list_cells(const csv_file *f, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int j = 0; j < f->n_cells && used + 8 < size; j++) {
        char q[NB_ESCAPE_SIZE];
        int w = snprintf(buf + used, size - used, "%s\"%s\"", j ? ", " : "",
                         show_text(q, sizeof q, cell_text(f, j)));
        used = w < 0 ? size : used + (size_t)w;
    }
    if (used >= size) memcpy(buf + size - 4, "...", 4);
}

/* Keep the header row's names; the same name twice is refused. */
static nb_status keep_header(csv_file *f)
{
    f->names = nb_calloc((size_t)f->columns, sizeof(char *));
    if (!f->names) return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
    for (int j = 0; j < f->columns; j++) {
        const char *name = cell_text(f, j);
        if (strlen(name) >= NB_LABEL_NAME_MAX)
            return nb_error(NB_ERR_LIMIT,
                            "%s: line %zu, column %d: column name is longer than %d bytes",
                            f->src->name, f->line_no, j + 1, NB_LABEL_NAME_MAX - 1);
        if (!(f->names[j] = nb_data_strdup(name)))
            return nb_error(NB_ERR_MEMORY, "%s: out of memory", f->src->name);
    }
    nb_strset set;
    nb_status st = nb_strset_init(&set, (size_t)f->columns);
    if (st) return st;
    for (int j = 0; j < f->columns && !st; j++) {
        if (!f->names[j][0]) continue; /* unnamed columns are allowed */
        int k = nb_strset_find(&set, f->names, f->names[j]);
        char q[NB_ESCAPE_SIZE];
        if (k >= 0)
            st = nb_error(NB_ERR_FORMAT,
                          "%s: line %zu: column name \"%s\" appears twice, in columns %d and %d",
                          f->src->name, f->line_no, show_text(q, sizeof q, f->names[j]), k + 1,
                          j + 1);
        else
            nb_strset_add(&set, f->names, j);
    }
    nb_strset_free(&set);
    return st;
}

/* How messages name the label: the caller's, or one a model saved. */
static const char *label_what(const csv_file *f)
{
    return f->label_saved ? "the model's training label column" : "label column";
}

static const char *label_hint(const csv_file *f)
{
    return f->label_saved ? "; give --label COL (a column name or a 0-based index)" : "";
}

/* A label "y1,y2" not found: one column is meant, named with a comma. */
static const char *comma_hint(const char *label)
{
    return strchr(label, ',') ? "; one label column is expected and the comma is taken as part "
                                "of its name (several target columns are not supported yet)"
                              : "";
}

/* Line 1 holds a number that is not missing: data, not column names. */
static int has_number_cell(const csv_file *f)
{
    for (int j = 0; j < f->n_cells; j++)
        if (is_number_like(cell_text(f, j))) return 1;
    return 0;
}

/* Resolve the label column for a data set: a name (the first row must then
 * be the header), a 0-based index, or the last column. */
static nb_status find_label(csv_file *f, const char *label, int *named_col)
{
    char q[NB_ESCAPE_SIZE];
    const char *label_shown = show_text(q, sizeof q, label);
    *named_col = -1;
    if (label && !all_digits(label) && f->header != 0) /* an index is never matched */
        for (int j = 0; j < f->columns; j++)
            if (strcmp(cell_text(f, j), label) == 0) {
                *named_col = j;
                break;
            }
    if (!label) {
        f->label_col = f->columns - 1;
        return NB_OK;
    }
    if (all_digits(label)) {
        errno = 0;
        long j = strtol(label, NULL, 10);
        if (errno || j >= f->columns)
            return nb_error(NB_ERR_NOT_FOUND,
                            "%s: %s %s is out of range: line %zu has %d columns (0-based index "
                            "0 to %d)%s",
                            f->src->name, label_what(f), label_shown, f->line_no, f->columns,
                            f->columns - 1, label_hint(f));
        f->label_col = (int)j;
        return NB_OK;
    }
    if (f->header == 0)
        return nb_error(NB_ERR_NOT_FOUND,
                        "%s: %s \"%s\" is a name, but the file has no header (--header no): "
                        "give --label with a 0-based column index",
                        f->src->name, label_what(f), label_shown);
    if (*named_col < 0) {
        char names[512];
        list_cells(f, names, sizeof names);
        if (f->header < 0 && has_number_cell(f))
            return nb_error(NB_ERR_NOT_FOUND,
                            "%s: %s \"%s\" not found: the file has no header (line %zu holds "
                            "numbers: %s); give --label with a 0-based column index%s",
                            f->src->name, label_what(f), label_shown, f->line_no, names,
                            comma_hint(label));
        return nb_error(NB_ERR_NOT_FOUND,
                        "%s: %s \"%s\" not found in the header (line %zu: %s)%s%s", f->src->name,
                        label_what(f), label_shown, f->line_no, names, comma_hint(label),
                        label_hint(f));
    }
    f->label_col = *named_col;
    return NB_OK;
}

/* Rows for prediction: features columns, or one more that is the label
 * column (named by label, else the last) and is skipped. */
static nb_status find_skipped(csv_file *f, const char *label, int features, int *named_col)
{
    *named_col = -1;
    if (label && !all_digits(label) && f->header != 0)
        for (int j = 0; j < f->columns; j++)
            if (strcmp(cell_text(f, j), label) == 0) {
                *named_col = j;
                break;
            }
    char q[NB_ESCAPE_SIZE];
    if (f->columns == features) {
        if (*named_col >= 0)
            return nb_error(NB_ERR_FORMAT,
                            "%s: line %zu: column %d is named \"%s\", %s, which leaves %d "
                            "feature columns, but %d are expected",
                            f->src->name, f->line_no, *named_col + 1, show_text(q, sizeof q, label),
                            f->label_saved ? "the model's training label column"
                                           : "the label column",
                            features - 1, features);
        f->label_col = -1;
        return NB_OK;
    }
    if (f->columns != features + 1)
        return nb_error(NB_ERR_FORMAT,
                        "%s: line %zu has %d columns, but %d feature values are expected (%d "
                        "columns, or %d with a label column; delimiter '%s')",
                        f->src->name, f->line_no, f->columns, features, features, features + 1,
                        show_text(q, sizeof q, (char[]){f->delim, 0}));
    return find_label(f, label, named_col); /* no label: the last column, as train's default */
}

/* The label column as --label would name it: its header name, or its
 * 0-based index when it has no name (or a name that reads as an index). */
static void note_label(const csv_file *f)
{
    nb_data_info *info = f->info;
    const char *name = f->header && f->names ? f->names[f->label_col] : "";
    if (name[0] && !all_digits(name))
        snprintf(info->label, sizeof info->label, "%s", name);
    else
        snprintf(info->label, sizeof info->label, "%d", f->label_col);
}

/* Read the first row and settle the delimiter, the header and the label
 * column, in that order. features < 0: a data set with a label column;
 * else rows of that many features (and maybe a label column to skip). */
nb_status nb_csv_begin(csv_file *f, const nb_csv_options *o, int features)
{
    nb_data_info *info = f->info;
    nb_status st;
    f->regression = o->regression != 0;
    f->header = o->header;
    f->label_saved = o->label_saved != 0;
    f->label_col = -1;
    if (o->delimiter) {
        f->delim = o->delimiter;
        snprintf(info->delimiter_why, sizeof info->delimiter_why, "given");
    } else if ((st = detect_delimiter(f))) {
        return st;
    }
    info->delimiter = f->delim;
    int got;
    if ((st = next_row(f, &got))) return st;
    if (!got) return nb_error(NB_ERR_FORMAT, "%s: empty file (no rows)", f->src->name);
    f->first_line = f->line_no;
    f->columns = f->n_cells;
    char q[16];
    const char *shown =
        f->delim == '\t' ? "tab" : show_text(q, sizeof q, (char[]){'\'', f->delim, '\'', 0});
    if (features < 0 && f->columns < 2)
        return nb_error(NB_ERR_FORMAT,
                        "%s: line %zu has 1 column; expected at least one feature column and a "
                        "label column (delimiter %s)",
                        f->src->name, f->line_no, shown);
    if (f->columns - (features < 0) > NB_MAX_FEATURES)
        return nb_error(NB_ERR_LIMIT, "%s: line %zu: %d columns, more than the limit %d",
                        f->src->name, f->line_no, f->columns, NB_MAX_FEATURES);
    int named_col;
    st = features < 0 ? find_label(f, o->label, &named_col)
                      : find_skipped(f, o->label, features, &named_col);
    if (st) return st;
    if (features < 0 && o->features > 0 && f->columns - 1 != o->features)
        return nb_error(NB_ERR_FORMAT,
                        "%s: line %zu has %d feature columns (and a label column), but %d are "
                        "expected",
                        f->src->name, f->line_no, f->columns - 1, o->features);
    /* The header: given, implied by a label name found in line 1, or
     * detected (a text cell where a number must be). */
    if (f->header >= 0) {
        snprintf(info->header_why, sizeof info->header_why, "given");
    } else if (named_col >= 0) {
        f->header = 1;
        snprintf(info->header_why, sizeof info->header_why,
                 "detected: line %zu holds the label column's name", f->line_no);
    } else {
        f->header_auto = 1;
        int skip = f->regression && features < 0 ? -1 : f->label_col;
        int j = first_text_cell(f, skip);
        f->header = j >= 0;
        char q[CELL_SHOWN + 4];
        if (j >= 0)
            snprintf(info->header_why, sizeof info->header_why,
                     "detected: cell \"%s\" of column %d on line %zu is text",
                     show_text(q, sizeof q, cell_text(f, j)), j + 1, f->line_no);
        else
            snprintf(info->header_why, sizeof info->header_why,
                     "detected: no cell of line %zu is text, so it is data", f->line_no);
    }
    /* A label given as a number that is also another column's name is
     * ambiguous. */
    if (f->header && o->label && all_digits(o->label) && f->label_col >= 0)
        for (int j = 0; j < f->columns; j++)
            if (j != f->label_col && strcmp(cell_text(f, j), o->label) == 0) {
                char q[NB_ESCAPE_SIZE]; /* all digits: o->label prints as itself */
                return nb_error(NB_ERR_FORMAT,
                                "%s: label column \"%s\" is ambiguous: column %d is named \"%s\", "
                                "and %s is the 0-based index of column %d (\"%s\")",
                                f->src->name, o->label, j + 1, o->label, o->label, f->label_col + 1,
                                show_text(q, sizeof q, cell_text(f, f->label_col)));
            }
    info->header = f->header;
    info->label_column = f->label_col;
    if (f->header && (st = keep_header(f))) return st;
    if (f->label_col >= 0) note_label(f);
    f->pending = !f->header; /* line 1 is data, already split */
    return NB_OK;
}

/* The next data row split into cells; *got 0 at the end. */
nb_status nb_csv_next(csv_file *f, int *got)
{
    if (f->pending) {
        f->pending = 0;
        *got = 1;
    } else {
        nb_status st = next_row(f, got);
        if (st || !*got) return st;
    }
    if (f->n_cells != f->columns)
        return nb_error(NB_ERR_FORMAT, "%s: line %zu: ragged row: expected %d cells, got %d",
                        f->src->name, f->line_no, f->columns, f->n_cells);
    f->info->rows++;
    return NB_OK;
}

/* One cell as a number: finite, and finite as nb_real too. */
nb_status nb_csv_number(const csv_file *f, int j, double *value)
{
    const char *s = cell_text(f, j);
    if (is_missing(s))
        return bad_cell(f, j,
                        *s ? "a missing value (NA, N/A, ? and empty cells are not allowed)"
                           : "empty cell, expected a number (missing values are not allowed)");
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return bad_cell(f, j, "not a number");
    if (!isfinite(d)) return bad_cell(f, j, "not a finite number");
    if (!isfinite((nb_real)d)) return bad_cell(f, j, "out of range for " NB_REAL_NAME);
    *value = d;
    return NB_OK;
}

/* Every cell but the label column's into x. */
nb_status nb_csv_features(const csv_file *f, nb_real *x)
{
    double v;
    for (int j = 0; j < f->columns; j++) {
        if (j == f->label_col) continue;
        nb_status st = nb_csv_number(f, j, &v);
        if (st) return st;
        *x++ = (nb_real)v;
    }
    return NB_OK;
}

int nb_csv_is_missing(const char *s)
{
    return is_missing(s);
}

const char *nb_csv_cell(const csv_file *f, int j)
{
    return cell_text(f, j);
}

nb_status nb_csv_cell_error(const csv_file *f, int j, const char *why)
{
    return bad_cell(f, j, why);
}

void nb_csv_init(csv_file *f, nb_src *src, nb_data_info *info)
{
    memset(f, 0, sizeof *f);
    f->src = src;
    f->info = info;
    info->gzip = src->gzip;
}

void nb_csv_close(csv_file *f)
{
    nb_free(f->line);
    nb_free(f->cells);
    nb_free(f->cell);
    nb_data_free_names(f->names, f->columns);
    f->line = f->cells = NULL;
    f->cell = NULL;
    f->names = NULL;
}
