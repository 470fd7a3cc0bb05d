/* The layer-spec parser: "dense:100,relu,dense:10" -> a list of layers. */
#include "model_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPTED                                                                                   \
    "accepted: dense:N (1 <= N <= 65536), relu, sigmoid, tanh, leaky_relu[:slope] (0 <= "          \
    "slope <= 1), identity"

/* One item of the spec, [begin, end) after trimming whitespace. */
typedef struct item {
    const char *text;
    size_t begin, end;
    int position; /* 1-based */
} item;

/* The item's text is escaped: a spec may come from a file. */
static nb_status item_error(const item *it, const char *what)
{
    char q[60];
    return nb_error(
        NB_ERR_FORMAT, "layer spec item %d \"%s\" at byte offset %zu: %s; " ACCEPTED, it->position,
        nb_escape_len(q, sizeof q, it->text + it->begin, it->end - it->begin), it->begin, what);
}

/* dense:N with only decimal digits in N. */
static nb_status parse_units(const item *it, const char *arg, size_t len, int *units)
{
    long v = 0;
    size_t i = 0;
    if (len == 0) return item_error(it, "dense needs a unit count after the colon");
    for (; i < len && isdigit((unsigned char)arg[i]); i++) {
        v = v * 10 + (arg[i] - '0');
        if (v > NB_MAX_UNITS) return item_error(it, "unit count is larger than 65536");
    }
    if (i == 0) return item_error(it, "unit count is not a number");
    if (i < len) return item_error(it, "unexpected characters after the unit count");
    if (v < 1) return item_error(it, "unit count must be at least 1");
    *units = (int)v;
    return NB_OK;
}

static nb_status parse_slope(const item *it, const char *arg, size_t len, double *slope)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf) return item_error(it, "the slope is not a number");
    memcpy(buf, arg, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return item_error(it, "the slope is not a number");
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0') return item_error(it, "the slope is not a number");
    if (!isfinite(v) || v < 0 || v > 1) return item_error(it, "the slope must be in [0, 1]");
    *slope = v;
    return NB_OK;
}

static nb_status parse_item(const item *it, nb_layer *layer)
{
    const char *s = it->text + it->begin;
    size_t len = it->end - it->begin;
    if (len == 0) return item_error(it, "the item is empty");
    const char *colon = memchr(s, ':', len);
    size_t name_len = colon ? (size_t)(colon - s) : len;
    const char *arg = colon ? colon + 1 : NULL;
    size_t arg_len = colon ? len - name_len - 1 : 0;
    static const struct {
        const char *name;
        nb_layer_kind kind;
    } names[] = {{"dense", NB_LAYER_DENSE},           {"relu", NB_LAYER_RELU},
                 {"sigmoid", NB_LAYER_SIGMOID},       {"tanh", NB_LAYER_TANH},
                 {"leaky_relu", NB_LAYER_LEAKY_RELU}, {"identity", NB_LAYER_IDENTITY}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strlen(names[k].name) != name_len || memcmp(names[k].name, s, name_len) != 0) continue;
        *layer = (nb_layer){names[k].kind, 0, 0};
        switch (names[k].kind) {
        case NB_LAYER_DENSE:
            if (!arg) return item_error(it, "dense needs a unit count, e.g. dense:10");
            return parse_units(it, arg, arg_len, &layer->units);
        case NB_LAYER_LEAKY_RELU:
            layer->slope = NB_LEAKY_DEFAULT;
            return arg ? parse_slope(it, arg, arg_len, &layer->slope) : NB_OK;
        default:
            return arg ? item_error(it, "this layer takes no argument") : NB_OK;
        }
    }
    return item_error(it, "unknown layer");
}

