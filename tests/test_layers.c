/* The layer table (src/nn/layers.c): it alone drives the spec parser, its
 * messages and the builder; each kind's shape rule agrees with the graph
 * it builds; dense takes its initialiser's fan-in and fan-out from the
 * layer. */
#include "check.h"
#include "nn/model_internal.h"

#include <stdlib.h>
#include <string.h>

static void assert_has(const char *text, const char *part)
{
    if (!strstr(text, part)) fail_msg("\"%s\" lacks \"%s\"", text, part);
}

static nb_shape shape_of(int ndim, const int *dims)
{
    nb_shape s = {ndim, {0}};
    for (int i = 0; i < ndim; i++) s.dim[i] = dims[i];
    return s;
}

static void assert_same_shape(nb_shape got, nb_shape want, const char *what)
{
    char a[64], b[64];
    if (!nb_shape_equal(got, want))
        fail_msg("%s: %s, expected %s", what, nb_shape_format(got, a, sizeof a),
                 nb_shape_format(want, b, sizeof b));
}

/* A middle item that parses for def: its name, or its name with the
 * first argument that parses (name:1 for dense, name:1:1 for conv). */
static void item_for(const nb_layer_def *d, char *buf, size_t size)
{
    static const char *const args[] = {"", ":1", ":1:1", ":0.5"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        char spec[128];
        snprintf(buf, size, "%s%s", d->name, args[i]);
        snprintf(spec, sizeof spec, "dense:2,%s,dense:1", buf);
        if (nb_spec_check(spec) == NB_OK) return;
    }
    fail_msg("no argument parses for %s", d->name);
}

/* ----------------------------------------------------------- the table */

static void test_every_entry_parses(void **state)
{
    (void)state;
    int kinds = 0;
    for (const nb_layer_def *d = nb_layers; d->name; d++, kinds++) {
        assert_ptr_equal(nb_layer_find(d->name, strlen(d->name)), d);
        for (const nb_layer_def *e = nb_layers; e < d; e++)
            assert_string_not_equal(e->name, d->name);
        assert_non_null(d->usage);
        assert_true(d->build || d->op); /* something to build */
        if (d->op) assert_true(nb_op_exists(d->op));
        char item[64], spec[128];
        item_for(d, item, sizeof item);
        snprintf(spec, sizeof spec, "dense:2,%s,dense:1", item);
        nb_spec parsed;
        if (nb_spec_parse(spec, &parsed) != NB_OK)
            fail_msg("\"%s\" rejected: %s", spec, nb_last_error());
        assert_int_equal(parsed.count, 3);
        assert_ptr_equal(parsed.layer[1].def, d);
        assert_int_equal(parsed.outputs, 1);
        /* A kind without a parser takes no argument. */
        if (!d->parse) {
            snprintf(spec, sizeof spec, "dense:2,%s:1,dense:1", d->name);
            assert_int_equal(nb_spec_check(spec), NB_ERR_FORMAT);
            assert_has(nb_last_error(), "no argument");
        }
    }
    assert_true(kinds >= 7);
    assert_null(nb_layer_find("dens", 4));
    assert_null(nb_layer_find("dense:", 6));
    assert_ptr_equal(nb_layer_find("relu,", 4), nb_layer_find("relu", 4));
}

/* The accepted list is every entry's usage, in table order. */
static void test_accepted_lists_every_entry(void **state)
{
    (void)state;
    char want[1024] = "accepted: ";
    for (const nb_layer_def *d = nb_layers; d->name; d++) {
        if (d != nb_layers) strcat(want, ", ");
        strcat(want, d->usage);
    }
    assert_has(want, "accepted: dense:N (1 <= N <= 65536), relu, sigmoid, tanh, leaky_relu[:slope] "
                     "(0 <= slope <= 1), identity, flatten, conv:F:K[:S[:P]] (1 <= F <= 65536, "
                     "1 <= K <= 1024, 1 <= S <= 1024, 0 <= P < K), maxpool:K[:S] (1 <= K <= "
                     "1024, 1 <= S <= 1024), avgpool:K[:S] (1 <= K <= 1024, 1 <= S <= 1024), "
                     "gap, dropout:P (0 <= P < 1), batchnorm");
    const char *bad[] = {"dense:3,softmax,dense:2", "", "dense:3,,dense:2", "dense:3,conv2d:1:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(nb_spec_check(bad[i]), NB_ERR_FORMAT);
        const char *msg = nb_last_error();
        size_t n = strlen(msg), w = strlen(want);
        if (n < w || strcmp(msg + n - w, want) != 0)
            fail_msg("\"%s\": message \"%s\" does not end with \"%s\"", bad[i], msg, want);
    }
    /* A known kind with a bad argument is shown its own usage only. */
    assert_int_equal(nb_spec_check("dense:0"), NB_ERR_FORMAT);
    assert_string_equal(nb_last_error(), "layer spec item 1 \"dense:0\" at byte offset 0: unit "
                                         "count must be at least 1; expected dense:N (1 <= N <= "
                                         "65536)");
    assert_int_equal(nb_spec_check("dense:3,relu:1,dense:2"), NB_ERR_FORMAT);
    assert_string_equal(nb_last_error(), "layer spec item 2 \"relu:1\" at byte offset 8: this "
                                         "layer takes no argument; expected relu");
}

