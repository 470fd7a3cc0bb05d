/* Layer-spec strings ("dense:100,relu,dense:10"); a spec that checks is
 * also built into small models, on flat samples and on images. */
#include "nabla.h"

#include <stdlib.h>
#include <string.h>

/* 1 when every number in the spec has at most two digits: only those
 * specs are built, so a model stays far below the fuzzer's memory limit
 * (conv:99:99 on 2 channels is about 2 M parameters). */
static int numbers_small(const char *s)
{
    int digits = 0;
    for (; *s; s++) {
        digits = *s >= '0' && *s <= '9' ? digits + 1 : 0;
        if (digits > 2) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    if (!spec) return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    if (nb_spec_check(spec) == NB_OK && numbers_small(spec)) {
        nb_model *m = NULL;
        /* Small sizes only: the fuzzer looks for parser bugs, not big models. */
        if (size < 64 && nb_model_create(spec, 3, "mse", 2, &m) == NB_OK) nb_model_free(m);
        /* And on small images, for the image layers. */
        if (size < 64 && nb_model_create_shaped(spec, nb_shape3(2, 6, 5), "mse", 2, &m) == NB_OK)
            nb_model_free(m);
    }
    free(spec);
    return 0;
}
