/* im2col and col2im: a convolution as one matrix product per sample. The
 * row of a kernel offset (c, i, j) is a strided copy of x's rows, so each
 * output row copies (or, for stride 1, memcpys) the input span that falls
 * inside the image and zeroes the padding around it. */
#include "conv.h"

#include <stddef.h>
#include <string.h>

/* The outputs o in [*lo, *hi) whose input o*s - p + k lies in [0, size). */
static void valid_span(int out, int s, int p, int k, int size, int *lo, int *hi)
{
    int first = p - k, last = size + p - k; /* o*s in [first, last) */
    int a = first <= 0 ? 0 : (first + s - 1) / s;
    int b = last <= 0 ? 0 : (last + s - 1) / s;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo) *hi = *lo;
}

void nb_im2col(const nb_conv_geom *g, const nb_real *x, nb_real *out, size_t ld)
{
    size_t plane = (size_t)g->h * g->w, r = 0;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++, r++) {
                const nb_real *xc = x + (size_t)c * plane;
                nb_real *cols = out + r * ld;
                int lo, hi;
                valid_span(g->ow, g->sw, g->pw, j, g->w, &lo, &hi);
                for (int oy = 0; oy < g->oh; oy++, cols += g->ow) {
                    int iy = oy * g->sh - g->ph + i;
                    if (iy < 0 || iy >= g->h || lo == hi) {
                        memset(cols, 0, (size_t)g->ow * sizeof *cols);
                        continue;
                    }
                    ptrdiff_t at = (ptrdiff_t)iy * g->w - g->pw + j; /* x at ox = 0 */
                    for (int ox = 0; ox < lo; ox++) cols[ox] = 0;
                    if (g->sw == 1)
                        memcpy(cols + lo, xc + at + lo, (size_t)(hi - lo) * sizeof *cols);
                    else
                        for (int ox = lo; ox < hi; ox++) cols[ox] = xc[at + (ptrdiff_t)ox * g->sw];
                    for (int ox = hi; ox < g->ow; ox++) cols[ox] = 0;
                }
            }
}

void nb_col2im(const nb_conv_geom *g, const nb_real *in, size_t ld, nb_real *dx)
{
    size_t plane = (size_t)g->h * g->w, r = 0;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++, r++) {
                nb_real *dc = dx + (size_t)c * plane;
                const nb_real *cols = in + r * ld;
                int lo, hi;
                valid_span(g->ow, g->sw, g->pw, j, g->w, &lo, &hi);
                for (int oy = 0; oy < g->oh; oy++, cols += g->ow) {
                    int iy = oy * g->sh - g->ph + i;
                    if (iy < 0 || iy >= g->h) continue;
                    ptrdiff_t at = (ptrdiff_t)iy * g->w - g->pw + j;
                    if (g->sw == 1)
                        for (int ox = lo; ox < hi; ox++) dc[at + ox] += cols[ox];
                    else
                        for (int ox = lo; ox < hi; ox++) dc[at + (ptrdiff_t)ox * g->sw] += cols[ox];
                }
            }
}
