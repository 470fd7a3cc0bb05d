/* The layer table: every kind a layer spec may name (docs/layers.md). A new
 * kind is one entry here, over its op in src/ops/. */
#include "model_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
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

/* He keeps the variance through a ReLU; Xavier suits the rest. fan_in and
 * fan_out are the layer's (a convolution's C*K*K and F*K*K), not those of
 * its weight's first two dimensions. */
static nb_init init_for(const nb_layer_context *ctx, size_t fan_in, size_t fan_out)
{
    int he = ctx->next && (ctx->next->def->flags & NB_LAYER_RECTIFIER);
    nb_init init = he ? nb_init_he() : nb_init_xavier();
    init.fan_in = (int)fan_in;
    init.fan_out = (int)fan_out;
    return init;
}

/* "<prefix>.<part>": the name of a layer's parameter or buffer, "conv0.weight". */
static const char *part_name(char *buf, size_t size, const nb_layer_context *ctx, const char *part)
{
    size_t n = strlen(ctx->prefix), m = strlen(part);
    if (n + 1 + m >= size) return ""; /* never: prefixes are short; nb_param refuses "" */
    memcpy(buf, ctx->prefix, n);
    buf[n] = '.';
    memcpy(buf + n + 1, part, m + 1);
    return buf;
}

/* "<prefix>.out" for a layer's output node, NULL when taken (a hand-built
 * graph may hold it already) or without a prefix. */
static const char *out_name(nb_graph *g, const nb_layer_context *ctx, char *buf, size_t size)
{
    part_name(buf, size, ctx, "out");
    return ctx->prefix[0] && nb_graph_find(g, buf) == NB_NONE ? buf : NULL;
}

/* A sample of any shape is flattened first: its values are the fan-in. */
static nb_node dense_build(nb_graph *g, nb_node x, const nb_layer *layer,
                           const nb_layer_context *ctx)
{
    nb_shape xs = nb_node_shape(g, x);
    size_t fan_in = xs.ndim >= 2 && xs.dim[0] > 0 ? nb_shape_count(xs) / (size_t)xs.dim[0] : 0;
    nb_init init = init_for(ctx, fan_in, (size_t)layer->ints[0]);
    return nb_dense(g, x, layer->ints[0], ctx->prefix, init); /* it flattens an image */
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

/* -------------------------------------------------- integer arguments */

#define NB_MAX_KERNEL 1024 /* largest kernel size and stride of conv and the pools */

/* A parser's reason when it must be formatted; one per thread, as the
 * error message is, and read before the next parse. */
static _Thread_local char reason[160];

static const char *reasonf(const char *fmt, ...) NB_PRINTF(1, 2);
static const char *reasonf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return reason;
}

/* One field of a colon-separated argument: what it is for messages ("the
 * kernel size K") and its range. */
typedef struct int_field {
    const char *what;
    long min, max;
} int_field;

/* Reads up to n fields "v0[:v1[:...]]" of decimal digits only (no sign,
 * space or other base) into v; *count is how many the text has (0 when
 * arg is NULL: no colon). NULL, or the reason. */
static const char *read_ints(const char *arg, size_t len, const int_field *f, int n, long *v,
                             int *count)
{
    size_t i = 0;
    *count = 0;
    if (!arg) return NULL;
    for (int k = 0; k < n; k++) {
        size_t start = i;
        long x = 0;
        const char *what = f[k].what;
        if (i == len) return reasonf("%s is missing", what);
        for (; i < len && isdigit((unsigned char)arg[i]); i++) {
            x = x * 10 + (arg[i] - '0');
            if (x > f[k].max) return reasonf("%s is larger than %ld", what, f[k].max);
        }
        if (i == start) return reasonf("%s is not a number", what);
        if (i < len && (arg[i] != ':' || k + 1 == n))
            return reasonf("unexpected characters after %s", what);
        if (x < f[k].min) return reasonf("%s must be at least %ld", what, f[k].min);
        v[k] = x;
        *count = k + 1;
        if (i++ == len) return NULL;
    }
    return NULL;
}

/* The sample must be an image [C, H, W]. */
static nb_status need_image(nb_shape in, char *why, size_t why_size)
{
    char s[64];
    if (in.ndim == 3) return NB_OK;
    snprintf(why, why_size, "needs an image [C, H, W], got %s", nb_shape_format(in, s, sizeof s));
    return NB_ERR_SHAPE;
}

