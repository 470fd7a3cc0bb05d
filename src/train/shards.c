/* Shards: every training batch split into fixed row ranges whose gradients
 * are summed in a fixed pairwise tree, so that the same tree comes out
 * whether one process computes every shard or 2^k processes (nb_comm)
 * each compute a block of them and combine their sums by recursive
 * doubling; and the agreements between processes on stopping. See
 * docs/mpi.md. Depends on batch.c (the batcher). */
#include "train_internal.h"

#include <math.h>
#include <string.h>

/* A partial sum is a head of doubles, then state_count values: the
 * weighted gradients, then the weighted buffers (batch norm's running
 * estimates as each shard left them). */
enum { H_LOSS, H_CORRECT, H_NUMERIC, H_FAILED, HEAD };

static int power_of_two(int n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

int nb_shards_rows(int batch, int shards)
{
    return shards > 1 ? (batch + shards - 1) / shards : batch;
}

int nb_shards_count(const nb_train_config *c)
{
    return c->shards > 0 ? c->shards : c->comm && c->comm->size > 0 ? c->comm->size : 1;
}

/* The communicator alone: a power-of-two size, a rank in it, functions. */
static nb_status check_comm(const nb_comm *m)
{
    if (!power_of_two(m->size))
        return nb_error(NB_ERR_ARGUMENT,
                        "training: %d processes: the process count must be a power of two "
                        "(1, 2, 4, ...)",
                        m->size);
    if (m->rank < 0 || m->rank >= m->size)
        return nb_error(NB_ERR_ARGUMENT, "training: rank %d is not in 0..%d", m->rank, m->size - 1);
    if (m->size > 1 && (!m->exchange || !m->agree))
        return nb_error(NB_ERR_ARGUMENT,
                        "training: the communicator of %d processes has no exchange or agree "
                        "function",
                        m->size);
    return NB_OK;
}

nb_status nb_shards_check(const nb_train_config *c)
{
    const nb_comm *m = c->comm;
    nb_status st = m ? check_comm(m) : NB_OK;
    if (st != NB_OK) return st;
    int k = nb_shards_count(c);
    if (c->shards < 0 || !power_of_two(k))
        return nb_error(NB_ERR_ARGUMENT,
                        "training: shards must be a power of two (1, 2, 4, ...), got %d",
                        c->shards);
    if (k > c->batch)
        return nb_error(NB_ERR_ARGUMENT,
                        "training: %d shards of a batch of %d: shards must be at most the batch", k,
                        c->batch);
    if (m && k % m->size != 0)
        return nb_error(NB_ERR_ARGUMENT,
                        "training: %d %s cannot be shared by %d processes: shards must be a "
                        "multiple of the process count",
                        k, nb_plural(k, "shard", "shards"), m->size);
    return NB_OK;
}

/* The smallest shard the threads split a batch into by themselves: below
 * it a matrix product runs too far from its speed for two threads to gain. */
#define MIN_SHARD_ROWS 32

/* Does the model's graph hold a buffer (batch norm's running estimates)?
 * Its values then depend on how a batch is split, so threads do not
 * split one unasked. */
static int has_buffers(nb_model *model)
{
    nb_graph *g = nb_model_graph(model);
    for (int i = 0; g && i < g->count; i++)
        if (g->nodes[i].kind == NB_NODE_BUFFER) return 1;
    return 0;
}

int nb_shards_plan(const nb_train_config *c, nb_model *model, int batch)
{
    int k = nb_shards_count(c);
    if (c->shards > 0 || has_buffers(model)) return k;
    int threads = nb_get_threads(), t = 1;
    while (2 * t <= threads && batch / (k * 2 * t) >= MIN_SHARD_ROWS) t *= 2;
    return k * t;
}

static nb_real *slot_values(double *slot)
{
    /* The head's doubles keep the values aligned for nb_real. */
    return (nb_real *)(void *)((unsigned char *)slot + HEAD * sizeof(double));
}

static nb_batcher *worker_batcher(nb_train_internal *in, int w)
{
    return w == 0 ? &in->b : &in->replica_b[w - 1];
}

/* Replicas of the model for workers 1 .. workers - 1, compiled for a
 * shard. */
static nb_status make_workers(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    int threads = nb_get_threads();
    in->workers = threads < in->own ? threads : in->own;
    if (in->workers <= 1) {
        in->workers = 1;
        return NB_OK;
    }
    int n = in->workers - 1;
    in->replicas = nb_calloc((size_t)n, sizeof *in->replicas);
    in->replica_b = nb_calloc((size_t)n, sizeof *in->replica_b);
    if (!in->replicas || !in->replica_b)
        return nb_error(NB_ERR_MEMORY, "training: no memory for %d workers", in->workers);
    for (int w = 0; w < n; w++) {
        nb_status st = nb_model_replica(s->model, &in->replicas[w]);
        if (st == NB_OK) st = nb_batcher_init(&in->replica_b[w], in->replicas[w], in->b.batch);
        if (st != NB_OK) return nb_error_prefix(st, "training: a worker's copy of the model");
    }
    return NB_OK;
}

nb_status nb_shards_prepare(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_comm *m = s->config.comm;
    int size = m ? m->size : 1, rank = m ? m->rank : 0;
    in->shard_rows = nb_shards_rows(s->batch_rows, in->shards);
    in->sharded = in->shards > 1 || size > 1;
    if (!in->sharded) return NB_OK;
    in->own = in->shards / size;
    in->first_shard = rank * in->own;
    in->levels = 1;
    while ((1 << (in->levels - 1)) < in->own) in->levels++;
    size_t values = in->state_count, params = s->param_count, buffers = values - params;
    size_t own = (size_t)in->own;
    if (values > (SIZE_MAX / 4 - HEAD * sizeof(double)) / sizeof(nb_real) / (own + 2))
        return nb_error(NB_ERR_MEMORY, "training: %zu values are too many to sum by shards",
                        values);
    if (size > 1) {
        size_t words = HEAD + (values * sizeof(nb_real) + sizeof(double) - 1) / sizeof(double);
        in->slot_bytes = words * sizeof(double);
        in->slots = nb_calloc(2 * words, sizeof(double));
    }
    in->step_buffers = nb_calloc(buffers + 1, sizeof(nb_real));
    in->shard_grads = nb_calloc(own * params, sizeof(nb_real));
    in->shard_buffers = nb_calloc(own * buffers + 1, sizeof(nb_real));
    in->shard_heads = nb_calloc(own * HEAD, sizeof(double));
    in->shard_weights = nb_calloc(own, sizeof(nb_real));
    in->shard_status = nb_calloc(own, sizeof(nb_status));
    in->shard_messages = nb_calloc(own, NB_ERROR_TEXT);
    if ((size > 1 && !in->slots) || !in->step_buffers || !in->shard_grads || !in->shard_buffers ||
        !in->shard_heads || !in->shard_weights || !in->shard_status || !in->shard_messages)
        return nb_error(NB_ERR_MEMORY, "training: no memory for %d partial sums of %zu values",
                        in->own, values);
    return make_workers(s);
}

void nb_shards_free(nb_train_internal *in)
{
    nb_free(in->slots);
    nb_free(in->step_buffers);
    nb_free(in->shard_grads);
    nb_free(in->shard_buffers);
    nb_free(in->shard_heads);
    nb_free(in->shard_weights);
    nb_free(in->shard_status);
    nb_free(in->shard_messages);
    for (int w = 0; in->replicas && w < in->workers - 1; w++) nb_model_free(in->replicas[w]);
    nb_free(in->replicas);
    nb_free(in->replica_b);
    in->slots = NULL;
    in->step_buffers = NULL;
    in->shard_grads = in->shard_buffers = in->shard_weights = NULL;
    in->shard_heads = NULL;
    in->shard_status = NULL;
    in->shard_messages = NULL;
    in->replicas = NULL;
    in->replica_b = NULL;
    in->workers = 0;
}

/* Shard j (0-based among this process's) of the loaded batch, computed by
 * worker w: its raw gradient in shard_grads, the weight it takes in the
 * sum (its share of the batch's loss), its buffers weighted by its share
 * of the rows, its summed loss and correct predictions in its head. A
 * shard past the batch's rows (a short last batch) is empty: all zero.
 * Every shard starts from the buffers and the random draw the step
 * started with. */
static nb_status run_shard(nb_train_state *s, int w, int j, uint64_t draws)
{
    nb_train_internal *in = s->internal;
    nb_batcher *b = worker_batcher(in, w);
    nb_graph *g = b->graph, *main = in->b.graph;
    size_t params = s->param_count, buffers = in->state_count - params;
    double *head = in->shard_heads + (size_t)j * HEAD;
    nb_real *grads = in->shard_grads + (size_t)j * params;
    nb_real *bufs = in->shard_buffers + (size_t)j * buffers;
    memset(head, 0, HEAD * sizeof *head);
    in->shard_weights[j] = 0;
    size_t first = (size_t)(in->first_shard + j) * (size_t)in->shard_rows;
    if (first >= (size_t)s->rows) {
        memset(grads, 0, params * sizeof *grads);
        memset(bufs, 0, buffers * sizeof *bufs);
        return NB_OK;
    }
    size_t left = (size_t)s->rows - first;
    int rows = left < (size_t)in->shard_rows ? (int)left : in->shard_rows;
    size_t start = s->batch * (size_t)s->batch_rows + first;
    /* The gradients go to the shard's own array; a replica reads the
     * model's parameters. */
    nb_graph_link(g, g == main ? NULL : main->params, grads);
    nb_real *state = nb_graph_state(g, NULL);
    memcpy(state + params, in->step_buffers, buffers * sizeof *state);
    nb_status st = nb_batcher_load(b, s->train, in->index, start, rows);
    if (st != NB_OK) return st;
    g->mode = main->mode;
    g->seed = main->seed;
    g->row_offset = first;
    g->draws = draws;
    if ((st = nb_graph_forward(g)) != NB_OK) return st;
    double loss = nb_node_value(g, b->loss)[0];
    if (!isfinite(loss))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the loss of shard %d (rows %zu..%zu) is %g at epoch %d, batch "
                        "%zu of %zu; the weights from before this step are kept",
                        in->first_shard + j, first, first + (size_t)rows - 1, loss, s->epoch,
                        s->batch + 1, s->batches);
    head[H_LOSS] = nb_batcher_loss_sum(b, rows);
    if (s->train->classes > 0) {
        const int32_t *labels = s->train->labels;
        size_t correct = 0;
        for (int i = 0; i < rows; i++)
            correct += nb_batcher_predict(b, i) == labels[in->index[start + (size_t)i]];
        head[H_CORRECT] = (double)correct;
    }
    if ((st = nb_graph_backward(g, b->loss)) != NB_OK) return st;
    /* The batch's loss is the mean over its rows (or their sum). */
    const nb_real share = (nb_real)((double)rows / s->rows);
    in->shard_weights[j] = b->summed ? 1 : share;
    for (size_t i = 0; i < buffers; i++) bufs[i] = state[params + i] * share;
    return NB_OK;
}

