/* Declarations shared inside the library; not part of the public API. */
#ifndef NABLA_INTERNAL_H
#define NABLA_INTERNAL_H

#include "nabla.h"

#include <stdarg.h>

#if defined(__GNUC__)
#define NB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NB_PRINTF(f, a)
#endif

/* Set the thread's error message and return status. */
nb_status nb_error(nb_status status, const char *fmt, ...) NB_PRINTF(2, 3);
/* Prefix the current message with more context ("loading x: ..."). */
nb_status nb_error_prefix(nb_status status, const char *fmt, ...) NB_PRINTF(2, 3);

/* Text read from a file, made safe to quote in a message or print: a
 * control character (C0, DEL, C1) is written as \n, \t, \r, \xNN or
 * \uNNNN, an invisible or format character (line separators, bidi
 * controls, zero-width characters, the byte-order mark, variation
 * selectors, tags) as \uNNNN or \UNNNNNNNN, a byte that is not UTF-8 as
 * \xNN (a backslash and a quote are kept: JSON text stays readable); text
 * that does not fit in size bytes ends in "...". Returns buf (always
 * NUL-terminated; text NULL reads as ""). A crafted name can then neither
 * move the cursor, clear the screen, reorder the line nor fake a line of
 * output. */
const char *nb_escape(char *buf, size_t size, const char *text);
/* The same for len bytes of text (which need not end in a NUL); len
 * NB_ESCAPE_ALL stops at the NUL. */
const char *nb_escape_len(char *buf, size_t size, const char *text, size_t len);
#define NB_ESCAPE_ALL ((size_t)-1)
/* A buffer size for one quoted name (a longer one ends in "..."). */
#define NB_ESCAPE_SIZE 100

/* Why text would not print as itself, or NULL when it does: a byte that
 * is not UTF-8, a control character (C0, DEL, C1) or an invisible or format
 * character (the ones nb_escape writes as \uNNNN: bidi controls, zero-width
 * characters, line separators, ...); with name set also a space (U+0020 or
 * another Unicode space) at either end. The reason ("has the invisible or
 * format character U+202E at byte 3") goes into buf (NB_TEXT_PROBLEM_SIZE
 * bytes); the caller names the text. For names and labels that are printed
 * raw as output or compared by eye. */
const char *nb_text_problem(char *buf, size_t size, const char *text, int name);
#define NB_TEXT_PROBLEM_SIZE 96

/* JSON text (as cJSON prints it: these characters only ever stand inside
 * strings, which cJSON leaves raw) with DEL and every character
 * nb_text_problem calls invisible or format written as \uXXXX, a
 * surrogate pair past U+FFFF: the same value, but printed it can neither
 * reorder a terminal line nor hide in it. nb_malloc'd (free with nb_free);
 * NULL when out of memory. */
char *nb_json_escape_invisible(const char *json);

/* 64-bit FNV-1a over size bytes, continuing from hash (start with
 * NB_FNV1A_INIT): hash = (hash ^ byte) * 1099511628211 for each byte. */
#define NB_FNV1A_INIT 0xcbf29ce484222325ull
uint64_t nb_fnv1a(uint64_t hash, const void *bytes, size_t size);

/* The word for count things: one when count is 1, else many
 * ("%d %s", n, nb_plural(n, "epoch", "epochs")). */
static inline const char *nb_plural(long long count, const char *one, const char *many)
{
    return count == 1 ? one : many;
}

/* v as the shortest decimal text (15, 16 or 17 significant digits) that
 * reads back as exactly v: 0.1 prints as "0.1", not 0.10000000000000001,
 * and two different values never print alike. For messages that show a
 * setting. Returns buf (NB_NUMBER_SIZE bytes). */
const char *nb_number_text(char *buf, size_t size, double v);
#define NB_NUMBER_SIZE 32

