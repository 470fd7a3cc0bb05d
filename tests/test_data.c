/* Data sets and preprocessing: IDX and CSV readers on hand-made valid and
 * corrupt files, the built-in sets, subsets and splits, scalers and one-hot
 * labels, and Fashion-MNIST when it is installed. */
#include "check.h"
#include "data/data.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------ temp files */

#define MAX_TEMP 128
static char temp_dir[256];
static char *temp_files[MAX_TEMP];
static int n_temp;

static int make_temp_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/nabla-test-data-XXXXXX", base ? base : "/tmp");
    return mkdtemp(temp_dir) ? 0 : -1;
}

static int remove_temp_dir(void **state)
{
    (void)state;
    for (int i = 0; i < n_temp; i++) {
        unlink(temp_files[i]);
        free(temp_files[i]);
    }
    n_temp = 0;
    return rmdir(temp_dir);
}

/* Write len bytes to temp_dir/name, gzip-compressed when gz; the path. */
static const char *write_temp(const char *name, const void *data, size_t len, int gz)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
    for (int i = 0; i < n_temp; i++)
        if (strcmp(temp_files[i], path) == 0) return temp_files[i];
    assert_true(n_temp < MAX_TEMP);
    temp_files[n_temp] = strdup(path);
    return temp_files[n_temp++];
}

static const char *write_text(const char *name, const char *text)
{
    return write_temp(name, text, strlen(text), 0);
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part)) fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

/* -------------------------------------------------------------- IDX files */

/* An IDX file: magic 0x0000 type ndim, big-endian sizes, then the bytes. */
typedef struct idx_buf {
    unsigned char b[4096];
    size_t len;
} idx_buf;

static void put_be32(idx_buf *f, uint32_t v)
{
    f->b[f->len++] = (unsigned char)(v >> 24);
    f->b[f->len++] = (unsigned char)(v >> 16);
    f->b[f->len++] = (unsigned char)(v >> 8);
    f->b[f->len++] = (unsigned char)v;
}

static idx_buf idx_make(uint32_t magic, int ndim, const uint32_t *dims, const unsigned char *data,
                        size_t n)
{
    idx_buf f = {{0}, 0};
    put_be32(&f, magic);
    for (int i = 0; i < ndim; i++) put_be32(&f, dims[i]);
    if (n) memcpy(f.b + f.len, data, n);
    f.len += n;
    return f;
}

/* Three 2x2 images with pixel i*4+j = 10*i + j + 250*(j==3 && i==2), and
 * labels 2, 0, 1. */
static const unsigned char pixels[12] = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 255};
static const unsigned char label_bytes[3] = {2, 0, 1};

static idx_buf good_images(void)
{
    uint32_t dims[3] = {3, 2, 2};
    return idx_make(0x00000803, 3, dims, pixels, sizeof pixels);
}

static idx_buf good_labels(void)
{
    uint32_t dims[1] = {3};
    return idx_make(0x00000801, 1, dims, label_bytes, sizeof label_bytes);
}

static void check_good_idx(const nb_dataset *d)
{
    assert_int_equal(d->count, 3);
    assert_int_equal(d->features, 4);
    assert_int_equal(d->channels, 1);
    assert_int_equal(d->rows, 2);
    assert_int_equal(d->cols, 2);
    assert_int_equal(d->classes, 3); /* max label 2 + 1 */
    assert_null(d->y);
    for (int i = 0; i < 12; i++) assert_true(d->x[i] == (nb_real)pixels[i]);
    for (int i = 0; i < 3; i++) assert_int_equal(d->labels[i], label_bytes[i]);
}

static void test_idx_valid_plain_and_gzip(void **state)
{
    (void)state;
    idx_buf img = good_images(), lab = good_labels();
    nb_dataset d;
    const char *ip = write_temp("img", img.b, img.len, 0);
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    assert_ok(nb_load_idx(ip, lp, &d));
    check_good_idx(&d);
    nb_dataset_free(&d);
    assert_null(d.x);

    ip = write_temp("img.gz", img.b, img.len, 1);
    lp = write_temp("lab.gz", lab.b, lab.len, 1);
    assert_ok(nb_load_idx(ip, lp, &d));
    check_good_idx(&d);
    nb_dataset_free(&d);
}

static void test_idx_vectors(void **state)
{
    (void)state;
    uint32_t dims[2] = {2, 6}; /* idx2: two vectors of six bytes */
    idx_buf img = idx_make(0x00000802, 2, dims, pixels, 12);
    uint32_t ldims[1] = {2};
    idx_buf lab = idx_make(0x00000801, 1, ldims, (const unsigned char[]){4, 1}, 2);
    nb_dataset d;
    assert_ok(nb_load_idx(write_temp("vec", img.b, img.len, 0),
                          write_temp("vec-lab", lab.b, lab.len, 1), &d));
    assert_int_equal(d.count, 2);
    assert_int_equal(d.features, 6);
    assert_int_equal(d.channels, 0);
    assert_int_equal(d.rows, 0);
    assert_int_equal(d.cols, 0);
    assert_int_equal(d.classes, 5);
    assert_true(d.x[11] == 255);
    assert_int_equal(d.labels[0], 4);
    nb_dataset_free(&d);
}

/* Load and expect status; the message must name path and contain part. */
static void expect_idx_error(const char *images, const char *labels, nb_status want,
                             const char *path, const char *part)
{
    nb_dataset d;
    nb_status st = nb_load_idx(images, labels, &d);
    if (st != want)
        fail_msg("expected %s, got %s: %s", nb_status_name(want), nb_status_name(st),
                 nb_last_error());
    assert_contains(nb_last_error(), path);
    if (part) assert_contains(nb_last_error(), part);
    assert_null(d.x); /* nothing left allocated */
    assert_int_equal(d.count, 0);
}

static void test_idx_bad_magic(void **state)
{
    (void)state;
    idx_buf lab = good_labels();
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    uint32_t dims[3] = {3, 2, 2};
    idx_buf img = idx_make(0x00000804, 3, dims, pixels, 12);
    const char *ip = write_temp("bad-ndim", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "0x00000804");

    img = idx_make(0x00000d03, 3, dims, pixels, 12); /* floats: unsupported */
    ip = write_temp("bad-type", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "0x0d");

    img = idx_make(0x12340803, 3, dims, pixels, 12);
    ip = write_temp("bad-head", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "binary data");
    assert_contains(nb_last_error(), "expected an IDX images file");

    /* The arguments swapped: labels where images belong and back. */
    img = good_images();
    ip = write_temp("img", img.b, img.len, 0);
    expect_idx_error(lp, ip, NB_ERR_FORMAT, lp, "0x00000801");

    expect_idx_error(ip, "/nonexistent/labels", NB_ERR_IO, "/nonexistent/labels", NULL);
}

static void test_idx_truncated(void **state)
{
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    idx_buf lab = good_labels();
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    /* 16 header bytes + 10 of the 12 pixels: data runs out at offset 26. */
    idx_buf img = idx_make(0x00000803, 3, dims, pixels, 10);
    const char *ip = write_temp("short-img", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "byte offset 26");
    ip = write_temp("short-img.gz", img.b, img.len, 1);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "byte offset 26");

    /* Labels: 8 header bytes + 2 of 3 labels. */
    img = good_images();
    ip = write_temp("img", img.b, img.len, 0);
    uint32_t ldims[1] = {3};
    idx_buf shortlab = idx_make(0x00000801, 1, ldims, label_bytes, 2);
    lp = write_temp("short-lab", shortlab.b, shortlab.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, lp, "byte offset 10");

    /* A header cut inside the second dimension size (10 of 16 bytes). */
    lp = write_temp("lab", lab.b, lab.len, 0);
    ip = write_temp("short-head", img.b, 10, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "byte offset 10");

    /* A header that claims far more than the file holds is refused before
     * anything that size is allocated (60000 x 28 x 28 in a 28-byte file). */
    uint32_t big[3] = {60000, 28, 28};
    idx_buf claim = idx_make(0x00000803, 3, big, pixels, 12);
    ip = write_temp("claims-too-much", claim.b, claim.len, 0);
    uint32_t bigl[1] = {60000};
    idx_buf claiml = idx_make(0x00000801, 1, bigl, label_bytes, 3);
    const char *lp2 = write_temp("claims-labels", claiml.b, claiml.len, 0);
    expect_idx_error(ip, lp2, NB_ERR_FORMAT, ip, "the file ends at byte offset 28");

    /* A gzip stream cut in half. */
    ip = write_temp("img.gz", img.b, img.len, 1);
    FILE *f = fopen(ip, "rb");
    unsigned char gz[4096];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    ip = write_temp("cut.gz", gz, n / 2, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, NULL);
}

static void test_idx_count_mismatch(void **state)
{
    (void)state;
    idx_buf img = good_images();
    uint32_t ldims[1] = {4};
    idx_buf lab = idx_make(0x00000801, 1, ldims, (const unsigned char[]){0, 1, 2, 3}, 4);
    const char *ip = write_temp("img", img.b, img.len, 0);
    const char *lp = write_temp("lab4", lab.b, lab.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, lp, "3 samples");
    assert_contains(nb_last_error(), "4 labels");
}

