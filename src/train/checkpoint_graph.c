/* The graph a checkpoint belongs to, in two metadata keys:
 *
 * "graph": the canonical JSON text of the model's graph,
 * nb_model_graph_json; the same bytes a model file stores as its "graph"
 * (docs/model-format.md): nodes with op, inputs, attributes, initialiser
 * and shape (the batch as N), and the roles. It describes any model, made
 * from a spec or built by hand, and does not depend on the batch the model
 * is compiled for. A graph that a model file cannot hold cannot be
 * checkpointed either (the save says why, as nb_model_save would).
 *
 * "constants": the graph holds no values. The parameters' values are the
 * checkpoint's tensors, but a constant's are not (a checkpoint holds what
 * training changes; a constant comes with the model, like its spec), so
 * this is a JSON object of each constant's name and the 64-bit FNV-1a hash
 * of its values (16 hex digits), in node order ({} when there are none): a
 * model whose constants hold other values does not resume from the file.
 *
 * Resuming reads the file's graph strictly (nb_graph_desc_parse) and writes
 * it again as the model's is written, so that only the graph is compared,
 * not its spelling; then the "nodes" arrays are compared element by
 * element, then the roles, and the message names the first node that
 * differs and shows both nodes' JSON.
 *
 * Depends on io/graph_json, the graph API and checkpoint_meta.c; it calls
 * nothing in trainer.c. */
#include "checkpoint.h"

#include "io/graph_json.h"

#include <inttypes.h>
#include <string.h>

/* Room for a node's JSON in a message (a longer one ends in "..."). */
#define NODE_TEXT 360

static int is_constant(nb_graph *g, nb_node i)
{
    return strcmp(nb_node_op(g, i), "const") == 0;
}

/* The hash of constant i's values as 16 hex digits in hex. */
static const char *constant_hash(nb_graph *g, nb_node i, char hex[20])
{
    const nb_real *v = nb_node_value(g, i);
    size_t size = v ? nb_shape_count(nb_node_shape(g, i)) * sizeof *v : 0;
    snprintf(hex, 20, "%016" PRIx64, nb_fnv1a(NB_FNV1A_INIT, v, size));
    return hex;
}

/* The "graph" and "constants" texts of m, made once per run: neither
 * changes while it trains (constants are not trained), and making the
 * graph's text builds it twice. */
static nb_status describe(nb_model *m, nb_train_internal *in)
{
    if (in->graph_json) return NB_OK;
    nb_status st = nb_model_graph_json(m, &in->graph_json);
    if (st != NB_OK) return st;
    nb_graph *g = nb_model_graph(m);
    cJSON *constants = cJSON_CreateObject();
    int ok = constants != NULL;
    for (int i = 0; ok && i < nb_graph_node_count(g); i++) {
        char hex[20];
        if (is_constant(g, i))
            ok = cJSON_AddStringToObject(constants, nb_node_name(g, i), constant_hash(g, i, hex)) !=
                 NULL;
    }
    char *json = ok ? cJSON_PrintUnformatted(constants) : NULL;
    cJSON_Delete(constants);
    size_t n = json ? strlen(json) + 1 : 0;
    in->constants_json = json ? nb_malloc(n) : NULL;
    if (in->constants_json) memcpy(in->constants_json, json, n);
    cJSON_free(json);
    if (in->constants_json) return NB_OK;
    nb_free(in->graph_json);
    in->graph_json = NULL;
    return nb_error(NB_ERR_MEMORY, "out of memory describing the graph");
}

nb_status nb_ckpt_put_graph(cJSON *meta, nb_model *m, nb_train_internal *in)
{
    nb_status st = describe(m, in);
    if (st != NB_OK) return st;
    int ok = cJSON_AddStringToObject(meta, "graph", in->graph_json) != NULL &&
             cJSON_AddStringToObject(meta, "constants", in->constants_json) != NULL;
    return ok ? NB_OK : nb_error(NB_ERR_MEMORY, "out of memory describing the graph");
}

/* ------------------------------------------------------------ comparing */

/* item as compact JSON, escaped into buf. */
static const char *json_text(char *buf, size_t size, const cJSON *item)
{
    char *text = cJSON_PrintUnformatted(item);
    nb_escape(buf, size, text ? text : "(out of memory)");
    cJSON_free(text);
    return buf;
}

/* 1 when a and b print alike (both are written canonically), 0 when not,
 * -1 when out of memory. */
static int same_json(const cJSON *a, const cJSON *b)
{
    char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
    int same = x && y ? strcmp(x, y) == 0 : -1;
    cJSON_free(x);
    cJSON_free(y);
    return same;
}

/* The first difference of two graphs' canonical texts that differ: a
 * node, the node count or the roles. */
