/*
 * nabla: neural networks on a computational graph with reverse-mode
 * automatic differentiation, in C11.
 *
 * This is the whole public API. Sections, in order: status and errors,
 * memory, tensors and shapes, random numbers, graph, ops, layers and
 * initialisation, optimizers, numerical gradients, trace output, data,
 * preprocessing, models, model files, training.
 *
 * Every function that can fail returns an nb_status; nb_last_error() then
 * says what was wrong and where. The library never exits or aborts on a
 * caller's mistake.
 */
#ifndef NABLA_H
#define NABLA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_VERSION_MAJOR 0
#define NB_VERSION_MINOR 1
#define NB_VERSION_PATCH 0
#define NB_VERSION       "0.1.0"

/* The element type: float, or double when built with NABLA_DOUBLE=ON. */
#ifdef NABLA_DOUBLE
typedef double nb_real;
#define NB_REAL_NAME "f64"
#else
typedef float nb_real;
#define NB_REAL_NAME "f32"
#endif

/* The kernels this library runs on, as one line such as "conv: onednn
 * 2.6.3 (avx512_core); gemm: openblas 0.3.21 (core Haswell)": how the
 * convolution and the matrix products are computed, and the instruction
 * set or CPU core those libraries chose on this machine. Writes at most
 * size bytes to buf (terminated when size > 0) and returns the length of
 * the whole line, as snprintf does. */
size_t nb_backends(char *buf, size_t size);

/* ===================================================== status and errors */

typedef enum nb_status {
    NB_OK = 0,
    NB_ERR_ARGUMENT,    /* a caller passed something invalid */
    NB_ERR_SHAPE,       /* tensor shapes do not fit together */
    NB_ERR_MEMORY,      /* an allocation failed or would be too large */
    NB_ERR_IO,          /* a file could not be opened, read or written */
    NB_ERR_FORMAT,      /* a file's content is malformed */
    NB_ERR_LIMIT,       /* a documented limit was exceeded */
    NB_ERR_NUMERIC,     /* a value became NaN or infinite */
    NB_ERR_STATE,       /* a call made in the wrong order */
    NB_ERR_NOT_FOUND,   /* a name that does not exist */
    NB_ERR_INTERRUPTED, /* stopped on request (Ctrl-C) */
} nb_status;

/* The message of the most recent error in this thread ("" if none). */
const char *nb_last_error(void);
/* A short fixed name for a status, e.g. "shape error". */
const char *nb_status_name(nb_status status);
/* Forget the last error message. */
void nb_clear_error(void);

/* ================================================================ memory */

/* All of nabla's heap memory goes through these hooks (NULL restores the C
 * library's). Tests use them to count allocations and to inject failures. */
typedef struct nb_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} nb_allocator;

void nb_set_allocator(const nb_allocator *allocator);
void *nb_malloc(size_t size);
void *nb_calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void *nb_realloc(void *ptr, size_t size);
void nb_free(void *ptr);

/* =============================================================== threads */

/* Threads for matrix products and parallel loops: one per core unless set
 * (0 restores that). The same seed, data and thread count give the same
 * weights bit for bit. */
nb_status nb_set_threads(int count);
int nb_get_threads(void);
int nb_default_threads(void); /* cores online */

/* ===================================================== tensors and shapes */

/* Four: a batch of images is [N, C, H, W] and a convolution's weight
 * [out, C, kh, kw]; nothing nabla builds needs a fifth. Part of the ABI
 * and of the model file (a shape in it has at most this many dims). */
#define NB_MAX_DIMS 4
#define NB_NAME_MAX 64 /* longest node name, with its terminating NUL */

/* A row-major shape. ndim 0 is a scalar with one element. */
typedef struct nb_shape {
    int ndim;
    int dim[NB_MAX_DIMS];
} nb_shape;

nb_shape nb_shape0(void);
nb_shape nb_shape1(int d0);
nb_shape nb_shape2(int d0, int d1);
nb_shape nb_shape3(int d0, int d1, int d2);
nb_shape nb_shape4(int d0, int d1, int d2, int d3);
size_t nb_shape_count(nb_shape shape); /* number of elements */
int nb_shape_equal(nb_shape a, nb_shape b);
/* Writes e.g. "[100, 784]" into buf (always NUL-terminated). */
const char *nb_shape_format(nb_shape shape, char *buf, size_t size);

/* ========================================================= random numbers */

/* xoshiro256** seeded through splitmix64: the same seed gives the same
 * numbers on every platform. With rng NULL each call is a no-op returning 0. */
typedef struct nb_rng {
    uint64_t s[4];
} nb_rng;

void nb_rng_seed(nb_rng *rng, uint64_t seed);
uint64_t nb_rng_next(nb_rng *rng);
double nb_rng_uniform(nb_rng *rng); /* [0, 1) */
double nb_rng_normal(nb_rng *rng);  /* mean 0, deviation 1 */
/* [0, n), unbiased. n = 0 (an empty range) returns 0 and leaves the
 * state as it was: check n first where 0 is not a valid pick. */
uint64_t nb_rng_below(nb_rng *rng, uint64_t n);
void nb_rng_shuffle(nb_rng *rng, int *items, size_t count);

/* ================================================================= graph */

typedef struct nb_graph nb_graph;
typedef int nb_node; /* a handle into a graph; NB_NONE when building failed */
#define NB_NONE (-1)

/* How a parameter is filled by nb_graph_init_params. fan_in and fan_out
 * are what the layer says (a convolution's C kh kw inputs per output), or
 * when 0, dim[0] and dim[1] of a 2-D weight (the count for 1-D). */
typedef enum nb_init_kind {
    NB_INIT_ZEROS,
    NB_INIT_CONSTANT,       /* a */
    NB_INIT_NORMAL,         /* N(a, b^2) */
    NB_INIT_UNIFORM,        /* U(a, b) */
    NB_INIT_XAVIER_UNIFORM, /* U(-r, r), r = sqrt(6 / (fan_in + fan_out)) */
    NB_INIT_XAVIER_NORMAL,  /* N(0, 2 / (fan_in + fan_out)) */
    NB_INIT_HE_UNIFORM,     /* U(-r, r), r = sqrt(6 / fan_in) */
    NB_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
} nb_init_kind;

typedef struct nb_init {
    nb_init_kind kind;
    double a, b;
    int fan_in, fan_out; /* 0: from the shape, as above */
} nb_init;

nb_graph *nb_graph_create(void); /* NULL when out of memory */
void nb_graph_free(nb_graph *graph);

/* Leaf nodes. A name may be NULL (a name is made up) and must be unique.
 * Inputs are fed before each forward pass; parameters are trained;
 * constants hold a copy of values (NULL: zeros). */
nb_node nb_input(nb_graph *graph, const char *name, nb_shape shape);
nb_node nb_param(nb_graph *graph, const char *name, nb_shape shape, nb_init init);
nb_node nb_constant(nb_graph *graph, const char *name, nb_shape shape, const nb_real *values);
/* A buffer: state an op keeps that is not trained (a batch norm's running
 * mean and variance). It is filled by init like a parameter and saved with
 * the model and in checkpoints, but no gradient flows into it and the
 * optimizer never sees it: its values follow the trainable parameters in
 * the state block (nb_graph_state). */
nb_node nb_buffer(nb_graph *graph, const char *name, nb_shape shape, nb_init init);

/* Building never stops at the first error: a failed call returns NB_NONE,
 * later calls that use it return NB_NONE too, and the first error is kept
 * here and returned again by nb_graph_compile. */
nb_status nb_graph_status(const nb_graph *graph);

/* Ask for the gradient of an input (off by default: inputs are data). */
nb_status nb_input_set_grad(nb_graph *graph, nb_node input, int enabled);
/* Change an input's shape (e.g. the batch size); compile again afterwards.
 * Memory is reused when the new plan fits in the old one. A new shape drops
 * a binding (nb_graph_bind): the bound memory holds the old count. */
nb_status nb_input_reshape(nb_graph *graph, nb_node input, nb_shape shape);

/* Order the nodes, infer every shape, plan all activation memory in one
 * block and the parameters and their gradients in two contiguous arrays.
 * Parameter values survive a recompile. */
nb_status nb_graph_compile(nb_graph *graph);

/* Copy count values into an input node (count must match its shape; values
 * not NULL). Values computed before are stale until the next forward. */
nb_status nb_graph_feed(nb_graph *graph, nb_node input, const nb_real *values, size_t count);
/* Let an input read caller-owned memory directly (no copy); NULL undoes it.
 * The memory must hold the input's element count and outlive its use. */
nb_status nb_graph_bind(nb_graph *graph, nb_node input, const nb_real *values);

nb_status nb_graph_forward(nb_graph *graph);
/* Forward up to and including node last (creation order), e.g. a model's
 * output without its loss. */
nb_status nb_graph_forward_to(nb_graph *graph, nb_node last);
/* Gradients of the scalar node loss (dL/dL = 1) with respect to every
 * parameter, every input with gradients enabled and every node between. A
 * node used by several others sums the gradients flowing back into it.
 * Parameter gradients are overwritten, not accumulated across calls. */
nb_status nb_graph_backward(nb_graph *graph, nb_node loss);
/* (backward needs a forward pass through loss since the last compile, feed
 * or bind: NB_ERR_STATE otherwise.) */

/* Looking at nodes, by handle or by name. */
nb_node nb_graph_find(const nb_graph *graph, const char *name);
int nb_graph_node_count(const nb_graph *graph);
const char *nb_node_name(const nb_graph *graph, nb_node node);
const char *nb_node_op(const nb_graph *graph,
                       nb_node node); /* "input", "param", "const", "buffer", or the op */
int nb_node_input_count(const nb_graph *graph, nb_node node);
nb_node nb_node_input(const nb_graph *graph, nb_node node, int index);
nb_shape nb_node_shape(const nb_graph *graph, nb_node node);
nb_real *nb_node_value(nb_graph *graph, nb_node node); /* NULL before compile */
nb_real *nb_node_grad(nb_graph *graph, nb_node node);  /* NULL if it has none */
/* The first node at or after from (creation order) whose op is op
 * ("conv2d"); NB_NONE when there is none. */
