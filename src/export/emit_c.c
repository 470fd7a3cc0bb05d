/* Writing an export plan as C99: a header (sizes, class names, the
 * predict function) and a source (the weights as static const arrays,
 * one small function per kind of stage, used ones only, and predict). The
 * generated code includes <math.h> only when an activation needs it and
 * <stdint.h> only for int8 weights; it allocates nothing, has no mutable
 * state and compiles warning-free under -std=c99 -Wall -Wextra -pedantic. */
#include "export_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- text */

void ex_printf(ex_text *t, const char *fmt, ...)
{
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *s = nb_realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    if ((size_t)n < sizeof small) {
        memcpy(t->s + t->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

void ex_text_free(ex_text *t)
{
    nb_free(t->s);
    memset(t, 0, sizeof *t);
}

/* A float as a C literal that reads back as exactly v: "%.9g" always
 * does, and a decimal point keeps the 'f' suffix legal ("1.0f"). */
static const char *flit(char *buf, size_t size, float v)
{
    char num[32];
    snprintf(num, sizeof num, "%.9g", (double)v);
    int plain = strpbrk(num, ".en") == NULL; /* "1", "-3" */
    snprintf(buf, size, "%s%sf", num, plain ? ".0" : "");
    return buf;
}

/* Text for a comment: printable ASCII only, never the end or start of
 * one (-Wcomment) nor a trigraph. */
static void comment_text(ex_text *t, const char *s)
{
    for (char prev = 0; s && *s; prev = *s++) {
        char c = *s;
        if ((c == '/' && prev == '*') || (c == '*' && prev == '/') || (c == '?' && prev == '?'))
            ex_printf(t, " ");
        ex_printf(t, "%c", c >= 0x20 && c < 0x7f ? c : '?');
    }
}

/* A C string literal of s (UTF-8 bytes as octal escapes; '?' escaped, so
 * that no trigraph forms). */
static void string_literal(ex_text *t, const char *s)
{
    ex_printf(t, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == '?')
            ex_printf(t, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            ex_printf(t, "%c", c);
        else
            ex_printf(t, "\\%03o", c);
    }
    ex_printf(t, "\"");
}

/* ------------------------------------------------------------- arrays */

static void float_array(ex_text *t, const char *name, const float *v, size_t n, size_t *bytes)
{
    char buf[48];
    ex_printf(t, "static const float %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        ex_printf(t, "%s%s,", i % 8 ? " " : "\n    ", flit(buf, sizeof buf, v[i]));
    ex_printf(t, "\n};\n");
    *bytes += n * sizeof(float);
}

static void int8_array(ex_text *t, const char *name, const int8_t *v, size_t n, size_t *bytes)
{
    ex_printf(t, "static const int8_t %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++) ex_printf(t, "%s%d,", i % 16 ? " " : "\n    ", v[i]);
    ex_printf(t, "\n};\n");
    *bytes += n;
}

static size_t count_of(ex_geom g)
{
    return (size_t)g.c * (size_t)g.h * (size_t)g.w;
}

/* ------------------------------------------------------------ helpers */

/* Which helper functions the source needs. */
enum {
    H_SCALED = 1 << 0, /* scaled(x, i): the caller's input value i, scaled */
    H_SCALE = 1 << 1,
    H_MAXPOOL = 1 << 2,
    H_AVGPOOL = 1 << 3,
    H_GAP = 1 << 4,
    H_CHANNEL = 1 << 5,
    H_RELU = 1 << 6,
    H_LEAKY = 1 << 7,
    H_SIGMOID = 1 << 8,
    H_TANH = 1 << 9,
    H_SOFTMAX = 1 << 10,
    H_ARGMAX = 1 << 11,
    H_MATH = 1 << 12, /* <math.h> */
    /* dense and conv: 4 variants each, bit (int8 ? 2 : 0) + (scaled ? 1 : 0) */
    H_DENSE = 1 << 16,
    H_CONV = 1 << 20,
};

static int variant(int int8, int scaled)
{
    return (int8 ? 2 : 0) + (scaled ? 1 : 0);
}

static const char *variant_suffix(int v)
{
    static const char *const s[] = {"", "_in", "_q", "_q_in"};
    return s[v];
}

static void emit_scaled(ex_text *t, const ex_plan *p)
{
    char a[48], b[48];
    ex_printf(t, "/* Input value i as the model saw it in training: the scaler applied. */\n"
                 "static float scaled(const float *x, int i)\n{\n");
    if (p->scaler == EX_SCALER_NONE)
        ex_printf(t, "    return x[i];\n");
    else if (p->scaler == EX_SCALER_UNIFORM && p->offset[0] == 0.0f)
        ex_printf(t, "    return x[i] * %s;\n", flit(b, sizeof b, p->scale[0]));
    else if (p->scaler == EX_SCALER_UNIFORM)
        ex_printf(t, "    return (x[i] - %s) * %s;\n", flit(a, sizeof a, p->offset[0]),
                  flit(b, sizeof b, p->scale[0]));
    else
        ex_printf(t, "    return (x[i] - in_offset[i]) * in_scale[i];\n");
    ex_printf(t, "}\n\n");
}

static void emit_dense(ex_text *t, int v)
{
    int q = v >= 2, in = v % 2;
    ex_printf(t,
              "/* y[o] = b[o] + sum_i w[o][i] x[i]%s */\n"
              "static void dense%s(const %s *w, %sconst float *b, const float *x, float *y, int "
              "n_in, int n_out)\n{\n"
              "    int o, i;\n"
              "    for (o = 0; o < n_out; o++, w += n_in) {\n"
              "        float acc = 0.0f;\n"
              "        for (i = 0; i < n_in; i++) acc += %s * %s;\n"
              "        y[o] = %s;\n"
              "    }\n}\n\n",
              q ? " (w[o] times its scale s[o])" : "", variant_suffix(v), q ? "int8_t" : "float",
              q ? "const float *s, " : "", q ? "(float)w[i]" : "w[i]", in ? "scaled(x, i)" : "x[i]",
              q ? "acc * s[o] + b[o]" : "acc + b[o]");
}

static void emit_conv(ex_text *t, int v)
{
    int q = v >= 2, in = v % 2;
    ex_printf(t,
              "/* NCHW convolution of x [c][h][wd] by w [f][c][kh][kw], stride sh x sw, zero\n"
              " * padding ph x pw, into y [f][oh][ow]%s */\n"
              "static void conv%s(const %s *w, %sconst float *b, const float *x, float *y, "
              "const int *g)\n{\n"
              "    const int c = g[0], h = g[1], wd = g[2], f = g[3], kh = g[4], kw = g[5];\n"
              "    const int sh = g[6], sw = g[7], ph = g[8], pw = g[9], oh = g[10], ow = g[11];\n"
              "    int o, i, j, ch, u, v;\n"
              "    for (o = 0; o < f; o++, w += c * kh * kw)\n"
              "        for (i = 0; i < oh; i++)\n"
              "            for (j = 0; j < ow; j++) {\n"
              "                const %s *k = w;\n"
              "                float acc = 0.0f;\n"
              "                for (ch = 0; ch < c; ch++)\n"
              "                    for (u = 0; u < kh; u++) {\n"
              "                        const int yy = i * sh - ph + u;\n"
              "                        for (v = 0; v < kw; v++, k++) {\n"
              "                            const int xx = j * sw - pw + v;\n"
              "                            if (yy >= 0 && yy < h && xx >= 0 && xx < wd)\n"
              "                                acc += %s * %s;\n"
              "                        }\n"
              "                    }\n"
              "                *y++ = %s;\n"
              "            }\n}\n\n",
              q ? " (filter o times its scale s[o])" : "", variant_suffix(v),
              q ? "int8_t" : "float", q ? "const float *s, " : "", q ? "int8_t" : "float",
              q ? "(float)*k" : "*k",
              in ? "scaled(x, (ch * h + yy) * wd + xx)" : "x[(ch * h + yy) * wd + xx]",
              q ? "acc * s[o] + b[o]" : "acc + b[o]");
}

static void emit_helpers(ex_text *t, const ex_plan *p, unsigned need)
{
    if (need & H_SCALED) emit_scaled(t, p);
    if (need & H_SCALE)
        ex_printf(t, "static void scale_input(const float *x, float *y, int n)\n{\n"
                     "    int i;\n    for (i = 0; i < n; i++) y[i] = scaled(x, i);\n}\n\n");
    for (int v = 0; v < 4; v++) {
        if (need & (unsigned)(H_DENSE << v)) emit_dense(t, v);
        if (need & (unsigned)(H_CONV << v)) emit_conv(t, v);
    }
    if (need & H_MAXPOOL)
        ex_printf(t, "/* The largest value of each kh x kw window, step sh x sw. */\n"
                     "static void maxpool(const float *x, float *y, const int *g)\n{\n"
                     "    const int c = g[0], h = g[1], wd = g[2], kh = g[3], kw = g[4];\n"
                     "    const int sh = g[5], sw = g[6], oh = g[7], ow = g[8];\n"
                     "    int ch, i, j, u, v;\n"
                     "    for (ch = 0; ch < c; ch++, x += h * wd)\n"
                     "        for (i = 0; i < oh; i++)\n"
                     "            for (j = 0; j < ow; j++) {\n"
                     "                const float *at = x + i * sh * wd + j * sw;\n"
                     "                float m = at[0];\n"
                     "                for (u = 0; u < kh; u++)\n"
                     "                    for (v = 0; v < kw; v++)\n"
                     "                        if (at[u * wd + v] > m) m = at[u * wd + v];\n"
                     "                *y++ = m;\n"
                     "            }\n}\n\n");
    if (need & H_AVGPOOL)
        ex_printf(t, "/* The mean of each kh x kw window, step sh x sw. */\n"
                     "static void avgpool(const float *x, float *y, const int *g)\n{\n"
                     "    const int c = g[0], h = g[1], wd = g[2], kh = g[3], kw = g[4];\n"
                     "    const int sh = g[5], sw = g[6], oh = g[7], ow = g[8];\n"
                     "    const float scale = 1.0f / (float)(kh * kw);\n"
                     "    int ch, i, j, u, v;\n"
                     "    for (ch = 0; ch < c; ch++, x += h * wd)\n"
                     "        for (i = 0; i < oh; i++)\n"
                     "            for (j = 0; j < ow; j++) {\n"
                     "                const float *at = x + i * sh * wd + j * sw;\n"
                     "                float sum = 0.0f;\n"
                     "                for (u = 0; u < kh; u++)\n"
                     "                    for (v = 0; v < kw; v++) sum += at[u * wd + v];\n"
                     "                *y++ = sum * scale;\n"
                     "            }\n}\n\n");
    if (need & H_GAP)
        ex_printf(t, "/* The mean of each channel's plane of n values. */\n"
                     "static void gap(const float *x, float *y, int c, int n)\n{\n"
                     "    int ch, i;\n"
                     "    for (ch = 0; ch < c; ch++, x += n) {\n"
                     "        float sum = 0.0f;\n"
                     "        for (i = 0; i < n; i++) sum += x[i];\n"
                     "        y[ch] = sum / (float)n;\n"
                     "    }\n}\n\n");
    if (need & H_CHANNEL)
        ex_printf(t, "/* In place, per channel of n values: x = a[ch] x + b[ch]. */\n"
                     "static void channel_affine(float *x, const float *a, const float *b, int c, "
                     "int n)\n{\n"
                     "    int ch, i;\n"
                     "    for (ch = 0; ch < c; ch++, x += n)\n"
                     "        for (i = 0; i < n; i++) x[i] = a[ch] * x[i] + b[ch];\n}\n\n");
    if (need & H_RELU)
        ex_printf(
            t, "static void relu(float *x, int n)\n{\n"
               "    int i;\n    for (i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;\n}\n\n");
    if (need & H_LEAKY)
        ex_printf(t,
                  "static void leaky_relu(float *x, int n, float slope)\n{\n"
                  "    int i;\n"
                  "    for (i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : slope * x[i];\n}\n\n");
    if (need & H_SIGMOID)
        ex_printf(t, "/* 1 / (1 + e^-x), written so that neither branch overflows. */\n"
                     "static void sigmoid(float *x, int n)\n{\n"
                     "    int i;\n"
                     "    for (i = 0; i < n; i++) {\n"
                     "        const float e = expf(-fabsf(x[i]));\n"
                     "        x[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);\n"
                     "    }\n}\n\n");
    if (need & H_TANH)
        ex_printf(t, "static void tanh_(float *x, int n)\n{\n"
                     "    int i;\n    for (i = 0; i < n; i++) x[i] = tanhf(x[i]);\n}\n\n");
    if (need & H_SOFTMAX)
        ex_printf(t, "/* e^(x - max) normalised: probabilities that sum to 1. */\n"
                     "static void softmax(float *x, int n)\n{\n"
                     "    float m = x[0], sum = 0.0f;\n"
                     "    int i;\n"
                     "    for (i = 1; i < n; i++) m = x[i] > m ? x[i] : m;\n"
                     "    for (i = 0; i < n; i++) sum += x[i] = expf(x[i] - m);\n"
                     "    for (i = 0; i < n; i++) x[i] /= sum;\n}\n\n");
    if (need & H_ARGMAX)
        ex_printf(t, "/* The index of the first largest value. */\n"
                     "static int argmax(const float *x, int n)\n{\n"
                     "    int i, best = 0;\n"
                     "    for (i = 1; i < n; i++)\n"
                     "        if (x[i] > x[best]) best = i;\n"
                     "    return best;\n}\n\n");
}

/* ------------------------------------------------------------- stages */

static unsigned needs_of(const ex_plan *p)
{
    unsigned need = 0;
    for (int i = 0; i < p->count; i++) {
        const ex_stage *s = &p->stage[i];
        int in = s->src == EX_IN;
        switch (s->kind) {
        case EX_SCALE:
            need |= H_SCALE | H_SCALED;
            break;
        case EX_DENSE:
            need |= (unsigned)H_DENSE << variant(p->int8, in);
            break;
        case EX_CONV:
            need |= (unsigned)H_CONV << variant(p->int8, in);
            break;
        case EX_MAXPOOL:
            need |= H_MAXPOOL;
            break;
        case EX_AVGPOOL:
            need |= H_AVGPOOL;
            break;
        case EX_GAP:
            need |= H_GAP;
            break;
        case EX_CHANNEL:
            need |= H_CHANNEL;
            break;
        case EX_RELU:
            need |= H_RELU;
            break;
        case EX_LEAKY:
            need |= H_LEAKY;
            break;
        case EX_SIGMOID:
            need |= H_SIGMOID | H_MATH;
            break;
        case EX_TANH:
            need |= H_TANH | H_MATH;
            break;
        case EX_SOFTMAX:
            need |= H_SOFTMAX | H_MATH;
            break;
        }
        if (in && (s->kind == EX_DENSE || s->kind == EX_CONV)) need |= H_SCALED;
    }
    if (p->link == EX_LINK_SOFTMAX) need |= H_SOFTMAX | H_MATH;
    if (p->link == EX_LINK_SIGMOID) need |= H_SIGMOID | H_MATH;
    if (p->classifier && p->outputs > 1) need |= H_ARGMAX;
    return need;
}

/* "in", "out" or "scratch + N". */
static const char *place_text(char *buf, size_t size, ex_place where, size_t offset)
{
    if (where == EX_IN) return "in";
    if (where == EX_OUT) return "out";
    if (offset == 0) return "scratch";
    snprintf(buf, size, "scratch + %zu", offset);
    return buf;
}

/* The weight arrays of stage i ("l3_w", ...), and its call in predict. */
static void stage_arrays(ex_text *t, const ex_plan *p, int i, size_t *bytes)
{
    const ex_stage *s = &p->stage[i];
    char name[32];
    size_t n;
    switch (s->kind) {
    case EX_DENSE:
    case EX_CONV:
        n = s->kind == EX_DENSE ? count_of(s->in) * count_of(s->out)
                                : (size_t)s->out.c * s->in.c * s->kh * s->kw;
        snprintf(name, sizeof name, "l%d_w", i);
        if (p->int8) {
            int8_array(t, name, s->q, n, bytes);
            snprintf(name, sizeof name, "l%d_s", i);
            float_array(t, name, s->qscale, (size_t)s->out.c, bytes);
        } else {
            float_array(t, name, s->w, n, bytes);
        }
        snprintf(name, sizeof name, "l%d_b", i);
        float_array(t, name, s->b, s->kind == EX_DENSE ? count_of(s->out) : (size_t)s->out.c,
                    bytes);
        break;
    case EX_CHANNEL:
        snprintf(name, sizeof name, "l%d_a", i);
        float_array(t, name, s->w, (size_t)s->in.c, bytes);
        snprintf(name, sizeof name, "l%d_b", i);
        float_array(t, name, s->b, (size_t)s->in.c, bytes);
        break;
    default:
        break;
    }
}

static void stage_call(ex_text *t, const ex_plan *p, int i, const nb_graph *g)
{
    const ex_stage *s = &p->stage[i];
    char sb[48], db[48], lit[48];
    const char *src = place_text(sb, sizeof sb, s->src, s->src_offset);
    const char *dst = place_text(db, sizeof db, s->dst, s->dst_offset);
    size_t nin = count_of(s->in), nout = count_of(s->out);
    ex_printf(t, "    /* ");
    if (s->node >= 0) {
        const nb_node_rec *n = &g->nodes[s->node];
        ex_printf(t, "node %d \"", s->node);
        comment_text(t, n->name);
        ex_printf(t, "\" (%s%s): ", n->op ? n->op->name : "?",
                  s->folded_bn ? ", a batch norm folded in" : "");
    } else {
        ex_printf(t, "the scaler: ");
    }
    ex_printf(t, "[%d, %d, %d] -> [%d, %d, %d] */\n", s->in.c, s->in.h, s->in.w, s->out.c, s->out.h,
              s->out.w);
    int in = s->src == EX_IN;
    const char *v = variant_suffix(variant(p->int8, in));
    switch (s->kind) {
    case EX_SCALE:
        ex_printf(t, "    scale_input(in, %s, %zu);\n", dst, nin);
        break;
    case EX_DENSE:
        if (p->int8)
            ex_printf(t, "    dense%s(l%d_w, l%d_s, l%d_b, %s, %s, %zu, %zu);\n", v, i, i, i, src,
                      dst, nin, nout);
        else
            ex_printf(t, "    dense%s(l%d_w, l%d_b, %s, %s, %zu, %zu);\n", v, i, i, src, dst, nin,
                      nout);
        break;
    case EX_CONV:
        ex_printf(
            t,
            "    {\n        static const int g[12] = {%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, "
            "%d, %d};\n",
            s->in.c, s->in.h, s->in.w, s->out.c, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, s->out.h,
            s->out.w);
        if (p->int8)
            ex_printf(t, "        conv%s(l%d_w, l%d_s, l%d_b, %s, %s, g);\n    }\n", v, i, i, i,
                      src, dst);
        else
            ex_printf(t, "        conv%s(l%d_w, l%d_b, %s, %s, g);\n    }\n", v, i, i, src, dst);
        break;
    case EX_MAXPOOL:
    case EX_AVGPOOL:
        ex_printf(t,
                  "    {\n        static const int g[9] = {%d, %d, %d, %d, %d, %d, %d, %d, %d};\n"
                  "        %s(%s, %s, g);\n    }\n",
                  s->in.c, s->in.h, s->in.w, s->kh, s->kw, s->sh, s->sw, s->out.h, s->out.w,
                  s->kind == EX_MAXPOOL ? "maxpool" : "avgpool", src, dst);
        break;
    case EX_GAP:
        ex_printf(t, "    gap(%s, %s, %d, %d);\n", src, dst, s->in.c, s->in.h * s->in.w);
        break;
    case EX_CHANNEL:
        ex_printf(t, "    channel_affine(%s, l%d_a, l%d_b, %d, %d);\n", dst, i, i, s->in.c,
                  s->in.h * s->in.w);
        break;
    case EX_RELU:
        ex_printf(t, "    relu(%s, %zu);\n", dst, nin);
        break;
    case EX_LEAKY:
        ex_printf(t, "    leaky_relu(%s, %zu, %s);\n", dst, nin,
                  flit(lit, sizeof lit, (float)s->slope));
        break;
    case EX_SIGMOID:
        ex_printf(t, "    sigmoid(%s, %zu);\n", dst, nin);
        break;
    case EX_TANH:
        ex_printf(t, "    tanh_(%s, %zu);\n", dst, nin);
        break;
    case EX_SOFTMAX:
        ex_printf(t, "    softmax(%s, %zu);\n", dst, nin);
        break;
    }
}

/* ------------------------------------------------------------- names */

static void upper(char *dst, const char *src, size_t size)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++) dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

/* ------------------------------------------------------------- header */

static const char *output_meaning(const ex_plan *p)
{
    if (p->link == EX_LINK_SOFTMAX) return "the class probabilities (softmax)";
    if (p->link == EX_LINK_SIGMOID) return "the probability of class 1 (sigmoid)";
    if (p->classifier) return "one score per class (the largest is the class)";
    return p->target_scale ? "the predicted values, in the targets' units" : "the predicted values";
}

static void emit_header(ex_text *t, const ex_plan *p, const char *name, const char *up,
                        size_t bytes)
{
    ex_printf(t, "/* %s.h: a neural network exported by nabla (docs/export.md); do not edit.\n",
              name);
    ex_printf(t, " * Model: ");
    if (p->spec && p->spec[0]) {
        ex_printf(t, "\"");
        comment_text(t, p->spec);
        ex_printf(t, "\"");
    } else {
        ex_printf(t, "a graph");
    }
    ex_printf(t, ", loss ");
    comment_text(t, p->loss);
    ex_printf(t, ";\n * input [%d, %d, %d] (%d values), %d output%s.\n", p->input.c, p->input.h,
              p->input.w, p->inputs, p->outputs, p->outputs == 1 ? "" : "s");
    ex_printf(t, " * Weights: %s, %zu bytes of constant data; scratch: %zu floats.\n",
              p->int8 ? "int8 with one float scale per output channel" : "float", bytes,
              p->scratch);
    ex_printf(t,
              " *\n"
              " *   float out[%s_OUTPUTS];\n"
              " *   static float scratch[%s_SCRATCH_SIZE]; (or on the stack)\n"
              " *   int k = %s_predict(in, out, scratch);\n"
              " *\n"
              " * in: %s_INPUTS raw values per sample, as in the training data (the\n"
              " * model's scaler is applied inside); images are [channels][height][width].\n"
              " * out: %s.\n"
              " * Returns %s.\n"
              " * It keeps no state: calls may share one scratch buffer (one at a time)\n"
              " * and several exported models may too, with the largest SCRATCH_SIZE. */\n",
              up, up, name, up, output_meaning(p),
              !p->classifier    ? "0 (a regression model)"
              : p->outputs == 1 ? "the predicted class: 1 when out[0] > 0.5, else 0"
                                : "the predicted class: the index of the largest output");
    ex_printf(t, "#ifndef NABLA_EXPORT_%s_H\n#define NABLA_EXPORT_%s_H\n\n", up, up);
    ex_printf(t, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    ex_printf(t, "#define %s_INPUTS %d\n", up, p->inputs);
    ex_printf(
        t, "#define %s_INPUT_CHANNELS %d\n#define %s_INPUT_HEIGHT %d\n#define %s_INPUT_WIDTH %d\n",
        up, p->input.c, up, p->input.h, up, p->input.w);
    ex_printf(t, "#define %s_OUTPUTS %d\n", up, p->outputs);
    ex_printf(t, "#define %s_CLASSES %d /* 0: a regression model */\n", up, p->classes);
    ex_printf(t, "#define %s_SCRATCH_SIZE %zu /* floats */\n", up, p->scratch ? p->scratch : 1);
    ex_printf(t, "#define %s_WEIGHT_BYTES %zu\n\n", up, bytes);
    ex_printf(t, "int %s_predict(const float *in, float *out, float *scratch);\n", name);
    if (p->classes)
        ex_printf(t,
                  "/* The class names, UTF-8, in output order. */\n"
                  "extern const char *const %s_class_names[%s_CLASSES];\n",
                  name, up);
    ex_printf(t, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* ------------------------------------------------------------- source */

static void emit_source(ex_text *t, const ex_plan *p, const nb_graph *g, const char *name,
                        const char *up, const char *header, size_t *bytes)
{
    unsigned need = needs_of(p);
    ex_printf(t, "/* %s.c: a neural network exported by nabla (see %s); do not edit. */\n", name,
              header);
    ex_printf(t, "#include \"%s\"\n\n", header);
    if (need & H_MATH) ex_printf(t, "#include <math.h>\n");
    if (p->int8) ex_printf(t, "#include <stdint.h>\n");
    if ((need & H_MATH) || p->int8) ex_printf(t, "\n");
    if (p->scaler == EX_SCALER_PER_FEATURE && (need & H_SCALED)) {
        float_array(t, "in_offset", p->offset, (size_t)p->inputs, bytes);
        float_array(t, "in_scale", p->scale, (size_t)p->inputs, bytes);
    }
    if (p->target_scale) {
        float_array(t, "target_offset", p->target_offset, (size_t)p->outputs, bytes);
        float_array(t, "target_scale", p->target_scale, (size_t)p->outputs, bytes);
    }
    for (int i = 0; i < p->count; i++) stage_arrays(t, p, i, bytes);
    ex_printf(t, "\n");
    emit_helpers(t, p, need);
    ex_printf(t, "int %s_predict(const float *in, float *out, float *scratch)\n{\n", name);
    int uses_scratch = 0;
    for (int i = 0; i < p->count; i++)
        uses_scratch |= p->stage[i].src >= EX_LOW || p->stage[i].dst >= EX_LOW;
    if (!uses_scratch) ex_printf(t, "    (void)scratch;\n");
    for (int i = 0; i < p->count; i++) stage_call(t, p, i, g);
    if (p->link == EX_LINK_SOFTMAX) ex_printf(t, "    softmax(out, %d);\n", p->outputs);
    if (p->link == EX_LINK_SIGMOID) ex_printf(t, "    sigmoid(out, %d);\n", p->outputs);
    if (p->target_scale)
        ex_printf(t,
                  "    {\n        int j;\n        for (j = 0; j < %d; j++) out[j] = out[j] / "
                  "target_scale[j] + target_offset[j];\n    }\n",
                  p->outputs);
    if (!p->classifier)
        ex_printf(t, "    return 0;\n}\n");
    else if (p->outputs == 1)
        ex_printf(t, "    return out[0] > 0.5f;\n}\n");
    else
        ex_printf(t, "    return argmax(out, %d);\n}\n", p->outputs);
    if (p->classes) {
        ex_printf(t, "\nconst char *const %s_class_names[%s_CLASSES] = {\n", name, up);
        for (int i = 0; i < p->classes; i++) {
            ex_printf(t, "    ");
            string_literal(t, p->class_names[i]);
            ex_printf(t, ",\n");
        }
        ex_printf(t, "};\n");
    }
}

nb_status ex_emit_model(const ex_plan *p, const nb_graph *g, const char *name, const char *header,
                        ex_text *h, ex_text *c)
{
    char up[NB_NAME_MAX];
    upper(up, name, sizeof up);
    size_t bytes = 0;
    emit_source(c, p, g, name, up, header, &bytes);
    emit_header(h, p, name, up, bytes);
    if (h->failed || c->failed) return nb_error(NB_ERR_MEMORY, "out of memory");
    return NB_OK;
}
