/* Model files: round trips, the layout on disk, atomic saving, and a corpus
 * of corrupt files made from a valid one, every one of which must be
 * refused with a message and without a crash (CI runs this under ASan).
 *
 * Run as "test_model_file --write-sample PATH", it writes a model with
 * known weights for tests/model_python.sh and prints its prediction;
 * "--write-graph-sample PATH" does the same for a model built by hand. */
#include "check.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "io/model_file.h"

static char dir[64]; /* a fresh directory for this run */

static const char *in_dir(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

typedef struct blob {
    unsigned char *data;
    size_t size;
} blob;

static blob read_all(const char *path)
{
    blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    b.size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc(b.size + 1);
    if (fread(b.data, 1, b.size, f) != b.size) fail_msg("cannot read %s", path);
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) fail_msg("cannot write %s", path);
}

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8) b[i] = (unsigned char)v;
}

/* Little-endian IEEE bytes of v as F32 (size 4) or F64 (size 8). */
static void put_real(unsigned char *b, double v, int size)
{
    uint64_t bits;
    if (size == 4) {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        bits = u;
    } else {
        memcpy(&bits, &v, 8);
    }
    for (int i = 0; i < size; i++) b[i] = (unsigned char)(bits >> (8 * i));
}

static double get_real(const unsigned char *b, int size)
{
    uint64_t bits = 0;
    for (int i = size - 1; i >= 0; i--) bits = bits << 8 | b[i];
    if (size == 4) {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* ------------------------------------------------------------ models */

enum { IN = 3, HID = 2, OUT = 3, ROWS = 5 };

static nb_model *make_model(uint64_t seed)
{
    nb_model *m;
    assert_ok(nb_model_create("dense:2,relu,dense:3", IN, "softmax_ce", 4, &m));
    assert_ok(nb_model_init(m, seed));
    nb_real off[IN] = {0.5, -1, 2}, sc[IN] = {2, 0.25, 1.5};
    nb_scaler s = {NB_SCALE_ZSCORE, IN, off, sc};
    assert_ok(nb_model_set_scaler(m, &s));
    char *names[] = {"t-shirt", "trouser", "\"quoted\" \\ name"};
    assert_ok(nb_model_set_class_names(m, names, 3));
    assert_ok(nb_model_set_meta(m, "training", "{\"epochs\":3,\"lr\":0.1,\"optimizer\":\"adam\"}"));
    assert_ok(nb_model_set_meta(m, "metrics", "[0.5,1e-3]"));
    return m;
}

static void sample_inputs(nb_real *x)
{
    for (int i = 0; i < ROWS * IN; i++) x[i] = (nb_real)(0.37 * i - 2.1);
}

/* A graph built by hand, with what a spec cannot say: two inputs, a [N, 2,
 * 3] and b [N, 4]; a flattened by reshape [0, -1] to [N, 6], through
 * [-1] ([6N]) and back by [-1, 6], then a dense layer and leaky_relu with
 * slope 0.2; b plus a constant c [4] per row, a dense layer and tanh; their
 * sum times a parameter "gain" (constant 1.5), a dense layer of 2 outputs;
 * mse against target [N, 2]. 10 input values per sample. */
enum { GIN = 10, GOUT = 2 };

static nb_node named(nb_graph *g, nb_node n, const char *name)
{
    assert_ok(nb_node_set_name(g, n, name));
    return n;
}

static nb_model *make_graph_model(uint64_t seed, int batch)
{
    nb_graph *g = nb_graph_create();
    assert_non_null(g);
    nb_node a = nb_input(g, "a", nb_shape3(batch, 2, 3));
    nb_node b = nb_input(g, "b", nb_shape2(batch, 4));
    nb_node fa = named(g, nb_reshape(g, a, nb_shape2(0, -1)), "fa");
    nb_node flat = named(g, nb_reshape(g, fa, nb_shape1(-1)), "flat");
    nb_node back = named(g, nb_reshape(g, flat, nb_shape2(-1, 6)), "back");
    nb_node h1 = nb_dense(g, back, 5, "da", nb_init_he());
    nb_attr slope = nb_attr_real("slope", 0.2);
    h1 = nb_apply_attrs(g, "leaky_relu", "lr", 1, &h1, 1, &slope);
    nb_real cv[4] = {0.5, -1, 2, 0.25};
    nb_node c = nb_constant(g, "c", nb_shape1(4), cv);
    nb_node bs = named(g, nb_bias_add(g, b, c), "bs");
    nb_node h2 = named(g, nb_tanh(g, nb_dense(g, bs, 5, "db", nb_init_uniform(-0.5, 0.5))), "th");
    nb_node h = named(g, nb_add(g, h1, h2), "h");
    nb_node gain = nb_param(g, "gain", nb_shape1(1), nb_init_constant(1.5));
    nb_node hg = named(g, nb_mul(g, h, gain), "hg");
    nb_node y = nb_dense(g, hg, GOUT, "out", nb_init_normal(0, 0.5));
    nb_node t = nb_input(g, "target", nb_shape2(batch, GOUT));
    nb_node l = named(g, nb_mse(g, y, t), "loss");
    assert_ok(nb_graph_status(g));
    nb_node ins[2] = {a, b};
    nb_model_roles roles = {2, ins, y, t, l};
    nb_model *m;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    assert_ok(nb_model_init(m, seed));
    return m;
}

static void graph_inputs(nb_real *x, int rows)
{
    for (int i = 0; i < rows * GIN; i++) x[i] = (nb_real)(0.21 * i - 1.7 + 0.05 * (i % 3));
}

static void test_round_trip(void **state)
{
    (void)state;
    nb_model *m = make_model(17), *back;
    const char *path = in_dir("round.safetensors");
    assert_ok(nb_model_save(m, path));
    assert_ok(nb_model_load(path, &back));

    nb_real x[ROWS * IN], p1[ROWS * OUT], p2[ROWS * OUT];
    sample_inputs(x);
    /* The same batch size, so that the same matrix products run. */
    assert_int_equal(nb_model_batch(back), NB_LOAD_BATCH);
    assert_ok(nb_model_set_batch(back, nb_model_batch(m)));
    assert_ok(nb_model_predict(m, x, ROWS, p1));
    assert_ok(nb_model_predict(back, x, ROWS, p2));
    assert_memory_equal(p1, p2, sizeof p1); /* bit for bit */

    size_t n1, n2;
    nb_real *a = nb_graph_params(nb_model_graph(m), &n1);
    nb_real *b = nb_graph_params(nb_model_graph(back), &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1 * sizeof *a);
    assert_string_equal(nb_model_spec(back), "dense:2,relu,dense:3");
    assert_string_equal(nb_model_loss_name(back), "softmax_ce");
    assert_int_equal(nb_model_inputs(back), IN);
    assert_int_equal(nb_model_outputs(back), OUT);
    assert_int_equal(nb_model_class_count(back), 3);
    assert_string_equal(nb_model_class_name(back, 1), "trouser");
    assert_string_equal(nb_model_class_name(back, 2), "\"quoted\" \\ name");
    assert_string_equal(nb_model_meta(back, "training"),
                        "{\"epochs\":3,\"lr\":0.1,\"optimizer\":\"adam\"}");
    assert_string_equal(nb_model_meta(back, "metrics"), "[0.5,1e-3]");
    const nb_scaler *s1 = nb_model_scaler(m), *s2 = nb_model_scaler(back);
    assert_non_null(s2);
    assert_int_equal(s2->kind, NB_SCALE_ZSCORE);
    assert_int_equal(s2->features, IN);
    assert_memory_equal(s1->offset, s2->offset, IN * sizeof(nb_real));
    assert_memory_equal(s1->scale, s2->scale, IN * sizeof(nb_real));

    /* Saving the loaded model gives the same bytes. */
    const char *again = in_dir("again.safetensors");
    assert_ok(nb_model_save(back, again));
    blob f1 = read_all(path), f2 = read_all(again);
    assert_int_equal(f1.size, f2.size);
    assert_memory_equal(f1.data, f2.data, f1.size);
    free(f1.data);
    free(f2.data);
    nb_model_free(m);
    nb_model_free(back);

    /* A regression model without scaler, class names or metadata. */
    assert_ok(nb_model_create("dense:4,tanh,dense:2", IN, "mse", 3, &m));
    assert_ok(nb_model_init(m, 3));
    assert_ok(nb_model_save(m, path));
    assert_ok(nb_model_load(path, &back));
    assert_ok(nb_model_set_batch(back, 3));
    nb_real y1[ROWS * 2], y2[ROWS * 2];
    assert_ok(nb_model_predict(m, x, ROWS, y1));
    assert_ok(nb_model_predict(back, x, ROWS, y2));
    assert_memory_equal(y1, y2, sizeof y1);
    assert_null(nb_model_scaler(back));
    assert_int_equal(nb_model_class_count(back), 0);
    assert_string_equal(nb_model_loss_name(back), "mse");
    nb_model_free(m);
    nb_model_free(back);
}

/* The bytes on disk, read here without the library's reader. */
static void test_layout(void **state)
{
    (void)state;
    nb_model *m = make_model(5);
    const char *path = in_dir("layout.safetensors");
    assert_ok(nb_model_save(m, path));
    blob f = read_all(path);
    uint64_t n = get_u64(f.data);
    assert_true(n % 8 == 0);
    assert_true(8 + n <= f.size);
    cJSON *root = cJSON_ParseWithLength((const char *)f.data + 8, n);
    assert_non_null(root);
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    const char *want[][2] = {
        {"format", "nabla"},    {"format_version", "2"}, {"spec", "dense:2,relu,dense:3"},
        {"loss", "softmax_ce"}, {"inputs", "3"},         {"outputs", "3"},
        {"scale", "zscore"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cJSON *v = cJSON_GetObjectItem(meta, want[i][0]);
        if (!cJSON_IsString(v) || strcmp(v->valuestring, want[i][1]) != 0)
            fail_msg("metadata %s is not \"%s\"", want[i][0], want[i][1]);
    }
    cJSON *names = cJSON_Parse(cJSON_GetObjectItem(meta, "class_names")->valuestring);
    assert_int_equal(cJSON_GetArraySize(names), 3);
    assert_string_equal(cJSON_GetArrayItem(names, 0)->valuestring, "t-shirt");
    cJSON_Delete(names);
    cJSON *training = cJSON_Parse(cJSON_GetObjectItem(meta, "training")->valuestring);
    assert_int_equal(cJSON_GetObjectItem(training, "epochs")->valueint, 3);
    cJSON_Delete(training);
    /* The graph: every node in creation order, the batch as "N". */
    cJSON *graph = cJSON_Parse(cJSON_GetObjectItem(meta, "graph")->valuestring);
    assert_non_null(graph);
    const char *nodes[][3] = {
        {"x", "input", "[\"N\",3]"},     {"dense0.weight", "param", "[3,2]"},
        {"dense0.bias", "param", "[2]"}, {"dense0.out", "affine", "[\"N\",2]"},
        {"relu4", "relu", "[\"N\",2]"},  {"dense1.weight", "param", "[2,3]"},
        {"dense1.bias", "param", "[3]"}, {"dense1.out", "affine", "[\"N\",3]"},
        {"target", "input", "[\"N\"]"},  {"loss", "softmax_with_loss", "[]"},
    };
    cJSON *list = cJSON_GetObjectItem(graph, "nodes");
    assert_int_equal(cJSON_GetArraySize(list), 10);
    for (int i = 0; i < 10; i++) {
        cJSON *node = cJSON_GetArrayItem(list, i);
        char *shape = cJSON_PrintUnformatted(cJSON_GetObjectItem(node, "shape"));
        assert_string_equal(cJSON_GetObjectItem(node, "name")->valuestring, nodes[i][0]);
        assert_string_equal(cJSON_GetObjectItem(node, "op")->valuestring, nodes[i][1]);
        assert_string_equal(shape, nodes[i][2]);
        cJSON_free(shape);
    }
    char *init = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "init")); /* relu next: He */
    /* the dense layer's fan-in and fan-out: its 3 inputs and 2 units */
    assert_string_equal(init,
                        "{\"kind\":\"he_normal\",\"a\":0,\"b\":0,\"fan_in\":3,\"fan_out\":2}");
    cJSON_free(init);
    char *in = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 3), "inputs"));
    assert_string_equal(in, "[\"x\",\"dense0.weight\",\"dense0.bias\"]");
    cJSON_free(in);
    assert_string_equal(cJSON_GetObjectItem(graph, "output")->valuestring, "dense1.out");
    assert_string_equal(cJSON_GetObjectItem(graph, "target")->valuestring, "target");
    assert_string_equal(cJSON_GetObjectItem(graph, "loss")->valuestring, "loss");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(graph, "inputs"), 0)->valuestring,
                        "x");
    cJSON_Delete(graph);

    /* Every parameter: dtype, shape, and its bytes decode to its values. */
    nb_graph *g = nb_model_graph(m);
    const char *tensors[] = {"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"};
    int dims[][2] = {{IN, HID}, {HID, 0}, {HID, OUT}, {OUT, 0}};
    const int size = (int)sizeof(nb_real);
    uint64_t data_end = 0;
    for (int t = 0; t < 6; t++) {
        const char *name = t < 4 ? tensors[t] : t == 4 ? "scaler.offset" : "scaler.scale";
        cJSON *e = cJSON_GetObjectItem(root, name);
        if (!e) fail_msg("no tensor %s", name);
        assert_string_equal(cJSON_GetObjectItem(e, "dtype")->valuestring,
                            size == 4 ? "F32" : "F64");
        cJSON *shape = cJSON_GetObjectItem(e, "shape");
        int d0 = t < 4 ? dims[t][0] : IN, d1 = t < 4 ? dims[t][1] : 0;
        assert_int_equal(cJSON_GetArraySize(shape), d1 ? 2 : 1);
        assert_int_equal(cJSON_GetArrayItem(shape, 0)->valueint, d0);
        if (d1) assert_int_equal(cJSON_GetArrayItem(shape, 1)->valueint, d1);
        cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
        uint64_t begin = (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble;
        uint64_t end = (uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble;
        size_t count = (size_t)d0 * (d1 ? d1 : 1);
        assert_int_equal(end - begin, count * size);
        if (end > data_end) data_end = end;
        const nb_real *values = t < 4    ? nb_node_value(g, nb_graph_find(g, name))
                                : t == 4 ? nb_model_scaler(m)->offset
                                         : nb_model_scaler(m)->scale;
        for (size_t i = 0; i < count; i++)
            if (get_real(f.data + 8 + n + begin + i * size, size) != values[i])
                fail_msg("%s[%zu] on disk differs", name, i);
    }
    assert_int_equal(8 + n + data_end, f.size);
    cJSON_Delete(root);
    free(f.data);
    nb_model_free(m);
}

/* --------------------------------------------------------- atomic saving */

static int leftover_temp_files(void)
{
    int count = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) count++;
    if (d) closedir(d);
    return count;
}

static int fail_after; /* allocations left before one fails; < 0: never */
static void *failing_malloc(size_t size, void *user)
{
    (void)user;
    if (fail_after == 0) return NULL;
    if (fail_after > 0) fail_after--;
    return malloc(size);
}
static void *failing_realloc(void *p, size_t size, void *user)
{
    (void)user;
    if (fail_after == 0) return NULL;
    if (fail_after > 0) fail_after--;
    return realloc(p, size);
}
static void plain_free(void *p, void *user)
{
    (void)user;
    free(p);
}

