/* Progress bar, epoch lines and the per-epoch log (see progress.h). */
#include "progress.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH      24
#define REDRAW_SECONDS 0.1 /* at most ten redraws a second */

/* Testing aid: tests that signal a training run need it at a known point,
 * not at a moment they hope is mid-run. Inert unless both variables are set. */
static void read_hold(cli_progress *p)
{
    const char *n = getenv("NABLA_TEST_HOLD_AT_BATCH"), *path = getenv("NABLA_TEST_HOLD_FILE");
    if (!n && !path) return;
    char *end = NULL;
    errno = 0;
    unsigned long long at = n && n[0] >= '1' && n[0] <= '9' ? strtoull(n, &end, 10) : 0;
    if (!at || errno || *end || !path || !path[0]) {
        fprintf(stderr, "nabla: ignoring NABLA_TEST_HOLD_AT_BATCH and NABLA_TEST_HOLD_FILE: "
                        "expected a batch number from 1 and a file name\n");
        return;
    }
    p->hold_at = at;
    p->hold_path = path;
}

void cli_progress_init(cli_progress *p, int quiet, int classifier, FILE **log, const char *path)
{
    memset(p, 0, sizeof *p);
    p->quiet = quiet;
    p->tty = isatty(fileno(stderr));
    p->classifier = classifier;
    p->log = log;
    p->log_path = path;
    p->log_deferred = path && !*log;
    p->last_draw = -1;
    read_hold(p);
}

/* Replace the hold file's text in one step (a temporary file renamed), so
 * a reader sees the old text or the new, never a part. */
static int write_hold_file(const char *path, const char *what, const nb_progress *pr)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "nabla: NABLA_TEST_HOLD_FILE '%s': the name is too long\n", path);
        return 0;
    }
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok) {
        fprintf(f, "%s at epoch %d, batch %zu\n", what, pr->epoch, pr->batch);
        ok = fclose(f) == 0 && rename(tmp, path) == 0;
    }
    if (!ok) fprintf(stderr, "nabla: NABLA_TEST_HOLD_FILE '%s': %s\n", path, strerror(errno));
    return ok;
}

/* Say "held" in the hold file and wait until it is removed. A first Ctrl-C
 * is reported there ("interrupted") and acted on once released; a second
 * one exits, SIGKILL kills. The loop looks at state rather than waiting for
 * a signal, which another thread (a BLAS worker) may be the one to take. */
static void hold(const cli_progress *p, const nb_progress *pr)
{
    if (!write_hold_file(p->hold_path, "held", pr)) return;
    int told = 0;
    struct stat st;
    const struct timespec nap = {0, 1000000}; /* 1 ms */
    while (stat(p->hold_path, &st) == 0) {
        if (cli_interrupted && !told) {
            if (!write_hold_file(p->hold_path, "interrupted", pr)) return;
            told = 1;
        }
        nanosleep(&nap, NULL);
    }
}

