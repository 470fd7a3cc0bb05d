/* Lowering a model's graph to an export plan: the chain of nodes from the
 * input to the output becomes stages over one sample. Dropout, flatten,
 * reshape and identity vanish (no-ops on the buffer), a batch norm is
 * folded into the dense or convolution before it (else it is a
 * per-channel affine stage of its own), and the activations work in
 * place. Then every stage is given where it reads and writes. */
#include "export_internal.h"
#include "nn/model_internal.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static nb_status unsupported(const nb_graph *g, int node, const char *why)
{
    const nb_node_rec *n = &g->nodes[node];
    char q[NB_ESCAPE_SIZE];
    return nb_error(NB_ERR_LIMIT, "node \"%s\" (op %s) cannot be exported to C: %s",
                    nb_escape(q, sizeof q, n->name), n->op ? n->op->name : nb_leaf_name(n->kind),
                    why);
}

/* A sample's geometry from a node's shape [N, ...]. */
static ex_geom geom_of(nb_shape s)
{
    ex_geom g = {1, 1, 1};
    if (s.ndim == 4) {
        g.c = s.dim[1], g.h = s.dim[2], g.w = s.dim[3];
    } else {
        size_t n = 1;
        for (int i = 1; i < s.ndim; i++) n *= (size_t)s.dim[i];
        g.c = (int)n;
    }
    return g;
}

static size_t geom_count(ex_geom g)
{
    return (size_t)g.c * (size_t)g.h * (size_t)g.w;
}