nb_node nb_graph_find_op(const nb_graph *graph, const char *op, nb_node from);
int nb_node_is_param(const nb_graph *graph, nb_node node);
int nb_node_is_input(const nb_graph *graph, nb_node node);

/* The first node whose value is not finite (in forward order), else the
 * node whose gradient first went bad (in backward order, *in_grad set);
 * *node is NB_NONE when everything is finite. */
nb_status nb_graph_find_nonfinite(nb_graph *graph, nb_node *node, int *in_grad);
/* 1 when every value is finite (0 for NULL values with count > 0). */
int nb_values_finite(const nb_real *values, size_t count);

/* All trainable parameters, in creation order, as one array; and their
 * gradients (count: the trainable values only). */
nb_real *nb_graph_params(nb_graph *graph, size_t *count);
nb_real *nb_graph_param_grads(nb_graph *graph, size_t *count);
/* The whole state: the trainable parameters (the same array as
 * nb_graph_params), then every buffer in creation order; *count covers
 * both. Copy this to keep or restore a model's state. */
nb_real *nb_graph_state(nb_graph *graph, size_t *count);
/* Fill every parameter and buffer by its nb_init, in creation order. */
nb_status nb_graph_init_params(nb_graph *graph, nb_rng *rng);

/* Modes. TRAIN (a new graph's): dropout draws a new mask at every forward
 * pass and batch norm normalises by the batch's statistics and updates its
 * running estimates. EVAL: dropout is the identity, batch norm uses the
 * running estimates. HELD (gradient checks): like TRAIN, but dropout
 * reuses its last mask (drawing one if it has none) and batch norm leaves
 * the running estimates alone, so that the loss is a fixed function of the
 * parameters. The trainer runs in TRAIN; evaluation and prediction in
 * EVAL; nb_gradcheck and nb_numeric_grad in HELD; each puts the mode back
 * as it found it. A change of mode makes computed values stale. */
typedef enum nb_mode { NB_MODE_TRAIN, NB_MODE_EVAL, NB_MODE_HELD } nb_mode;
nb_status nb_graph_set_mode(nb_graph *graph, nb_mode mode);
nb_mode nb_graph_mode(const nb_graph *graph); /* TRAIN for NULL */
/* Random ops (dropout) draw from a counter-based generator: the mask of
 * element e of node k is a hash of (seed, draw, k, e), where draw counts
 * the TRAIN forward passes through a random op since the seed was set.
 * This sets the seed and zeroes the count (nb_model_init and nb_train_begin
 * do it from their seeds); checkpoints save the count. */
void nb_graph_set_seed(nb_graph *graph, uint64_t seed);

/* =================================================================== ops */

/* Every op is a table entry found by name (see docs/ops.md for the list).
 * nb_apply adds a node of any op; the wrappers below name the common ones.
 * An op takes a fixed number of inputs or, where docs/ops.md says so, any
 * number from one up. */
nb_node nb_apply(nb_graph *graph, const char *op, const char *name, int n_inputs,
                 const nb_node *inputs);

/* A node's attributes: named settings of its op, each one to
 * NB_ATTR_MAX_VALUES integers or reals (leaky_relu's "slope", reshape's
 * "shape"; a convolution's "kernel", "stride", "padding"). Each op lists
 * the attributes it takes, their type and default (docs/ops.md); a name
 * it does not take, a wrong type or count, or a value out of its range is
 * NB_ERR_ARGUMENT. Model files store them with the graph. */
#define NB_ATTR_NAME_MAX   16 /* bytes in an attribute name, with its NUL */
#define NB_ATTR_MAX_VALUES 8
typedef enum nb_attr_type { NB_ATTR_INT, NB_ATTR_REAL } nb_attr_type;
typedef struct nb_attr {
    char name[NB_ATTR_NAME_MAX];
    nb_attr_type type;
    int count;                        /* 1 to NB_ATTR_MAX_VALUES */
    int64_t ints[NB_ATTR_MAX_VALUES]; /* NB_ATTR_INT */
    double reals[NB_ATTR_MAX_VALUES]; /* NB_ATTR_REAL */
} nb_attr;
nb_attr nb_attr_int(const char *name, int64_t value);
nb_attr nb_attr_real(const char *name, double value);
nb_attr nb_attr_ints(const char *name, int count, const int64_t *values);
/* nb_apply with attributes; an attribute not given takes its default. */
nb_node nb_apply_attrs(nb_graph *graph, const char *op, const char *name, int n_inputs,
                       const nb_node *inputs, int n_attrs, const nb_attr *attrs);
/* A node's attributes, defaults included, in the op's order (none for leaves). */
int nb_node_attr_count(const nb_graph *graph, nb_node node);
const nb_attr *nb_node_attr(const nb_graph *graph, nb_node node, int index);
const nb_attr *nb_node_find_attr(const nb_graph *graph, nb_node node, const char *name);
/* The initialiser a parameter or buffer was made with (zeros for other nodes). */
nb_init nb_node_init(const nb_graph *graph, nb_node node);
int nb_op_exists(const char *op);
/* The names of all ops, NULL-terminated. */
const char *const *nb_op_names(void);

/* Element-wise: a and b have the same shape, or one of them one element. */
nb_node nb_add(nb_graph *g, nb_node a, nb_node b);
nb_node nb_sub(nb_graph *g, nb_node a, nb_node b);
nb_node nb_mul(nb_graph *g, nb_node a, nb_node b);
nb_node nb_div(nb_graph *g, nb_node a, nb_node b);
nb_node nb_neg(nb_graph *g, nb_node x);
nb_node nb_reciprocal(nb_graph *g, nb_node x); /* 1 / x */
nb_node nb_square(nb_graph *g, nb_node x);
nb_node nb_exp(nb_graph *g, nb_node x);
nb_node nb_log(nb_graph *g, nb_node x);
nb_node nb_identity(nb_graph *g, nb_node x);
/* Reductions to a scalar. */
nb_node nb_sum(nb_graph *g, nb_node x);
nb_node nb_mean(nb_graph *g, nb_node x);
/* Matrices: [N, D] x [D, H] -> [N, H]. */
nb_node nb_matmul(nb_graph *g, nb_node x, nb_node w);
nb_node nb_bias_add(nb_graph *g, nb_node x, nb_node b);          /* x [N, H] + b [H] per row */
nb_node nb_affine(nb_graph *g, nb_node x, nb_node w, nb_node b); /* x W + b */
/* Same element count. A dimension 0 keeps x's (the batch, say), one -1
 * takes what is left: [0, -1] flattens any batch size. */
nb_node nb_reshape(nb_graph *g, nb_node x, nb_shape shape);
nb_node nb_flatten(nb_graph *g, nb_node x); /* [N, ...] -> [N, rest] */
/* The n tensors xs joined along axis (-1: the last), alike in every other
 * dimension: [N, 3] and [N, 2] along 1 give [N, 5]. */
nb_node nb_concat(nb_graph *g, int n, const nb_node *xs, int axis);
/* Images, NCHW: x is [N, C, H, W] (batch, channels, height, width).
 * conv2d: w [F, C, KH, KW] (F filters), b [F] or NB_NONE for none, zero
 * padding pad on every side, step stride -> [N, F, OH, OW] with
 * OH = (H + 2 pad - KH) / stride + 1 (rounded down), OW alike;
 * y[n,f,i,j] = b[f] + sum over c, u, v of w[f,c,u,v] x[n, c, i*stride - pad + u,
 * j*stride - pad + v]. stride 1 to 65535, pad 0 to 65535. Different
 * strides or paddings per axis: nb_apply_attrs with "stride" or "pad" of
 * two values [along H, along W]. NB_ERR_SHAPE when x or w is not 4-D,
 * their channels differ, b is not [F] or the kernel is larger than the
 * padded input; NB_ERR_ARGUMENT for a stride or pad out of range. */
nb_node nb_conv2d(nb_graph *g, nb_node x, nb_node w, nb_node b, int stride, int pad);
/* Pooling over kernel x kernel windows, step stride (0: the kernel, windows
 * side by side), no padding: [N, C, H, W] -> [N, C, OH, OW], OH =
 * (H - kernel) / stride + 1 (rounded down), OW alike. max: each window's
 * largest value (backward routes dy to the first largest); avg: its mean.
 * kernel 1 to 65535, at most H and W (else NB_ERR_SHAPE), stride 0 to
 * 65535 (else NB_ERR_ARGUMENT); two values per axis through
 * nb_apply_attrs ("kernel", "stride"). */
nb_node nb_max_pool2d(nb_graph *g, nb_node x, int kernel, int stride);
nb_node nb_avg_pool2d(nb_graph *g, nb_node x, int kernel, int stride);
/* The mean of each channel: [N, C, H, W] -> [N, C]. */
nb_node nb_global_avg_pool(nb_graph *g, nb_node x);
/* Activations. */
nb_node nb_sigmoid(nb_graph *g, nb_node x);
nb_node nb_relu(nb_graph *g, nb_node x);
nb_node nb_leaky_relu(nb_graph *g, nb_node x, double slope);
nb_node nb_tanh(nb_graph *g, nb_node x);
nb_node nb_softmax(nb_graph *g, nb_node x); /* per row of [N, C] (or of a vector) */
/* Inverted dropout (TRAIN: x * mask / (1 - p), each element kept with
 * probability 1 - p; EVAL: x), 0 <= p < 1. */
nb_node nb_dropout(nb_graph *g, nb_node x, double p);
/* Batch normalisation of x [N, C] (per feature, over N) or [N, C, H, W]
 * (per channel, over N, H, W): gamma * (x - mean) / sqrt(var + eps) + beta,
 * gamma and beta [C] (parameters), running_mean and running_var [C]
 * (buffers: zeros and ones). TRAIN uses the batch's mean and (biased)
 * variance and moves the running estimates by momentum towards them (the
 * variance unbiased); EVAL uses the running estimates. */
nb_node nb_batch_norm(nb_graph *g, nb_node x, nb_node gamma, nb_node beta, nb_node running_mean,
                      nb_node running_var, double momentum, double eps);