static void test_atomic_save(void **state)
{
    (void)state;
    nb_model *old = make_model(1), *other;
    assert_ok(nb_model_create("dense:8,relu,dense:3", IN, "softmax_ce", 2, &other));
    const char *path = in_dir("keep.safetensors");
    assert_ok(nb_model_save(old, path));
    blob before = read_all(path);

    /* The temporary file cannot be made: a directory that does not exist. */
    const char *nodir = in_dir("no-such-dir/model.safetensors");
    assert_int_equal(nb_model_save(other, nodir), NB_ERR_IO);
    assert_non_null(strstr(nb_last_error(), "no-such-dir/model.safetensors"));

    /* The rename fails: the path is a directory (with something in it). */
    const char *isdir = in_dir("a-directory");
    assert_int_equal(mkdir(isdir, 0755), 0);
    write_all(in_dir("a-directory/inside"), "x", 1);
    assert_int_equal(nb_model_save(other, isdir), NB_ERR_IO);
    assert_int_equal(leftover_temp_files(), 0);

    /* Every allocation of a save fails in turn: each failure is an error,
     * leaves the old file as it was and no temporary file behind. */
    nb_allocator hooks = {failing_malloc, failing_realloc, plain_free, NULL};
    int failures = 0;
    for (int k = 0;; k++) {
        fail_after = k;
        nb_set_allocator(&hooks);
        nb_status st = nb_model_save(other, path);
        nb_set_allocator(NULL);
        if (st == NB_OK) break;
        failures++;
        assert_true(nb_last_error()[0] != '\0');
        blob now = read_all(path);
        assert_int_equal(now.size, before.size);
        assert_memory_equal(now.data, before.data, before.size);
        free(now.data);
        assert_int_equal(leftover_temp_files(), 0);
        assert_true(k < 5000);
    }
    assert_true(failures >= 1);
    assert_int_equal(leftover_temp_files(), 0);
    /* The last, successful save replaced the file. */
    nb_model *back;
    assert_ok(nb_model_load(path, &back));
    assert_string_equal(nb_model_spec(back), "dense:8,relu,dense:3");
    nb_model_free(back);

    /* A full disk: the writer must report the failed write or flush. */
    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        assert_int_equal(nb_model_write(old, full, "/dev/full"), NB_ERR_IO);
        assert_non_null(strstr(nb_last_error(), "/dev/full"));
        fclose(full);
    } else {
        print_message("note: /dev/full is missing; the full-disk case did not run\n");
    }
    free(before.data);
    nb_model_free(old);
    nb_model_free(other);
}

/* ------------------------------------------------ graphs built by hand */

static void assert_same_attr(const nb_attr *a, const nb_attr *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->count, b->count);
    for (int v = 0; v < a->count; v++) {
        if (a->type == NB_ATTR_INT)
            assert_int_equal(a->ints[v], b->ints[v]);
        else
            assert_memory_equal(&a->reals[v], &b->reals[v], sizeof a->reals[v]);
    }
}

/* Node by node: names, ops, inputs, attributes, initialisers, shapes. */
static void assert_same_graph(nb_graph *g1, nb_graph *g2)
{
    assert_int_equal(nb_graph_node_count(g1), nb_graph_node_count(g2));
    for (int i = 0; i < nb_graph_node_count(g1); i++) {
        assert_string_equal(nb_node_name(g1, i), nb_node_name(g2, i));
        assert_string_equal(nb_node_op(g1, i), nb_node_op(g2, i));
        assert_true(nb_shape_equal(nb_node_shape(g1, i), nb_node_shape(g2, i)));
        assert_int_equal(nb_node_input_count(g1, i), nb_node_input_count(g2, i));
        for (int k = 0; k < nb_node_input_count(g1, i); k++)
            assert_int_equal(nb_node_input(g1, i, k), nb_node_input(g2, i, k));
        assert_int_equal(nb_node_attr_count(g1, i), nb_node_attr_count(g2, i));
        for (int k = 0; k < nb_node_attr_count(g1, i); k++)
            assert_same_attr(nb_node_attr(g1, i, k), nb_node_attr(g2, i, k));
        nb_init a = nb_node_init(g1, i), b = nb_node_init(g2, i);
        assert_int_equal(a.kind, b.kind);
        assert_memory_equal(&a.a, &b.a, sizeof a.a);
        assert_memory_equal(&a.b, &b.b, sizeof a.b);
        assert_int_equal(a.fan_in, b.fan_in);
        assert_int_equal(a.fan_out, b.fan_out);
    }
}

static void assert_same_files(const char *a, const char *b)
{
    blob f1 = read_all(a), f2 = read_all(b);
    assert_int_equal(f1.size, f2.size);
    assert_memory_equal(f1.data, f2.data, f1.size);
    free(f1.data);
    free(f2.data);
}

/* A model built by hand saves and loads without a spec: the same graph,
 * the same predictions bit for bit, and the same bytes when saved again. */
static void test_graph_round_trip(void **state)
{
    (void)state;
    enum { R = 13, B = 5 };
    nb_model *m = make_graph_model(7, B), *back;
    nb_real off[GIN], sc[GIN], toff[GOUT] = {-1, 2}, tsc[GOUT] = {0.5, 3};
    for (int j = 0; j < GIN; j++) off[j] = (nb_real)(0.1 * j), sc[j] = (nb_real)(1 + 0.5 * j);
    nb_scaler s = {NB_SCALE_ZSCORE, GIN, off, sc}, ts = {NB_SCALE_MINMAX, GOUT, toff, tsc};
    assert_ok(nb_model_set_scaler(m, &s));
    assert_ok(nb_model_set_target_scaler(m, &ts));
    assert_ok(nb_model_set_meta(m, "note", "\"built by hand\""));
    const char *path = in_dir("graph.safetensors"), *again = in_dir("graph-again.safetensors");
    assert_ok(nb_model_save(m, path));
    assert_ok(nb_model_load(path, &back));
    assert_null(nb_model_spec(back));
    assert_int_equal(nb_model_input_count(back), 2);
    assert_int_equal(nb_model_inputs(back), GIN);
    assert_int_equal(nb_model_outputs(back), GOUT);
    assert_string_equal(nb_model_loss_name(back), "mse");
    assert_int_equal(nb_model_batch(back), NB_LOAD_BATCH);
    assert_string_equal(nb_model_meta(back, "note"), "\"built by hand\"");
    assert_non_null(nb_model_target_scaler(back));
    assert_memory_equal(nb_model_target_scaler(back)->scale, tsc, sizeof tsc);

    nb_real x[R * GIN], y1[R * GOUT], y2[R * GOUT];
    graph_inputs(x, R);
    assert_ok(nb_model_set_batch(back, B)); /* the same matrix products */
    assert_ok(nb_model_predict(m, x, R, y1));
    assert_ok(nb_model_predict(back, x, R, y2));
    assert_memory_equal(y1, y2, sizeof y1);
    nb_graph *g1 = nb_model_graph(m), *g2 = nb_model_graph(back);
    assert_same_graph(g1, g2);
    size_t n1, n2;
    nb_real *p1 = nb_graph_params(g1, &n1), *p2 = nb_graph_params(g2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(p1, p2, n1 * sizeof *p1);
    nb_real cv[4] = {0.5, -1, 2, 0.25};
    assert_memory_equal(nb_node_value(g2, nb_graph_find(g2, "c")), cv, sizeof cv);
    assert_int_equal(nb_model_input_at(back, 1), nb_graph_find(g2, "b"));
    assert_int_equal(nb_model_output(back), nb_graph_find(g2, "out.out"));

    /* One text for the graph, whatever the batch; 6N where it is six
     * times the batch. */
    char *t1, *t2, *t3;
    assert_ok(nb_model_graph_json(m, &t1));
    assert_ok(nb_model_graph_json(back, &t2));
    assert_ok(nb_model_set_batch(m, 1));
    assert_ok(nb_model_graph_json(m, &t3));
    assert_string_equal(t1, t2);
    assert_string_equal(t1, t3);
    assert_non_null(strstr(t1, "{\"name\":\"flat\",\"op\":\"reshape\",\"inputs\":[\"fa\"],"
                               "\"attrs\":{\"shape\":{\"int\":[-1]}},\"shape\":[\"6N\"]}"));
    assert_non_null(strstr(t1, "\"attrs\":{\"slope\":{\"real\":[0.2]}}"));
    assert_non_null(strstr(t1, "{\"name\":\"c\",\"op\":\"const\",\"shape\":[4]}"));
    assert_non_null(strstr(t1, "\"init\":{\"kind\":\"constant\",\"a\":1.5,\"b\":0,"));
    assert_non_null(strstr(t1, "\"inputs\":[\"a\",\"b\"],\"output\":\"out.out\""));
    nb_free(t1);
    nb_free(t2);
    nb_free(t3);

    assert_ok(nb_model_save(back, again));
    assert_same_files(path, again);

    /* Every allocation of loading it fails in turn: an error each time,
     * never a crash or a model (ASan finds what would leak). */
    nb_allocator hooks = {failing_malloc, failing_realloc, plain_free, NULL};
    for (int k = 0;; k++) {
        nb_model *mm = (nb_model *)&hooks;
        fail_after = k;
        nb_set_allocator(&hooks);
        nb_status st = nb_model_load(path, &mm);
        nb_set_allocator(NULL);
        if (st == NB_OK) {
            nb_model_free(mm);
            break;
        }
        assert_null(mm);
        assert_true(nb_last_error()[0] != '\0');
        assert_true(k < 20000);
    }
    nb_model_free(m);
    nb_model_free(back);
}

/* x [N, 2] through layers dense layers of 2 units (2 tensors each), sse. */
static nb_model *chain_model(int layers)
{
    nb_graph *g = nb_graph_create();
    nb_node h = nb_input(g, "x", nb_shape2(3, 2));
    for (int i = 0; i < layers; i++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "l%d", i);
        h = nb_dense(g, h, 2, prefix, nb_init_normal(0, 0.7));
    }
    nb_node t = nb_input(g, "target", nb_shape2(3, 2));
    nb_node l = nb_sse(g, h, t);
    nb_node x = 0;
    nb_model_roles roles = {1, &x, h, t, l};
    nb_model *m;
    assert_ok(nb_model_from_graph(g, &roles, &m));
    assert_ok(nb_model_init(m, 5));
    return m;
}

/* A file once held at most 2 x 64 layers + 4 = 132 tensors and silently
 * dropped the rest. Now any number up to NB_MAX_TENSORS saves and loads,
 * and one more is an error that writes nothing. */
static void test_many_tensors(void **state)
{
    (void)state;
    const char *path = in_dir("many.safetensors"), *again = in_dir("many-again.safetensors");
    int layers[] = {100, NB_MAX_TENSORS / 2};
    for (int c = 0; c < 2; c++) {
        nb_model *m = chain_model(layers[c]), *back;
        if (c == 0) { /* 200 parameters and 2 scaler arrays */
            nb_real off[2] = {1, -1}, sc[2] = {2, 0.5};
            nb_scaler s = {NB_SCALE_ZSCORE, 2, off, sc};
            assert_ok(nb_model_set_scaler(m, &s));
        }
        assert_ok(nb_model_save(m, path));
        assert_ok(nb_model_load(path, &back));
        assert_ok(nb_model_set_batch(back, 3));
        nb_real x[10] = {0.5, -1, 2, 0.25, 1, 1, -3, 0, 0.1, 0.2}, y1[10], y2[10];
        assert_ok(nb_model_predict(m, x, 5, y1));
        assert_ok(nb_model_predict(back, x, 5, y2));
        assert_memory_equal(y1, y2, sizeof y1);
        size_t n1, n2;
        nb_real *p1 = nb_graph_params(nb_model_graph(m), &n1),
                *p2 = nb_graph_params(nb_model_graph(back), &n2);
        assert_int_equal(n1, (size_t)layers[c] * 6);
        assert_int_equal(n1, n2);
        assert_memory_equal(p1, p2, n1 * sizeof *p1);
        assert_ok(nb_model_save(back, again));
        assert_same_files(path, again);
        nb_model_free(m);
        nb_model_free(back);
    }
    /* One tensor past the limit (2048 layers and a scaler). */
    nb_model *m = chain_model(NB_MAX_TENSORS / 2);
    nb_real off[2] = {0, 0}, sc[2] = {1, 1};
    nb_scaler s = {NB_SCALE_ZSCORE, 2, off, sc};
    assert_ok(nb_model_set_scaler(m, &s));
    const char *over = in_dir("over.safetensors");
    assert_int_equal(nb_model_save(m, over), NB_ERR_LIMIT);
    assert_non_null(strstr(nb_last_error(), "4098 tensors"));
    assert_non_null(strstr(nb_last_error(), "4096"));
    assert_int_equal(access(over, F_OK), -1);
    assert_int_equal(leftover_temp_files(), 0);
    nb_model_free(m);
}

/* What a file cannot say is refused when saving, not when loading. */
static void test_graph_save_refused(void **state)
{
    (void)state;
    const char *path = in_dir("refused.safetensors");
    /* [4, 2] to [-1, 4] and back: only an even batch builds. */
    nb_graph *g = nb_graph_create();
    nb_node x = nb_input(g, "x", nb_shape2(4, 2));
    nb_node y = nb_reshape(g, nb_reshape(g, x, nb_shape2(-1, 4)), nb_shape2(-1, 2));
    nb_node t = nb_input(g, "t", nb_shape2(4, 2));
    nb_node l = nb_mse(g, y, t);
    nb_model_roles roles = {1, &x, y, t, l};
    nb_model *m;
    /* nb_model_from_graph already tries another batch */
    assert_int_equal(nb_model_from_graph(g, &roles, &m), NB_ERR_SHAPE);
    assert_non_null(strstr(nb_last_error(), "does not build for a batch of 3 as well as 4"));
    (void)path;

    /* A parameter named as a scaler's tensor. */
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(4, 2));
    nb_node p = nb_param(g, "scaler.offset", nb_shape1(2), nb_init_zeros());
    y = nb_bias_add(g, x, p);
    t = nb_input(g, "t", nb_shape2(4, 2));
    l = nb_mse(g, y, t);
    nb_model_roles r2 = {1, &x, y, t, l};
    assert_ok(nb_model_from_graph(g, &r2, &m));
    assert_int_equal(nb_model_save(m, path), NB_ERR_ARGUMENT);
    assert_non_null(strstr(nb_last_error(), "node 1 \"scaler.offset\" (param)"));
    assert_int_equal(access(path, F_OK), -1);
    nb_model_free(m);

    /* Activations past NB_MAX_ACTIVATIONS at the batch a model loads
     * with: x [N, 2^20] and four copies (built here at batch 1). */
    g = nb_graph_create();
    x = nb_input(g, "x", nb_shape2(1, NB_MAX_FEATURES));
    y = x;
    for (int i = 0; i < 4; i++) y = nb_identity(g, y);
    t = nb_input(g, "t", nb_shape2(1, NB_MAX_FEATURES));
    l = nb_mse(g, y, t);
    nb_model_roles r3 = {1, &x, y, t, l};
    assert_ok(nb_model_from_graph(g, &r3, &m));
    assert_int_equal(nb_model_save(m, path), NB_ERR_LIMIT);
    assert_non_null(strstr(nb_last_error(), "the graph is past a model file's limits: node 4"));
    assert_int_equal(access(path, F_OK), -1);
    nb_model_free(m);
    assert_int_equal(leftover_temp_files(), 0);
}

