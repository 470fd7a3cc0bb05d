/* Built-in data sets that need nothing installed: XOR, spirals, a sine
 * curve and the notes' height/weight table. */
#include "data.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static nb_status set_names(char ***dst, const char *const *names, int n)
{
    return nb_data_copy_names((char *const *)names, n, dst);
}

/* The four corners of the unit square; the class is a XOR b. */
nb_status nb_dataset_xor(nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_xor: out is NULL");
    nb_status st = nb_data_alloc(out, 4, 2, 2, 0, "xor");
    if (st) return st;
    for (int i = 0; i < 4; i++) {
        int a = i >> 1, b = i & 1;
        out->x[2 * i] = (nb_real)a;
        out->x[2 * i + 1] = (nb_real)b;
        out->labels[i] = a ^ b;
    }
    return NB_OK;
}

/* Arm k of classes: for i = 0..n-1, radius r = i / (n - 1) and angle
 * t = 4k + 4 r + 0.2 N(0, 1); the point is (r sin t, r cos t). Samples are
 * grouped by arm, arm 0 first. */
nb_status nb_dataset_spiral(int per_class, int classes, uint64_t seed, nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_spiral: out is NULL");
    memset(out, 0, sizeof *out);
    if (per_class < 1 || classes < 1 || classes > NB_MAX_CLASSES)
        return nb_error(NB_ERR_ARGUMENT,
                        "nb_dataset_spiral: %d points x %d arms; expected at least 1 point and 1 "
                        "to %d arms",
                        per_class, classes, NB_MAX_CLASSES);
    if ((size_t)per_class * (size_t)classes > NB_MAX_SAMPLES)
        return nb_error(NB_ERR_LIMIT, "nb_dataset_spiral: %d x %d points, more than the limit %d",
                        per_class, classes, NB_MAX_SAMPLES);
    nb_status st = nb_data_alloc(out, (size_t)per_class * (size_t)classes, 2, classes, 0, "spiral");
    if (st) return st;
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    size_t i = 0;
    for (int k = 0; k < classes; k++)
        for (int p = 0; p < per_class; p++, i++) {
            double r = per_class > 1 ? (double)p / (per_class - 1) : 0.0;
            double t = 4.0 * k + 4.0 * r + 0.2 * nb_rng_normal(&rng);
            out->x[2 * i] = (nb_real)(r * sin(t));
            out->x[2 * i + 1] = (nb_real)(r * cos(t));
            out->labels[i] = k;
        }
    return NB_OK;
}

/* y = sin(x) for x in [-pi, pi]: evenly spaced and sorted when seed is 0,
 * else drawn uniformly. */
nb_status nb_dataset_sine(int count, uint64_t seed, nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_sine: out is NULL");
    memset(out, 0, sizeof *out);
    if (count < 1 || count > NB_MAX_SAMPLES)
        return nb_error(NB_ERR_ARGUMENT, "nb_dataset_sine: %d points, expected 1 to %d", count,
                        NB_MAX_SAMPLES);
    nb_status st = nb_data_alloc(out, (size_t)count, 1, 0, 1, "sine");
    if (st) return st;
    nb_rng rng;
    nb_rng_seed(&rng, seed);
    for (int i = 0; i < count; i++) {
        double x;
        if (seed == 0)
            x = count > 1 ? -PI + 2.0 * PI * i / (count - 1) : -PI;
        else
            x = -PI + 2.0 * PI * nb_rng_uniform(&rng);
        out->x[i] = (nb_real)x;
        out->y[i] = (nb_real)sin(x);
    }
    static const char *const names[] = {"x"};
    if ((st = set_names(&out->feature_names, names, 1))) nb_dataset_free(out);
    return st;
}

/* Lecture 004, "Sample Data: Height and Weight": height (cm), weight (kg)
 * and sex (남 male, 여 female), in the notes' order. */
static const struct {
    short height, weight;
    char sex; /* 'm' or 'f' */
} body_table[] = {
    {180, 83, 'm'}, {170, 73, 'm'}, {175, 78, 'm'}, {170, 64, 'f'}, {163, 52, 'f'},
    {154, 45, 'f'}, {165, 70, 'm'}, {160, 55, 'f'}, {173, 71, 'm'},
};

nb_status nb_dataset_body(nb_dataset *out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "nb_dataset_body: out is NULL");
    size_t n = sizeof body_table / sizeof body_table[0];
    nb_status st = nb_data_alloc(out, n, 2, 2, 0, "body");
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        out->x[2 * i] = body_table[i].height;
        out->x[2 * i + 1] = body_table[i].weight;
        out->labels[i] = body_table[i].sex == 'm' ? 0 : 1; /* order of first appearance */
    }
    static const char *const classes[] = {"male", "female"};
    static const char *const features[] = {"height_cm", "weight_kg"};
    if ((st = set_names(&out->class_names, classes, 2)) ||
        (st = set_names(&out->feature_names, features, 2)))
        nb_dataset_free(out);
    return st;
}