/* Losses: scalar outputs, averaged over the batch where the name says so.
 * target holds class indices [N] or one-hot rows [N, C] for the softmax and
 * cross-entropy losses; the same shape as the prediction otherwise. */
nb_node nb_softmax_with_loss(nb_graph *g, nb_node logits, nb_node target);
nb_node nb_cross_entropy(nb_graph *g, nb_node probs, nb_node target);
nb_node nb_bce_with_logits(nb_graph *g, nb_node logits, nb_node target);
nb_node nb_sse(nb_graph *g, nb_node y, nb_node target);      /* sum (y - t)^2 */
nb_node nb_half_sse(nb_graph *g, nb_node y, nb_node target); /* 1/2 sum (y - t)^2 */
nb_node nb_mse(nb_graph *g, nb_node y, nb_node target);      /* mean (y - t)^2 */
nb_node nb_sae(nb_graph *g, nb_node y, nb_node target);      /* sum |y - t| */

/* Rename a node (e.g. one made by a wrapper above). */
nb_status nb_node_set_name(nb_graph *graph, nb_node node, const char *name);

/* ======================================== layers and initialisation */

/* A dense layer: affine with weight "<prefix>.weight" [in, units] and bias
 * "<prefix>.bias" [units] (zeros). x is [N, in]; an x of more dimensions
 * ([N, C, H, W]) is flattened first (nb_flatten), in = C*H*W. */
nb_node nb_dense(nb_graph *g, nb_node x, int units, const char *prefix, nb_init weight_init);
nb_init nb_init_zeros(void);
nb_init nb_init_constant(double value);
nb_init nb_init_normal(double mean, double deviation);
nb_init nb_init_uniform(double low, double high);
nb_init nb_init_xavier(void); /* uniform */
nb_init nb_init_he(void);     /* normal */
/* Fill values (shape gives fan-in and fan-out) by init. An init that
 * nb_param would refuse (NaN or infinite numbers, a negative deviation, low
 * > high, an unknown kind), NULL values, or no rng for a random kind leave
 * values as they are. */
void nb_init_fill(nb_init init, nb_shape shape, nb_real *values, nb_rng *rng);

/* ============================================================ optimizers */

typedef enum nb_optimizer_kind {
    NB_OPT_SGD,
    NB_OPT_MOMENTUM,
    NB_OPT_NESTEROV,
    NB_OPT_ADAGRAD,
    NB_OPT_RMSPROP,
    NB_OPT_ADAM,
    NB_OPT_ADAMW,
} nb_optimizer_kind;

typedef struct nb_optimizer_config {
    nb_optimizer_kind kind;
    double lr;           /* learning rate */
    double momentum;     /* momentum and nesterov: velocity decay */
    double rho;          /* rmsprop: decay of the squared-gradient average */
    double beta1, beta2; /* adam, adamw */
    double eps;          /* adagrad, rmsprop, adam, adamw */
    double weight_decay; /* L2 added to the gradient; decoupled for adamw */
} nb_optimizer_config;

typedef struct nb_optimizer nb_optimizer;

/* The usual defaults for kind (lr 0.01 for SGD-like, 0.001 for Adam). */
nb_optimizer_config nb_optimizer_defaults(nb_optimizer_kind kind);
const char *nb_optimizer_name(nb_optimizer_kind kind);
nb_status nb_optimizer_parse(const char *name, nb_optimizer_kind *kind);
nb_status nb_optimizer_create(const nb_optimizer_config *config, size_t param_count,
                              nb_optimizer **out);
void nb_optimizer_free(nb_optimizer *opt);
/* One update of params from grads with learning rate lr (the schedule's). */
void nb_optimizer_step(nb_optimizer *opt, nb_real *params, const nb_real *grads, double lr);
/* The same update, guarded: params are copied to backup (param_count
 * values) as it goes, and if any updated value is not finite the params are
 * restored and NB_ERR_NUMERIC returned. (The optimizer's own state is not
 * restored: a caller stops training on this error.) */
nb_status nb_optimizer_step_guarded(nb_optimizer *opt, nb_real *params, const nb_real *grads,
                                    double lr, nb_real *backup);
/* The optimizer's state, for checkpoints: slots arrays of param_count values
 * each (0, 1 or 2) and the step counter. */
int nb_optimizer_slot_count(const nb_optimizer *opt);
nb_real *nb_optimizer_slot(nb_optimizer *opt, int slot);
uint64_t *nb_optimizer_steps(nb_optimizer *opt);
const nb_optimizer_config *nb_optimizer_get_config(const nb_optimizer *opt);

/* =================================================== numerical gradients */

typedef struct nb_gradcheck_entry {
    char name[NB_NAME_MAX];
    size_t count;   /* elements checked */
    double max_abs; /* worst |analytic - numeric| */
    double max_rel; /* worst |a - n| / max(|a|, |n|, NB_GRADCHECK_FLOOR) */
} nb_gradcheck_entry;

#define NB_GRADCHECK_FLOOR 1e-2

/* dL/dx for every element of node, by central differences
 * (L(x + eps) - L(x - eps)) / 2 eps. out holds the node's element count.
 * eps must be positive, finite and large enough to change every value
 * (else NB_ERR_ARGUMENT). */
nb_status nb_numeric_grad(nb_graph *graph, nb_node loss, nb_node node, double eps, nb_real *out);
/* Compare analytic and numeric gradients of every parameter and every input
 * with gradients enabled; one entry per tensor (at most max_entries). */
nb_status nb_gradcheck(nb_graph *graph, nb_node loss, double eps, nb_gradcheck_entry *entries,
                       int max_entries, int *n_entries);

/* ========================================================== trace output */

/* Every node in order: name, op, shape, value and gradient, 9 significant
 * digits. */
nb_status nb_graph_print_trace(nb_graph *graph, FILE *out);
/* A Graphviz DOT picture, nodes labelled with values and gradients. */
nb_status nb_graph_write_dot(nb_graph *graph, FILE *out);

/* ================================================================== data */

/* Documented limits on everything read from a file. */
#define NB_MAX_CLASSES    1000      /* distinct labels */
#define NB_MAX_FEATURES   (1 << 20) /* values per sample */
#define NB_MAX_SAMPLES    (1 << 26) /* samples in one data set */
#define NB_MAX_LINE       (1 << 20) /* bytes in one CSV line */
#define NB_LABEL_NAME_MAX 64        /* bytes in a class or column name */

/* What nb_dataset.origin holds: where each sample was read from, so that
 * a message about one sample can name it in its file. */
typedef enum nb_origin_kind {
    NB_ORIGIN_NONE = 0, /* origin is NULL: a sample is named by its index */
    NB_ORIGIN_LINE,     /* origin[i]: the 1-based line of sample i in its CSV file */
    NB_ORIGIN_RECORD    /* origin[i]: the 0-based record of sample i in its IDX file */
} nb_origin_kind;

/* A data set in memory: count samples of features values each. Either
 * classification (classes > 0, labels) or regression (classes == 0,
 * targets values per sample in y). origin is filled by the CSV and IDX
 * loaders and carried by nb_dataset_subset and nb_dataset_split (a split
 * shuffles, so sample i of a part is not line i of the file); built-in
 * sets and the joined parts of an IDX folder (nb_data_open_all: the
 * training file's records, then the test file's) have none. A data set
 * made by hand may leave it NULL. */
typedef struct nb_dataset {
    size_t count;
    int features;
    int rows, cols;             /* image geometry when the samples are images, else 0 */
    int channels;               /* images: features = channels x rows x cols; else 0 */
    int classes;                /* 0 for regression */
    int targets;                /* regression: values per sample in y */
    nb_real *x;                 /* count x features, row-major */
    int32_t *labels;            /* classification: count class indices */
    nb_real *y;                 /* regression: count x targets */
    char **class_names;         /* classes names, or NULL */
    char **feature_names;       /* features names (CSV with a header), or NULL */
    size_t *origin;             /* count entries (see origin_kind), or NULL */
    nb_origin_kind origin_kind; /* NB_ORIGIN_NONE when origin is NULL */
} nb_dataset;

void nb_dataset_free(nb_dataset *data); /* frees the contents, zeroes *data */
/* The shape of one sample: [channels, rows, cols] for images (when they
 * multiply to features), else [features]. A model built for the data
 * (nb_model_create_shaped) takes inputs [batch, ...this]. */
nb_shape nb_dataset_sample_shape(const nb_dataset *data);

/* A 64-bit fingerprint of a data set's samples, to tell whether two data
 * sets hold the same samples in the same order (nabla eval compares the
 * test part it reads with the one a model was tested on). FNV-1a (64 bits)
 * over: count, features and targets (8 bytes each, little-endian); every
 * feature value, then for classification the class name of every sample's
 * label and a NUL byte (its index in decimal when the set has no names), or
 * for regression every target value. Values are taken as IEEE single
 * precision, little-endian, so f32 and f64 builds agree on values read from
 * the same text. class_names, feature_names and origin are not covered
 * otherwise; a NULL or empty set has the fingerprint of zero samples. */
uint64_t nb_dataset_fingerprint(const nb_dataset *data);

/* Bytes a gzip-compressed input may inflate to: reading stops with
 * NB_ERR_LIMIT past it, and an IDX header claiming more is refused before
 * anything is allocated. */
#define NB_MAX_INFLATED ((uint64_t)1 << 32)

/* Every loader below takes a path or "-" for standard input, reads it once
 * from front to back (pipes work), and decides what a file is by its
 * content, never by its name: gzip (inflated once; gzip inside gzip is
 * refused), then IDX (starts with two zero bytes) or CSV text (no NUL or
 * control bytes). Other content is refused, naming what it is and what
 * was expected (see docs/data.md). */

/* An IDX pair (images idx3 or vectors idx2 of unsigned bytes, labels idx1),
 * plain or gzip-compressed. Pixel values stay 0..255; scale them with
 * NB_SCALE_UNIT. Sizes in a header are checked against the file's real
 * size (compressed: what it can inflate to) before anything is allocated. */
nb_status nb_load_idx(const char *images_path, const char *labels_path, nb_dataset *out);

