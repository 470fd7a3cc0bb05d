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
 * padding; x is one sample [C, H, W]. */
void nb_im2col(const nb_conv_geom *g, const nb_real *x, nb_real *cols);
/* The adjoint: dx[c, iy, ix] += every cols entry that im2col copied from
 * there (the padding's entries are dropped). */
void nb_col2im(const nb_conv_geom *g, const nb_real *cols, nb_real *dx);

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

#endif
