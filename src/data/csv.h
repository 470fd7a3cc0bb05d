/* The CSV reader shared by the data-set loader and the prediction reader;
 * not public API. */
#ifndef NABLA_CSV_H
#define NABLA_CSV_H

#include "data.h"

typedef struct csv_file {
    nb_src *src;        /* owned by the caller */
    nb_data_info *info; /* filled as the file is read */
    char delim;
    char *line; /* the current line, without its line break */
    size_t line_len, line_cap;
    size_t line_no;    /* 1-based number of the current line */
    size_t first_line; /* the line of the first row */
    char *cells;       /* the cells of the current row, each NUL-terminated */
    size_t cells_cap;
    size_t *cell; /* offset of each cell in cells */
    int n_cells, cell_cap;
    int columns, label_col; /* label_col -1: none */
    int header, header_auto, regression;
    int label_saved; /* the label comes from a model's training settings */
    char **names;    /* column names when there is a header */
    int pending;     /* the first row is data and already split */
} csv_file;

/* Read CSV from src (opened, its format detected) into info. */
void nb_csv_init(csv_file *f, nb_src *src, nb_data_info *info);
void nb_csv_close(csv_file *f); /* src stays open */
/* Settle delimiter, header and label column from the first row.
 * features < 0: a data set (a label column); else prediction rows. */
nb_status nb_csv_begin(csv_file *f, const nb_csv_options *o, int features);
/* The next data row, split and checked for its cell count. */
nb_status nb_csv_next(csv_file *f, int *got);
/* Cell j as a finite number, or an error naming line and column. */
nb_status nb_csv_number(const csv_file *f, int j, double *value);
/* Every cell but the label's, as numbers, into x. */
nb_status nb_csv_features(const csv_file *f, nb_real *x);
const char *nb_csv_cell(const csv_file *f, int j);
/* NA, N/A (any case), ? or empty: a missing value. */
int nb_csv_is_missing(const char *s);
/* "file: line L, column C ("name"): bad cell "...": why". */
nb_status nb_csv_cell_error(const csv_file *f, int j, const char *why);
/* "column 3 ("weight")" or "column 3". */
const char *nb_csv_column(const csv_file *f, int j, char *buf, size_t size);

/* Check a caller's options; fn names the function in messages. */
nb_status nb_csv_check_options(const nb_csv_options *o, const char *fn);

#endif