/* msg holds lead, and names every kind with flag. */
static void assert_names_kinds(const char *msg, const char *lead, unsigned flag)
{
    assert_has(msg, lead);
    for (const nb_layer_def *d = nb_layers; d->name; d++) {
        char kind[64];
        snprintf(kind, sizeof kind, "%s %s layer", strchr("aeiou", d->name[0]) ? "an" : "a",
                 d->name);
        if (d->flags & flag) assert_has(msg, kind);
    }
}

/* Which kinds may start and end a spec comes from their flags, and the
 * messages name every kind that may. */
static void test_start_end_flags(void **state)
{
    (void)state;
    for (const nb_layer_def *d = nb_layers; d->name; d++) {
        char item[64], spec[128];
        item_for(d, item, sizeof item);
        snprintf(spec, sizeof spec, "%s,dense:1", item);
        nb_status st = nb_spec_check(spec);
        if ((st == NB_OK) != ((d->flags & NB_LAYER_STARTS) != 0))
            fail_msg("\"%s\": %s (%s)", spec, nb_status_name(st), nb_last_error());
        if (st != NB_OK)
            assert_names_kinds(nb_last_error(), "must start with a dense layer (dense:N)",
                               NB_LAYER_STARTS);
        snprintf(spec, sizeof spec, "dense:2,%s", item);
        st = nb_spec_check(spec);
        if ((st == NB_OK) != ((d->flags & NB_LAYER_ENDS) != 0))
            fail_msg("\"%s\": %s (%s)", spec, nb_status_name(st), nb_last_error());
        if (st != NB_OK)
            assert_names_kinds(nb_last_error(),
                               "must end with a dense layer (dense:N), the output; its logits go "
                               "to the loss",
                               NB_LAYER_ENDS);
    }
    /* flatten takes the input, and cannot give the outputs. */
    int outputs = 0;
    assert_ok(nb_spec_outputs("flatten,dense:4", &outputs));
    assert_int_equal(outputs, 4);
    assert_int_equal(nb_spec_outputs("dense:4,flatten", &outputs), NB_ERR_FORMAT);
    assert_has(nb_last_error(), "must end with a dense layer (dense:N), the output");
    assert_int_equal(nb_spec_check("relu,dense:1"), NB_ERR_FORMAT);
    assert_has(nb_last_error(),
               "must start with a dense layer (dense:N), a flatten layer, a conv layer "
               "(conv:F:K[:S[:P]]), a maxpool layer (maxpool:K[:S]), an avgpool layer "
               "(avgpool:K[:S]), a gap layer, a dropout layer (dropout:P) or a batchnorm layer");
    assert_int_equal(nb_spec_check("flatten"), NB_ERR_FORMAT);
    assert_int_equal(nb_spec_check("flatten:2,dense:1"), NB_ERR_FORMAT);
    assert_has(nb_last_error(),
               "item 1 \"flatten:2\" at byte offset 0: this layer takes no argument");
}

/* --------------------------------------------------- image layer items */

/* Arguments and defaults: conv's P is "same" for an odd K, 0 for an even
 * one; a pool's S is its K. */
static void test_image_items_parse(void **state)
{
    (void)state;
    static const struct {
        const char *item;
        int ints[4];
        double real;
    } ok[] = {
        {"conv:8:3", {8, 3, 1, 1}, 0},
        {"conv:8:4", {8, 4, 1, 0}, 0},
        {"conv:8:5", {8, 5, 1, 2}, 0},
        {"conv:8:1", {8, 1, 1, 0}, 0},
        {"conv:1:3:2", {1, 3, 2, 1}, 0},
        {"conv:30:5:1:0", {30, 5, 1, 0}, 0},
        {"conv:6:5:1:2", {6, 5, 1, 2}, 0},
        {"conv:16:4:2:3", {16, 4, 2, 3}, 0},
        {"conv:007:03", {7, 3, 1, 1}, 0},
        {"conv:65536:1024:1024:1023", {65536, 1024, 1024, 1023}, 0},
        {"maxpool:2", {2, 2}, 0},
        {"maxpool:3:1", {3, 1}, 0},
        {"avgpool:2", {2, 2}, 0},
        {"avgpool:4:2", {4, 2}, 0},
        {"avgpool:1024:1024", {1024, 1024}, 0},
        {"gap", {0}, 0},
        {"batchnorm", {0}, 0},
        {"dropout:0.5", {0}, 0.5},
        {"dropout:0", {0}, 0},
        {"dropout:.25", {0}, 0.25},
        {"dropout:0.", {0}, 0},
        {"dropout:0.999", {0}, 0.999},
    };
    for (size_t c = 0; c < sizeof ok / sizeof ok[0]; c++) {
        char text[80];
        snprintf(text, sizeof text, "%s,dense:2", ok[c].item);
        nb_spec spec;
        if (nb_spec_parse(text, &spec) != NB_OK)
            fail_msg("\"%s\" rejected: %s", text, nb_last_error());
        const nb_layer *l = &spec.layer[0];
        for (int i = 0; i < 4; i++)
            if (l->ints[i] != ok[c].ints[i])
                fail_msg("\"%s\": argument %d is %d, expected %d", ok[c].item, i, l->ints[i],
                         ok[c].ints[i]);
        assert_true(l->reals[0] == ok[c].real);
        assert_int_equal(l->offset, 0);
        assert_int_equal(l->length, (int)strlen(ok[c].item));
    }
}

