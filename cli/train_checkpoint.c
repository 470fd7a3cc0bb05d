/* Checkpoint options of nabla train (see train_checkpoint.h). */
#include "train_checkpoint.h"

#include "args.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_checkpoint_every(const char *text, nb_train_config *c, char *err, size_t size)
{
    /* The number by the options' one parser, then at most a unit letter. */
    double n = 0;
    const char *rest = NULL, *why = NULL;
    int bad = args_number(text, 0, &n, &rest, &why) != 0 || text[0] == '+' || text[0] == '-';
    char unit = !bad ? rest[0] : 0;
    bad = bad || (unit && (rest[1] || (unit != 'm' && unit != 'b'))) || !(n > 0);
    /* Epochs and batches are whole counts; minutes may have a fraction. */
    if (!bad && unit != 'm' && (n != floor(n) || n > 2147483647.0)) bad = 1;
    if (bad) {
        snprintf(err, size,
                 "--checkpoint-every '%s': expected N (epochs), Nm (minutes) or Nb (batches) "
                 "with N > 0, e.g. 1, 10m, 500b",
                 text);
        return -1;
    }
    c->checkpoint_epochs = !unit ? (int)n : 0;
    c->checkpoint_minutes = unit == 'm' ? n : 0;
    c->checkpoint_batches = unit == 'b' ? (int)n : 0;
    return 0;
}

/* A character device or FIFO (/dev/null, /dev/stdout): no file to name a
 * checkpoint after. */
static int is_stream(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
}

const char *cli_checkpoint_path(const char *checkpoint, const char *out, char **owned)
{
    *owned = NULL;
    if (checkpoint) return checkpoint;
    if (!out || is_stream(out)) return "nabla.ckpt";
    size_t n = strlen(out);
    *owned = malloc(n + sizeof ".ckpt");
    if (!*owned) return NULL;
    memcpy(*owned, out, n);
    memcpy(*owned + n, ".ckpt", sizeof ".ckpt");
    return *owned;
}

void cli_remove_ctrl_c_checkpoint(const char *resume, const char *explicit, const char *path,
                                  int quiet)
{
    if (!resume || explicit || !path || !nb_files_collide(resume, path)) return;
    if (unlink(path) != 0) {
        fprintf(stderr, "nabla train: warning: cannot remove the Ctrl-C checkpoint %s: %s\n", path,
                strerror(errno));
        return;
    }
    if (!quiet) cli_note("the run is finished: removed the Ctrl-C checkpoint %s", path);
}

/* Characters a POSIX shell leaves alone in a word. */
static int plain(const char *s)
{
    if (!s[0]) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=+@%", *s))
            return 0;
    return 1;
}

static void print_word(FILE *f, const char *s)
{
    fputc(' ', f);
    if (plain(s)) {
        fputs(s, f);
        return;
    }
    /* A control or non-ASCII byte would reach the terminal raw: bash's
     * $'...' writes every such byte as \xHH and still pastes as the same
     * word. */
    int raw = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) raw |= *u < 0x20 || *u >= 0x7f;
    if (raw) {
        fputs("$'", f);
        for (const unsigned char *u = (const unsigned char *)s; *u; u++)
            if (*u < 0x20 || *u >= 0x7f)
                fprintf(f, "\\x%02x", *u);
            else if (*u == '\'' || *u == '\\')
                fprintf(f, "\\%c", *u);
            else
                fputc(*u, f);
        fputc('\'', f);
        return;
    }
    /* 'it'\''s': a quote ends the quoted part, is escaped, and reopens it. */
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

void cli_print_resume_command(FILE *f, const char *path, int argc, char **argv)
{
    fputs("nabla train --resume", f);
    print_word(f, path);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0) {
            i++; /* and its value */
            continue;
        }
        if (strncmp(argv[i], "--resume=", 9) == 0) continue;
        print_word(f, argv[i]);
    }
    fputc('\n', f);
}
