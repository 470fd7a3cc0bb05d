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

static size_t slot_words(const nb_train_internal *in)
{
    return in->slot_bytes / sizeof(double);
}

static double *slot_at(const nb_train_internal *in, int i)
{
    return in->slots + (size_t)i * slot_words(in);
}

static nb_real *slot_values(double *slot)
{
    /* The head's doubles keep the values aligned for nb_real. */
    return (nb_real *)(void *)((unsigned char *)slot + HEAD * sizeof(double));
}

nb_status nb_shards_prepare(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_comm *m = s->config.comm;
    int size = m ? m->size : 1, rank = m ? m->rank : 0;
    in->shards = nb_shards_count(&s->config);
    in->shard_rows = nb_shards_rows(s->batch_rows, in->shards);
    in->sharded = in->shards > 1 || size > 1;
    if (!in->sharded) return NB_OK;
    in->own = in->shards / size;
    in->first_shard = rank * in->own;
    in->levels = 1;
    while ((1 << (in->levels - 1)) < in->own) in->levels++;
    size_t values = in->state_count;
    if (values >
        (SIZE_MAX / 4 - HEAD * sizeof(double)) / sizeof(nb_real) / (size_t)(in->levels + 1))
        return nb_error(NB_ERR_MEMORY, "training: %zu values are too many to sum by shards",
                        values);
    size_t words = HEAD + (values * sizeof(nb_real) + sizeof(double) - 1) / sizeof(double);
    in->slot_bytes = words * sizeof(double);
    in->slots = nb_calloc((size_t)(in->levels + 1) * words, sizeof(double));
    in->step_buffers = nb_calloc(values - s->param_count + 1, sizeof(nb_real));
    if (!in->slots || !in->step_buffers)
        return nb_error(NB_ERR_MEMORY, "training: no memory for %d partial sums of %zu values",
                        in->levels + 1, values);
    return NB_OK;
}

void nb_shards_free(nb_train_internal *in)
{
    nb_free(in->slots);
    nb_free(in->step_buffers);
    in->slots = NULL;
    in->step_buffers = NULL;
}

/* a += b, head and values: a holds the lower shards, b the next ones.
 * (IEEE addition is commutative, so the pair gives the same bits on the
 * two processes that both add it; the tree's shape is what is fixed.) */
static void add_slot(const nb_train_internal *in, double *a, double *b)
{
    for (int i = 0; i < HEAD; i++) a[i] += b[i];
    nb_real *restrict x = slot_values(a);
    const nb_real *restrict y = slot_values(b);
    for (size_t i = 0; i < in->state_count; i++) x[i] += y[i];
}

/* Shard j of the loaded batch into slot: its gradients weighted by its
 * share of the batch's loss, its buffers weighted by its share of the
 * rows, its summed loss and correct predictions. A shard past the batch's
 * rows (a short last batch) is empty: all zero. Every shard starts from
 * the buffers and the random draw the step started with. */
static nb_status run_shard(nb_train_state *s, int j, double *slot, uint64_t draws)
{
    nb_train_internal *in = s->internal;
    nb_batcher *b = &in->b;
    nb_graph *g = b->graph;
    memset(slot, 0, in->slot_bytes);
    size_t first = (size_t)j * (size_t)in->shard_rows;
    if (first >= (size_t)s->rows) return NB_OK;
    size_t left = (size_t)s->rows - first;
    int rows = left < (size_t)in->shard_rows ? (int)left : in->shard_rows;
    size_t start = s->batch * (size_t)s->batch_rows + first;
    nb_real *state = nb_graph_state(g, NULL);
    size_t buffers = in->state_count - s->param_count;
    memcpy(state + s->param_count, in->step_buffers, buffers * sizeof *state);
    nb_status st = nb_batcher_load(b, s->train, in->index, start, rows);
    if (st != NB_OK) return st;
    g->row_offset = first;
    g->draws = draws;
    if ((st = nb_graph_forward(g)) != NB_OK) return st;
    double loss = nb_node_value(g, b->loss)[0];
    if (!isfinite(loss))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the loss of shard %d (rows %zu..%zu) is %g at epoch %d, batch "
                        "%zu of %zu; the weights from before this step are kept",
                        j, first, first + (size_t)rows - 1, loss, s->epoch, s->batch + 1,
                        s->batches);
    slot[H_LOSS] = nb_batcher_loss_sum(b, rows);
    if (s->train->classes > 0) {
        const int32_t *labels = s->train->labels;
        size_t correct = 0;
        for (int i = 0; i < rows; i++)
            correct += nb_batcher_predict(b, i) == labels[in->index[start + (size_t)i]];
        slot[H_CORRECT] = (double)correct;
    }
    if ((st = nb_graph_backward(g, b->loss)) != NB_OK) return st;
    /* The batch's loss is the mean over its rows (or their sum). */
    const nb_real share = (nb_real)((double)rows / s->rows);
    const nb_real w = b->summed ? 1 : share;
    nb_real *v = slot_values(slot);
    for (size_t i = 0; i < s->param_count; i++) v[i] = s->grads[i] * w;
    for (size_t i = 0; i < buffers; i++) v[s->param_count + i] = state[s->param_count + i] * share;
    return NB_OK;
}