/* What a loader found out, for verbose output (filled when asked for). */
typedef struct nb_data_info {
    char format[8];                /* "csv", "idx", or "" for a built-in set */
    int gzip;                      /* the file was gzip-compressed */
    char delimiter;                /* CSV: the delimiter used */
    char delimiter_why[96];        /* CSV: "given", or "detected: ..." and why */
    int header;                    /* CSV: 1 when line 1 was a header */
    char header_why[128];          /* CSV: "given", or "detected: ..." and why */
    int label_column;              /* CSV: the 0-based label column, -1 for none */
    char label[NB_LABEL_NAME_MAX]; /* CSV: that column as a label option names it: its
                                    * header name, else its 0-based index */
    size_t rows;                   /* CSV: data rows read */
    int seeded;                    /* nb_data_open: the parts depend on the seed (a split) */
} nb_data_info;

typedef struct nb_csv_options {
    const char *label; /* label column: a header name or a 0-based index; NULL: last */
    int header;        /* 1 yes, 0 no, -1 detect (docs/data.md) */
    int regression;    /* 1: the label is a number to fit; 0: a class (text or int) */
    char delimiter;    /* 0: detect among tab, ';' and ',' */
    /* Expected classes (classification): labels are matched to
     * class_names[0..classes) by name, or are indices 0..classes-1 when
     * class_names is NULL; any other label is an error naming its line.
     * classes 0: the classes are learned from the data. nb_data_open
     * applies them to every source. */
    char *const *class_names;
    int classes;
    int features;       /* > 0: the data must have this many features (checked first) */
    nb_data_info *info; /* when not NULL, filled by the loader */
    /* label / regression were not given by the user but come from a
     * model's training settings: messages name the label as the model's,
     * and nb_data_open drops them for a source that is not CSV instead of
     * refusing them. */
    int label_saved, regression_saved;
} nb_csv_options;

/* Messages of the data readers name options as the nabla command spells
 * them (--label COL, --header yes), its main user; for the C API they are
 * the fields of nb_csv_options of the same names. */

/* A CSV file of numeric features and one label column. A bad cell, a
 * missing value (NA, N/A, ?, empty), a ragged row or an empty file is an
 * error naming the file, line and column. Learned classes: text labels in
 * order of first appearance (class_names); integer labels that are exactly
 * 0..K-1 as indices (no names); other integer labels as names sorted
 * numerically. Data with one class is refused. */
nb_status nb_load_csv(const char *path, const nb_csv_options *options, nb_dataset *out);

/* Rows of features raw values to predict on, read in batches (memory does
 * not grow with the number of rows). From CSV text: every column is a
 * feature, or, with features + 1 columns, the column options->label names
 * (a header name or a 0-based index; with none named, the last column,
 * as a data set's default label column) is a label column and is skipped; header and
 * delimiter as for nb_load_csv (regression and the expected classes are
 * ignored). From an IDX images (idx3) or vectors (idx2) file: features
 * values per sample. options->info is filled once the first row has been
 * read (see nb_feature_reader_info). */
typedef struct nb_feature_reader nb_feature_reader;
nb_status nb_feature_reader_open(const char *path, const nb_csv_options *options, int features,
                                 nb_feature_reader **out);
/* Up to max rows into x (max x features values); *rows 0 at the end. An
 * error names the file, line and column (or byte offset). */
nb_status nb_feature_reader_read(nb_feature_reader *reader, nb_real *x, size_t max, size_t *rows);
const nb_data_info *nb_feature_reader_info(const nb_feature_reader *reader);
/* The shape of one sample, as nb_dataset_sample_shape gives it: [1, rows,
 * cols] for an IDX images file, else [features]; to check against a model
 * with nb_model_check_sample_shape. */
nb_shape nb_feature_reader_sample_shape(const nb_feature_reader *reader);
void nb_feature_reader_close(nb_feature_reader *reader);

/* Built-in data sets that need nothing installed. */
nb_status nb_dataset_xor(nb_dataset *out); /* 4 samples, 2 classes */
/* classes interleaved spiral arms of per_class points each, in 2-D. */
nb_status nb_dataset_spiral(int per_class, int classes, uint64_t seed, nb_dataset *out);
/* count points x in [-pi, pi] (sorted when seed is 0, else uniform) with
 * y = sin(x): the notes' universal-approximation picture. */
nb_status nb_dataset_sine(int count, uint64_t seed, nb_dataset *out);
/* The notes' height (cm) / weight (kg) -> sex table. */
nb_status nb_dataset_body(nb_dataset *out);

/* Copy the samples index[0..count) of src. */
nb_status nb_dataset_subset(const nb_dataset *src, const size_t *index, size_t count,
                            nb_dataset *out);
/* A seeded shuffle, then the first round(fraction * count) samples into
 * first and the rest into second (the notes' 70/30: fraction 0.7). */
nb_status nb_dataset_split(const nb_dataset *src, double fraction, uint64_t seed, nb_dataset *first,
                           nb_dataset *second);

/* Open a data source by name: "fashion-mnist" (its train and test parts,
 * from $NABLA_DATA_DIR[/fashion-mnist] or /usr/share/datasets/fashion-mnist,
 * with the ten class names), "xor" (all four points in both parts),
 * "spiral" (3 x 100), "sine" (256 points), "body", a directory holding an
 * IDX pair set (train-images-idx3-ubyte[.gz] ... t10k-labels-idx1-ubyte[.gz]),
 * or a CSV file (any name; "-" is standard input). Built-ins other than xor
 * and CSV files are split 70/30 with seed (see docs/data.md). csv may be
 * NULL; its label and regression apply to CSV only (NB_ERR_ARGUMENT for
 * another source), its expected classes to every source. Without expected
 * classes, data with one class is refused, and so is a test part holding a
 * class that no training sample has (naming the class and the source). */
nb_status nb_data_open(const char *source, const nb_csv_options *csv, uint64_t seed,
                       nb_dataset *train, nb_dataset *test);
/* Every sample of a source in one set, unshuffled and unsplit: a CSV file
 * in file order, an IDX folder's training then test files, a built-in
 * set as generated with seed (xor: its four points). Options as for
 * nb_data_open. */
nb_status nb_data_open_all(const char *source, const nb_csv_options *csv, uint64_t seed,
                           nb_dataset *out);

/* The files nb_data_open(source, ...) reads, for checks made before it
 * reads them (an output must not replace one): fn(path, user) for each,
 * until fn returns nonzero. A CSV file: source itself ("-": /dev/stdin). A
 * folder of IDX files, given or the one "fashion-mnist" opens (as above):
 * all eight names a part may have, train-images-idx3-ubyte[.gz],
 * train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and
 * t10k-labels-idx1-ubyte[.gz], those not there too (a file created there
 * later would be read). The other built-in sets: none (made in memory). */
typedef int (*nb_data_file_fn)(const char *path, void *user);
nb_status nb_data_files(const char *source, nb_data_file_fn fn, void *user);

/* What kind of source a name is, as nb_data_open decides it. */
typedef enum nb_source_kind {
    NB_SOURCE_NONE,    /* no built-in set, file or folder of that name */
    NB_SOURCE_BUILTIN, /* xor, spiral, sine, body: made in memory */
    NB_SOURCE_IDX,     /* fashion-mnist or a folder of IDX files */
    NB_SOURCE_FILE,    /* a data file (CSV or IDX content) or "-" */
} nb_source_kind;
nb_source_kind nb_data_source_kind(const char *source);
/* Are source's parts a split drawn with the seed (spiral, sine, body, a
 * file), not fixed by its files (IDX) or by definition (xor)? */
int nb_data_seeded(const char *source);

/* ========================================================= preprocessing */

typedef enum nb_scale_kind {
    NB_SCALE_NONE,
    NB_SCALE_UNIT,   /* x / 255: bytes to [0, 1] */
    NB_SCALE_MINMAX, /* (x - min) / (max - min), fitted per feature */
    NB_SCALE_ZSCORE, /* (x - mean) / deviation, fitted per feature */
} nb_scale_kind;

/* x' = (x - offset[j]) * scale[j] for feature j. */
typedef struct nb_scaler {
    nb_scale_kind kind;
    int features;
    nb_real *offset;
    nb_real *scale;
} nb_scaler;

const char *nb_scale_name(nb_scale_kind kind); /* "none", "unit", "minmax", "zscore" */
nb_status nb_scale_parse(const char *name, nb_scale_kind *kind);
/* The scaling to fit unless told: unit (x / 255) for IDX bytes (an IDX
 * source, or image data), none for the built-in sets, zscore otherwise. */
nb_scale_kind nb_data_default_scale(const char *source, const nb_dataset *data);
/* Fit on the training set only; a constant feature gets scale 1. */
nb_status nb_scaler_fit(nb_scale_kind kind, const nb_dataset *train, nb_scaler *out);
nb_status nb_scaler_copy(const nb_scaler *src, nb_scaler *out);
void nb_scaler_apply(const nb_scaler *scaler, nb_real *x, size_t count); /* count samples */
/* The inverse, x = x' / scale[j] + offset[j]: back to the original units. */
void nb_scaler_invert(const nb_scaler *scaler, nb_real *x, size_t count);
/* A scaler for the regression targets (y, targets values per sample), fitted
 * on the training set only by the same rules, per target (features =
 * targets): e.g. zscore makes house prices of 1e5..1e6 mean 0, deviation
 * 1. "unit" is refused (it is for image bytes). */
nb_status nb_scaler_fit_targets(nb_scale_kind kind, const nb_dataset *train, nb_scaler *out);
void nb_scaler_free(nb_scaler *scaler);
/* out[i][labels[i]] = 1, zeros elsewhere (count x classes); a label outside
 * 0..classes-1 leaves its row all zeros. */
void nb_one_hot(const int32_t *labels, size_t count, int classes, nb_real *out);

/* ================================================================ models */

