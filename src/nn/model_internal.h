/* Shared by the model, its spec parser and the model-file code; not part of
 * the public API. */
#ifndef NABLA_MODEL_INTERNAL_H
#define NABLA_MODEL_INTERNAL_H

#include "internal.h"
#include "layer.h"

#define NB_MAX_UNITS    65536 /* largest N of "dense:N" */
#define NB_META_KEY_MAX 64    /* bytes in a metadata key, with its NUL */
#define NB_MAX_BATCH    (1 << 24)

/* Classifier losses and what their prediction means. */
static inline int nb_loss_is_classifier(const nb_loss_def *loss)
{
    return loss->target != NB_TARGET_VALUES;
}

typedef struct nb_spec {
    int count;
    int outputs; /* values per sample of the last layer (one that may end a spec) */
    nb_layer layer[NB_MAX_LAYERS];
    char text[NB_SPEC_MAX + 1]; /* the spec as given: the items' text for messages */
} nb_spec;

/* Parse a layer spec; the message names the bad item, its position and
 * byte offset. */
nb_status nb_spec_parse(const char *spec, nb_spec *out);
/* Build spec's layers into g on x; *out is the last layer's node. */
nb_status nb_spec_build(nb_graph *g, const nb_spec *spec, nb_node x, nb_node *out);

/* The losses a spec model may name, each a loss op: "softmax_ce" is
 * softmax_with_loss, "bce" bce_with_logits, the others their op. *op gets
 * the op's name; NB_ERR_NOT_FOUND listing the names otherwise. */
nb_status nb_loss_parse(const char *name, const char **op);
/* The name a loss op goes by (softmax_ce for softmax_with_loss, ...), or
 * the op's own name when it has no other. */
const char *nb_loss_name_of(const char *op);

typedef struct nb_meta_entry {
    char key[NB_META_KEY_MAX];
    char *json;
} nb_meta_entry;

struct nb_model {
    char spec[NB_SPEC_MAX + 1]; /* "" for a hand-built graph */
    nb_graph *graph;
    int n_inputs;
    nb_node *inputs; /* n_inputs input nodes, each [batch, ...] */
    int *input_size; /* values per sample of each */
    nb_node x;       /* inputs[0] */
    nb_node output, target, loss;
    const nb_loss_def *loss_def;
    const char *loss_name;
    int inputs_total; /* features per sample: the input sizes together */
    int outputs, batch;
    nb_scaler scaler;        /* kind NB_SCALE_NONE and no arrays when unset */
    nb_scaler target_scaler; /* regression targets: the same; features = outputs */
    char **class_names;
    int class_count;
    nb_meta_entry *meta;
    int meta_count, meta_capacity;
    nb_names meta_index; /* keys to entries: loading n keys is linear */
};

/* Every input node of the model's graph has a role, and its output does
 * not depend on its target; checked when the model is made and again
 * before it is saved (nodes may have been added to its graph since). */
nb_status nb_model_check_roles(const nb_model *model);

/* Free the scalers, class names and metadata (model_meta.c). */
void nb_model_clear_meta(nb_model *model);

/* Metadata keys the file format itself uses; nb_model_set_meta refuses them. */
int nb_model_meta_reserved(const char *key);

#endif