/* A version-1 file (release 0.1.0) saved again is a version-2 file of the
 * same model: the same spec, weights and predictions. */
static void test_v1_saved_as_v2(void **state)
{
    (void)state;
    const char *v1 = NABLA_SOURCE_DIR "/tests/fixtures/model_v1/v1_spiral.st";
    const char *path = in_dir("from-v1.safetensors"), *again = in_dir("from-v1-again.safetensors");
    nb_model *m1, *m2;
    assert_ok(nb_model_load(v1, &m1));
    assert_ok(nb_model_save(m1, path));
    assert_ok(nb_model_load(path, &m2));
    assert_string_equal(nb_model_spec(m2), nb_model_spec(m1));
    assert_same_graph(nb_model_graph(m1), nb_model_graph(m2));
    enum { R = 40 };
    nb_real x[R * 2], y1[R * 3], y2[R * 3];
    for (int i = 0; i < R * 2; i++) x[i] = (nb_real)(-2.0 + 0.1 * i);
    assert_int_equal(nb_model_outputs(m1), 3);
    assert_ok(nb_model_predict(m1, x, R, y1));
    assert_ok(nb_model_predict(m2, x, R, y2));
    assert_memory_equal(y1, y2, sizeof y1);
    blob f = read_all(path);
    assert_non_null(strstr((const char *)f.data + 8, "\"format_version\":\"2\""));
    free(f.data);
    assert_ok(nb_model_save(m2, again));
    assert_same_files(path, again);
    nb_model_free(m1);
    nb_model_free(m2);
}

/* ------------------------------------------------------- corrupt files */

static blob base;         /* a valid file */
static uint64_t base_len; /* its header length */
static char *base_header; /* its header, NUL-terminated */
static int corrupt_cases; /* files refused */

/* Loading path must fail with a message naming the file (and holding want). */
static void expect_refused(const char *path, const char *what, const char *want)
{
    nb_model *m = (nb_model *)&base; /* must come back NULL */
    nb_clear_error();
    nb_status st = nb_model_load(path, &m);
    const char *msg = nb_last_error();
    if (st == NB_OK) fail_msg("corrupt file accepted: %s", what);
    if (m != NULL) fail_msg("%s: a model came back with an error", what);
    if (!msg[0]) fail_msg("%s: no message", what);
    if (!strstr(msg, path)) fail_msg("%s: message does not name the file: %s", what, msg);
    if (want && !strstr(msg, want)) fail_msg("%s: message lacks \"%s\": %s", what, want, msg);
    if (getenv("NABLA_TEST_VERBOSE")) print_message("%s: %s\n", what, msg);
    corrupt_cases++;
}

/* A file from header text (padded to 8 bytes) and a data area. */
static void write_variant(const char *path, const char *header, const unsigned char *data,
                          size_t size)
{
    size_t n = strlen(header), padded = (n + 7) / 8 * 8;
    unsigned char *file = malloc(8 + padded + size + 1);
    put_u64(file, padded);
    memcpy(file + 8, header, n);
    memset(file + 8 + n, ' ', padded - n);
    if (size) memcpy(file + 8 + padded, data, size);
    write_all(path, file, 8 + padded + size);
    free(file);
}

static const unsigned char *base_data(void)
{
    return base.data + 8 + base_len;
}
static size_t base_data_size(void)
{
    return base.size - 8 - base_len;
}

static int dtype_size(const cJSON *e)
{
    const cJSON *d = cJSON_GetObjectItem(e, "dtype");
    return cJSON_IsString(d) && strcmp(d->valuestring, "F64") == 0 ? 8 : 4;
}

static size_t entry_count(const cJSON *e)
{
    size_t n = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(e, "shape")) n *= (size_t)d->valuedouble;
    return n;
}

/* Lay the data out again for root's entries, in order, taking each
 * tensor's values from the base file (converted to its dtype now) or zeros
 * when the base has no tensor of that name and count. */
static void write_compacted(cJSON *root, const char *path)
{
    cJSON *orig = cJSON_Parse(base_header), *e;
    unsigned char *data = calloc(1, 1 << 16);
    size_t pos = 0;
    cJSON_ArrayForEach(e, root)
    {
        if (strcmp(e->string, "__metadata__") == 0 || !cJSON_IsObject(e)) continue;
        int size = dtype_size(e);
        size_t count = entry_count(e);
        cJSON *src = cJSON_GetObjectItem(orig, e->string);
        int from = src ? dtype_size(src) : 0;
        size_t begin = src ? (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(src, "data_offsets"), 0)
                                 ->valuedouble
                           : 0;
        for (size_t i = 0; i < count; i++) {
            double v = src && entry_count(src) == count
                           ? get_real(base_data() + begin + i * from, from)
                           : 0.0;
            put_real(data + pos + i * size, v, size);
        }
        cJSON *off = cJSON_CreateArray();
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)pos));
        pos += count * size;
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)pos));
        cJSON_ReplaceItemInObject(e, "data_offsets", off);
    }
    char *text = cJSON_PrintUnformatted(root);
    write_variant(path, text, data, pos);
    cJSON_free(text);
    free(data);
    cJSON_Delete(orig);
}

static void write_json(cJSON *root, const char *path, const unsigned char *data, size_t size)
{
    char *text = cJSON_PrintUnformatted(root);
    write_variant(path, text, data, size);
    cJSON_free(text);
}

static cJSON *base_json(void)
{
    return cJSON_Parse(base_header);
}

static cJSON *shape_of(const double *dims, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(dims[i]));
    return a;
}

static void set_field(cJSON *root, const char *tensor, const char *field, cJSON *value)
{
    cJSON *e = cJSON_GetObjectItem(root, tensor);
    if (!e) fail_msg("no tensor %s in the base file", tensor);
    if (cJSON_GetObjectItem(e, field))
        cJSON_ReplaceItemInObject(e, field, value);
    else
        cJSON_AddItemToObject(e, field, value);
}

static cJSON *pair(double a, double b)
{
    double v[2] = {a, b};
    return shape_of(v, 2);
}

static void set_meta_field(cJSON *root, const char *key, const char *value)
{
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    cJSON_DeleteItemFromObject(meta, key);
    if (value) cJSON_AddStringToObject(meta, key, value);
}

/* One corrupt header, data re-laid out (so only the named defect remains). */
#define COMPACT_CASE(what, want, ...)                                                              \
    do {                                                                                           \
        cJSON *root = base_json();                                                                 \
        __VA_ARGS__;                                                                               \
        write_compacted(root, path);                                                               \
        cJSON_Delete(root);                                                                        \
        expect_refused(path, what, want);                                                          \
    } while (0)

/* One corrupt header over the base data as it is. */
#define RAW_CASE(what, want, ...)                                                                  \
    do {                                                                                           \
        cJSON *root = base_json();                                                                 \
        __VA_ARGS__;                                                                               \
        write_json(root, path, base_data(), base_data_size());                                     \
        cJSON_Delete(root);                                                                        \
        expect_refused(path, what, want);                                                          \
    } while (0)

/* The metadata saying which model a file holds, in a base file of format
 * version 1 (the spec builds the model) or 2 (the graph does; a spec, when
 * there is one, must build the same graph). */
static void model_metadata_cases(const char *path, int version)
{
    int v1 = version == 1;
    if (v1) {
        RAW_CASE("spec missing", "spec", set_meta_field(root, "spec", NULL));
    } else {
        /* Without its spec, the model is its graph. */
        cJSON *root = base_json();
        set_meta_field(root, "spec", NULL);
        write_json(root, path, base_data(), base_data_size());
        cJSON_Delete(root);
        nb_model *m;
        assert_ok(nb_model_load(path, &m));
        assert_null(nb_model_spec(m));
        assert_int_equal(nb_model_outputs(m), OUT);
        nb_model_free(m);
    }
    RAW_CASE("bad spec", "item 2", set_meta_field(root, "spec", "dense:2,rel,dense:3"));
    RAW_CASE("spec ends in activation", "end with a dense",
             set_meta_field(root, "spec", "dense:2,relu"));
    RAW_CASE("spec of other sizes", "dense0.weight",
             set_meta_field(root, "spec", "dense:4,relu,dense:3"));
    RAW_CASE("spec with a layer more", "dense2",
             set_meta_field(root, "spec", "dense:2,relu,dense:3,dense:3"));
    /* Refused before its 2^32 weights would be allocated. */
    RAW_CASE("spec of huge layers",
             "tensor \"dense1.weight\" has shape [2, 3] in the file, but the spec needs [2, 65536]",
             set_meta_field(root, "spec", "dense:2,relu,dense:65536,dense:65536,dense:3"));
    if (!v1) {
        RAW_CASE("spec with another activation",
                 "metadata \"spec\" (\"dense:2,leaky_relu,dense:3\") does not build the file's "
                 "graph: node 4 is \"leaky_relu4\" leaky_relu [32, 2] by the spec, \"relu4\" "
                 "relu [32, 2] in the graph",
                 set_meta_field(root, "spec", "dense:2,leaky_relu,dense:3"));
        RAW_CASE("spec with other initialisers",
                 "node 1 \"dense0.weight\" (param) has another initialiser in the graph",
                 set_meta_field(root, "spec", "dense:2,tanh,dense:3"));
    }
    RAW_CASE("unknown loss", "hinge", set_meta_field(root, "loss", "hinge"));
    RAW_CASE("bce with 3 outputs", "bce", set_meta_field(root, "loss", "bce"));
    RAW_CASE("loss missing", "loss", set_meta_field(root, "loss", NULL));
    RAW_CASE("inputs text", "inputs", set_meta_field(root, "inputs", "three"));
    RAW_CASE("inputs zero", "inputs", set_meta_field(root, "inputs", "0"));
    RAW_CASE("inputs negative", "inputs", set_meta_field(root, "inputs", "-3"));
    RAW_CASE("inputs huge", "inputs", set_meta_field(root, "inputs", "99999999999999999999"));
    RAW_CASE("inputs trailing", "inputs", set_meta_field(root, "inputs", "3x"));
    RAW_CASE("inputs other",
             v1 ? "dense0.weight" : "metadata \"inputs\" is 4, but the graph's inputs take 3",
             set_meta_field(root, "inputs", "4"));
    RAW_CASE("outputs other", "outputs", set_meta_field(root, "outputs", "4"));
    RAW_CASE("outputs missing", "outputs", set_meta_field(root, "outputs", NULL));
    if (v1) {
        /* A graph key in a version-1 file is no part of it. */
        cJSON *root = base_json();
        set_meta_field(root, "graph", "not a graph");
        write_json(root, path, base_data(), base_data_size());
        cJSON_Delete(root);
        nb_model *m;
        assert_ok(nb_model_load(path, &m));
        nb_model_free(m);
    } else {
        RAW_CASE("graph missing", "metadata \"graph\" is missing",
                 set_meta_field(root, "graph", NULL));
    }
}