/* A model: a compiled graph with its roles (one or more inputs, the
 * output, the target and the loss), plus what it needs to be used later
 * (the scaler, class names, metadata). Everything below (training,
 * evaluation, prediction, files, checkpoints) works on any model, made
 * either way:
 *
 * - from a layer spec (nb_model_create), a comma-separated list of the
 *   layer table's entries (docs/layers.md):
 *     dense:N   a dense layer of N units (weights He or Xavier by the next
 *               activation, biases zero; a sample of any shape is flattened)
 *     relu | sigmoid | tanh | leaky_relu[:slope] | identity | flatten
 *     conv:F:K[:S[:P]] | maxpool:K[:S] | avgpool:K[:S] | gap   on images
 *               [C, H, W] (nb_model_create_shaped)
 *     dropout:P | batchnorm
 *   e.g. "dense:100,relu,dense:10" or "conv:8:3,relu,maxpool:2,dense:10",
 *   with a loss: "softmax_ce"
 *   (classification, the default), "bce" (binary, one logit), "mse",
 *   "sse", "half_sse", "sae";
 * - from a graph built with the graph API (nb_model_from_graph): the loss
 *   is any loss op of the graph (nb_softmax_with_loss, nb_mse, ...) applied
 *   to the output and the target.
 *
 * A sample's features are the model's inputs, one after the other: input
 * 0's values per sample (its shape without the batch dimension), then
 * input 1's, ...; a data set for the model has that many features. */
typedef struct nb_model nb_model;

#define NB_SPEC_MAX   1024 /* bytes in a layer spec */
#define NB_MAX_LAYERS 64

/* Build and compile the graph (loss NULL: "softmax_ce"); the weights start
 * as nb_model_init(model, 0) leaves them. */
nb_status nb_model_create(const char *spec, int inputs, const char *loss, int batch,
                          nb_model **out);
/* The same for samples of any shape (without the batch dimension), e.g.
 * [C, H, W] for images: the input is [batch, C, H, W]. */
nb_status nb_model_create_shaped(const char *spec, nb_shape sample, const char *loss, int batch,
                                 nb_model **out);

/* The roles of a hand-built graph's nodes. Each input is an input node of
 * shape [batch, ...], all with the same batch; target an input node
 * [batch, ...] too; loss a node of a loss op (docs/ops.md, "losses")
 * whose inputs are output and target. */
typedef struct nb_model_roles {
    int n_inputs;
    const nb_node *inputs;
    nb_node output, target, loss;
} nb_model_roles;
/* Wrap graph as a model; the model owns the graph from then on, and frees
 * it on failure too. A graph not yet compiled is compiled and its weights
 * start as nb_model_init(model, 0) leaves them (each parameter's nb_init);
 * a compiled graph keeps its weights as they are (zeros unless you set or
 * initialised them). Refused, NB_ERR_ARGUMENT or NB_ERR_SHAPE naming the
 * role: an input node with no role, an output that depends on the target
 * (a prediction has none) or is the target, a graph that does not build
 * for another batch size (predictions come in chunks of any size). nabla
 * cannot see whether the graph mixes samples (a mean over the batch, a
 * reshape across it): each sample's prediction must depend on that sample
 * only, or predictions will depend on how samples are chunked. An input
 * the output does not use is allowed (its features are ignored). A model
 * past a model file's limits (NB_MAX_NODES; NB_MAX_ACTIVATIONS, counted at
 * the load batch of 32) works, but saving it or a checkpoint of it is
 * NB_ERR_LIMIT. */
nb_status nb_model_from_graph(nb_graph *graph, const nb_model_roles *roles, nb_model **out);
void nb_model_free(nb_model *model);
/* Is loss a loss's name? NB_ERR_NOT_FOUND, listing the names, if not. */
nb_status nb_loss_check(const char *loss);
/* The loss for data unless one is named: "softmax_ce" for class labels,
 * "mse" for numeric targets. */
const char *nb_loss_default(const nb_dataset *data);
/* The outputs (units of the last dense layer) a model needs to learn data
 * with loss (NULL: nb_loss_default): one per class for softmax_ce and for a
 * regression loss on class labels (one-hot targets), 1 for bce, one per
 * target for numeric targets. NB_ERR_NOT_FOUND for an unknown loss;
 * NB_ERR_ARGUMENT, saying why, for softmax_ce or bce on numeric targets
 * and for bce on other than 2 classes. */
nb_status nb_loss_outputs(const char *loss, const nb_dataset *data, int *outputs);
/* Can model take samples of shape sample (nb_dataset_sample_shape,
 * nb_feature_reader_sample_shape)? They must hold one value per input of
 * the model (nb_model_inputs); and when the samples are images [C, H, W]
 * and the model's one input is an image [N, C, H, W], the same C, H and W:
 * pixels in another layout are not the images the model learnt, whether
 * its first layer is a convolution or a dense layer. Samples without a
 * geometry ([F]) or a model whose input is flat are matched by count.
 * NB_ERR_ARGUMENT naming both otherwise. Training, evaluation and
 * nb_model_feed apply it. */
nb_status nb_model_check_sample_shape(const nb_model *model, nb_shape sample);
/* Can model learn data? Its loss fits the data (nb_loss_outputs), its
 * samples fit the model's input (nb_model_check_sample_shape) and it has
 * the outputs its loss needs; NB_ERR_ARGUMENT naming both numbers
 * otherwise. */
nb_status nb_model_check_data(const nb_model *model, const nb_dataset *data);
/* Check a spec without building it; the message names the bad item. */
nb_status nb_spec_check(const char *spec);
/* Check a spec as nb_spec_check does and give its outputs: the units of
 * its last dense layer (0 on an error). What a loss needs of the outputs
 * (bce one, softmax_ce one per class) can so be checked before any data is
 * read. */
nb_status nb_spec_outputs(const char *spec, int *outputs);

nb_graph *nb_model_graph(nb_model *model);
nb_node nb_model_input(const nb_model *model); /* input 0 */
int nb_model_input_count(const nb_model *model);
nb_node nb_model_input_at(const nb_model *model, int index); /* NB_NONE out of range */
nb_node nb_model_output(const nb_model *model);              /* logits or regression values */
nb_node nb_model_target(const nb_model *model);              /* [N] class indices or [N, outputs] */
nb_node nb_model_loss(const nb_model *model);
const char *nb_model_spec(const nb_model *model); /* NULL for a hand-built graph */
/* softmax_ce, bce, mse, sse, half_sse, sae, or the loss op's name when it
 * has no other (cross_entropy). */
const char *nb_model_loss_name(const nb_model *model);
/* What a loss is, from its op (docs/ops.md, "losses"). */
typedef struct nb_loss_info {
    int summed;        /* sums over the batch (sse, half_sse, sae), else a mean */
    int classifier;    /* its targets are classes (softmax_ce, bce, cross_entropy) */
    int binary;        /* one logit for two classes (bce) */
    int probabilities; /* the model's answer is class probabilities */
} nb_loss_info;
/* By name as a spec model's loss is named (softmax_ce, ...); NB_ERR_NOT_FOUND
 * listing the names otherwise. */
nb_status nb_loss_info_of(const char *loss, nb_loss_info *out);
/* The model's loss (all zero for NULL). */
nb_loss_info nb_model_loss_info(const nb_model *model);
int nb_model_inputs(const nb_model *model);  /* features per sample, all inputs together */
int nb_model_outputs(const nb_model *model); /* output values per sample */
/* softmax_ce or bce, or a regression loss (mse, ...) trained on one-hot
 * classes: then class names are set (one per output), and the predicted
 * class is the largest output. */
int nb_model_is_classifier(const nb_model *model);
int nb_model_batch(const nb_model *model);
/* Compile for another batch size (memory is reused when it fits). */
nb_status nb_model_set_batch(nb_model *model, int batch);
nb_status nb_model_init(nb_model *model, uint64_t seed);

/* Outputs for count raw samples (count x inputs): the model's scaler is
 * applied first; out gets count x outputs values: class probabilities for
 * softmax_ce and bce (sigmoid), the outputs themselves for a regression
 * loss trained on one-hot classes, and otherwise the regression values in
 * the targets' original units (the target scaler inverted). It runs in
 * chunks of the batch size and recompiles for a last, partial chunk (node
 * value pointers taken earlier are then stale); "x" must not be bound. A
 * sample whose input (after scaling) or output is NaN or infinite is
 * NB_ERR_NUMERIC, naming the first such sample (0-based) and value. A
 * matrix product may round differently for another number of rows (as
 * for another number of threads), so the last bit of a sample's output
 * can depend on the chunk it falls in. */
nb_status nb_model_predict(nb_model *model, const nb_real *x, size_t count, nb_real *out);
/* The values node takes (per sample: its shape without the batch
 * dimension) for count raw samples x (count x nb_model_inputs, scaled as
 * nb_model_predict scales them), as evaluation computes them; out gets
 * count x that many values. To look inside a trained model: a
 * convolution's feature maps, a hidden layer's activations. NB_ERR_ARGUMENT
 * for a node that has no batch dimension (a parameter) or comes after the
 * model's output (the loss). */
nb_status nb_model_node_values(nb_model *model, nb_node node, const nb_real *x, size_t count,
                               nb_real *out);

/* Load samples index[start .. start + rows) of data (start .. when index
 * is NULL; data already scaled) into the model's inputs and target, for a
 * forward pass of your own (nb_graph_forward, nb_gradcheck): the model
 * must be compiled for rows rows (nb_model_set_batch). Each sample's
 * features are split over the inputs in order; the target gets a class
 * index, a one-hot row or 0/1 label, or the regression values, as its
 * shape asks. NB_ERR_SHAPE when data does not fit the model. */
nb_status nb_model_feed(nb_model *model, const nb_dataset *data, const int *index, size_t start,
                        int rows);

/* What is saved with the model. Setters copy. A scaler needs one finite
 * offset and one finite scale > 0 per input (NB_ERR_NUMERIC otherwise). */
nb_status nb_model_set_scaler(nb_model *model, const nb_scaler *scaler);
const nb_scaler *nb_model_scaler(const nb_model *model);
/* The regression targets' scaler (one entry per output; NULL or kind none:
 * targets unscaled, the default). Training sees targets scaled by it;
 * nb_model_predict inverts it, so predictions are in the original units;
 * nb_evaluate reports MAE, RMSE and R^2 in the original units. Refused for
 * classifiers. */