static void test_idx_absurd_dimensions(void **state)
{
    (void)state;
    idx_buf lab = good_labels();
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    /* 2^32-1 cubed overflows any size_t product: refused before allocating. */
    uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    idx_buf img = idx_make(0x00000803, 3, huge, pixels, 12);
    const char *ip = write_temp("huge", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_LIMIT, ip, "4294967295");

    uint32_t wide[3] = {3, 65536, 65536}; /* 2^32 values per image */
    img = idx_make(0x00000803, 3, wide, pixels, 12);
    ip = write_temp("wide", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_LIMIT, ip, "4294967296");

    uint32_t zero[3] = {3, 0, 2};
    img = idx_make(0x00000803, 3, zero, pixels, 12);
    ip = write_temp("zero", img.b, img.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "0");
}

static void test_idx_trailing_bytes(void **state)
{
    (void)state;
    uint32_t dims[3] = {3, 2, 2};
    unsigned char more[13];
    memcpy(more, pixels, 12);
    more[12] = 7;
    idx_buf img = idx_make(0x00000803, 3, dims, more, 13);
    idx_buf lab = good_labels();
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    const char *ip = write_temp("long-img.gz", img.b, img.len, 1);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, ip, "trailing");
    assert_contains(nb_last_error(), "byte offset 28");

    img = good_images();
    ip = write_temp("img", img.b, img.len, 0);
    uint32_t ldims[1] = {3};
    idx_buf longlab = idx_make(0x00000801, 1, ldims, (const unsigned char[]){2, 0, 1, 9}, 4);
    lp = write_temp("long-lab", longlab.b, longlab.len, 0);
    expect_idx_error(ip, lp, NB_ERR_FORMAT, lp, "trailing");
}

/* ---------------------------------------------------------------- CSV */

static nb_csv_options csv_opts(const char *label, int header, int regression)
{
    nb_csv_options o = {.label = label, .header = header, .regression = regression};
    return o;
}

static void expect_csv_error(const char *path, const nb_csv_options *o, nb_status want,
                             const char *const *parts)
{
    nb_dataset d;
    nb_status st = nb_load_csv(path, o, &d);
    if (st != want)
        fail_msg("%s: expected %s, got %s: %s", path, nb_status_name(want), nb_status_name(st),
                 nb_last_error());
    assert_contains(nb_last_error(), path);
    for (; parts && *parts; parts++) assert_contains(nb_last_error(), *parts);
    assert_null(d.x);
}

static void test_csv_header_text_labels(void **state)
{
    (void)state;
    const char *p = write_text("body.csv", "height,weight,sex\n"
                                           "180,83,m\n"
                                           "170,64,f\n"
                                           "175.5,78,m\n"
                                           "160,55,x\n");
    nb_dataset d;
    nb_csv_options o = csv_opts(NULL, -1, 0); /* detect the header */
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.count, 4);
    assert_int_equal(d.features, 2);
    assert_int_equal(d.classes, 3);
    assert_non_null(d.class_names);
    assert_string_equal(d.class_names[0], "m"); /* order of first appearance */
    assert_string_equal(d.class_names[1], "f");
    assert_string_equal(d.class_names[2], "x");
    assert_string_equal(d.feature_names[0], "height");
    assert_string_equal(d.feature_names[1], "weight");
    int want[4] = {0, 1, 0, 2};
    for (int i = 0; i < 4; i++) assert_int_equal(d.labels[i], want[i]);
    assert_true(d.x[4] == (nb_real)175.5);
    assert_true(d.x[7] == 55);
    nb_dataset_free(&d);

    o = csv_opts(NULL, 1, 0); /* told so: the same */
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.count, 4);
    nb_dataset_free(&d);
}

static void test_csv_no_header_integer_labels(void **state)
{
    (void)state;
    const char *p = write_text("plain.csv", "1,2,3\n4,5,0\n-1.5e2,6,7\n");
    nb_dataset d;
    nb_csv_options o = csv_opts(NULL, -1, 0); /* all numbers: no header */
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.count, 3);
    assert_int_equal(d.features, 2);
    /* Labels 3, 0, 7 are not 0..K-1: class names sorted numerically. */
    assert_int_equal(d.classes, 3);
    assert_non_null(d.class_names);
    assert_string_equal(d.class_names[0], "0");
    assert_string_equal(d.class_names[1], "3");
    assert_string_equal(d.class_names[2], "7");
    assert_null(d.feature_names);
    assert_int_equal(d.labels[0], 1);
    assert_int_equal(d.labels[1], 0);
    assert_int_equal(d.labels[2], 2);
    assert_true(d.x[4] == -150);
    nb_dataset_free(&d);

    o = csv_opts(NULL, 1, 0); /* forced header: the first row is names */
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.count, 2);
    assert_string_equal(d.feature_names[1], "2");
    nb_dataset_free(&d);
}

static void test_csv_label_by_name_and_index(void **state)
{
    (void)state;
    const char *p = write_text("mid.csv", "a,label,b\n1,0,2\n3,1,4\n");
    nb_dataset d;
    nb_csv_options o = csv_opts("label", -1, 0);
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.count, 2);
    assert_int_equal(d.features, 2);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[1], "b");
    assert_true(d.x[2] == 3 && d.x[3] == 4);
    assert_int_equal(d.labels[1], 1);
    assert_int_equal(d.classes, 2);
    nb_dataset_free(&d);

    const char *q = write_text("first.csv", "2,1.5,2.5\n0,3.5,4.5\n");
    o = csv_opts("0", 0, 0);
    assert_ok(nb_load_csv(q, &o, &d));
    assert_string_equal(d.class_names[d.labels[0]], "2");
    assert_string_equal(d.class_names[d.labels[1]], "0");
    assert_true(d.x[0] == (nb_real)1.5 && d.x[3] == (nb_real)4.5);
    nb_dataset_free(&d);

    o = csv_opts("nope", -1, 0);
    expect_csv_error(p, &o, NB_ERR_NOT_FOUND, (const char *const[]){"\"nope\"", "label", NULL});
    o = csv_opts("3", -1, 0);
    expect_csv_error(p, &o, NB_ERR_NOT_FOUND, (const char *const[]){"3", "out of range", NULL});
    o = csv_opts("name", 0, 0);
    expect_csv_error(q, &o, NB_ERR_NOT_FOUND, (const char *const[]){"no header", NULL});
}

static void test_csv_regression(void **state)
{
    (void)state;
    const char *p = write_text("reg.csv", "x,y\n0.5,1.25\n-2,4e-3\n");
    nb_dataset d;
    nb_csv_options o = csv_opts("y", -1, 1);
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.classes, 0);
    assert_int_equal(d.targets, 1);
    assert_null(d.labels);
    assert_true(d.y[0] == (nb_real)1.25);
    assert_true(d.y[1] == (nb_real)4e-3);
    assert_true(d.x[1] == -2);
    nb_dataset_free(&d);

    /* A regression target must be a number. */
    const char *q = write_text("reg-bad.csv", "x,y\n1,2\n3,four\n");
    expect_csv_error(q, &o, NB_ERR_FORMAT,
                     (const char *const[]){"line 3", "column 2", "four", NULL});
}

static void test_csv_quotes_crlf_blank_line(void **state)
{
    (void)state;
    const char *p = write_text("quoted.csv", "\"f,1\",\"f \"\"2\"\"\",city\r\n"
                                             "\"1.5\", 2 ,\"New York, NY\"\r\n"
                                             "3,4,\"say \"\"hi\"\"\"\r\n"
                                             "5,6,\"New York, NY\"\r\n"
                                             "\r\n");
    nb_dataset d;
    assert_ok(nb_load_csv(p, NULL, &d));
    assert_int_equal(d.count, 3);
    assert_string_equal(d.feature_names[0], "f,1");
    assert_string_equal(d.feature_names[1], "f \"2\"");
    assert_int_equal(d.classes, 2);
    assert_string_equal(d.class_names[0], "New York, NY");
    assert_string_equal(d.class_names[1], "say \"hi\"");
    assert_int_equal(d.labels[2], 0);
    assert_true(d.x[0] == (nb_real)1.5 && d.x[1] == 2);
    nb_dataset_free(&d);

    /* Semicolons, as spreadsheets in many locales write them. */
    const char *q = write_text("semi.csv", "1;2;0\n3;4;1\n");
    nb_csv_options o = {.header = 0, .delimiter = ';'};
    assert_ok(nb_load_csv(q, &o, &d));
    assert_int_equal(d.features, 2);
    assert_true(d.x[3] == 4);
    nb_dataset_free(&d);

    const char *r = write_text("open-quote.csv", "1,2,0\n3,\"4,1\n");
    expect_csv_error(r, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 2", "column 2", "quote", NULL});
    r = write_text("after-quote.csv", "1,2,0\n3,\"4\"x,1\n");
    expect_csv_error(r, NULL, NB_ERR_FORMAT, (const char *const[]){"line 2", "column 2", NULL});
}

static void test_csv_bad_cells(void **state)
{
    (void)state;
    const char *p = write_text("bad.csv", "a,b,c\n1,2,0\n3,abc,1\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 3", "column 2", "\"abc\"", "(\"b\")", NULL});

    /* A long cell is quoted only in part. */
    char text[256];
    snprintf(text, sizeof text, "1,2,0\n1,%s,1\n",
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    p = write_text("long-cell.csv", text);
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 2", "column 2", "...", NULL});
    char run[42];
    memset(run, 'x', 41);
    run[41] = '\0';
    assert_null(strstr(nb_last_error(), run)); /* at most 40 bytes of it */

    p = write_text("empty-cell.csv", "1,2,0\n1,,1\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 2", "column 2", "empty", NULL});
    p = write_text("inf.csv", "1,2,0\ninf,2,1\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 2", "column 1", "finite", NULL});
    p = write_text("trailing-junk.csv", "1,2,0\n1,2.5x,1\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT, (const char *const[]){"line 2", "2.5x", NULL});
}