/* "1:02:03", "4:05" or "--" for an unknown time. */
static void format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e7) {
        snprintf(buf, size, "--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

static void draw_bar(cli_progress *p, const nb_progress *pr)
{
    double now = cli_now();
    if (p->drawn && pr->batch < pr->batches && now - p->last_draw < REDRAW_SECONDS) return;
    p->last_draw = now;
    double done = pr->batches ? (double)pr->batch / (double)pr->batches : 0;
    int fill = (int)(done * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    char eta[32];
    format_duration(pr->eta_seconds, eta, sizeof eta);
    /* \033[K clears what a longer previous line left behind. */
    fprintf(stderr, "\repoch %d/%d [%s] batch %zu/%zu  loss %.4f  %.0f samples/s  ETA %s\033[K",
            pr->epoch, pr->epochs, bar, pr->batch, pr->batches, pr->loss, pr->samples_per_second,
            eta);
    fflush(stderr);
    p->drawn = 1;
}

/* A loss or R^2 with 4 decimals while it reads well, else 4 significant
 * digits with an exponent (a diverging run's 1e23 is no 24-digit number). */
static const char *fixed4(char *buf, size_t size, double v)
{
    snprintf(buf, size, fabs(v) < 1e6 ? "%.4f" : "%.4g", v);
    return buf;
}

static void print_epoch(cli_progress *p, const nb_progress *pr)
{
    char a[32], b[32];
    const nb_epoch_stats *s = pr->stats;
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        p->drawn = 0;
    }
    /* Epoch numbers as wide as the last one, so the columns line up. */
    int digits = snprintf(NULL, 0, "%d", pr->epochs);
    fprintf(stderr, "epoch %*d/%d  train loss %s", digits, s->epoch, pr->epochs,
            fixed4(a, sizeof a, s->train_loss));
    if (p->classifier && s->train_accuracy >= 0)
        fprintf(stderr, " acc %.2f%%", 100 * s->train_accuracy);
    if (s->val_loss >= 0) {
        fprintf(stderr, "  val loss %s", fixed4(a, sizeof a, s->val_loss));
        if (p->classifier && s->val_accuracy >= 0)
            fprintf(stderr, " acc %.2f%%", 100 * s->val_accuracy);
        if (!p->classifier && isfinite(s->val_r2))
            fprintf(stderr, " MAE %.4g R\u00b2 %s", s->val_mae, fixed4(b, sizeof b, s->val_r2));
    }
    /* An epoch the time limit cut short says so: its figures cover fewer
     * batches than the others'. */
    if (pr->batch < pr->batches)
        fprintf(stderr, "  (cut short after batch %zu of %zu)", pr->batch, pr->batches);
    fprintf(stderr, "  %.2f s  lr %.4g\n", s->seconds, s->lr);
    fflush(stderr);
}

/* A JSON number, or null for "not measured" (negative) and non-finite. */
static void put_number(FILE *f, const char *key, double v, int allow_negative)
{
    if (!isfinite(v) || (!allow_negative && v < 0))
        fprintf(f, ",\"%s\":null", key);
    else
        fprintf(f, ",\"%s\":%.9g", key, v);
}

static int write_log(cli_progress *p, const nb_epoch_stats *s)
{
    FILE *f = *p->log;
    fprintf(f, "{\"epoch\":%d", s->epoch);
    put_number(f, "train_loss", s->train_loss, 1);
    put_number(f, "train_accuracy", s->train_accuracy, 0);
    if (s->val_loss >= 0) {
        put_number(f, "val_loss", s->val_loss, 1);
        put_number(f, "val_accuracy", s->val_accuracy, 0);
        if (!p->classifier) { /* regression: in the targets' own units */
            put_number(f, "val_mae", s->val_mae, 1);
            put_number(f, "val_rmse", s->val_rmse, 1);
            put_number(f, "val_r2", s->val_r2, 1);
        }
    }
    put_number(f, "seconds", s->seconds, 0);
    put_number(f, "lr", s->lr, 1);
    fputs("}\n", f);
    /* Each epoch is on disk as it ends, for `tail -f`. */
    return fflush(f) == 0 && !ferror(f);
}

/* A resumed run's log is replaced, not appended to: the trainer reports
 * the checkpoint's finished epochs first, so it is rewritten from them and
 * holds every epoch once, however old the checkpoint. */
static void open_deferred_log(cli_progress *p, const nb_progress *pr)
{
    p->log_deferred = 0;
    errno = 0;
    if (nb_output_open(p->log_path, 0, p->log) == NB_OK) return;
    p->log_failed = 1;
    p->log_errno = errno ? errno : EIO;
    p->log_epoch = pr->epoch;
}

int cli_progress_update(const nb_progress *pr, void *user)
{
    cli_progress *p = user;
    if (p->log_deferred) open_deferred_log(p, pr);
    /* Checkpoints due before this batch are written; this batch's is not. */
    if (p->hold_at && !pr->stats &&
        (uint64_t)(pr->epoch - 1) * pr->batches + pr->batch == p->hold_at)
        hold(p, pr);
    if (pr->stats) {
        if (!p->quiet && !pr->restored) print_epoch(p, pr);
        /* A log that cannot be written (a full disk) is given up, not the
         * training: the model is still saved, and the failure reported. */
        if (*p->log && !p->log_failed && !write_log(p, pr->stats)) {
            p->log_failed = 1;
            p->log_errno = errno;
            p->log_epoch = pr->stats->epoch;
        }
    } else if (!p->quiet && p->tty) {
        draw_bar(p, pr);
    }
    /* Ctrl-C reaches nb_train through config.interrupt, which finishes the
     * batch and writes a checkpoint; stopping here would skip that. */
    return 0;
}

void cli_progress_finish(cli_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}
