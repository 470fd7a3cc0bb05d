/* The training report: one self-contained HTML file (inline CSS and SVG,
 * images as BMP data URIs), written atomically. */
#ifndef NABLA_CLI_REPORT_H
#define NABLA_CLI_REPORT_H

#include "nabla.h"

/* The first convolution of a model: its weights [F, C, KH, KW] and its
 * outputs [F, OH, OW] (maps_shape) for the first map_images test images. */
typedef struct cli_conv_view {
    const nb_real *filters;
    nb_shape filters_shape;
    const nb_real *maps; /* map_images x F x OH x OW, or NULL */
    nb_shape maps_shape;
    int map_images;
} cli_conv_view;

typedef struct cli_report {
    const char *data_source;
    const char *spec;
    const char *loss;
    const char *settings_json;       /* the training settings, shown as a table */
    const nb_train_result *result;   /* per-epoch history */
    const nb_metrics *metrics;       /* test metrics, or NULL without a test part */
    char *const *class_names;        /* classes entries (may be NULL) */
    int classes;                     /* 0 for regression */
    const nb_dataset *test;          /* labels, targets, geometry */
    const nb_real *test_raw_x;       /* unscaled test features, or NULL */
    const nb_real *test_predictions; /* regression: test outputs, or NULL */
    size_t parameters;
    const cli_conv_view *conv; /* NULL: the model has no convolution */
} cli_report;

/* Write the report to path through a temporary file in the same folder. */
nb_status cli_report_write(const cli_report *report, const char *path);

#endif
