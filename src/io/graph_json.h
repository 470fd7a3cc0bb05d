/* A model's graph as JSON text: the "graph" metadata of a model file
 * (format version 2; docs/model-format.md, "The graph"). Private to the
 * library and its tests.
 *
 * The text is canonical: the same graph (node names, ops, inputs,
 * attributes, initialisers, shapes and roles) always gives the same bytes,
 * whatever batch size the model is compiled for; no values (weights,
 * constants) are in it. It can so serve as a model's identity, e.g. a hash
 * for a checkpoint. */
#ifndef NABLA_GRAPH_JSON_H
#define NABLA_GRAPH_JSON_H

#include "internal.h"

/* The batch a model loads with (change it with nb_model_set_batch). */
#define NB_LOAD_BATCH 32

/* A shape whose dimensions may be a multiple of the batch N: dim i is
 * batch[i] x N when batch[i] > 0, else dim[i]. */
typedef struct nb_gshape {
    int ndim;
    int dim[NB_MAX_DIMS];
    int batch[NB_MAX_DIMS];
} nb_gshape;

/* One node: a leaf (input, param, const) or an op node. */
typedef struct nb_gnode {
    char name[NB_NAME_MAX];
    enum nb_node_kind kind;
    const nb_op_def *op; /* op nodes */
    int n_in;
    int *in; /* indices of earlier nodes (owned) */
    int n_attrs;
    nb_attr *attrs; /* owned */
    nb_init init;   /* params */
    nb_gshape shape;
    int has_shape; /* op nodes: shape is known (read from a file, or inferred) */
} nb_gnode;

/* A graph and its model roles, as node indices. */
typedef struct nb_graph_desc {
    nb_gnode *nodes;
    int count, capacity;
    int n_inputs;
    int *inputs; /* owned */
    int output, target, loss;
    nb_names index; /* node names to indices */
} nb_graph_desc;

void nb_graph_desc_free(nb_graph_desc *desc);

/* model's graph, every op node's shape inferred symbolically: the graph
 * is built (without values) at batches NB_LOAD_BATCH and NB_LOAD_BATCH +
 * 1, and a dimension that follows the batch is written as a multiple of
 * N. A graph that does not build at both, a dimension that is no multiple
 * of the batch, or one past the limits (NB_MAX_NODES, NB_MAX_ACTIVATIONS,
 * an integer attribute past 2^53) is an error naming the node. */
nb_status nb_graph_desc_of(const nb_model *model, nb_graph_desc *out);

/* The "graph" JSON text, read strictly: every field checked (types,
 * counts, names unique and used only after they are defined, ops known,
 * shapes within the limits); the message names the node and the field and
 * starts with what. Attributes and initialisers are checked when the graph
 * is built. */
nb_status nb_graph_desc_parse(const char *text, const char *what, nb_graph_desc *out);

/* Build desc into a new graph with its inputs (and target) at batch:
 * constants zero, parameters unset, nothing compiled. An op node's shape
 * must be the one desc holds (when it has one). When max_values is not 0,
 * compiling the graph at batch may take at most that many values: the
 * values of the inputs, constants and op nodes, their op scratch and the
 * gradients that flow into them, counted as nb_graph_compile plans them
 * (NB_ERR_LIMIT, naming the node that passes it). roles points into desc. */
nb_status nb_graph_desc_build(const nb_graph_desc *desc, int batch, size_t max_values,
                              nb_graph **out, nb_model_roles *roles);

/* desc as compact JSON text (nb_malloc'd; free with nb_free). */
nb_status nb_graph_desc_text(const nb_graph_desc *desc, char **out);

/* The shape at batch; 0 when a dimension would pass 2^31 - 1. */
int nb_gshape_at(const nb_gshape *shape, int batch, nb_shape *out);
/* "[N, 8]", "[2N, 3]", "[4]" into buf. */
const char *nb_gshape_format(const nb_gshape *shape, char *buf, size_t size);

/* nb_graph_desc_of and nb_graph_desc_text in one: the canonical JSON
 * text of model's graph (nb_malloc'd; free with nb_free). */
nb_status nb_model_graph_json(const nb_model *model, char **out);

/* The values nb_graph_compile takes for model's graph at batch (the
 * activations of its inputs, constants and op nodes, their op scratch and
 * the gradients that flow into them; parameters apart), counted on a copy
 * built at that batch, nothing compiled: *out, SIZE_MAX past the address
 * space. */
nb_status nb_model_activation_values(const nb_model *model, int batch, size_t *out);

/* The largest batch from min(want, NB_LOAD_BATCH) to want at which
 * compiling model takes at most max_values values: want when it fits.
 * The batch a file loads with is never refused, so a loaded model always
 * gets at least min(want, NB_LOAD_BATCH). */
int nb_model_batch_within(const nb_model *model, int want, size_t max_values);

/* The first node where the graphs of a and b differ (name, op, inputs,
 * attributes, initialiser, shape) or their roles, said in buf (la and lb
 * name a and b there: "by the spec", "in the file"); -1 when they are the
 * same graph. */
int nb_model_graph_diff(const nb_model *a, const nb_model *b, const char *la, const char *lb,
                        char *buf, size_t size);

#endif
