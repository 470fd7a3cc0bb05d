/* Interrupted training: a run stopped by the interrupt flag (or killed after
 * a periodic checkpoint) and resumed from its checkpoint ends bit for bit
 * where an uninterrupted run with the same seed ends (memcmp of the weights
 * and of every epoch's losses); resuming refuses a checkpoint of another
 * model, data set or configuration, and truncated or corrupt files, each
 * with a message that says what; a checkpoint that cannot be written is
 * NB_ERR_IO and leaves the previous one byte for byte. */
#include "check.h"

#include "io/checkpoint_file.h"
#include "io/graph_json.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static nb_dataset g_all, g_train, g_val, g_other;
static char g_dir[64];

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
    (void)state;
    /* 3 x 50 spiral points: 150 samples, batches of 32 leave a last batch
     * of 22 rows. A validation part of 30 from a 120/30 split. */
    if (nb_dataset_spiral(50, 3, 5, &g_train) != NB_OK) return -1;
    if (nb_dataset_spiral(50, 3, 6, &g_other) != NB_OK) return -1; /* same size, other points */
    if (nb_dataset_spiral(50, 3, 8, &g_all) != NB_OK) return -1;
    nb_dataset fit;
    if (nb_dataset_split(&g_all, 0.8, 3, &fit, &g_val) != NB_OK) return -1;
    nb_dataset_free(&fit);
    snprintf(g_dir, sizeof g_dir, "resume-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(g_dir);
    nb_dataset_free(&g_all);
    nb_dataset_free(&g_train);
    nb_dataset_free(&g_val);
    nb_dataset_free(&g_other);
    return 0;
}