static void test_csv_ragged_empty_header_only(void **state)
{
    (void)state;
    const char *p = write_text("ragged.csv", "a,b,c\n1,2,0\n\n3,1\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 4", "expected 3 cells, got 2", NULL});
    p = write_text("wide.csv", "1,2,0\n3,4,1,5\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"line 2", "expected 3 cells, got 4", NULL});
    p = write_text("empty.csv", "");
    expect_csv_error(p, NULL, NB_ERR_FORMAT, (const char *const[]){"empty", NULL});
    p = write_text("blank.csv", "\n\r\n\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT, (const char *const[]){"empty", NULL});
    p = write_text("header-only.csv", "a,b,label\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT, (const char *const[]){"no data rows", NULL});
    p = write_text("one-column.csv", "1\n2\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT, (const char *const[]){"line 1", NULL});
    expect_csv_error("/nonexistent/file.csv", NULL, NB_ERR_IO, NULL);
}

static void test_csv_line_too_long(void **state)
{
    (void)state;
    size_t n = (size_t)NB_MAX_LINE + 16;
    char *text = malloc(n + 16);
    assert_non_null(text);
    memcpy(text, "1,2,0\n", 6);
    for (size_t i = 6; i < n; i++) text[i] = (i % 2) ? ',' : '1';
    text[n] = '\n';
    const char *p = write_temp("long-line.csv", text, n + 1, 0);
    free(text);
    expect_csv_error(p, NULL, NB_ERR_LIMIT, (const char *const[]){"line 2", NULL});
}

/* ------------------------------------------- one reader: the rules */

static nb_data_info last_info;

static nb_status load_text(const char *name, const char *text, const char *label, int header,
                           nb_dataset *d)
{
    const char *p = write_text(name, text);
    nb_csv_options o = {.label = label, .header = header, .info = &last_info};
    return nb_load_csv(p, &o, d);
}

/* No byte of text the message quotes is left raw: ASCII text and
 * backslash escapes only (every test file here is ASCII but for the
 * crafted bytes). */
static void assert_printable(const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c < 0x20 || *c >= 0x7f) fail_msg("raw byte 0x%02x in \"%s\"", *c, text);
}

static void test_csv_messages_escaped(void **state)
{
    (void)state;
    nb_dataset d;
    const char *p = write_text("c1.csv", "a,b,y\n1,2\xc2\x9b"
                                         "31m,x\n3,4,z\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"bad cell \"2\\u009b31m\"", NULL});
    assert_printable(nb_last_error());
    p = write_text("rlo.csv", "a,b,y\n1,2\xe2\x80\xae"
                              "31,x\n3,4,z\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"bad cell \"2\\u202e31\"", NULL});
    assert_printable(nb_last_error());
    p = write_text("byte.csv", "a,b,y\n1,2\x80,x\n3,4,z\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT, (const char *const[]){"bad cell \"2\\x80\"", NULL});
    assert_printable(nb_last_error());
    /* A header name in a column's name and in a repeated name. */
    p = write_text("named2.csv", "\xe2\x80\xae"
                                 "a,b,y\nx1,2,x\n3,4,z\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"column 1 (\"\\u202ea\")", "\"x1\"", NULL});
    assert_printable(nb_last_error());
    p = write_text("twice.csv", "\xc2\x9b"
                                "a,\xc2\x9b"
                                "a,y\n1,2,x\n3,4,z\n");
    expect_csv_error(p, NULL, NB_ERR_FORMAT,
                     (const char *const[]){"column name \"\\u009ba\" appears twice", NULL});
    assert_printable(nb_last_error());
    /* The header's reason quotes its cell escaped. */
    assert_int_equal(load_text("why.csv",
                               "\xe2\x80\xae"
                               "a,b,y\n1,2,x\n3,4,z\n",
                               NULL, -1, &d),
                     NB_OK);
    assert_contains(last_info.header_why, "cell \"\\u202ea\" of column 1");
    assert_printable(last_info.header_why);
    nb_dataset_free(&d);
    /* A label option that is not found, and a source name typed raw. */
    nb_csv_options o = csv_opts("\xe2\x80\xae"
                                "y",
                                -1, 0);
    expect_csv_error(p, &o, NB_ERR_NOT_FOUND,
                     (const char *const[]){"\"\\u202ey\" not found", NULL});
    assert_printable(nb_last_error());
    nb_dataset train, test;
    assert_int_equal(nb_data_open("nofile\x1b[31m.csv", NULL, 1, &train, &test), NB_ERR_NOT_FOUND);
    assert_contains(nb_last_error(), "\"nofile\\x1b[31m.csv\"");
    assert_printable(nb_last_error());
    assert_int_equal(nb_load_csv("nofile\x1b[31m.csv", NULL, &d), NB_ERR_IO);
    assert_contains(nb_last_error(), "nofile\\x1b[31m.csv: cannot open");
    assert_printable(nb_last_error());
}

static void test_csv_bom_crlf_delimiters(void **state)
{
    (void)state;
    nb_dataset d;
    /* A byte-order mark and CRLF: every row kept. */
    assert_ok(load_text("bom.csv",
                        "\xef\xbb\xbf"
                        "5.1,3.5,a\r\n4.9,3.0,b\r\n7.0,3.2,a\r\n",
                        NULL, -1, &d));
    assert_int_equal(d.count, 3);
    assert_true(d.x[0] == (nb_real)5.1);
    assert_int_equal(last_info.header, 0);
    nb_dataset_free(&d);
    /* Tab and ';' are detected and said so. */
    assert_ok(load_text("tab.csv", "a\tb\tc\n1\t2\tx\n3\t4\ty\n", NULL, -1, &d));
    assert_int_equal(d.features, 2);
    assert_int_equal(last_info.delimiter, '\t');
    assert_contains(last_info.delimiter_why, "detected");
    nb_dataset_free(&d);
    /* ';' splits every line alike; a decimal comma is then a bad cell. */
    assert_int_equal(load_text("semi.csv", "a;b;c\n1,5;2;x\n3;4;y\n", NULL, -1, &d), NB_ERR_FORMAT);
    assert_int_equal(last_info.delimiter, ';');
    assert_contains(nb_last_error(), "line 2, column 1 (\"a\"): bad cell \"1,5\"");
    /* Quoted cells holding the delimiter count as one column. */
    assert_ok(load_text("qh.csv", "\"len, cm\",\"wid, cm\",kind\n1,2,a\n3,4,b\n", NULL, -1, &d));
    assert_int_equal(d.features, 2);
    assert_string_equal(d.feature_names[0], "len, cm");
    nb_dataset_free(&d);
}

static void test_csv_header_never_swallows_data(void **state)
{
    (void)state;
    nb_dataset d;
    /* Number-like first rows are data: a bad one is an error on line 1. */
    const char *firsts[] = {"nan,1,0\n", "1e400,2,0\n"};
    for (int i = 0; i < 2; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s0.2,0.3,1\n", firsts[i]);
        assert_int_equal(load_text("first.csv", text, NULL, -1, &d), NB_ERR_FORMAT);
        assert_contains(nb_last_error(), "line 1, column 1");
        assert_contains(nb_last_error(), "finite");
    }
    assert_ok(load_text("q05.csv", "\"0.5\",1,0\n0.2,0.3,1\n", NULL, -1, &d));
    assert_int_equal(d.count, 2);
    assert_true(d.x[0] == (nb_real)0.5);
    assert_contains(last_info.header_why, "data");
    nb_dataset_free(&d);
    /* Told there is a header: line 1 is names. */
    assert_ok(load_text("q05h.csv", "\"0.5\",1,0\n0.2,0.3,1\n0.4,0.1,0\n", NULL, 1, &d));
    assert_int_equal(d.count, 2);
    nb_dataset_free(&d);
    /* Missing values are not text: an error naming line 1 and the column. */
    const char *missing[] = {"NA,1,0\n", "?,1,0\n", ",1,0\n", "1,N/A,0\n"};
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s0.2,0.3,1\n", missing[i]);
        assert_int_equal(load_text("miss1.csv", text, NULL, -1, &d), NB_ERR_FORMAT);
        assert_contains(nb_last_error(), "line 1, column");
    }
    assert_int_equal(load_text("miss3.csv", "a,b,c\n1,2,x\n3,NA,y\n", NULL, -1, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "line 3, column 2 (\"b\")");
    assert_contains(nb_last_error(), "missing");
    /* A label cell that is the only text among integer labels on line 1. */
    assert_int_equal(load_text("hdr-num.csv", "1,2,label\n1,2,0\n3,4,1\n", NULL, -1, &d),
                     NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "header");
}