static nb_status graph_difference(const char *text, const char *mine_text)
{
    cJSON *file = NULL, *mine = NULL;
    nb_status st = nb_json_parse(text, NB_ERR_FORMAT, "metadata \"graph\"", &file);
    if (st == NB_OK) st = nb_json_parse(mine_text, NB_ERR_STATE, "the model's graph", &mine);
    if (st != NB_OK) {
        cJSON_Delete(file);
        return st;
    }
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(file, "nodes"),
                *fb = cJSON_GetObjectItemCaseSensitive(mine, "nodes");
    int n = cJSON_GetArraySize(fa), k = cJSON_GetArraySize(fb), i = 0, same = 1;
    char was[NODE_TEXT], now[NODE_TEXT], q[NB_ESCAPE_SIZE];
    const cJSON *a = fa->child, *b = fb->child;
    for (; a && b; a = a->next, b = b->next, i++)
        if ((same = same_json(a, b)) != 1) break;
    if (same == 0)
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written for another graph: its node %d \"%s\" is %s, this model's "
                      "is %s",
                      i, nb_escape(q, sizeof q, nb_ckpt_member_string(a, "name")),
                      json_text(was, sizeof was, a), json_text(now, sizeof now, b));
    else if (same == 1 && n != k)
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written for a graph of %d %s, this model's has %d (node %d: %s %s)",
                      n, nb_plural(n, "node", "nodes"), k, i, json_text(was, sizeof was, a ? a : b),
                      a ? "only in the file" : "only in this model");
    if (st == NB_OK && same == 1) {
        /* The same nodes: what is left, the roles, should differ. */
        cJSON_DeleteItemFromObjectCaseSensitive(file, "nodes");
        cJSON_DeleteItemFromObjectCaseSensitive(mine, "nodes");
        if ((same = same_json(file, mine)) == 0)
            st = nb_error(NB_ERR_ARGUMENT,
                          "it was written for another graph: its roles are %s, this model's "
                          "are %s",
                          json_text(was, sizeof was, file), json_text(now, sizeof now, mine));
    }
    if (st == NB_OK && same == 1) {
        /* Texts that differ only where cJSON reads alike ("-0" and "0"). */
        size_t at = 0;
        while (text[at] && text[at] == mine_text[at]) at++;
        st = nb_error(NB_ERR_ARGUMENT,
                      "it was written for another graph: its text differs from this model's at "
                      "byte %zu",
                      at);
    }
    if (st == NB_OK) st = nb_error(NB_ERR_MEMORY, "out of memory comparing the graphs");
    cJSON_Delete(file);
    cJSON_Delete(mine);
    return st;
}

/* The file's "graph" against m's. */
static nb_status check_nodes(const nb_ckpt_file *f, nb_model *m)
{
    const char *text;
    nb_graph_desc d;
    char *again = NULL, *mine = NULL;
    nb_status st = nb_ckpt_need(f, "graph", &text);
    if (st == NB_OK) st = nb_graph_desc_parse(text, "metadata \"graph\"", &d);
    if (st != NB_OK) return st;
    st = nb_graph_desc_text(&d, &again);
    nb_graph_desc_free(&d);
    if (st == NB_OK) st = nb_model_graph_json(m, &mine);
    if (st == NB_OK && strcmp(again, mine) != 0) st = graph_difference(again, mine);
    nb_free(again);
    nb_free(mine);
    return st;
}

/* The file's "constants" against the values of m's constants (the graphs
 * are the same: so are the constants' names). */
static nb_status check_constants(const nb_ckpt_file *f, nb_model *m)
{
    cJSON *file;
    nb_status st = nb_ckpt_get_json(f, "constants", cJSON_Object, &file);
    if (st != NB_OK) return st;
    nb_graph *g = nb_model_graph(m);
    const cJSON *c = file->child;
    char q[NB_ESCAPE_SIZE], was[40], hex[20];
    for (int i = 0, k = 0; i < nb_graph_node_count(g) && st == NB_OK; i++) {
        if (!is_constant(g, i)) continue;
        const char *name = nb_node_name(g, i);
        if (!c || strcmp(c->string, name) != 0 || !cJSON_IsString(c))
            st = nb_error(NB_ERR_FORMAT,
                          "metadata \"constants\": entry %d is not the hash of constant \"%s\"", k,
                          nb_escape(q, sizeof q, name));
        else if (strcmp(c->valuestring, constant_hash(g, i, hex)) != 0)
            st = nb_error(NB_ERR_ARGUMENT,
                          "it was written for other values of constant \"%s\": FNV-1a %s, this "
                          "model's %s",
                          nb_escape(q, sizeof q, name), nb_escape(was, sizeof was, c->valuestring),
                          constant_hash(g, i, hex));
        c = c ? c->next : NULL;
        k++;
    }
    if (st == NB_OK && c)
        st = nb_error(NB_ERR_FORMAT, "metadata \"constants\": \"%s\" is no constant of the graph",
                      nb_escape(q, sizeof q, c->string));
    cJSON_Delete(file);
    return st;
}

nb_status nb_ckpt_check_graph(const nb_ckpt_file *f, nb_model *m, int required)
{
    if (!required && !nb_ckpt_file_meta(f, "graph")) {
        if (nb_ckpt_file_meta(f, "constants"))
            return nb_error(NB_ERR_FORMAT, "metadata \"constants\" comes without \"graph\"");
        return NB_OK;
    }
    nb_status st = check_nodes(f, m);
    if (st == NB_OK) st = check_constants(f, m);
    return st;
}