static const char *path_in_dir(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

/* A training setting: the model, the optimizer, the schedule. */
typedef struct setup {
    const char *spec;
    nb_optimizer_kind opt;
    double lr;
    nb_schedule_kind schedule;
    int batch, epochs, patience;
    int with_val;
} setup;

static nb_train_config make_config(const setup *s)
{
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(s->opt);
    c.optimizer.lr = s->lr;
    c.schedule = s->schedule;
    c.batch = s->batch;
    c.epochs = s->epochs;
    c.seed = 7;
    c.patience = s->patience;
    return c;
}

static nb_model *new_model(const setup *s, uint64_t init_seed)
{
    nb_model *m = NULL;
    assert_ok(nb_model_create(s->spec, 2, "softmax_ce", s->batch, &m));
    assert_ok(nb_model_init(m, init_seed));
    return m;
}

/* Where the progress callback acts: after batch `batch` of `epoch`, or at
 * the end of `epoch` when batch is 0. It sets the interrupt flag, or asks
 * to stop (a crash: no checkpoint is written for that batch). */
enum { SET_FLAG, STOP };
typedef struct trigger {
    int epoch;
    size_t batch;
    int action;
    volatile int *flag;
    int fired;
} trigger;

static int on_progress(const nb_progress *p, void *user)
{
    trigger *t = user;
    int here = p->epoch == t->epoch &&
               (t->batch == 0 ? p->stats != NULL : !p->stats && p->batch == t->batch);
    if (!here || t->fired) return 0;
    t->fired = 1;
    if (t->action == STOP) return 1;
    *t->flag = 1;
    return 0;
}

/* A whole run without interruption. */
static nb_model *reference(const setup *s, nb_train_result *r)
{
    nb_model *m = new_model(s, 11);
    nb_train_config c = make_config(s);
    assert_ok(nb_train(m, &g_train, s->with_val ? &g_val : NULL, &c, r));
    return m;
}

static void assert_same_run(nb_model *a, const nb_train_result *ra, nb_model *b,
                            const nb_train_result *rb)
{
    size_t na, nb;
    const nb_real *pa = nb_graph_params(nb_model_graph(a), &na);
    const nb_real *pb = nb_graph_params(nb_model_graph(b), &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof *pa);
    assert_int_equal(ra->epochs_run, rb->epochs_run);
    assert_int_equal(ra->best_epoch, rb->best_epoch);
    assert_string_equal(ra->stop_reason, rb->stop_reason);
    for (int e = 0; e < ra->epochs_run; e++) {
        const nb_epoch_stats *x = &ra->history[e], *y = &rb->history[e];
        assert_int_equal(x->epoch, y->epoch);
        assert_memory_equal(&x->lr, &y->lr, sizeof x->lr);
        assert_memory_equal(&x->train_loss, &y->train_loss, sizeof x->train_loss);
        assert_memory_equal(&x->train_accuracy, &y->train_accuracy, sizeof x->train_accuracy);
        assert_memory_equal(&x->val_loss, &y->val_loss, sizeof x->val_loss);
        assert_memory_equal(&x->val_accuracy, &y->val_accuracy, sizeof x->val_accuracy);
    }
}

/* Train with the flag set at t (epoch, batch): NB_ERR_INTERRUPTED after
 * batch `want_batch` of epoch `want_epoch`, with the checkpoint written. */
static void interrupt_at(nb_model *m, const setup *s, const char *ckpt, const char *resume,
                         int epoch, size_t batch, int want_epoch, size_t want_batch)
{
    volatile int flag = 0;
    trigger t = {epoch, batch, SET_FLAG, &flag, 0};
    nb_train_config c = make_config(s);
    c.checkpoint_path = ckpt;
    c.resume_path = resume;
    c.interrupt = &flag;
    c.progress = on_progress;
    c.progress_user = &t;
    nb_train_result r;
    nb_status st = nb_train(m, &g_train, s->with_val ? &g_val : NULL, &c, &r);
    if (st != NB_ERR_INTERRUPTED)
        fail_msg("expected an interrupt at epoch %d, batch %zu: %s: %s", epoch, batch,
                 nb_status_name(st), nb_last_error());
    char want[256];
    snprintf(want, sizeof want, "interrupted at epoch %d, batch %zu of", want_epoch, want_batch);
    if (!strstr(nb_last_error(), want) || !strstr(nb_last_error(), ckpt))
        fail_msg("message \"%s\" lacks \"%s\" or the path", nb_last_error(), want);
    assert_int_equal(r.last_epoch, want_epoch);
    assert_int_equal(r.last_batch, want_batch);
    assert_string_equal(r.stop_reason, "interrupted");
    /* The finished epochs are kept: all before the interrupted one. */
    int batches = (int)((g_train.count + (size_t)s->batch - 1) / (size_t)s->batch);
    assert_int_equal(r.epochs_run, want_batch == (size_t)batches ? want_epoch - 1 + (batch == 0)
                                                                 : want_epoch - 1);
    nb_train_result_free(&r);
}

/* Resume into a model with other weights (they must all come from the
 * checkpoint) and run to the end. */
static nb_model *resume_from(const setup *s, const char *ckpt, nb_train_result *r)
{
    nb_model *m = new_model(s, 99);
    nb_train_config c = make_config(s);
    c.resume_path = ckpt;
    assert_ok(nb_train(m, &g_train, s->with_val ? &g_val : NULL, &c, r));
    return m;
}

static int g_points; /* interruption points checked, for the summary */

static void check_point(const setup *s, const char *name, int epoch, size_t batch, int want_epoch,
                        size_t want_batch)
{
    char ckpt[128];
    path_in_dir(name, ckpt, sizeof ckpt);
    nb_train_result ra, rb;
    nb_model *a = reference(s, &ra);
    nb_model *m = new_model(s, 11);
    interrupt_at(m, s, ckpt, NULL, epoch, batch, want_epoch, want_batch);
    nb_model_free(m);
    nb_model *b = resume_from(s, ckpt, &rb);
    assert_same_run(a, &ra, b, &rb);
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    g_points++;
}

/* ------------------------------------------------------- (a) interrupts */

static const setup momentum = {
    "dense:16,tanh,dense:3", NB_OPT_MOMENTUM, 0.05, NB_SCHEDULE_CONSTANT, 32, 6, 0, 0};
static const setup adam = {
    "dense:12,relu,dense:3", NB_OPT_ADAM, 0.01, NB_SCHEDULE_COSINE, 32, 5, 0, 1};

static void test_interrupt_momentum(void **state)
{
    (void)state;
    /* 150 samples in batches of 32: 5 batches, the 5th of 22 rows. */
    check_point(&momentum, "m-first.ckpt", 1, 1, 1, 1);    /* the very first batch */
    check_point(&momentum, "m-mid.ckpt", 2, 2, 2, 2);      /* mid-epoch */
    check_point(&momentum, "m-partial.ckpt", 3, 5, 3, 5);  /* the partial last batch */
    check_point(&momentum, "m-boundary.ckpt", 3, 0, 3, 5); /* at the end of epoch 3 */
    check_point(&momentum, "m-last.ckpt", 6, 5, 6, 5);     /* the last batch of the run */
}

static void test_interrupt_adam_with_validation(void **state)
{
    (void)state;
    check_point(&adam, "a-mid.ckpt", 2, 3, 2, 3);
    check_point(&adam, "a-boundary.ckpt", 1, 0, 1, 5);
    check_point(&adam, "a-partial.ckpt", 4, 5, 4, 5);
}

/* Early stopping: interrupted after the best epoch and before the stop, the
 * best weights and the patience counter come back from the checkpoint. */
static void test_interrupt_early_stopping(void **state)
{
    (void)state;
    setup s = {"dense:32,relu,dense:3", NB_OPT_MOMENTUM, 0.5, NB_SCHEDULE_CONSTANT, 16, 60, 3, 1};
    nb_train_result r;
    nb_model *m = reference(&s, &r);
    /* The setting is chosen so that early stopping does happen. */
    assert_string_equal(r.stop_reason, "early stopping");
    assert_true(r.best_epoch < r.epochs_run);
    int best = r.best_epoch;
    nb_model_free(m);
    nb_train_result_free(&r);
    check_point(&s, "es-mid.ckpt", best + 1, 3, best + 1, 3);
    check_point(&s, "es-boundary.ckpt", best, 0, best, 10); /* 150 / 16: 10 batches */
}

/* Two interruptions of one run, the second in the resumed part. */
static void test_interrupt_twice(void **state)
{
    (void)state;
    char c1[128], c2[128];
    path_in_dir("twice-1.ckpt", c1, sizeof c1);
    path_in_dir("twice-2.ckpt", c2, sizeof c2);
    nb_train_result ra, rb;
    nb_model *a = reference(&adam, &ra);
    nb_model *m = new_model(&adam, 11);
    interrupt_at(m, &adam, c1, NULL, 1, 3, 1, 3);
    nb_model_free(m);
    m = new_model(&adam, 98);
    interrupt_at(m, &adam, c2, c1, 4, 1, 4, 1);
    nb_model_free(m);
    nb_model *b = resume_from(&adam, c2, &rb);
    assert_same_run(a, &ra, b, &rb);
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    g_points += 2;
}

/* The checkpoint's parameters carry the model file's names and shapes, and
 * hold the weights as they were when the interrupt stopped training. */
static void test_checkpoint_holds_model_tensors(void **state)
{
    (void)state;
    char ckpt[128];
    path_in_dir("names.ckpt", ckpt, sizeof ckpt);
    nb_model *m = new_model(&adam, 11);
    interrupt_at(m, &adam, ckpt, NULL, 2, 2, 2, 2);
    nb_ckpt_file f;
    assert_ok(nb_ckpt_file_open(ckpt, &f));
    nb_graph *g = nb_model_graph(m);
    int params = 0;
    for (int i = 0; i < nb_graph_node_count(g); i++) {
        if (!nb_node_is_param(g, i)) continue;
        size_t n = nb_shape_count(nb_node_shape(g, i));
        nb_real *v = malloc(n * sizeof *v);
        assert_non_null(v);
        assert_ok(nb_ckpt_file_read(&f, nb_node_name(g, i), nb_node_shape(g, i), v));
        assert_memory_equal(v, nb_node_value(g, i), n * sizeof *v);
        free(v);
        params++;
    }
    /* 2 dense layers: 4 parameters, Adam's 2 slots, early stopping off. */
    assert_int_equal(params, 4);
    assert_int_equal(f.header.count, 6);
    assert_string_equal(nb_ckpt_file_meta(&f, "format"), "nabla-checkpoint");
    assert_string_equal(nb_ckpt_file_meta(&f, "epoch"), "2");
    assert_string_equal(nb_ckpt_file_meta(&f, "batch"), "2");
    assert_string_equal(nb_ckpt_file_meta(&f, "optimizer_steps"), "7"); /* 5 + 2 */
    nb_ckpt_file_close(&f);
    nb_model_free(m);
}

/* --------------------------------------------- (b) periodic checkpoints */

/* Periodic checkpoints; a "crash" (the callback stops training, so nothing
 * is saved for that batch) at (epoch, batch); the file must hold the last
 * periodic position (want_epoch, want_batch), and resuming from it must give
 * the uninterrupted result. */
static void crash_and_resume(const setup *s, const char *name, int every_batches, int every_epochs,
                             double every_minutes, int epoch, size_t batch, const char *want_epoch,
                             const char *want_batch)
{
    char ckpt[128];
    path_in_dir(name, ckpt, sizeof ckpt);
    nb_train_result ra, rb, rc;
    nb_model *a = reference(s, &ra);
    nb_model *m = new_model(s, 11);
    trigger t = {epoch, batch, STOP, NULL, 0};
    nb_train_config c = make_config(s);
    c.checkpoint_path = ckpt;
    c.checkpoint_batches = every_batches;
    c.checkpoint_epochs = every_epochs;
    c.checkpoint_minutes = every_minutes;
    c.progress = on_progress;
    c.progress_user = &t;
    assert_ok(nb_train(m, &g_train, s->with_val ? &g_val : NULL, &c, &rc));
    assert_string_equal(rc.stop_reason, "stopped");
    nb_train_result_free(&rc);
    nb_model_free(m);

    nb_ckpt_file f;
    assert_ok(nb_ckpt_file_open(ckpt, &f));
    assert_string_equal(nb_ckpt_file_meta(&f, "epoch"), want_epoch);
    assert_string_equal(nb_ckpt_file_meta(&f, "batch"), want_batch);
    nb_ckpt_file_close(&f);

    nb_model *b = resume_from(s, ckpt, &rb);
    assert_same_run(a, &ra, b, &rb);
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    g_points++;
}

static void test_periodic_batches(void **state)
{
    (void)state;
    /* Every 3 batches over the run (5 per epoch): the crash after batch
     * 2 of epoch 4 (run batch 17) leaves run batch 15 = epoch 3, batch 5. */
    crash_and_resume(&momentum, "every-3b.ckpt", 3, 0, 0, 4, 2, "3", "5");
    /* Run batch 12 = epoch 3, batch 2; crash at run batch 14. */
    crash_and_resume(&adam, "every-4b.ckpt", 4, 0, 0, 3, 4, "3", "2");
}

static void test_periodic_epochs(void **state)
{
    (void)state;
    /* Every 2 epochs: after epoch 4 the file says epoch 5, batch 0. */
    crash_and_resume(&momentum, "every-2e.ckpt", 0, 2, 0, 5, 3, "5", "0");
}

static void test_periodic_minutes(void **state)
{
    (void)state;
    /* A tiny interval saves after every batch: the crash at epoch 2,
     * batch 4 leaves batch 3. */
    crash_and_resume(&adam, "every-min.ckpt", 0, 0, 1e-9, 2, 4, "2", "3");
}

/* ----------------------------------------------------- (c) refusals */

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static uint64_t get_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* The file with its header JSON passed through edit (which may change
 * metadata or tensor entries), re-padded, and the same data after it. */
static void write_edited(const char *from, const char *to,
                         void (*edit)(cJSON *root, const char *arg), const char *arg)
{
    size_t size;
    unsigned char *b = read_file(from, &size);
    uint64_t len = get_le64(b);
    cJSON *root = cJSON_ParseWithLength((const char *)b + 8, (size_t)len);
    assert_non_null(root);
    edit(root, arg);
    char *json = cJSON_PrintUnformatted(root);
    size_t n = strlen(json), padded = (n + 7) / 8 * 8, data = size - 8 - (size_t)len;
    unsigned char *out = malloc(8 + padded + data);
    assert_non_null(out);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, json, n);
    memset(out + 8 + n, ' ', padded - n);
    memcpy(out + 8 + padded, b + 8 + len, data);
    write_file(to, out, 8 + padded + data);
    free(out);
    cJSON_free(json);
    cJSON_Delete(root);
    free(b);
}