static void test_csv_label_after_header(void **state)
{
    (void)state;
    nb_dataset d;
    /* No header: --label 1 is column 1, never a cell value "1". */
    assert_ok(
        load_text("nohdr.csv", "1,setosa,5.1\n0,versicolor,7.0\n1,setosa,5.0\n", "1", -1, &d));
    assert_int_equal(d.classes, 2);
    assert_string_equal(d.class_names[0], "setosa");
    assert_true(d.x[0] == 1 && d.x[1] == (nb_real)5.1);
    assert_int_equal(last_info.label_column, 1);
    nb_dataset_free(&d);
    /* A label "2" that is another column's name as well as index 2. */
    assert_int_equal(load_text("amb.csv", "2,x,y\n1,2,a\n3,4,b\n", "2", -1, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "ambiguous");
    assert_contains(nb_last_error(), "column 1");
    assert_contains(nb_last_error(), "column 3");
    /* The same name twice. */
    assert_int_equal(load_text("dup.csv", "a,b,a,c\n1,2,3,x\n4,5,6,y\n", NULL, -1, &d),
                     NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "columns 1 and 3");
}

static void test_csv_integer_and_one_class(void **state)
{
    (void)state;
    nb_dataset d;
    /* Labels 1..3 are names sorted numerically, not indices. */
    assert_ok(load_text("one-based.csv", "0.1,3\n0.2,1\n0.3,2\n0.4,10\n", NULL, -1, &d));
    assert_int_equal(d.classes, 4);
    assert_string_equal(d.class_names[0], "1");
    assert_string_equal(d.class_names[3], "10");
    assert_int_equal(d.labels[0], 2);
    assert_int_equal(d.labels[3], 3);
    nb_dataset_free(&d);
    /* 0..K-1 stay indices. */
    assert_ok(load_text("zero-based.csv", "0.1,1\n0.2,0\n0.3,2\n", NULL, -1, &d));
    assert_null(d.class_names);
    assert_int_equal(d.labels[0], 1);
    nb_dataset_free(&d);
    /* The same number written twice. */
    assert_int_equal(load_text("same-num.csv", "0.1,1\n0.2,1.0\n0.3,2\n", NULL, -1, &d),
                     NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "same number");
    /* One class: one clear message. */
    assert_int_equal(load_text("one.csv", "0.1,a\n0.2,a\n", NULL, -1, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "the data has one class");
}

static void test_csv_expected_classes(void **state)
{
    (void)state;
    nb_dataset d;
    char *names[2] = {"setosa", "versicolor"};
    const char *p = write_text("eval.csv", "x,species\n1,versicolor\n2,setosa\n");
    nb_csv_options o = {.header = -1, .class_names = names, .classes = 2};
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.labels[0], 1); /* by name, not by first appearance */
    assert_int_equal(d.labels[1], 0);
    assert_string_equal(d.class_names[1], "versicolor");
    nb_dataset_free(&d);
    p = write_text("eval-bad.csv", "x,species\n1,versicolor\n2,virginica\n");
    assert_int_equal(nb_load_csv(p, &o, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "line 3");
    assert_contains(nb_last_error(), "virginica");
    /* Unnamed expected classes: indices. */
    o.class_names = NULL;
    o.classes = 3;
    p = write_text("eval-idx.csv", "x,y\n1,2\n2,1\n");
    assert_ok(nb_load_csv(p, &o, &d));
    assert_int_equal(d.classes, 3);
    assert_int_equal(d.labels[0], 2);
    nb_dataset_free(&d);
    p = write_text("eval-idx-bad.csv", "x,y\n1,2\n2,3\n");
    assert_int_equal(nb_load_csv(p, &o, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "line 3");
}

static void test_data_open_test_classes_in_training(void **state)
{
    (void)state;
    /* Ten "a", ten "b" and one "c": with some seed the one "c" row falls in
     * the test part only, which is refused before any training. */
    char text[1024] = "x,k\n";
    for (int i = 0; i < 20; i++) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "%d,%s\n", i, i % 2 ? "a" : "b");
    }
    strcat(text, "99,c\n");
    const char *p = write_text("rare.csv", text);
    int refused = 0, accepted = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        nb_dataset tr, te;
        nb_status st = nb_data_open(p, NULL, seed, &tr, &te);
        if (st == NB_OK) {
            accepted++;
            for (size_t i = 0; i < te.count; i++) {
                int k = te.labels[i], found = 0;
                for (size_t j = 0; j < tr.count; j++) found |= tr.labels[j] == k;
                assert_true(found);
            }
        } else {
            assert_int_equal(st, NB_ERR_FORMAT);
            assert_contains(nb_last_error(), "\"c\"");
            assert_contains(nb_last_error(), p);
            assert_null(tr.x);
            refused++;
        }
        nb_dataset_free(&tr);
        nb_dataset_free(&te);
    }
    assert_true(refused > 0 && accepted > 0);
    /* --label for a source that is not CSV is an argument error. */
    nb_csv_options o = {.label = "x", .header = -1};
    nb_dataset tr, te;
    assert_int_equal(nb_data_open("spiral", &o, 1, &tr, &te), NB_ERR_ARGUMENT);
    /* A CSV file not named .csv is CSV by its content. */
    p = write_text("data.txt", "x,k\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n7,a\n8,b\n9,a\n10,b\n");
    o.label = "k";
    assert_ok(nb_data_open(p, &o, 1, &tr, &te));
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
}

/* nb_data_files: the paths seen, one string. */
static int list_file(const char *path, void *user)
{
    char *seen = user;
    size_t used = strlen(seen);
    snprintf(seen + used, 4096 - used, "%s;", path);
    return 0;
}

static int stop_at_first(const char *path, void *user)
{
    (void)path;
    ++*(int *)user;
    return 1;
}

static void test_data_files(void **state)
{
    (void)state;
    static char seen[4096], want[4096];
    /* An IDX folder: its eight names, there or not. */
    seen[0] = '\0';
    assert_ok(nb_data_files(temp_dir, list_file, seen));
    static const char *const names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    want[0] = '\0';
    for (int i = 0; i < 4; i++) {
        size_t used = strlen(want);
        snprintf(want + used, sizeof want - used, "%s/%s;%s/%s.gz;", temp_dir, names[i], temp_dir,
                 names[i]);
    }
    assert_string_equal(seen, want);
    int calls = 0;
    assert_ok(nb_data_files(temp_dir, stop_at_first, &calls));
    assert_int_equal(calls, 1);
    /* fashion-mnist: the folder nb_data_open would read. */
    const char *old = getenv("NABLA_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("NABLA_DATA_DIR", temp_dir, 1);
    seen[0] = '\0';
    assert_ok(nb_data_files("fashion-mnist", list_file, seen));
    assert_string_equal(seen, want);
    if (saved)
        setenv("NABLA_DATA_DIR", saved, 1);
    else
        unsetenv("NABLA_DATA_DIR");
    free(saved);
    /* A CSV file, standard input, the sets made in memory. */
    seen[0] = '\0';
    assert_ok(nb_data_files("some.csv", list_file, seen));
    assert_ok(nb_data_files("-", list_file, seen));
    assert_ok(nb_data_files("spiral", list_file, seen));
    assert_ok(nb_data_files("xor", list_file, seen));
    assert_string_equal(seen, "some.csv;/dev/stdin;");
    assert_int_equal(nb_data_files(NULL, list_file, seen), NB_ERR_ARGUMENT);
}

/* Allocation sizes, to show that claimed sizes are not allocated. */
static size_t biggest_alloc;

static void *counting_malloc(size_t size, void *user)
{
    (void)user;
    if (size > biggest_alloc) biggest_alloc = size;
    return malloc(size);
}

static void *counting_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    if (size > biggest_alloc) biggest_alloc = size;
    return realloc(ptr, size);
}

static void counting_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static const nb_allocator counting = {counting_malloc, counting_realloc, counting_free, NULL};

static void test_claimed_sizes_not_allocated(void **state)
{
    (void)state;
    /* 12 bytes claiming 2^26 vectors of 2 values; labels claiming 2^26. */
    uint32_t dims[2] = {1u << 26, 2};
    idx_buf img = idx_make(0x00000802, 2, dims, NULL, 0);
    uint32_t ldims[1] = {1u << 26};
    idx_buf lab = idx_make(0x00000801, 1, ldims, NULL, 0);
    assert_int_equal(img.len, 12);
    for (int gz = 0; gz < 2; gz++) {
        const char *ip = write_temp(gz ? "claim-img.gz" : "claim-img", img.b, img.len, gz);
        const char *lp = write_temp(gz ? "claim-lab.gz" : "claim-lab", lab.b, lab.len, gz);
        nb_dataset d;
        biggest_alloc = 0;
        nb_set_allocator(&counting);
        nb_status st = nb_load_idx(ip, lp, &d);
        nb_feature_reader *r = NULL;
        nb_status st2 = nb_feature_reader_open(ip, NULL, 2, &r);
        nb_set_allocator(NULL);
        assert_int_equal(st, NB_ERR_FORMAT);
        assert_int_equal(st2, NB_ERR_FORMAT);
        assert_null(r);
        assert_contains(nb_last_error(), ip);
        assert_true(biggest_alloc <= 1 << 20); /* the read window, not 512 MiB */
    }
    /* A compressed input is read only up to the inflate limit. */
    char text[8192] = "a,b\n";
    for (int i = 0; i < 500; i++) strcat(text, "1,2\n");
    const char *p = write_temp("bomb.csv.gz", text, strlen(text), 1);
    nb_src_inflate_limit = 1000;
    nb_dataset d;
    nb_status st = nb_load_csv(p, NULL, &d);
    nb_src_inflate_limit = NB_MAX_INFLATED;
    assert_int_equal(st, NB_ERR_LIMIT);
    assert_contains(nb_last_error(), "inflates to more than 1000 bytes");
    /* A 4 MiB line is refused once past the limit, not read whole. */
    size_t n = 4u << 20;
    char *big = malloc(n + 8);
    assert_non_null(big);
    memcpy(big, "1,2,0\n", 6);
    memset(big + 6, '1', n - 6);
    big[n] = '\n';
    p = write_temp("huge-line.csv", big, n + 1, 0);
    free(big);
    biggest_alloc = 0;
    nb_set_allocator(&counting);
    st = nb_load_csv(p, NULL, &d);
    nb_set_allocator(NULL);
    assert_int_equal(st, NB_ERR_LIMIT);
    assert_contains(nb_last_error(), "line 2");
    assert_true(biggest_alloc <= 2u * NB_MAX_LINE + 16);
}