/* This process's shards summed in tree order into slot 0: a stack of
 * partial sums, two of the same size merged as soon as both exist (own is
 * a power of two). After a failure the remaining shards are empty, and
 * the head says which kind of failure it was. */
static nb_status sum_own(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    nb_graph *g = in->b.graph;
    const uint64_t draws = g->draws;
    nb_status mine = NB_OK;
    int top = 0;
    for (int j = 0; j < in->own; j++) {
        double *slot = slot_at(in, top++);
        nb_status st = mine == NB_OK ? run_shard(s, in->first_shard + j, slot, draws) : NB_OK;
        if (mine != NB_OK || st != NB_OK) memset(slot, 0, in->slot_bytes);
        if (st != NB_OK) mine = st;
        for (int c = j + 1; (c & 1) == 0; c >>= 1, top--)
            add_slot(in, slot_at(in, top - 2), slot_at(in, top - 1));
    }
    /* The step took one draw, as one pass over the whole batch does. */
    g->draws = draws + (g->first_random >= 0 ? 1 : 0);
    g->row_offset = 0;
    if (mine != NB_OK) slot_at(in, 0)[mine == NB_ERR_NUMERIC ? H_NUMERIC : H_FAILED] = 1;
    return mine;
}

/* Recursive doubling: at distance d = 1, 2, 4, ... each process swaps
 * its sum with rank ^ d and both add the pair, lower block first, which
 * continues the tree of the shards above the processes' blocks. */
static nb_status combine(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    const nb_comm *m = s->config.comm;
    double *sum = slot_at(in, 0), *peer = slot_at(in, in->levels);
    for (int d = 1; m && d < m->size; d <<= 1) {
        int other = m->rank ^ d;
        nb_status st = m->exchange(m->user, other, sum, peer, in->slot_bytes);
        if (st != NB_OK)
            return nb_error_prefix(st, "training: rank %d: exchanging the gradients with rank %d",
                                   m->rank, other);
        add_slot(in, sum, peer);
    }
    return NB_OK;
}

nb_status nb_shards_forward_backward(nb_train_state *s)
{
    nb_train_internal *in = s->internal;
    nb_graph *g = in->b.graph;
    nb_real *state = nb_graph_state(g, NULL);
    size_t buffers = in->state_count - s->param_count;
    memcpy(in->step_buffers, state + s->param_count, buffers * sizeof *state);
    nb_status mine = sum_own(s);
    char message[NB_ERROR_TEXT];
    snprintf(message, sizeof message, "%s", mine != NB_OK ? nb_last_error() : "");
    nb_status st = combine(s);
    if (st != NB_OK) return st;
    double *sum = slot_at(in, 0);
    if (mine != NB_OK) return nb_error(mine, "%s", message);
    if (sum[H_NUMERIC] > 0)
        return nb_error(NB_ERR_NUMERIC,
                        "training: another process found a non-finite loss in its shards at "
                        "epoch %d, batch %zu of %zu; the weights from before this step are kept",
                        s->epoch, s->batch + 1, s->batches);
    if (sum[H_FAILED] > 0)
        return nb_error(NB_ERR_STATE,
                        "training: another process failed at epoch %d, batch %zu of %zu (its "
                        "message says why)",
                        s->epoch, s->batch + 1, s->batches);
    double loss_sum = sum[H_LOSS];
    if (!isfinite(s->loss_sum + loss_sum))
        return nb_error(NB_ERR_NUMERIC,
                        "training: the epoch's summed loss overflows at epoch %d, batch %zu of "
                        "%zu; the weights from before this step are kept",
                        s->epoch, s->batch + 1, s->batches);
    const nb_real *v = slot_values(sum);
    memcpy(s->grads, v, s->param_count * sizeof *v);
    memcpy(state + s->param_count, v + s->param_count, buffers * sizeof *v);
    in->batch_loss_sum = loss_sum;
    s->batch_loss = in->b.summed ? loss_sum : loss_sum / s->rows;
    s->batch_correct = (size_t)sum[H_CORRECT];
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