/* Replace path atomically with what write puts into f (a temporary file
 * beside path, flushed, synced and renamed over it); on any failure the
 * temporary is removed and path is left as it was. A symbolic link's
 * target is replaced, a character device or FIFO is written directly, a
 * folder is refused (nb_output_check). The message names no path: the
 * caller adds it once ("saving model \"m.st\": cannot write: ..."). */
typedef nb_status (*nb_write_fn)(FILE *f, const void *user);
nb_status nb_write_atomic(const char *path, nb_write_fn write, const void *user);
/* The same for n files that belong together (a header and its source):
 * every file is written and synced beside its target before any is
 * renamed over its target, and when one fails the ones already replaced
 * get their old content back, so that on an error none has changed.
 * writer(f, users[i]) writes file i; *which is the index of the file an
 * error is about. */
nb_status nb_write_atomic_all(int n, const char *const *paths, nb_write_fn write,
                              const void *const *users, int *which);

/* Open path for reading only if it is a regular file: a FIFO or device is
 * refused without waiting for a writer. The message names no path. */
nb_status nb_open_regular(const char *path, FILE **out);

/* Bytes kept of a graph's first building error message. */
#define NB_ERROR_TEXT 512

/* Treat subnormal numbers as zero on this thread while nabla computes
 * (src/core/fpenv.c): enter returns the caller's setting, leave restores
 * it. Threads nabla starts inherit it. */
unsigned nb_fp_enter(void);
void nb_fp_leave(unsigned old);

/* Overflow-checked a * b into *out; 0 on overflow. */
int nb_mul_size(size_t a, size_t b, size_t *out);

/* --------------------------------------------------------- name index */

/* Names to small integers (indices into the owner's own array) in O(1) on
 * average. The index stores only the integers; key_of(owner, value) gives
 * the name stored under value. */
typedef const char *(*nb_names_key_fn)(const void *owner, int value);
typedef struct nb_names {
    int *slots;
    size_t cap, used, live; /* used counts removed slots too */
} nb_names;

/* The value stored under key, or -1. */
int nb_names_find(const nb_names *ix, const char *key, nb_names_key_fn key_of, const void *owner);
/* Add key -> value (the caller has checked that key is absent); 0 when out
 * of memory (the index is unchanged). */
int nb_names_add(nb_names *ix, const char *key, int value, nb_names_key_fn key_of,
                 const void *owner);
/* Replace old_key -> old_value (present) by new_key -> new_value; needs no
 * memory. */
void nb_names_rekey(nb_names *ix, const char *old_key, int old_value, const char *new_key,
                    int new_value);
/* Remove key, stored under value. */
void nb_names_remove(nb_names *ix, const char *key, int value);
void nb_names_free(nb_names *ix);

/* ------------------------------------------------------------------ json */

struct cJSON;
/* Every object in item (at any depth) has each key once; else status bad
 * with "<what>: key "k" appears twice in "<object's key>"". */
nb_status nb_json_unique_keys(const struct cJSON *item, nb_status bad, const char *what);
/* The raw JSON text (len bytes) holds no NUL byte, no \u0000 escape (cJSON
 * would cut the string there: "a\u0000b" would read as "a") and no raw
 * control character inside a string (JSON wants them escaped); else status
 * bad with "<what>: ..." naming the string and "<at> <base + offset>" (e.g.
 * at "file byte", base 8). */
nb_status nb_json_check_text(const char *text, size_t len, nb_status bad, const char *what,
                             const char *at, size_t base);
/* text (NUL-terminated) parsed strictly: nb_json_check_text, valid JSON
 * with nothing after it, no key twice in any object. *out is NULL on
 * failure; the message starts with what. */
nb_status nb_json_parse(const char *text, nb_status bad, const char *what, struct cJSON **out);

/* ---------------------------------------------------------------- gemm */

/* C = alpha op(A) op(B) + beta C, row-major, op = transpose when trans_*.
 * op(A) is m x k, op(B) is k x n. oneDNN's sgemm in float builds with it
 * (on CPUs with AVX2), else OpenBLAS when built with it, else a blocked
 * portable kernel. */