static void test_content_decides_format(void **state)
{
    (void)state;
    nb_dataset d;
    /* gzip inside gzip. */
    const char *text = "a,b,c\n1,2,x\n3,4,y\n";
    uLongf len = 256;
    unsigned char once[256];
    const char *p1 = write_temp("once.gz", text, strlen(text), 1);
    FILE *f = fopen(p1, "rb");
    assert_non_null(f);
    len = fread(once, 1, sizeof once, f);
    fclose(f);
    const char *p2 = write_temp("twice.csv", once, len, 1);
    assert_int_equal(nb_load_csv(p2, NULL, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "gzip inside gzip");
    /* Once is fine, whatever the name. */
    assert_ok(nb_load_csv(p1, NULL, &d));
    assert_int_equal(d.count, 2);
    nb_dataset_free(&d);
    /* Binary junk. */
    const char *z = write_temp("junk.csv", "PK\3\4abcdef", 10, 0);
    assert_int_equal(nb_load_csv(z, NULL, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "zip archive");
    assert_contains(nb_last_error(), "expected a CSV text file");
    z = write_temp("nul.csv", "1,2\0,3\n", 7, 0);
    assert_int_equal(nb_load_csv(z, NULL, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "NUL byte");
    /* An IDX file given as CSV, and CSV given as IDX. */
    idx_buf img = good_images();
    const char *ip = write_temp("img.csv", img.b, img.len, 0);
    assert_int_equal(nb_load_csv(ip, NULL, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "an IDX file");
    const char *cp = write_text("text-images", "1,2,3\n");
    idx_buf lab = good_labels();
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    assert_int_equal(nb_load_idx(cp, lp, &d), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "text (\"1,2,3\")");
}

static void test_feature_reader(void **state)
{
    (void)state;
    nb_real x[8];
    size_t rows;
    nb_feature_reader *r;
    nb_data_info info;
    /* Features only, a header with quoted commas, CRLF and a BOM. */
    const char *p = write_text("rows.csv", "\xef\xbb\xbf\"len, cm\",\"wid, cm\"\r\n1,2\r\n3,4\r\n");
    nb_csv_options o = {.header = -1, .info = &info};
    assert_ok(nb_feature_reader_open(p, &o, 2, &r));
    assert_int_equal(info.header, 1);
    assert_true(nb_shape_equal(nb_feature_reader_sample_shape(r), nb_shape1(2))); /* no images */
    assert_ok(nb_feature_reader_read(r, x, 1, &rows));
    assert_int_equal(rows, 1);
    assert_true(x[0] == 1 && x[1] == 2);
    assert_ok(nb_feature_reader_read(r, x, 4, &rows));
    assert_int_equal(rows, 1);
    assert_true(x[0] == 3 && x[1] == 4);
    assert_ok(nb_feature_reader_read(r, x, 4, &rows));
    assert_int_equal(rows, 0);
    nb_feature_reader_close(r);
    /* A label column, named, is skipped. */
    p = write_text("rows-label.csv", "a,kind,b\n1,x,2\n");
    o.label = "kind";
    assert_ok(nb_feature_reader_open(p, &o, 2, &r));
    assert_ok(nb_feature_reader_read(r, x, 4, &rows));
    assert_int_equal(rows, 1);
    assert_true(x[0] == 1 && x[1] == 2);
    nb_feature_reader_close(r);
    /* Without a label named, one column more is the last, as training's
     * default label column, and is skipped. */
    o.label = NULL;
    p = write_text("rows-wide.csv", "1,2,3\n");
    assert_ok(nb_feature_reader_open(p, &o, 2, &r));
    assert_ok(nb_feature_reader_read(r, x, 4, &rows));
    assert_int_equal(rows, 1);
    assert_true(x[0] == 1 && x[1] == 2);
    nb_feature_reader_close(r);
    /* Two more is an error. */
    p = write_text("rows-wider.csv", "1,2,3,4\n");
    assert_int_equal(nb_feature_reader_open(p, &o, 2, &r), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "line 1 has 4 columns");
    /* IDX images, gzip-compressed. */
    idx_buf img = good_images();
    p = write_temp("pred.gz", img.b, img.len, 1);
    /* Images of another size: both sizes in the message. */
    assert_int_equal(nb_feature_reader_open(p, &o, 3, &r), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "images of 2x2 (4 values), but 3 values are expected");
    assert_ok(nb_feature_reader_open(p, &o, 4, &r));
    assert_string_equal(info.format, "idx");
    assert_int_equal(info.gzip, 1);
    /* The geometry, for the model's check (nb_model_check_sample_shape). */
    assert_true(nb_shape_equal(nb_feature_reader_sample_shape(r), nb_shape3(1, 2, 2)));
    assert_ok(nb_feature_reader_read(r, x, 2, &rows));
    assert_int_equal(rows, 2);
    assert_true(x[4] == 10 && x[7] == 13);
    assert_ok(nb_feature_reader_read(r, x, 2, &rows));
    assert_int_equal(rows, 1);
    assert_true(x[3] == 255);
    nb_feature_reader_close(r);
}

/* -------------------------------------------------------------- built-ins */

static void test_builtin_xor(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_xor(&d));
    assert_int_equal(d.count, 4);
    assert_int_equal(d.features, 2);
    assert_int_equal(d.classes, 2);
    for (size_t i = 0; i < 4; i++) {
        int a = d.x[2 * i] != 0, b = d.x[2 * i + 1] != 0;
        assert_int_equal(d.labels[i], a != b);
    }
    /* All four corners appear once. */
    int seen = 0;
    for (size_t i = 0; i < 4; i++) seen |= 1 << (int)(d.x[2 * i] * 2 + d.x[2 * i + 1]);
    assert_int_equal(seen, 15);
    nb_dataset_free(&d);
}

static void test_builtin_spiral(void **state)
{
    (void)state;
    nb_dataset a, b;
    assert_ok(nb_dataset_spiral(50, 4, 7, &a));
    assert_int_equal(a.count, 200);
    assert_int_equal(a.classes, 4);
    for (size_t i = 0; i < a.count; i++) {
        /* The noise only turns the angle: point p of each arm has radius p / 49. */
        double r = hypot(a.x[2 * i], a.x[2 * i + 1]);
        assert_near(r, (double)(i % 50) / 49.0, 1e-6);
        assert_int_equal(a.labels[i], (int)(i / 50));
    }
    assert_ok(nb_dataset_spiral(50, 4, 7, &b));
    assert_memory_equal(a.x, b.x, 400 * sizeof(nb_real));
    nb_dataset_free(&b);
    assert_ok(nb_dataset_spiral(50, 4, 8, &b)); /* another seed, other noise */
    assert_memory_not_equal(a.x, b.x, 400 * sizeof(nb_real));
    nb_dataset_free(&a);
    nb_dataset_free(&b);
    assert_int_equal(nb_dataset_spiral(0, 3, 1, &a), NB_ERR_ARGUMENT);
}

static void test_builtin_sine(void **state)
{
    (void)state;
    const double pi = 3.14159265358979323846;
    nb_dataset d;
    assert_ok(nb_dataset_sine(5, 0, &d)); /* -pi, -pi/2, 0, pi/2, pi */
    assert_int_equal(d.classes, 0);
    assert_int_equal(d.targets, 1);
    assert_near(d.x[0], -pi, TOL);
    assert_near(d.x[1], -pi / 2, TOL);
    assert_near(d.x[4], pi, TOL);
    assert_near(d.y[1], -1.0, TOL);
    assert_near(d.y[3], 1.0, TOL);
    nb_dataset_free(&d);
    assert_ok(nb_dataset_sine(100, 9, &d));
    for (int i = 0; i < 100; i++) {
        assert_true(d.x[i] >= -pi - 1e-6 && d.x[i] <= pi + 1e-6);
        assert_near(d.y[i], sin(d.x[i]), TOL);
    }
    nb_dataset_free(&d);
}

static void test_builtin_body(void **state)
{
    (void)state;
    nb_dataset d;
    assert_ok(nb_dataset_body(&d));
    assert_int_equal(d.count, 9);
    assert_int_equal(d.features, 2);
    assert_int_equal(d.classes, 2);
    assert_string_equal(d.class_names[0], "male");
    assert_string_equal(d.class_names[1], "female");
    /* Lecture 004's first row: 180 cm, 83 kg, male; 5 of the 9 are male. */
    assert_true(d.x[0] == 180 && d.x[1] == 83);
    assert_int_equal(d.labels[0], 0);
    int male = 0;
    for (int i = 0; i < 9; i++) male += d.labels[i] == 0;
    assert_int_equal(male, 5);
    nb_dataset_free(&d);
}

/* ------------------------------------------------------- subsets, splits */

/* count samples with x = (i, -i) and label i % 3. */
static void make_indexed(nb_dataset *d, size_t count)
{
    memset(d, 0, sizeof *d);
    d->count = count;
    d->features = 2;
    d->classes = 3;
    d->x = nb_calloc(count * 2, sizeof(nb_real));
    d->labels = nb_calloc(count, sizeof(int32_t));
    assert_non_null(d->x);
    assert_non_null(d->labels);
    for (size_t i = 0; i < count; i++) {
        d->x[2 * i] = (nb_real)i;
        d->x[2 * i + 1] = -(nb_real)i;
        d->labels[i] = (int32_t)(i % 3);
    }
}

static void test_subset(void **state)
{
    (void)state;
    nb_dataset d, s;
    make_indexed(&d, 10);
    size_t idx[3] = {7, 2, 7};
    assert_ok(nb_dataset_subset(&d, idx, 3, &s));
    assert_int_equal(s.count, 3);
    assert_true(s.x[0] == 7 && s.x[1] == -7 && s.x[2] == 2 && s.x[4] == 7);
    assert_int_equal(s.labels[0], 1);
    assert_int_equal(s.labels[1], 2);
    nb_dataset_free(&s);
    /* Image geometry (2 channels of 1 x 1) goes with the samples. */
    d.channels = 2;
    d.rows = d.cols = 1;
    nb_dataset a, b;
    assert_ok(nb_dataset_subset(&d, idx, 3, &s));
    assert_ok(nb_dataset_split(&d, 0.5, 1, &a, &b));
    const nb_dataset *part[3] = {&s, &a, &b};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(part[i]->channels, 2);
        assert_int_equal(part[i]->rows, 1);
        assert_int_equal(part[i]->cols, 1);
    }
    nb_dataset_free(&s);
    nb_dataset_free(&a);
    nb_dataset_free(&b);
    idx[1] = 10;
    assert_int_equal(nb_dataset_subset(&d, idx, 3, &s), NB_ERR_ARGUMENT);
    assert_contains(nb_last_error(), "index[1] = 10");
    nb_dataset_free(&d);
}

static void test_split_disjoint_cover_seeded(void **state)
{
    (void)state;
    nb_dataset d, a, b, a2, b2;
    make_indexed(&d, 101);
    assert_ok(nb_dataset_split(&d, 0.7, 42, &a, &b));
    assert_int_equal(a.count, 71); /* round(70.7) */
    assert_int_equal(b.count, 30);
    int seen[101] = {0};
    for (size_t i = 0; i < a.count; i++) {
        int k = (int)a.x[2 * i];
        seen[k]++;
        assert_true(a.x[2 * i + 1] == -k); /* rows stay whole */
        assert_int_equal(a.labels[i], k % 3);
    }
    for (size_t i = 0; i < b.count; i++) seen[(int)b.x[2 * i]]++;
    for (int k = 0; k < 101; k++) assert_int_equal(seen[k], 1);
    /* Shuffled: the first part is not simply the first 71 samples. */
    int in_order = 1;
    for (size_t i = 0; i < a.count; i++) in_order &= a.x[2 * i] == (nb_real)i;
    assert_false(in_order);

    assert_ok(nb_dataset_split(&d, 0.7, 42, &a2, &b2));
    assert_memory_equal(a.x, a2.x, a.count * 2 * sizeof(nb_real));
    assert_memory_equal(b.x, b2.x, b.count * 2 * sizeof(nb_real));
    nb_dataset_free(&a2);
    nb_dataset_free(&b2);
    assert_ok(nb_dataset_split(&d, 0.7, 43, &a2, &b2));
    assert_memory_not_equal(a.x, a2.x, a.count * 2 * sizeof(nb_real));
    nb_dataset_free(&a2);
    nb_dataset_free(&b2);

    assert_ok(nb_dataset_split(&d, 0.0, 1, &a2, &b2));
    assert_int_equal(a2.count, 0);
    assert_int_equal(b2.count, 101);
    nb_dataset_free(&a2);
    nb_dataset_free(&b2);
    assert_int_equal(nb_dataset_split(&d, 1.5, 1, &a2, &b2), NB_ERR_ARGUMENT);
    assert_int_equal(nb_dataset_split(&d, NAN, 1, &a2, &b2), NB_ERR_ARGUMENT);

    nb_dataset_free(&a);
    nb_dataset_free(&b);
    nb_dataset_free(&d);
}

/* Sample i of d came from line line_of[(int)x0] of its CSV file. */
static void assert_lines(const nb_dataset *d, const size_t *line_of)
{
    assert_non_null(d->origin);
    assert_int_equal(d->origin_kind, NB_ORIGIN_LINE);
    for (size_t i = 0; i < d->count; i++)
        assert_int_equal(d->origin[i], line_of[(int)d->x[(size_t)d->features * i]]);
}

/* Each sample keeps the line of its CSV file (or the record of its IDX
 * file) through a subset, a shuffled split and nb_data_open's 70/30. */
static void test_origin_survives_subset_split(void **state)
{
    (void)state;
    /* A header, then rows k = 0..39 with blank lines among them. */
    char text[2048] = "k,v,label\n";
    size_t used = strlen(text), line = 1, line_of[40];
    for (int k = 0; k < 40; k++) {
        if (k % 7 == 3) {
            used += (size_t)snprintf(text + used, sizeof text - used, "\n");
            line++;
        }
        used += (size_t)snprintf(text + used, sizeof text - used, "%d,%d,%s\n", k, -k,
                                 k % 2 ? "odd" : "even");
        line_of[k] = ++line;
    }
    const char *path = write_text("origin.csv", text);
    nb_dataset d, s, a, b;
    assert_ok(nb_load_csv(path, NULL, &d));
    assert_int_equal(d.count, 40);
    assert_lines(&d, line_of);
    assert_int_equal(d.origin[0], 2);
    assert_int_equal(d.origin[39], line_of[39]);

    size_t idx[3] = {39, 3, 39};
    assert_ok(nb_dataset_subset(&d, idx, 3, &s));
    assert_lines(&s, line_of);
    assert_int_equal(s.origin[1], line_of[3]);
    nb_dataset_free(&s);
    assert_null(s.origin);

    assert_ok(nb_dataset_split(&d, 0.7, 42, &a, &b));
    assert_lines(&a, line_of);
    assert_lines(&b, line_of);
    int in_order = 1; /* shuffled: the test part's sample i is not the i-th row */
    for (size_t i = 0; i < b.count; i++) in_order &= b.origin[i] == line_of[i];
    assert_false(in_order);
    nb_dataset_free(&a);
    nb_dataset_free(&b);
    nb_dataset_free(&d);

    assert_ok(nb_data_open(path, NULL, 1, &a, &b));
    assert_lines(&a, line_of);
    assert_lines(&b, line_of);
    nb_dataset_free(&a);
    nb_dataset_free(&b);

    /* IDX: the 0-based record in the file. */
    idx_buf img = good_images(), lab = good_labels();
    assert_ok(nb_load_idx(write_temp("oimg", img.b, img.len, 0),
                          write_temp("olab", lab.b, lab.len, 0), &d));
    assert_int_equal(d.origin_kind, NB_ORIGIN_RECORD);
    size_t back[2] = {2, 0};
    assert_ok(nb_dataset_subset(&d, back, 2, &s));
    assert_int_equal(s.origin_kind, NB_ORIGIN_RECORD);
    assert_int_equal(s.origin[0], 2);
    assert_int_equal(s.origin[1], 0);
    nb_dataset_free(&s);
    nb_dataset_free(&d);

    /* Built-in and hand-made sets have none, and their parts neither. */
    make_indexed(&d, 10);
    assert_ok(nb_dataset_split(&d, 0.5, 1, &a, &b));
    assert_null(a.origin);
    assert_int_equal(b.origin_kind, NB_ORIGIN_NONE);
    nb_dataset_free(&a);
    nb_dataset_free(&b);
    nb_dataset_free(&d);
}

/* ---------------------------------------------------------- data sources */

static void test_data_open_builtins(void **state)
{
    (void)state;
    struct {
        const char *name;
        size_t train, test;
    } cases[] = {
        {"xor", 4, 4},       /* all four points in both parts */
        {"spiral", 210, 90}, /* 300 points, 70/30 */
        {"sine", 179, 77},   /* round(0.7 * 256) = 179 */
        {"body", 6, 3},      /* round(0.7 * 9) = 6 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_dataset tr, te;
        assert_ok(nb_data_open(cases[c].name, NULL, 5, &tr, &te));
        assert_int_equal(tr.count, cases[c].train);
        assert_int_equal(te.count, cases[c].test);
        assert_int_equal(tr.features, te.features);
        nb_dataset_free(&tr);
        nb_dataset_free(&te);
    }
    nb_dataset tr, te;
    assert_int_equal(nb_data_open("no-such-source", NULL, 1, &tr, &te), NB_ERR_NOT_FOUND);
    assert_contains(nb_last_error(), "no-such-source");
    assert_null(tr.x);
}

/* Names and indices: unnamed classes 0..K-1 match named expected classes by
 * index and the other way round, when the names are not numbers; every
 * sample of a source in one set; options for CSV refused elsewhere. */
static void test_data_open_names_by_index(void **state)
{
    (void)state;
    nb_dataset tr, te, all;
    char *named[] = {"no", "yes"};
    nb_csv_options o = {.header = -1, .class_names = named, .classes = 2};
    assert_ok(nb_data_open("xor", &o, 1, &tr, &te)); /* unnamed data, named model */
    assert_string_equal(te.class_names[1], "yes");
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
    nb_csv_options unnamed = {.header = -1, .classes = 2};
    assert_ok(nb_data_open("body", &unnamed, 1, &tr, &te)); /* named data, unnamed model */
    assert_int_equal(te.classes, 2);
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
    char *numbers[] = {"1", "2"}; /* number names: matched by value only */
    nb_csv_options num = {.header = -1, .class_names = numbers, .classes = 2};
    assert_int_equal(nb_data_open("xor", &num, 1, &tr, &te), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), "class \"0\"");
    assert_ok(nb_data_open_all("body", NULL, 1, &all));
    assert_int_equal(all.count, 9);
    nb_dataset_free(&all);
    assert_ok(nb_data_open_all("xor", NULL, 1, &all));
    assert_int_equal(all.count, 4);
    nb_dataset_free(&all);
    nb_csv_options head = {.header = 1};
    assert_int_equal(nb_data_open("spiral", &head, 1, &tr, &te), NB_ERR_ARGUMENT);
    assert_contains(nb_last_error(), "--header");
    nb_csv_options saved = {.header = -1, .label = "species", .label_saved = 1};
    assert_ok(nb_data_open("spiral", &saved, 1, &tr, &te)); /* a model's label: dropped */
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
}

static void test_data_open_csv_and_idx_dir(void **state)
{
    (void)state;
    char text[2048] = "a,b,label\n";
    for (int i = 0; i < 20; i++) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "%d,%d,%s\n", i, 2 * i, i % 2 ? "odd" : "even");
    }
    const char *p = write_text("twenty.csv", text);
    nb_dataset tr, te;
    assert_ok(nb_data_open(p, NULL, 3, &tr, &te));
    assert_int_equal(tr.count, 14);
    assert_int_equal(te.count, 6);
    assert_string_equal(tr.class_names[0], "even");
    for (size_t i = 0; i < tr.count; i++) assert_int_equal(tr.labels[i], (int)tr.x[2 * i] % 2);
    nb_dataset_free(&tr);
    nb_dataset_free(&te);

    /* A directory of IDX files, train plain and test gzip-compressed. */
    idx_buf img = good_images(), lab = good_labels();
    write_temp("train-images-idx3-ubyte", img.b, img.len, 0);
    write_temp("train-labels-idx1-ubyte", lab.b, lab.len, 0);
    write_temp("t10k-images-idx3-ubyte.gz", img.b, img.len, 1);
    write_temp("t10k-labels-idx1-ubyte.gz", lab.b, lab.len, 1);
    assert_ok(nb_data_open(temp_dir, NULL, 0, &tr, &te));
    check_good_idx(&tr);
    check_good_idx(&te);
    assert_null(tr.class_names);
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
    /* Test images of another shape with as many pixels are not the
     * training images: refused when the folder is opened. */
    uint32_t wide_dims[3] = {3, 1, 4};
    idx_buf wide = idx_make(0x00000803, 3, wide_dims, pixels, sizeof pixels);
    write_temp("t10k-images-idx3-ubyte.gz", wide.b, wide.len, 1);
    assert_int_equal(nb_data_open(temp_dir, NULL, 0, &tr, &te), NB_ERR_FORMAT);
    assert_contains(nb_last_error(), ": training images are 2x2, test images 1x4");
    assert_int_equal(nb_data_open_all(temp_dir, NULL, 0, &te), NB_ERR_FORMAT);
    write_temp("t10k-images-idx3-ubyte.gz", img.b, img.len, 1);

    /* "fashion-mnist" from $NABLA_DATA_DIR gets the ten class names. */
    const char *old = getenv("NABLA_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("NABLA_DATA_DIR", temp_dir, 1);
    nb_status st = nb_data_open("fashion-mnist", NULL, 0, &tr, &te);
    if (saved) {
        setenv("NABLA_DATA_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("NABLA_DATA_DIR");
    }
    assert_ok(st);
    assert_int_equal(tr.classes, 10);
    assert_string_equal(tr.class_names[0], "T-shirt/top");
    assert_string_equal(te.class_names[9], "Ankle boot");
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
}

/* The real set, when the dataset-fashion-mnist package is installed. First
 * labels computed once with:
 *   /usr/bin/python3 -c "import gzip; d='/usr/share/datasets/fashion-mnist/';
 *   print(list(gzip.open(d+'train-labels-idx1-ubyte.gz').read()[8:18]));
 *   im=gzip.open(d+'train-images-idx3-ubyte.gz').read(); print(sum(im[16:800]))"
 * and the same for t10k. */
static void test_fashion_mnist(void **state)
{
    (void)state;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    if (access(dir, R_OK) != 0) {
        print_message("skipped: %s is not installed\n", dir);
        skip();
    }
    const char *old = getenv("NABLA_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    unsetenv("NABLA_DATA_DIR");
    nb_dataset tr, te;
    nb_status st = nb_data_open("fashion-mnist", NULL, 0, &tr, &te);
    if (saved) {
        setenv("NABLA_DATA_DIR", saved, 1);
        free(saved);
    }
    assert_ok(st);
    assert_int_equal(tr.count, 60000);
    assert_int_equal(te.count, 10000);
    assert_int_equal(tr.features, 784);
    assert_int_equal(tr.channels, 1);
    assert_int_equal(tr.rows, 28);
    assert_int_equal(tr.cols, 28);
    assert_int_equal(tr.classes, 10);
    assert_string_equal(tr.class_names[9], "Ankle boot");
    const int train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    const int test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tr.labels[i], train_first[i]);
        assert_int_equal(te.labels[i], test_first[i]);
    }
    double sum = 0, sum_test = 0;
    for (int j = 0; j < 784; j++) {
        sum += tr.x[j];
        sum_test += te.x[j];
    }
    assert_true(sum == 76247);
    assert_true(sum_test == 33456);
    nb_dataset_free(&tr);
    nb_dataset_free(&te);
}

/* ---------------------------------------------------------- preprocessing */

/* Five training samples: f0 = 1, 2, 3, 4, 10 (mean 4, variance
 * (9 + 4 + 1 + 0 + 36) / 5 = 10); f1 = 7 everywhere; f2 = -5, 0, 5, 10, 15
 * (mean 5, variance (100 + 25 + 0 + 25 + 100) / 5 = 50). */
static void make_scaler_train(nb_dataset *d)
{
    static const double v[5][3] = {{1, 7, -5}, {2, 7, 0}, {3, 7, 5}, {4, 7, 10}, {10, 7, 15}};
    memset(d, 0, sizeof *d);
    d->count = 5;
    d->features = 3;
    d->classes = 2;
    d->x = nb_calloc(15, sizeof(nb_real));
    d->labels = nb_calloc(5, sizeof(int32_t));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) d->x[i * 3 + j] = (nb_real)v[i][j];
}

static void test_scaler_zscore(void **state)
{
    (void)state;
    nb_dataset d;
    make_scaler_train(&d);
    nb_scaler s;
    assert_ok(nb_scaler_fit(NB_SCALE_ZSCORE, &d, &s));
    assert_int_equal(s.features, 3);
    assert_near(s.offset[0], 4.0, TOL);
    assert_near(s.scale[0], 1 / sqrt(10.0), TOL);
    assert_true(s.scale[1] == 1); /* constant: no division by zero */
    assert_near(s.offset[2], 5.0, TOL);
    assert_near(s.scale[2], 1 / sqrt(50.0), TOL);
    /* Applied to samples the scaler never saw. */
    nb_real x[6] = {19, 8, 0, 4, 7, 55};
    nb_scaler_apply(&s, x, 2);
    assert_near(x[0], 15 / sqrt(10.0), TOL);
    assert_near(x[1], 1.0, TOL);
    assert_near(x[2], -5 / sqrt(50.0), TOL);
    assert_near(x[3], 0.0, TOL);
    assert_near(x[4], 0.0, TOL);
    assert_near(x[5], 50 / sqrt(50.0), TOL);
    /* The training set itself gets mean 0 and deviation 1 per feature. */
    nb_scaler_apply(&s, d.x, d.count);
    double m = 0, q = 0;
    for (int i = 0; i < 5; i++) m += d.x[i * 3 + 2];
    for (int i = 0; i < 5; i++) q += d.x[i * 3 + 2] * d.x[i * 3 + 2];
    assert_near(m / 5, 0.0, TOL);
    assert_near(q / 5, 1.0, 10 * TOL);

    nb_scaler c;
    assert_ok(nb_scaler_copy(&s, &c));
    assert_int_equal(c.kind, NB_SCALE_ZSCORE);
    assert_memory_equal(c.scale, s.scale, 3 * sizeof(nb_real));
    assert_true(c.scale != s.scale);
    nb_scaler_free(&c);
    nb_scaler_free(&s);
    assert_null(s.scale);
    nb_dataset_free(&d);
}

static void test_scaler_minmax_unit(void **state)
{
    (void)state;
    nb_dataset d;
    make_scaler_train(&d);
    nb_scaler s;
    assert_ok(nb_scaler_fit(NB_SCALE_MINMAX, &d, &s));
    nb_real x[3] = {5.5, 9, 15};
    nb_scaler_apply(&s, x, 1);
    assert_near(x[0], (5.5 - 1) / 9, TOL); /* (x - min) / (max - min) */
    assert_near(x[1], 2.0, TOL);           /* constant 7: x - 7, scale 1 */
    assert_near(x[2], 1.0, TOL);
    nb_scaler_free(&s);

    assert_ok(nb_scaler_fit(NB_SCALE_UNIT, &d, &s));
    nb_real px[3] = {255, 51, 0};
    nb_scaler_apply(&s, px, 1);
    assert_near(px[0], 1.0, TOL);
    assert_near(px[1], 0.2, TOL);
    assert_true(px[2] == 0);
    nb_scaler_free(&s);

    assert_ok(nb_scaler_fit(NB_SCALE_NONE, &d, &s));
    nb_real same[3] = {1.25, -3, 8};
    nb_scaler_apply(&s, same, 1);
    assert_true(same[0] == (nb_real)1.25 && same[1] == -3 && same[2] == 8);
    nb_scaler_free(&s);
    nb_dataset_free(&d);
}

/* Large offsets: float sums would lose the spread; double ones keep it. */
static void test_scaler_large_offset(void **state)
{
    (void)state;
    nb_dataset d;
    memset(&d, 0, sizeof d);
    d.count = 100000;
    d.features = 1;
    d.classes = 1;
    d.x = nb_calloc(d.count, sizeof(nb_real));
    d.labels = nb_calloc(d.count, sizeof(int32_t));
    /* 1000 + (i % 2): mean 1000.5, deviation exactly 0.5. */
    for (size_t i = 0; i < d.count; i++) d.x[i] = (nb_real)(1000 + (i % 2));
    nb_scaler s;
    assert_ok(nb_scaler_fit(NB_SCALE_ZSCORE, &d, &s));
    assert_near(s.offset[0], 1000.5, TOL);
    assert_near(s.scale[0], 2.0, TOL);
    nb_scaler_free(&s);
    nb_dataset_free(&d);
}

static void test_scale_names_and_one_hot(void **state)
{
    (void)state;
    nb_scale_kind k;
    const nb_scale_kind all[4] = {NB_SCALE_NONE, NB_SCALE_UNIT, NB_SCALE_MINMAX, NB_SCALE_ZSCORE};
    for (int i = 0; i < 4; i++) {
        assert_ok(nb_scale_parse(nb_scale_name(all[i]), &k));
        assert_int_equal(k, all[i]);
    }
    assert_string_equal(nb_scale_name(NB_SCALE_ZSCORE), "zscore");
    assert_int_equal(nb_scale_parse("bogus", &k), NB_ERR_NOT_FOUND);
    assert_contains(nb_last_error(), "bogus");

    int32_t labels[3] = {2, 0, 1};
    nb_real out[9];
    nb_one_hot(labels, 3, 3, out);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) assert_true(out[i * 3 + j] == (j == labels[i] ? 1 : 0));
}

