/* Model files: header length, JSON header, tensor table, metadata, data.
 * A file that loads is also run once, to reach what loading promised. */
#include "fuzz_file.h"
#include "nabla.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    nb_model *m = NULL;
    if (nb_model_load(path, &m) == NB_OK) {
        int in = nb_model_inputs(m), out = nb_model_outputs(m);
        nb_real *x = calloc((size_t)in, sizeof *x);
        nb_real *y = calloc((size_t)out, sizeof *y);
        if (x && y) nb_model_predict(m, x, 1, y);
        free(x);
        free(y);
        nb_model_free(m);
    }
    close(fd);
    return 0;
}