/* Refused items: the message is the item, its position and offset, the
 * reason, and the kind's usage. */
static void test_image_items_refused(void **state)
{
    (void)state;
    static const struct {
        const char *item, *reason;
    } bad[] = {
        {"conv", "conv needs a filter count F and a kernel size K, e.g. conv:8:3"},
        {"conv:8", "conv needs a filter count F and a kernel size K, e.g. conv:8:3"},
        {"conv:", "the filter count F is missing"},
        {"conv:8:", "the kernel size K is missing"},
        {"conv:8:3:", "the stride S is missing"},
        {"conv:8:3:1:", "the padding P is missing"},
        {"conv:0:3", "the filter count F must be at least 1"},
        {"conv:65537:3", "the filter count F is larger than 65536"},
        {"conv:99999999999999999999:3", "the filter count F is larger than 65536"},
        {"conv:8:0", "the kernel size K must be at least 1"},
        {"conv:8:1025", "the kernel size K is larger than 1024"},
        {"conv:8:3:0", "the stride S must be at least 1"},
        {"conv:8:3:1025", "the stride S is larger than 1024"},
        {"conv:8:3:1:3", "the padding P must be less than the kernel size K"},
        {"conv:8:1:1:1", "the padding P must be less than the kernel size K"},
        {"conv:8:3:1:1:1", "unexpected characters after the padding P"},
        {"conv:-8:3", "the filter count F is not a number"},
        {"conv:+8:3", "the filter count F is not a number"},
        {"conv: 8:3", "the filter count F is not a number"},
        {"conv:8 :3", "unexpected characters after the filter count F"},
        {"conv:0x8:3", "unexpected characters after the filter count F"},
        {"conv:8::3", "the kernel size K is not a number"},
        {"conv:8:3x", "unexpected characters after the kernel size K"},
        {"conv:8:3.0", "unexpected characters after the kernel size K"},
        {"maxpool", "maxpool needs a kernel size K, e.g. maxpool:2"},
        {"avgpool", "avgpool needs a kernel size K, e.g. avgpool:2"},
        {"maxpool:0", "the kernel size K must be at least 1"},
        {"maxpool:2:0", "the stride S must be at least 1"},
        {"avgpool:1025", "the kernel size K is larger than 1024"},
        {"avgpool:2:2:2", "unexpected characters after the stride S"},
        {"maxpool:2,5", NULL}, /* "5" is the next item */
        {"gap:1", "this layer takes no argument"},
        {"gap:", "this layer takes no argument"},
        {"batchnorm:0.1", "this layer takes no argument"},
        {"dropout", "dropout needs a rate P, e.g. dropout:0.5"},
        {"dropout:", "the rate P is missing"},
        {"dropout:1", "the rate P must be less than 1"},
        {"dropout:1.0", "the rate P must be less than 1"},
        {"dropout:2", "the rate P must be less than 1"},
        {"dropout:-0.1", "the rate P is not a decimal number"},
        {"dropout:+0.1", "the rate P is not a decimal number"},
        {"dropout:1e-1", "the rate P is not a decimal number"},
        {"dropout:0.5.5", "the rate P is not a decimal number"},
        {"dropout:.", "the rate P is not a decimal number"},
        {"dropout:nan", "the rate P is not a decimal number"},
        {"dropout: 0.5", "the rate P is not a decimal number"},
        {"dropout:0,5", NULL},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        char text[80], want[400];
        snprintf(text, sizeof text, "dense:4,%s,dense:2", bad[c].item);
        nb_status st = nb_spec_check(text);
        if (st != NB_ERR_FORMAT)
            fail_msg("\"%s\": %s, expected a format error (%s)", text, nb_status_name(st),
                     nb_last_error());
        if (!bad[c].reason) {
            assert_has(nb_last_error(), "item 3 \"5\" at byte offset 18: unknown layer");
            continue;
        }
        const char *colon = strchr(bad[c].item, ':');
        size_t name_len = colon ? (size_t)(colon - bad[c].item) : strlen(bad[c].item);
        const nb_layer_def *d = nb_layer_find(bad[c].item, name_len);
        assert_non_null(d);
        snprintf(want, sizeof want, "layer spec item 2 \"%s\" at byte offset 8: %s; expected %s",
                 bad[c].item, bad[c].reason, d->usage);
        assert_string_equal(nb_last_error(), want);
    }
}