/* arg is "key=value": set a metadata string (an empty value removes it). */
static void set_meta(cJSON *root, const char *arg)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    char key[64];
    const char *eq = strchr(arg, '=');
    snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
    cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
    if (eq[1]) cJSON_AddStringToObject(meta, key, eq + 1);
}

/* arg is "old=new": rename a tensor entry. */
static void rename_tensor(cJSON *root, const char *arg)
{
    char old[64];
    const char *eq = strchr(arg, '=');
    snprintf(old, sizeof old, "%.*s", (int)(eq - arg), arg);
    cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(root, old);
    assert_non_null(t);
    cJSON_AddItemToObject(root, eq + 1, t);
}

/* The first history row dropped. */
static void drop_history_row(cJSON *root, const char *arg)
{
    (void)arg;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON *h = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(meta, "history")->valuestring);
    cJSON_DeleteItemFromArray(h, 0);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "history", cJSON_CreateString(text));
    cJSON_free(text);
    cJSON_Delete(h);
}

/* Resuming from path must fail with a message holding want and the path,
 * and leave the model's weights as they were. */
static int g_refused;

static void assert_refused(const setup *s, const nb_dataset *train, const char *path,
                           const char *want)
{
    nb_model *m = new_model(s, 99);
    size_t n;
    nb_real *before = malloc(4096 * sizeof *before);
    assert_non_null(before);
    const nb_real *p = nb_graph_params(nb_model_graph(m), &n);
    assert_true(n <= 4096);
    memcpy(before, p, n * sizeof *p);
    nb_train_config c = make_config(s);
    c.resume_path = path;
    nb_train_result r;
    nb_status st = nb_train(m, train, s->with_val ? &g_val : NULL, &c, &r);
    nb_train_result_free(&r);
    if (st == NB_OK) fail_msg("resuming from %s (%s) succeeded", path, want);
    assert_int_not_equal(st, NB_ERR_NUMERIC); /* a corrupt file is not a numeric stop */
    if (!strstr(nb_last_error(), want) || !strstr(nb_last_error(), path))
        fail_msg("resuming from %s: message \"%s\" lacks \"%s\" or the path", path, nb_last_error(),
                 want);
    print_message("refused: %s\n", nb_last_error());
    p = nb_graph_params(nb_model_graph(m), &n);
    assert_memory_equal(before, p, n * sizeof *p);
    free(before);
    nb_model_free(m);
    g_refused++;
}

static const setup es = {
    "dense:12,relu,dense:3", NB_OPT_ADAM, 0.01, NB_SCHEDULE_CONSTANT, 32, 6, 2, 1};

/* A good checkpoint with every kind of tensor: Adam's 2 slots and the best
 * weights, after 2 finished epochs. */
static void good_checkpoint(char *path, size_t size)
{
    path_in_dir("good.ckpt", path, size);
    nb_model *m = new_model(&es, 11);
    interrupt_at(m, &es, path, NULL, 3, 3, 3, 3);
    nb_model_free(m);
}

static void test_refuses_other_model_data_settings(void **state)
{
    (void)state;
    char good[128];
    good_checkpoint(good, sizeof good);
    setup other = es;
    other.spec = "dense:8,relu,dense:3";
    assert_refused(&other, &g_train, good, "written for model \"dense:12,relu,dense:3\"");
    assert_refused(&es, &g_other, good, "different training set");
    other = es;
    other.batch = 16;
    assert_refused(&other, &g_train, good, "training batch 32, this run has 16");
    other = es;
    other.lr = 0.02;
    assert_refused(&other, &g_train, good, "optimizer lr");
    other = es;
    other.opt = NB_OPT_ADAMW;
    assert_refused(&other, &g_train, good, "optimizer kind \"adam\"");
    other = es;
    other.patience = 0;
    other.with_val = 0;
    assert_refused(&other, &g_train, good, "training patience 2, this run has 0");
    /* The validation set is part of the fingerprint too. */
    char plain[128];
    path_in_dir("adam.ckpt", plain, sizeof plain);
    nb_model *a = new_model(&adam, 11);
    interrupt_at(a, &adam, plain, NULL, 2, 1, 2, 1);
    nb_model_free(a);
    other = adam;
    other.with_val = 0;
    assert_refused(&other, &g_train, plain, "with a validation set, this run has none");
    nb_dataset swap = g_val;
    g_val = g_other;
    assert_refused(&adam, &g_train, plain, "different validation set");
    g_val = swap;
    /* A model file is not a checkpoint. */
    char model[128];
    path_in_dir("model.safetensors", model, sizeof model);
    nb_model *m = new_model(&es, 1);
    assert_ok(nb_model_save(m, model));
    nb_model_free(m);
    assert_refused(&es, &g_train, model, "this is a model file");
    char missing[128];
    assert_refused(&es, &g_train, path_in_dir("no-such.ckpt", missing, sizeof missing),
                   "cannot open");
}

