/* nb_data_open: a data source by name, a directory of IDX files or a CSV
 * file, as a training part and a test part. */
#include "data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define SPIRAL_POINTS       100
#define SPIRAL_CLASSES      3
#define SINE_POINTS         256
#define TRAIN_FRACTION      0.7 /* the notes' 70/30 split */

static const char *const fashion_names[] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                            "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};

static int is_dir(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

/* A data file: anything readable but a directory (pipes and /dev/stdin
 * included), or "-" for standard input. */
static int is_data_file(const char *path)
{
    struct stat s;
    return strcmp(path, "-") == 0 || (stat(path, &s) == 0 && !S_ISDIR(s.st_mode));
}

/* The IDX files of a folder, as MNIST and Fashion-MNIST ship them: an
 * images and a labels file for the training part (train-*) and for the
 * test part (t10k-*), each plain or with GZ_SUFFIX. The one list of the
 * names: loading and nb_data_files both use it. */
#define GZ_SUFFIX ".gz"
enum { IDX_TRAIN, IDX_TEST, IDX_PARTS };
static const char *const idx_names[IDX_PARTS][2] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
};

/* dir/name or dir/name.gz, whichever exists; NB_ERR_NOT_FOUND if neither,
 * and both is ambiguous (they may differ): NB_ERR_FORMAT naming both. */
static nb_status idx_path(const char *dir, const char *name, char *buf, size_t size)
{
    char q[NB_PATH_SHOWN];
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n + sizeof GZ_SUFFIX > size)
        return nb_error(NB_ERR_LIMIT, "%s: directory path too long", nb_escape(q, sizeof q, dir));
    int plain = is_file(buf);
    memcpy(buf + n, GZ_SUFFIX, sizeof GZ_SUFFIX);
    int gz = is_file(buf);
    if (plain && gz)
        return nb_error(NB_ERR_FORMAT,
                        "%s: both %s and %s" GZ_SUFFIX
                        " are there: which one to read is ambiguous; "
                        "remove one",
                        nb_escape(q, sizeof q, dir), name, name);
    if (plain) buf[n] = '\0';
    if (plain || gz) return NB_OK;
    return nb_error(NB_ERR_NOT_FOUND, "%s: neither %s nor %s" GZ_SUFFIX " found",
                    nb_escape(q, sizeof q, dir), name, name);
}

static nb_status load_idx_part(const char *dir, int part, nb_dataset *out)
{
    char images[4096], labels[4096];
    nb_status st = idx_path(dir, idx_names[part][0], images, sizeof images);
    if (st) return st;
    if ((st = idx_path(dir, idx_names[part][1], labels, sizeof labels))) return st;
    return nb_load_idx(images, labels, out);
}

/* train-* for training, t10k-* for testing, as MNIST and Fashion-MNIST ship. */
static nb_status open_idx_dir(const char *dir, nb_dataset *train, nb_dataset *test)
{
    nb_status st = load_idx_part(dir, IDX_TRAIN, train);
    if (!st) st = load_idx_part(dir, IDX_TEST, test);
    char q[NB_PATH_SHOWN];
    if (!st && train->rows > 0 && test->rows > 0 &&
        (train->rows != test->rows || train->cols != test->cols))
        st =
            nb_error(NB_ERR_FORMAT, "%s: training images are %dx%d, test images %dx%d",
                     nb_escape(q, sizeof q, dir), train->rows, train->cols, test->rows, test->cols);
    else if (!st && (train->features != test->features || (train->rows > 0) != (test->rows > 0)))
        st = nb_error(NB_ERR_FORMAT, "%s: training samples have %d values%s, test samples %d%s",
                      nb_escape(q, sizeof q, dir), train->features,
                      train->rows > 0 ? " (images)" : "", test->features,
                      test->rows > 0 ? " (images)" : "");
    return st;
}

static nb_status name_fashion(nb_dataset *d)
{
    if (d->classes > 10)
        return nb_error(NB_ERR_FORMAT, "fashion-mnist: %d classes, expected 10", d->classes);
    d->classes = 10; /* a part may lack the last class; the names cover all ten */
    return nb_data_copy_names((char *const *)fashion_names, 10, &d->class_names);
}

/* $NABLA_DATA_DIR/fashion-mnist, or the files right in $NABLA_DATA_DIR,
 * else the installed package's folder. */
