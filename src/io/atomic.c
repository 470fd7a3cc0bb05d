/* Atomic file replacement: write a temporary file beside the target, flush
 * and fsync it, rename it over the target, then sync the folder. A crash or
 * a full disk at any point leaves the previous file whole. A symbolic
 * link's target is what is replaced (the link stays); a character device
 * or FIFO (/dev/null, /dev/stdout, a pipe) is written directly and never
 * replaced; anything else is refused (paths.h). */
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Make the rename itself durable; a failure here loses nothing. name is
 * a scratch copy of the path (cut at its folder here), so nothing is
 * allocated after the file has been replaced. */
static void sync_folder(char *name)
{
    char *slash = strrchr(name, '/');
    if (slash) slash[slash == name] = '\0';
    int fd = open(slash ? name : ".", O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static nb_status io_failed(const char *what, int err)
{
    return nb_error(NB_ERR_IO, "%s: %s", what, strerror(err ? err : EIO));
}

/* Run write on f; a failed stream write becomes one plain "cannot write:
 * <reason>" whatever the writer was writing when the disk filled. */
static nb_status run_writer(FILE *f, nb_write_fn write, const void *user)
{
    errno = 0;
    nb_status st = write(f, user);
    int err = errno;
    if (st == NB_OK || !ferror(f)) return st;
    /* The writer may have cleared errno since: the retried flush fails
     * again for the same reason. */
    errno = 0;
    if (fflush(f) != 0 && errno) err = errno;
    return io_failed("cannot write", err);
}

/* A character device or FIFO: written in place, no temporary file. */
static nb_status write_stream(const char *path, nb_write_fn write, const void *user)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return io_failed("cannot open", errno);
    struct stat now;
    FILE *f = NULL;
    if (fstat(fd, &now) != 0 || !(S_ISCHR(now.st_mode) || S_ISFIFO(now.st_mode))) {
        close(fd);
        return nb_error(NB_ERR_IO, "it changed while it was opened");
    }
    if (!(f = fdopen(fd, "wb"))) {
        close(fd);
        return io_failed("cannot open", errno);
    }
    nb_status st = run_writer(f, write, user);
    errno = 0;
    if (st == NB_OK && (fflush(f) != 0 || ferror(f))) st = io_failed("cannot write", errno);
    if (fclose(f) != 0 && st == NB_OK) st = io_failed("cannot write", errno);
    return st;
}

/* The temporary file: the new file's mode, and the old file's owner where
 * this process may set it. */
static nb_status open_temporary(const nb_out_target *t, char *tmp, FILE **f)
{
    int fd = mkstemp(tmp);
    if (fd < 0) return io_failed("cannot create its temporary file", errno);
    if (t->kind == NB_OUT_REGULAR && fchown(fd, t->now.st_uid, t->now.st_gid) != 0) {
        /* Not allowed to give it away: it stays this process's. */
    }
    /* After fchown, which may clear the mode bits it does not keep. */
    if (fchmod(fd, nb_out_mode(t)) != 0 || !(*f = fdopen(fd, "wb"))) {
        nb_status st = io_failed("cannot open its temporary file", errno);
        close(fd);
        return st;
    }
    return NB_OK;
}

static nb_status replace_file(const nb_out_target *t, nb_write_fn write, const void *user)
{
    size_t n = strlen(t->name);
    char *tmp = nb_malloc(n + sizeof NB_TMP_SUFFIX);
    if (!tmp) return nb_error(NB_ERR_MEMORY, "out of memory");
    memcpy(tmp, t->name, n);
    memcpy(tmp + n, NB_TMP_SUFFIX, sizeof NB_TMP_SUFFIX);
    FILE *f = NULL;
    nb_status st = open_temporary(t, tmp, &f);
    if (st != NB_OK) {
        nb_free(tmp);
        return st;
    }
    st = run_writer(f, write, user);
    /* A full disk often shows only here, when the buffer goes out. */
    errno = 0;
    if (st == NB_OK && (fflush(f) != 0 || ferror(f))) st = io_failed("cannot write", errno);
    if (st == NB_OK && fsync(fileno(f)) != 0) st = io_failed("cannot sync", errno);
    if (fclose(f) != 0 && st == NB_OK) st = io_failed("cannot write", errno);
    if (st == NB_OK && rename(tmp, t->name) != 0) st = io_failed("cannot replace it", errno);
    if (st != NB_OK)
        unlink(tmp); /* the previous file, if any, is untouched */
    else
        sync_folder(tmp);
    nb_free(tmp);
    return st;
}

nb_status nb_write_atomic(const char *path, nb_write_fn write, const void *user)
{
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "writing a file: no path");
    if (!write) return nb_error(NB_ERR_ARGUMENT, "writing a file: no writer");
    nb_out_target t;
    nb_status st = nb_out_resolve(path, &t);
    if (st == NB_OK && t.kind == NB_OUT_STREAM)
        st = write_stream(path, write, user);
    else if (st == NB_OK && (st = nb_out_check_folder(&t)) == NB_OK)
        st = replace_file(&t, write, user);
    nb_out_free(&t);
    return st;
}