static void test_corrupt_files(void **state)
{
    (void)state;
    nb_model *m = make_model(9);
    const char *good = in_dir("base.safetensors"), *path = in_dir("corrupt.safetensors");
    assert_ok(nb_model_save(m, good));
    nb_model_free(m);
    base = read_all(good);
    base_len = get_u64(base.data);
    base_header = calloc(1, base_len + 1);
    memcpy(base_header, base.data + 8, base_len);
    const int real = (int)sizeof(nb_real);

    /* The helpers reproduce a loadable file when nothing is changed. */
    {
        cJSON *root = base_json();
        write_compacted(root, path);
        cJSON_Delete(root);
        assert_ok(nb_model_load(path, &m));
        nb_model_free(m);
    }

    /* Truncated at every byte offset. */
    for (size_t cut = 0; cut < base.size; cut++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", cut);
        write_all(path, base.data, cut);
        expect_refused(path, what, NULL);
    }

    /* The header length field. */
    unsigned char *copy = malloc(base.size);
    uint64_t lengths[] = {
        0,         UINT64_MAX,   (uint64_t)1 << 63, NB_MAX_HEADER + 8ull, base.size - 8 + 1,
        base.size, base_len / 2, base_len - 8,      base_len + 8};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        memcpy(copy, base.data, base.size);
        put_u64(copy, lengths[i]);
        write_all(path, copy, base.size);
        expect_refused(path, "header length changed", NULL);
    }
    memcpy(copy, base.data, base.size);
    put_u64(copy, 0);
    write_all(path, copy, base.size);
    expect_refused(path, "header length zero", "is 0");
    put_u64(copy, UINT64_MAX);
    write_all(path, copy, base.size);
    expect_refused(path, "header length huge", "more than");

    /* Bytes of the header changed: a brace, a quote, a NUL. */
    size_t positions[] = {0, 1, base_len / 3, base_len / 2};
    unsigned char bad_bytes[] = {'[', '"', 0, 0xff};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++)
        for (size_t k = 0; k < sizeof bad_bytes; k++) {
            memcpy(copy, base.data, base.size);
            copy[8 + positions[i]] = bad_bytes[k];
            write_all(path, copy, base.size);
            nb_model *mm = NULL;
            nb_status st = nb_model_load(path, &mm);
            /* Some changes land in a class name and stay valid JSON; only
             * a refused file counts. */
            if (st == NB_OK) {
                nb_model_free(mm);
                continue;
            }
            expect_refused(path, "a header byte changed", NULL);
        }
    free(copy);

    /* Not JSON, or not the JSON expected. */
    const char *texts[] = {"{\"a\":", "[]",   "garbage",   "{}{}", "\"text\"", "{\"__metadata__\":",
                           "{} x",    "null", "{\"x\": 1}"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        write_variant(path, texts[i], base_data(), base_data_size());
        expect_refused(path, texts[i], NULL);
    }
    write_variant(path, "{\"a\": [1, 2,, 3]}", NULL, 0);
    expect_refused(path, "JSON error", "near file byte 20");

    /* dtype */
    COMPACT_CASE("dtype F16", "F16",
                 set_field(root, "dense0.weight", "dtype", cJSON_CreateString("F16")));
    COMPACT_CASE("dtype I32", "I32",
                 set_field(root, "dense1.bias", "dtype", cJSON_CreateString("I32")));
    COMPACT_CASE("dtype number", "dtype",
                 set_field(root, "dense0.bias", "dtype", cJSON_CreateNumber(4)));
    COMPACT_CASE("dtype missing", "dtype",
                 cJSON_DeleteItemFromObject(cJSON_GetObjectItem(root, "dense0.bias"), "dtype"));
    COMPACT_CASE("entry not an object", "dense0.bias",
                 cJSON_ReplaceItemInObject(root, "dense0.bias", cJSON_CreateNumber(1)));

    /* shapes */
    double neg[] = {-3, 2}, zero[] = {0, 2}, big[] = {2147483648.0, 1}, frac[] = {3, 1.5},
           five[] = {1, 1, 1, 3, 2}, over[] = {2147483647, 2147483647, 2147483647, 2147483647},
           huge[] = {1e300, 1};
    RAW_CASE("negative shape", "dense0.weight",
             set_field(root, "dense0.weight", "shape", shape_of(neg, 2)));
    RAW_CASE("zero shape", "dense0.weight",
             set_field(root, "dense0.weight", "shape", shape_of(zero, 2)));
    RAW_CASE("shape past int", "dense0.weight",
             set_field(root, "dense0.weight", "shape", shape_of(big, 2)));
    RAW_CASE("fractional shape", "dense0.weight",
             set_field(root, "dense0.weight", "shape", shape_of(frac, 2)));
    RAW_CASE("five dimensions", "at most 4",
             set_field(root, "dense0.weight", "shape", shape_of(five, 5)));
    RAW_CASE("overflowing shape", "overflows",
             set_field(root, "dense0.weight", "shape", shape_of(over, 4)));
    RAW_CASE("1e300 shape", "dense0.weight",
             set_field(root, "dense0.weight", "shape", shape_of(huge, 2)));
    RAW_CASE("shape not array", "shape",
             set_field(root, "dense0.weight", "shape", cJSON_CreateString("[3,2]")));
    RAW_CASE("shape of strings", "shape",
             set_field(root, "dense0.weight", "shape",
                       cJSON_CreateStringArray((const char *[]){"3", "2"}, 2)));
    RAW_CASE("shape missing", "shape",
             cJSON_DeleteItemFromObject(cJSON_GetObjectItem(root, "dense0.weight"), "shape"));

    /* offsets (dense0.weight is first: [0, 6 * real]) */
    double wend = 6.0 * real;
    RAW_CASE("offsets past the data", "end past the data area",
             set_field(root, "dense1.bias", "data_offsets", pair(1e6, 1e6 + 3 * real)));
    RAW_CASE("offsets past 2^53", "data_offsets",
             set_field(root, "dense1.bias", "data_offsets", pair(0, 1e18)));
    RAW_CASE("offsets reversed", "reversed",
             set_field(root, "dense0.weight", "data_offsets", pair(wend, 0)));
    RAW_CASE("offsets too short", "needs",
             set_field(root, "dense0.weight", "data_offsets", pair(0, wend - real)));
    RAW_CASE("offsets too long", "needs",
             set_field(root, "dense0.weight", "data_offsets", pair(0, wend + real)));
    RAW_CASE("offsets negative", "data_offsets",
             set_field(root, "dense0.weight", "data_offsets", pair(-real, wend - real)));
    RAW_CASE("offsets fractional", "data_offsets",
             set_field(root, "dense0.weight", "data_offsets", pair(0.5, wend + 0.5)));
    RAW_CASE("overlapping", "overlap",
             set_field(root, "dense0.bias", "data_offsets", pair(0, 2.0 * real)));
    {
        /* A tensor named twice, with the same range: a duplicate name, not
         * an overlap (JSON readers disagree on which entry counts). */
        const char *at = strstr(base_header, "\"dense0.bias\":{");
        assert_non_null(at);
        const char *end = strchr(at, '}');
        size_t entry = (size_t)(end - at) + 1, head = (size_t)(at - base_header);
        char *text = malloc(strlen(base_header) + entry + 2);
        sprintf(text, "%.*s%.*s,%s", (int)head, base_header, (int)entry, at, at);
        write_variant(path, text, base_data(), base_data_size());
        free(text);
        expect_refused(path, "a tensor named twice",
                       "tensor \"dense0.bias\" is listed twice (a duplicate name)");
    }
    RAW_CASE("offsets missing", "data_offsets",
             cJSON_DeleteItemFromObject(cJSON_GetObjectItem(root, "dense0.bias"), "data_offsets"));
    RAW_CASE("three offsets", "data_offsets", {
        cJSON *o = pair(0, wend);
        cJSON_AddItemToArray(o, cJSON_CreateNumber(1));
        set_field(root, "dense0.weight", "data_offsets", o);
    });
    /* A gap (the data area is one value longer, the last tensor moved) and
     * bytes after the last tensor. */
    {
        unsigned char *more = calloc(1, base_data_size() + 2 * real);
        memcpy(more, base_data(), base_data_size());
        write_variant(path, base_header, more, base_data_size() + real);
        expect_refused(path, "trailing data", "belong to no tensor");
        cJSON *root = base_json();
        cJSON *last = NULL, *e;
        cJSON_ArrayForEach(e, root) last = e;
        cJSON *off = cJSON_GetObjectItem(last, "data_offsets");
        double b = cJSON_GetArrayItem(off, 0)->valuedouble,
               en = cJSON_GetArrayItem(off, 1)->valuedouble;
        set_field(root, last->string, "data_offsets", pair(b + real, en + real));
        write_json(root, path, more, base_data_size() + real);
        cJSON_Delete(root);
        expect_refused(path, "a gap", "belong to no tensor");
        free(more);
    }

    /* Tensors against the spec. */
    COMPACT_CASE("missing tensor", "dense1.bias", cJSON_DeleteItemFromObject(root, "dense1.bias"));
    COMPACT_CASE("missing scaler", "scaler.scale",
                 cJSON_DeleteItemFromObject(root, "scaler.scale"));
    COMPACT_CASE("extra tensor", "dense2.weight", {
        double d[] = {3, 3};
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dtype", NB_REAL_NAME[1] == '3' ? "F32" : "F64");
        cJSON_AddItemToObject(e, "shape", shape_of(d, 2));
        cJSON_AddItemToObject(e, "data_offsets", pair(0, 0));
        cJSON_AddItemToObject(root, "dense2.weight", e);
    });
    COMPACT_CASE("transposed weight", "[2, 3]", {
        double d[] = {HID, IN};
        set_field(root, "dense0.weight", "shape", shape_of(d, 2));
    });
    COMPACT_CASE("wrong bias shape", "dense1.bias", {
        double d[] = {OUT, 1};
        set_field(root, "dense1.bias", "shape", shape_of(d, 2));
    });
    COMPACT_CASE("scaler without scale kind", "scaler.", set_meta_field(root, "scale", "none"));
    RAW_CASE("duplicate tensor", "twice", {
        /* cJSON keeps both entries of a repeated key. */
        cJSON *e = cJSON_Duplicate(cJSON_GetObjectItem(root, "dense0.bias"), 1);
        cJSON_DeleteItemFromObject(root, "dense0.bias");
        cJSON_AddItemToObject(root, "dense1.bias", e);
    });
    {
        /* Two "__metadata__" objects. */
        cJSON *root = base_json();
        cJSON_AddItemToObject(root, "__metadata__", cJSON_CreateObject());
        write_json(root, path, base_data(), base_data_size());
        cJSON_Delete(root);
        expect_refused(path, "two metadata", "twice");
    }
    {
        /* NB_MAX_TENSORS + 1 tensors of one value. */
        cJSON *root = cJSON_CreateObject();
        double one = 1;
        for (int i = 0; i <= NB_MAX_TENSORS; i++) {
            char name[32];
            snprintf(name, sizeof name, "t%d", i);
            cJSON *e = cJSON_AddObjectToObject(root, name);
            cJSON_AddStringToObject(e, "dtype", "F32");
            cJSON_AddItemToObject(e, "shape", shape_of(&one, 1));
            cJSON_AddItemToObject(e, "data_offsets", pair(4.0 * i, 4.0 * i + 4));
        }
        unsigned char *zeros = calloc(NB_MAX_TENSORS + 1, 4);
        write_json(root, path, zeros, (NB_MAX_TENSORS + 1) * 4);
        cJSON_Delete(root);
        free(zeros);
        expect_refused(path, "too many tensors", "more than 4096");
    }

    /* Metadata. */
    RAW_CASE("no metadata", "__metadata__", cJSON_DeleteItemFromObject(root, "__metadata__"));
    RAW_CASE("metadata not an object", "__metadata__",
             cJSON_ReplaceItemInObject(root, "__metadata__", cJSON_CreateString("x")));
    RAW_CASE("metadata value not a string", "inputs", {
        cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
        cJSON_ReplaceItemInObject(meta, "inputs", cJSON_CreateNumber(3));
    });
    RAW_CASE("format missing", "format", set_meta_field(root, "format", NULL));
    RAW_CASE("format other", "format", set_meta_field(root, "format", "pytorch"));
    RAW_CASE("version 3", "format_version 3 is newer than this build reads (2)",
             set_meta_field(root, "format_version", "3"));
    RAW_CASE("version 0", "format_version", set_meta_field(root, "format_version", "0"));
    RAW_CASE("version text", "format_version", set_meta_field(root, "format_version", "one"));
    RAW_CASE("version missing", "format_version", set_meta_field(root, "format_version", NULL));
    model_metadata_cases(path, 2);
    {
        /* The same metadata in a version-1 file: the base without its graph. */
        blob v2 = base;
        uint64_t v2_len = base_len;
        char *v2_header = base_header;
        cJSON *root = base_json();
        set_meta_field(root, "graph", NULL);
        set_meta_field(root, "format_version", "1");
        const char *v1 = in_dir("base-v1.safetensors");
        write_json(root, v1, base_data(), base_data_size());
        cJSON_Delete(root);
        assert_ok(nb_model_load(v1, &m));
        nb_model_free(m);
        base = read_all(v1);
        base_len = get_u64(base.data);
        base_header = calloc(1, base_len + 1);
        memcpy(base_header, base.data + 8, base_len);
        model_metadata_cases(path, 1);
        free(base.data);
        free(base_header);
        base = v2;
        base_len = v2_len;
        base_header = v2_header;
    }
    RAW_CASE("unknown scale", "scale", set_meta_field(root, "scale", "log"));
    RAW_CASE("class names not JSON", "class_names", set_meta_field(root, "class_names", "[\"a\","));
    RAW_CASE("class names not array", "class_names", set_meta_field(root, "class_names", "{}"));
    RAW_CASE("two class names", "class_names",
             set_meta_field(root, "class_names", "[\"a\",\"b\"]"));
    RAW_CASE("class name number", "class_names",
             set_meta_field(root, "class_names", "[\"a\",2,\"c\"]"));
    RAW_CASE("class name too long", "class_names",
             set_meta_field(root, "class_names",
                            "[\"a\",\"b\",\"0123456789012345678901234567890123456789012345678901234"
                            "567890123456789\"]"));
    /* Class names are printed as rows of output: a control character
     * could forge one; an empty or repeated name is ambiguous. */
    RAW_CASE("class name with a newline", "class name 1",
             set_meta_field(root, "class_names", "[\"a\",\"b\\n0.99\",\"c\"]"));
    RAW_CASE("class name with an escape", "control character",
             set_meta_field(root, "class_names", "[\"a\",\"b\",\"\\u001b[2K\"]"));
    RAW_CASE("class name with DEL", "class name 0",
             set_meta_field(root, "class_names", "[\"a\\u007f\",\"b\",\"c\"]"));
    RAW_CASE("class name with C1 NEL", "class name 2",
             set_meta_field(root, "class_names", "[\"a\",\"b\",\"c\\u0085\"]"));
    RAW_CASE("class name empty", "class name 1",
             set_meta_field(root, "class_names", "[\"a\",\"\",\"c\"]"));
    RAW_CASE("class names repeated", "class name 2 (\"a\") is the same as class name 0",
             set_meta_field(root, "class_names", "[\"a\",\"b\",\"a\"]"));
    /* Names that would look alike or reorder the line: a bidi override,
     * zero-width spaces ("a\u200bb" beside "a\u200b\u200bb"), a trailing
     * space ("setosa" beside "setosa "), a byte-order mark. */
    RAW_CASE("class name with a bidi override", "class name 1 (\"b\\u202ex\") has the invisible",
             set_meta_field(root, "class_names", "[\"a\",\"b\\u202ex\",\"c\"]"));
    RAW_CASE("class names with zero-width spaces",
             "class name 0 (\"a\\u200bb\") has the invisible "
             "or format character U+200B at byte 1",
             set_meta_field(root, "class_names", "[\"a\\u200bb\",\"a\\u200b\\u200bb\",\"c\"]"));
    RAW_CASE("class name with a trailing space", "class name 2 (\"setosa \") ends with a space",
             set_meta_field(root, "class_names", "[\"a\",\"setosa\",\"setosa \"]"));
    RAW_CASE("class name with a byte-order mark", "U+FEFF at byte 0",
             set_meta_field(root, "class_names", "[\"\\ufeffa\",\"b\",\"c\"]"));
    /* A key given twice has two meanings (cJSON keeps both). */
    RAW_CASE("metadata key twice", "\"spec\" appears twice", {
        cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
        cJSON_AddStringToObject(meta, "spec", "dense:2,relu,dense:3");
    });
    RAW_CASE("user metadata key twice", "\"note\" appears twice", {
        cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
        cJSON_AddStringToObject(meta, "note", "1");
        cJSON_AddStringToObject(meta, "note", "2");
    });
    RAW_CASE("tensor field twice", "\"dtype\" appears twice in \"dense0.bias\"", {
        cJSON *e = cJSON_GetObjectItem(root, "dense0.bias");
        cJSON_AddStringToObject(e, "dtype", "F16");
    });
    RAW_CASE("key twice inside user metadata", "\"epochs\" appears twice",
             set_meta_field(root, "training", "{\"epochs\":1,\"lr\":{\"a\":1},\"epochs\":2}"));
    RAW_CASE("key twice nested in user metadata", "\"a\" appears twice in \"lr\"",
             set_meta_field(root, "training", "{\"epochs\":1,\"lr\":[{\"a\":1,\"a\":2}]}"));
    RAW_CASE("user metadata not JSON", "training", set_meta_field(root, "training", "{epochs"));
    RAW_CASE("user metadata key too long", "metadata",
             set_meta_field(
                 root, "a-key-that-is-longer-than-sixty-three-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "1"));

    /* Values that are not finite. */
    double bad_values[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        unsigned char *data = malloc(base_data_size());
        memcpy(data, base_data(), base_data_size());
        cJSON *root = base_json();
        cJSON *off =
            cJSON_GetObjectItem(cJSON_GetObjectItem(root, "dense1.weight"), "data_offsets");
        size_t at = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble + 2 * real;
        put_real(data + at, bad_values[i], real);
        write_json(root, path, data, base_data_size());
        cJSON_Delete(root);
        free(data);
        expect_refused(path, "a weight not finite", "dense1.weight");
    }
#ifndef NABLA_DOUBLE
    /* An F64 value too large for float becomes infinite: refused too. */
    {
        /* An F64 value too large for float becomes infinite. */
        cJSON *root = base_json(), *e;
        cJSON_ArrayForEach(e, root) if (strcmp(e->string, "__metadata__") != 0)
            set_field(root, e->string, "dtype", cJSON_CreateString("F64"));
        write_compacted(root, path);
        blob f = read_all(path);
        cJSON *hdr = cJSON_ParseWithLength((const char *)f.data + 8, get_u64(f.data));
        cJSON *off = cJSON_GetObjectItem(cJSON_GetObjectItem(hdr, "dense1.bias"), "data_offsets");
        put_real(f.data + 8 + get_u64(f.data) + (size_t)cJSON_GetArrayItem(off, 0)->valuedouble,
                 1e300, 8);
        write_all(path, f.data, f.size);
        cJSON_Delete(hdr);
        cJSON_Delete(root);
        free(f.data);
        expect_refused(path, "F64 value beyond float", "dense1.bias");
    }
#endif

    /* Not a model file at all. */
    expect_refused(in_dir("does-not-exist.safetensors"), "missing file", "cannot open");
    expect_refused(dir, "a directory", NULL);

    print_message("corrupt model files refused: %d\n", corrupt_cases);
    assert_true(corrupt_cases > (int)base.size + 80);
    free(base_header);
    free(base.data);
}

/* Loading a model with 100,000 metadata keys is linear (a list searched
 * for each key made it quadratic: 24 s); every key and value comes back. */
static void test_many_metadata_keys(void **state)
{
    (void)state;
    enum { KEYS = 100000 };
    nb_model *m = make_model(3);
    char key[32], value[32];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "%d", i);
        assert_ok(nb_model_set_meta(m, key, value));
    }
    for (int i = 0; i < KEYS; i += 2) { /* remove half, then set some again */
        snprintf(key, sizeof key, "k%d", i);
        assert_ok(nb_model_set_meta(m, key, NULL));
    }
    assert_ok(nb_model_set_meta(m, "k0", "\"again\""));
    const char *path = in_dir("many-keys.safetensors");
    assert_ok(nb_model_save(m, path));
    nb_model_free(m);
    assert_ok(nb_model_load(path, &m));
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "%d", i);
        const char *got = nb_model_meta(m, key);
        if (i == 0)
            assert_string_equal(got, "\"again\"");
        else if (i % 2 == 0)
            assert_null(got);
        else if (!got || strcmp(got, value) != 0)
            fail_msg("key %s: got %s, expected %s", key, got ? got : "(none)", value);
    }
    nb_model_free(m);
    remove(path);
}