typedef struct shard_job {
    nb_train_state *s;
    uint64_t draws;
} shard_job;

/* Worker w's shards: w, w + workers, ...; a failure is kept with its
 * message (this thread's), and the worker's graph is given its own
 * gradient array back. */
static void run_worker(void *ctx, int w)
{
    const shard_job *job = ctx;
    nb_train_internal *in = job->s->internal;
    for (int j = w; j < in->own; j += in->workers) {
        nb_status st = run_shard(job->s, w, j, job->draws);
        in->shard_status[j] = st;
        if (st != NB_OK)
            snprintf(in->shard_messages + (size_t)j * NB_ERROR_TEXT, NB_ERROR_TEXT, "%s",
                     nb_last_error());
    }
    nb_graph *g = worker_batcher(in, w)->graph;
    nb_graph_link(g, w == 0 ? NULL : in->b.graph->params, NULL);
    g->row_offset = 0;
}

/* The shards' weighted values summed in the fixed tree: out[i] = the tree
 * over j of v_j[i] * w_j (v_j = base + j * stride), for i in [begin, end).
 * A stack of partial sums, two of the same size added as soon as both
 * exist (count is a power of two), a block of elements at a time. */
#define TREE_BLOCK  256
#define TREE_LEVELS 26 /* log2 of the most shards (2^24) plus 2 */

