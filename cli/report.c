/* The HTML training report (see report.h). Everything is inline: CSS, SVG
 * charts, and test images as 8-bit BMP data URIs, so the file opens
 * anywhere without fetching anything. */
#include "report.h"

#include "cli.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRID_IMAGES         36 /* test images shown */
#define HEATMAP_MAX         50 /* classes up to which the confusion matrix is drawn */
#define STR_(x)             #x
#define STR(x)              STR_(x)
#define CONV_CHANNELS_SHOWN 3  /* channels of each first-convolution filter drawn */
#define CONV_FILTERS_SHOWN  64 /* filters drawn */
#define CONV_MAPS_SHOWN     16 /* feature maps drawn per test image */
#define COLOR_TRAIN         "#1f77b4"
#define COLOR_VAL           "#ff7f0e"
#define COLOR_MISTAKE       "#d62728"

/* ----------------------------------------------------------------- text */

static void put_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *class_name(const cli_report *r, int i, char *buf, size_t size)
{
    return cli_class_name(r->class_names, r->classes, i, buf, size);
}

/* --------------------------------------------------------------- charts */

typedef struct chart_line {
    const char *name, *color;
    const double *y; /* n values; negative or NaN: no point */
} chart_line;

/* A "nice" step (1, 2 or 5 times a power of ten) near range / ticks. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void put_number_label(FILE *f, double v, double step)
{
    /* As many decimals as the step needs. */
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (decimals > 6) decimals = 6;
    fprintf(f, "%.*f", decimals, fabs(v) < step * 1e-9 ? 0.0 : v);
}

#define CW 520 /* chart size and margins, in SVG units */
#define CH 300
#define ML 64
#define MR 16
#define MT 50 /* room for the title and the legend above the plot */
#define MB 44

/* A line chart of lines over x = 1..n with axes, ticks and a legend. */
static void line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel,
                       const chart_line *lines, int n_lines, int n, int is_percent)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int l = 0; l < n_lines; l++)
        for (int i = 0; i < n; i++) {
            double v = lines[l].y[i];
            if (isfinite(v) && v >= 0) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
    fprintf(f,
            "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"",
            CW, CH, CW, CH);
    put_escaped(f, title);
    fprintf(f, "\">\n<text x=\"%d\" y=\"20\" class=\"title\">", CW / 2);
    put_escaped(f, title);
    fputs("</text>\n", f);
    if (!isfinite(lo)) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\">no values</text></svg>\n", CW / 2,
                CH / 2);
        return;
    }
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double pad = fmax(fabs(hi) * 0.05, 1e-3);
        lo -= pad;
        hi += pad;
    }
    double step = nice_step(hi - lo, 5);
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
    if (is_percent && hi > 100) hi = 100;
    if (lo < 0 && is_percent) lo = 0;
    int pw = CW - ML - MR, ph = CH - MT - MB;
    double x_hi = n > 1 ? n : 2;