/* The other precision's dtype loads and converts. */
static void test_other_dtype(void **state)
{
    (void)state;
    nb_model *m = make_model(21), *back;
    const char *good = in_dir("dtype-base.safetensors"), *path = in_dir("dtype.safetensors");
    assert_ok(nb_model_save(m, good));
    base = read_all(good);
    base_len = get_u64(base.data);
    base_header = calloc(1, base_len + 1);
    memcpy(base_header, base.data + 8, base_len);
    cJSON *root = base_json(), *e;
    const char *other = sizeof(nb_real) == 4 ? "F64" : "F32";
    cJSON_ArrayForEach(e, root) if (strcmp(e->string, "__metadata__") != 0)
        set_field(root, e->string, "dtype", cJSON_CreateString(other));
    write_compacted(root, path);
    cJSON_Delete(root);
    assert_ok(nb_model_load(path, &back));
    size_t n;
    nb_real *a = nb_graph_params(nb_model_graph(m), &n),
            *b = nb_graph_params(nb_model_graph(back), &n);
    /* float -> double -> float is exact; double -> float rounds. */
    for (size_t i = 0; i < n; i++) assert_near(b[i], a[i], sizeof(nb_real) == 4 ? 0 : 1e-7);
    blob f = read_all(path);
    assert_non_null(strstr((const char *)f.data + 8, other));
    free(f.data);
    free(base_header);
    free(base.data);
    nb_model_free(m);
    nb_model_free(back);
}

/* ------------------------------------------- ambiguous and forged fields */

/* base, base_len and base_header from a fresh save of make_model(seed). */
static void load_base(const char *name, uint64_t seed)
{
    nb_model *m = make_model(seed);
    const char *good = in_dir(name);
    assert_ok(nb_model_save(m, good));
    nb_model_free(m);
    base = read_all(good);
    base_len = get_u64(base.data);
    base_header = calloc(1, base_len + 1);
    memcpy(base_header, base.data + 8, base_len);
}

static void free_base(void)
{
    free(base_header);
    free(base.data);
    base_header = NULL;
    base.data = NULL;
}

/* The base header with the first "from" replaced by "to" as raw text (for
 * escapes cJSON never writes), over the base data. */
static void write_text_variant(const char *path, const char *from, const char *to)
{
    const char *at = strstr(base_header, from);
    if (!at) fail_msg("no \"%s\" in the base header", from);
    size_t head = (size_t)(at - base_header);
    char *text = malloc(strlen(base_header) + strlen(to) + 1);
    sprintf(text, "%.*s%s%s", (int)head, base_header, to, at + strlen(from));
    write_variant(path, text, base_data(), base_data_size());
    free(text);
}

/* Refused, and the message holds no raw control character. */
static void expect_clean_refusal(const char *path, const char *what, const char *want)
{
    expect_refused(path, what, want);
    for (const unsigned char *p = (const unsigned char *)nb_last_error(); *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            fail_msg("%s: raw byte 0x%02x in: %s", what, *p, nb_last_error());
}

static void test_escape(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(nb_escape(b, sizeof b, "a\x1b[2Jb"), "a\\x1b[2Jb");
    assert_string_equal(nb_escape(b, sizeof b, "x\n\t\r\x7f"), "x\\n\\t\\r\\x7f");
    /* C1 (U+0085, U+009B), a bidi override (U+202E), a line separator. */
    assert_string_equal(nb_escape(b, sizeof b, "\xc2\x85\xc2\x9b\xe2\x80\xae\xe2\x80\xa8"),
                        "\\u0085\\u009b\\u202e\\u2028");
    /* invisible and format characters: zero-width space and joiner, BOM,
     * word joiner, isolates, a variation selector, a tag (past U+FFFF) */
    assert_string_equal(nb_escape(b, sizeof b,
                                  "a\xe2\x80\x8b\xe2\x80\x8d\xef\xbb\xbf\xe2\x81\xa0\xe2\x81\xa6"
                                  "\xef\xb8\x8f\xf3\xa0\x80\x81z"),
                        "a\\u200b\\u200d\\ufeff\\u2060\\u2066\\ufe0f\\U000e0001z");
    /* Not UTF-8: a lone continuation, an overlong '/', a surrogate, a cut sequence. */
    assert_string_equal(nb_escape(b, sizeof b, "\x80\xc0\xaf\xed\xa0\x80\xe2\x82"),
                        "\\x80\\xc0\\xaf\\xed\\xa0\\x80\\xe2\\x82");
    assert_string_equal(nb_escape(b, sizeof b, "caf\xc3\xa9 \xed\x95\x9c \"q\" \\"),
                        "caf\xc3\xa9 \xed\x95\x9c \"q\" \\");
    /* Too long: cut at a whole character, "..." added, always terminated. */
    assert_string_equal(nb_escape(b, 10, "abcdefghijkl"), "abcdef...");
    assert_string_equal(nb_escape(b, 10, "abcdefghi"), "abcdefghi");
    assert_string_equal(nb_escape(b, 10, "abcde\x1b\x1b"), "abcde...");
    assert_string_equal(nb_escape(b, 10, "abcd\xc3\xa9\xc3\xa9xy"), "abcd\xc3\xa9...");
    assert_string_equal(nb_escape_len(b, sizeof b, "ab\x01zz", 3), "ab\\x01");
    assert_string_equal(nb_escape(b, sizeof b, NULL), "");
    assert_string_equal(nb_escape(b, 1, "abc"), "");
    /* JSON text: the same characters as \uXXXX escapes, surrogate pairs
     * past U+FFFF; everything else (and a byte that is not UTF-8) as it is. */
    char *j = nb_json_escape_invisible("[\"a\xe2\x80\xae\xc2\x9b\x7f\",\"caf\xc3\xa9\","
                                       "\"\xf3\xa0\x81\x81\xe2\x80\x8b\",\"\xff\"]");
    assert_non_null(j);
    assert_string_equal(j, "[\"a\\u202e\\u009b\\u007f\",\"caf\xc3\xa9\","
                           "\"\\udb40\\udc41\\u200b\",\"\xff\"]");
    nb_free(j);
    j = nb_json_escape_invisible(NULL);
    assert_string_equal(j, "");
    nb_free(j);
}

/* A name read from a file is quoted in messages with its control
 * characters escaped: "\u001b[2J" (clear the screen) arrives as the text
 * \x1b[2J, never as the escape sequence. */
static void test_forged_names_escaped(void **state)
{
    (void)state;
    load_base("forged-base.safetensors", 5);
    const char *path = in_dir("forged.safetensors");
    RAW_CASE("metadata key with ESC",
             "metadata \"\\x1b[2J\": the key has the control character U+001B at byte 0",
             set_meta_field(root, "\x1b[2J", "1"));
    COMPACT_CASE("tensor name with ESC", "tensor \"\\x1b[2J\" [3] is not part of the graph", {
        double d[] = {3};
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dtype", sizeof(nb_real) == 4 ? "F32" : "F64");
        cJSON_AddItemToObject(e, "shape", shape_of(d, 1));
        cJSON_AddItemToObject(e, "data_offsets", pair(0, 0));
        cJSON_AddItemToObject(root, "\x1b[2J", e);
    });
    RAW_CASE("spec with ESC", "item 2 \"\\x1b[2J\"",
             set_meta_field(root, "spec", "dense:2,\x1b[2J,dense:3"));
    RAW_CASE("spec with a bidi override", "item 2 \"rel\\u202eu\"",
             set_meta_field(root, "spec", "dense:2,rel\xe2\x80\xaeu,dense:3"));
    RAW_CASE("loss with ESC", "metadata \"loss\" is \"\\x1b]0;title\\x07\"",
             set_meta_field(root, "loss", "\x1b]0;title\x07"));
    RAW_CASE("scale with ESC", "metadata \"scale\" is \"\\x1b[31m\"",
             set_meta_field(root, "scale", "\x1b[31m"));
    RAW_CASE("format with a newline", "metadata \"format\" is \"nabla\\nfake\"",
             set_meta_field(root, "format", "nabla\nfake"));
    RAW_CASE("version with ESC", "\"format_version\" is \"1\\x1b[A\"",
             set_meta_field(root, "format_version", "1\x1b[A"));
    RAW_CASE("key twice, with ESC", "key \"\\x1b[2J\" appears twice",
             set_meta_field(root, "training", "{\"\\u001b[2J\":1,\"\\u001b[2J\":2}"));
    RAW_CASE("class name not UTF-8",
             "class name 0 (\"\\xff\") has byte 0xff at byte 0, which is not UTF-8",
             set_meta_field(root, "class_names", "[\"\xff\",\"b\",\"\xff\"]"));
    /* A saved training label is quoted by eval and predict: it is refused
     * on load unless it prints as itself. */
    RAW_CASE("training label with ESC",
             "metadata \"training\": \"label\" (\"sp\\x1b"
             "ecies\") has the control character "
             "U+001B at byte 2",
             set_meta_field(root, "training", "{\"label\":\"sp\\u001becies\"}"));
    RAW_CASE("training label with a bidi override", "(\"sp\\u202eecies\") has the invisible",
             set_meta_field(root, "training", "{\"label\":\"sp\\u202eecies\"}"));
    RAW_CASE("training label with a trailing space", "\"label\" (\"species \") ends with a space",
             set_meta_field(root, "training", "{\"label\":\"species \"}"));
    RAW_CASE("user metadata key with a bidi override",
             "the key has the invisible or format "
             "character U+202E at byte 1",
             set_meta_field(root,
                            "a\xe2\x80\xae"
                            "b",
                            "1"));
    /* Every refusal above, escaped. */
    RAW_CASE("metadata key with ESC", NULL, set_meta_field(root, "\x1b[2J", "1"));
    assert_null(strchr(nb_last_error(), '\x1b'));
    free_base();
}

/* A field whose meaning is ambiguous is refused: \u0000 (cJSON cuts the
 * string there, so "a\u0000b" would read as "a"), JSON with something after
 * it, numbers in another notation, a "training" that is not the object
 * eval and predict read, a scaler that no fit writes. */
static void test_ambiguous_fields(void **state)
{
    (void)state;
    load_base("ambiguous-base.safetensors", 6);
    const char *path = in_dir("ambiguous.safetensors");
    /* \u0000 in the header itself: in a tensor name, a metadata key, a value. */
    write_text_variant(path, "\"dense0.bias\":", "\"dense0.bias\\u0000x\":");
    expect_clean_refusal(path, "tensor name with \\u0000",
                         "the header: the key \"dense0.bias...\" holds \\u0000");
    write_text_variant(path, "\"training\":", "\"train\\u0000ing\":");
    expect_clean_refusal(path, "metadata key with \\u0000",
                         "the header: the key \"train...\" holds \\u0000");
    write_text_variant(path, "\"spec\":\"dense:2,relu,dense:3\"",
                       "\"spec\":\"dense:2,relu,dense:3\\u0000,dense:9\"");
    expect_clean_refusal(path, "spec with \\u0000",
                         "the string after key \"spec\" holds \\u0000 (a NUL, where readers cut "
                         "it short) at file byte");
    write_text_variant(path, "\"loss\":\"softmax_ce\"", "\"loss\":\"softmax_ce\x1b\"");
    expect_clean_refusal(path, "raw ESC in a value",
                         "the header: the string after key \"loss\" holds a raw control "
                         "character 0x1b");
    /* \u0000 inside the JSON of a metadata value. */
    RAW_CASE("class name with \\u0000", "metadata \"class_names\": a string holds \\u0000",
             set_meta_field(root, "class_names", "[\"a\",\"b\\u0000x\",\"c\"]"));
    RAW_CASE("user metadata with \\u0000",
             "metadata \"training\": the string after key \"optimizer\" holds \\u0000",
             set_meta_field(root, "training", "{\"epochs\":3,\"optimizer\":\"adam\\u0000\"}"));
    RAW_CASE("class names with text after", "metadata \"class_names\" is not valid JSON",
             set_meta_field(root, "class_names", "[\"a\",\"b\",\"c\"] x"));
    /* Integers as nabla writes them: no leading zero, sign or space. */
    RAW_CASE("version 01", "metadata \"format_version\" is \"01\"",
             set_meta_field(root, "format_version", "01"));
    RAW_CASE("version 1.0", "metadata \"format_version\" is \"1.0\"",
             set_meta_field(root, "format_version", "1.0"));
    RAW_CASE("inputs 03", "metadata \"inputs\" is \"03\"", set_meta_field(root, "inputs", "03"));
    RAW_CASE("outputs +3", "metadata \"outputs\" is \"+3\"", set_meta_field(root, "outputs", "+3"));
    /* "training" is read back by eval and predict. */
    RAW_CASE("training an array", "metadata \"training\" is not a JSON object",
             set_meta_field(root, "training", "[1,2]"));
    RAW_CASE("training a string", "metadata \"training\" is not a JSON object",
             set_meta_field(root, "training", "\"{}\""));
    const char *seeds[] = {"1.5", "-1", "1e300", "\"007\"", "\"12a\"", "\"18446744073709551616\"",
                           "true"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"seed\":%s}", seeds[i]);
        RAW_CASE(seeds[i], "metadata \"training\": \"seed\" is not a whole number",
                 set_meta_field(root, "training", json));
    }
    const char *batches[] = {"0", "-5", "2.5", "1e15", "\"32\""};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"batch\":%s}", batches[i]);
        RAW_CASE(batches[i], "metadata \"training\": \"batch\" is not a whole number in [1, ",
                 set_meta_field(root, "training", json));
    }
    RAW_CASE("regression as text", "\"regression\" is not true or false",
             set_meta_field(root, "training", "{\"regression\":\"yes\"}"));
    RAW_CASE("label as a number", "\"label\" is not a string",
             set_meta_field(root, "training", "{\"label\":5}"));
    /* The seeds nabla writes load. */
    {
        cJSON *root = base_json();
        set_meta_field(root, "training", "{\"seed\":\"18446744073709551615\",\"label\":\"y\"}");
        write_json(root, path, base_data(), base_data_size());
        cJSON_Delete(root);
        nb_model *m;
        assert_ok(nb_model_load(path, &m));
        nb_model_free(m);
    }
    /* A scaler no fit writes: a scale of 0 or below; one of another size. */
    const int real = (int)sizeof(nb_real);
    double scales[] = {0, -2};
    for (int i = 0; i < 2; i++) {
        unsigned char *data = malloc(base_data_size());
        memcpy(data, base_data(), base_data_size());
        cJSON *root = base_json();
        cJSON *off = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "scaler.scale"), "data_offsets");
        put_real(data + (size_t)cJSON_GetArrayItem(off, 0)->valuedouble + real, scales[i], real);
        write_json(root, path, data, base_data_size());
        cJSON_Delete(root);
        free(data);
        expect_clean_refusal(path, "scale <= 0",
                             "\"scaler.scale\": element 1 has offset -1, scale ");
    }
    COMPACT_CASE("scaler of 4 features", "tensor \"scaler.offset\" has shape [4] in the file", {
        double d[] = {IN + 1};
        set_field(root, "scaler.offset", "shape", shape_of(d, 1));
        set_field(root, "scaler.scale", "shape", shape_of(d, 1));
    });
    free_base();
}