void nb_gemm(int trans_a, int trans_b, int m, int n, int k, nb_real alpha, const nb_real *a,
             int lda, const nb_real *b, int ldb, nb_real beta, nb_real *c, int ldc);
/* Whether nb_gemm runs oneDNN's sgemm on this machine (a float oneDNN
 * build on an AVX2 CPU). */
int nb_gemm_uses_dnnl(void);

/* Run fn(ctx, part) for part 0..parts-1, each part on its own thread (part
 * 0 on the caller's), the matrix products inside one-threaded; returns when
 * all are done. What a part computes must not depend on which thread runs
 * it, so results depend only on the number of parts. */
void nb_parallel(int parts, void (*fn)(void *ctx, int part), void *ctx);
/* fn(ctx, begin, end) over [0, count) split into one range per thread
 * (ranges of at least grain items; one call on the caller's thread when
 * count is small or inside a part). For work whose items are independent,
 * so the result does not depend on the split. */
void nb_parallel_for(size_t count, size_t grain, void (*fn)(void *ctx, size_t begin, size_t end),
                     void *ctx);
/* Items below which splitting element-wise work over threads costs more
 * than it saves (a thread's start is tens of microseconds). */
#define NB_PARALLEL_GRAIN 32768
/* Stop the pool's threads when it has at least threads of them (the
 * thread count went down); the next call starts what it needs. */
void nb_parallel_shrink(int threads);
/* Whether the calling thread runs a part of nb_parallel. */
int nb_in_part(void);

/* The first non-finite value of rows x cols (sample-major): NB_ERR_NUMERIC
 * naming its sample (first + row, 0-based; not named when count, the
 * samples of the whole call, is 1) and its column, after what. */
nb_status nb_check_rows_finite(const nb_real *v, int rows, int cols, size_t first, size_t count,
                               const char *what);
/* The same for rows first.. of data, the sample named as
 * nb_dataset_sample_name does (data may be NULL). */
nb_status nb_check_data_rows_finite(const nb_real *v, int rows, int cols, const nb_dataset *data,
                                    size_t first, const char *what);
/* Sample i of d as a message names it: "line 17 of the data" (a CSV
 * file's line), "record 123 of the data" (an IDX file's 0-based record),
 * else "sample 6 (0-based)". Returns buf. */
const char *nb_dataset_sample_name(const nb_dataset *d, size_t i, char *buf, size_t size);
/* Copy samples index[start..start+rows) of x (start.. when index is NULL;
 * nb_model_inputs values each) into the model's inputs, compiled for rows
 * rows: input 0 takes a sample's first values, input 1 the next, ... */
nb_status nb_model_gather(nb_model *model, const nb_real *x, const int *index, size_t start,
                          int rows);
/* Why init is meaningless (NaN, infinite, a negative deviation, low >
 * high, an unknown kind), or NULL when it is fine. */
const char *nb_init_problem(nb_init init);

/* --------------------------------------------------------------- graph */

/* A buffer is stored state that is not trained (a batch norm's running
 * mean): its values live in the parameter block after the trainable ones,
 * and no gradient flows into it. */
enum nb_node_kind { NB_NODE_INPUT, NB_NODE_PARAM, NB_NODE_CONST, NB_NODE_OP, NB_NODE_BUFFER };

/* A leaf's word as nb_node_op gives it ("input", "param", "const",
 * "buffer"); NULL for an op node, which goes by its op's name. */
static inline const char *nb_leaf_name(enum nb_node_kind kind)
{
    return kind == NB_NODE_INPUT    ? "input"
           : kind == NB_NODE_PARAM  ? "param"
           : kind == NB_NODE_CONST  ? "const"
           : kind == NB_NODE_BUFFER ? "buffer"
                                    : NULL;
}

/* Does a node of this kind keep its values in the graph's state block
 * (a parameter or a buffer: made by an initialiser, saved with the model)? */
