/* Output and input paths: what a name really refers to, whether two names
 * are one file, and the checks made before anything is read or written
 * (see paths.h and docs/cli.md, "outputs"). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINKS 40 /* as the kernel allows (ELOOP past it) */

const char *nb_file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "a regular file";
}

/* A path for a message: whole, or when long (a deep folder, say) its first
 * and last SHORT_PART bytes around "...", so that the reason after it
 * stays readable. */
#define SHORT_PART 60
static const char *short_path(const char *path, char *buf, size_t size)
{
    size_t n = strlen(path);
    if (n <= 2 * SHORT_PART + 3 || size < 2 * SHORT_PART + 4) return path;
    snprintf(buf, size, "%.*s...%s", SHORT_PART, path, path + n - SHORT_PART);
    return buf;
}

static char *copy(const char *s, size_t n)
{
    char *out = nb_malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* The folder part of name: "." for a bare name, "/" for "/x". */
static char *folder_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    if (!slash) return copy(".", 1);
    return copy(name, slash == name ? 1 : (size_t)(slash - name));
}

/* A link's target read relative to the folder the link is in. */
static char *link_target(const char *link, const char *target)
{
    const char *slash = strrchr(link, '/');
    if (target[0] == '/' || !slash) return copy(target, strlen(target));
    size_t head = (size_t)(slash - link) + 1, tail = strlen(target);
    char *out = nb_malloc(head + tail + 1);
    if (out) {
        memcpy(out, link, head);
        memcpy(out + head, target, tail + 1);
    }
    return out;
}

/* Follow symbolic links from path to the name that is not one (it may not
 * exist: a dangling link names the file to create). */
static nb_status follow_links(const char *path, char **out)
{
    char *cur = copy(path, strlen(path));
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *out = cur;
            return NB_OK;
        }
        char target[PATH_MAX];
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (hops == MAX_LINKS || n <= 0) {
            int e = hops == MAX_LINKS ? ELOOP : n == 0 ? ENOENT : errno;
            nb_free(cur);
            return nb_error(NB_ERR_IO, "cannot follow its symbolic links: %s", strerror(e));
        }
        target[n] = '\0';
        char *next = link_target(cur, target);
        nb_free(cur);
        cur = next;
    }
    return nb_error(NB_ERR_MEMORY, "out of memory following symbolic links");
}

/* ENAMETOOLONG, with the limit that was passed: the whole path's, else
 * the longest name in it (limits.h's, as the folder may not exist). */
static nb_status too_long(const char *path)
{
    size_t n = strlen(path), longest = 0;
    if (n >= PATH_MAX)
        return nb_error(NB_ERR_LIMIT, "the path is too long (%zu bytes, at most %d)", n,
                        PATH_MAX - 1);
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len > longest) longest = len;
        p += len + (p[len] == '/');
    }
    return nb_error(NB_ERR_LIMIT, "a name in the path is too long (%zu bytes, at most %d)", longest,
                    NAME_MAX);
}

void nb_out_free(nb_out_target *t)
{
    nb_free(t->name);
    t->name = NULL;
}

nb_status nb_out_resolve(const char *path, nb_out_target *out)
{
    memset(out, 0, sizeof *out);
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "no path");
    if (stat(path, &out->now) == 0) {
        mode_t m = out->now.st_mode;
        if (S_ISCHR(m) || S_ISFIFO(m)) {
            out->kind = NB_OUT_STREAM;
            out->name = copy(path, strlen(path));
            return out->name ? NB_OK : nb_error(NB_ERR_MEMORY, "out of memory");
        }
        if (S_ISDIR(m)) return nb_error(NB_ERR_IO, "it is a folder");
        if (!S_ISREG(m))
            return nb_error(NB_ERR_IO,
                            "it is %s (nabla writes regular files, character devices and FIFOs)",
                            nb_file_kind(m));
        out->kind = NB_OUT_REGULAR;
    } else if (errno == ENOENT) {
        out->kind = NB_OUT_NEW;
    } else if (errno == ENAMETOOLONG) {
        return too_long(path);
    } else {
        return nb_error(NB_ERR_IO, "%s", strerror(errno));
    }
    nb_status st = follow_links(path, &out->name);
    if (st != NB_OK || out->kind == NB_OUT_NEW) return st;
    /* The name found must be the file itself: a link into /proc that names
     * a deleted file, say, cannot be replaced. */
    struct stat found;
    if (stat(out->name, &found) != 0 || found.st_dev != out->now.st_dev ||
        found.st_ino != out->now.st_ino) {
        char shorter[2 * SHORT_PART + 4];
        return nb_error(NB_ERR_IO, "cannot find the name it is stored under (\"%s\")",
                        short_path(out->name, shorter, sizeof shorter));
    }
    return NB_OK;
}