#define PX(x) (ML + ((x)-1) / (x_hi - 1) * pw)
#define PY(y) (MT + (hi - (y)) / (hi - lo) * ph)
    /* Grid and y ticks. */
    for (double t = lo; t <= hi + step * 1e-6; t += step) {
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", ML,
                ML + pw, PY(t), PY(t));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"ytick\">", ML - 6, PY(t) + 4);
        put_number_label(f, t, step);
        fputs("</text>\n", f);
    }
    /* x ticks on whole epochs. */
    /* Epoch 1, then multiples of a nice step. */
    int xstep = n <= 10 ? 1 : (int)ceil(nice_step(n - 1, 8));
    for (int e = 1; e <= (int)x_hi; e = e == 1 && xstep > 1 ? xstep : e + xstep) {
        if (e > n && e != 1) break;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>", PX(e),
                PX(e), MT + ph, MT + ph + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xtick\">%d</text>\n", PX(e), MT + ph + 18, e);
    }
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>", ML, ML + pw,
            MT + ph, MT + ph);
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>\n", ML, ML, MT,
            MT + ph);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"xlabel\">", ML + pw / 2, CH - 6);
    put_escaped(f, xlabel);
    fprintf(f, "</text><text transform=\"translate(14 %d) rotate(-90)\" class=\"ylabel\">",
            MT + ph / 2);
    put_escaped(f, ylabel);
    fputs("</text>\n", f);
    /* The lines, with dots while there are few epochs. */
    for (int l = 0; l < n_lines; l++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                lines[l].color);
        for (int i = 0; i < n; i++) {
            double v = lines[l].y[i];
            if (isfinite(v) && v >= 0) fprintf(f, "%.1f,%.1f ", PX(i + 1), PY(v));
        }
        fputs("\"/>\n", f);
        for (int i = 0; i < n && n <= 40; i++) {
            double v = lines[l].y[i];
            if (isfinite(v) && v >= 0)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(i + 1),
                        PY(v), lines[l].color);
        }
        /* The legend, in a row between the title and the plot. */
        int lx = ML + pw / 2 - 60 * n_lines + 120 * l, ly = MT - 14;
        fprintf(f,
                "\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"3\"/>",
                lx, lx + 22, ly - 4, ly - 4, lines[l].color);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"legend\">", lx + 28, ly);
        put_escaped(f, lines[l].name);
        fputs("</text>\n", f);
    }
#undef PX
#undef PY
    fputs("</svg>\n", f);
}

static void history_charts(FILE *f, const cli_report *r)
{
    const nb_train_result *res = r->result;
    int n = res->epochs_run;
    double *buf = nb_calloc((size_t)(n > 0 ? n : 1) * 4, sizeof *buf);
    if (!buf) return;
    double *tl = buf, *vl = buf + n, *ta = buf + 2 * n, *va = buf + 3 * n;
    int have_val = 0;
    for (int i = 0; i < n; i++) {
        const nb_epoch_stats *s = &res->history[i];
        tl[i] = s->train_loss;
        vl[i] = s->val_loss;
        ta[i] = s->train_accuracy >= 0 ? 100 * s->train_accuracy : -1;
        va[i] = s->val_accuracy >= 0 ? 100 * s->val_accuracy : -1;
        have_val |= s->val_loss >= 0;
    }
    chart_line loss[2] = {{"train", COLOR_TRAIN, tl}, {"validation", COLOR_VAL, vl}};
    chart_line acc[2] = {{"train", COLOR_TRAIN, ta}, {"validation", COLOR_VAL, va}};
    char ylabel[96];
    snprintf(ylabel, sizeof ylabel, "loss (%s)", r->loss);
    fputs("<h2>Training curves</h2>\n<div class=\"charts\">\n", f);
    line_chart(f, "Loss per epoch", "epoch", ylabel, loss, have_val ? 2 : 1, n, 0);
    if (r->classes > 0)
        line_chart(f, "Accuracy per epoch", "epoch", "accuracy (%)", acc, have_val ? 2 : 1, n, 1);
    fputs("</div>\n", f);
    nb_free(buf);
}

/* --------------------------------------------------- regression picture */

typedef struct xy_pair {
    double x, y, p;
} xy_pair;

static int by_x(const void *a, const void *b)
{
    double d = ((const xy_pair *)a)->x - ((const xy_pair *)b)->x;
    return (d > 0) - (d < 0);
}