/* The per-sample shapes a spec's table entries give, image layers
 * included; no graph is built. */
static void test_image_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int ndim, dim[3];
        int out_ndim, out[3];
    } cases[] = {
        {"conv:4:3", 3, {1, 8, 8}, 3, {4, 8, 8}}, /* "same" */
        {"conv:4:3,relu,maxpool:2", 3, {1, 8, 8}, 3, {4, 4, 4}},
        {"conv:4:3,relu,maxpool:2,dense:10", 3, {1, 8, 8}, 1, {10}},
        {"conv:4:4", 3, {1, 8, 8}, 3, {4, 5, 5}},     /* even K: no padding */
        {"conv:4:3:2", 3, {3, 8, 8}, 3, {4, 4, 4}},   /* (8 + 2 - 3) / 2 + 1 */
        {"conv:4:3:2:0", 3, {3, 9, 7}, 3, {4, 4, 3}}, /* floor */
        {"conv:2:5:1:0", 3, {1, 5, 5}, 3, {2, 1, 1}}, /* the kernel just fits */
        {"conv:2:3:1:2", 3, {1, 1, 1}, 3, {2, 3, 3}}, /* padding makes it fit */
        {"conv:30:5:1:0,relu,maxpool:2", 3, {1, 28, 28}, 3, {30, 12, 12}},
        {"conv:6:5:1:2,relu,maxpool:2,conv:16:5:1:0,relu,maxpool:2", 3, {1, 28, 28}, 3, {16, 5, 5}},
        {"maxpool:3", 3, {2, 7, 8}, 3, {2, 2, 2}},
        {"maxpool:3:1", 3, {2, 7, 8}, 3, {2, 5, 6}},
        {"avgpool:2:3", 3, {2, 7, 8}, 3, {2, 2, 3}},
        {"avgpool:1", 3, {2, 7, 8}, 3, {2, 7, 8}},
        {"gap", 3, {5, 3, 2}, 1, {5}},
        {"conv:7:3,gap", 3, {1, 4, 4}, 1, {7}},
        {"dropout:0.5", 3, {2, 3, 4}, 3, {2, 3, 4}},
        {"dropout:0.5", 1, {9}, 1, {9}},
        {"dropout:0.5", 2, {2, 9}, 2, {2, 9}},
        {"batchnorm", 3, {2, 3, 4}, 3, {2, 3, 4}},
        {"batchnorm", 1, {9}, 1, {9}},
        {"conv:4:3,batchnorm,relu,dropout:0.1,flatten", 3, {1, 6, 6}, 1, {144}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[120], why[200];
        snprintf(text, sizeof text, "%s,dense:7", cases[c].spec);
        nb_spec spec;
        assert_ok(nb_spec_parse(text, &spec));
        nb_shape s = shape_of(cases[c].ndim, cases[c].dim);
        for (int i = 0; i + 1 < spec.count; i++)
            if (nb_layer_shape(&spec.layer[i], s, &s, why, sizeof why) != NB_OK)
                fail_msg("%s: layer %d: %s", cases[c].spec, i + 1, why);
        assert_same_shape(s, shape_of(cases[c].out_ndim, cases[c].out), cases[c].spec);
    }
}

/* A layer that cannot take its input is named by its item: an image layer
 * after a flat one, a kernel larger than the (padded) image, an output
 * larger than a sample may be. No op runs: the shape rule refuses first. */