nb_status nb_spec_parse(const char *spec, nb_spec *out)
{
    if (!spec || !out) return nb_error(NB_ERR_ARGUMENT, "layer spec: none given");
    size_t total = strnlen(spec, NB_SPEC_MAX + 1);
    if (total > NB_SPEC_MAX)
        return nb_error(NB_ERR_LIMIT, "layer spec is longer than %d bytes", NB_SPEC_MAX);
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    int position = 0;
    for (;;) {
        size_t end = pos;
        while (end < total && spec[end] != ',') end++;
        item it = {spec, pos, end, ++position};
        while (it.begin < it.end && isspace((unsigned char)spec[it.begin])) it.begin++;
        while (it.end > it.begin && isspace((unsigned char)spec[it.end - 1])) it.end--;
        if (position > NB_MAX_LAYERS)
            return nb_error(NB_ERR_LIMIT,
                            "layer spec has more than %d items (item %d at byte offset %zu)",
                            NB_MAX_LAYERS, position, it.begin);
        if (it.begin == it.end && position == 1 && end == total)
            return nb_error(NB_ERR_FORMAT, "layer spec is empty; " ACCEPTED);
        nb_status st = parse_item(&it, &out->layer[out->count]);
        if (st != NB_OK) return st;
        out->count++;
        if (end == total) break;
        pos = end + 1;
    }
    const nb_layer *first = &out->layer[0], *last = &out->layer[out->count - 1];
    char q[60];
    if (first->kind != NB_LAYER_DENSE)
        return nb_error(NB_ERR_FORMAT, "layer spec \"%s\": must start with a dense layer (dense:N)",
                        nb_escape(q, sizeof q, spec));
    if (last->kind != NB_LAYER_DENSE)
        return nb_error(NB_ERR_FORMAT,
                        "layer spec \"%s\": must end with a dense layer, the output (e.g. "
                        "dense:10); its logits go to the loss",
                        nb_escape(q, sizeof q, spec));
    out->outputs = last->units;
    return NB_OK;
}

nb_status nb_spec_check(const char *spec)
{
    nb_spec parsed;
    return nb_spec_parse(spec, &parsed);
}

nb_status nb_spec_outputs(const char *spec, int *outputs)
{
    if (!outputs) return nb_error(NB_ERR_ARGUMENT, "nb_spec_outputs: outputs is NULL");
    *outputs = 0;
    nb_spec parsed;
    nb_status st = nb_spec_parse(spec, &parsed);
    if (st == NB_OK) *outputs = parsed.outputs;
    return st;
}

nb_status nb_spec_build(nb_graph *g, const nb_spec *spec, nb_node x, nb_node *out)
{
    nb_node h = x;
    int dense = 0;
    for (int i = 0; i < spec->count; i++) {
        const nb_layer *l = &spec->layer[i];
        switch (l->kind) {
        case NB_LAYER_DENSE: {
            /* He keeps the variance through a ReLU; Xavier suits the rest. */
            nb_layer_kind next = i + 1 < spec->count ? spec->layer[i + 1].kind : NB_LAYER_IDENTITY;
            int he = next == NB_LAYER_RELU || next == NB_LAYER_LEAKY_RELU;
            char prefix[NB_NAME_MAX];
            snprintf(prefix, sizeof prefix, "dense%d", dense++);
            if (nb_node_shape(g, h).ndim > 2) h = nb_flatten(g, h);
            h = nb_dense(g, h, l->units, prefix, he ? nb_init_he() : nb_init_xavier());
            break;
        }
        case NB_LAYER_RELU:
            h = nb_relu(g, h);
            break;
        case NB_LAYER_SIGMOID:
            h = nb_sigmoid(g, h);
            break;
        case NB_LAYER_TANH:
            h = nb_tanh(g, h);
            break;
        case NB_LAYER_LEAKY_RELU:
            h = nb_leaky_relu(g, h, l->slope);
            break;
        case NB_LAYER_IDENTITY:
            h = nb_identity(g, h);
            break;
        }
    }
    *out = h;
    return nb_graph_status(g);
}