nb_status nb_model_set_target_scaler(nb_model *model, const nb_scaler *scaler);
const nb_scaler *nb_model_target_scaler(const nb_model *model); /* NULL if none */
/* Class names: 1 to NB_LABEL_NAME_MAX - 1 bytes of UTF-8 that prints as
 * itself: no control character (C0, DEL, C1), no invisible or format
 * character (bidi controls, zero-width characters, U+FEFF, ...: the list in
 * docs/model-format.md), no space at either end; no two alike. Text in
 * another encoding (a Latin-1 CSV's labels) is refused: convert it to
 * UTF-8. count is the number of classes: outputs for softmax_ce, 2 for
 * bce; for a regression loss, outputs (one-hot targets: the model becomes a
 * classifier); NULL or 0 clears them. */
nb_status nb_model_set_class_names(nb_model *model, char *const *names, int count);
const char *nb_model_class_name(const nb_model *model, int index); /* NULL if none */
int nb_model_class_count(const nb_model *model);                   /* named classes */
/* Free-form JSON values kept in the file's metadata ("training",
 * "metrics"); json must be valid JSON text with nothing after it, no
 * object key twice and no \u0000 in a string; json NULL removes the key.
 * A key is 1 to 63 bytes of UTF-8 with no control, invisible or format
 * character. "training" (read back by nabla eval and predict) is an object
 * whose "label" is a string of 1 to NB_LABEL_NAME_MAX - 1 bytes that would
 * pass as a class name (eval and predict quote it), "regression" true or
 * false, "seed" a whole number in [0, 2^53] or a decimal string in
 * [0, 2^64 - 1], and "batch" a whole number in [1, 2^31 - 1]. */
nb_status nb_model_set_meta(nb_model *model, const char *key, const char *json);
const char *nb_model_meta(const nb_model *model, const char *key); /* NULL if unset */
/* What nabla train recorded in "training" (docs/model-format.md), as eval,
 * predict, info and the report read it back: one reading for all of them.
 * A member missing or not in its documented form is left unknown. */
typedef struct nb_training_record {
    char label[NB_LABEL_NAME_MAX]; /* the label column as given; "" unknown */
    int regression;                /* 1 or 0 as recorded; -1 unknown */
    int has_seed;
    uint64_t seed;
    int batch; /* the training batch, at most the training samples; 0 unknown */
    int has_test_fingerprint;
    uint64_t test_fingerprint;        /* nb_dataset_fingerprint of the test part */
    int diverged;                     /* stop_reason "numeric error" */
    int stopped_epoch, stopped_batch; /* where it stopped; -1 unknown */
} nb_training_record;
/* json: the "training" object's text (NULL or not an object: all unknown). */
void nb_training_record_parse(const char *json, nb_training_record *out);
void nb_model_training_record(const nb_model *model, nb_training_record *out);
/* The keys set, index 0 to count - 1, in no set order (setting or
 * removing a key may move others); NULL for an index out of range. */
int nb_model_meta_count(const nb_model *model);
const char *nb_model_meta_key(const nb_model *model, int index);

/* =========================================================== model files */

/* safetensors: 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then raw little-endian data.
 * nabla's own metadata is in "__metadata__": the graph (every node's op,
 * inputs, attributes and shape, the batch written as "N", and the model's
 * roles), so that any model loads without its spec, and the format
 * version, spec (when there is one), loss, scaler, class names, training
 * settings and metrics. Parameters and constants are tensors named as
 * their nodes. Saving writes a temporary file, flushes it and renames it
 * over path: a crash never leaves a half-written model. Loading checks
 * every field against the file's real length and the graph, and refuses
 * anything inconsistent; files of format version 1 (which held the spec
 * alone) still load. docs/model-format.md describes it all. */
#define NB_MODEL_FORMAT_VERSION 2
#define NB_MAX_HEADER           (16 << 20) /* bytes of JSON header */
#define NB_MAX_TENSORS          4096       /* parameters, constants and scaler arrays */
/* A file's graph has at most NB_MAX_NODES nodes, and compiling it at the
 * batch size a model loads with (32) takes at most NB_MAX_ACTIVATIONS
 * values: the values of its inputs, constants and op nodes, their op
 * scratch and the gradients that flow into them (checked before anything
 * is allocated). A model has at most NB_MAX_FEATURES outputs per sample.
 * Saving a model past a limit is NB_ERR_LIMIT. */
#define NB_MAX_NODES       65536
#define NB_MAX_ACTIVATIONS (1 << 27)
/* Any graph holds at most NB_MAX_PARAMS parameter and buffer values
 * (1 GiB of floats); compiling a larger one is NB_ERR_LIMIT, before
 * anything is allocated. */
#define NB_MAX_PARAMS ((size_t)1 << 28)

nb_status nb_model_save(const nb_model *model, const char *path);
nb_status nb_model_load(const char *path, nb_model **out);

/* Every file nabla writes (models, checkpoints, reports, logs) follows one
 * rule set (docs/cli.md, "outputs"): a regular file is replaced, never
 * truncated in place (a new file beside it renamed over it; a symbolic
 * link's target is replaced and the link stays; the setuid, setgid and
 * sticky bits are not carried over); a character device or FIFO
 * (/dev/null, /dev/stdout, a pipe) is written directly; anything else, a
 * folder say, is refused. */

/* Can path be written so: its folder exists and is writable, and the name
 * of the temporary file fits the file system. Call it before long work. */
nb_status nb_output_check(const char *path);
/* Open path as a stream by the same rules (for a log): a regular file is
 * replaced by a new empty one at once, or appended to when append is set;
 * a file that standard output or error already writes is written through
 * that descriptor. Close with fclose. */
nb_status nb_output_open(const char *path, int append, FILE **out);
/* Can path be read as a model file or checkpoint is: it opens, and it is a
 * regular file (a FIFO or a device is refused at once, never waited on).
 * Call it before long work; the message does not name path. */
nb_status nb_input_check(const char *path);
/* 1 when writing a would change or destroy b: the same file by device and
 * inode (through symbolic and hard links), or for a name not created yet,
 * the same folder and name. Character devices (/dev/null, a terminal)
 * never collide. */
int nb_files_collide(const char *a, const char *b);

/* ============================================================== training */

/* Several processes training one model (data parallelism, docs/mpi.md):
 * what the trainer needs from the transport (MPI, or anything else). Every
 * process holds the same weights and data, computes its block of each
 * batch's shards (nb_train_config.shards) and takes the same update. size
 * is a power of two; rank in [0, size). The library makes every decision
 * about the order of the sums itself, so a transport only moves bytes:
 *   exchange: send bytes from send to rank peer and receive as many from
 *             it into recv; peer makes the matching call at the same time.
 *   agree:    replace each of values[0 .. count) by its maximum over all
 *             ranks (every rank calls it with the same count).
 *   barrier:  return once every rank has called it (may be NULL).
 * A failure (a dead peer) returns a status other than NB_OK with a message
 * (nb_error); the trainer stops with it. user is passed to each. */
typedef struct nb_comm {
    int rank, size;
    nb_status (*exchange)(void *user, int peer, const void *send, void *recv, size_t bytes);
    nb_status (*agree)(void *user, int *values, int count);
    nb_status (*barrier)(void *user);
    void *user;
} nb_comm;

typedef enum nb_schedule_kind {
    NB_SCHEDULE_CONSTANT,
    NB_SCHEDULE_STEP,   /* lr * gamma^floor((epoch - 1) / step_epochs) */
    NB_SCHEDULE_COSINE, /* lr_min + (lr - lr_min) (1 + cos(pi (epoch - 1) / epochs)) / 2 */
} nb_schedule_kind;

/* "constant", "step", "cosine" ("unknown" for any other kind). */
const char *nb_schedule_name(nb_schedule_kind kind);
/* The kind of a name nb_schedule_name gives; NB_ERR_NOT_FOUND, with a
 * message listing the names, for any other. */
nb_status nb_schedule_parse(const char *name, nb_schedule_kind *kind);

typedef struct nb_epoch_stats {
    int epoch; /* 1-based */
    double lr;
    double train_loss, train_accuracy; /* accuracy: -1 for regression */
    double val_loss, val_accuracy;     /* -1 when there is no validation set */
    double seconds;
    /* Regression with a validation set: its MAE, RMSE and R^2 in the
     * targets' original units (see nb_metrics); NaN otherwise, and for
     * epochs restored from a checkpoint of format_version 1. */
    double val_mae, val_rmse, val_r2;
} nb_epoch_stats;

/* Called on every batch (for a progress bar) and at the end of every epoch
 * (stats non-NULL). Return non-zero to stop training. A resumed run first
 * reports each epoch the checkpoint finished, in order, with restored set
 * (stats from the checkpoint, eta_seconds NaN, the return value ignored),
 * so that a log rewritten from them holds every epoch once. */
typedef struct nb_progress {
    int epoch, epochs;
    size_t batch, batches; /* batch is 1-based within the epoch */
    double loss;           /* running mean over this epoch */
    double samples_per_second;
    double eta_seconds; /* for the whole run */
    const nb_epoch_stats *stats;
    int restored; /* an epoch of an earlier session, from the checkpoint */
} nb_progress;
typedef int (*nb_progress_fn)(const nb_progress *progress, void *user);

