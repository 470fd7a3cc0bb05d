/* The exported C model's accuracy and time per sample on an IDX test set
 * (bench/export_c.sh): every image through NAME_predict, one at a time, as
 * firmware would, repeated until at least a second has passed.
 * Compiled with -DMODEL_H='"name.h"' -DNAME=name -DUNAME=NAME.
 *
 *   export_bench IMAGES LABELS   (uncompressed idx3 / idx1) */
#define _POSIX_C_SOURCE 200809L
#include MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
#define PREDICT    CAT(NAME, _predict)
#define INPUTS     CAT(UNAME, _INPUTS)
#define OUTPUTS    CAT(UNAME, _OUTPUTS)
#define SCRATCH    CAT(UNAME, _SCRATCH_SIZE)

static unsigned char *slurp(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) exit(2);
    *size = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)*size);
    if (!b || fread(b, 1, (size_t)*size, f) != (size_t)*size) exit(2);
    fclose(f);
    return b;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    static float in[INPUTS], out[OUTPUTS], scratch[SCRATCH];
    long isize, lsize;
    if (argc != 3) return 2;
    unsigned char *images = slurp(argv[1], &isize), *labels = slurp(argv[2], &lsize);
    long n = (isize - 16) / INPUTS;
    if (n != lsize - 8) return 2;
    long right = 0, passes = 0;
    volatile int sink = 0;
    double start = now(), t;
    do {
        for (long s = 0; s < n; s++) {
            const unsigned char *p = images + 16 + s * INPUTS;
            for (int i = 0; i < INPUTS; i++) in[i] = (float)p[i];
            int k = PREDICT(in, out, scratch);
            if (passes == 0) right += k == labels[8 + s];
            sink += k;
        }
        passes++;
        t = now() - start;
    } while (t < 1.0);
    printf("%ld samples, accuracy %.2f%%, %.2f us per sample (%ld passes)\n", n, 100.0 * right / n,
           1e6 * t / ((double)n * passes), passes);
    free(images);
    free(labels);
    return 0;
}