typedef struct tree_job {
    const nb_real *base;
    size_t stride;
    const nb_real *weights; /* NULL: all 1 */
    int count;
    nb_real *out;
} tree_job;

static void tree_range(void *ctx, size_t begin, size_t end)
{
    const tree_job *t = ctx;
    nb_real stack[TREE_LEVELS][TREE_BLOCK];
    for (size_t at = begin; at < end; at += TREE_BLOCK) {
        size_t n = end - at < TREE_BLOCK ? end - at : TREE_BLOCK;
        int top = 0;
        for (int j = 0; j < t->count; j++) {
            const nb_real *restrict v = t->base + (size_t)j * t->stride + at;
            nb_real *restrict x = stack[top++];
            const nb_real w = t->weights ? t->weights[j] : 1;
            for (size_t i = 0; i < n; i++) x[i] = v[i] * w;
            for (int c = j + 1; (c & 1) == 0; c >>= 1, top--) {
                nb_real *restrict a = stack[top - 2];
                const nb_real *restrict y = stack[top - 1];
                for (size_t i = 0; i < n; i++) a[i] += y[i];
            }
        }
        memcpy(t->out + at, stack[0], n * sizeof *t->out);
    }
}

/* The heads (doubles) in the same tree into sum. */
static void tree_heads(const nb_train_internal *in, double *sum)
{
    double stack[TREE_LEVELS][HEAD];
    int top = 0;
    for (int j = 0; j < in->own; j++) {
        memcpy(stack[top++], in->shard_heads + (size_t)j * HEAD, sizeof stack[0]);
        for (int c = j + 1; (c & 1) == 0; c >>= 1, top--)
            for (int i = 0; i < HEAD; i++) stack[top - 2][i] += stack[top - 1][i];
    }
    memcpy(sum, stack[0], sizeof stack[0]);
}