static void fashion_dir(char *dir, size_t size)
{
    const char *env = getenv("NABLA_DATA_DIR");
    if (env && *env) {
        snprintf(dir, size, "%s/fashion-mnist", env);
        if (!is_dir(dir)) snprintf(dir, size, "%s", env);
    } else {
        snprintf(dir, size, "%s", DEFAULT_FASHION_DIR);
    }
}

static nb_status open_fashion(nb_dataset *train, nb_dataset *test)
{
    char dir[4096], q[NB_PATH_SHOWN];
    fashion_dir(dir, sizeof dir);
    if (!is_dir(dir))
        return nb_error(NB_ERR_NOT_FOUND,
                        "fashion-mnist: directory %s not found (install dataset-fashion-mnist or "
                        "set NABLA_DATA_DIR)",
                        nb_escape(q, sizeof q, dir));
    nb_status st = open_idx_dir(dir, train, test);
    if (!st && !(st = name_fashion(train))) st = name_fashion(test);
    return st;
}

/* How a source's samples are read: its parts, or every sample in one. */
typedef struct source_read {
    const char *source;
    const char *shown; /* source escaped, for messages */
    const nb_csv_options *csv;
    uint64_t seed;
    int whole; /* every sample into test, train left empty */
    nb_data_info *info;
} source_read;

static nb_status split_all(const source_read *r, nb_dataset *all, nb_dataset *train,
                           nb_dataset *test)
{
    nb_status st;
    r->info->seeded = !r->whole; /* spiral and sine: set again by their caller */
    if (r->whole) {
        *test = *all; /* the whole set, unshuffled */
        memset(all, 0, sizeof *all);
        return NB_OK;
    }
    st = nb_dataset_split(all, TRAIN_FRACTION, r->seed, train, test);
    nb_dataset_free(all);
    return st;
}

/* Both fixed parts of an IDX folder, or every sample in test. */
static nb_status idx_parts(const source_read *r, nb_dataset *train, nb_dataset *test)
{
    if (!r->whole) return NB_OK;
    nb_dataset all;
    nb_status st = nb_data_concat(train, test, &all);
    nb_dataset_free(train);
    nb_dataset_free(test);
    /* Records of two files: the index in this unshuffled whole names a
     * sample better. */
    nb_free(all.origin);
    all.origin = NULL;
    all.origin_kind = NB_ORIGIN_NONE;
    if (!st) *test = all;
    return st;
}

static int is_builtin(const char *source)
{
    static const char *const names[] = {"fashion-mnist", "xor", "spiral", "sine", "body"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(source, names[i]) == 0) return 1;
    return 0;
}

nb_source_kind nb_data_source_kind(const char *source)
{
    if (!source) return NB_SOURCE_NONE;
    if (strcmp(source, "fashion-mnist") == 0) return NB_SOURCE_IDX;
    if (is_builtin(source)) return NB_SOURCE_BUILTIN;
    if (is_dir(source)) return NB_SOURCE_IDX;
    return is_data_file(source) ? NB_SOURCE_FILE : NB_SOURCE_NONE;
}

int nb_data_seeded(const char *source)
{
    nb_source_kind kind = nb_data_source_kind(source);
    return kind == NB_SOURCE_FILE || (kind == NB_SOURCE_BUILTIN && strcmp(source, "xor") != 0);
}

nb_scale_kind nb_data_default_scale(const char *source, const nb_dataset *data)
{
    nb_source_kind kind = nb_data_source_kind(source);
    if ((data && data->rows > 0) || kind == NB_SOURCE_IDX) return NB_SCALE_UNIT;
    return kind == NB_SOURCE_BUILTIN ? NB_SCALE_NONE : NB_SCALE_ZSCORE;
}

/* fn(dir/name) and fn(dir/name.gz) for every IDX name, whether the file
 * exists or not (one created later would be read), until fn says stop. */
static nb_status idx_files(const char *dir, nb_data_file_fn fn, void *user)
{
    size_t size = strlen(dir) + 64; /* "/", the longest name, GZ_SUFFIX */
    char *path = nb_malloc(size);
    char q[NB_PATH_SHOWN];
    if (!path) return nb_error(NB_ERR_MEMORY, "%s: out of memory", nb_escape(q, sizeof q, dir));
    int stop = 0;
    for (int part = 0; part < IDX_PARTS && !stop; part++)
        for (int k = 0; k < 2 && !stop; k++) {
            int len = snprintf(path, size, "%s/%s", dir, idx_names[part][k]);
            stop = fn(path, user) != 0;
            memcpy(path + len, GZ_SUFFIX, sizeof GZ_SUFFIX);
            if (!stop) stop = fn(path, user) != 0;
        }
    nb_free(path);
    return NB_OK;
}