/* ----------------------------------------------------- failing memory */

static long alloc_calls, fail_at;

static void *failing_malloc(size_t size, void *user)
{
    (void)user;
    return alloc_calls++ == fail_at ? NULL : malloc(size);
}

static void *failing_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    return alloc_calls++ == fail_at ? NULL : realloc(ptr, size);
}

static void plain_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

/* Make each allocation fail in turn: every loader returns NB_ERR_MEMORY and
 * frees what it had (the sanitizer build reports any leak). */
static void test_out_of_memory(void **state)
{
    (void)state;
    const char *csv = write_text("oom.csv", "h,w,sex\n1,2,m\n3,4,f\n5,6,m\n");
    idx_buf img = good_images(), lab = good_labels();
    const char *ip = write_temp("img.gz", img.b, img.len, 1);
    const char *lp = write_temp("lab", lab.b, lab.len, 0);
    const nb_allocator failing = {failing_malloc, failing_realloc, plain_free, NULL};
    for (int which = 0; which < 5; which++) {
        int failures = 0;
        for (fail_at = 0;; fail_at++) {
            nb_dataset a, b;
            memset(&b, 0, sizeof b);
            alloc_calls = 0;
            nb_set_allocator(&failing);
            nb_status st;
            if (which == 0)
                st = nb_load_csv(csv, NULL, &a);
            else if (which == 1)
                st = nb_load_idx(ip, lp, &a);
            else if (which == 2)
                st = nb_data_open("body", NULL, 1, &a, &b);
            else if (which == 4) /* a split that carries the lines */
                st = nb_data_open(csv, NULL, 1, &a, &b);
            else {
                nb_dataset d;
                nb_set_allocator(NULL);
                assert_ok(nb_dataset_body(&d));
                nb_set_allocator(&failing);
                nb_scaler s;
                st = nb_scaler_fit(NB_SCALE_ZSCORE, &d, &s);
                nb_set_allocator(NULL);
                nb_dataset_free(&d);
                if (!st) nb_scaler_free(&s);
                memset(&a, 0, sizeof a);
            }
            nb_set_allocator(NULL);
            if (alloc_calls <= fail_at) { /* no allocation failed: done */
                assert_ok(st);
                nb_dataset_free(&a);
                nb_dataset_free(&b);
                break;
            }
            if (st != NB_ERR_MEMORY)
                fail_msg("case %d, allocation %ld failing: got %s: %s", which, fail_at,
                         nb_status_name(st), nb_last_error());
            assert_null(a.x);
            assert_null(b.x);
            failures++;
        }
        assert_true(failures > 0);
    }
}

