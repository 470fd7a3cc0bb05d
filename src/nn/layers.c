/* The layer table: every kind a layer spec may name (docs/layers.md). A new
 * kind is one entry here, over its op in src/ops/. */
#include "model_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

/* ------------------------------------------------------------------ dense */

/* dense:N with only decimal digits in N. */
static const char *dense_parse(const char *arg, size_t len, nb_layer *out)
{
    long v = 0;
    size_t i = 0;
    if (!arg) return "dense needs a unit count, e.g. dense:10";
    if (len == 0) return "dense needs a unit count after the colon";
    for (; i < len && isdigit((unsigned char)arg[i]); i++) {
        v = v * 10 + (arg[i] - '0');
        if (v > NB_MAX_UNITS) return "unit count is larger than " STR(NB_MAX_UNITS);
    }
    if (i == 0) return "unit count is not a number";
    if (i < len) return "unexpected characters after the unit count";
    if (v < 1) return "unit count must be at least 1";
    out->ints[0] = (int)v;
    return NULL;
}

/* A sample of any shape is flattened first: its values are the fan-in. He
 * keeps the variance through a ReLU; Xavier suits the rest. */
static nb_node dense_build(nb_graph *g, nb_node x, const nb_layer *layer,
                           const nb_layer_context *ctx)
{
    int he = ctx->next && (ctx->next->def->flags & NB_LAYER_RECTIFIER);
    nb_init init = he ? nb_init_he() : nb_init_xavier();
    nb_shape xs = nb_node_shape(g, x);
    if (xs.ndim > 2) x = nb_flatten(g, x);
    if (xs.ndim >= 2 && xs.dim[0] > 0) init.fan_in = (int)(nb_shape_count(xs) / xs.dim[0]);
    init.fan_out = layer->ints[0];
    return nb_dense(g, x, layer->ints[0], ctx->prefix, init);
}

static nb_status dense_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                             size_t why_size)
{
    (void)in, (void)why, (void)why_size;
    *out = nb_shape1(layer->ints[0]);
    return NB_OK;
}

/* ------------------------------------------------------------- leaky_relu */

#define LEAKY_DEFAULT 0.01 /* leaky_relu without a slope */

static const char *leaky_parse(const char *arg, size_t len, nb_layer *out)
{
    char buf[64], *end;
    out->reals[0] = LEAKY_DEFAULT;
    if (!arg) return NULL;
    if (len == 0 || len >= sizeof buf) return "the slope is not a number";
    memcpy(buf, arg, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return "the slope is not a number";
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0') return "the slope is not a number";
    if (!isfinite(v) || v < 0 || v > 1) return "the slope must be in [0, 1]";
    out->reals[0] = v;
    return NULL;
}

static nb_node leaky_build(nb_graph *g, nb_node x, const nb_layer *layer,
                           const nb_layer_context *ctx)
{
    (void)ctx;
    return nb_leaky_relu(g, x, layer->reals[0]);
}

/* ---------------------------------------------------------------- flatten */

static nb_status flatten_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                               size_t why_size)
{
    (void)layer, (void)why, (void)why_size;
    *out = nb_shape1((int)nb_shape_count(in));
    return NB_OK;
}

/* ------------------------------------------------------------------ table */

const nb_layer_def nb_layers[] = {
    {.name = "dense",
     .usage = "dense:N (1 <= N <= " STR(NB_MAX_UNITS) ")",
     .flags = NB_LAYER_STARTS | NB_LAYER_ENDS,
     .parse = dense_parse,
     .build = dense_build,
     .shape = dense_shape},
    {.name = "relu", .usage = "relu", .op = "relu", .flags = NB_LAYER_RECTIFIER},
    {.name = "sigmoid", .usage = "sigmoid", .op = "sigmoid"},
    {.name = "tanh", .usage = "tanh", .op = "tanh"},
    {.name = "leaky_relu",
     .usage = "leaky_relu[:slope] (0 <= slope <= 1)",
     .flags = NB_LAYER_RECTIFIER,
     .parse = leaky_parse,
     .build = leaky_build},
    {.name = "identity", .usage = "identity", .op = "identity"},
    {.name = "flatten",
     .usage = "flatten",
     .op = "flatten",
     .flags = NB_LAYER_STARTS,
     .shape = flatten_shape},
    {.name = NULL},
};

const nb_layer_def *nb_layer_find(const char *name, size_t len)
{
    for (const nb_layer_def *d = nb_layers; d->name; d++)
        if (strlen(d->name) == len && memcmp(d->name, name, len) == 0) return d;
    return NULL;
}

nb_status nb_layer_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                         size_t why_size)
{
    if (why_size) why[0] = '\0';
    if (!layer->def->shape) {
        *out = in;
        return NB_OK;
    }
    return layer->def->shape(layer, in, out, why, why_size);
}

nb_node nb_layer_build(nb_graph *g, nb_node x, const nb_layer *layer, const nb_layer_context *ctx)
{
    const nb_layer_def *d = layer->def;
    return d->build ? d->build(g, x, layer, ctx) : nb_apply(g, d->op, NULL, 1, &x);
}