/* This process's shards, computed by its workers at once, then summed:
 * the head into head, the gradients into grads, the buffers into bufs.
 * The first failing shard's status and message are the result; the head
 * says which kind of failure it was. */
static nb_status sum_own(nb_train_state *s, double *head, nb_real *grads, nb_real *bufs)
{
    nb_train_internal *in = s->internal;
    nb_graph *g = in->b.graph;
    const uint64_t draws = g->draws;
    shard_job job = {s, draws};
    nb_parallel(in->workers, run_worker, &job);
    /* The step took one draw, as one pass over the whole batch does. */
    g->draws = draws + (g->first_random >= 0 ? 1 : 0);
    nb_status mine = NB_OK;
    int failed = 0;
    for (int j = 0; j < in->own && mine == NB_OK; j++)
        if ((mine = in->shard_status[j]) != NB_OK) failed = j;
    size_t params = s->param_count, buffers = in->state_count - params;
    if (mine == NB_OK) {
        tree_heads(in, head);
        tree_job t = {in->shard_grads, params, in->shard_weights, in->own, grads};
        nb_parallel_for(params, 4 * TREE_BLOCK, tree_range, &t);
        tree_job b = {in->shard_buffers, buffers, NULL, in->own, bufs};
        tree_range(&b, 0, buffers);
        return NB_OK;
    }
    memset(head, 0, HEAD * sizeof *head);
    head[mine == NB_ERR_NUMERIC ? H_NUMERIC : H_FAILED] = 1;
    return nb_error(mine, "%s", in->shard_messages + (size_t)failed * NB_ERROR_TEXT);
}

/* Recursive doubling: at distance d = 1, 2, 4, ... each process swaps
 * its sum with rank ^ d and both add the pair, lower block first, which
 * continues the tree of the shards above the processes' blocks. (IEEE
 * addition is commutative, so the pair gives the same bits on the two
 * processes that both add it; the tree's shape is what is fixed.) */