/* The fingerprint eval compares: equal for the same samples, whether the
 * classes are named "0".."K-1" or unnamed; different for any change. */
static void test_fingerprint(void **state)
{
    (void)state;
    nb_dataset a, b;
    assert_ok(nb_dataset_xor(&a));
    assert_ok(nb_dataset_xor(&b));
    uint64_t h = nb_dataset_fingerprint(&a);
    assert_int_equal(h, nb_dataset_fingerprint(&b));
    /* Unnamed classes hash as their indices in decimal. */
    char *names[2] = {"0", "1"};
    char **saved = b.class_names;
    b.class_names = NULL;
    uint64_t unnamed = nb_dataset_fingerprint(&b);
    b.class_names = names;
    assert_int_equal(nb_dataset_fingerprint(&b), unnamed);
    b.class_names = saved;
    b.x[3] = (nb_real)(b.x[3] + 0.5f);
    assert_true(nb_dataset_fingerprint(&b) != h);
    b.x[3] = a.x[3];
    b.labels[0] = 1 - b.labels[0];
    assert_true(nb_dataset_fingerprint(&b) != h);
    b.labels[0] = a.labels[0];
    b.count = 3; /* the first 3 samples */
    assert_true(nb_dataset_fingerprint(&b) != h);
    b.count = 4;
    assert_int_equal(nb_dataset_fingerprint(&b), h);
    /* Empty sets agree, whatever their arrays. */
    assert_int_equal(nb_dataset_fingerprint(NULL), nb_dataset_fingerprint(&(nb_dataset){0}));
    nb_dataset_free(&a);
    nb_dataset_free(&b);
}