/* --------------------------------------------------------- corrupt graphs */

/* The base's "graph" parsed, and a node of it by name. */
static cJSON *graph_of(cJSON *root)
{
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    cJSON *g = cJSON_Parse(cJSON_GetObjectItem(meta, "graph")->valuestring);
    if (!g) fail_msg("the base graph is not JSON");
    return g;
}

static cJSON *gnode(cJSON *gr, const char *name)
{
    cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(gr, "nodes"))
    {
        cJSON *nm = cJSON_GetObjectItem(n, "name");
        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0) return n;
    }
    fail_msg("no node %s in the base graph", name);
    return NULL;
}

/* Set key of obj to v (NULL: remove it). */
static void gset(cJSON *obj, const char *key, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (v) cJSON_AddItemToObject(obj, key, v);
}

static cJSON *js(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) fail_msg("bad test JSON: %s", text);
    return j;
}

/* Rename node from to to, and every use of it. */
static void rename_node(cJSON *gr, const char *from, const char *to)
{
    cJSON *n, *in;
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(gr, "nodes"))
    {
        if (strcmp(cJSON_GetObjectItem(n, "name")->valuestring, from) == 0)
            gset(n, "name", cJSON_CreateString(to));
        cJSON_ArrayForEach(in,
                           cJSON_GetObjectItem(n, "inputs")) if (strcmp(in->valuestring, from) == 0)
            cJSON_SetValuestring(in, to);
    }
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(gr, "inputs")) if (strcmp(in->valuestring, from) ==
                                                                  0) cJSON_SetValuestring(in, to);
    const char *roles[] = {"output", "target", "loss"};
    for (int i = 0; i < 3; i++)
        if (strcmp(cJSON_GetObjectItem(gr, roles[i])->valuestring, from) == 0)
            gset(gr, roles[i], cJSON_CreateString(to));
}

/* One corrupt graph (gr, changed), over tensors laid out again. */
#define GRAPH_CASE(what, want, ...)                                                                \
    do {                                                                                           \
        cJSON *root = base_json(), *gr = graph_of(root);                                           \
        __VA_ARGS__;                                                                               \
        char *text = cJSON_PrintUnformatted(gr);                                                   \
        set_meta_field(root, "graph", text);                                                       \
        cJSON_free(text);                                                                          \
        cJSON_Delete(gr);                                                                          \
        write_compacted(root, path);                                                               \
        cJSON_Delete(root);                                                                        \
        expect_clean_refusal(path, what, want);                                                    \
    } while (0)

/* A graph of its own: metadata for inputs values of input x, outputs
 * outputs and loss, the graph's text, and when w is set a tensor "w" [1]
 * (F32 1.0) for a parameter of that name. */
static void write_graph_file_with(const char *path, const char *graph, int inputs, int outputs,
                                  const char *loss, int w)
{
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "__metadata__");
    char n[16], o[16];
    snprintf(n, sizeof n, "%d", inputs);
    snprintf(o, sizeof o, "%d", outputs);
    cJSON_AddStringToObject(meta, "format", "nabla");
    cJSON_AddStringToObject(meta, "format_version", "2");
    cJSON_AddStringToObject(meta, "loss", loss);
    cJSON_AddStringToObject(meta, "inputs", n);
    cJSON_AddStringToObject(meta, "outputs", o);
    cJSON_AddStringToObject(meta, "graph", graph);
    const unsigned char one[4] = {0x00, 0x00, 0x80, 0x3f}; /* 1.0f, little-endian */
    if (w) {
        cJSON *t = cJSON_AddObjectToObject(root, "w");
        cJSON_AddStringToObject(t, "dtype", "F32");
        const double shape[1] = {1};
        cJSON_AddItemToObject(t, "shape", shape_of(shape, 1));
        cJSON_AddItemToObject(t, "data_offsets", pair(0, 4));
    }
    write_json(root, path, w ? one : NULL, w ? 4 : 0);
    cJSON_Delete(root);
}

static void write_graph_file(const char *path, const char *graph, int inputs)
{
    write_graph_file_with(path, graph, inputs, inputs, "mse", 0);
}

/* The graph with the reshape "fa" taking the shape [0, value], value
 * written as the text given. */
static void graph_int_case(const char *path, const char *what, const char *value, const char *want)
{
    cJSON *root = base_json(), *gr = graph_of(root);
    gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[0,123456789]}}"));
    char *text = cJSON_PrintUnformatted(gr), *at = strstr(text, "123456789");
    assert_non_null(at);
    char *edited = malloc(strlen(text) + strlen(value) + 1);
    sprintf(edited, "%.*s%s%s", (int)(at - text), text, value, at + 9);
    set_meta_field(root, "graph", edited);
    free(edited);
    cJSON_free(text);
    cJSON_Delete(gr);
    write_compacted(root, path);
    cJSON_Delete(root);
    expect_clean_refusal(path, what, want);
}

/* Every field of the graph checked: each defect refused with a message
 * naming the node and the field, and never a crash (CI runs this under
 * ASan). */
