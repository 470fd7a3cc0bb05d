/* The geometry of a 2-D convolution or pooling window over NCHW tensors,
 * and the im2col / col2im copies the convolution's products go through. */
#ifndef NABLA_OPS_CONV_H
#define NABLA_OPS_CONV_H

#include "internal.h"

typedef struct nb_conv_geom {
    int n, c, h, w; /* input [N, C, H, W] */
    int f, kh, kw;  /* filters and window */
    int sh, sw;     /* stride */
    int ph, pw;     /* zero padding on each side */
    int oh, ow;     /* output height and width */
} nb_conv_geom;

/* Rows C*KH*KW and columns OH*OW of one sample's column matrix. */
static inline size_t nb_conv_rows(const nb_conv_geom *g)
{
    return (size_t)g->c * g->kh * g->kw;
}
static inline size_t nb_conv_cols(const nb_conv_geom *g)
{
    return (size_t)g->oh * g->ow;
}

/* cols[(c, i, j), (oy, ox)] = x[c, oy*sh - ph + i, ox*sw - pw + j], 0 in the
 * padding; x is one sample [C, H, W]; row r of cols starts at cols + r*ld
 * (ld >= OH*OW, so that several samples' columns can lie side by side). */
void nb_im2col(const nb_conv_geom *g, const nb_real *x, nb_real *cols, size_t ld);
/* The adjoint: dx[c, iy, ix] += every cols entry that im2col copied from
 * there (the padding's entries are dropped). */
void nb_col2im(const nb_conv_geom *g, const nb_real *cols, size_t ld, nb_real *dx);

/* The largest stride, padding or pooling kernel an attribute may give. */
#define NB_WINDOW_MAX 65535
/* The most parts a convolution splits its batch into (one per thread). */
#define NB_CONV_MAX_PARTS 64

/* The integer attribute name as a pair (one value stands for both), into
 * *a and *b. */
void nb_attr_pair(const nb_node_rec *node, const char *name, int *a, int *b);
/* Every value of the integer attribute name is in [least, NB_WINDOW_MAX];
 * else NB_ERR_ARGUMENT naming the op, node, attribute and value. */
nb_status nb_check_pair(const nb_node_rec *node, const char *name, int least);

#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
/* conv2d through oneDNN's primitives (conv_dnnl.c), made once per node. */
/* Whether compiling a graph makes oneDNN primitives for its convolutions
 * (on unless set off; off, they run im2col). For tests that compare the
 * two paths; returns the previous setting. */
int nb_conv_use_dnnl(int on);
typedef struct nb_dnnl_conv nb_dnnl_conv;
/* NULL when oneDNN has no primitive for c (or no memory): the op then
 * keeps to im2col. parts: the batch's parts (nabla's threads, at most
 * c->n and NB_CONV_MAX_PARTS), each on one OpenMP thread. data: backward
 * computes dx. *scratch_count: the scratch elements a call needs. */
nb_dnnl_conv *nb_dnnl_conv_create(const nb_conv_geom *c, int parts, int bias, int data,
                                  size_t *scratch_count);
void nb_dnnl_conv_free(nb_dnnl_conv *d);
/* 1 when done; 0 when a primitive failed, and the call must be made
 * another way (y is then undefined). */
int nb_dnnl_conv_forward(nb_dnnl_conv *d, const nb_real *x, const nb_real *w, const nb_real *b,
                         nb_real *y, nb_real *scratch);
/* Backward's tensors: a gradient pointer NULL when none flows there; add_*
 * the element count to add into it, 0 to overwrite it. */
typedef struct nb_dnnl_grads {
    const nb_real *x, *w, *dy;
    nb_real *dx, *dw, *db;
    size_t add_dx, add_dw, add_db;
} nb_dnnl_grads;
/* 1 when done; 0 when a primitive failed: nothing was added into a
 * gradient, and the gradients written outright are undefined. */
int nb_dnnl_conv_backward(nb_dnnl_conv *d, const nb_dnnl_grads *gr, nb_real *scratch);
/* Test hook: the next `calls` primitive calls succeed, every later one fails
 * (-1: none fails); returns the previous setting. */
int nb_dnnl_conv_fail_after(int calls);
#endif

#endif
