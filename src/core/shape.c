/* Shapes: up to four row-major dimensions. */
#include "internal.h"

#include <stdio.h>

nb_shape nb_shape0(void)
{
    nb_shape s = {0, {1, 1, 1, 1}};
    return s;
}

nb_shape nb_shape1(int d0)
{
    nb_shape s = {1, {d0, 1, 1, 1}};
    return s;
}

nb_shape nb_shape2(int d0, int d1)
{
    nb_shape s = {2, {d0, d1, 1, 1}};
    return s;
}

nb_shape nb_shape3(int d0, int d1, int d2)
{
    nb_shape s = {3, {d0, d1, d2, 1}};
    return s;
}

nb_shape nb_shape4(int d0, int d1, int d2, int d3)
{
    nb_shape s = {4, {d0, d1, d2, d3}};
    return s;
}

/* ndim outside [0, NB_MAX_DIMS] would read past dim[]: such a shape is
 * invalid everywhere (no elements, equal to nothing, formatted as such). */
static int valid_ndim(int ndim)
{
    return ndim >= 0 && ndim <= NB_MAX_DIMS;
}

size_t nb_shape_count(nb_shape shape)
{
    size_t n = 1;
    if (!valid_ndim(shape.ndim)) return 0;
    for (int i = 0; i < shape.ndim; i++) {
        if (shape.dim[i] <= 0) return 0;
        if (!nb_mul_size(n, (size_t)shape.dim[i], &n)) return 0;
    }
    return n;
}

int nb_shape_equal(nb_shape a, nb_shape b)
{
    if (a.ndim != b.ndim || !valid_ndim(a.ndim)) return 0;
    for (int i = 0; i < a.ndim; i++)
        if (a.dim[i] != b.dim[i]) return 0;
    return 1;
}

const char *nb_shape_format(nb_shape shape, char *buf, size_t size)
{
    size_t used = 0;
    if (!buf) return "";
    if (size == 0) return buf;
    buf[0] = '\0';
    if (!valid_ndim(shape.ndim)) {
        snprintf(buf, size, "[invalid: ndim %d]", shape.ndim);
        return buf;
    }
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < shape.ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %d" : "%d", shape.dim[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}
