/* The rules for files nabla writes and reads: the atomic writer (symbolic
 * links, devices, FIFOs, folders, mode bits), streamed outputs (logs), the
 * same-file check, and inputs that must be regular files. Each case checks
 * that what was not to be replaced is byte-identical afterwards. */
#define _DEFAULT_SOURCE /* mknod */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

static char dir[64]; /* a fresh folder for this run */

static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The whole file as a string (small files only). */
static const char *read_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static nb_status write_hello(FILE *f, const void *user)
{
    fputs(user, f);
    return NB_OK;
}

static nb_model *small_model(void)
{
    nb_model *m;
    assert_ok(nb_model_create("dense:2,relu,dense:2", 2, "softmax_ce", 4, &m));
    assert_ok(nb_model_init(m, 1));
    return m;
}

static void test_symlink_target_replaced(void **state)
{
    (void)state;
    write_text(in_dir("target"), "old");
    assert_int_equal(symlink("target", in_dir("link")), 0);
    assert_ok(nb_write_atomic(in_dir("link"), write_hello, "new"));
    struct stat st;
    assert_int_equal(lstat(in_dir("link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(read_text(in_dir("target")), "new");
    /* A dangling link: its target is created, the link stays. */
    assert_int_equal(symlink("sub/../made", in_dir("dangling")), 0);
    assert_int_equal(mkdir(in_dir("sub"), 0755), 0);
    assert_ok(nb_write_atomic(in_dir("dangling"), write_hello, "made"));
    assert_int_equal(lstat(in_dir("dangling"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(read_text(in_dir("made")), "made");
}

static void test_mode_bits(void **state)
{
    (void)state;
    const mode_t modes[] = {06755, 01644, 0600};
    for (int i = 0; i < 3; i++) {
        const char *p = in_dir("moded");
        write_text(p, "old");
        assert_int_equal(chmod(p, modes[i]), 0);
        assert_ok(nb_write_atomic(p, write_hello, "new"));
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, modes[i] & 0777);
        assert_string_equal(read_text(p), "new");
    }
}

static void test_refused(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_dir("folder"), 0755), 0);
    assert_int_equal(nb_write_atomic(in_dir("folder"), write_hello, "x"), NB_ERR_IO);
    assert_string_equal(nb_last_error(), "it is a folder");
    assert_int_equal(nb_output_check(in_dir("folder")), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "folder\": it is a folder"));
    assert_int_equal(nb_output_check(in_dir("none/x")), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "/none\" does not exist"));
    /* 250 bytes fit a name, not its temporary (+ 11). */
    char name[251];
    memset(name, 'n', 250);
    name[250] = '\0';
    assert_int_equal(nb_output_check(in_dir(name)), NB_ERR_LIMIT);
    assert_non_null(strstr(nb_last_error(), "too long for its temporary file (261 bytes"));
    assert_ok(nb_output_check(in_dir("fine")));
    assert_int_equal(access(in_dir("fine"), F_OK), -1); /* checking creates nothing */
}

static void test_fifo(void **state)
{
    (void)state;
    const char *p = in_dir("fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    /* Reading a model from a FIFO: refused at once, no writer awaited. */
    nb_model *m = NULL;
    assert_int_equal(nb_model_load(p, &m), NB_ERR_IO);
    assert_null(m);
    char want[600];
    snprintf(want, sizeof want, "model file \"%s\": it is a FIFO, not a regular file", p);
    assert_string_equal(nb_last_error(), want);
    /* Writing one: straight into the pipe (a reader is open first). */
    int reader = open(p, O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    assert_ok(nb_write_atomic(p, write_hello, "through"));
    char buf[16] = {0};
    assert_int_equal(read(reader, buf, sizeof buf - 1), 7);
    assert_string_equal(buf, "through");
    close(reader);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
}

/* A character device: written, never replaced. A private node where this
 * process may make one; the system's devices are never used here. */
static void test_device(void **state)
{
    (void)state;
    const char *null = in_dir("null"), *full = in_dir("full");
    if (mknod(null, S_IFCHR | 0666, makedev(1, 3)) != 0 ||
        mknod(full, S_IFCHR | 0666, makedev(1, 7)) != 0) {
        print_message("note: mknod is not allowed here; the device cases did not run\n");
        skip();
    }
    nb_model *m = small_model();
    assert_ok(nb_model_save(m, null));
    struct stat st;
    assert_int_equal(stat(null, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(nb_model_save(m, full), NB_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "saving model \"%s\": cannot write: No space left on device", full);
    assert_string_equal(nb_last_error(), want);
    assert_int_equal(stat(full, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    nb_model_free(m);
}

static void test_output_open(void **state)
{
    (void)state;
    /* A log over a file with a second name: replaced, the other name keeps
     * its bytes (never truncated in place). */
    write_text(in_dir("keep"), "keep");
    assert_int_equal(link(in_dir("keep"), in_dir("log")), 0);
    FILE *f;
    assert_ok(nb_output_open(in_dir("log"), 0, &f));
    fputs("one\n", f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(read_text(in_dir("keep")), "keep");
    assert_string_equal(read_text(in_dir("log")), "one\n");
    assert_ok(nb_output_open(in_dir("log"), 1, &f));
    fputs("two\n", f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(read_text(in_dir("log")), "one\ntwo\n");
    assert_int_equal(nb_output_open(dir, 0, &f), NB_ERR_IO);
    assert_null(f);
}

static void test_collide(void **state)
{
    (void)state;
    write_text(in_dir("a"), "a");
    write_text(in_dir("b"), "a"); /* same bytes, another file */
    assert_int_equal(link(in_dir("a"), in_dir("a-hard")), 0);
    assert_int_equal(symlink("a", in_dir("a-soft")), 0);
    assert_int_equal(nb_files_collide(in_dir("a"), in_dir("a-hard")), 1);
    assert_int_equal(nb_files_collide(in_dir("a-soft"), in_dir("a")), 1);
    assert_int_equal(nb_files_collide(in_dir("a"), in_dir("./sub/../a")), 1);
    assert_int_equal(nb_files_collide(in_dir("a"), in_dir("b")), 0);
    /* Names not created yet: by folder and name. */
    assert_int_equal(nb_files_collide(in_dir("new"), in_dir("sub/../new")), 1);
    assert_int_equal(nb_files_collide(in_dir("new"), in_dir("new2")), 0);
    assert_int_equal(symlink("new", in_dir("new-soft")), 0);
    assert_int_equal(nb_files_collide(in_dir("new-soft"), in_dir("new")), 1);
    assert_int_equal(nb_files_collide(in_dir("new"), in_dir("a")), 0);
    /* A character device destroys nothing. */
    assert_int_equal(nb_files_collide("/dev/null", "/dev/null"), 0);
    assert_int_equal(nb_files_collide(NULL, in_dir("a")), 0);
}

/* A model or checkpoint to read: a regular file, never waited on. */
static void test_input_check(void **state)
{
    (void)state;
    write_text(in_dir("in"), "x");
    assert_ok(nb_input_check(in_dir("in")));
    assert_int_equal(nb_input_check(in_dir("none")), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "No such file"));
    assert_int_equal(mkfifo(in_dir("in-fifo"), 0600), 0);
    assert_int_equal(nb_input_check(in_dir("in-fifo")), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "it is a FIFO, not a regular file"));
    assert_int_equal(nb_input_check(dir), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "it is a folder"));
    assert_int_equal(nb_input_check(NULL), NB_ERR_ARGUMENT);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/nabla-atomic-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symlink_target_replaced),
        cmocka_unit_test(test_mode_bits),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_output_open),
        cmocka_unit_test(test_collide),
        cmocka_unit_test(test_input_check),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) failed++;
    return failed;
}