static inline int nb_kind_is_state(enum nb_node_kind kind)
{
    return kind == NB_NODE_PARAM || kind == NB_NODE_BUFFER;
}

typedef struct nb_node_rec nb_node_rec;
typedef struct nb_op_def nb_op_def;

/* An attribute an op takes: its name and type, 1 to max_count values, and
 * when it is not given (required 0) one value, def. */
typedef struct nb_attr_def {
    const char *name;
    nb_attr_type type;
    int max_count;
    int required;
    double def;
} nb_attr_def;

/* What makes an op a loss: how it reduces over the batch, what its target
 * holds and what turns its prediction input into the model's answer. */
typedef enum nb_reduction { NB_REDUCE_MEAN, NB_REDUCE_SUM } nb_reduction;
typedef enum nb_target_kind {
    NB_TARGET_VALUES,  /* the prediction's shape */
    NB_TARGET_CLASSES, /* class indices [N] or one-hot rows [N, C] */
    NB_TARGET_BINARY,  /* 0/1 per logit */
} nb_target_kind;
typedef enum nb_link {
    NB_LINK_IDENTITY, /* the prediction is the answer (regression, or probabilities) */
    NB_LINK_SOFTMAX,  /* logits: softmax per row gives class probabilities */
    NB_LINK_SIGMOID,  /* one logit: sigmoid gives the probability of class 1 */
} nb_link;
typedef struct nb_loss_def {
    nb_reduction reduction;
    nb_target_kind target;
    nb_link link;
} nb_loss_def;

struct nb_node_rec {
    char name[NB_NAME_MAX];
    enum nb_node_kind kind;
    const nb_op_def *op; /* NULL for leaves */
    int n_in;
    int *in; /* n_in node indices (owned) */
    nb_shape shape;
    nb_attr *attrs; /* n_attrs attributes in the op's order, defaults filled (owned) */
    int n_attrs;
    double fattr;        /* op-private, set by infer from attrs (leaky relu's slope) */
    nb_shape shape_attr; /* op-private, set by infer (reshape's target) */
    int iattr;           /* op-private integer set by infer (e.g. target kind) */
    nb_init init;        /* parameters */
    size_t param_offset; /* parameters: offset into the parameter array */
    nb_real *value;
    nb_real *grad;        /* NULL when no gradient flows here */
    nb_real *work;        /* op memory of its own, planned with the activations: kept
                             from forward to backward (max_pool2d's argmax) */
    size_t work_count;    /* elements of work, set by infer */
    nb_real *scratch;     /* transient op memory, valid only during this node's own
                             forward or backward call: every node's scratch is the
                             same shared region (ops run one at a time), as large
                             as the largest scratch_count (im2col columns) */
    size_t scratch_count; /* elements of scratch, set by infer */
    nb_real *const_data;  /* constants: owned copy */
    const nb_real *bound; /* inputs: caller memory from nb_graph_bind */
    int wants_grad;       /* inputs: nb_input_set_grad */
    int needs_grad;       /* set by compile */
    int grad_overwrite;   /* set by compile: a parameter whose one consumer writes
                             its gradient (op first_write), so backward need not
                             clear it first */
    int grad_writer;      /* that consumer's index */
    int work_ready;       /* op nodes: work holds what an earlier forward left
                             (dropout's mask); compile clears it */
    void *op_state;       /* op-private, made by infer, freed by the op's release */
};