/* One input, one target: the test points and the model's curve. */
static void regression_chart(FILE *f, const cli_report *r)
{
    const nb_dataset *t = r->test;
    if (t->features != 1 || t->targets != 1 || !r->test_raw_x || !r->test_predictions ||
        !t->count || !t->y)
        return;
    xy_pair *pts = nb_calloc(t->count, sizeof *pts);
    if (!pts) return;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < t->count; i++) {
        pts[i] = (xy_pair){r->test_raw_x[i], t->y[i], r->test_predictions[i]};
        xlo = fmin(xlo, pts[i].x);
        xhi = fmax(xhi, pts[i].x);
        ylo = fmin(ylo, fmin(pts[i].y, pts[i].p));
        yhi = fmax(yhi, fmax(pts[i].y, pts[i].p));
    }
    qsort(pts, t->count, sizeof *pts, by_x);
    if (!(xhi > xlo)) xhi = xlo + 1;
    if (!(yhi > ylo)) yhi = ylo + 1;
    double xs = nice_step(xhi - xlo, 6), ys = nice_step(yhi - ylo, 5);
    xlo = floor(xlo / xs) * xs, xhi = ceil(xhi / xs) * xs;
    ylo = floor(ylo / ys) * ys, yhi = ceil(yhi / ys) * ys;
    int pw = CW - ML - MR, ph = CH - MT - MB;
#define PX(x) (ML + ((x)-xlo) / (xhi - xlo) * pw)
#define PY(y) (MT + (yhi - (y)) / (yhi - ylo) * ph)
    fputs("<h2>Fit on the test part</h2>\n<div class=\"charts\">\n", f);
    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n", CW, CH,
            CW, CH);
    fprintf(f, "<text x=\"%d\" y=\"20\" class=\"title\">Test targets and predictions</text>\n",
            CW / 2);
    for (double v = ylo; v <= yhi + ys * 1e-6; v += ys) {
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", ML,
                ML + pw, PY(v), PY(v));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"ytick\">", ML - 6, PY(v) + 4);
        put_number_label(f, v, ys);
        fputs("</text>\n", f);
    }
    for (double v = xlo; v <= xhi + xs * 1e-6; v += xs) {
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>", PX(v),
                PX(v), MT + ph, MT + ph + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xtick\">", PX(v), MT + ph + 18);
        put_number_label(f, v, xs);
        fputs("</text>\n", f);
    }
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>", ML, ML + pw,
            MT + ph, MT + ph);
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>\n", ML, ML, MT,
            MT + ph);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"xlabel\">input</text>", ML + pw / 2, CH - 6);
    fprintf(f, "<text transform=\"translate(14 %d) rotate(-90)\" class=\"ylabel\">output</text>\n",
            MT + ph / 2);
    for (size_t i = 0; i < t->count; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#888\"/>", PX(pts[i].x),
                PY(pts[i].y));
    fprintf(f, "\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", COLOR_VAL);
    for (size_t i = 0; i < t->count; i++) fprintf(f, "%.1f,%.1f ", PX(pts[i].x), PY(pts[i].p));
    fputs("\"/>\n", f);
    int lx = ML + pw / 2 - 120, ly = MT - 14;
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"#888\"/>", lx + 11, ly - 4);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"legend\">test target</text>", lx + 28, ly);
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>",
            lx + 120, lx + 142, ly - 4, ly - 4, COLOR_VAL);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"legend\">prediction</text>\n", lx + 148, ly);
#undef PX
#undef PY
    fputs("</svg>\n</div>\n", f);
    nb_free(pts);
}

/* ------------------------------------------------- confusion, precision */