/* Images keep their geometry for the model; anything else is a vector. */
static void test_sample_shape(void **state)
{
    (void)state;
    nb_dataset d = {0};
    d.features = 12;
    assert_true(nb_shape_equal(nb_dataset_sample_shape(&d), nb_shape1(12)));
    d.channels = 3;
    d.rows = 2;
    d.cols = 2;
    assert_true(nb_shape_equal(nb_dataset_sample_shape(&d), nb_shape3(3, 2, 2)));
    d.cols = 5; /* does not multiply to the features */
    assert_true(nb_shape_equal(nb_dataset_sample_shape(&d), nb_shape1(12)));
    assert_int_equal(nb_shape_count(nb_dataset_sample_shape(NULL)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_shape),
        cmocka_unit_test(test_idx_valid_plain_and_gzip),
        cmocka_unit_test(test_idx_vectors),
        cmocka_unit_test(test_idx_bad_magic),
        cmocka_unit_test(test_idx_truncated),
        cmocka_unit_test(test_idx_count_mismatch),
        cmocka_unit_test(test_idx_absurd_dimensions),
        cmocka_unit_test(test_idx_trailing_bytes),
        cmocka_unit_test(test_csv_header_text_labels),
        cmocka_unit_test(test_csv_no_header_integer_labels),
        cmocka_unit_test(test_csv_label_by_name_and_index),
        cmocka_unit_test(test_csv_regression),
        cmocka_unit_test(test_csv_quotes_crlf_blank_line),
        cmocka_unit_test(test_csv_bad_cells),
        cmocka_unit_test(test_csv_messages_escaped),
        cmocka_unit_test(test_csv_ragged_empty_header_only),
        cmocka_unit_test(test_csv_line_too_long),
        cmocka_unit_test(test_csv_bom_crlf_delimiters),
        cmocka_unit_test(test_csv_header_never_swallows_data),
        cmocka_unit_test(test_csv_label_after_header),
        cmocka_unit_test(test_csv_integer_and_one_class),
        cmocka_unit_test(test_csv_expected_classes),
        cmocka_unit_test(test_data_open_test_classes_in_training),
        cmocka_unit_test(test_claimed_sizes_not_allocated),
        cmocka_unit_test(test_content_decides_format),
        cmocka_unit_test(test_feature_reader),
        cmocka_unit_test(test_builtin_xor),
        cmocka_unit_test(test_builtin_spiral),
        cmocka_unit_test(test_builtin_sine),
        cmocka_unit_test(test_builtin_body),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_split_disjoint_cover_seeded),
        cmocka_unit_test(test_origin_survives_subset_split),
        cmocka_unit_test(test_data_open_builtins),
        cmocka_unit_test(test_data_open_names_by_index),
        cmocka_unit_test(test_data_open_csv_and_idx_dir),
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_scaler_zscore),
        cmocka_unit_test(test_scaler_minmax_unit),
        cmocka_unit_test(test_scaler_large_offset),
        cmocka_unit_test(test_scale_names_and_one_hot),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_data_files),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, make_temp_dir, remove_temp_dir);
}
