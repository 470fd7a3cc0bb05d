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

/* Replace path atomically with what write puts into f (a temporary file
 * beside path, flushed, synced and renamed over it); on any failure the
 * temporary is removed and path is left as it was. A symbolic link's
 * target is replaced, a character device or FIFO is written directly, a
 * folder is refused (nb_output_check). The message names no path: the
 * caller adds it once ("saving model \"m.st\": cannot write: ..."). */
typedef nb_status (*nb_write_fn)(FILE *f, const void *user);
nb_status nb_write_atomic(const char *path, nb_write_fn write, const void *user);

/* Open path for reading only if it is a regular file: a FIFO or device is
 * refused without waiting for a writer. The message names no path. */
nb_status nb_open_regular(const char *path, FILE **out);

/* Overflow-checked a * b into *out; 0 on overflow. */
int nb_mul_size(size_t a, size_t b, size_t *out);

/* ---------------------------------------------------------------- gemm */

/* C = alpha op(A) op(B) + beta C, row-major, op = transpose when trans_*.
 * op(A) is m x k, op(B) is k x n. OpenBLAS when built with it, a blocked
 * portable kernel otherwise. */
void nb_gemm(int trans_a, int trans_b, int m, int n, int k, nb_real alpha, const nb_real *a,
             int lda, const nb_real *b, int ldb, nb_real beta, nb_real *c, int ldc);

/* --------------------------------------------------------------- graph */

enum nb_node_kind { NB_NODE_INPUT, NB_NODE_PARAM, NB_NODE_CONST, NB_NODE_OP };

#define NB_MAX_INPUTS 4

typedef struct nb_node_rec nb_node_rec;
typedef struct nb_op_def nb_op_def;

struct nb_node_rec {
    char name[NB_NAME_MAX];
    enum nb_node_kind kind;
    const nb_op_def *op; /* NULL for leaves */
    int n_in;
    int in[NB_MAX_INPUTS];
    nb_shape shape;
    double fattr;        /* op attribute (e.g. leaky relu slope) */
    nb_shape shape_attr; /* op attribute (e.g. reshape target) */
    int iattr;           /* op-private integer set by infer (e.g. target kind) */
    nb_init init;        /* parameters */
    size_t param_offset; /* parameters: offset into the parameter array */
    nb_real *value;
    nb_real *grad;        /* NULL when no gradient flows here */
    nb_real *work;        /* op scratch planned with the activations */
    size_t work_count;    /* elements of work, set by infer */
    nb_real *const_data;  /* constants: owned copy */
    const nb_real *bound; /* inputs: caller memory from nb_graph_bind */
    int wants_grad;       /* inputs: nb_input_set_grad */
    int needs_grad;       /* set by compile */
    int grad_overwrite;   /* set by compile: a parameter whose one consumer writes
                             its gradient (op first_write), so backward need not
                             clear it first */
    int grad_writer;      /* that consumer's index */
};

struct nb_graph {
    nb_node_rec *nodes;
    int count, capacity;
    nb_status status; /* first building error */
    int compiled;
    nb_real *arena; /* activations, their gradients and scratch */
    size_t arena_capacity;
    nb_real *params, *param_grads;
    size_t param_count, param_capacity;
};

/* An op: one const table of functions. infer checks the inputs' shapes,
 * sets node->shape and node->work_count and returns a status with a message
 * that names the op, the node and the shapes. backward adds the gradient of
 * node into the gradients of its inputs that have one. */
struct nb_op_def {
    const char *name;
    int arity;
    nb_status (*infer)(nb_graph *g, nb_node_rec *node);
    void (*forward)(nb_graph *g, nb_node_rec *node);
    void (*backward)(nb_graph *g, nb_node_rec *node);
    /* backward overwrites, rather than adds to, the gradient of an input
     * whose grad_overwrite is set (it is that input's only consumer) */
    int first_write;
};

static inline nb_node_rec *nb_in(nb_graph *g, const nb_node_rec *node, int i)
{
    return &g->nodes[node->in[i]];
}

const nb_op_def *nb_op_find(const char *name);
/* A shape error naming the op, node and the input shapes. */
nb_status nb_shape_error(nb_graph *g, const nb_node_rec *node, const char *expected);

/* y = softmax of each row of x (rows x cols), stable. */
void nb_softmax_rows(const nb_real *x, nb_real *y, int rows, int cols);

/* The op tables, one array per family, each ending with a NULL name. */
extern const nb_op_def nb_ops_arith[];
extern const nb_op_def nb_ops_matmul[];
extern const nb_op_def nb_ops_activation[];
extern const nb_op_def nb_ops_loss[];

#endif