struct nb_graph {
    nb_node_rec *nodes;
    int count, capacity;
    nb_status status;                /* first building error */
    char status_text[NB_ERROR_TEXT]; /* its message, which compile repeats */
    int compiled;
    int forwarded;  /* nodes 0..forwarded-1 hold values of the current compile */
    nb_names names; /* node names to handles */
    nb_real *arena; /* activations, their gradients and scratch */
    size_t arena_capacity;
    nb_real *params, *param_grads;
    /* params holds param_count trainable values, then the buffers:
     * state_count values in all (nb_graph_state). */
    size_t param_count, state_count, param_capacity;
    nb_mode mode;     /* NB_MODE_TRAIN for a new graph */
    uint64_t seed;    /* random ops' masks: a hash of seed, draws, node, element */
    uint64_t draws;   /* TRAIN forwards through a random op since the seed was set */
    int first_random; /* set by compile: the first random op node, or -1 */
    /* Rows of the training batch before the ones fed (a shard's): random
     * ops key each row by its place in the whole batch (0: none before). */
    size_t row_offset;
    /* A replica (nb_graph_replica) reads its parameters from another
     * graph's array and may write their gradients elsewhere: set, compile
     * points the parameter nodes here (NULL: the graph's own arrays). */
    nb_real *linked_params, *linked_grads;
};

/* An op: one const table of functions. infer checks the inputs' shapes,
 * sets node->shape, node->work_count and node->scratch_count and returns a status with a message
 * that names the op, the node and the shapes. check (NULL: any values do)
 * runs before each forward and refuses input values that have no meaning
 * (a class index that is not a class), naming the node, row and value.
 * backward adds the gradient of node into the gradients of its inputs that
 * have one. */
struct nb_op_def {
    const char *name;
    int arity;                /* inputs; NB_ARITY_ANY: one or more */
    int max_arity;            /* > arity: up to this many (optional last inputs) */
    const nb_attr_def *attrs; /* the attributes it takes, ending with a NULL name */
    const nb_loss_def *loss;  /* a loss op: NULL for the others */
    nb_status (*infer)(nb_graph *g, nb_node_rec *node);
    nb_status (*check)(nb_graph *g, const nb_node_rec *node);
    void (*forward)(nb_graph *g, nb_node_rec *node);
    void (*backward)(nb_graph *g, nb_node_rec *node);
    /* backward overwrites, rather than adds to, the gradient of an input
     * whose grad_overwrite is set (it is that input's only consumer) */
    int first_write;
    /* forward draws random numbers in NB_MODE_TRAIN (nb_graph_random): each
     * such forward pass counts one draw */
    int random;
    /* frees what infer kept in node->op_state (NULL: the op keeps nothing);
     * called before infer runs again and when the graph is freed */
    void (*release)(nb_node_rec *node);
    /* refuses values of the inputs a model file stores (parameters,
     * buffers) that have no meaning, naming the node, element and value
     * (NULL: any do); check calls it before each forward, and loading a
     * model does (nb_graph_check_stored), so that a bad file is refused */
    nb_status (*check_stored)(nb_graph *g, const nb_node_rec *node);
    /* refuses a training batch of rows samples that the op cannot learn
     * from (NULL: any will do): batch norm over features takes its
     * statistics over the batch's samples; check calls it in training,
     * the trainer before training starts (nb_graph_check_rows) */
    nb_status (*check_rows)(const nb_graph *g, const nb_node_rec *node, int rows);
};

#define NB_ARITY_ANY (-1)

/* node's attribute called name (the op's table guarantees it exists). */
const nb_attr *nb_attr_of(const nb_node_rec *node, const char *name);

static inline nb_node_rec *nb_in(nb_graph *g, const nb_node_rec *node, int i)
{
    return &g->nodes[node->in[i]];
}

/* The activation memory nb_graph_compile plans for node (values, its own
 * work, and its gradient when needs_grad), in elements, each part rounded
 * as compile rounds it, plus what node's scratch_count adds to the shared
 * scratch region: *scratch holds the largest scratch of the nodes counted
 * before (start at 0) and is raised to node's. The sum over all nodes is
 * what compile plans. 0 for a parameter (its values live apart), SIZE_MAX
 * past the address space. */
size_t nb_node_arena(const nb_node_rec *node, int needs_grad, size_t *scratch);
/* Does a gradient flow into node, as compile decides it: parameters have
 * one, inputs when they ask for one, op nodes when an input has one (its
 * needs_grad, set before). */
int nb_node_flows_grad(const nb_graph *g, const nb_node_rec *node);