static void test_image_shape_errors(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int ndim, dim[3];
        nb_status status;
        const char *msg;
    } cases[] = {
        {"dense:128,conv:8:3,dense:10",
         3,
         {1, 8, 8},
         NB_ERR_SHAPE,
         "layer spec item 2 \"conv:8:3\": needs an image [C, H, W], got [128]"},
        {"flatten, maxpool:2 ,dense:2",
         3,
         {1, 8, 8},
         NB_ERR_SHAPE,
         "layer spec item 2 \"maxpool:2\": needs an image [C, H, W], got [64]"},
        {"conv:8:3,dense:10",
         1,
         {64},
         NB_ERR_SHAPE,
         "layer spec item 1 \"conv:8:3\": needs an image [C, H, W], got [64]"},
        {"avgpool:2,dense:10",
         2,
         {8, 8},
         NB_ERR_SHAPE,
         "layer spec item 1 \"avgpool:2\": needs an image [C, H, W], got [8, 8]"},
        {"dense:4,gap,dense:2",
         3,
         {1, 8, 8},
         NB_ERR_SHAPE,
         "layer spec item 2 \"gap\": needs an image [C, H, W], got [4]"},
        {"batchnorm,dense:2",
         2,
         {3, 3},
         NB_ERR_SHAPE,
         "layer spec item 1 \"batchnorm\": needs an image [C, H, W] or features [F], got [3, 3]"},
        {"conv:4:9:1:0,dense:2",
         3,
         {1, 8, 8},
         NB_ERR_SHAPE,
         "layer spec item 1 \"conv:4:9:1:0\": the kernel 9x9 is larger than the input [1, 8, 8]"},
        {"conv:4:4,dense:2",
         3,
         {1, 3, 8},
         NB_ERR_SHAPE,
         "layer spec item 1 \"conv:4:4\": the kernel 4x4 is larger than the input [1, 3, 8]"},
        {"conv:4:11:1:1,dense:2",
         3,
         {1, 8, 9},
         NB_ERR_SHAPE,
         "layer spec item 1 \"conv:4:11:1:1\": the kernel 11x11 is larger than the input "
         "[1, 8, 9] padded by 1 (10x11)"},
        {"maxpool:9,dense:2",
         3,
         {1, 8, 8},
         NB_ERR_SHAPE,
         "layer spec item 1 \"maxpool:9\": the kernel 9x9 is larger than the input [1, 8, 8]"},
        {"conv:65536:1,dense:2",
         3,
         {1, 8, 8},
         NB_ERR_LIMIT,
         "layer spec item 1 \"conv:65536:1\": gives 4194304 values per sample, more than "
         "1048576"},
        {"conv:1:1024:1:1023,dense:2",
         3,
         {2, 1, 1},
         NB_ERR_LIMIT,
         "layer spec item 1 \"conv:1:1024:1:1023\": a filter sees 2 x 1024 x 1024 values, "
         "more than 1048576"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_model *m = NULL;
        nb_status st = nb_model_create_shaped(cases[c].spec, shape_of(cases[c].ndim, cases[c].dim),
                                              "softmax_ce", 2, &m);
        if (st != cases[c].status)
            fail_msg("\"%s\": %s, expected %s (%s)", cases[c].spec, nb_status_name(st),
                     nb_status_name(cases[c].status), nb_last_error());
        assert_null(m);
        assert_has(nb_last_error(), cases[c].msg);
        assert_has(nb_last_error(), "building model \"");
    }
    /* An image layer cannot end a spec: the outputs are known from the
     * spec alone, before any data (a gap's are its input's channels). */
    const char *ends[] = {"conv:4:3", "conv:4:3,relu,maxpool:2", "conv:10:3,gap",
                          "dense:10,dropout:0.5", "dense:10,batchnorm"};
    for (size_t c = 0; c < sizeof ends / sizeof ends[0]; c++) {
        assert_int_equal(nb_spec_check(ends[c]), NB_ERR_FORMAT);
        assert_has(nb_last_error(), "must end with a dense layer (dense:N), the output");
    }
}

/* ------------------------------------------------------------- shapes */

/* shape() run over the spec gives the per-sample shape of the node that
 * nb_spec_build makes, and nb_model_create_shaped's output. */