static int geom_equal(ex_geom a, ex_geom b)
{
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

static ex_stage *add_stage(ex_plan *p, ex_kind kind, int node, ex_geom in, ex_geom out)
{
    if (p->count == p->capacity) {
        int cap = p->capacity ? 2 * p->capacity : 16;
        ex_stage *s = nb_realloc(p->stage, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        p->stage = s;
        p->capacity = cap;
    }
    ex_stage *s = &p->stage[p->count++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = node;
    s->in = in;
    s->out = out;
    return s;
}

static float *floats(size_t n)
{
    return nb_calloc(n ? n : 1, sizeof(float));
}

/* A leaf input of an op (a parameter, buffer or constant) with count
 * values, all finite. */
static nb_status leaf_values(const nb_graph *g, int node, int index, size_t count,
                             const nb_real **out)
{
    const nb_node_rec *n = &g->nodes[node];
    const nb_node_rec *in = &g->nodes[n->in[index]];
    if (in->kind == NB_NODE_OP || in->kind == NB_NODE_INPUT)
        return unsupported(g, node,
                           "its weights are computed, not stored (input %d is not a "
                           "parameter, buffer or constant)");
    if (!in->value || nb_shape_count(in->shape) != count)
        return unsupported(g, node, "its weights are not loaded");
    for (size_t i = 0; i < count; i++)
        if (!isfinite((double)in->value[i])) {
            char q[NB_ESCAPE_SIZE];
            return nb_error(NB_ERR_NUMERIC,
                            "node \"%s\": value %zu of \"%s\" is not finite; a model that "
                            "diverged cannot be exported",
                            nb_escape(q, sizeof q, n->name), i, in->name);
        }
    *out = in->value;
    return NB_OK;
}

static int attr_int(const nb_node_rec *n, const char *name, int axis, int def)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return (int)n->attrs[i].ints[n->attrs[i].count > axis ? axis : 0];
    return def;
}

/* -------------------------------------------------------------- stages */

/* affine x W + b, or matmul x W (W [in, out]): stored transposed, one row
 * per output, so that a row is read in order. */
static nb_status lower_dense(ex_plan *p, const nb_graph *g, int node, ex_geom in, ex_geom out)
{
    const nb_node_rec *n = &g->nodes[node];
    size_t ni = geom_count(in), no = geom_count(out);
    const nb_real *w, *b = NULL;
    nb_status st = leaf_values(g, node, 1, ni * no, &w);
    if (st == NB_OK && n->n_in == 3) st = leaf_values(g, node, 2, no, &b);
    if (st != NB_OK) return st;
    ex_stage *s = add_stage(p, EX_DENSE, node, in, out);
    if (!s || !(s->w = floats(ni * no)) || !(s->b = floats(no)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    for (size_t o = 0; o < no; o++) {
        for (size_t i = 0; i < ni; i++) s->w[o * ni + i] = (float)w[i * no + o];
        s->b[o] = b ? (float)b[o] : 0.0f;
    }
    return NB_OK;
}

static nb_status lower_conv(ex_plan *p, const nb_graph *g, int node, ex_geom in, ex_geom out)
{
    const nb_node_rec *n = &g->nodes[node];
    nb_shape ws = g->nodes[n->in[1]].shape;
    if (ws.ndim != 4) return unsupported(g, node, "its weight is not [F, C, KH, KW]");
    size_t count = nb_shape_count(ws);
    const nb_real *w, *b = NULL;
    nb_status st = leaf_values(g, node, 1, count, &w);
    if (st == NB_OK && n->n_in == 3) st = leaf_values(g, node, 2, (size_t)out.c, &b);
    if (st != NB_OK) return st;
    ex_stage *s = add_stage(p, EX_CONV, node, in, out);
    if (!s || !(s->w = floats(count)) || !(s->b = floats((size_t)out.c)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    s->kh = ws.dim[2], s->kw = ws.dim[3];
    s->sh = attr_int(n, "stride", 0, 1), s->sw = attr_int(n, "stride", 1, 1);
    s->ph = attr_int(n, "pad", 0, 0), s->pw = attr_int(n, "pad", 1, 0);
    for (size_t i = 0; i < count; i++) s->w[i] = (float)w[i];
    for (int f = 0; f < out.c; f++) s->b[f] = b ? (float)b[f] : 0.0f;
    return NB_OK;
}

static nb_status lower_pool(ex_plan *p, const nb_graph *g, int node, ex_kind kind, ex_geom in,
                            ex_geom out)
{
    const nb_node_rec *n = &g->nodes[node];
    ex_stage *s = add_stage(p, kind, node, in, out);
    if (!s) return nb_error(NB_ERR_MEMORY, "out of memory");
    s->kh = attr_int(n, "kernel", 0, 1), s->kw = attr_int(n, "kernel", 1, 1);
    s->sh = attr_int(n, "stride", 0, 0), s->sw = attr_int(n, "stride", 1, 0);
    if (s->sh == 0) s->sh = s->kh; /* 0: windows side by side */
    if (s->sw == 0) s->sw = s->kw;
    return NB_OK;
}

/* y = a x + b per channel, a = gamma / sqrt(var + eps), b = beta - a mean
 * (what batch norm computes in evaluation): folded into the dense or
 * convolution just before when there is one with the same output,
 * otherwise a stage of its own. */
static nb_status lower_batch_norm(ex_plan *p, const nb_graph *g, int node, ex_geom in)
{
    const nb_node_rec *n = &g->nodes[node];
    size_t c = (size_t)in.c;
    const nb_real *gamma, *beta, *mean, *var;
    nb_status st = leaf_values(g, node, 1, c, &gamma);
    if (st == NB_OK) st = leaf_values(g, node, 2, c, &beta);
    if (st == NB_OK) st = leaf_values(g, node, 3, c, &mean);
    if (st == NB_OK) st = leaf_values(g, node, 4, c, &var);
    if (st != NB_OK) return st;
    double eps = 1e-5;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, "eps") == 0) eps = n->attrs[i].reals[0];
    ex_stage *prev = p->count ? &p->stage[p->count - 1] : NULL;
    int fold = prev && (prev->kind == EX_DENSE || prev->kind == EX_CONV) &&
               geom_equal(prev->out, in) && !prev->folded_bn;
    if (fold) {
        size_t per = prev->kind == EX_DENSE ? geom_count(prev->in)
                                            : (size_t)prev->in.c * prev->kh * prev->kw;
        for (size_t o = 0; o < c; o++) {
            double a = gamma[o] / sqrt((double)var[o] + eps), b = beta[o] - a * mean[o];
            for (size_t i = 0; i < per; i++)
                prev->w[o * per + i] = (float)(a * prev->w[o * per + i]);
            prev->b[o] = (float)(a * prev->b[o] + b);
        }
        prev->folded_bn = 1;
        prev->node = node;
        return NB_OK;
    }
    ex_stage *s = add_stage(p, EX_CHANNEL, node, in, in);
    if (!s || !(s->w = floats(c)) || !(s->b = floats(c)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    for (size_t o = 0; o < c; o++) {
        double a = gamma[o] / sqrt((double)var[o] + eps);
        s->w[o] = (float)a;
        s->b[o] = (float)(beta[o] - a * mean[o]);
    }
    return NB_OK;
}

/* bias_add after a dense product is its bias; elsewhere a per-feature
 * shift. */
static nb_status lower_bias(ex_plan *p, const nb_graph *g, int node, ex_geom in)
{
    size_t c = geom_count(in);
    const nb_real *b;
    nb_status st = leaf_values(g, node, 1, c, &b);
    if (st != NB_OK) return st;
    ex_stage *prev = p->count ? &p->stage[p->count - 1] : NULL;
    if (prev && prev->kind == EX_DENSE && geom_count(prev->out) == c) {
        for (size_t o = 0; o < c; o++) prev->b[o] = (float)((double)prev->b[o] + b[o]);
        return NB_OK;
    }
    ex_geom flat = {(int)c, 1, 1};
    ex_stage *s = add_stage(p, EX_CHANNEL, node, flat, flat);
    if (!s || !(s->w = floats(c)) || !(s->b = floats(c)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    for (size_t o = 0; o < c; o++) s->w[o] = 1.0f, s->b[o] = (float)b[o];
    return NB_OK;
}

/* One op node of the chain, its input of geometry in. */
static nb_status lower_node(ex_plan *p, const nb_graph *g, int node)
{
    const nb_node_rec *n = &g->nodes[node];
    const char *op = n->op->name;
    ex_geom in = geom_of(g->nodes[n->in[0]].shape), out = geom_of(n->shape);
    static const struct {
        const char *op;
        ex_kind kind;
    } pointwise[] = {{"relu", EX_RELU},
                     {"leaky_relu", EX_LEAKY},
                     {"sigmoid", EX_SIGMOID},
                     {"tanh", EX_TANH},
                     {"softmax", EX_SOFTMAX}};
    for (size_t i = 0; i < sizeof pointwise / sizeof pointwise[0]; i++)
        if (strcmp(op, pointwise[i].op) == 0) {
            if (pointwise[i].kind == EX_SOFTMAX && (in.h != 1 || in.w != 1))
                return unsupported(g, node, "a softmax over an image");
            ex_stage *s = add_stage(p, pointwise[i].kind, node, in, in);
            if (!s) return nb_error(NB_ERR_MEMORY, "out of memory");
            s->slope = n->fattr; /* leaky_relu's slope, set when the graph compiled */
            return NB_OK;
        }
    static const char *const noop[] = {"dropout", "flatten", "reshape", "identity"};
    for (size_t i = 0; i < sizeof noop / sizeof noop[0]; i++)
        if (strcmp(op, noop[i]) == 0) return NB_OK; /* the same values in the same order */
    if (strcmp(op, "affine") == 0 || strcmp(op, "matmul") == 0) {
        if (g->nodes[n->in[0]].shape.ndim != 2)
            return unsupported(g, node, "its input is not [N, D]");
        return lower_dense(p, g, node, in, out);
    }
    if (strcmp(op, "bias_add") == 0) return lower_bias(p, g, node, in);
    if (strcmp(op, "conv2d") == 0) return lower_conv(p, g, node, in, out);
    if (strcmp(op, "max_pool2d") == 0) return lower_pool(p, g, node, EX_MAXPOOL, in, out);
    if (strcmp(op, "avg_pool2d") == 0) return lower_pool(p, g, node, EX_AVGPOOL, in, out);
    if (strcmp(op, "global_avg_pool") == 0) {
        ex_stage *s = add_stage(p, EX_GAP, node, in, out);
        return s ? NB_OK : nb_error(NB_ERR_MEMORY, "out of memory");
    }
    if (strcmp(op, "batch_norm") == 0) return lower_batch_norm(p, g, node, in);
    return unsupported(g, node,
                       "the exporter knows dense (affine, matmul, bias_add), conv2d, the pools, "
                       "batch_norm, dropout, flatten, reshape, identity and the activations");
}

/* The nodes from the model's input to its output, in forward order: each
 * op's first input is the one before it, its other inputs are stored. */
static nb_status chain_of(const nb_model *m, int **out, int *count)
{
    const nb_graph *g = m->graph;
    int n = 0, *chain = nb_calloc((size_t)g->count + 1, sizeof *chain);
    if (!chain) return nb_error(NB_ERR_MEMORY, "out of memory");
    int node = m->output;
    while (g->nodes[node].kind == NB_NODE_OP) {
        const nb_node_rec *r = &g->nodes[node];
        for (int i = 1; i < r->n_in; i++) {
            enum nb_node_kind k = g->nodes[r->in[i]].kind;
            if (k == NB_NODE_OP || k == NB_NODE_INPUT) {
                nb_free(chain);
                return unsupported(g, node,
                                   "it joins two computed values (only a chain of layers from "
                                   "the input to the output exports)");
            }
        }
        if (r->n_in < 1 || n >= g->count) break;
        chain[n++] = node;
        node = r->in[0];
    }
    if (node != m->x) {
        nb_free(chain);
        return unsupported(g, node,
                           "the chain from the output does not start at the model's input");
    }
    for (int i = 0; i < n / 2; i++) {
        int t = chain[i];
        chain[i] = chain[n - 1 - i];
        chain[n - 1 - i] = t;
    }
    *out = chain;
    *count = n;
    return NB_OK;
}

/* ------------------------------------------------------------- scaler */

static nb_status plan_scaler(const nb_model *m, ex_plan *p)
{
    const nb_scaler *s = &m->scaler;
    if (s->kind == NB_SCALE_NONE || !s->offset || !s->scale) return NB_OK;
    int uniform = 1;
    for (int j = 1; j < s->features; j++)
        uniform &=
            (float)s->offset[j] == (float)s->offset[0] && (float)s->scale[j] == (float)s->scale[0];
    size_t n = uniform ? 1 : (size_t)s->features;
    if (!(p->offset = floats(n)) || !(p->scale = floats(n)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    for (size_t j = 0; j < n; j++)
        p->offset[j] = (float)s->offset[j], p->scale[j] = (float)s->scale[j];
    p->scaler = uniform ? EX_SCALER_UNIFORM : EX_SCALER_PER_FEATURE;
    return NB_OK;
}

/* ---------------------------------------------------------- placement */

static int writes_buffer(ex_kind k)
{
    return k <= EX_GAP;
}

/* The first stage that writes a buffer reads the caller's input through
 * the scaler when it is a dense or convolution; otherwise a scale stage
 * copies the input into scratch first. The last such stage writes the
 * caller's output; the ones between alternate between the low and the
 * high end of the scratch, so that scratch holds at most two activations
 * at once: its size is the largest input + output of a stage. */
static nb_status place(ex_plan *p)
{
    int first = -1, last = -1;
    for (int i = 0; i < p->count; i++)
        if (writes_buffer(p->stage[i].kind)) {
            if (first < 0) first = i;
            last = i;
        }
    if (first < 0 || (p->stage[first].kind != EX_DENSE && p->stage[first].kind != EX_CONV)) {
        /* a scale stage in front */
        if (!add_stage(p, EX_SCALE, -1, p->input, p->input))
            return nb_error(NB_ERR_MEMORY, "out of memory");
        memmove(p->stage + 1, p->stage, (size_t)(p->count - 1) * sizeof *p->stage);
        p->stage[0] = (ex_stage){.kind = EX_SCALE, .node = -1, .in = p->input, .out = p->input};
        first = 0;
        last = last < 0 ? 0 : last + 1;
    }
    ex_place cur = EX_IN, next = EX_LOW;
    size_t cur_size = 0, cur_offset = 0;
    p->scratch = 0;
    for (int i = 0; i < p->count; i++) {
        ex_stage *s = &p->stage[i];
        s->src = cur;
        s->src_offset = cur_offset;
        if (!writes_buffer(s->kind)) {
            s->dst = cur;
            s->dst_offset = cur_offset;
            continue;
        }
        size_t out_size = geom_count(s->out);
        if (i == last) {
            s->dst = EX_OUT;
            s->dst_offset = 0;
        } else {
            s->dst = next;
            size_t in_size = cur == EX_IN ? 0 : cur_size;
            if (in_size + out_size > p->scratch) p->scratch = in_size + out_size;
            next = next == EX_LOW ? EX_HIGH : EX_LOW;
        }
        cur = s->dst;
        cur_size = out_size;
        cur_offset = s->dst_offset;
    }
    /* The high end is scratch's last values: offsets known only now. */
    for (int i = 0; i < p->count; i++) {
        ex_stage *s = &p->stage[i];
        if (s->dst == EX_HIGH) s->dst_offset = p->scratch - geom_count(s->out);
        if (s->src == EX_HIGH) s->src_offset = p->scratch - geom_count(s->in);
    }
    return NB_OK;
}

/* ---------------------------------------------------------------- int8 */

/* Per output channel: scale = max |w| / 127, q = round(w / scale). */
static nb_status quantise(ex_stage *s)
{
    size_t rows = (size_t)s->out.c;
    size_t per = s->kind == EX_DENSE ? geom_count(s->in) : (size_t)s->in.c * s->kh * s->kw;
    if (!(s->q = nb_calloc(rows * per, 1)) || !(s->qscale = floats(rows)))
        return nb_error(NB_ERR_MEMORY, "out of memory");
    for (size_t o = 0; o < rows; o++) {
        const float *w = s->w + o * per;
        double top = 0;
        for (size_t i = 0; i < per; i++) top = fabs(w[i]) > top ? fabs(w[i]) : top;
        double scale = top > 0 ? top / 127 : 1;
        s->qscale[o] = (float)scale;
        for (size_t i = 0; i < per; i++) {
            long v = lround(w[i] / (double)s->qscale[o]);
            s->q[o * per + i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
    return NB_OK;
}

/* ---------------------------------------------------------------- plan */

static nb_status plan_outputs(const nb_model *m, ex_plan *p)
{
    const nb_loss_def *loss = m->loss_def;
    p->link = loss->link == NB_LINK_SOFTMAX   ? EX_LINK_SOFTMAX
              : loss->link == NB_LINK_SIGMOID ? EX_LINK_SIGMOID
                                              : EX_LINK_NONE;
    p->classifier = nb_model_is_classifier(m);
    if (p->classifier) {
        p->classes = p->outputs == 1 ? 2 : p->outputs;
        if (!(p->class_names = nb_calloc((size_t)p->classes, sizeof *p->class_names)))
            return nb_error(NB_ERR_MEMORY, "out of memory");
        for (int i = 0; i < p->classes; i++) {
            char buf[16];
            const char *name = nb_model_class_name(m, i);
            if (!name) snprintf(buf, sizeof buf, "%d", i), name = buf;
            size_t len = strlen(name) + 1;
            if (!(p->class_names[i] = nb_malloc(len)))
                return nb_error(NB_ERR_MEMORY, "out of memory");
            memcpy(p->class_names[i], name, len);
        }
    }
    const nb_scaler *t = &m->target_scaler;
    if (!p->classifier && t->kind != NB_SCALE_NONE && t->offset && t->scale) {
        size_t n = (size_t)p->outputs;
        if (!(p->target_offset = floats(n)) || !(p->target_scale = floats(n)))
            return nb_error(NB_ERR_MEMORY, "out of memory");
        for (size_t j = 0; j < n; j++)
            p->target_offset[j] = (float)t->offset[j], p->target_scale[j] = (float)t->scale[j];
    }
    return NB_OK;
}

nb_status ex_plan_make(const nb_model *m, int int8, ex_plan *p)
{
    memset(p, 0, sizeof *p);
    const nb_graph *g = m->graph;
    if (!g->compiled) return nb_error(NB_ERR_STATE, "the model's graph is not compiled");
    if (m->n_inputs != 1)
        return nb_error(NB_ERR_LIMIT,
                        "the model has %d inputs; the exporter takes models of one input",
                        m->n_inputs);
    p->int8 = int8;
    p->input = geom_of(g->nodes[m->x].shape);
    p->inputs = m->inputs_total;
    p->outputs = m->outputs;
    p->spec = m->spec;
    p->loss = m->loss_name;
    int *chain = NULL, n = 0;
    nb_status st = chain_of(m, &chain, &n);
    for (int i = 0; st == NB_OK && i < n; i++) st = lower_node(p, g, chain[i]);
    nb_free(chain);
    if (st == NB_OK) st = plan_scaler(m, p);
    if (st == NB_OK) st = place(p);
    if (st == NB_OK) st = plan_outputs(m, p);
    for (int i = 0; st == NB_OK && int8 && i < p->count; i++)
        if (p->stage[i].kind == EX_DENSE || p->stage[i].kind == EX_CONV)
            st = quantise(&p->stage[i]);
    return st;
}

void ex_plan_free(ex_plan *p)
{
    for (int i = 0; i < p->count; i++) {
        nb_free(p->stage[i].w);
        nb_free(p->stage[i].b);
        nb_free(p->stage[i].q);
        nb_free(p->stage[i].qscale);
    }
    nb_free(p->stage);
    nb_free(p->offset);
    nb_free(p->scale);
    nb_free(p->target_offset);
    nb_free(p->target_scale);
    for (int i = 0; p->class_names && i < p->classes; i++) nb_free(p->class_names[i]);
    nb_free(p->class_names);
    memset(p, 0, sizeof *p);
}
