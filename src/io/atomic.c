/* Atomic file replacement: write a temporary file beside the target, flush
 * and fsync it, rename it over the target, then sync the folder. A crash or
 * a full disk at any point leaves the previous file whole. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".tmp.XXXXXX"

/* Make the rename itself durable; a failure here loses nothing. */
static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) {
        strcpy(dir, ".");
    } else if ((size_t)(slash - path) + 1 < sizeof dir) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else {
        return;
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The mode a new file gets (0666 less the umask), or the old file's. */
static mode_t mode_for(const char *path)
{
    struct stat old;
    if (stat(path, &old) == 0) return old.st_mode & 07777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

static nb_status io_failed(const char *what, const char *tmp)
{
    return nb_error(NB_ERR_IO, "%s %s: %s", what, tmp, strerror(errno ? errno : EIO));
}

nb_status nb_write_atomic(const char *path, nb_write_fn write, const void *user)
{
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "writing a file: no path");
    size_t plen = strlen(path);
    char *tmp = nb_malloc(plen + sizeof SUFFIX);
    if (!tmp) return nb_error(NB_ERR_MEMORY, "writing \"%s\": out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, SUFFIX, sizeof SUFFIX);
    errno = 0;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        nb_status st = io_failed("cannot create the temporary file", tmp);
        nb_free(tmp);
        return st;
    }
    nb_status st = NB_OK;
    FILE *f = NULL;
    if (fchmod(fd, mode_for(path)) != 0 || !(f = fdopen(fd, "wb"))) {
        st = io_failed("cannot open the temporary file", tmp);
        close(fd);
    }
    if (st == NB_OK) st = write(f, user);
    /* A full disk often shows only here, when the buffer goes out. */
    errno = 0;
    if (st == NB_OK && (fflush(f) != 0 || ferror(f))) st = io_failed("cannot write", tmp);
    if (st == NB_OK && fsync(fileno(f)) != 0) st = io_failed("cannot sync", tmp);
    if (f && fclose(f) != 0 && st == NB_OK) st = io_failed("cannot close", tmp);
    if (st == NB_OK && rename(tmp, path) != 0) st = io_failed("cannot rename over the target", tmp);
    if (st != NB_OK)
        unlink(tmp); /* the previous file, if any, is untouched */
    else
        sync_folder(path);
    nb_free(tmp);
    return st;
}