typedef struct nb_train_config {
    nb_optimizer_config optimizer;
    int batch;     /* default 32 */
    int epochs;    /* maximum epochs; default 10 */
    uint64_t seed; /* shuffling (nb_train keeps the weights it is given) */
    nb_schedule_kind schedule;
    int step_epochs;        /* step schedule */
    double gamma;           /* step schedule */
    double lr_min;          /* cosine schedule */
    double clip_norm;       /* > 0: scale gradients to at most this L2 norm */
    double target_loss;     /* > 0: stop once the train loss is at most this */
    double target_accuracy; /* > 0: stop once validation (else train) accuracy reaches it */
    double time_limit;      /* > 0: seconds */
    int patience;           /* > 0: early stopping on validation loss, keep best weights */
    nb_progress_fn progress;
    void *progress_user;
    /* Checkpoints (docs/training.md): the whole training state in one
     * safetensors file, written atomically, to resume bit for bit. */
    const char *checkpoint_path; /* NULL: none */
    int checkpoint_epochs;       /* > 0: save every N epochs */
    double checkpoint_minutes;   /* > 0: save every M minutes (checked after each batch) */
    int checkpoint_batches;      /* > 0: save every N batches (counted over the run) */
    const char *resume_path;     /* a checkpoint to continue from; NULL: a fresh start */
    /* When *interrupt becomes non-zero, the current batch finishes, a
     * checkpoint is written to checkpoint_path (which must be set) and
     * nb_train returns NB_ERR_INTERRUPTED. */
    volatile int *interrupt;
    /* Shards (docs/mpi.md): 1 computes each batch in one piece; K > 1 (a
     * power of two, at most batch, a multiple of comm's size) splits every
     * batch into K fixed row ranges of ceil(rows / K) rows, runs forward
     * and backward on each (at once on the threads, each on its own copy
     * of the graph) and sums their gradients (each weighted by its rows /
     * rows of the batch for a loss that averages) in a fixed pairwise
     * tree, so that the weights of a model without convolutions do not
     * depend on the thread or process count (a convolution's own split
     * over the threads sums in another order). 0, the default: one shard
     * per thread (rounded down to a power of two) times the processes,
     * fewer when a shard would have under 32 rows, and 1 for a model with
     * batch norm (its statistics depend on the split). */
    int shards;
    /* The processes that train this model together (NULL: this one
     * alone); see nb_comm. Its size must divide shards. */
    const struct nb_comm *comm;
} nb_train_config;

nb_train_config nb_train_defaults(void);
/* The checks nb_train makes of config alone, before it sees any data:
 * each setting's range, the combinations (a schedule's settings, a
 * checkpoint's path) and the shards against the batch and the
 * communicator. NB_ERR_ARGUMENT naming the setting. */
nb_status nb_train_check_config(const nb_train_config *config);

typedef struct nb_train_result {
    int epochs_run;
    int best_epoch;          /* the weights kept (early stopping), else the last */
    const char *stop_reason; /* "epochs", "target loss", "target accuracy", "time limit",
                                "early stopping", "stopped", "numeric error",
                                "interrupted" */
    nb_epoch_stats *history; /* epochs_run entries; free with nb_train_result_free */
    double seconds;
    /* Where the last step was taken: epoch and batch within it (1-based; 0
     * before any). After NB_ERR_INTERRUPTED the checkpoint resumes after it. */
    int last_epoch;
    size_t last_batch;
} nb_train_result;

void nb_train_result_free(nb_train_result *result);

/* Train model on train (already scaled), watching val (may be NULL); see
 * docs/training.md. Batches of min(batch, train->count) rows, the last one
 * partial; the model is left compiled for that size. A NaN or infinite loss,
 * gradient or weight stops with NB_ERR_NUMERIC (result keeps the finished
 * epochs) and the weights from before that step. An interrupt (see
 * nb_train_config) returns NB_ERR_INTERRUPTED with result keeping the
 * finished epochs; a checkpoint that cannot be written is NB_ERR_IO (the
 * previous checkpoint file is left as it was). */
nb_status nb_train(nb_model *model, const nb_dataset *train, const nb_dataset *val,
                   const nb_train_config *config, nb_train_result *result);

/* ------------------------------------------------ training step by step */

/* nb_train is a loop over the public steps below; a caller can write the
 * loop itself (docs/training.md, "Training step by step"), e.g. to average
 * the gradients of several processes between the backward pass and the
 * update:
 *
 *   nb_train_begin(model, train, val, &config, &s);
 *   while (!s->stop_reason) {
 *       int rows;
 *       while (nb_train_next_batch(s, &rows) == NB_OK && rows > 0) {
 *           nb_train_forward_backward(s);
 *           ... all-reduce s->grads[0 .. s->param_count) here ...
 *           nb_train_apply(s);
 *           ... agree on s->stop here ...
 *       }
 *       nb_train_end_epoch(s);
 *       ... agree on s->stop here ...
 *       nb_train_next_epoch(s);
 *   }
 *   nb_train_finish(s, &result);
 *   nb_train_state_free(s);
 *
 * (each call returns a status to check). The steps read the optimizer,
 * batch, epochs, seed, schedule, clip_norm, the stop conditions and the
 * progress callback of the configuration; checkpoints, resuming and the
 * interrupt flag are nb_train's, which calls nb_checkpoint_save and
 * nb_checkpoint_load between steps. */

/* A non-trainable buffer: values the forward pass keeps that no gradient
 * updates (a batch norm's running mean). */
typedef struct nb_train_buffer {
    const char *name;
    nb_shape shape;
    nb_real *values;
} nb_train_buffer;

struct nb_train_internal;

/* The whole state of a run: what a checkpoint saves and restores. Fields
 * are for reading: a caller may write only stop, and the values of grads
 * (between nb_train_forward_backward and nb_train_apply). The library keeps
 * its own copy of every other field; each step, nb_train_finish,
 * nb_checkpoint_save and nb_checkpoint_load compare the state with it
 * first and refuse one whose fields were changed (NB_ERR_STATE naming the
 * field), so that clearing stop_reason, moving epoch or batch, or changing
 * the configuration never makes a step run past the run's end. */
typedef struct nb_train_state {
    /* What is trained, on what and how; config is a copy (its pointers are
     * the caller's). */
    nb_model *model;
    const nb_dataset *train, *val;
    nb_train_config config;
    nb_optimizer *optimizer;
    /* The graph's parameters and their gradients: two contiguous arrays of
     * param_count values, in the same order (nb_graph_params). */
    nb_real *params, *grads;
    size_t param_count;
    /* Non-trainable buffers (nb_buffer: a batch norm's running
     * statistics), saved in a checkpoint as "buffer." + name; values point
     * into the graph's state block, after the parameters. */
    int buffer_count;
    nb_train_buffer *buffers;
    /* Batches of batch_rows rows (min(config.batch, train->count)), the
     * last of an epoch fewer; batches of them per epoch. A last batch of
     * one sample that an op cannot train on (batch norm over features) is
     * left out of each epoch: the last sample of that epoch's order. */
    int batch_rows;
    size_t batches;
    /* The position: epoch `epoch` (1-based) has run `batch` batches; after
     * the last epoch, epoch config.epochs + 1, batch 0. An epoch's sample
     * order is the identity order shuffled by rng_start (seeded with
     * config.seed for epoch 1); rng is the generator after that shuffle,
     * the next epoch's rng_start. */
    int epoch;
    size_t batch;
    nb_rng rng_start, rng;
    /* The batch nb_train_next_batch loaded (rows) and, after
     * nb_train_forward_backward, its loss (the loss node's value) and its
     * correct predictions (classification). */
    int rows;
    double batch_loss;
    size_t batch_correct;
    /* The epoch's running sums over the batches applied: the loss summed
     * over samples (a batch's mean times its rows, or its sum for the
     * summed losses), correct predictions, samples seen. */
    double loss_sum;
    size_t correct, seen;
    /* config.epochs entries; the first epochs_run hold the recorded epochs. */
    nb_epoch_stats *history;
    int epochs_run;
    /* Early stopping (config.patience > 0): the best validation loss
     * (infinity before any), its epoch (0: none), the epochs since and its
     * state (nb_graph_state's values: the parameters, then the buffers;
     * NULL without patience). */
    int best_epoch, since_best;
    double best_loss;
    nb_real *best;
    /* Seconds on a monotonic clock at the start of the run and of the
     * epoch, less the time of earlier sessions (a loaded checkpoint). */
    double start, epoch_start;
    /* The stop decision: NULL to go on, else the reason. nb_train_apply
     * sets it ("stopped": the progress callback asked; "time limit"), and
     * nb_train_end_epoch ("stopped", "target loss", "target accuracy",
     * "early stopping"); while it is set, nb_train_next_batch gives no
     * batch and nb_train_next_epoch ends the run. A caller may set it (to
     * a string that outlives the state) or clear it between calls: several
     * processes agree on it there (one stops, all stop). */
    const char *stop;
    /* Why the run ended: "epochs" or the stop; NULL while it goes on. */
    const char *stop_reason;
    struct nb_train_internal *internal; /* the batcher, the sample order, scratch */
} nb_train_state;

/* Check the call as nb_train does and allocate everything the run needs
 * (no step allocates); the model is compiled for batch_rows rows and the
 * position is epoch 1, batch 0. The weights are the model's as they are. */
nb_status nb_train_begin(nb_model *model, const nb_dataset *train, const nb_dataset *val,
                         const nb_train_config *config, nb_train_state **out);
/* Load the epoch's next batch into the model's inputs and target: *rows
 * rows, or *rows 0 when the epoch has no batch left or s->stop is set. The
 * epoch's first call shuffles its sample order. With shards (or a comm)
 * it only chooses the rows: nb_train_forward_backward loads each shard,
 * sums the shards in a fixed tree and combines the sums of the processes,
 * so that s->grads is already the whole batch's gradient there. */
nb_status nb_train_next_batch(nb_train_state *s, int *rows);
/* Forward and backward pass on the loaded batch: s->batch_loss,
 * s->batch_correct, and the gradients of the batch's loss in s->grads
 * (nothing else changes). A loss that is not finite is NB_ERR_NUMERIC
 * naming the first node that went bad. This is the place for an
 * all-reduce of s->grads, one array of s->param_count values (the mean
 * over processes of their batches' mean gradients, for a loss that
 * averages over the batch). */
nb_status nb_train_forward_backward(nb_train_state *s);
/* The update: clip s->grads to config.clip_norm (global L2 norm), then the
 * guarded optimizer step with the schedule's learning rate for the epoch
 * (a step that would make a weight non-finite puts every weight back:
 * NB_ERR_NUMERIC, the weights from before it kept). Then the batch counts
 * into the running sums, the position advances, the batch is reported to
 * config.progress and the time limit is checked (either may set s->stop). */
nb_status nb_train_apply(nb_train_state *s);
/* Record the epoch: the validation pass, the epoch's nb_epoch_stats in
 * s->history, the epoch-end progress report, early stopping's best weights,
 * and the local stop decision in s->stop (the progress callback, target
 * loss, target accuracy, patience; a stop already set stays). Once per
 * epoch, after its last batch or a stop. An epoch in which no batch was
 * applied has nothing to record: NB_ERR_STATE. */
