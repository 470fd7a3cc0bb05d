/* The layer-spec parser: "dense:100,relu,dense:10" -> a list of layers. */
#include "model_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define ACCEPTED_SIZE 640 /* "accepted: " and every usage */

/* "accepted: " and every kind's usage, from the table. */
static const char *accepted(char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "accepted: ");
    for (const nb_layer_def *d = nb_layers; d->name && used < size; d++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%s", d == nb_layers ? "" : ", ", d->usage);
    return buf;
}

/* The kinds that have flag, for a message: "a dense layer (dense:N)", or
 * "a dense layer (dense:N) or an avgpool layer (avgpool:K[:S])"; the syntax
 * is the usage up to its ranges. */
static const char *kinds_with(unsigned flag, char *buf, size_t size)
{
    int n = 0, total = 0;
    for (const nb_layer_def *d = nb_layers; d->name; d++) total += (d->flags & flag) != 0;
    size_t used = 0;
    buf[0] = '\0';
    for (const nb_layer_def *d = nb_layers; d->name && used < size; d++) {
        if (!(d->flags & flag)) continue;
        const char *ranges = strstr(d->usage, " (");
        int syntax = ranges ? (int)(ranges - d->usage) : (int)strlen(d->usage);
        int plain = (size_t)syntax == strlen(d->name) && memcmp(d->usage, d->name, syntax) == 0;
        const char *sep = n == 0 ? "" : n + 1 < total ? ", " : " or ";
        const char *a = strchr("aeiou", d->name[0]) ? "an" : "a";
        if (plain)
            used += (size_t)snprintf(buf + used, size - used, "%s%s %s layer", sep, a, d->name);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%s %s layer (%.*s)", sep, a,
                                     d->name, syntax, d->usage);
        n++;
    }
    return buf;
}

/* One item of the spec, [begin, end) after trimming whitespace. */
typedef struct item {
    const char *text;
    size_t begin, end;
    int position; /* 1-based */
} item;

/* The item's text is escaped: a spec may come from a file. A known kind
 * with a bad argument is shown its usage, anything else the accepted list. */
static nb_status item_error(const item *it, const nb_layer_def *def, const char *what)
{
    char q[60], acc[ACCEPTED_SIZE];
    const char *expected = def ? def->usage : accepted(acc, sizeof acc);
    return nb_error(NB_ERR_FORMAT, "layer spec item %d \"%s\" at byte offset %zu: %s; %s%s",
                    it->position,
                    nb_escape_len(q, sizeof q, it->text + it->begin, it->end - it->begin),
                    it->begin, what, def ? "expected " : "", expected);
}

/* name or name:argument, the kind found in the table and the argument read
 * by its parser. */
static nb_status parse_item(const item *it, nb_layer *layer)
{
    const char *s = it->text + it->begin;
    size_t len = it->end - it->begin;
    if (len == 0) return item_error(it, NULL, "the item is empty");
    const char *colon = memchr(s, ':', len);
    size_t name_len = colon ? (size_t)(colon - s) : len;
    const char *arg = colon ? colon + 1 : NULL;
    size_t arg_len = colon ? len - name_len - 1 : 0;
    const nb_layer_def *def = nb_layer_find(s, name_len);
    if (!def) return item_error(it, NULL, "unknown layer");
    *layer = (nb_layer){.def = def, .offset = (int)it->begin, .length = (int)len};
    if (!def->parse) return arg ? item_error(it, def, "this layer takes no argument") : NB_OK;
    const char *why = def->parse(arg, arg_len, layer);
    return why ? item_error(it, def, why) : NB_OK;
}

