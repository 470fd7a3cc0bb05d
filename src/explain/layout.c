/* Laying a graph out with Graphviz: the DOT text goes to `dot -Tsvg`
 * (the program named by $NABLA_DOT, else dot on the PATH) through an
 * unnamed temporary file as its standard input, and its standard output
 * comes back through a pipe. No shell runs, so no name is ever parsed as a
 * command. */
#include "explain.h"

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *dot_program(void)
{
    const char *p = getenv("NABLA_DOT");
    return p && *p ? p : "dot";
}

/* The DOT text in an unlinked temporary file, read from its start. */
static nb_status source_file(const char *source, size_t length, FILE **out)
{
    FILE *f = tmpfile();
    if (!f)
        return nb_error(NB_ERR_IO, "laying out the graph: no temporary file: %s", strerror(errno));
    if (fwrite(source, 1, length, f) != length || fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0) {
        int err = errno;
        fclose(f);
        return nb_error(NB_ERR_IO, "laying out the graph: writing a temporary file: %s",
                        strerror(err));
    }
    *out = f;
    return NB_OK;
}

/* Everything fd gives until its end, NUL-terminated, in *text. */
static nb_status read_all(int fd, char **text, size_t *length)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = nb_malloc(cap);
    if (!buf) return nb_error(NB_ERR_MEMORY, "laying out the graph: out of memory");
    for (;;) {
        if (len + 1 == cap) {
            char *more = nb_realloc(buf, cap * 2);
            if (!more) {
                nb_free(buf);
                return nb_error(NB_ERR_MEMORY, "laying out the graph: out of memory");
            }
            buf = more, cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            nb_free(buf);
            return nb_error(NB_ERR_IO, "laying out the graph: reading dot's output: %s",
                            strerror(err));
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    *text = buf;
    *length = len;
    return NB_OK;
}

/* Start dot with stdin from in and stdout into the pipe's write end. */
static nb_status spawn_dot(FILE *in, int out_fd, pid_t *pid)
{
    const char *prog = dot_program();
    char *argv[] = {(char *)prog, "-Tsvg", NULL};
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return nb_error(NB_ERR_MEMORY, "laying out the graph: out of memory");
    int rc = posix_spawn_file_actions_adddup2(&fa, fileno(in), STDIN_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    if (rc == 0) rc = posix_spawnp(pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return nb_error(NB_ERR_IO,
                        "laying out the graph: cannot run Graphviz's \"%s\" (install graphviz, "
                        "or set NABLA_DOT to the dot program): %s",
                        prog, strerror(rc));
    return NB_OK;
}

static nb_status wait_dot(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return nb_error(NB_ERR_IO, "laying out the graph: waiting for dot: %s",
                            strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NB_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return nb_error(NB_ERR_IO,
                        "laying out the graph: cannot run Graphviz's \"%s\" (install "
                        "graphviz, or set NABLA_DOT to the dot program)",
                        dot_program());
    if (WIFEXITED(status))
        return nb_error(NB_ERR_IO, "laying out the graph: \"%s -Tsvg\" failed with exit status %d",
                        dot_program(), WEXITSTATUS(status));
    return nb_error(NB_ERR_IO, "laying out the graph: \"%s -Tsvg\" was killed by signal %d",
                    dot_program(), WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

nb_status nb_explain_layout(const char *source, size_t length, char **svg)
{
    *svg = NULL;
    FILE *in = NULL;
    nb_status st = source_file(source, length, &in);
    if (st != NB_OK) return st;
    int fds[2];
    if (pipe(fds) != 0) {
        fclose(in);
        return nb_error(NB_ERR_IO, "laying out the graph: no pipe: %s", strerror(errno));
    }
    pid_t pid;
    st = spawn_dot(in, fds[1], &pid);
    close(fds[1]);
    fclose(in);
    char *text = NULL;
    size_t len = 0;
    if (st == NB_OK) {
        nb_status read_st = read_all(fds[0], &text, &len);
        st = wait_dot(pid); /* always reaped */
        if (st == NB_OK) st = read_st;
    }
    close(fds[0]);
    if (st != NB_OK) {
        nb_free(text);
        return st;
    }
    char *start = strstr(text, "<svg");
    if (!start) {
        nb_free(text);
        return nb_error(NB_ERR_IO, "laying out the graph: dot's output holds no <svg> element");
    }
    memmove(text, start, len - (size_t)(start - text) + 1);
    *svg = text;
    return NB_OK;
}