static void test_shape_agrees_with_graph(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int ndim, dim[3];
        int out_ndim, out[3];
    } cases[] = {
        {"flatten,dense:3", 3, {1, 4, 4}, 1, {3}},
        {"flatten", 3, {1, 4, 4}, 1, {16}}, /* built, though it cannot end a model */
        {"flatten,relu", 3, {2, 3, 5}, 1, {30}},
        {"dense:5,relu,dense:2", 3, {1, 4, 4}, 1, {2}},
        {"dense:5,relu,dense:2", 1, {7}, 1, {2}},
        {"dense:4,relu", 2, {2, 2}, 1, {4}},
        {"dense:4,flatten,tanh,dense:3", 3, {2, 3, 3}, 1, {3}},
        {"flatten,leaky_relu:0.2,dense:1", 2, {3, 2}, 1, {1}},
        {"dense:6,sigmoid,identity,dense:6", 2, {5, 5}, 1, {6}},
        {"conv:4:3", 3, {1, 8, 8}, 3, {4, 8, 8}},
        {"conv:4:3,relu,maxpool:2,dense:10", 3, {1, 8, 8}, 1, {10}},
        {"conv:3:4:2:1,tanh,avgpool:2:1", 3, {2, 9, 7}, 3, {3, 3, 2}},
        {"conv:5:1,gap", 3, {2, 3, 4}, 1, {5}},
        {"maxpool:3:2,flatten", 3, {2, 7, 7}, 1, {18}},
        {"dropout:0.5,conv:2:3:1:0,batchnorm,relu", 3, {3, 5, 5}, 3, {2, 3, 3}},
        {"dense:6,batchnorm,dropout:0.2,dense:3", 3, {1, 4, 4}, 1, {3}},
        {"batchnorm", 1, {7}, 1, {7}},
        {"gap,batchnorm,dense:2", 3, {4, 2, 2}, 1, {2}},
    };
    const int batch = 3;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* A spec may end in a kind that cannot end a model: parse it with
         * one more dense layer, then drop that. */
        char text[120];
        snprintf(text, sizeof text, "%s,dense:7", cases[c].spec);
        nb_spec spec;
        assert_ok(nb_spec_parse(text, &spec));
        spec.count--;
        nb_shape sample = shape_of(cases[c].ndim, cases[c].dim), s = sample;
        char why[100];
        for (int i = 0; i < spec.count; i++)
            assert_ok(nb_layer_shape(&spec.layer[i], s, &s, why, sizeof why));
        assert_same_shape(s, shape_of(cases[c].out_ndim, cases[c].out), cases[c].spec);

        nb_graph *g = nb_graph_create();
        nb_shape xs = {sample.ndim + 1, {batch}};
        for (int i = 0; i < sample.ndim; i++) xs.dim[i + 1] = sample.dim[i];
        nb_node y = NB_NONE;
        assert_ok(nb_spec_build(g, &spec, nb_input(g, "x", xs), &y));
        nb_shape want = {s.ndim + 1, {batch}};
        for (int i = 0; i < s.ndim; i++) want.dim[i + 1] = s.dim[i];
        assert_same_shape(nb_node_shape(g, y), want, cases[c].spec);
        nb_graph_free(g);

        nb_model *m;
        if (nb_spec_check(cases[c].spec) != NB_OK) continue;
        assert_ok(nb_model_create_shaped(cases[c].spec, sample, "mse", batch, &m));
        assert_same_shape(nb_node_shape(nb_model_graph(m), nb_model_output(m)), want,
                          cases[c].spec);
        assert_int_equal(nb_model_outputs(m), s.dim[0]);
        nb_model_free(m);
    }
}

/* An image [1, 4, 4] through flatten and dense: the weight is [16, units],
 * parameters are named by their kind's index, not their position. */
static void test_image_through_flatten(void **state)
{
    (void)state;
    nb_model *m;
    const int img[3] = {1, 4, 4};
    assert_ok(nb_model_create_shaped("flatten,dense:8,relu,flatten,dense:3", shape_of(3, img),
                                     "softmax_ce", 5, &m));
    nb_graph *g = nb_model_graph(m);
    assert_same_shape(nb_node_shape(g, nb_model_input(m)), shape_of(4, (int[]){5, 1, 4, 4}), "x");
    assert_same_shape(nb_node_shape(g, nb_graph_find(g, "dense0.weight")), nb_shape2(16, 8),
                      "dense0.weight");
    assert_same_shape(nb_node_shape(g, nb_graph_find(g, "dense1.weight")), nb_shape2(8, 3),
                      "dense1.weight");
    assert_same_shape(nb_node_shape(g, nb_model_output(m)), nb_shape2(5, 3), "output");
    assert_int_equal(nb_model_inputs(m), 16);
    assert_int_equal(nb_model_outputs(m), 3);
    nb_model_free(m);
}

/* --------------------------------------------------------------- init */

static nb_init weight_init(nb_graph *g, const char *name)
{
    nb_node w = nb_graph_find(g, name);
    if (w == NB_NONE) fail_msg("no node \"%s\"", name);
    return nb_node_init(g, w);
}

/* Dense's fan-in is the values of a sample (flattened), its fan-out its
 * units: the numbers a [in, units] weight gives, so values are unchanged. */
static void test_dense_fans_from_layer(void **state)
{
    (void)state;
    nb_model *m;
    const int img[3] = {1, 20, 20};
    assert_ok(nb_model_create_shaped("dense:300,leaky_relu,dense:300,tanh,dense:2",
                                     shape_of(3, img), "softmax_ce", 2, &m));
    nb_graph *g = nb_model_graph(m);
    nb_init i0 = weight_init(g, "dense0.weight"), i1 = weight_init(g, "dense1.weight"),
            i2 = weight_init(g, "dense2.weight");
    assert_int_equal(i0.kind, NB_INIT_HE_NORMAL); /* before leaky_relu */
    assert_int_equal(i0.fan_in, 400);
    assert_int_equal(i0.fan_out, 300);
    assert_int_equal(i1.kind, NB_INIT_XAVIER_UNIFORM); /* before tanh */
    assert_int_equal(i1.fan_in, 300);
    assert_int_equal(i1.fan_out, 300);
    assert_int_equal(i2.kind, NB_INIT_XAVIER_UNIFORM); /* the last */
    assert_int_equal(i2.fan_in, 300);
    assert_int_equal(i2.fan_out, 2);
    assert_int_equal(weight_init(g, "dense0.bias").kind, NB_INIT_ZEROS);

    /* He over 400 inputs: deviation sqrt(2 / 400). */
    assert_ok(nb_model_init(m, 7));
    const nb_real *w = nb_node_value(g, nb_graph_find(g, "dense0.weight"));
    double sum = 0, sq = 0;
    const int n = 400 * 300;
    for (int k = 0; k < n; k++) {
        sum += w[k];
        sq += (double)w[k] * w[k];
    }
    double var = sq / n - (sum / n) * (sum / n);
    assert_near(sqrt(var), sqrt(2.0 / 400), 0.02);

    /* The same fill as from the weight's shape alone. */
    nb_init from_shape = i0;
    from_shape.fan_in = from_shape.fan_out = 0;
    nb_real *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    nb_rng r1, r2;
    nb_rng_seed(&r1, 3);
    nb_rng_seed(&r2, 3);
    nb_init_fill(i0, nb_shape2(400, 300), a, &r1);
    nb_init_fill(from_shape, nb_shape2(400, 300), b, &r2);
    assert_memory_equal(a, b, n * sizeof *a);
    free(a);
    free(b);
    nb_model_free(m);
}