/* ------------------------------------------------ several files at once */

/* One file of a set: its target, its temporary file once written and
 * synced, and a hard link to the file it replaces (to put it back). */
typedef struct pending {
    nb_out_target t;
    char *tmp, *backup;
    int placed; /* renamed over its target (or written, for a stream) */
} pending;

static char *with_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix) + 1;
    char *s = nb_malloc(n + m);
    if (s) memcpy(s, name, n), memcpy(s + n, suffix, m);
    return s;
}

/* The whole temporary file of p, synced and closed. */
static nb_status write_pending(pending *p, nb_write_fn write, const void *user)
{
    FILE *f = NULL;
    if (!(p->tmp = with_suffix(p->t.name, NB_TMP_SUFFIX)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    nb_status st = open_temporary(&p->t, p->tmp, &f);
    if (st != NB_OK) {
        nb_free(p->tmp);
        p->tmp = NULL;
        return st;
    }
    st = run_writer(f, write, user);
    errno = 0;
    if (st == NB_OK && (fflush(f) != 0 || ferror(f))) st = io_failed("cannot write", errno);
    if (st == NB_OK && fsync(fileno(f)) != 0) st = io_failed("cannot sync", errno);
    if (fclose(f) != 0 && st == NB_OK) st = io_failed("cannot write", errno);
    return st;
}

/* A second name for the file p replaces, under which it survives the
 * rename. mkstemp picks a free name; the link then takes its place. */
static nb_status keep_old(pending *p)
{
    if (p->t.kind != NB_OUT_REGULAR) return NB_OK;
    if (!(p->backup = with_suffix(p->t.name, ".old.XXXXXX")))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    int fd = mkstemp(p->backup);
    if (fd >= 0) close(fd);
    if (fd < 0 || unlink(p->backup) != 0 || link(p->t.name, p->backup) != 0) {
        nb_status st =
            io_failed("cannot keep the file it replaces until the others are written", errno);
        nb_free(p->backup);
        p->backup = NULL;
        return st;
    }
    return NB_OK;
}

nb_status nb_write_atomic_all(int n, const char *const *paths, nb_write_fn write,
                              const void *const *users, int *which)
{
    *which = 0;
    if (n < 1 || !paths || !write) return nb_error(NB_ERR_ARGUMENT, "writing files: none given");
    pending *p = nb_calloc((size_t)n, sizeof *p);
    if (!p) return nb_error(NB_ERR_MEMORY, "out of memory");
    nb_status st = NB_OK;
    int i = 0;
    /* Every file written and synced beside its target first ... */
    for (; st == NB_OK && i < n; i++) {
        st = paths[i] && paths[i][0] ? nb_out_resolve(paths[i], &p[i].t)
                                     : nb_error(NB_ERR_ARGUMENT, "no path");
        if (st == NB_OK && p[i].t.kind != NB_OUT_STREAM) st = nb_out_check_folder(&p[i].t);
        if (st == NB_OK && p[i].t.kind != NB_OUT_STREAM) st = write_pending(&p[i], write, users[i]);
        if (st == NB_OK) st = keep_old(&p[i]);
    }
    /* ... then all put in place, one after the other. */
    for (int k = 0; st == NB_OK && k < n; k++) {
        i = k + 1;
        if (p[k].t.kind == NB_OUT_STREAM)
            st = write_stream(paths[k], write, users[k]);
        else if (rename(p[k].tmp, p[k].t.name) != 0)
            st = io_failed("cannot replace it", errno);
        p[k].placed = st == NB_OK;
    }
    for (int k = 0; k < n; k++) {
        if (st != NB_OK && p[k].placed && p[k].t.kind != NB_OUT_STREAM) {
            /* A later file failed: this one's old content comes back. */
            if (p[k].backup ? rename(p[k].backup, p[k].t.name) == 0 : unlink(p[k].t.name) == 0)
                p[k].placed = 0;
        }
        if (p[k].tmp && !p[k].placed) unlink(p[k].tmp);
        if (p[k].backup && (st == NB_OK || !p[k].placed)) unlink(p[k].backup);
        if (st == NB_OK && p[k].tmp) sync_folder(p[k].tmp);
        nb_free(p[k].tmp);
        nb_free(p[k].backup);
        nb_out_free(&p[k].t);
    }
    nb_free(p);
    *which = st == NB_OK ? 0 : i - 1;
    return st;
}