nb_status nb_train_end_epoch(nb_train_state *s);
/* Act on s->stop after nb_train_end_epoch: set, the run ends with it as
 * stop_reason (the position stays); else the next epoch starts, and after
 * the last one the run ends with "epochs". An epoch cut short must end the
 * run (NB_ERR_STATE otherwise). A stop set before an epoch's first batch
 * ends the run here without nb_train_end_epoch (the epoch is not recorded).
 * Once the run has ended (or the position is past the last epoch) every
 * step is NB_ERR_STATE. */
nb_status nb_train_next_epoch(nb_train_state *s);
/* End the run and fill result as nb_train does (the history moves there):
 * after a run that ended, early stopping's best weights are put back
 * (best_epoch; else the last epoch). After an error, or before the run
 * ended, the weights stay, best_epoch is s->best_epoch and stop_reason is
 * NULL. The model is left compiled for batch_rows rows; the state takes no
 * more steps. */
nb_status nb_train_finish(nb_train_state *s, nb_train_result *result);
void nb_train_state_free(nb_train_state *s);

/* Checkpoints (docs/training.md): the whole state in one safetensors file,
 * written atomically (NB_ERR_IO leaves an existing file as it was). Saved
 * between steps, but not between nb_train_end_epoch and
 * nb_train_next_epoch (NB_ERR_STATE). */
nb_status nb_checkpoint_save(const nb_train_state *s, const char *path);
/* Restore s, from nb_train_begin with the same model, data and settings,
 * from the checkpoint at path, after checking that it was written for
 * them; then report each epoch it finished to config.progress (restored
 * set). A refused checkpoint changes nothing, the weights included. */
nb_status nb_checkpoint_load(nb_train_state *s, const char *path);

/* Loss, accuracy and, for classifiers, the confusion matrix
 * (confusion[true * classes + predicted]) and per-class precision and
 * recall (0 where nothing was predicted or present), on data already
 * scaled (features by the model's scaler, regression targets by its target
 * scaler), in batches of the model's batch size. The loss is the training
 * loss, on scaled targets. For regression, with y the outputs and t the
 * targets both in the original units (the target scaler inverted), over
 * all n samples and T targets:
 *   mae  = sum |y - t| / (n T)
 *   rmse = sqrt(sum (y - t)^2 / (n T))
 *   r2   = the mean over targets of 1 - SS_res / SS_tot, SS_res = sum_i
 *          (y_i - t_i)^2, SS_tot = sum_i (t_i - mean t)^2 (a constant
 *          target: 1 when SS_res is 0, else 0). r2 <= 0: the model is no
 *          better than predicting the mean.
 * A sample whose input, regression target or output is NaN or infinite, or
 * a loss that is not finite, is NB_ERR_NUMERIC naming the first such sample
 * (its origin when data has one: "line 17 of the data", "record 123 of the
 * data"; else "sample 6 (0-based)"). */
typedef struct nb_metrics {
    size_t samples;
    double loss;
    double accuracy; /* -1 for regression */
    int classes;
    size_t *confusion;
    double *precision, *recall;
    int32_t *predicted;   /* samples predicted classes (classifiers), else NULL */
    double mae, rmse, r2; /* regression; NaN for classifiers */
} nb_metrics;

nb_status nb_evaluate(nb_model *model, const nb_dataset *data, nb_metrics *out);
void nb_metrics_free(nb_metrics *metrics);

/* ================================================================ export */

/* A trained model as standalone C99 (docs/export.md): PREFIX.h declares
 *   int NAME_predict(const float *in, float *out, float *scratch);
 * (in: NAME_INPUTS raw values, the model's scaler applied inside; out:
 * NAME_OUTPUTS probabilities or values, as nb_model_predict gives them;
 * scratch: NAME_SCRATCH_SIZE floats the caller owns; returns the predicted
 * class, 0 for regression), the sizes as macros and the class names;
 * PREFIX.c holds the weights as static const arrays and the code, with no
 * allocation, no stdio and no mutable state, needing only <math.h> (and
 * <stdint.h> for int8). Dropout, flatten and reshape vanish, a batch norm
 * is folded into the dense or convolution before it. */
typedef struct nb_export_options {
    /* The identifier prefix of everything the files declare (NAME above;
     * its macros are upper case): a C identifier of at most 63 characters
     * starting with a letter. NULL: the file name of prefix_path. */
    const char *name;
    /* int8 weights: per output channel, scale = max |w| / 127 and
     * q = round(w / scale), kept as int8_t with one float scale per
     * channel; activations stay float. A quarter of the weights' bytes. */
    int int8;
    /* A file the export must not replace (the model file the model came
     * from), or NULL. */
    const char *keep;
} nb_export_options;

nb_export_options nb_export_defaults(void);
/* Is name a valid identifier prefix? NB_ERR_ARGUMENT saying why not. */
nb_status nb_export_check_name(const char *name);
/* Write prefix_path + ".h" and prefix_path + ".c" (options NULL: the
 * defaults). Both files are made whole before either is written, and
 * written as a set: on any error neither file has changed. A model the
 * exporter cannot express is NB_ERR_LIMIT naming the node and its op:
 * one of several inputs, ops other than a chain of affine/matmul/bias_add,
 * conv2d, the pools, batch_norm, dropout, flatten, reshape, identity and
 * the activations. A bad name, or an output that is the file options->keep
 * names, is NB_ERR_ARGUMENT; a weight that is not finite NB_ERR_NUMERIC;
 * a file that cannot be written NB_ERR_IO naming it. */
nb_status nb_model_export_c(const nb_model *model, const char *prefix_path,
                            const nb_export_options *options);

/* =============================================================== explain */

/* The worked examples of the lecture notes, built by name: "apple_orange"
 * (001), "square_of_sum" (001, 003), "sigmoid" (003), "two_layer" (002),
 * "softmax_sse" (004), "quiz_product", "quiz_gradient", "quiz_chain" and
 * "another_example" (004). The example programs in examples/ build theirs
 * here too. */
int nb_example_count(void);
const char *nb_example_name(int index);         /* NULL out of range */
const char *nb_example_about(const char *name); /* one line; NULL for no such example */
/* The numbers an example takes (x and y of square_of_sum; most take
 * none): how many, and the name and default of number index. */
int nb_example_number_count(const char *name);
const char *nb_example_number_name(const char *name, int index);
double nb_example_number_default(const char *name, int index);
/* Add example name's nodes to the empty graph, compile it and set the
 * notes' numbers (numbers NULL: the defaults; else count of them, in the
 * order nb_example_number_name gives). *loss: the node its backward pass
 * starts from, NB_NONE for an example with no gradient (quiz_product).
 * NB_ERR_NOT_FOUND for an unknown name (the message lists the names),
 * NB_ERR_ARGUMENT for a graph that is not empty or a wrong count. */
nb_status nb_example_build(nb_graph *graph, const char *name, const double *numbers, int count,
                           nb_node *loss);

/* A graph's forward and backward passes as a list of steps, to show a
 * person the chain rule node by node (nabla explain, docs/explain.md):
 * first every node in forward order, then, from the loss down, every
 * node the loss depends on that has a gradient. Every value and gradient
 * is the graph's own (nb_node_value, nb_node_grad after nb_graph_forward
 * and nb_graph_backward); besides, each edge records the gradient that
 * its consumer's backward sent into that input, so a node used several
 * times shows the gradients arriving and their sum. */
typedef struct nb_explain nb_explain;
typedef enum nb_pass { NB_PASS_FORWARD, NB_PASS_BACKWARD } nb_pass;
/* Run graph (compiled, inputs fed) forward, then backward from loss (a
 * scalar; NB_NONE: forward only), and record the steps. graph must
 * outlive the record and not be changed while it is used. Errors of the
 * passes come back as they are. */
nb_status nb_explain_graph(nb_graph *graph, nb_node loss, nb_explain **out);
/* The same for sample index (0-based) of data (raw values, as nabla eval
 * reads them; the model's scalers are applied) through model: the model
 * is compiled for one sample, in evaluation mode, with a gradient for its
 * inputs, and the backward pass starts at its loss. NB_ERR_ARGUMENT for an
 * index past the data, NB_ERR_SHAPE for data that does not fit. */
nb_status nb_explain_model(nb_model *model, const nb_dataset *data, size_t index, nb_explain **out);
void nb_explain_free(nb_explain *explain);
int nb_explain_step_count(const nb_explain *explain);
nb_pass nb_explain_step_pass(const nb_explain *explain, int step);
nb_node nb_explain_step_node(const nb_explain *explain, int step); /* NB_NONE out of range */
nb_node nb_explain_loss(const nb_explain *explain);
/* The gradient consumer's backward sent into its input-th input (as many
 * values as that input has), or NULL when none did: the input takes no
 * gradient, consumer is not on the way to the loss, or an earlier input of
 * consumer is the same node (that one holds both: x * x). */
const nb_real *nb_explain_edge_grad(const nb_explain *explain, nb_node consumer, int input);
/* node's local derivative rule (docs/ops.md) in words with the graph's
 * names, e.g. for price = subtotal * tax: "swap the inputs: ∂L/∂subtotal =
 * ∂L/∂price · tax, ∂L/∂tax = ∂L/∂price · subtotal" (UTF-8; shortened with
 * "..." past size bytes). "" for a leaf. */
nb_status nb_explain_rule(const nb_graph *graph, nb_node node, char *buf, size_t size);
/* One self-contained HTML page (no network, no other file) that steps
 * through the record: the graph laid out by Graphviz (the `dot` program,
 * or $NABLA_DOT), controls and arrow keys to go forward and back, and a
 * panel with each step's inputs, output, gradients and rule. title heads
 * it (UTF-8). Written by the output rules (nb_output_open): never half a
 * page. NB_ERR_IO when dot cannot run or fails, or path cannot be
 * written. */
nb_status nb_explain_write_html(const nb_explain *explain, const char *title, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* NABLA_H */