static void test_refuses_corrupt_checkpoints(void **state)
{
    (void)state;
    char good[128], bad[128];
    good_checkpoint(good, sizeof good);
    path_in_dir("bad.ckpt", bad, sizeof bad);
    size_t size;
    unsigned char *b = read_file(good, &size);
    uint64_t len = get_le64(b);
    unsigned char *copy = malloc(size);
    assert_non_null(copy);

    write_file(bad, b, 4);
    assert_refused(&es, &g_train, bad, "too short for the 8-byte header length");
    write_file(bad, b, 8 + (size_t)len / 2);
    assert_refused(&es, &g_train, bad, "a truncated file?");
    write_file(bad, b, size - 8);
    assert_refused(&es, &g_train, bad, "end past the data area");

    memcpy(copy, b, size);
    copy[5] = 0x01; /* a header length of 2^40 */
    write_file(bad, copy, size);
    assert_refused(&es, &g_train, bad, "more than");

    memcpy(copy, b, size);
    copy[8] = 'x';
    write_file(bad, copy, size);
    assert_refused(&es, &g_train, bad, "not valid JSON");

    memcpy(copy, b, size);
    for (int i = 0; i < (int)sizeof(nb_real); i++) copy[size - 1 - i] = 0xff; /* a NaN */
    write_file(bad, copy, size);
    assert_refused(&es, &g_train, bad, "not a finite");

    static const struct {
        const char *edit, *want;
    } metas[] = {
        {"epoch=99", "metadata \"epoch\" is \"99\", not an integer in [0, 7]"},
        {"epoch=7", "metadata \"epoch\" 7 (after the last) with \"batch\" 3 (not 0)"},
        {"epoch=2", "optimizer_steps"},
        {"optimizer_steps=4", "metadata \"optimizer_steps\" is 4"},
        {"rng=[\"0000000000000000\",\"0000000000000000\",\"0000000000000000\","
         "\"0000000000000000\"]",
         "metadata \"rng\" is all zero: a xoshiro256 generator in that state gives only zeros"},
        {"rng=[\"12\",\"34\"]", "metadata \"rng\""},
        {"seen=64", "metadata \"seen\" is"},
        {"correct=1000", "metadata \"correct\""},
        {"best_epoch=0", "do not agree with the history"},
        {"since_best=2", "do not agree with the history"},
        {"best_val_loss=0.5", "do not agree with the history"},
        {"loss_sum=nan", "metadata \"loss_sum\" is \"nan\""},
        {"loss_sum=", "metadata \"loss_sum\" is missing"},
        {"format=nabla", "this is a model file"},
        {"format_version=5", "format_version 5 is not one this build reads (1..4)"},
        {"random_draws=", "metadata \"random_draws\" is missing"},
        {"random_draws=-1", "metadata \"random_draws\""},
        {"real=f16", "build with f16 numbers"},
        {"training={\"batch\":32}", "\"epochs\" is missing"},
        {"optimizer=[1]", "metadata \"optimizer\" is not a JSON object"},
        {"train_data=none", "without a training set"},
    };
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        write_edited(good, bad, set_meta, metas[i].edit);
        assert_refused(&es, &g_train, bad, metas[i].want);
    }
    write_edited(good, bad, drop_history_row, NULL);
    assert_refused(&es, &g_train, bad, "metadata \"history\" has 1 epoch, expected 2");
    write_edited(good, bad, rename_tensor, "optimizer.slot1=optimizer.slot9");
    assert_refused(&es, &g_train, bad, "tensor \"optimizer.slot1\" [");
    write_edited(good, bad, rename_tensor, "early_stopping.best=extra");
    assert_refused(&es, &g_train, bad, "tensor \"early_stopping.best\" [");
    free(copy);
    free(b);
}

/* arg is "key|from|to": the first "from" in metadata value key becomes
 * "to" (text, so that a key can be given twice). */
static void edit_meta_text(cJSON *root, const char *arg)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    char key[64], from[128];
    const char *a = strchr(arg, '|'), *b = strchr(a + 1, '|');
    snprintf(key, sizeof key, "%.*s", (int)(a - arg), arg);
    snprintf(from, sizeof from, "%.*s", (int)(b - a - 1), a + 1);
    const char *text = cJSON_GetObjectItemCaseSensitive(meta, key)->valuestring;
    const char *at = strstr(text, from);
    if (!at) fail_msg("no \"%s\" in metadata \"%s\": %s", from, key, text);
    char *out = malloc(strlen(text) + strlen(b + 1) + 1);
    assert_non_null(out);
    sprintf(out, "%.*s%s%s", (int)(at - text), text, b + 1, at + strlen(from));
    cJSON_ReplaceItemInObjectCaseSensitive(meta, key, cJSON_CreateString(out));
    free(out);
}

/* arg is "row,column,value": one cell of the history set to value (a
 * number, or null). */
static void set_history_cell(cJSON *root, const char *arg)
{
    int row, col;
    char value[64];
    assert_int_equal(sscanf(arg, "%d,%d,%63s", &row, &col, value), 3);
    cJSON *cell =
        strcmp(value, "null") == 0 ? cJSON_CreateNull() : cJSON_CreateNumber(strtod(value, NULL));
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON *h = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(meta, "history")->valuestring);
    cJSON_ReplaceItemInArray(cJSON_GetArrayItem(h, row), col, cell);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "history", cJSON_CreateString(text));
    cJSON_free(text);
    cJSON_Delete(h);
}

/* The file's header text with the first "from" replaced by "to" (raw
 * bytes: an escape cJSON would never write), re-padded. */
static void write_text_edited(const char *from_path, const char *to_path, const char *from,
                              const char *to)
{
    size_t size;
    unsigned char *b = read_file(from_path, &size);
    size_t len = (size_t)get_le64(b), data = size - 8 - len;
    char *text = malloc(len + 1);
    assert_non_null(text);
    memcpy(text, b + 8, len);
    text[len] = '\0';
    char *at = strstr(text, from);
    if (!at) fail_msg("no \"%s\" in the header", from);
    size_t n = len - strlen(from) + strlen(to), padded = (n + 7) / 8 * 8;
    unsigned char *out = malloc(8 + padded + data);
    assert_non_null(out);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    size_t head = (size_t)(at - text);
    memcpy(out + 8, text, head);
    memcpy(out + 8 + head, to, strlen(to));
    memcpy(out + 8 + head + strlen(to), at + strlen(from), len - head - strlen(from));
    memset(out + 8 + n, ' ', padded - n);
    memcpy(out + 8 + padded, b + 8 + len, data);
    write_file(to_path, out, 8 + padded + data);
    free(out);
    free(text);
    free(b);
}

/* Every field of a checkpoint has one meaning: a key given twice, a
 * string cut by \u0000, a number in another notation, an unknown key or a
 * value out of range is refused with a message naming the field. */