/* Record status (with the message nb_error has just set) as g's building
 * error when it is the first; returns status. Later errors are
 * consequences of the first, which nb_graph_compile repeats. */
nb_status nb_graph_fail(nb_graph *g, nb_status status);

const nb_op_def *nb_op_find(const char *name);
/* Every op node's check_stored, in order: the first refusal. */
nb_status nb_graph_check_stored(nb_graph *g);
/* Every op node's check_rows for a training batch of rows samples: the
 * first refusal. */
nb_status nb_graph_check_rows(const nb_graph *g, int rows);
/* A shape error naming the op, node and the input shapes. */
nb_status nb_shape_error(nb_graph *g, const nb_node_rec *node, const char *expected);

/* y = softmax of each row of x (rows x cols), stable. */
void nb_softmax_rows(const nb_real *x, nb_real *y, int rows, int cols);

/* The op tables, one array per family, each ending with a NULL name. */
extern const nb_op_def nb_ops_arith[];
extern const nb_op_def nb_ops_matmul[];
extern const nb_op_def nb_ops_activation[];
extern const nb_op_def nb_ops_loss[];
extern const nb_op_def nb_ops_join[];
extern const nb_op_def nb_ops_conv[];
extern const nb_op_def nb_ops_pool[];
extern const nb_op_def nb_ops_dropout[];
extern const nb_op_def nb_ops_batch_norm[];

/* splitmix64's finaliser: every input bit moves every output bit. */
static inline uint64_t nb_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
#define NB_GOLDEN 0x9e3779b97f4a7c15ull

/* The graph seed that a run's seed gives (nb_model_init, nb_train_begin):
 * a stream apart from the initialisers' generator seeded with seed. */
static inline uint64_t nb_graph_seed_of(uint64_t seed)
{
    return nb_mix64(seed ^ 0x64726f706f757473ull); /* "dropouts" */
}

/* The key of node's random numbers under the graph's seed and current
 * draw; nb_random_uniform(key, e) is then element e's number in [0, 1).
 * The same seed, draw, node and element always give the same number, so a
 * run is reproducible and resumable from (seed, draws) alone. */
uint64_t nb_graph_random_key(const nb_graph *g, const nb_node_rec *node);
static inline double nb_random_uniform(uint64_t key, size_t e)
{
    /* element e of the splitmix64 sequence that starts at key */
    uint64_t h = nb_mix64(key + ((uint64_t)e + 1) * NB_GOLDEN);
    return (double)(h >> 11) * 0x1.0p-53; /* the top 53 bits: exact in a double */
}

/* nb_optimizer_step_guarded on at most threads threads (0: nb_get_threads).
 * Each value's update is the same whatever the split: only speed differs. */
nb_status nb_optimizer_step_split(nb_optimizer *opt, nb_real *p, const nb_real *grad, double lr,
                                  nb_real *backup, int threads);

/* Graphviz DOT, shared by the trace (nb_graph_write_dot) and the explain
 * page: text inside a quoted string (quotes and backslashes escaped,
 * control characters replaced), and the shape and colour of each kind. */
void nb_dot_put_text(FILE *out, const char *s);
const char *nb_dot_node_style(enum nb_node_kind kind);

/* A copy of src's nodes, compiled, for running src's computation on
 * another thread: its own activations, gradients and buffers, its
 * parameters read from src's array (nb_graph_link). *out is NULL on
 * failure. */
nb_status nb_graph_replica(const nb_graph *src, nb_graph **out);
/* Point g's parameter values at params and their gradients at grads
 * (param_count values each; NULL: g's own arrays), now and after every
 * compile. */
void nb_graph_link(nb_graph *g, nb_real *params, nb_real *grads);
/* A model whose graph is a replica of m's (the same roles, no metadata),
 * compiled for m's batch. */
nb_status nb_model_replica(const nb_model *m, nb_model **out);

/* What the model's loss op is (its reduction, target and link). */
const nb_loss_def *nb_model_loss_def(const nb_model *model);

#endif