/* A layer's output must be a sample a model could take. */
static nb_status check_output(size_t values, char *why, size_t why_size)
{
    if (values <= NB_MAX_FEATURES) return NB_OK;
    snprintf(why, why_size, "gives %zu values per sample, more than %d", values, NB_MAX_FEATURES);
    return NB_ERR_LIMIT;
}

/* A kernel k x k sliding by stride over an image h x w already padded: the
 * output's size, or the reason why it does not fit. */
static nb_status slide(nb_shape in, int k, int stride, int pad, int *oh, int *ow, char *why,
                       size_t why_size)
{
    long h = in.dim[1] + 2L * pad, w = in.dim[2] + 2L * pad;
    if (k > h || k > w) {
        char s[64];
        if (pad)
            snprintf(why, why_size,
                     "the kernel %dx%d is larger than the input %s padded by %d (%ldx%ld)", k, k,
                     nb_shape_format(in, s, sizeof s), pad, h, w);
        else
            snprintf(why, why_size, "the kernel %dx%d is larger than the input %s", k, k,
                     nb_shape_format(in, s, sizeof s));
        return NB_ERR_SHAPE;
    }
    *oh = (int)((h - k) / stride + 1);
    *ow = (int)((w - k) / stride + 1);
    return NB_OK;
}

/* ------------------------------------------------------------------- conv */

enum { CONV_F, CONV_K, CONV_S, CONV_P };

/* conv:F:K[:S[:P]]; P defaults to "same" for an odd K (the output keeps H
 * and W at stride 1), 0 for an even one. */
static const char *conv_parse(const char *arg, size_t len, nb_layer *out)
{
    static const int_field f[4] = {{"the filter count F", 1, NB_MAX_UNITS},
                                   {"the kernel size K", 1, NB_MAX_KERNEL},
                                   {"the stride S", 1, NB_MAX_KERNEL},
                                   {"the padding P", 0, NB_MAX_KERNEL}};
    long v[4];
    int n;
    const char *why = read_ints(arg, len, f, 4, v, &n);
    if (why) return why;
    if (n < 2) return "conv needs a filter count F and a kernel size K, e.g. conv:8:3";
    if (n < 3) v[CONV_S] = 1;
    if (n < 4) v[CONV_P] = v[CONV_K] % 2 ? (v[CONV_K] - 1) / 2 : 0;
    if (v[CONV_P] >= v[CONV_K]) return "the padding P must be less than the kernel size K";
    for (int i = 0; i < 4; i++) out->ints[i] = (int)v[i];
    return NULL;
}

static nb_status conv_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                            size_t why_size)
{
    const int *a = layer->ints;
    int oh, ow;
    nb_status st = need_image(in, why, why_size);
    if (st == NB_OK) st = slide(in, a[CONV_K], a[CONV_S], a[CONV_P], &oh, &ow, why, why_size);
    if (st != NB_OK) return st;
    size_t kk = (size_t)a[CONV_K] * (size_t)a[CONV_K];
    if ((size_t)in.dim[0] * kk > NB_MAX_FEATURES) {
        snprintf(why, why_size, "a filter sees %d x %d x %d values, more than %d", in.dim[0],
                 a[CONV_K], a[CONV_K], NB_MAX_FEATURES);
        return NB_ERR_LIMIT;
    }
    st = check_output((size_t)a[CONV_F] * (size_t)oh * (size_t)ow, why, why_size);
    if (st == NB_OK) *out = nb_shape3(a[CONV_F], oh, ow);
    return st;
}

/* Weight [F, C, K, K] and bias [F]; each output value sees C*K*K inputs
 * and each input feeds F*K*K outputs. */
