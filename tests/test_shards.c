/* Shards without MPI: a batch trained in K fixed shards gives bit for bit
 * the same weights (and batch norm's running estimates) whether one
 * process computes every shard or 2 or 4 "processes" (threads joined by an
 * in-process nb_comm) each compute a block of them; with no batch norm or
 * dropout the shards' weighted sum is the whole batch's gradient, so K = 4
 * stays within rounding of K = 1; a stop that one process decides stops
 * all; impossible shard counts are refused with a message naming them. */
#include "check.h"

#include <pthread.h>
#include <string.h>

#define MAX_RANKS 4

/* The in-process transport: each exchange and agreement is two barrier
 * waits around a shared table. */
typedef struct fake_world {
    int size;
    pthread_barrier_t barrier;
    const void *send[MAX_RANKS];
    int values[MAX_RANKS][4];
} fake_world;

typedef struct fake_rank {
    fake_world *world;
    int rank;
} fake_rank;

static nb_status fake_exchange(void *user, int peer, const void *send, void *recv, size_t bytes)
{
    fake_rank *r = user;
    r->world->send[r->rank] = send;
    pthread_barrier_wait(&r->world->barrier);
    memcpy(recv, r->world->send[peer], bytes);
    pthread_barrier_wait(&r->world->barrier);
    return NB_OK;
}

static nb_status fake_agree(void *user, int *values, int count)
{
    fake_rank *r = user;
    fake_world *w = r->world;
    memcpy(w->values[r->rank], values, (size_t)count * sizeof *values);
    pthread_barrier_wait(&w->barrier);
    for (int i = 0; i < count; i++)
        for (int k = 0; k < w->size; k++)
            if (w->values[k][i] > values[i]) values[i] = w->values[k][i];
    pthread_barrier_wait(&w->barrier);
    return NB_OK;
}

static nb_dataset g_data;

typedef struct run {
    const char *spec;
    int shards, batch, epochs, stop_rank;
    nb_comm comm;
    fake_rank me;
    nb_status status;
    nb_real *state; /* the parameters then the buffers after training */
    size_t count;
    const char *stop_reason;
    int epochs_run;
} run;

/* Rank stop_rank asks to stop after its 3rd batch. */
static int ask_stop(const nb_progress *p, void *user)
{
    const run *r = user;
    return !p->stats && r->me.rank == r->stop_rank && p->epoch == 1 && p->batch == 3;
}

static void *train_one(void *arg)
{
    run *r = arg;
    nb_model *model = NULL;
    r->status = nb_model_create(r->spec, 2, "softmax_ce", r->batch, &model);
    if (r->status == NB_OK) r->status = nb_model_init(model, 3);
    nb_train_config c = nb_train_defaults();
    c.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    c.batch = r->batch;
    c.epochs = r->epochs;
    c.seed = 9;
    c.shards = r->shards;
    c.comm = r->comm.size > 0 ? &r->comm : NULL;
    if (r->stop_rank >= 0) {
        c.progress = ask_stop;
        c.progress_user = r;
    }
    nb_train_result result;
    if (r->status == NB_OK) r->status = nb_train(model, &g_data, NULL, &c, &result);
    if (r->status == NB_OK) {
        r->stop_reason = result.stop_reason;
        r->epochs_run = result.epochs_run;
        nb_train_result_free(&result);
        const nb_real *state = nb_graph_state(nb_model_graph(model), &r->count);
        r->state = nb_calloc(r->count, sizeof *r->state);
        memcpy(r->state, state, r->count * sizeof *state);
    }
    nb_model_free(model);
    return NULL;
}

/* Train with `ranks` threads (0: alone, no communicator); rank 0's run is
 * returned (the caller frees state), after checking every rank ended with
 * the same state. */