nb_status nb_data_files(const char *source, nb_data_file_fn fn, void *user)
{
    if (!source || !fn) return nb_error(NB_ERR_ARGUMENT, "nb_data_files: source or fn is NULL");
    if (strcmp(source, "fashion-mnist") == 0) {
        char dir[4096];
        fashion_dir(dir, sizeof dir);
        return idx_files(dir, fn, user);
    }
    if (is_builtin(source)) return NB_OK; /* made in memory */
    if (is_dir(source)) return idx_files(source, fn, user);
    fn(strcmp(source, "-") == 0 ? "/dev/stdin" : source, user);
    return NB_OK;
}

/* Options that only CSV data has are refused for another source, unless
 * a model saved them (label, regression): those are dropped. */
static nb_status check_csv_only(const char *source, const char *shown, nb_csv_options *o)
{
    if (!is_builtin(source) && !is_dir(source)) return NB_OK;
    const char *what = is_builtin(source) ? "a built-in data set" : "a folder of IDX files";
    const char *given = o->label && !o->label_saved             ? "a label column (--label)"
                        : o->regression && !o->regression_saved ? "regression (--regression)"
                        : o->header != -1                       ? "a header setting (--header)"
                        : o->delimiter                          ? "a delimiter (--delimiter)"
                                                                : NULL;
    if (given)
        return nb_error(NB_ERR_ARGUMENT, "%s applies to CSV data, but %s is %s", given, shown,
                        what);
    o->label = NULL;
    o->regression = 0;
    return NB_OK;
}

static nb_status open_source(const source_read *r, nb_dataset *train, nb_dataset *test)
{
    const char *source = r->source;
    nb_dataset all;
    nb_status st;
    if (strcmp(source, "fashion-mnist") == 0) {
        memcpy(r->info->format, "idx", 4);
        if ((st = open_fashion(train, test))) return st;
        return idx_parts(r, train, test);
    }
    if (strcmp(source, "xor") == 0) {
        /* Four points cannot be split: XOR is learned and tested on all four. */
        if (!r->whole && (st = nb_dataset_xor(train))) return st;
        return nb_dataset_xor(test);
    }
    if (strcmp(source, "spiral") == 0) {
        if ((st = nb_dataset_spiral(SPIRAL_POINTS, SPIRAL_CLASSES, r->seed, &all))) return st;
        st = split_all(r, &all, train, test);
        r->info->seeded = 1; /* the points too */
        return st;
    }
    if (strcmp(source, "sine") == 0) {
        if ((st = nb_dataset_sine(SINE_POINTS, r->seed, &all))) return st;
        st = split_all(r, &all, train, test);
        r->info->seeded = 1; /* the points too */
        return st;
    }
    if (strcmp(source, "body") == 0) {
        if ((st = nb_dataset_body(&all))) return st;
        return split_all(r, &all, train, test);
    }
    if (is_dir(source)) {
        memcpy(r->info->format, "idx", 4);
        if ((st = open_idx_dir(source, train, test))) return st;
        return idx_parts(r, train, test);
    }
    if (is_data_file(source)) {
        if ((st = nb_load_csv(source, r->csv, &all))) return st;
        return split_all(r, &all, train, test);
    }
    return nb_error(NB_ERR_NOT_FOUND,
                    "unknown data source \"%s\": not fashion-mnist, xor, spiral, sine or body, "
                    "and no such file or directory",
                    r->shown);
}

static const char *class_text(const nb_dataset *d, int k, char *buf, size_t size)
{
    if (d->class_names && d->class_names[k]) return nb_escape(buf, size, d->class_names[k]);
    snprintf(buf, size, "%d", k);
    return buf;
}

/* Many classes named by numbers (prices, say) are likely values to fit:
 * a hint for the message that a class is missing from the training part,
 * else "". */
static const char *regression_hint(const nb_dataset *d, int classes)
{
    if (!d->class_names || classes < 10) return "";
    for (int k = 0; k < classes; k++) {
        char *end;
        if (!d->class_names[k]) return "";
        strtod(d->class_names[k], &end);
        if (end == d->class_names[k] || *end) return "";
    }
    return "; the labels are numbers: to fit them as values, give --regression";
}

/* Without expected classes: the data must have two classes or more, and
 * every class of the test part must have a training sample. */