static nb_status combine(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_comm *m = s->config.comm;
    double *sum = in->slots, *peer = in->slots + in->slot_bytes / sizeof(double);
    for (int d = 1; d < m->size; d <<= 1) {
        int other = m->rank ^ d;
        nb_status st = m->exchange(m->user, other, sum, peer, in->slot_bytes);
        if (st != NB_OK)
            return nb_error_prefix(st, "training: rank %d: exchanging the gradients with rank %d",
                                   m->rank, other);
        for (int i = 0; i < HEAD; i++) sum[i] += peer[i];
        nb_real *restrict x = slot_values(sum);
        const nb_real *restrict y = slot_values(peer);
        for (size_t i = 0; i < in->state_count; i++) x[i] += y[i];
    }
    return NB_OK;
}

nb_status nb_shards_forward_backward(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_comm *m = s->config.comm;
    nb_graph *g = in->b.graph;
    nb_real *state = nb_graph_state(g, NULL);
    size_t params = s->param_count, buffers = in->state_count - params;
    memcpy(in->step_buffers, state + params, buffers * sizeof *state);
    double head_alone[HEAD], *head = head_alone;
    nb_real *grads = s->grads, *bufs = state + params;
    if (m && m->size > 1) { /* summed into this process's slot, then combined */
        head = in->slots;
        grads = slot_values(in->slots);
        bufs = grads + params;
    }
    nb_status mine = sum_own(s, head, grads, bufs);
    char message[NB_ERROR_TEXT];
    snprintf(message, sizeof message, "%s", mine != NB_OK ? nb_last_error() : "");
    if (m && m->size > 1) {
        nb_status st = combine(s);
        if (st != NB_OK) return st;
        head = in->slots;
    }
    if (mine != NB_OK) return nb_error(mine, "%s", message);
    if (head[H_NUMERIC] > 0)
        return nb_error(NB_ERR_NUMERIC,
                        "training: another process found a non-finite loss in its shards at "
                        "epoch %d, batch %zu of %zu; the weights from before this step are kept",
                        s->epoch, s->batch + 1, s->batches);
    if (head[H_FAILED] > 0)
        return nb_error(NB_ERR_STATE,
                        "training: another process failed at epoch %d, batch %zu of %zu (its "
                        "message says why)",
                        s->epoch, s->batch + 1, s->batches);
    double loss_sum = head[H_LOSS];
    if (!isfinite(s->loss_sum + loss_sum))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the epoch's summed loss overflows at epoch %d, batch %zu of "
                        "%zu; the weights from before this step are kept",
                        s->epoch, s->batch + 1, s->batches);
    if (m && m->size > 1) {
        const nb_real *v = slot_values(in->slots);
        memcpy(s->grads, v, params * sizeof *v);
        memcpy(state + params, v + params, buffers * sizeof *v);
    }
    in->batch_loss_sum = loss_sum;
    s->batch_loss = in->b.summed ? loss_sum : loss_sum / s->rows;
    s->batch_correct = (size_t)head[H_CORRECT];
    return NB_OK;
}

/* ------------------------------------------------------------ agreeing */

nb_status nb_train_agree(const nb_train_state *s, int *values, int count)
{
    const nb_comm *m = s->config.comm;
    if (!m || m->size <= 1) return NB_OK;
    nb_status st = m->agree(m->user, values, count);
    if (st != NB_OK)
        return nb_error_prefix(st, "training: rank %d: agreeing with the other processes", m->rank);
    return NB_OK;
}

/* The library's stop reasons, weakest first: the agreed stop is the
 * strongest any process has (a caller's own string counts as "stopped"). */
static const char *const reasons[] = {NULL,          "time limit",      "stopped",
                                      "target loss", "target accuracy", "early stopping"};
#define REASONS ((int)(sizeof reasons / sizeof *reasons))

static int reason_code(const char *stop)
{
    if (!stop) return 0;
    for (int i = 1; i < REASONS; i++)
        if (strcmp(stop, reasons[i]) == 0) return i;
    return 2;
}

nb_status nb_train_agree_stop(nb_train_state *s)
{
    int mine = reason_code(s->stop), agreed = mine;
    nb_status st = nb_train_agree(s, &agreed, 1);
    if (st != NB_OK) return st;
    if (agreed != mine && agreed >= 0 && agreed < REASONS) s->stop = reasons[agreed];
    return NB_OK;
}

int nb_train_writer(const nb_train_state *s)
{
    return !s->config.comm || s->config.comm->rank == 0;
}