static run train(const char *spec, int shards, int ranks, int stop_rank)
{
    fake_world world = {.size = ranks};
    run runs[MAX_RANKS];
    pthread_t threads[MAX_RANKS];
    int n = ranks > 0 ? ranks : 1;
    if (ranks > 0) assert_int_equal(pthread_barrier_init(&world.barrier, NULL, (unsigned)ranks), 0);
    for (int k = 0; k < n; k++) {
        runs[k] =
            (run){.spec = spec, .shards = shards, .batch = 24, .epochs = 3, .stop_rank = stop_rank};
        runs[k].me = (fake_rank){&world, k};
        if (ranks > 0)
            runs[k].comm = (nb_comm){k, ranks, fake_exchange, fake_agree, NULL, &runs[k].me};
    }
    for (int k = 0; k < n; k++)
        assert_int_equal(pthread_create(&threads[k], NULL, train_one, &runs[k]), 0);
    for (int k = 0; k < n; k++) pthread_join(threads[k], NULL);
    if (ranks > 0) pthread_barrier_destroy(&world.barrier);
    for (int k = 0; k < n; k++) {
        if (runs[k].status != NB_OK) fail_msg("rank %d: %s", k, nb_last_error());
        assert_int_equal(runs[k].count, runs[0].count);
        assert_memory_equal(runs[k].state, runs[0].state, runs[0].count * sizeof *runs[0].state);
        assert_string_equal(runs[k].stop_reason, runs[0].stop_reason);
        if (k > 0) nb_free(runs[k].state);
    }
    return runs[0];
}

static int setup(void **state)
{
    (void)state;
    nb_set_threads(1);
    /* 100 samples: batches of 24 leave a last batch of 4 (shards of 6
     * rows: one of 4 rows and three empty). */
    return nb_dataset_spiral(50, 2, 5, &g_data) == NB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    nb_dataset_free(&g_data);
    return 0;
}

static const char *const spec_bn = "dense:16,batchnorm,relu,dropout:0.3,dense:2";

static void test_same_state_for_any_process_count(void **state)
{
    (void)state;
    run alone = train(spec_bn, 4, 0, -1);
    for (int ranks = 1; ranks <= 4; ranks *= 2) {
        run together = train(spec_bn, 4, ranks, -1);
        assert_int_equal(together.count, alone.count);
        assert_memory_equal(together.state, alone.state, alone.count * sizeof *alone.state);
        nb_free(together.state);
    }
    /* The comparison can fail: one shard is another model. */
    run whole = train(spec_bn, 1, 0, -1);
    assert_true(memcmp(whole.state, alone.state, alone.count * sizeof *alone.state) != 0);
    nb_free(whole.state);
    nb_free(alone.state);
}

static void test_shards_sum_to_the_batch_gradient(void **state)
{
    (void)state;
    const char *spec = "dense:16,tanh,dense:2";
    run one = train(spec, 1, 0, -1), four = train(spec, 4, 0, -1);
    double worst = 0;
    for (size_t i = 0; i < one.count; i++) {
        double d = fabs((double)one.state[i] - four.state[i]);
        if (d > worst) worst = d;
    }
    assert_true(worst < (sizeof(nb_real) == 4 ? 1e-4 : 1e-10));
    nb_free(one.state);
    nb_free(four.state);
}

static void test_one_stop_stops_all(void **state)
{
    (void)state;
    run r = train(spec_bn, 4, 4, 2); /* only rank 2's callback asks */
    assert_string_equal(r.stop_reason, "stopped");
    assert_int_equal(r.epochs_run, 1);
    nb_free(r.state);
}

static void test_refused(void **state)
{
    (void)state;
    nb_model *model = NULL;
    assert_int_equal(nb_model_create("dense:4,relu,dense:2", 2, NULL, 8, &model), NB_OK);
    nb_train_config c = nb_train_defaults();
    c.batch = 8;
    nb_train_result result;
    c.shards = 3;
    assert_int_equal(nb_train(model, &g_data, NULL, &c, &result), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "shards must be a power of two"));
    c.shards = 16;
    assert_int_equal(nb_train(model, &g_data, NULL, &c, &result), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "16 shards of a batch of 8"));
    fake_world world = {.size = 4};
    fake_rank me = {&world, 0};
    nb_comm comm = {0, 4, fake_exchange, fake_agree, NULL, &me};
    c.shards = 2;
    c.comm = &comm;
    assert_int_equal(nb_train(model, &g_data, NULL, &c, &result), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "2 shards cannot be shared by 4 processes"));
    comm.size = 3;
    c.shards = 0;
    assert_int_equal(nb_train(model, &g_data, NULL, &c, &result), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "3 processes"));
    nb_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_state_for_any_process_count),
        cmocka_unit_test(test_shards_sum_to_the_batch_gradient),
        cmocka_unit_test(test_one_stop_stops_all),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