static void test_refuses_ambiguous_checkpoints(void **state)
{
    (void)state;
    char good[128], bad[128];
    good_checkpoint(good, sizeof good);
    path_in_dir("ambiguous.ckpt", bad, sizeof bad);
    static const struct {
        const char *edit, *want;
    } texts[] = {
        {"optimizer|\"lr\":|\"lr\":0.5,\"lr\":",
         "metadata \"optimizer\": key \"lr\" appears twice"},
        {"training|\"batch\":|\"batch\":16,\"batch\":",
         "metadata \"training\": key \"batch\" appears twice"},
        {"train_data|\"count\":|\"count\":1,\"count\":",
         "metadata \"train_data\": key \"count\" appears twice"},
        {"val_data|}|} {}", "metadata \"val_data\" is not valid JSON"},
        {"optimizer|\"adam\"|\"adam\\u0000x\"",
         "metadata \"optimizer\": the string after key \"kind\" holds \\u0000"},
        {"training|\"seed\"|\"seed\\u0000\"", "metadata \"training\": the key \"seed...\" holds "
                                              "\\u0000"},
        {"optimizer|\"kind\"|\"kinds\":1,\"kind\"",
         "metadata \"optimizer\": key \"kinds\" does not belong"},
        {"training|\"batch\"|\"bacth\":32,\"batch\"",
         "metadata \"training\": key \"bacth\" does not belong"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        write_edited(good, bad, edit_meta_text, texts[i].edit);
        assert_refused(&es, &g_train, bad, texts[i].want);
    }
    static const struct {
        const char *edit, *want;
    } metas[] = {
        {"epoch=03", "metadata \"epoch\" is \"03\", not an integer"},
        {"batches=+5", "metadata \"batches\" is \"+5\""},
        {"loss_sum=0x1p3", "metadata \"loss_sum\" is \"0x1p3\""},
        {"loss_sum= 1", "metadata \"loss_sum\" is \" 1\""},
        {"loss_sum=-1", "metadata \"loss_sum\" is \"-1\", not a finite number >= 0"},
        {"elapsed=-5", "metadata \"elapsed\" is \"-5\""},
        {"elapsed=inf", "metadata \"elapsed\" is \"inf\""},
        {"epoch_elapsed=1e9", "\"epoch_elapsed\" 1000000000 is more than \"elapsed\""},
        {"best_val_loss=infinity", "metadata \"best_val_loss\" is \"infinity\""},
        {"threads=0", "metadata \"threads\" is 0"},
        {"threads=", "metadata \"threads\" is missing"},
        {"note=1", "\"__metadata__\": key \"note\" does not belong in a checkpoint"},
        /* A key from the file is quoted with its control characters escaped. */
        {"\x1b[2J=1", "key \"\\x1b[2J\" does not belong"},
        {"spec=dense:12\x1b]0;x\x07", "written for model \"dense:12\\x1b]0;x\\x07\""},
    };
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        write_edited(good, bad, set_meta, metas[i].edit);
        assert_refused(&es, &g_train, bad, metas[i].want);
        assert_null(strchr(nb_last_error(), '\x1b'));
    }
    static const struct {
        const char *edit, *want;
    } cells[] = {
        {"0,1,-0.5", "metadata \"history\": row 1, lr is -0.5, not a finite number >= 0"},
        {"0,2,-3", "row 1, train loss is -3, not >= 0"},
        {"1,3,2", "row 2, train accuracy is 2, not in [0, 1]"},
        {"0,3,-1", "row 1, train accuracy is -1, not in [0, 1]"}, /* -1: no classes */
        {"0,4,-1", "row 1, val loss is -1, not >= 0"},            /* -1: no validation set */
        {"1,5,1.5", "row 2, val accuracy is 1.5, not in [0, 1]"},
        {"0,6,-2", "row 1, seconds is -2, not a finite number >= 0"},
        /* Never null: the trainer records no NaN loss or accuracy. */
        {"0,2,null", "row 1, train loss is null, not >= 0"},
        {"1,3,null", "row 2, train accuracy is null, not in [0, 1]"},
        {"0,4,null", "row 1, val loss is null, not >= 0"},
        {"1,5,null", "row 2, val accuracy is null, not in [0, 1]"},
        {"1,1,null", "row 2, lr is null, not a finite number >= 0"},
        /* The rate is the schedule's (constant 0.01 here). */
        {"1,1,0.5", "row 2, lr is 0.5, but this run's schedule gives epoch 2 0.01"},
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        write_edited(good, bad, set_history_cell, cells[i].edit);
        assert_refused(&es, &g_train, bad, cells[i].want);
    }
    /* \u0000 or a raw control character in the header itself: a name or a
     * value would read as a shorter one. */
    write_text_edited(good, bad, "\"spec\":\"dense:12,relu,dense:3\"",
                      "\"spec\":\"dense:12,relu,dense:3\\u0000x\"");
    assert_refused(&es, &g_train, bad,
                   "the header: the string after key \"spec\" holds \\u0000 (a NUL, where readers "
                   "cut it short) at file byte");
    write_text_edited(good, bad, "\"dense0.bias\":", "\"dense0.bias\\u0000x\":");
    assert_refused(&es, &g_train, bad, "the header: the key \"dense0.bias...\" holds \\u0000");
    write_text_edited(good, bad, "\"loss\":\"softmax_ce\"", "\"loss\":\"softmax_ce\x01\"");
    assert_refused(&es, &g_train, bad,
                   "the string after key \"loss\" holds a raw control character 0x01");
}

/* ------------------------------------------ (d) the restored history */

/* The epoch-end reports of a run, as the progress callback sees them. */
typedef struct reports {
    int n;
    int epoch[16], restored[16];
    nb_epoch_stats stats[16];
} reports;

static int record_epochs(const nb_progress *p, void *user)
{
    reports *r = user;
    if (!p->stats || r->n >= 16) return 0;
    r->epoch[r->n] = p->epoch;
    r->restored[r->n] = p->restored;
    r->stats[r->n++] = *p->stats;
    /* Asks to stop: ignored for a restored epoch, honoured for a new one. */
    return p->restored;
}

/* A resumed run first reports the epochs its checkpoint finished, flagged
 * restored and equal to the uninterrupted run's (but for seconds), then
 * the new ones: a log rebuilt from the reports holds every epoch once. */
static void test_restored_epochs_reported(void **state)
{
    (void)state;
    char ckpt[128];
    path_in_dir("restored.ckpt", ckpt, sizeof ckpt);
    nb_train_result ra, rb;
    nb_model *a = reference(&adam, &ra);
    nb_model *m = new_model(&adam, 11);
    interrupt_at(m, &adam, ckpt, NULL, 3, 2, 3, 2);
    nb_model_free(m);
    reports got = {0};
    nb_model *b = new_model(&adam, 99);
    nb_train_config c = make_config(&adam);
    c.resume_path = ckpt;
    c.progress = record_epochs;
    c.progress_user = &got;
    assert_ok(nb_train(b, &g_train, &g_val, &c, &rb));
    assert_same_run(a, &ra, b, &rb);
    assert_string_equal(rb.stop_reason, "epochs");
    assert_int_equal(got.n, adam.epochs);
    for (int i = 0; i < got.n; i++) {
        const nb_epoch_stats *x = &got.stats[i], *y = &ra.history[i];
        assert_int_equal(got.epoch[i], i + 1);
        assert_int_equal(got.restored[i], i < 2); /* epochs 1 and 2 finished before */
        assert_int_equal(x->epoch, i + 1);
        assert_memory_equal(&x->lr, &y->lr, sizeof x->lr);
        assert_memory_equal(&x->train_loss, &y->train_loss, sizeof x->train_loss);
        assert_memory_equal(&x->train_accuracy, &y->train_accuracy, sizeof x->train_accuracy);
        assert_memory_equal(&x->val_loss, &y->val_loss, sizeof x->val_loss);
        assert_memory_equal(&x->val_accuracy, &y->val_accuracy, sizeof x->val_accuracy);
        assert_true(isnan(x->val_mae) && isnan(x->val_rmse) && isnan(x->val_r2));
    }
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
}

/* ------------------------------ (e) the checkpoint after the last epoch */

/* What a run reports: its batches and its epoch-end reports. */
typedef struct tally {
    int batches, restored, fresh;
} tally;

static int count_reports(const nb_progress *p, void *user)
{
    tally *t = user;
    if (!p->stats)
        t->batches++;
    else if (p->restored)
        t->restored++;
    else
        t->fresh++;
    return 0;
}

/* Saves every `every` epochs through the whole run: the file holds
 * `want_epoch`, batch 0 and one history row per epoch before it; the run
 * resumed from it takes `want_batches` steps and ends as one without
 * checkpoints. */
