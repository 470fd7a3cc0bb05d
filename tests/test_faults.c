/* Fault injection: an allocator that fails at its N-th call, for every N
 * from 1 to the number of allocations a scenario makes. Each injected
 * failure must come back as a status other than NB_OK with a message (never
 * a crash), and after cleanup no allocation may be left (no leak), nor a
 * temporary file. The scenarios: a whole small training run, loading a
 * model and predicting with it, and an interrupted run resumed from its
 * checkpoint. Run it under ASan (NABLA_SANITIZE=ON) as well. */
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct counter {
    long calls;   /* malloc and realloc calls */
    long live;    /* blocks handed out and not yet freed */
    long fail_at; /* the call that fails (1-based); 0: none */
} counter;

static counter g_count;
static char g_dir[64];
static long g_injected;

static void *count_malloc(size_t size, void *user)
{
    counter *c = user;
    if (++c->calls == c->fail_at) return NULL;
    void *p = malloc(size);
    if (p) c->live++;
    return p;
}

static void *count_realloc(void *ptr, size_t size, void *user)
{
    counter *c = user;
    if (++c->calls == c->fail_at) return NULL;
    void *p = realloc(ptr, size);
    if (p && !ptr) c->live++;
    return p;
}

static void count_free(void *ptr, void *user)
{
    counter *c = user;
    if (ptr) c->live--;
    free(ptr);
}

static void install(long fail_at)
{
    memset(&g_count, 0, sizeof g_count);
    g_count.fail_at = fail_at;
    nb_allocator a = {count_malloc, count_realloc, count_free, &g_count};
    nb_set_allocator(&a);
}

static const char *path_in_dir(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

static int files_in_dir(const char *part)
{
    int n = 0;
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

/* ------------------------------------------------------------ scenarios */

static nb_train_config small_config(void)
{
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.optimizer.lr = 0.01;
    c.batch = 16;
    c.epochs = 2;
    c.seed = 4;
    c.patience = 1; /* the best-weights buffer too */
    return c;
}

/* Spiral data, a model, 2 epochs with a validation set, evaluation, save. */
static nb_status scenario_train(void)
{
    nb_dataset all, train, val;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    nb_model *m = NULL;
    nb_train_result r;
    nb_metrics metrics;
    memset(&r, 0, sizeof r);
    memset(&metrics, 0, sizeof metrics);
    char path[128];
    nb_status st = nb_dataset_spiral(30, 3, 1, &all);
    if (st == NB_OK) st = nb_dataset_split(&all, 0.8, 2, &train, &val);
    if (st == NB_OK) st = nb_model_create("dense:8,relu,dense:3", 2, "softmax_ce", 16, &m);
    if (st == NB_OK) st = nb_model_init(m, 3);
    nb_train_config c = small_config();
    if (st == NB_OK) st = nb_train(m, &train, &val, &c, &r);
    if (st == NB_OK) st = nb_evaluate(m, &val, &metrics);
    if (st == NB_OK) st = nb_model_save(m, path_in_dir("model.safetensors", path, sizeof path));
    nb_metrics_free(&metrics);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&all);
    nb_dataset_free(&train);
    nb_dataset_free(&val);
    return st;
}

/* Load the model scenario_train saved and predict 10 rows. */
static nb_status scenario_predict(void)
{
    char path[128];
    nb_model *m = NULL;
    nb_real x[20], out[30];
    for (int i = 0; i < 20; i++) x[i] = (nb_real)(0.1 * i - 1);
    nb_status st = nb_model_load(path_in_dir("model.safetensors", path, sizeof path), &m);
    if (st == NB_OK) st = nb_model_predict(m, x, 10, out);
    nb_model_free(m);
    return st;
}

static volatile int g_flag;

static int interrupt_after(const nb_progress *p, void *user)
{
    (void)user;
    if (p->epoch == 1 && p->batch == 2) g_flag = 1;
    return 0;
}

/* Interrupted after batch 2 with a checkpoint, then resumed from it. */
static nb_status scenario_resume(void)
{
    nb_dataset all, train, val;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    nb_model *m = NULL;
    nb_train_result r;
    memset(&r, 0, sizeof r);
    char path[128];
    path_in_dir("run.ckpt", path, sizeof path);
    unlink(path);
    nb_train_config c = small_config();
    c.checkpoint_path = path;
    c.interrupt = &g_flag;
    c.progress = interrupt_after;
    g_flag = 0;
    nb_status st = nb_dataset_spiral(30, 3, 1, &all);
    if (st == NB_OK) st = nb_dataset_split(&all, 0.8, 2, &train, &val);
    if (st == NB_OK) st = nb_model_create("dense:8,relu,dense:3", 2, "softmax_ce", 16, &m);
    if (st == NB_OK) st = nb_model_init(m, 3);
    if (st == NB_OK) {
        st = nb_train(m, &train, &val, &c, &r);
        nb_train_result_free(&r);
        /* The interrupt is the expected outcome here. */
        st = st == NB_ERR_INTERRUPTED ? NB_OK : st == NB_OK ? NB_ERR_STATE : st;
    }
    c.progress = NULL;
    c.resume_path = path;
    g_flag = 0;
    if (st == NB_OK) st = nb_train(m, &train, &val, &c, &r);
    nb_train_result_free(&r);
    nb_model_free(m);
    nb_dataset_free(&all);
    nb_dataset_free(&train);
    nb_dataset_free(&val);
    return st;
}

/* Run scenario once to count its allocations, then once per allocation
 * with that one failing. */
static void inject_all(nb_status (*scenario)(void), const char *name)
{
    install(0);
    assert_ok(scenario());
    long total = g_count.calls;
    assert_int_equal(g_count.live, 0);
    assert_true(total > 10);
    for (long n = 1; n <= total; n++) {
        install(n);
        nb_clear_error();
        nb_status st = scenario();
        long calls = g_count.calls, live = g_count.live;
        nb_set_allocator(NULL);
        if (calls < n)
            fail_msg("%s: failing allocation %ld: only %ld calls this time", name, n, calls);
        if (st == NB_OK)
            fail_msg("%s: allocation %ld of %ld failed, yet the status is NB_OK", name, n, total);
        if (!nb_last_error()[0]) fail_msg("%s: allocation %ld failed without a message", name, n);
        if (live != 0) fail_msg("%s: allocation %ld failed: %ld blocks leaked", name, n, live);
        g_injected++;
    }
    assert_int_equal(files_in_dir(".tmp."), 0);
    print_message("%s: %ld allocations, each failed once: all reported, nothing leaked\n", name,
                  total);
}

static void test_training_run(void **state)
{
    (void)state;
    inject_all(scenario_train, "train + evaluate + save");
}

static void test_load_and_predict(void **state)
{
    (void)state;
    nb_set_allocator(NULL);
    assert_ok(scenario_train()); /* the model file to load */
    inject_all(scenario_predict, "load + predict");
}

static void test_checkpoint_and_resume(void **state)
{
    (void)state;
    inject_all(scenario_resume, "interrupt + checkpoint + resume");
}

static void test_summary(void **state)
{
    (void)state;
    print_message("faults injected: %ld\n", g_injected);
    assert_true(g_injected > 0);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "faults-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    nb_set_allocator(NULL);
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_run),
        cmocka_unit_test(test_load_and_predict),
        cmocka_unit_test(test_checkpoint_and_resume),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