static nb_node conv_build(nb_graph *g, nb_node x, const nb_layer *layer,
                          const nb_layer_context *ctx)
{
    const int *a = layer->ints;
    char wname[NB_NAME_MAX], bname[NB_NAME_MAX], yname[NB_NAME_MAX];
    nb_shape xs = nb_node_shape(g, x);
    if (xs.ndim != 4) {
        char s[64];
        nb_error(NB_ERR_SHAPE, "conv layer \"%s\": needs input [N, C, H, W], got %s", ctx->prefix,
                 nb_shape_format(xs, s, sizeof s));
        nb_graph_fail(g, NB_ERR_SHAPE);
        return NB_NONE;
    }
    size_t kk = (size_t)a[CONV_K] * (size_t)a[CONV_K];
    nb_init init = init_for(ctx, (size_t)xs.dim[1] * kk, (size_t)a[CONV_F] * kk);
    nb_node w = nb_param(g, part_name(wname, sizeof wname, ctx, "weight"),
                         nb_shape4(a[CONV_F], xs.dim[1], a[CONV_K], a[CONV_K]), init);
    nb_node b = nb_param(g, part_name(bname, sizeof bname, ctx, "bias"), nb_shape1(a[CONV_F]),
                         nb_init_zeros());
    if (w == NB_NONE || b == NB_NONE) return NB_NONE;
    nb_node in[3] = {x, w, b};
    nb_attr at[2] = {nb_attr_int("stride", a[CONV_S]), nb_attr_int("pad", a[CONV_P])};
    return nb_apply_attrs(g, layer->def->op, out_name(g, ctx, yname, sizeof yname), 3, in, 2, at);
}

/* ------------------------------------------------------------------ pools */

enum { POOL_K, POOL_S };

/* maxpool:K[:S] and avgpool:K[:S]; S defaults to K (windows side by side). */
static const char *pool_parse(const char *arg, size_t len, nb_layer *out)
{
    static const int_field f[2] = {{"the kernel size K", 1, NB_MAX_KERNEL},
                                   {"the stride S", 1, NB_MAX_KERNEL}};
    long v[2];
    int n;
    const char *why = read_ints(arg, len, f, 2, v, &n);
    if (why) return why;
    const char *name = out->def->name;
    if (n < 1) return reasonf("%s needs a kernel size K, e.g. %s:2", name, name);
    out->ints[POOL_K] = (int)v[0];
    out->ints[POOL_S] = (int)(n < 2 ? v[0] : v[1]);
    return NULL;
}

static nb_status pool_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                            size_t why_size)
{
    int oh, ow;
    nb_status st = need_image(in, why, why_size);
    if (st == NB_OK)
        st = slide(in, layer->ints[POOL_K], layer->ints[POOL_S], 0, &oh, &ow, why, why_size);
    if (st == NB_OK) *out = nb_shape3(in.dim[0], oh, ow);
    return st;
}

static nb_node pool_build(nb_graph *g, nb_node x, const nb_layer *layer,
                          const nb_layer_context *ctx)
{
    char yname[NB_NAME_MAX];
    nb_attr at[2] = {nb_attr_int("kernel", layer->ints[POOL_K]),
                     nb_attr_int("stride", layer->ints[POOL_S])};
    return nb_apply_attrs(g, layer->def->op, out_name(g, ctx, yname, sizeof yname), 1, &x, 2, at);
}

/* -------------------------------------------------------------------- gap */

/* Global average pooling: each channel's mean, [C, H, W] -> [C]. */
static nb_status gap_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                           size_t why_size)
{
    (void)layer;
    nb_status st = need_image(in, why, why_size);
    if (st == NB_OK) *out = nb_shape1(in.dim[0]);
    return st;
}

static nb_node gap_build(nb_graph *g, nb_node x, const nb_layer *layer, const nb_layer_context *ctx)
{
    char yname[NB_NAME_MAX];
    (void)layer;
    return nb_apply(g, layer->def->op, out_name(g, ctx, yname, sizeof yname), 1, &x);
}

/* ---------------------------------------------------------------- dropout */

/* dropout:P, P a plain decimal: digits with at most one point, no sign,
 * exponent or space ("0.5", ".25", "0"). */
static const char *dropout_parse(const char *arg, size_t len, nb_layer *out)
{
    char buf[64];
    size_t digits = 0, points = 0;
    if (!arg) return "dropout needs a rate P, e.g. dropout:0.5";
    if (len == 0) return "the rate P is missing";
    for (size_t i = 0; i < len; i++) {
        if (isdigit((unsigned char)arg[i]))
            digits++;
        else if (arg[i] == '.')
            points++;
        else
            return "the rate P is not a decimal number";
    }
    if (digits == 0 || points > 1 || len >= sizeof buf) return "the rate P is not a decimal number";
    memcpy(buf, arg, len);
    buf[len] = '\0';
    double p = strtod(buf, NULL);
    if (!(p < 1)) return "the rate P must be less than 1";
    out->reals[0] = p;
    return NULL;
}

