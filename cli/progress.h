/* Training progress on stderr and the JSON-lines log: the callback given
 * to nb_train. */
#ifndef NABLA_CLI_PROGRESS_H
#define NABLA_CLI_PROGRESS_H

#include "nabla.h"

#include <stdint.h>
#include <stdio.h>

typedef struct cli_progress {
    int quiet;             /* print nothing */
    int tty;               /* stderr is a terminal: redraw one line with \r */
    int classifier;        /* print accuracies */
    FILE **log;            /* the JSON-lines log, one line per epoch (the caller closes it) */
    const char *log_path;  /* or NULL: no log */
    int log_deferred;      /* a resumed run's: opened at the first report, so that a
                              checkpoint that is refused leaves the old log alone */
    int log_failed;        /* a log write failed: the log is given up, training goes on */
    int log_errno;         /* why */
    int log_epoch;         /* the first epoch not logged */
    double last_draw;      /* when the bar was last drawn (monotonic seconds) */
    int drawn;             /* a bar is on the line */
    uint64_t hold_at;      /* testing aid: hold after this batch of the run, or 0 */
    const char *hold_path; /* ... and say so in this file */
} cli_progress;

/* Set up for stderr. *log is the open log, or NULL with path set to open
 * it (replacing the file) at the first report, or NULL with path NULL for
 * none. Reads the testing aid NABLA_TEST_HOLD_AT_BATCH /
 * NABLA_TEST_HOLD_FILE (docs/cli.md). */
void cli_progress_init(cli_progress *p, int quiet, int classifier, FILE **log, const char *path);
/* The nb_progress_fn: draws and logs (never stops training). Epochs
 * restored from a checkpoint are logged, not drawn. */
int cli_progress_update(const nb_progress *progress, void *user);
/* Clear a bar left on the line (after an error, say). */
void cli_progress_finish(cli_progress *p);

#endif
