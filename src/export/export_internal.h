/* Exporting a model as standalone C (docs/export.md): the model's graph is
 * lowered to a plan, a list of stages over one sample in float, which the
 * emitter writes as C. Shared by the planner, the emitter and the public
 * entry point; not part of the public API. */
#ifndef NABLA_EXPORT_INTERNAL_H
#define NABLA_EXPORT_INTERNAL_H

#include "internal.h"

#include <stdint.h>

/* What a stage does to the sample. The first group writes a new buffer;
 * the second changes the current one in place. */
typedef enum ex_kind {
    EX_SCALE,   /* copy the caller's input, the scaler applied */
    EX_DENSE,   /* y[o] = b[o] + sum_i w[o][i] x[i] */
    EX_CONV,    /* NCHW convolution, zero padding */
    EX_MAXPOOL, /* each window's largest value */
    EX_AVGPOOL, /* each window's mean */
    EX_GAP,     /* each channel's mean */
    EX_CHANNEL, /* in place: y = a[c] x + b[c] per channel (a batch norm on its own) */
    EX_RELU,
    EX_LEAKY,
    EX_SIGMOID,
    EX_TANH,
    EX_SOFTMAX,
} ex_kind;

/* Where a stage reads or writes: the caller's input or output, or one of
 * the two ends of the scratch buffer (activations ping-pong between them). */
typedef enum ex_place { EX_IN, EX_OUT, EX_LOW, EX_HIGH } ex_place;

/* A sample's geometry: channels x height x width ([F] is F x 1 x 1). */
typedef struct ex_geom {
    int c, h, w;
} ex_geom;

typedef struct ex_stage {
    ex_kind kind;
    int node;          /* the graph node it comes from (the last one folded in) */
    int folded_bn;     /* a batch norm was folded into its weights */
    ex_geom in, out;   /* per sample */
    int kh, kw;        /* conv and pools */
    int sh, sw;        /* strides */
    int ph, pw;        /* conv padding */
    double slope;      /* leaky_relu */
    float *w;          /* dense [out][in], conv [F][C][KH][KW]; EX_CHANNEL: a [C] */
    float *b;          /* dense and conv [out] (NULL: none); EX_CHANNEL: b [C] */
    int8_t *q;         /* --int8: the weights quantised, w's layout */
    float *qscale;     /* --int8: one scale per output channel */
    ex_place src, dst; /* filled by the planner's placement */
    size_t dst_offset; /* floats into scratch for EX_LOW / EX_HIGH */
    size_t src_offset;
} ex_stage;

typedef enum ex_link { EX_LINK_NONE, EX_LINK_SOFTMAX, EX_LINK_SIGMOID } ex_link;

typedef struct ex_plan {
    ex_stage *stage;
    int count, capacity;
    ex_geom input; /* the model's sample */
    int inputs, outputs;
    int int8;
    /* The scaler on the input: none, one offset and scale for every
     * feature (unit scaling), or one per feature. */
    enum { EX_SCALER_NONE, EX_SCALER_UNIFORM, EX_SCALER_PER_FEATURE } scaler;
    float *offset, *scale;               /* inputs values; [0] only when uniform */
    ex_link link;                        /* applied to the output */
    float *target_offset, *target_scale; /* regression: outputs values, NULL: none */
    int classifier;                      /* 1: predict returns the class; 0: returns 0 */
    int classes;                         /* class names (0 for regression) */
    char **class_names;                  /* classes names (owned) */
    size_t scratch;                      /* floats of scratch predict needs */
    const char *spec;                    /* the model's spec, "" for a hand-built graph */
    const char *loss;
} ex_plan;

/* Lower m's graph to a plan (float weights; int8 ones quantised when
 * int8 is set). An op it cannot export is NB_ERR_ARGUMENT naming the node
 * and op. Free with ex_plan_free, also after an error. */
nb_status ex_plan_make(const nb_model *m, int int8, ex_plan *out);
void ex_plan_free(ex_plan *plan);

/* Growing text, NUL-terminated; a failed allocation sets failed and
 * later writes do nothing. */
typedef struct ex_text {
    char *s;
    size_t len, cap;
    int failed;
} ex_text;

void ex_printf(ex_text *t, const char *fmt, ...) NB_PRINTF(2, 3);
void ex_text_free(ex_text *t);

/* The header and the source for the identifier prefix name (a checked C
 * identifier); the source includes the header by the file name header. */
nb_status ex_emit_model(const ex_plan *plan, const nb_graph *g, const char *name,
                        const char *header, ex_text *h, ex_text *c);

#endif