static void test_corrupt_graphs(void **state)
{
    (void)state;
    nb_model *m = make_graph_model(11, 4);
    const char *good = in_dir("graph-base.safetensors"),
               *path = in_dir("graph-corrupt.safetensors");
    assert_ok(nb_model_save(m, good));
    nb_model_free(m);
    base = read_all(good);
    base_len = get_u64(base.data);
    base_header = calloc(1, base_len + 1);
    memcpy(base_header, base.data + 8, base_len);
    int before = corrupt_cases;
    {
        /* The helpers reproduce a loadable file when nothing is changed. */
        cJSON *root = base_json(), *gr = graph_of(root);
        char *text = cJSON_PrintUnformatted(gr);
        set_meta_field(root, "graph", text);
        cJSON_free(text);
        cJSON_Delete(gr);
        write_compacted(root, path);
        cJSON_Delete(root);
        assert_ok(nb_model_load(path, &m));
        nb_model_free(m);
    }

    /* The text. */
    RAW_CASE("graph not JSON", "metadata \"graph\" is not valid JSON",
             set_meta_field(root, "graph", "{\"nodes\":"));
    RAW_CASE("graph an array", "metadata \"graph\": not a JSON object",
             set_meta_field(root, "graph", "[]"));
    RAW_CASE("graph with \\u0000",
             "metadata \"graph\": the string after key \"name\" holds \\u0000",
             set_meta_field(root, "graph", "{\"nodes\":[{\"name\":\"a\\u0000b\"}]}"));
    RAW_CASE("graph key twice", "metadata \"graph\": key \"loss\" appears twice", {
        cJSON *gr = graph_of(root);
        char *text = cJSON_PrintUnformatted(gr), *twice = malloc(strlen(text) + 32);
        sprintf(twice, "{\"loss\":\"loss\",%s", text + 1);
        set_meta_field(root, "graph", twice);
        free(twice);
        cJSON_free(text);
        cJSON_Delete(gr);
    });
    GRAPH_CASE("graph with an unknown field", "metadata \"graph\": unknown field \"batch\"",
               gset(gr, "batch", cJSON_CreateNumber(32)));
    GRAPH_CASE("no nodes", "\"nodes\" is not an array of 1 to 65536 nodes",
               gset(gr, "nodes", NULL));
    GRAPH_CASE("no nodes in the array", "\"nodes\" is not an array",
               gset(gr, "nodes", cJSON_CreateArray()));
    GRAPH_CASE("nodes an object", "\"nodes\" is not an array",
               gset(gr, "nodes", cJSON_CreateObject()));

    /* Nodes: names, fields, ops. */
    GRAPH_CASE("node a number", "metadata \"graph\": node 0: not a JSON object",
               cJSON_InsertItemInArray(cJSON_GetObjectItem(gr, "nodes"), 0, cJSON_CreateNumber(1)));
    GRAPH_CASE("node without a name", "node 0: no \"name\" string",
               gset(gnode(gr, "a"), "name", NULL));
    GRAPH_CASE("name a number", "node 1: no \"name\" string",
               gset(gnode(gr, "b"), "name", cJSON_CreateNumber(2)));
    GRAPH_CASE("empty name", "node 0: the name \"\" is empty", rename_node(gr, "a", ""));
    GRAPH_CASE("name of 64 bytes", "is longer than 63 bytes",
               rename_node(gr, "a",
                           "a123456789012345678901234567890123456789012345678901234567890"
                           "123"));
    GRAPH_CASE("name with a quote", "node 0: the name \"a\"b\" holds a control character, quote",
               rename_node(gr, "a", "a\"b"));
    GRAPH_CASE("name with ESC", "node 0: the name \"\\x1b[2J\" holds a control character",
               rename_node(gr, "a", "\x1b[2J"));
    GRAPH_CASE("name twice", "node 1 \"a\": the name is used by an earlier node",
               gset(gnode(gr, "b"), "name", cJSON_CreateString("a")));
    GRAPH_CASE("unknown node field", "node 0 \"a\": unknown field \"dtype\"",
               gset(gnode(gr, "a"), "dtype", cJSON_CreateString("F32")));
    GRAPH_CASE("no op", "node 2 \"fa\": no \"op\" string", gset(gnode(gr, "fa"), "op", NULL));
    GRAPH_CASE("unknown op", "node 2 \"fa\": op \"conv9\" is not an op of this build",
               gset(gnode(gr, "fa"), "op", cJSON_CreateString("conv9")));
    GRAPH_CASE("op with ESC", "op \"\\x1b[31m\" is not an op",
               gset(gnode(gr, "fa"), "op", cJSON_CreateString("\x1b[31m")));
    GRAPH_CASE("input with inputs", "node 0 \"a\": a leaf (input) has no \"inputs\"",
               gset(gnode(gr, "a"), "inputs", js("[\"b\"]")));
    GRAPH_CASE("const with attributes", "node 9 \"c\": a leaf (const) has no \"attrs\"",
               gset(gnode(gr, "c"), "attrs", js("{}")));
    GRAPH_CASE("a leaf made an op", "node 9 \"c\": an op node needs \"inputs\"",
               gset(gnode(gr, "c"), "op", cJSON_CreateString("relu")));
    GRAPH_CASE("no shape", "node 0 \"a\": no \"shape\"", gset(gnode(gr, "a"), "shape", NULL));

    /* Initialisers. */
    GRAPH_CASE("param without init", "node 5 \"da.weight\": a param needs \"init\"",
               gset(gnode(gr, "da.weight"), "init", NULL));
    GRAPH_CASE("const with init", "node 9 \"c\": only a param or a buffer has \"init\"",
               gset(gnode(gr, "c"), "init", js("{\"kind\":\"zeros\"}")));
    GRAPH_CASE("init kind unknown", "\"init\" kind \"glorot\" is not zeros",
               gset(gnode(gr, "da.weight"), "init",
                    js("{\"kind\":\"glorot\",\"a\":0,\"b\":0,\"fan_in\":0,\"fan_out\":0}")));
    GRAPH_CASE("init without fan_out", "\"init\" is not an object of \"kind\", \"a\"",
               gset(gnode(gr, "da.weight"), "init",
                    js("{\"kind\":\"zeros\",\"a\":0,\"b\":0,\"fan_in\":0}")));
    GRAPH_CASE("init with a field more", "(it has \"gain\")",
               gset(gnode(gr, "da.weight"), "init",
                    js("{\"kind\":\"zeros\",\"a\":0,\"b\":0,\"fan_in\":0,\"fan_out\":0,"
                       "\"gain\":2}")));
    GRAPH_CASE("init a text", "\"init\" is not an object",
               gset(gnode(gr, "da.weight"), "init", cJSON_CreateString("zeros")));
    GRAPH_CASE("init value past double", "\"init\" \"a\" or \"b\" is not finite", {
        cJSON *init = cJSON_GetObjectItem(gnode(gr, "gain"), "init");
        gset(init, "a", cJSON_CreateRaw("1e999"));
    });
    GRAPH_CASE(
        "init fan_in negative", "\"fan_in\" or \"fan_out\" is not an integer",
        gset(cJSON_GetObjectItem(gnode(gr, "gain"), "init"), "fan_in", cJSON_CreateNumber(-1)));
    GRAPH_CASE(
        "init fan_out fraction", "\"fan_in\" or \"fan_out\" is not an integer",
        gset(cJSON_GetObjectItem(gnode(gr, "gain"), "init"), "fan_out", cJSON_CreateNumber(1.5)));
    GRAPH_CASE("init with a negative deviation", "negative deviation",
               gset(gnode(gr, "gain"), "init",
                    js("{\"kind\":\"normal\",\"a\":0,\"b\":-1,\"fan_in\":0,\"fan_out\":0}")));

    /* Inputs of op nodes. */
    GRAPH_CASE("op without inputs", "node 8 \"lr\": an op node needs \"inputs\"",
               gset(gnode(gr, "lr"), "inputs", NULL));
    GRAPH_CASE("no inputs in the array", "node 8 \"lr\": \"inputs\" is not an array of 1 to",
               gset(gnode(gr, "lr"), "inputs", cJSON_CreateArray()));
    GRAPH_CASE("inputs a text", "\"inputs\" is not an array",
               gset(gnode(gr, "lr"), "inputs", cJSON_CreateString("da.out")));
    GRAPH_CASE("input a number", "node 8 \"lr\": \"inputs\" item 0 is not a string",
               gset(gnode(gr, "lr"), "inputs", js("[7]")));
    GRAPH_CASE("input a later node", "node 8 \"lr\": input 0 \"loss\" is no node before it",
               gset(gnode(gr, "lr"), "inputs", js("[\"loss\"]")));
    GRAPH_CASE("input itself", "node 8 \"lr\": input 0 \"lr\" is no node before it",
               gset(gnode(gr, "lr"), "inputs", js("[\"lr\"]")));
    GRAPH_CASE("input unknown, with ESC", "input 0 \"\\x1b[2J\" is no node before it",
               gset(gnode(gr, "lr"), "inputs", js("[\"\\u001b[2J\"]")));
    GRAPH_CASE("affine with 2 inputs",
               "node 7 \"da.out\" (affine): op affine takes 3 inputs, got 2",
               gset(gnode(gr, "da.out"), "inputs", js("[\"back\",\"da.weight\"]")));
    GRAPH_CASE("inputs that do not fit", "node 15 \"h\" (add): op add (node \"h\"): expected",
               gset(gnode(gr, "h"), "inputs", js("[\"lr\",\"b\"]")));

    /* Attributes. */
    GRAPH_CASE("unknown attribute", "op leaky_relu takes no attribute \"alpha\"",
               gset(gnode(gr, "lr"), "attrs", js("{\"alpha\":{\"real\":[0.1]}}")));
    GRAPH_CASE("slope as an integer",
               "op leaky_relu: attribute \"slope\" must be real, not integer",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":{\"int\":[0]}}")));
    GRAPH_CASE("two slopes", "attribute \"slope\" has 2 values, not 1 to 1",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":{\"real\":[0.1,0.2]}}")));
    GRAPH_CASE("slope past double", "attribute \"slope\": value 0 is not a finite number", {
        cJSON *vals = cJSON_CreateArray();
        cJSON_AddItemToArray(vals, cJSON_CreateRaw("-1e400"));
        cJSON *typed = cJSON_CreateObject();
        cJSON_AddItemToObject(typed, "real", vals);
        cJSON *attrs = cJSON_CreateObject();
        cJSON_AddItemToObject(attrs, "slope", typed);
        gset(gnode(gr, "lr"), "attrs", attrs);
    });
    GRAPH_CASE("slope as a text", "value 0 is not a finite number",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":{\"real\":[\"0.1\"]}}")));
    GRAPH_CASE("attribute of both types", "attribute \"slope\" is not an object of one member",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":{\"int\":[1],\"real\":[1]}}")));
    GRAPH_CASE("attribute of no type", "attribute \"slope\" is not an object of one member",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":{\"float\":[1]}}")));
    GRAPH_CASE("attribute a bare number", "attribute \"slope\" is not an object of one member",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":0.1}")));
    GRAPH_CASE("attribute an array", "attribute \"slope\" is not an object of one member",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope\":[0.1]}")));
    GRAPH_CASE("attributes an array", "node 8 \"lr\": \"attrs\" is not an object",
               gset(gnode(gr, "lr"), "attrs", js("[]")));
    GRAPH_CASE("attribute name too long", "the name is longer than 15 bytes",
               gset(gnode(gr, "lr"), "attrs", js("{\"slope_of_the_line\":{\"real\":[0.1]}}")));
    GRAPH_CASE("integer fraction", "attribute \"shape\": value 1 is not an integer",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[0,-1.5]}}")));
    GRAPH_CASE("integer past 2^53", "attribute \"shape\": value 0 is an integer at or past 2^53",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[1e16,-1]}}")));
    /* 2^53 + 1 reads as 2^53: neither is taken, and the message quotes
     * no rounded number (written as text: cJSON would round them). */
    graph_int_case(path, "integer 2^53 + 1", "9007199254740993",
                   "attribute \"shape\": value 1 is an integer at or past 2^53 in magnitude");
    graph_int_case(path, "integer -2^53", "-9007199254740992",
                   "attribute \"shape\": value 1 is an integer at or past 2^53");
    /* A graph that builds at the load batch, 32, but not at 33: the
     * message says which batch its shapes are of. */
    GRAPH_CASE("builds at batch 32 only",
               "metadata \"graph\": the graph does not build at batch 33: node 2 \"fa\" "
               "(reshape): op reshape (node \"fa\")",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[32,6]}}")));
    GRAPH_CASE("nine integers", "\"int\" is not an array of 1 to 8 numbers",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[1,1,1,1,1,1,1,1,-1]}}")));
    GRAPH_CASE("no integers", "\"int\" is not an array of 1 to 8 numbers",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[]}}")));
    GRAPH_CASE("reshape without its shape", "op reshape needs the attribute \"shape\"",
               gset(gnode(gr, "fa"), "attrs", NULL));
    GRAPH_CASE("reshape to other values", "node 2 \"fa\" (reshape): op reshape (node \"fa\")",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[0,7]}}")));
    GRAPH_CASE("five dimensions", "attribute \"shape\" has 5 values, not 1 to 4",
               gset(gnode(gr, "fa"), "attrs", js("{\"shape\":{\"int\":[0,1,1,1,-1]}}")));
    GRAPH_CASE("seventeen attributes", "\"attrs\" is not an object of at most 16 attributes", {
        cJSON *attrs = cJSON_CreateObject();
        for (int i = 0; i < 17; i++) {
            char k[8];
            snprintf(k, sizeof k, "k%d", i);
            cJSON_AddItemToObject(attrs, k, js("{\"int\":[1]}"));
        }
        gset(gnode(gr, "fa"), "attrs", attrs);
    });

    /* Shapes. */
    GRAPH_CASE("input without a batch", "node 0 \"a\": \"shape\" dimension 0 is not \"N\"",
               gset(gnode(gr, "a"), "shape", js("[4,2,3]")));
    GRAPH_CASE("input batch twice", "node 1 \"b\": \"shape\" dimension 1 is not an integer in",
               gset(gnode(gr, "b"), "shape", js("[\"N\",\"N\"]")));
    GRAPH_CASE("input batch 2N", "node 1 \"b\": \"shape\" dimension 0 is not \"N\" (the batch)",
               gset(gnode(gr, "b"), "shape", js("[\"2N\",4]")));
    GRAPH_CASE("input of no dimension", "node 1 \"b\": an input's \"shape\" needs the batch",
               gset(gnode(gr, "b"), "shape", js("[]")));
    GRAPH_CASE("input too wide", "holds 1048577 values per sample (at most 1048576)",
               gset(gnode(gr, "b"), "shape", js("[\"N\",1048577]")));
    GRAPH_CASE("input of five dimensions", "\"shape\" is not an array of at most 4 dimensions",
               gset(gnode(gr, "a"), "shape", js("[\"N\",1,2,1,3]")));
    GRAPH_CASE("param with a batch",
               "node 5 \"da.weight\": \"shape\" dimension 0 is not an integer",
               gset(gnode(gr, "da.weight"), "shape", js("[\"N\",5]")));
    GRAPH_CASE("param of zero", "\"shape\" dimension 1 is not an integer in [1, 2147483647]",
               gset(gnode(gr, "da.weight"), "shape", js("[6,0]")));
    GRAPH_CASE("param past int", "\"shape\" dimension 0 is not an integer in [1, 2147483647]",
               gset(gnode(gr, "da.weight"), "shape", js("[2147483648,5]")));
    GRAPH_CASE(
        "param shape overflows",
        "\"gain\": shape [2147483647, 2147483647, "
        "2147483647, 2147483647] has too many elements",
        gset(gnode(gr, "gain"), "shape", js("[2147483647,2147483647,2147483647,2147483647]")));
    GRAPH_CASE("param not its tensor's shape",
               "tensor \"da.weight\" has shape [6, 5] in the file, but the graph needs [6, 4]",
               gset(gnode(gr, "da.weight"), "shape", js("[6,4]")));
    GRAPH_CASE("op shape wrong",
               "node 7 \"da.out\" (affine): the graph gives it shape [N, 4] ([32, 4] at batch "
               "32), but its op makes [32, 5] of its inputs",
               gset(gnode(gr, "da.out"), "shape", js("[\"N\",4]")));
    GRAPH_CASE("op shape 2N", "node 8 \"lr\" (leaky_relu): the graph gives it shape [2N, 5]",
               gset(gnode(gr, "lr"), "shape", js("[\"2N\",5]")));
    GRAPH_CASE("op shape fixed", "node 3 \"flat\" (reshape): the graph gives it shape [192]",
               gset(gnode(gr, "flat"), "shape", js("[192]")));
    GRAPH_CASE("op shape of one dimension more", "the graph gives it shape [N, 5, 1]",
               gset(gnode(gr, "lr"), "shape", js("[\"N\",5,1]")));
    const char *dims[] = {"\"0N\"",          "\"01N\"", "\"N2\"", "\"-3N\"", "\"1N\"", "\"n\"",
                          "\"1234567890N\"", "\" N\"",  "null",   "1.5",     "-1"};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        char shape[32];
        snprintf(shape, sizeof shape, "[%s,5]", dims[i]);
        GRAPH_CASE(dims[i], "\"shape\" dimension 0 is not an integer in [1, 2147483647], \"N\" or",
                   gset(gnode(gr, "lr"), "shape", js(shape)));
    }
    GRAPH_CASE("op shape past int",
               "node 3 \"flat\" (reshape): shape [99999999N] has a dimension "
               "past 2147483647 at batch 32",
               gset(gnode(gr, "flat"), "shape", js("[\"99999999N\"]")));

    /* Tensors against the graph. */
    GRAPH_CASE("param renamed", "tensor \"gain2\" [1] of the graph is missing",
               rename_node(gr, "gain", "gain2"));
    GRAPH_CASE("param named as a scaler tensor",
               "node 16 \"scaler.offset\": a param may not take the name of another tensor",
               rename_node(gr, "gain", "scaler.offset"));
    GRAPH_CASE("const named __metadata__", "a const may not take the name of another tensor",
               rename_node(gr, "c", "__metadata__"));
    COMPACT_CASE("a tensor more", "tensor \"c2\" [4] is not part of the graph", {
        cJSON_AddItemToObject(root, "c2", cJSON_Duplicate(cJSON_GetObjectItem(root, "c"), 1));
    });
    COMPACT_CASE("const tensor missing", "tensor \"c\" [4] of the graph is missing",
                 cJSON_DeleteItemFromObject(root, "c"));
    COMPACT_CASE("const tensor of another shape",
                 "tensor \"c\" has shape [2, 2] in the file, but the graph needs [4]", {
                     double d[] = {2, 2};
                     set_field(root, "c", "shape", shape_of(d, 2));
                 });

    /* Roles. */
    GRAPH_CASE("no inputs role", "metadata \"graph\": \"inputs\" is not an array of 1 to",
               gset(gr, "inputs", NULL));
    GRAPH_CASE("inputs role a param",
               "\"inputs\" item 1 \"da.weight\" is not the name of an input node",
               gset(gr, "inputs", js("[\"a\",\"da.weight\"]")));
    GRAPH_CASE("inputs role unknown", "\"inputs\" item 0 \"zz\" is not the name of an input node",
               gset(gr, "inputs", js("[\"zz\"]")));
    GRAPH_CASE("inputs role a number", "\"inputs\" item 0 is not the name of an input node",
               gset(gr, "inputs", js("[1]")));
    GRAPH_CASE("inputs role twice", "model input 1 is node \"a\", which an earlier input is",
               gset(gr, "inputs", js("[\"a\",\"a\"]")));
    GRAPH_CASE("an input without a role",
               "input node \"b\" is neither a model input nor the target",
               gset(gr, "inputs", js("[\"a\"]")));
    GRAPH_CASE("too many inputs roles", "\"inputs\" is not an array of 1 to 23 node names",
               gset(gr, "inputs",
                    js("[\"a\",\"b\",\"a\",\"b\",\"a\",\"b\",\"a\",\"b\",\"a\","
                       "\"b\",\"a\",\"b\",\"a\",\"b\",\"a\",\"b\",\"a\",\"b\",\"a\","
                       "\"b\",\"a\",\"b\",\"a\",\"b\"]")));
    GRAPH_CASE("target the input", "the model's target \"a\" is also one of its inputs",
               gset(gr, "target", cJSON_CreateString("a")));
    GRAPH_CASE("target a constant", "the model's target \"c\" is not an input node",
               gset(gr, "target", cJSON_CreateString("c")));
    GRAPH_CASE("no target", "metadata \"graph\": no \"target\" string", gset(gr, "target", NULL));
    GRAPH_CASE("output unknown", "\"output\" names \"zz\", which is no node",
               gset(gr, "output", cJSON_CreateString("zz")));
    GRAPH_CASE("output not the loss's", "does not take the output",
               gset(gr, "output", cJSON_CreateString("hg")));
    GRAPH_CASE("loss not a loss op", "is not a node of a loss op",
               gset(gr, "loss", cJSON_CreateString("h")));
    GRAPH_CASE("loss a number", "no \"loss\" string (a node name)",
               gset(gr, "loss", cJSON_CreateNumber(22)));
    GRAPH_CASE("loss op of another name",
               "metadata \"loss\" is \"mse\", but the graph's loss is sse",
               gset(gnode(gr, "loss"), "op", cJSON_CreateString("sse")));
    RAW_CASE("loss metadata of another name",
             "metadata \"loss\" is \"sae\", but the graph's loss is mse",
             set_meta_field(root, "loss", "sae"));
    RAW_CASE("inputs metadata of another count",
             "metadata \"inputs\" is 6, but the graph's inputs take 10",
             set_meta_field(root, "inputs", "6"));

    /* Limits: nodes, and values at the load batch (refused before any is
     * allocated). */
    {
        size_t n = NB_MAX_NODES + 1;
        char *text = malloc(16 + 2 * n);
        strcpy(text, "{\"nodes\":[");
        for (size_t i = 0; i < n; i++) strcat(text + 9 + 2 * i, i ? ",0" : "0");
        strcat(text, "]}");
        write_graph_file(path, text, 1);
        free(text);
        expect_refused(path, "too many nodes", "\"nodes\" is not an array of 1 to 65536 nodes");
    }
    {
        /* x [N, 2^20] and four copies: 5 x 32 x 2^20 values, past 2^27. */
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"nodes\":[{\"name\":\"x\",\"op\":\"input\",\"shape\":[\"N\",%d]},"
                 "{\"name\":\"i1\",\"op\":\"identity\",\"inputs\":[\"x\"],\"shape\":[\"N\",%d]},"
                 "{\"name\":\"i2\",\"op\":\"identity\",\"inputs\":[\"i1\"],\"shape\":[\"N\",%d]},"
                 "{\"name\":\"i3\",\"op\":\"identity\",\"inputs\":[\"i2\"],\"shape\":[\"N\",%d]},"
                 "{\"name\":\"y\",\"op\":\"identity\",\"inputs\":[\"i3\"],\"shape\":[\"N\",%d]},"
                 "{\"name\":\"t\",\"op\":\"input\",\"shape\":[\"N\",%d]},"
                 "{\"name\":\"l\",\"op\":\"mse\",\"inputs\":[\"y\",\"t\"],\"shape\":[]}],"
                 "\"inputs\":[\"x\"],\"output\":\"y\",\"target\":\"t\",\"loss\":\"l\"}",
                 NB_MAX_FEATURES, NB_MAX_FEATURES, NB_MAX_FEATURES, NB_MAX_FEATURES,
                 NB_MAX_FEATURES, NB_MAX_FEATURES);
        write_graph_file(path, text, NB_MAX_FEATURES);
        expect_refused(path, "activations past the limit",
                       "node 4 \"y\" (identity): compiling the graph at batch 32 takes more "
                       "than 134217728 values up to here (NB_MAX_ACTIVATIONS");
        assert_int_equal(nb_model_load(path, &m), NB_ERR_LIMIT);
        /* The same graph, small, loads: it needs no tensor. */
        char small[1024], *p = small;
        for (const char *q = text; *q;) {
            char num[16];
            snprintf(num, sizeof num, "%d", NB_MAX_FEATURES);
            if (strncmp(q, num, strlen(num)) == 0) {
                *p++ = '3';
                q += strlen(num);
            } else {
                *p++ = *q++;
            }
        }
        *p = '\0';
        write_graph_file(path, small, 3);
        assert_ok(nb_model_load(path, &m));
        nb_real x[3] = {1, 2, 3}, y[3];
        assert_ok(nb_model_predict(m, x, 1, y));
        assert_memory_equal(x, y, sizeof x);
        assert_null(nb_model_spec(m));
        nb_model_free(m);
    }

    print_message("corrupt graphs refused: %d\n", corrupt_cases - before);
    assert_true(corrupt_cases - before > 100);
    free_base();
}

