/* Classify one image of an IDX images file (Fashion-MNIST's
 * t10k-images-idx3-ubyte, uncompressed) with a model exported by
 * `nabla export MODEL --c fashion`: no nabla library, no allocation in
 * the model's code, only fashion.h and fashion.c. See README.md.
 *
 *   classify IMAGES INDEX   prints "image INDEX: class K (NAME), probability P" */
#include "fashion.h"

#include <stdio.h>
#include <stdlib.h>

/* An IDX header's big-endian 32-bit number. */
static unsigned long be32(const unsigned char *b)
{
    return (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 | (unsigned long)b[2] << 8 | b[3];
}

int main(int argc, char **argv)
{
    /* The model's buffers: the input, the output and its scratch; static
     * here, as they would be in firmware (or on the stack). */
    static float in[FASHION_INPUTS], out[FASHION_OUTPUTS], scratch[FASHION_SCRATCH_SIZE];
    unsigned char head[16], pixels[FASHION_INPUTS];
    char *end;
    if (argc != 3) {
        fprintf(stderr, "usage: classify IMAGES INDEX\n");
        return 2;
    }
    long index = strtol(argv[2], &end, 10);
    FILE *f = fopen(argv[1], "rb");
    if (!f || *end || index < 0) {
        fprintf(stderr, "classify: cannot open %s, or %s is no index\n", argv[1], argv[2]);
        return 2;
    }
    if (fread(head, 1, 16, f) != 16 || be32(head) != 0x803 ||
        be32(head + 8) * be32(head + 12) != FASHION_INPUTS ||
        (unsigned long)index >= be32(head + 4)) {
        fprintf(stderr, "classify: %s is no IDX file of %d-pixel images with an image %ld\n",
                argv[1], FASHION_INPUTS, index);
        fclose(f);
        return 2;
    }
    if (fseek(f, 16 + index * FASHION_INPUTS, SEEK_SET) != 0 ||
        fread(pixels, 1, FASHION_INPUTS, f) != FASHION_INPUTS) {
        fprintf(stderr, "classify: cannot read image %ld\n", index);
        fclose(f);
        return 2;
    }
    fclose(f);
    /* Raw pixel values 0..255: the exported code scales them as training did. */
    for (int i = 0; i < FASHION_INPUTS; i++) in[i] = (float)pixels[i];
    int k = fashion_predict(in, out, scratch);
    printf("image %ld: class %d (%s), probability %.4f\n", index, k, fashion_class_names[k],
           (double)out[k]);
    return 0;
}