static void confusion_table(FILE *f, const cli_report *r)
{
    const nb_metrics *m = r->metrics;
    int c = m->classes;
    char buf[32];
    fputs("<h2>Confusion matrix</h2>\n", f);
    if (c > HEATMAP_MAX) {
        fprintf(f,
                "<p class=\"note\">%d classes: too many to draw; see <code>nabla eval "
                "--json</code>.</p>\n",
                c);
        return;
    }
    fputs("<p class=\"note\">Rows: true class; columns: predicted class. A cell's colour is its "
          "share of the row: blue on the diagonal (right), red off it (wrong).</p>\n",
          f);
    fputs("<table class=\"confusion\">\n<tr><th class=\"corner\">true \\ predicted</th>", f);
    for (int j = 0; j < c; j++) {
        fputs("<th class=\"col\"><span>", f);
        put_escaped(f, class_name(r, j, buf, sizeof buf));
        fputs("</span></th>", f);
    }
    fputs("</tr>\n", f);
    for (int i = 0; i < c; i++) {
        const size_t *row = m->confusion + (size_t)i * (size_t)c;
        size_t total = 0;
        for (int j = 0; j < c; j++) total += row[j];
        fputs("<tr><th class=\"row\">", f);
        put_escaped(f, class_name(r, i, buf, sizeof buf));
        fputs("</th>", f);
        for (int j = 0; j < c; j++) {
            double share = total ? (double)row[j] / (double)total : 0;
            /* Diagonal blue, mistakes red; white text on dark cells. */
            const char *rgb = i == j ? "31,119,180" : "214,39,40";
            double alpha = row[j] ? 0.08 + 0.92 * share : 0;
            fprintf(f, "<td style=\"background:rgba(%s,%.3f)%s\" title=\"%zu of %zu\">%zu</td>",
                    rgb, alpha, alpha > 0.55 ? ";color:#fff" : "", row[j], total, row[j]);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void precision_table(FILE *f, const cli_report *r)
{
    const nb_metrics *m = r->metrics;
    int c = m->classes;
    char buf[32];
    fputs("<h2>Per-class precision and recall</h2>\n<table class=\"metrics\">\n"
          "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n",
          f);
    for (int i = 0; i < c; i++) {
        size_t support = 0;
        for (int j = 0; j < c; j++) support += m->confusion[(size_t)i * (size_t)c + (size_t)j];
        double p = m->precision[i], q = m->recall[i];
        double f1 = p + q > 0 ? 2 * p * q / (p + q) : 0; /* harmonic mean */
        fputs("<tr><td>", f);
        put_escaped(f, class_name(r, i, buf, sizeof buf));
        fprintf(f, "</td>");
        double v[3] = {p, q, f1};
        for (int k = 0; k < 3; k++)
            fprintf(f, "<td><div class=\"bar\"><span style=\"width:%.1f%%\"></span></div>%.4f</td>",
                    isfinite(v[k]) ? 100 * v[k] : 0, v[k]);
        fprintf(f, "<td>%zu</td></tr>\n", support);
    }
    fputs("</table>\n", f);
}

/* ---------------------------------------------------------- image grid */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64[v & 63] : '=', f);
    }
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* An 8-bit grey BMP of one image as a data URI: 14-byte file header,
 * 40-byte info header, 256-entry grey palette, rows bottom-up, each padded
 * to 4 bytes. Unless stretch is set, values in 0..255 are shown as they
 * are; others are stretched from their minimum (black) to their maximum
 * (white). */
static void put_bmp(FILE *f, const nb_real *x, int rows, int cols, int stretch)
{
    size_t stride = ((size_t)cols + 3) & ~(size_t)3;
    size_t offset = 14 + 40 + 1024, size = offset + stride * (size_t)rows;
    unsigned char *b = nb_calloc(size, 1);
    if (!b) return;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < rows * cols; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    int raw = !stretch && lo >= 0 && hi <= 255 && hi > 1;
    b[0] = 'B', b[1] = 'M';
    put_u32(b + 2, (uint32_t)size);
    put_u32(b + 10, (uint32_t)offset);
    put_u32(b + 14, 40);
    put_u32(b + 18, (uint32_t)cols);
    put_u32(b + 22, (uint32_t)rows);
    b[26] = 1; /* planes */
    b[28] = 8; /* bits per pixel */
    put_u32(b + 34, (uint32_t)(stride * (size_t)rows));
    put_u32(b + 46, 256); /* palette entries */
    for (int i = 0; i < 256; i++) b[54 + 4 * i] = b[55 + 4 * i] = b[56 + 4 * i] = (unsigned char)i;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double v = x[r * cols + c];
            v = raw ? v : hi > lo ? 255 * (v - lo) / (hi - lo) : 0;
            b[offset + (size_t)(rows - 1 - r) * stride + (size_t)c] =
                (unsigned char)fmin(255, fmax(0, v + 0.5));
        }
    fputs("data:image/bmp;base64,", f);
    put_base64(f, b, size);
    nb_free(b);
}