/* source: the name as messages show it (escaped). */
static nb_status check_parts(const char *source, uint64_t seed, int seeded, nb_dataset *train,
                             nb_dataset *test)
{
    if (train->classes <= 0) return NB_OK;
    int n = train->classes > test->classes ? train->classes : test->classes;
    size_t *in_train = nb_calloc((size_t)n, sizeof *in_train);
    size_t *in_test = nb_calloc((size_t)n, sizeof *in_test);
    nb_status st = NB_OK;
    if (!in_train || !in_test) st = nb_error(NB_ERR_MEMORY, "%s: out of memory", source);
    for (size_t i = 0; !st && i < train->count; i++) in_train[train->labels[i]]++;
    for (size_t i = 0; !st && i < test->count; i++) in_test[test->labels[i]]++;
    int seen = 0, trained = 0, first = -1;
    for (int k = 0; !st && k < n; k++) {
        seen += in_train[k] || in_test[k];
        trained += in_train[k] > 0;
        if (first < 0 && (in_train[k] || in_test[k])) first = k;
    }
    char buf[NB_ESCAPE_SIZE], split[96];
    if (seeded)
        snprintf(split, sizeof split,
                 "the 70/30 split with seed %llu; try another seed or more data",
                 (unsigned long long)seed);
    else
        snprintf(split, sizeof split, "the parts are fixed by the files");
    if (!st && seen == 1)
        st = nb_error(NB_ERR_FORMAT,
                      "%s: the data has one class (\"%s\"): a classifier needs at least 2", source,
                      class_text(train->class_names ? train : test, first, buf, sizeof buf));
    else if (!st && trained == 1)
        st = nb_error(NB_ERR_FORMAT,
                      "%s: the training part has one class: a classifier needs at least 2 (%s)",
                      source, split);
    for (int k = 0; !st && k < n; k++)
        if (in_test[k] && !in_train[k])
            st = nb_error(NB_ERR_FORMAT,
                          "%s: class \"%s\" is in the test part (%zu sample%s) but no training "
                          "sample has it (%s)%s",
                          source, class_text(test, k, buf, sizeof buf), in_test[k],
                          in_test[k] == 1 ? "" : "s", split, regression_hint(test, n));
    nb_free(in_train);
    nb_free(in_test);
    if (!st) test->classes = train->classes;
    return st;
}

static nb_status open_parts(const char *source, const nb_csv_options *csv, uint64_t seed, int whole,
                            nb_dataset *train, nb_dataset *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    nb_csv_options o = {.header = -1};
    if (csv) o = *csv;
    nb_data_info local = {.label_column = -1}, *info = o.info ? o.info : &local;
    memset(info, 0, sizeof *info);
    info->label_column = -1;
    char shown[NB_PATH_SHOWN]; /* the source is user text: escaped in messages */
    nb_escape(shown, sizeof shown, source);
    nb_status st = check_csv_only(source, shown, &o);
    source_read r = {source, shown, &o, seed, whole, info};
    if (!st) st = open_source(&r, train, test);
    const nb_dataset *any = whole ? test : train;
    if (!st && o.features > 0 && any->features != o.features)
        st = nb_error(NB_ERR_FORMAT, "%s: %d features, but %d are expected", shown, any->features,
                      o.features);
    if (!st && o.classes > 0 && any->classes > 0) {
        /* CSV labels were matched while reading (with line numbers). */
        st = nb_data_match_classes(train, o.class_names, o.classes, shown);
        if (!st) st = nb_data_match_classes(test, o.class_names, o.classes, shown);
    } else if (!st && o.classes == 0) {
        st = whole ? check_parts(shown, seed, info->seeded, test, train)
                   : check_parts(shown, seed, info->seeded, train, test);
    }
    if (st) {
        nb_dataset_free(train);
        nb_dataset_free(test);
    }
    return st;
}

nb_status nb_data_open(const char *source, const nb_csv_options *csv, uint64_t seed,
                       nb_dataset *train, nb_dataset *test)
{
    if (!train || !test) return nb_error(NB_ERR_ARGUMENT, "nb_data_open: output is NULL");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!source) return nb_error(NB_ERR_ARGUMENT, "nb_data_open: source is NULL");
    return open_parts(source, csv, seed, 0, train, test);
}

nb_status nb_data_open_all(const char *source, const nb_csv_options *csv, uint64_t seed,
                           nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_data_open_all: out is NULL");
    memset(out, 0, sizeof *out);
    if (!source) return nb_error(NB_ERR_ARGUMENT, "nb_data_open_all: source is NULL");
    nb_dataset none;
    nb_status st = open_parts(source, csv, seed, 1, &none, out);
    nb_dataset_free(&none);
    return st;
}