nb_status nb_out_check_folder(const nb_out_target *t)
{
    if (t->kind == NB_OUT_STREAM) return NB_OK;
    char *dir = folder_of(t->name);
    if (!dir) return nb_error(NB_ERR_MEMORY, "out of memory");
    struct stat st;
    nb_status result = NB_OK;
    const char *base = strrchr(t->name, '/');
    base = base ? base + 1 : t->name;
    long name_max = 0;
    char shorter[2 * SHORT_PART + 4];
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        result = nb_error(NB_ERR_IO, "the folder \"%s\" does not exist",
                          short_path(dir, shorter, sizeof shorter));
    } else if (access(dir, W_OK | X_OK) != 0) {
        result = nb_error(NB_ERR_IO, "the folder \"%s\" is not writable: %s",
                          short_path(dir, shorter, sizeof shorter), strerror(errno));
    } else {
        name_max = pathconf(dir, _PC_NAME_MAX);
        if (name_max <= 0) name_max = 255;
        size_t need = strlen(base) + strlen(NB_TMP_SUFFIX);
        if (need > (size_t)name_max)
            result = nb_error(NB_ERR_LIMIT,
                              "the name is too long for its temporary file (%zu bytes with "
                              "\"%s\", the file system allows %ld)",
                              need, NB_TMP_SUFFIX, name_max);
        else if (strlen(t->name) + strlen(NB_TMP_SUFFIX) >= PATH_MAX)
            result = nb_error(NB_ERR_LIMIT,
                              "the path is too long for its temporary file (%zu bytes, at most "
                              "%d)",
                              strlen(t->name) + strlen(NB_TMP_SUFFIX), PATH_MAX - 1);
    }
    nb_free(dir);
    return result;
}

mode_t nb_out_mode(const nb_out_target *t)
{
    if (t->kind == NB_OUT_REGULAR) return t->now.st_mode & 0777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

nb_status nb_output_check(const char *path)
{
    nb_out_target t;
    nb_status st = nb_out_resolve(path, &t);
    if (st == NB_OK && t.kind == NB_OUT_STREAM && access(path, W_OK) != 0)
        st = nb_error(NB_ERR_IO, "%s", strerror(errno));
    if (st == NB_OK) st = nb_out_check_folder(&t);
    nb_out_free(&t);
    char shorter[2 * SHORT_PART + 4];
    return st == NB_OK ? NB_OK
                       : nb_error_prefix(st, "cannot write \"%s\"",
                                         path ? short_path(path, shorter, sizeof shorter) : "");
}

/* ------------------------------------------------------ stream outputs */

/* The descriptor (1 or 2) whose regular file t is, else -1: a log sent to
 * /dev/stdout that is redirected to a file shares that file's offset. */
static int standard_stream(const nb_out_target *t)
{
    for (int fd = 1; fd <= 2; fd++) {
        struct stat st;
        if (t->kind == NB_OUT_REGULAR && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            st.st_dev == t->now.st_dev && st.st_ino == t->now.st_ino)
            return fd;
    }
    return -1;
}

/* A new, empty file renamed over t's name at once: the old file is
 * replaced, never truncated in place. */
static int replace_now(const nb_out_target *t)
{
    size_t n = strlen(t->name);
    char *tmp = nb_malloc(n + sizeof NB_TMP_SUFFIX);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(tmp, t->name, n);
    memcpy(tmp + n, NB_TMP_SUFFIX, sizeof NB_TMP_SUFFIX);
    int fd = mkstemp(tmp);
    if (fd >= 0 && (fchmod(fd, nb_out_mode(t)) != 0 || rename(tmp, t->name) != 0)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        fd = -1;
    }
    nb_free(tmp);
    return fd;
}

static nb_status open_stream(const char *path, const nb_out_target *t, int append, int *fd)
{
    int std = standard_stream(t);
    if (std >= 0) {
        *fd = dup(std);
    } else if (t->kind == NB_OUT_STREAM) {
        *fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | (append ? O_APPEND : 0));
    } else if (append) {
        *fd = open(t->name, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_APPEND | O_CREAT, 0666);
    } else {
        nb_status st = nb_out_check_folder(t);
        if (st != NB_OK) return st;
        *fd = replace_now(t);
    }
    if (*fd < 0) return nb_error(NB_ERR_IO, "%s", strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0 || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
        return nb_error(NB_ERR_IO, "it changed while it was opened");
    return NB_OK;
}

nb_status nb_output_open(const char *path, int append, FILE **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "opening an output: no output pointer");
    *out = NULL;
    nb_out_target t;
    int fd = -1;
    nb_status st = nb_out_resolve(path, &t);
    if (st == NB_OK) st = open_stream(path, &t, append, &fd);
    /* "w" on a descriptor truncates nothing. */
    if (st == NB_OK && !(*out = fdopen(fd, "w"))) st = nb_error(NB_ERR_IO, "%s", strerror(errno));
    if (st != NB_OK && fd >= 0) close(fd);
    nb_out_free(&t);
    char shorter[2 * SHORT_PART + 4];
    return st == NB_OK ? NB_OK
                       : nb_error_prefix(st, "cannot write \"%s\"",
                                         path ? short_path(path, shorter, sizeof shorter) : "");
}