static void image_grid(FILE *f, const cli_report *r)
{
    const nb_dataset *t = r->test;
    const nb_metrics *m = r->metrics;
    if (t->rows <= 0 || t->cols <= 0 || (size_t)t->rows * (size_t)t->cols != (size_t)t->features ||
        !r->test_raw_x || !m->predicted || !t->labels || t->rows > 256 || t->cols > 256)
        return;
    size_t pick[GRID_IMAGES];
    int n = 0, mistakes = 0;
    /* Mistakes first (at most two thirds of the grid while right answers
     * remain), then right answers, then more mistakes; in test order. */
    size_t right = 0;
    for (size_t i = 0; i < t->count; i++) right += m->predicted[i] == t->labels[i];
    int room = right >= GRID_IMAGES / 3 ? GRID_IMAGES - GRID_IMAGES / 3 : GRID_IMAGES - (int)right;
    size_t next = 0; /* after the last mistake picked */
    for (size_t i = 0; i < t->count && n < room; i++)
        if (m->predicted[i] != t->labels[i]) pick[n++] = i, next = i + 1;
    mistakes = n;
    for (size_t i = 0; i < t->count && n < GRID_IMAGES; i++)
        if (m->predicted[i] == t->labels[i]) pick[n++] = i;
    for (size_t i = next; i < t->count && n < GRID_IMAGES; i++)
        if (m->predicted[i] != t->labels[i]) pick[n++] = i, mistakes++;
    fprintf(f,
            "<h2>Test images</h2>\n<p class=\"note\">%d test images: %d mistakes (in red, "
            "first) and %d right answers.</p>\n<div class=\"grid\">\n",
            n, mistakes, n - mistakes);
    char b1[32], b2[32];
    int scale = 84 / (t->cols > t->rows ? t->cols : t->rows);
    if (scale < 1) scale = 1;
    for (int k = 0; k < n; k++) {
        size_t i = pick[k];
        int wrong = m->predicted[i] != t->labels[i];
        fprintf(f,
                "<figure class=\"%s\"><img alt=\"test image %zu\" width=\"%d\" height=\"%d\" "
                "src=\"",
                wrong ? "wrong" : "right", i, t->cols * scale, t->rows * scale);
        put_bmp(f, r->test_raw_x + i * (size_t)t->features, t->rows, t->cols, 0);
        fputs("\"><figcaption>true: ", f);
        put_escaped(f, class_name(r, t->labels[i], b1, sizeof b1));
        fputs("<br>predicted: <b>", f);
        put_escaped(f, class_name(r, m->predicted[i], b2, sizeof b2));
        fputs("</b></figcaption></figure>\n", f);
    }
    fputs("</div>\n", f);
}

/* One small image scaled up to about px pixels on its longer side. */
static void put_small_image(FILE *f, const nb_real *x, int rows, int cols, int px, int stretch,
                            const char *alt)
{
    int scale = px / (cols > rows ? cols : rows);
    if (scale < 1) scale = 1;
    fprintf(f, "<img alt=\"%s\" width=\"%d\" height=\"%d\" src=\"", alt, cols * scale,
            rows * scale);
    put_bmp(f, x, rows, cols, stretch);
    fputs("\">", f);
}

/* The first convolution's filters as small images (each channel of each
 * filter stretched from its most negative weight, black, to its most
 * positive, white), then its feature maps for a few test images. */