static void epoch_checkpoints(const setup *s, const char *name, int every, int want_epoch,
                              int want_batches)
{
    char ckpt[128], text[16];
    path_in_dir(name, ckpt, sizeof ckpt);
    nb_train_result ra, rc, rb;
    nb_model *a = reference(s, &ra);
    nb_model *m = new_model(s, 11);
    nb_train_config c = make_config(s);
    c.checkpoint_path = ckpt;
    c.checkpoint_epochs = every;
    assert_ok(nb_train(m, &g_train, s->with_val ? &g_val : NULL, &c, &rc));
    assert_same_run(a, &ra, m, &rc); /* saving changes nothing */
    nb_model_free(m);
    nb_train_result_free(&rc);

    nb_ckpt_file f;
    assert_ok(nb_ckpt_file_open(ckpt, &f));
    snprintf(text, sizeof text, "%d", want_epoch);
    assert_string_equal(nb_ckpt_file_meta(&f, "epoch"), text);
    assert_string_equal(nb_ckpt_file_meta(&f, "batch"), "0");
    cJSON *history = cJSON_Parse(nb_ckpt_file_meta(&f, "history"));
    assert_non_null(history);
    assert_int_equal(cJSON_GetArraySize(history), want_epoch - 1);
    cJSON_Delete(history);
    nb_ckpt_file_close(&f);

    tally t = {0, 0, 0};
    nb_model *b = new_model(s, 99);
    c = make_config(s);
    c.resume_path = ckpt;
    c.progress = count_reports;
    c.progress_user = &t;
    assert_ok(nb_train(b, &g_train, s->with_val ? &g_val : NULL, &c, &rb));
    assert_same_run(a, &ra, b, &rb);
    assert_int_equal(t.batches, want_batches);
    assert_int_equal(t.restored, want_epoch - 1);
    assert_int_equal(t.fresh, ra.epochs_run - (want_epoch - 1));
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    g_points++;
}

static void test_checkpoint_after_last_epoch(void **state)
{
    (void)state;
    /* Due after the last of 6 epochs: epoch 7, batch 0, nothing left to
     * run (5 batches per epoch). */
    epoch_checkpoints(&momentum, "last-1e.ckpt", 1, 7, 0);
    /* With early stopping's best weights and a validation set. */
    nb_train_result r;
    nb_model_free(reference(&es, &r));
    assert_string_equal(r.stop_reason, "epochs");
    nb_train_result_free(&r);
    epoch_checkpoints(&es, "last-3e.ckpt", 3, 7, 0);
    /* Every 4 epochs: the last save is after epoch 4; 2 epochs are left. */
    epoch_checkpoints(&momentum, "last-4e.ckpt", 4, 5, 10);
    /* A run that stops early saves nothing at its stop: resuming runs the
     * last epoch again and stops there (10 batches per epoch). */
    setup s = {"dense:32,relu,dense:3", NB_OPT_MOMENTUM, 0.5, NB_SCHEDULE_CONSTANT, 16, 60, 3, 1};
    nb_model_free(reference(&s, &r));
    assert_string_equal(r.stop_reason, "early stopping");
    int stopped = r.epochs_run;
    nb_train_result_free(&r);
    epoch_checkpoints(&s, "stopped-1e.ckpt", 1, stopped, 10);
}

/* Every history row cut to its first 7 cells: a format_version 1 file. */
static void history_v1(cJSON *root, const char *arg)
{
    (void)arg;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON *h = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(meta, "history")->valuestring);
    for (cJSON *row = h->child; row; row = row->next) {
        assert_int_equal(cJSON_GetArraySize(row), 10);
        while (cJSON_GetArraySize(row) > 7) cJSON_DeleteItemFromArray(row, 7);
    }
    char *text = cJSON_PrintUnformatted(h);
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "history", cJSON_CreateString(text));
    cJSON_free(text);
    cJSON_Delete(h);
}

/* A version 2 checkpoint's history rows hold the regression metrics
 * (null in a classifier's); version 1 rows, without them, still resume. */
static void test_history_versions(void **state)
{
    (void)state;
    char good[128], bad[128], v1[128];
    good_checkpoint(good, sizeof good);
    path_in_dir("bad.ckpt", bad, sizeof bad);
    path_in_dir("v1.ckpt", v1, sizeof v1);
    write_edited(good, bad, history_v1, NULL);
    assert_refused(&es, &g_train, bad,
                   "metadata \"history\": row 1 is not [1, lr, train loss, train accuracy, val "
                   "loss, val accuracy, seconds, val MAE, val RMSE, val R2]");
    write_edited(good, bad, set_meta, "format_version=1");
    assert_refused(&es, &g_train, bad,
                   "row 1 is not [1, lr, train loss, train accuracy, val loss, val accuracy, "
                   "seconds]");
    write_edited(good, bad, set_history_cell, "1,7,0.5");
    assert_refused(&es, &g_train, bad, "row 2, val MAE is 0.5, not null (this run has none)");
    write_edited(good, bad, history_v1, NULL);
    write_edited(bad, v1, set_meta, "format_version=1");
    nb_train_result r;
    nb_model *m = resume_from(&es, v1, &r);
    assert_true(r.epochs_run > 2);
    nb_model_free(m);
    nb_train_result_free(&r);
}

/* format_version 3 stores the model file's graph text ("graph", the same
 * whatever batch the model is compiled for) and its constants' hashes, and
 * checks them, read strictly: a difference names the first node that
 * differs and shows both; the spelling of the JSON does not matter. A
 * version 2 file, with a spec and no graph, still resumes bit for bit. */
