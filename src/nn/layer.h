/* Layer kinds: each one is an entry of the table nb_layers (src/nn/layers.c),
 * found by the name a layer spec gives it. The spec parser, the builder and
 * nb_spec_outputs go through the table and nothing else, so a new layer
 * kind is its op (src/ops/), its entry, its tests and its documentation
 * (docs/layers.md). Not part of the public API. */
#ifndef NABLA_LAYER_H
#define NABLA_LAYER_H

#include "internal.h"

typedef struct nb_layer_def nb_layer_def;

/* One item of a spec: its kind and the arguments its parser read. */
typedef struct nb_layer {
    const nb_layer_def *def;
    int ints[6];        /* dense: ints[0] = units; conv: F, K, S, P; pools: K, S */
    double reals[2];    /* leaky_relu: reals[0] = slope; dropout: reals[0] = P */
    int offset, length; /* the item's text in its spec (nb_spec.text), trimmed; length 0
                           for a layer made by hand */
} nb_layer;

/* What a layer's builder knows besides its own arguments. */
typedef struct nb_layer_context {
    int index;                /* among the spec's layers of its kind, from 0 */
    char prefix[NB_NAME_MAX]; /* its name and index, "dense0": its parameters' prefix */
    const nb_layer *next;     /* the layer after it, past NB_LAYER_TRANSPARENT ones; NULL
                                 for none */
} nb_layer_context;

enum nb_layer_flags {
    NB_LAYER_STARTS = 1,      /* may be a spec's first layer: it takes the model's input */
    NB_LAYER_ENDS = 2,        /* may be the last: whatever its input, it gives [K] per
                                 sample, the logits the loss takes (K = the outputs) */
    NB_LAYER_RECTIFIER = 4,   /* a ReLU-like activation: a dense or conv layer before it
                                 starts He */
    NB_LAYER_TRANSPARENT = 8, /* keeps the values' scale (dropout, batchnorm): a layer before
                                 it takes its initialiser from the layer after it */
};

struct nb_layer_def {
    const char *name;  /* the spec's word for it */
    const char *usage; /* for messages: "dense:N (1 <= N <= 65536)"; the syntax, then
                          the arguments' ranges in parentheses */
    unsigned flags;    /* nb_layer_flags */
    const char *op;    /* the op it applies; when build is NULL, to its one input without
                          attributes */
    /* Reads the text after the colon into out->ints and out->reals (out->def
     * is set); arg is NULL when the item has no colon (set the defaults).
     * NULL, or a reason for the message: "the slope must be in [0, 1]"; the
     * message adds the item and the usage. A NULL parse: the layer takes no
     * argument. */
    const char *(*parse)(const char *arg, size_t len, nb_layer *out);
    /* Adds the layer on x (a batch [N, ...]) and returns its output node;
     * NB_NONE with the graph's status set on failure. NULL: def->op. */
    nb_node (*build)(nb_graph *g, nb_node x, const nb_layer *layer, const nb_layer_context *ctx);
    /* The output of one sample of shape in (no batch dimension); NB_OK,
     * else an error status and the reason in why. NULL: the same shape. */
    nb_status (*shape)(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                       size_t why_size);
};

/* Every layer kind, ending with a NULL name. */
extern const nb_layer_def nb_layers[];

/* The kind called name (len bytes, not terminated), or NULL. */
const nb_layer_def *nb_layer_find(const char *name, size_t len);

/* The per-sample output shape of layer on in, through its def's shape. */
nb_status nb_layer_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                         size_t why_size);

/* Adds layer on x through its def's build (or op). */
nb_node nb_layer_build(nb_graph *g, nb_node x, const nb_layer *layer, const nb_layer_context *ctx);

#endif