static void conv_section(FILE *f, const cli_report *r)
{
    const cli_conv_view *v = r->conv;
    if (!v || !v->filters || v->filters_shape.ndim != 4) return;
    const nb_dataset *t = r->test;
    int nf = v->filters_shape.dim[0], nc = v->filters_shape.dim[1], kh = v->filters_shape.dim[2],
        kw = v->filters_shape.dim[3];
    int shown_c = nc < CONV_CHANNELS_SHOWN ? nc : CONV_CHANNELS_SHOWN;
    int shown_f = nf < CONV_FILTERS_SHOWN ? nf : CONV_FILTERS_SHOWN;
    fprintf(f,
            "<h2>What the first convolution learned</h2>\n<p class=\"note\">Its %d %s "
            "(%d&times;%d, %d input %s%s)%s, each stretched from its most negative weight "
            "(black) to its most positive (white).</p>\n<div class=\"grid filters\">\n",
            nf, nb_plural(nf, "filter", "filters"), kh, kw, nc,
            nb_plural(nc, "channel", "channels"), shown_c < nc ? "; the first ones shown" : "",
            shown_f < nf ? "; the first " STR(CONV_FILTERS_SHOWN) " shown" : "");
    for (int k = 0; k < shown_f; k++) {
        fputs("<figure class=\"filter\">", f);
        for (int c = 0; c < shown_c; c++)
            put_small_image(f, v->filters + ((size_t)k * nc + c) * (size_t)kh * kw, kh, kw, 36, 1,
                            "filter");
        fprintf(f, "<figcaption>%d</figcaption></figure>\n", k);
    }
    fputs("</div>\n", f);
    if (!v->maps || v->maps_shape.ndim != 3 || v->map_images < 1 || !r->test_raw_x) return;
    int mh = v->maps_shape.dim[1], mw = v->maps_shape.dim[2];
    size_t per_image = (size_t)nf * mh * mw;
    int geometry = t->rows > 0 && t->cols > 0 && t->rows <= 256 && t->cols <= 256 &&
                   (size_t)t->rows * t->cols == (size_t)t->features;
    int shown_m = nf < CONV_MAPS_SHOWN ? nf : CONV_MAPS_SHOWN;
    fprintf(f,
            "<p class=\"note\">%s%d feature maps (outputs %d&times;%d, before the "
            "activation) for the first %d test %s, each map stretched from its lowest value "
            "(black) to its highest (white).</p>\n",
            shown_m < nf ? "The first " : "Its ", shown_m, mh, mw, v->map_images,
            nb_plural(v->map_images, "image", "images"));
    for (int i = 0; i < v->map_images; i++) {
        fputs("<div class=\"grid maps\">", f);
        if (geometry) {
            fputs("<figure class=\"filter\">", f);
            put_small_image(f, r->test_raw_x + (size_t)i * t->features, t->rows, t->cols, 56, 0,
                            "test image");
            fprintf(f, "<figcaption>test image %d</figcaption></figure>", i);
        }
        for (int k = 0; k < shown_m; k++) {
            fputs("<figure class=\"filter\">", f);
            put_small_image(f, v->maps + (size_t)i * per_image + (size_t)k * mh * mw, mh, mw, 56, 1,
                            "feature map");
            fprintf(f, "<figcaption>%d</figcaption></figure>", k);
        }
        fputs("</div>\n", f);
    }
}

/* ------------------------------------------------------------- summary */