/* --------------------------------------------------------- sample mode */

/* dense:3,tanh,dense:2 on 4 inputs; parameter k (creation order over
 * dense0.weight, dense0.bias, dense1.weight, dense1.bias) is
 * ((k mod 7) - 3) / 8; scaler offset j / 2, scale 2. Prints the class
 * probabilities of x = [1, -2, 0.5, 3]. */
/* ------------------------------------------------------ memory limits */

/* What compiling a model takes at a batch, as the loader counts it, is
 * what nb_graph_compile allocates: a compile that needs more memory than
 * the graph holds allocates exactly its plan (a loaded model was compiled
 * once, at NB_LOAD_BATCH). */
static void assert_counted_as_compiled(nb_model *m, int batch)
{
    size_t values;
    assert_ok(nb_model_activation_values(m, batch, &values));
    nb_graph *g = nb_model_graph(m);
    if (batch != nb_model_batch(m)) {
        assert_true(g->arena_capacity < values);
        assert_ok(nb_model_set_batch(m, batch));
    }
    assert_int_equal(g->arena_capacity, values);
}

/* NB_MAX_ACTIVATIONS bounds what loading compiles at batch 32: the values,
 * the op scratch and the gradients of the inputs, constants and op nodes,
 * checked before anything is allocated for them; eval's batch is bounded
 * by the same count. */
static void test_activation_limit(void **state)
{
    (void)state;
    const char *path = in_dir("act.safetensors");
    nb_model *m;
    char text[2048];
    const int F = NB_MAX_FEATURES;

    /* y = x w needs a gradient: x, y, dy and the target are 4 x 32 x 2^20
     * values, past 2^27 (the values alone were not). */
    snprintf(text, sizeof text,
             "{\"nodes\":[{\"name\":\"x\",\"op\":\"input\",\"shape\":[\"N\",%d]},"
             "{\"name\":\"w\",\"op\":\"param\",\"init\":{\"kind\":\"constant\",\"a\":1,\"b\":0,"
             "\"fan_in\":0,\"fan_out\":0},\"shape\":[1]},"
             "{\"name\":\"y\",\"op\":\"mul\",\"inputs\":[\"x\",\"w\"],\"shape\":[\"N\",%d]},"
             "{\"name\":\"t\",\"op\":\"input\",\"shape\":[\"N\",%d]},"
             "{\"name\":\"l\",\"op\":\"mse\",\"inputs\":[\"y\",\"t\"],\"shape\":[]}],"
             "\"inputs\":[\"x\"],\"output\":\"y\",\"target\":\"t\",\"loss\":\"l\"}",
             F, F, F);
    write_graph_file_with(path, text, F, F, "mse", 1);
    expect_refused(path, "gradients past the limit",
                   "node 4 \"l\" (mse): compiling the graph at batch 32 takes more than "
                   "134217728 values up to here");
    assert_int_equal(nb_model_load(path, &m), NB_ERR_LIMIT);

    /* softmax_with_loss keeps a copy of its input as scratch: x and two
     * copies, the class targets and that scratch pass 2^27. */
    snprintf(text, sizeof text,
             "{\"nodes\":[{\"name\":\"x\",\"op\":\"input\",\"shape\":[\"N\",%d]},"
             "{\"name\":\"i1\",\"op\":\"identity\",\"inputs\":[\"x\"],\"shape\":[\"N\",%d]},"
             "{\"name\":\"y\",\"op\":\"identity\",\"inputs\":[\"i1\"],\"shape\":[\"N\",%d]},"
             "{\"name\":\"t\",\"op\":\"input\",\"shape\":[\"N\"]},"
             "{\"name\":\"l\",\"op\":\"softmax_with_loss\",\"inputs\":[\"y\",\"t\"],"
             "\"shape\":[]}],"
             "\"inputs\":[\"x\"],\"output\":\"y\",\"target\":\"t\",\"loss\":\"l\"}",
             F, F, F);
    write_graph_file_with(path, text, F, F, "softmax_ce", 0);
    expect_refused(path, "op scratch past the limit",
                   "node 4 \"l\" (softmax_with_loss): compiling the graph at batch 32 takes "
                   "more than 134217728 values");

    /* Outputs per sample are bounded as the inputs are (predict and eval
     * hold a batch of them). */
    write_graph_file_with(path, text, F, F + 1, "softmax_ce", 0);
    expect_refused(path, "outputs past the limit",
                   "metadata \"outputs\" is 1048577, more output values per sample than a model "
                   "file holds (1048576, NB_MAX_FEATURES)");
    assert_int_equal(nb_model_load(path, &m), NB_ERR_LIMIT);
    {
        /* ... and a model of more is not saved (built at batch 1). */
        nb_graph *g = nb_graph_create();
        nb_node x = nb_input(g, "x", nb_shape2(1, F)), two[2] = {x, x};
        nb_node y = nb_apply(g, "concat", "y", 2, two);
        nb_node t = nb_input(g, "t", nb_shape2(1, 2 * F));
        nb_node l = nb_mse(g, y, t);
        nb_model_roles r = {1, &x, y, t, l};
        assert_ok(nb_model_from_graph(g, &r, &m));
        assert_int_equal(nb_model_save(m, path), NB_ERR_LIMIT);
        assert_non_null(strstr(nb_last_error(), "2097152 outputs per sample, more than a file "
                                                "holds (1048576, NB_MAX_FEATURES)"));
        nb_model_free(m);
    }

    /* The count is the compile's, to the value: for a graph model, a spec
     * model (its spec is checked with a second model, compiled while the
     * first has let go of its activations, then compiled again), and at
     * other batches. */
    m = make_graph_model(3, 4);
    assert_ok(nb_model_save(m, path));
    nb_model_free(m);
    assert_ok(nb_model_load(path, &m));
    assert_int_equal(nb_model_batch(m), NB_LOAD_BATCH);
    assert_counted_as_compiled(m, NB_LOAD_BATCH);
    assert_counted_as_compiled(m, 100);
    size_t at1, at50, at100;
    assert_ok(nb_model_activation_values(m, 1, &at1));
    assert_ok(nb_model_activation_values(m, 50, &at50));
    assert_ok(nb_model_activation_values(m, 100, &at100));
    assert_true(at1 < at50 && at50 < at100);
    /* The largest batch within a bound: the batch asked for when it fits,
     * else the largest that does, never below the load batch. */
    assert_int_equal(nb_model_batch_within(m, 100, at100), 100);
    assert_int_equal(nb_model_batch_within(m, 100, at100 - 1), 99);
    assert_int_equal(nb_model_batch_within(m, 1000, at50), 50);
    assert_int_equal(nb_model_batch_within(m, 1000, 1), NB_LOAD_BATCH);
    assert_int_equal(nb_model_batch_within(m, 7, 1), 7);
    nb_model_free(m);

    m = make_model(5);
    assert_ok(nb_model_save(m, path));
    nb_model_free(m);
    assert_ok(nb_model_load(path, &m));
    assert_non_null(nb_model_spec(m));
    assert_counted_as_compiled(m, NB_LOAD_BATCH);
    nb_real x[2 * 3] = {0.5, -1, 0.25, 2, 1, 1}, y[3 * 3];
    assert_ok(nb_model_predict(m, x, 1, y));
    nb_model_free(m);
}

/* An attribute absent from a file takes its default (an attribute an op
 * gains later must load from older files); saving writes it out. */
static void test_missing_attribute(void **state)
{
    (void)state;
    nb_model *m = make_graph_model(11, 4);
    const char *good = in_dir("attr-base.safetensors"), *path = in_dir("attr-missing.safetensors");
    assert_ok(nb_model_save(m, good));
    nb_model_free(m);
    base = read_all(good);
    base_len = get_u64(base.data);
    base_header = calloc(1, base_len + 1);
    memcpy(base_header, base.data + 8, base_len);
    cJSON *root = base_json(), *gr = graph_of(root);
    gset(gnode(gr, "lr"), "attrs", NULL);
    char *text = cJSON_PrintUnformatted(gr);
    set_meta_field(root, "graph", text);
    cJSON_free(text);
    cJSON_Delete(gr);
    write_compacted(root, path);
    cJSON_Delete(root);
    assert_ok(nb_model_load(path, &m));
    nb_graph *g = nb_model_graph(m);
    const nb_attr *slope = nb_node_attr(g, nb_graph_find(g, "lr"), 0);
    assert_non_null(slope);
    assert_string_equal(slope->name, "slope");
    assert_true(slope->type == NB_ATTR_REAL && slope->count == 1 && slope->reals[0] == 0.01);
    assert_ok(nb_model_save(m, path));
    blob f = read_all(path);
    f.data[f.size] = 0;
    assert_non_null(strstr((const char *)f.data + 8, "{\\\"slope\\\":{\\\"real\\\":[0.01]}}"));
    free(f.data);
    nb_model_free(m);
    free_base();
}

static int write_sample(const char *path)
{
    nb_model *m;
    nb_status st = nb_model_create("dense:3,tanh,dense:2", 4, "softmax_ce", 1, &m);
    if (st != NB_OK) return fprintf(stderr, "%s\n", nb_last_error()), 1;
    size_t n;
    nb_real *p = nb_graph_params(nb_model_graph(m), &n);
    for (size_t k = 0; k < n; k++) p[k] = (nb_real)(((int)(k % 7) - 3) / 8.0);
    nb_real off[4] = {0, 0.5, 1, 1.5}, sc[4] = {2, 2, 2, 2};
    nb_scaler s = {NB_SCALE_ZSCORE, 4, off, sc};
    char *names[] = {"no", "yes"};
    nb_real x[4] = {1, -2, 0.5, 3}, y[2];
    if ((st = nb_model_set_scaler(m, &s)) != NB_OK ||
        (st = nb_model_set_class_names(m, names, 2)) != NB_OK ||
        (st = nb_model_set_meta(m, "training", "{\"epochs\":2}")) != NB_OK ||
        (st = nb_model_predict(m, x, 1, y)) != NB_OK || (st = nb_model_save(m, path)) != NB_OK) {
        fprintf(stderr, "%s\n", nb_last_error());
        nb_model_free(m);
        return 1;
    }
    printf("%.9g %.9g\n", (double)y[0], (double)y[1]);
    nb_model_free(m);
    return 0;
}

/* make_graph_model(3, 2) with a zscore scaler (offset j / 4, scale 1 + j /
 * 8) and a minmax target scaler (offset 1, -2; scale 0.5, 4). Prints its
 * outputs for the 2 rows of graph_inputs, one line each. */
static int write_graph_sample(const char *path)
{
    nb_model *m = make_graph_model(3, 2);
    nb_real off[GIN], sc[GIN], toff[GOUT] = {1, -2}, tsc[GOUT] = {0.5, 4};
    for (int j = 0; j < GIN; j++) off[j] = (nb_real)(j / 4.0), sc[j] = (nb_real)(1 + j / 8.0);
    nb_scaler s = {NB_SCALE_ZSCORE, GIN, off, sc}, ts = {NB_SCALE_MINMAX, GOUT, toff, tsc};
    nb_real x[2 * GIN], y[2 * GOUT];
    graph_inputs(x, 2);
    nb_status st;
    if ((st = nb_model_set_scaler(m, &s)) != NB_OK ||
        (st = nb_model_set_target_scaler(m, &ts)) != NB_OK ||
        (st = nb_model_predict(m, x, 2, y)) != NB_OK || (st = nb_model_save(m, path)) != NB_OK) {
        fprintf(stderr, "%s\n", nb_last_error());
        nb_model_free(m);
        return 1;
    }
    for (int r = 0; r < 2; r++) printf("%.9g %.9g\n", (double)y[r * GOUT], (double)y[r * GOUT + 1]);
    nb_model_free(m);
    return 0;
}

static int remove_dir(void)
{
    DIR *d = opendir(dir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0 && errno == EISDIR) {
            char q[600];
            snprintf(q, sizeof q, "%s/inside", p);
            unlink(q);
            rmdir(p);
        }
    }
    if (d) closedir(d);
    return rmdir(dir);
}

/* A file that is no safetensors file at all: the message says what its
 * first bytes look like rather than quoting a huge header length. */
static void test_other_kinds_of_file(void **state)
{
    (void)state;
    const char *path = in_dir("other.safetensors");
#define BYTES(s) s, sizeof s - 1
    static const struct {
        const char *bytes;
        size_t size;
        const char *want;
    } cases[] = {
        {BYTES("sl,sw,pl,pw,species\n5.1,3.5,1.4,0.2,setosa\n"),
         "it starts with \"sl,sw,pl\": this looks like text (a CSV file?), not a safetensors file"},
        /* A UTF-8 sequence cut off at byte 8 is left out. */
        {BYTES("xy,\xed\x95\x9c\xea\xb8\x80\n1,2\n"),
         "it starts with \"xy,\xed\x95\x9c\": this looks like text"},
        {BYTES("{\"a\": [1, 2]}\n"), "this looks like text (a JSON file?), not a safetensors file"},
        {BYTES("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"),
         "gzip magic bytes 1f 8b: this looks like a compressed file (a .gz data file?)"},
        {BYTES("\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\x1c"),
         "IDX magic bytes 00 00 08 03: this looks like an IDX data file (unsigned bytes, 3 "
         "dimensions), not a safetensors file"},
        {BYTES("PK\x03\x04\x14\x00\x00\x00\x08\x00"), "this looks like a zip archive"},
        /* Bytes that are none of these: the length as before. */
        {BYTES("a\xff\xfe,b,c,d\n"), "the header length (file bytes 0-7) is"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_all(path, cases[i].bytes, cases[i].size);
        expect_refused(path, cases[i].want, cases[i].want);
    }
#undef BYTES
    /* gzip with no time stamp: a plausible length, then no JSON. */
    size_t size = 700000;
    unsigned char *gz = malloc(size);
    assert_non_null(gz);
    memset(gz, 0x55, size);
    memcpy(gz, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
    write_all(path, gz, size);
    free(gz);
    expect_refused(path, "gzip, no time stamp", "this looks like a compressed file");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) return write_sample(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--write-graph-sample") == 0)
        return write_graph_sample(argv[2]);
    strcpy(dir, "model_file_XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_atomic_save),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_other_dtype),
        cmocka_unit_test(test_many_metadata_keys),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_forged_names_escaped),
        cmocka_unit_test(test_ambiguous_fields),
        cmocka_unit_test(test_other_kinds_of_file),
        cmocka_unit_test(test_graph_round_trip),
        cmocka_unit_test(test_many_tensors),
        cmocka_unit_test(test_graph_save_refused),
        cmocka_unit_test(test_v1_saved_as_v2),
        cmocka_unit_test(test_corrupt_graphs),
        cmocka_unit_test(test_activation_limit),
        cmocka_unit_test(test_missing_attribute),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (remove_dir() != 0) fprintf(stderr, "note: could not remove %s\n", dir);
    return failed;
}
