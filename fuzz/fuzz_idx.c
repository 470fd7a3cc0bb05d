/* IDX images + labels, plain or gzip. The first two bytes give where the
 * input splits into the images file and the labels file. */
#include "fuzz_file.h"
#include "nabla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
    data += 2;
    size -= 2;
    char images[64], labels[64];
    int a = fuzz_file(data, split, images, sizeof images);
    int b = fuzz_file(data + split, size - split, labels, sizeof labels);
    if (a >= 0 && b >= 0) {
        nb_dataset d;
        if (nb_load_idx(images, labels, &d) == NB_OK) nb_dataset_free(&d);
    }
    if (a >= 0) close(a);
    if (b >= 0) close(b);
    return 0;
}
