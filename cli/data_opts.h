/* The data-reading options every subcommand that reads CSV shares
 * (--delimiter, --header) and the verbose line saying what was read. */
#ifndef NABLA_CLI_DATA_OPTS_H
#define NABLA_CLI_DATA_OPTS_H

#include "nabla.h"

#include <stdio.h>

/* The --help lines for --delimiter and --header. */
#define CLI_DATA_OPTS_HELP                                                                         \
    "  --delimiter D   CSV cell delimiter: ',', ';', tab (or \\t), any other single\n"             \
    "                  byte, or auto (default: detected among tab, ';' and ',')\n"                 \
    "  --header H      yes|no|auto: is the first CSV row a header (default auto: yes\n"            \
    "                  when a cell that must be a number is text; NA, ? and empty\n"               \
    "                  cells and numbers like nan or 1e400 never make a header)\n"

/* --delimiter text to a byte (0 for auto); 0 on success, -1 if bad. */
int cli_parse_delimiter(const char *text, char *out);
/* Why --delimiter text was refused (a static buffer). */
const char *cli_delimiter_problem(const char *text);
/* --header yes|no|auto to 1, 0 or -1; 0 on success, -1 if bad. */
int cli_parse_header(const char *text, int *out);
/* "data: FILE: CSV, delimiter ';' (detected: ...), header yes (...), label
 * column 3" on out. */
void cli_print_data_info(FILE *out, const char *source, const nb_data_info *info);

#endif