/* ------------------------------------------------------ same file */

typedef struct file_key {
    int exists, device;
    dev_t dev;
    ino_t ino;
    char *name; /* resolved, for a name not created yet */
} file_key;

static void make_key(const char *path, file_key *k)
{
    memset(k, 0, sizeof *k);
    struct stat st;
    if (stat(path, &st) == 0) {
        k->exists = 1;
        k->device = S_ISCHR(st.st_mode);
        k->dev = st.st_dev;
        k->ino = st.st_ino;
        return;
    }
    /* Not there yet: the real folder (links and ".." resolved) plus the
     * final name, as the writer will create it. */
    char *name = NULL;
    if (follow_links(path, &name) != NB_OK) return;
    char *dir = folder_of(name);
    char *real = dir ? realpath(dir, NULL) : NULL;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (real) {
        size_t a = strlen(real), b = strlen(base);
        k->name = nb_malloc(a + b + 2);
        if (k->name) {
            memcpy(k->name, real, a);
            k->name[a] = '/';
            memcpy(k->name + a + 1, base, b + 1);
        }
        nb_free(name);
    } else {
        k->name = name;
    }
    free(real);
    nb_free(dir);
}

int nb_files_collide(const char *a, const char *b)
{
    if (!a || !b || !a[0] || !b[0]) return 0;
    file_key ka, kb;
    make_key(a, &ka);
    make_key(b, &kb);
    int same;
    if (ka.exists != kb.exists)
        same = 0;
    else if (ka.exists)
        same = ka.dev == kb.dev && ka.ino == kb.ino && !ka.device;
    else
        same = ka.name && kb.name ? strcmp(ka.name, kb.name) == 0 : strcmp(a, b) == 0;
    nb_free(ka.name);
    nb_free(kb.name);
    return same;
}

/* ------------------------------------------------------ inputs */

nb_status nb_open_regular(const char *path, FILE **out)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return nb_error(NB_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    nb_status result = NB_OK;
    if (fstat(fd, &st) != 0)
        result = nb_error(NB_ERR_IO, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        result = nb_error(NB_ERR_IO, "it is %s, not a regular file", nb_file_kind(st.st_mode));
    else if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
             !(*out = fdopen(fd, "rb")))
        result = nb_error(NB_ERR_IO, "cannot open: %s", strerror(errno));
    if (result != NB_OK) close(fd);
    return result;
}

nb_status nb_input_check(const char *path)
{
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "no path");
    FILE *f = NULL;
    nb_status st = nb_open_regular(path, &f);
    if (f) fclose(f);
    return st;
}
