/* Shared by the model, its spec parser and the model-file code; not part of
 * the public API. */
#ifndef NABLA_MODEL_INTERNAL_H
#define NABLA_MODEL_INTERNAL_H

#include "internal.h"

#define NB_MAX_UNITS     65536 /* largest N of "dense:N" */
#define NB_LEAKY_DEFAULT 0.01  /* leaky_relu without a slope */
#define NB_META_KEY_MAX  64    /* bytes in a metadata key, with its NUL */
#define NB_MAX_BATCH     (1 << 24)

typedef enum nb_layer_kind {
    NB_LAYER_DENSE,
    NB_LAYER_RELU,
    NB_LAYER_SIGMOID,
    NB_LAYER_TANH,
    NB_LAYER_LEAKY_RELU,
    NB_LAYER_IDENTITY,
} nb_layer_kind;

typedef struct nb_layer {
    nb_layer_kind kind;
    int units;    /* dense */
    double slope; /* leaky_relu */
} nb_layer;

typedef struct nb_spec {
    int count;
    int outputs; /* units of the last dense layer */
    nb_layer layer[NB_MAX_LAYERS];
} nb_spec;

/* Parse a layer spec; the message names the bad item, its position and
 * byte offset. */
nb_status nb_spec_parse(const char *spec, nb_spec *out);

typedef enum nb_loss_kind {
    NB_LOSS_SOFTMAX_CE,
    NB_LOSS_BCE,
    NB_LOSS_MSE,
    NB_LOSS_SSE,
    NB_LOSS_HALF_SSE,
    NB_LOSS_SAE,
} nb_loss_kind;

nb_status nb_loss_parse(const char *name, nb_loss_kind *kind);

typedef struct nb_meta_entry {
    char key[NB_META_KEY_MAX];
    char *json;
} nb_meta_entry;

struct nb_model {
    char spec[NB_SPEC_MAX + 1];
    nb_spec layers;
    nb_loss_kind loss_kind;
    int inputs, outputs, batch;
    nb_graph *graph;
    nb_node x, output, target, loss;
    nb_scaler scaler;        /* kind NB_SCALE_NONE and no arrays when unset */
    nb_scaler target_scaler; /* regression targets: the same; features = outputs */
    char **class_names;
    int class_count;
    nb_meta_entry *meta;
    int meta_count, meta_capacity;
    nb_names meta_index; /* keys to entries: loading n keys is linear */
};

/* Metadata keys the file format itself uses; nb_model_set_meta refuses them. */
int nb_model_meta_reserved(const char *key);

#endif