static void test_graph_and_version_2(void **state)
{
    (void)state;
    char good[128], bad[128], bad2[128], v2[128];
    good_checkpoint(good, sizeof good);
    path_in_dir("bad.ckpt", bad, sizeof bad);
    path_in_dir("bad2.ckpt", bad2, sizeof bad2);
    path_in_dir("v2.ckpt", v2, sizeof v2);
    nb_model *m = NULL;
    char *graph = NULL;
    assert_ok(nb_model_create(es.spec, 2, "softmax_ce", 5, &m)); /* another batch */
    assert_ok(nb_model_graph_json(m, &graph));
    nb_model_free(m);
    nb_ckpt_file f;
    assert_ok(nb_ckpt_file_open(good, &f));
    assert_string_equal(nb_ckpt_file_meta(&f, "format_version"), "4");
    assert_string_equal(nb_ckpt_file_meta(&f, "spec"), "dense:12,relu,dense:3");
    assert_string_equal(nb_ckpt_file_meta(&f, "graph"), graph);
    assert_string_equal(nb_ckpt_file_meta(&f, "constants"), "{}");
    nb_ckpt_file_close(&f);
    assert_non_null(strstr(graph,
                           "{\"nodes\":[{\"name\":\"x\",\"op\":\"input\",\"shape\":[\"N\",2]},"
                           "{\"name\":\"dense0.weight\",\"op\":\"param\""));
    assert_non_null(strstr(graph, "{\"name\":\"dense0.out\",\"op\":\"affine\",\"inputs\":[\"x\","
                                  "\"dense0.weight\",\"dense0.bias\"],\"shape\":[\"N\",12]}"));
    nb_free(graph);

#define W1                                                                                         \
    "{\"name\":\"dense1.weight\",\"op\":\"param\",\"init\":{\"kind\":\"xavier_uniform\","          \
    "\"a\":0,\"b\":0,\"fan_in\":12,\"fan_out\":3},\"shape\":"
#define LOSS                                                                                       \
    "{\"name\":\"loss\",\"op\":\"softmax_with_loss\",\"inputs\":[\"dense1.out\","                  \
    "\"target\"],\"shape\":[]}"
    /* One edit each: another graph, or one not read strictly. */
    static const struct {
        void (*edit)(cJSON *root, const char *arg);
        const char *arg, *want;
    } edits[] = {
        {set_meta, "graph=", "metadata \"graph\" is missing"},
        {edit_meta_text, "graph|\"shape\":[12,3]|\"shape\":[12,4]",
         "it was written for another graph: its node 5 \"dense1.weight\" is " W1
         "[12,4]}, this model's is " W1 "[12,3]}"},
        {edit_meta_text,
         "graph|\"shape\":[]}]|\"shape\":[]},{\"name\":\"extra\",\"op\":\"const\",\"shape\":[2]}]",
         "it was written for a graph of 11 nodes, this model's has 10 (node 10: "
         "{\"name\":\"extra\",\"op\":\"const\",\"shape\":[2]} only in the file)"},
        {edit_meta_text, "graph|\"output\":\"dense1.out\"|\"output\":\"relu4\"",
         "it was written for another graph: its roles are {\"inputs\":[\"x\"],\"output\":"
         "\"relu4\",\"target\":\"target\",\"loss\":\"loss\"}, this model's are "
         "{\"inputs\":[\"x\"],\"output\":\"dense1.out\","},
        {edit_meta_text, "graph|\"inputs\":[\"x\"]|\"inputs\":[\"target\"]",
         "its roles are {\"inputs\":[\"target\"]"},
        {set_meta, "graph=[1]", "metadata \"graph\": not a JSON object"},
        {set_meta, "graph={}", "metadata \"graph\": \"nodes\" is not an array of 1 to"},
        {edit_meta_text, "graph|\"output\"|\"odd\":1,\"output\"",
         "metadata \"graph\": unknown field \"odd\""},
        {edit_meta_text, "graph|\"output\"|\"loss\":\"loss\",\"output\"",
         "key \"loss\" appears twice"},
        {set_meta, "constants=", "metadata \"constants\" is missing"},
        {set_meta, "constants=[]", "metadata \"constants\" is not a JSON object"},
        {set_meta, "constants={\"dense0.bias\":\"0\"}",
         "metadata \"constants\": \"dense0.bias\" is no constant of the graph"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        write_edited(good, bad, edits[i].edit, edits[i].arg);
        assert_refused(&es, &g_train, bad, edits[i].want);
    }
    /* A node only in the model (the loss role moved off it). */
    write_edited(good, bad, edit_meta_text, "graph|," LOSS "|");
    write_edited(bad, bad2, edit_meta_text, "graph|\"loss\":\"loss\"|\"loss\":\"dense1.out\"");
    assert_refused(&es, &g_train, bad2,
                   "it was written for a graph of 9 nodes, this model's has 10 (node 9: " LOSS
                   " only in this model)");
#undef W1
#undef LOSS
    /* Only the graph counts, not how its JSON is spelt: other key order,
     * other number forms, white space. */
    write_edited(good, bad, edit_meta_text,
                 "graph|\"fan_in\":12,\"fan_out\":3},\"shape\":[12,3]|\"fan_out\":3.0, "
                 "\"fan_in\":1.2e1},\"shape\":[ 12,3 ]");
    nb_train_result ra, rb;
    nb_model *a = reference(&es, &ra);
    nb_model *b = resume_from(&es, bad, &rb);
    assert_same_run(a, &ra, b, &rb);
    nb_model_free(b);
    nb_train_result_free(&rb);

    /* Version 2: the spec is required and no graph is (nor constants
     * without it). */
    write_edited(good, bad, set_meta, "graph=");
    write_edited(bad, v2, set_meta, "format_version=2");
    assert_refused(&es, &g_train, v2, "metadata \"constants\" comes without \"graph\"");
    write_edited(bad, bad2, set_meta, "constants=");
    write_edited(bad2, v2, set_meta, "format_version=2");
    b = resume_from(&es, v2, &rb);
    assert_same_run(a, &ra, b, &rb);
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    write_edited(v2, bad, set_meta, "spec=");
    assert_refused(&es, &g_train, bad, "metadata \"spec\" is missing");

    /* Version 3: no "random_draws" (no op drew random numbers then). */
    char v3[128];
    path_in_dir("v3.ckpt", v3, sizeof v3);
    write_edited(good, bad, set_meta, "random_draws=");
    write_edited(bad, v3, set_meta, "format_version=3");
    a = reference(&es, &ra);
    b = resume_from(&es, v3, &rb);
    assert_same_run(a, &ra, b, &rb);
    nb_model_free(a);
    nb_model_free(b);
    nb_train_result_free(&ra);
    nb_train_result_free(&rb);
    assert_refused(&es, &g_train, bad, "metadata \"random_draws\" is missing");
}

/* --------------------------------------------------- (d) write failures */

static int count_temp_files(void)
{
    int n = 0;
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_write_failure_keeps_previous(void **state)
{
    (void)state;
    char ckpt[128];
    path_in_dir("keep.ckpt", ckpt, sizeof ckpt);
    nb_model *m = new_model(&adam, 11);
    interrupt_at(m, &adam, ckpt, NULL, 1, 2, 1, 2);
    size_t size;
    unsigned char *before = read_file(ckpt, &size);

    /* A folder that does not exist. */
    volatile int flag = 0;
    trigger t = {1, 1, SET_FLAG, &flag, 0};
    nb_train_config c = make_config(&adam);
    c.checkpoint_path = "no-such-folder/x/ck";
    c.interrupt = &flag;
    c.progress = on_progress;
    c.progress_user = &t;
    nb_train_result r;
    assert_int_equal(nb_train(m, &g_train, &g_val, &c, &r), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "no-such-folder/x/ck"));
    assert_non_null(strstr(nb_last_error(), "interrupted at epoch 1, batch 1"));

    /* A full disk at the same path: writes past half the checkpoint's size
     * fail (EFBIG, the signal ignored). */
    assert_true(size > 64);
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = size / 2;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    flag = 0;
    t = (trigger){2, 4, SET_FLAG, &flag, 0};
    c.checkpoint_path = ckpt;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    nb_status st = nb_train(m, &g_train, &g_val, &c, &r);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, NB_ERR_IO);
    print_message("full disk: %s\n", nb_last_error());
    assert_non_null(strstr(nb_last_error(), ckpt));
    size_t after_size;
    unsigned char *after = read_file(ckpt, &after_size);
    assert_int_equal(after_size, size);
    assert_memory_equal(after, before, size);
    assert_int_equal(count_temp_files(), 0);

    /* Periodic checkpoints stop the run the same way. */
    c = make_config(&adam);
    c.checkpoint_path = "no-such-folder/periodic";
    c.checkpoint_batches = 2;
    assert_int_equal(nb_train(m, &g_train, &g_val, &c, &r), NB_ERR_IO);
    free(before);
    free(after);
    nb_model_free(m);
}

/* ------------------------------------ (h) what a hostile file smuggles */

/* A copy of from with element index of tensor name set to v, stored as
 * the file stores it (this build's number type, little-endian). */
static void write_tensor_edited(const char *from, const char *to, const char *name, size_t index,
                                double v)
{
    size_t size;
    unsigned char *b = read_file(from, &size);
    uint64_t len = get_le64(b);
    cJSON *root = cJSON_ParseWithLength((const char *)b + 8, (size_t)len);
    assert_non_null(root);
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, name), "data_offsets");
    assert_non_null(offsets);
    size_t at = 8 + (size_t)len + (size_t)cJSON_GetArrayItem(offsets, 0)->valuedouble +
                index * sizeof(nb_real);
    assert_true(at + sizeof(nb_real) <= size);
    nb_real x = (nb_real)v;
    uint64_t bits = 0;
    if (sizeof x == 8) {
        memcpy(&bits, &x, 8);
    } else {
        uint32_t u;
        memcpy(&u, &x, 4);
        bits = u;
    }
    for (size_t i = 0; i < sizeof x; i++) b[at + i] = (unsigned char)(bits >> (8 * i));
    write_file(to, b, size);
    cJSON_Delete(root);
    free(b);
}

/* Resuming from path fails with NB_ERR_FORMAT (the CLI's "checkpoint
 * invalid") and want in the message. */