static nb_node dropout_build(nb_graph *g, nb_node x, const nb_layer *layer,
                             const nb_layer_context *ctx)
{
    char yname[NB_NAME_MAX];
    nb_attr p = nb_attr_real("p", layer->reals[0]);
    return nb_apply_attrs(g, layer->def->op, out_name(g, ctx, yname, sizeof yname), 1, &x, 1, &p);
}

/* -------------------------------------------------------------- batchnorm */

/* Over the channels of an image [C, H, W], the features of [F]. */
static nb_status batchnorm_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                                 size_t why_size)
{
    char s[64];
    (void)layer;
    if (in.ndim == 1 || in.ndim == 3) {
        *out = in;
        return NB_OK;
    }
    snprintf(why, why_size, "needs an image [C, H, W] or features [F], got %s",
             nb_shape_format(in, s, sizeof s));
    return NB_ERR_SHAPE;
}

/* gamma (ones) and beta (zeros) are trained; the running estimates (mean
 * zeros, variance ones) are buffers: saved, never seen by the optimizer.
 * The op's momentum and eps keep their defaults (0.1, 1e-5). */
static nb_node batchnorm_build(nb_graph *g, nb_node x, const nb_layer *layer,
                               const nb_layer_context *ctx)
{
    char names[4][NB_NAME_MAX], yname[NB_NAME_MAX];
    nb_shape xs = nb_node_shape(g, x);
    if (xs.ndim != 2 && xs.ndim != 4) {
        char s[64];
        nb_error(NB_ERR_SHAPE, "batchnorm layer \"%s\": needs input [N, C, H, W] or [N, F], got %s",
                 ctx->prefix, nb_shape_format(xs, s, sizeof s));
        nb_graph_fail(g, NB_ERR_SHAPE);
        return NB_NONE;
    }
    nb_shape c = nb_shape1(xs.dim[1]);
    nb_node in[5] = {
        x,
        nb_param(g, part_name(names[0], sizeof names[0], ctx, "gamma"), c, nb_init_constant(1)),
        nb_param(g, part_name(names[1], sizeof names[1], ctx, "beta"), c, nb_init_zeros()),
        nb_buffer(g, part_name(names[2], sizeof names[2], ctx, "running_mean"), c, nb_init_zeros()),
        nb_buffer(g, part_name(names[3], sizeof names[3], ctx, "running_var"), c,
                  nb_init_constant(1)),
    };
    for (int i = 1; i < 5; i++)
        if (in[i] == NB_NONE) return NB_NONE;
    return nb_apply(g, layer->def->op, out_name(g, ctx, yname, sizeof yname), 5, in);
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
    {.name = "conv",
     .usage = "conv:F:K[:S[:P]] (1 <= F <= " STR(NB_MAX_UNITS) ", 1 <= K <= " STR(
         NB_MAX_KERNEL) ", 1 <= S <= " STR(NB_MAX_KERNEL) ", 0 <= P < K)",
     .flags = NB_LAYER_STARTS,
     .op = "conv2d",
     .parse = conv_parse,
     .build = conv_build,
     .shape = conv_shape},
    {.name = "maxpool",
     .usage = "maxpool:K[:S] (1 <= K <= " STR(NB_MAX_KERNEL) ", 1 <= S <= " STR(NB_MAX_KERNEL) ")",
     .flags = NB_LAYER_STARTS,
     .op = "max_pool2d",
     .parse = pool_parse,
     .build = pool_build,
     .shape = pool_shape},
    {.name = "avgpool",
     .usage = "avgpool:K[:S] (1 <= K <= " STR(NB_MAX_KERNEL) ", 1 <= S <= " STR(NB_MAX_KERNEL) ")",
     .flags = NB_LAYER_STARTS,
     .op = "avg_pool2d",
     .parse = pool_parse,
     .build = pool_build,
     .shape = pool_shape},
    {.name = "gap",
     .usage = "gap",
     .flags = NB_LAYER_STARTS,
     .op = "global_avg_pool",
     .build = gap_build,
     .shape = gap_shape},
    {.name = "dropout",
     .usage = "dropout:P (0 <= P < 1)",
     .flags = NB_LAYER_STARTS | NB_LAYER_TRANSPARENT,
     .op = "dropout",
     .parse = dropout_parse,
     .build = dropout_build},
    {.name = "batchnorm",
     .usage = "batchnorm",
     .flags = NB_LAYER_STARTS | NB_LAYER_TRANSPARENT,
     .op = "batch_norm",
     .build = batchnorm_build,
     .shape = batchnorm_shape},
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