nb_status nb_spec_parse(const char *spec, nb_spec *out)
{
    if (!spec || !out) return nb_error(NB_ERR_ARGUMENT, "layer spec: none given");
    size_t total = strnlen(spec, NB_SPEC_MAX + 1);
    if (total > NB_SPEC_MAX)
        return nb_error(NB_ERR_LIMIT, "layer spec is longer than %d bytes", NB_SPEC_MAX);
    memset(out, 0, sizeof *out);
    memcpy(out->text, spec, total);
    char acc[ACCEPTED_SIZE];
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
            return nb_error(NB_ERR_FORMAT, "layer spec is empty; %s", accepted(acc, sizeof acc));
        nb_status st = parse_item(&it, &out->layer[out->count]);
        if (st != NB_OK) return st;
        out->count++;
        if (end == total) break;
        pos = end + 1;
    }
    const nb_layer *first = &out->layer[0], *last = &out->layer[out->count - 1];
    char q[60], kinds[512];
    if (!(first->def->flags & NB_LAYER_STARTS))
        return nb_error(NB_ERR_FORMAT, "layer spec \"%s\": must start with %s",
                        nb_escape(q, sizeof q, spec),
                        kinds_with(NB_LAYER_STARTS, kinds, sizeof kinds));
    if (!(last->def->flags & NB_LAYER_ENDS))
        return nb_error(
            NB_ERR_FORMAT,
            "layer spec \"%s\": must end with %s, the output; its logits go to the loss",
            nb_escape(q, sizeof q, spec), kinds_with(NB_LAYER_ENDS, kinds, sizeof kinds));
    /* A layer that may end gives [K] whatever its input: any input will do. */
    nb_shape o;
    if (nb_layer_shape(last, nb_shape1(1), &o, acc, sizeof acc) != NB_OK || o.ndim != 1 ||
        o.dim[0] < 1)
        return nb_error(NB_ERR_STATE, "layer spec \"%s\": the last layer gives no output count",
                        nb_escape(q, sizeof q, spec));
    out->outputs = o.dim[0];
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

/* The layer that decides a layer's initialiser: the next one that is not
 * NB_LAYER_TRANSPARENT (conv:8:3,batchnorm,relu starts He), NULL for none. */
static const nb_layer *next_for_init(const nb_spec *spec, int i)
{
    while (++i < spec->count && (spec->layer[i].def->flags & NB_LAYER_TRANSPARENT)) {
    }
    return i < spec->count ? &spec->layer[i] : NULL;
}

/* Each layer's output shape comes from its table entry first, so that a
 * layer that cannot take its input says so by name; the node built must
 * then have that shape. */
nb_status nb_spec_build(nb_graph *g, const nb_spec *spec, nb_node x, nb_node *out)
{
    nb_node h = x;
    nb_shape xs = nb_node_shape(g, x), sample = {xs.ndim > 0 ? xs.ndim - 1 : 0, {0}};
    for (int d = 1; d < xs.ndim; d++) sample.dim[d - 1] = xs.dim[d];
    *out = NB_NONE;
    for (int i = 0; i < spec->count && nb_graph_status(g) == NB_OK; i++) {
        const nb_layer *l = &spec->layer[i];
        nb_layer_context ctx = {0, "", next_for_init(spec, i)};
        for (int j = 0; j < i; j++) ctx.index += spec->layer[j].def == l->def;
        snprintf(ctx.prefix, sizeof ctx.prefix, "%s%d", l->def->name, ctx.index);
        char why[200], a[64], b[64], q[60];
        nb_shape want;
        nb_status st = nb_layer_shape(l, sample, &want, why, sizeof why);
        if (st != NB_OK) {
            if (l->length > 0)
                nb_escape_len(q, sizeof q, spec->text + l->offset, (size_t)l->length);
            else
                nb_escape(q, sizeof q, l->def->name);
            return nb_graph_fail(g, nb_error(st, "layer spec item %d \"%s\": %s", i + 1, q, why));
        }
        h = nb_layer_build(g, h, l, &ctx);
        if (nb_graph_status(g) != NB_OK) break;
        if (want.ndim < 0 || want.ndim >= NB_MAX_DIMS) want = nb_shape0(); /* never the node's */
        nb_shape got = nb_node_shape(g, h), full = {want.ndim + 1, {xs.dim[0]}};
        for (int d = 0; d < want.ndim; d++) full.dim[d + 1] = want.dim[d];
        if (!nb_shape_equal(got, full))
            return nb_graph_fail(
                g, nb_error(NB_ERR_STATE,
                            "layer %d (%s): its node has shape %s, its table entry says %s", i + 1,
                            l->def->name, nb_shape_format(got, a, sizeof a),
                            nb_shape_format(full, b, sizeof b)));
        sample = want;
    }
    *out = h;
    return nb_graph_status(g);
}