static void assert_invalid(const setup *s, const char *path, const char *want)
{
    assert_refused(s, &g_train, path, want);
    nb_model *m = new_model(s, 99);
    nb_train_config c = make_config(s);
    c.resume_path = path;
    nb_train_result r;
    assert_int_equal(nb_train(m, &g_train, s->with_val ? &g_val : NULL, &c, &r), NB_ERR_FORMAT);
    nb_train_result_free(&r);
    nb_model_free(m);
}

/* An optimizer state no run can reach is a corrupt checkpoint, not a
 * numeric error of the resumed training: the slots that hold squared
 * gradients (AdaGrad's sum, RMSProp's average, Adam's second moment) are
 * never negative, and no value anywhere is NaN or infinite. The slots that
 * may be negative (momentum, Adam's first moment) still resume. */
static void test_refuses_impossible_optimizer_state(void **state)
{
    (void)state;
    char good[128], bad[128];
    good_checkpoint(good, sizeof good); /* adam, with the best weights */
    path_in_dir("slots.ckpt", bad, sizeof bad);
    write_tensor_edited(good, bad, "optimizer.slot1", 3, -1);
    assert_invalid(&es, bad,
                   "tensor \"optimizer.slot1\" (adam's second moment, an average of squared "
                   "gradients): element 3 is -1, not a finite number >= 0");
    write_tensor_edited(good, bad, "optimizer.slot1", 0, INFINITY);
    assert_invalid(&es, bad, "tensor \"optimizer.slot1\": element 0 is not a finite");
    write_tensor_edited(good, bad, "optimizer.slot0", 2, NAN);
    assert_invalid(&es, bad, "tensor \"optimizer.slot0\": element 2 is not a finite");
    write_tensor_edited(good, bad, "early_stopping.best", 5, NAN);
    assert_invalid(&es, bad, "tensor \"early_stopping.best\": element 5 is not a finite");
    write_tensor_edited(good, bad, "early_stopping.best", 1, -INFINITY);
    assert_invalid(&es, bad, "tensor \"early_stopping.best\": element 1 is not a finite");
    write_tensor_edited(good, bad, "dense0.weight", 0, INFINITY);
    assert_invalid(&es, bad, "tensor \"dense0.weight\": element 0 is not a finite");
    /* Adam's first moment may be negative. */
    nb_train_result r;
    write_tensor_edited(good, bad, "optimizer.slot0", 2, -0.5);
    nb_model_free(resume_from(&es, bad, &r));
    nb_train_result_free(&r);

    static const struct {
        nb_optimizer_kind kind;
        const char *slot, *want; /* want NULL: the slot may be negative */
    } kinds[] = {
        {NB_OPT_RMSPROP, "optimizer.slot0",
         "tensor \"optimizer.slot0\" (rmsprop's average of squared gradients): element 7 is "
         "-0.25, not a finite number >= 0"},
        {NB_OPT_ADAGRAD, "optimizer.slot0",
         "tensor \"optimizer.slot0\" (adagrad's sum of squared gradients): element 7 is -0.25, "
         "not a finite number >= 0"},
        {NB_OPT_ADAMW, "optimizer.slot1",
         "tensor \"optimizer.slot1\" (adamw's second moment, an average of squared gradients): "
         "element 7 is -0.25, not a finite number >= 0"},
        {NB_OPT_MOMENTUM, "optimizer.slot0", NULL},
        {NB_OPT_NESTEROV, "optimizer.slot0", NULL},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        setup s = {"dense:12,relu,dense:3", kinds[i].kind, 0.01, NB_SCHEDULE_CONSTANT, 32, 4, 0, 0};
        char ckpt[128];
        path_in_dir("kind.ckpt", ckpt, sizeof ckpt);
        nb_model *m = new_model(&s, 11);
        interrupt_at(m, &s, ckpt, NULL, 2, 2, 2, 2);
        nb_model_free(m);
        write_tensor_edited(ckpt, bad, kinds[i].slot, 7, -0.25);
        if (kinds[i].want) {
            assert_invalid(&s, bad, kinds[i].want);
            /* The same slot, positive, resumes. */
            write_tensor_edited(ckpt, bad, kinds[i].slot, 7, 0.25);
        }
        nb_model_free(resume_from(&s, bad, &r));
        assert_string_equal(r.stop_reason, "epochs");
        nb_train_result_free(&r);
    }
}

/* The epoch's running sums agree with the position: no loss without a
 * sample. */
static void test_refuses_sums_without_samples(void **state)
{
    (void)state;
    char good[128], a[128], b[128];
    good_checkpoint(good, sizeof good); /* epoch 3, batch 3 of 5 */
    path_in_dir("sums-a.ckpt", a, sizeof a);
    path_in_dir("sums-b.ckpt", b, sizeof b);
    /* Moved to the start of epoch 3, the sums left as they were. */
    write_edited(good, a, set_meta, "batch=0");
    write_edited(a, b, set_meta, "optimizer_steps=10");
    write_edited(b, a, set_meta, "seen=0");
    write_edited(a, b, set_meta, "correct=0");
    assert_invalid(&es, b, "metadata \"loss_sum\" is ");
    assert_non_null(strstr(nb_last_error(), "with no sample seen in the epoch"));
    /* ... and with them cleared it is a good checkpoint. */
    write_edited(b, a, set_meta, "loss_sum=0");
    nb_train_result r;
    nb_model_free(resume_from(&es, a, &r));
    nb_train_result_free(&r);
}

/* Settings that cannot work are refused before training. */
static void test_config_checks(void **state)
{
    (void)state;
    nb_model *m = new_model(&adam, 1);
    nb_train_result r;
    volatile int flag = 0;
    nb_train_config c = make_config(&adam);
    c.interrupt = &flag;
    assert_int_equal(nb_train(m, &g_train, &g_val, &c, &r), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "needs a checkpoint_path"));
    c = make_config(&adam);
    c.checkpoint_batches = 3;
    assert_int_equal(nb_train(m, &g_train, &g_val, &c, &r), NB_ERR_ARGUMENT);
    c = make_config(&adam);
    c.checkpoint_path = "x";
    c.checkpoint_minutes = -1;
    assert_int_equal(nb_train(m, &g_train, &g_val, &c, &r), NB_ERR_ARGUMENT);
    nb_model_free(m);
}

static void test_summary(void **state)
{
    (void)state;
    print_message("interruption points resumed bit-identically: %d; checkpoints refused: %d\n",
                  g_points, g_refused);
    assert_true(g_points >= 15);
    assert_true(g_refused >= 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_momentum),
        cmocka_unit_test(test_interrupt_adam_with_validation),
        cmocka_unit_test(test_interrupt_early_stopping),
        cmocka_unit_test(test_interrupt_twice),
        cmocka_unit_test(test_checkpoint_holds_model_tensors),
        cmocka_unit_test(test_periodic_batches),
        cmocka_unit_test(test_periodic_epochs),
        cmocka_unit_test(test_periodic_minutes),
        cmocka_unit_test(test_refuses_other_model_data_settings),
        cmocka_unit_test(test_refuses_corrupt_checkpoints),
        cmocka_unit_test(test_refuses_ambiguous_checkpoints),
        cmocka_unit_test(test_restored_epochs_reported),
        cmocka_unit_test(test_checkpoint_after_last_epoch),
        cmocka_unit_test(test_history_versions),
        cmocka_unit_test(test_graph_and_version_2),
        cmocka_unit_test(test_write_failure_keeps_previous),
        cmocka_unit_test(test_config_checks),
        cmocka_unit_test(test_refuses_impossible_optimizer_state),
        cmocka_unit_test(test_refuses_sums_without_samples),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