/* A convolution's fan-in is C*K*K, its fan-out F*K*K; He before a
 * rectifier, also past dropout and batchnorm, which keep the scale. */
static void test_image_layer_inits(void **state)
{
    (void)state;
    nb_model *m;
    const int img[3] = {3, 10, 10};
    assert_ok(nb_model_create_shaped("conv:8:3,relu,conv:4:5:1:0,tanh,conv:6:3,batchnorm,"
                                     "dropout:0.5,leaky_relu,dense:5,dropout:0.1,relu,dense:2",
                                     shape_of(3, img), "softmax_ce", 2, &m));
    nb_graph *g = nb_model_graph(m);
    static const struct {
        const char *name;
        nb_init_kind kind;
        int fan_in, fan_out;
        int ndim, dim[4];
    } want[] = {
        {"conv0.weight", NB_INIT_HE_NORMAL, 3 * 9, 8 * 9, 4, {8, 3, 3, 3}},
        {"conv1.weight", NB_INIT_XAVIER_UNIFORM, 8 * 25, 4 * 25, 4, {4, 8, 5, 5}},
        {"conv2.weight", NB_INIT_HE_NORMAL, 4 * 9, 6 * 9, 4, {6, 4, 3, 3}},
        {"dense0.weight", NB_INIT_HE_NORMAL, 6 * 6 * 6, 5, 2, {216, 5}},
        {"dense1.weight", NB_INIT_XAVIER_UNIFORM, 5, 2, 2, {5, 2}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        nb_init init = weight_init(g, want[i].name);
        if (init.kind != want[i].kind || init.fan_in != want[i].fan_in ||
            init.fan_out != want[i].fan_out)
            fail_msg("%s: init %d fan-in %d fan-out %d, expected %d %d %d", want[i].name,
                     (int)init.kind, init.fan_in, init.fan_out, (int)want[i].kind, want[i].fan_in,
                     want[i].fan_out);
        assert_same_shape(nb_node_shape(g, nb_graph_find(g, want[i].name)),
                          shape_of(want[i].ndim, want[i].dim), want[i].name);
    }
    assert_int_equal(weight_init(g, "conv1.bias").kind, NB_INIT_ZEROS);
    assert_same_shape(nb_node_shape(g, nb_graph_find(g, "conv1.bias")), nb_shape1(4), "bias");

    /* He over 27 inputs: deviation sqrt(2 / 27). */
    assert_ok(nb_model_init(m, 5));
    const nb_real *w = nb_node_value(g, nb_graph_find(g, "conv0.weight"));
    double sq = 0;
    for (int k = 0; k < 8 * 27; k++) sq += (double)w[k] * w[k];
    assert_near(sqrt(sq / (8 * 27)), sqrt(2.0 / 27), 0.03);
    nb_model_free(m);
}

/* The ops each image layer builds, with its arguments as attributes, its
 * output named after it; batchnorm's gamma and beta are parameters, its
 * running estimates buffers. */
static void test_image_layer_nodes(void **state)
{
    (void)state;
    nb_model *m;
    const int img[3] = {2, 9, 9};
    assert_ok(nb_model_create_shaped(
        "conv:4:3:2,batchnorm,relu,maxpool:2:1,avgpool:3,dropout:0.25,conv:3:1,gap,dense:2",
        shape_of(3, img), "softmax_ce", 2, &m));
    nb_graph *g = nb_model_graph(m);
    static const struct {
        const char *node, *op, *attr[2];
        double value[2];
    } want[] = {
        {"conv0.out", "conv2d", {"stride", "pad"}, {2, 1}},
        {"maxpool0.out", "max_pool2d", {"kernel", "stride"}, {2, 1}},
        {"avgpool0.out", "avg_pool2d", {"kernel", "stride"}, {3, 3}},
        {"dropout0.out", "dropout", {"p", NULL}, {0.25, 0}},
        {"conv1.out", "conv2d", {"stride", "pad"}, {1, 0}},
        {"gap0.out", "global_avg_pool", {NULL, NULL}, {0, 0}},
        {"batchnorm0.out", "batch_norm", {"momentum", "eps"}, {0.1, 1e-5}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        nb_node n = nb_graph_find(g, want[i].node);
        if (n == NB_NONE) fail_msg("no node \"%s\"", want[i].node);
        assert_string_equal(nb_node_op(g, n), want[i].op);
        for (int a = 0; a < 2 && want[i].attr[a]; a++) {
            const nb_attr *at = nb_node_find_attr(g, n, want[i].attr[a]);
            assert_non_null(at);
            double v = at->type == NB_ATTR_INT ? (double)at->ints[0] : at->reals[0];
            if (v != want[i].value[a])
                fail_msg("%s: %s is %g, expected %g", want[i].node, want[i].attr[a], v,
                         want[i].value[a]);
        }
    }
    /* [4, 5, 5] after conv0 (stride 2, "same" pad 1 on 9x9). */
    assert_same_shape(nb_node_shape(g, nb_graph_find(g, "conv0.out")),
                      shape_of(4, (int[]){2, 4, 5, 5}), "conv0.out");
    assert_ok(nb_model_init(m, 3));
    nb_node bn = nb_graph_find(g, "batchnorm0.out");
    assert_int_equal(nb_node_input_count(g, bn), 5);
    static const char *const parts[4] = {"gamma", "beta", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) {
        char name[64];
        snprintf(name, sizeof name, "batchnorm0.%s", parts[k]);
        nb_node p = nb_graph_find(g, name);
        assert_int_equal(nb_node_input(g, bn, k + 1), p);
        assert_string_equal(nb_node_op(g, p), k < 2 ? "param" : "buffer");
        assert_same_shape(nb_node_shape(g, p), nb_shape1(4), name);
        /* Ones for gamma and the variance, zeros for the others. */
        const nb_real *v = nb_node_value(g, p);
        for (int c = 0; c < 4; c++) assert_true(v[c] == (k == 0 || k == 3 ? 1 : 0));
    }
    nb_model_free(m);
}

/* ----------------------------------------------------- builder checks */

static nb_status refuse_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                              size_t why_size)
{
    (void)layer, (void)in, (void)out;
    snprintf(why, why_size, "needs [C, H, W]");
    return NB_ERR_SHAPE;
}

static nb_status wrong_shape(const nb_layer *layer, nb_shape in, nb_shape *out, char *why,
                             size_t why_size)
{
    (void)layer, (void)in, (void)why, (void)why_size;
    *out = nb_shape1(99);
    return NB_OK;
}

/* A layer whose shape rule refuses its input is named; one whose rule
 * disagrees with the node it builds is caught. */
static void test_builder_checks_shapes(void **state)
{
    (void)state;
    static const nb_layer_def refusing = {
        .name = "picky", .usage = "picky", .op = "identity", .shape = refuse_shape};
    static const nb_layer_def lying = {
        .name = "liar", .usage = "liar", .op = "identity", .shape = wrong_shape};
    const nb_layer_def *defs[2] = {&refusing, &lying};
    const nb_status want[2] = {NB_ERR_SHAPE, NB_ERR_STATE};
    const char *msg[2] = {
        "layer spec item 2 \"picky\": needs [C, H, W]", /* made by hand: no item text */
        "layer 2 (liar): its node has shape [2, 4], its table entry says [2, 99]"};
    for (int k = 0; k < 2; k++) {
        nb_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.count = 2;
        spec.layer[0].def = nb_layer_find("dense", 5);
        spec.layer[0].ints[0] = 4;
        spec.layer[1].def = defs[k];
        nb_graph *g = nb_graph_create();
        nb_node y = 0;
        assert_int_equal(nb_spec_build(g, &spec, nb_input(g, "x", nb_shape2(2, 3)), &y), want[k]);
        assert_int_equal(y, NB_NONE);
        assert_int_equal(nb_graph_status(g), want[k]);
        assert_has(nb_last_error(), msg[k]);
        nb_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry_parses),
        cmocka_unit_test(test_accepted_lists_every_entry),
        cmocka_unit_test(test_start_end_flags),
        cmocka_unit_test(test_image_items_parse),
        cmocka_unit_test(test_image_items_refused),
        cmocka_unit_test(test_image_shapes),
        cmocka_unit_test(test_image_shape_errors),
        cmocka_unit_test(test_shape_agrees_with_graph),
        cmocka_unit_test(test_image_through_flatten),
        cmocka_unit_test(test_dense_fans_from_layer),
        cmocka_unit_test(test_image_layer_inits),
        cmocka_unit_test(test_image_layer_nodes),
        cmocka_unit_test(test_builder_checks_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