static void settings_table(FILE *f, const cli_report *r)
{
    cJSON *j = r->settings_json ? cJSON_Parse(r->settings_json) : NULL;
    if (!j) return;
    fputs("<h2>Settings</h2>\n<table class=\"settings\">\n", f);
    for (cJSON *it = j->child; it; it = it->next) {
        fputs("<tr><th>", f);
        put_escaped(f, it->string);
        fputs("</th><td>", f);
        if (cJSON_IsString(it)) {
            put_escaped(f, it->valuestring);
        } else if (cJSON_IsNumber(it)) {
            fprintf(f, "%.6g", it->valuedouble);
        } else {
            char *text = cJSON_PrintUnformatted(it);
            put_escaped(f, text);
            free(text);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    cJSON_Delete(j);
}

static void summary(FILE *f, const cli_report *r)
{
    const nb_train_result *res = r->result;
    const nb_metrics *m = r->metrics;
    fputs("<div class=\"cards\">\n", f);
    if (m && m->accuracy >= 0)
        fprintf(f, "<div class=\"card main\"><div class=\"big\">%.2f%%</div>test accuracy</div>\n",
                100 * m->accuracy);
    if (m)
        fprintf(f, "<div class=\"card%s\"><div class=\"big\">%.4g</div>test loss</div>\n",
                m->accuracy >= 0 ? "" : " main", m->loss);
    /* Regression: in the targets' own units (nb_metrics). */
    int regression = m && m->accuracy < 0;
    if (regression && isfinite(m->r2))
        fprintf(f, "<div class=\"card\"><div class=\"big\">%.4f</div>test R&sup2;</div>\n", m->r2);
    if (regression && isfinite(m->mae))
        fprintf(f, "<div class=\"card\"><div class=\"big\">%.4g</div>test MAE</div>\n", m->mae);
    if (regression && isfinite(m->rmse))
        fprintf(f, "<div class=\"card\"><div class=\"big\">%.4g</div>test RMSE</div>\n", m->rmse);
    if (m)
        fprintf(f, "<div class=\"card\"><div class=\"big\">%zu</div>test samples</div>\n",
                m->samples);
    /* The settings are the model's training metadata: a numeric stop is
     * marked there as info, eval and predict read it. */
    nb_training_record t;
    nb_training_record_parse(r->settings_json, &t);
    int epoch = t.stopped_epoch, batch = t.stopped_batch, diverged = t.diverged;
    const char *stop = diverged ? "numeric error" : res->stop_reason ? res->stop_reason : "epochs";
    fprintf(f, "<div class=\"card\"><div class=\"big\">%d</div>epochs run", res->epochs_run);
    /* Early stopping (or a stop with patience) keeps an earlier epoch. */
    if (!diverged && res->best_epoch > 0 && res->best_epoch != res->epochs_run)
        fprintf(f, "; weights from epoch %d (", res->best_epoch);
    else
        fputs(" (stop: ", f);
    put_escaped(f, stop);
    fputs(")</div>\n", f);
    fprintf(f, "<div class=\"card\"><div class=\"big\">%.*f s</div>training time</div>\n",
            res->seconds < 10 ? 2 : 1, res->seconds);
    fprintf(f, "<div class=\"card\"><div class=\"big\">%zu</div>parameters</div>\n", r->parameters);
    fputs("</div>\n", f);
    int test_part = r->test && r->test->count > 0;
    if (!m && (!diverged || !test_part))
        fputs("<p class=\"note\">This data source has no test part.</p>\n", f);
    if (diverged) {
        /* The words info, eval and predict warn with. */
        char text[CLI_DIVERGED_TEXT_SIZE];
        cli_diverged_text(text, sizeof text, epoch, batch);
        fputs(m || !test_part ? "<p class=\"note warn\">Warning: the model was saved when "
                              : "<p class=\"note warn\">No test metrics: the model was saved when ",
              f);
        put_escaped(f, text);
        fputs(".</p>\n", f);
    }
    if (regression && isfinite(m->r2) && m->r2 <= 0)
        fputs("<p class=\"note warn\">Warning: test R&sup2; &le; 0: the model is no better than "
              "predicting the mean.</p>\n",
              f);
}

static const char style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "margin:24px auto;max-width:1100px;padding:0 16px;color:#222;background:#fff}"
    "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid "
    "#ddd;padding-bottom:4px}"
    ".sub{color:#555;margin:0 0 16px}code{background:#f3f3f3;padding:1px 4px;border-radius:3px}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:8px;"
    "padding:10px 16px;min-width:110px;color:#555;font-size:13px}"
    ".card .big{font-size:22px;font-weight:600;color:#222}"
    ".card.main{border-color:" COLOR_TRAIN ";background:#eef5fb}"
    ".card.main .big{font-size:40px;color:" COLOR_TRAIN "}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}"
    ".chart{border:1px solid #e5e5e5;border-radius:6px;background:#fff}"
    ".chart text{font-size:12px;fill:#333}.chart .title{font-size:14px;font-weight:600;"
    "text-anchor:middle}"
    ".chart .ytick{text-anchor:end}.chart .xtick,.chart .xlabel,.chart .ylabel,.chart .note{"
    "text-anchor:middle}"
    ".chart .grid{stroke:#eee}.chart .axis{stroke:#555}.chart .legendbg{fill:#fff;"
    "fill-opacity:.85}"
    "table{border-collapse:collapse;font-size:13px}"
    ".confusion td{width:44px;height:30px;text-align:center;border:1px solid #e3e3e3;"
    "font-variant-numeric:tabular-nums}"
    ".confusion th{font-weight:500;padding:4px 6px}.confusion th.row{text-align:right}"
    ".confusion th.col{vertical-align:bottom}.confusion th.col span{"
    "writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}"
    ".confusion th.corner{font-size:11px;color:#777;vertical-align:bottom;text-align:right}"
    ".metrics th,.metrics td,.settings th,.settings td{border-bottom:1px solid #eee;"
    "padding:4px 10px;text-align:left;font-variant-numeric:tabular-nums}"
    ".bar{display:inline-block;width:80px;height:8px;background:#eee;margin-right:8px;"
    "border-radius:4px;overflow:hidden}.bar span{display:block;height:100%;background:" COLOR_TRAIN
    "}"
    ".grid{display:flex;flex-wrap:wrap;gap:8px}"
    "figure{margin:0;width:104px;text-align:center;font-size:11px;border:2px solid #ddd;"
    "border-radius:6px;padding:6px 2px}"
    "figure img{image-rendering:pixelated;display:block;margin:0 auto 4px}"
    "figure.filter{width:auto;min-width:40px;padding:3px}figure.filter img{display:inline-block;"
    "margin:0 1px 2px}.grid.maps{margin-bottom:8px}"
    "figure.wrong{border-color:" COLOR_MISTAKE
    ";background:#fdeeee}figure.wrong b{color:" COLOR_MISTAKE "}"
    ".note{color:#666;font-size:13px}.warn{color:#a40}\n";

static void write_html(FILE *f, const cli_report *r)
{
    fputs(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>nabla: ",
        f);
    put_escaped(f, r->spec);
    fputs(" on ", f);
    put_escaped(f, r->data_source);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Training report</h1>\n", style);
    fputs("<p class=\"sub\">Model <code>", f);
    put_escaped(f, r->spec);
    fputs("</code> trained on <code>", f);
    put_escaped(f, r->data_source);
    fputs("</code> with loss <code>", f);
    put_escaped(f, r->loss);
    fprintf(f, "</code>, by nabla %s (%s).</p>\n", NB_VERSION, NB_REAL_NAME);
    summary(f, r);
    history_charts(f, r);
    regression_chart(f, r);
    if (r->metrics && r->metrics->classes > 0 && r->metrics->confusion) {
        confusion_table(f, r);
        if (r->metrics->precision && r->metrics->recall) precision_table(f, r);
        image_grid(f, r);
    }
    conv_section(f, r);
    settings_table(f, r);
    fputs("</body>\n</html>\n", f);
}

static nb_status write_report(FILE *f, const void *user)
{
    write_html(f, user);
    return NB_OK; /* a failed write shows in nb_write_atomic's flush */
}

nb_status cli_report_write(const cli_report *r, const char *path)
{
    nb_status st = nb_write_atomic(path, write_report, r);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "saving report \"%s\"", path);
}
