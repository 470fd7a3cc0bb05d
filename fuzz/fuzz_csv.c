/* CSV data files. The first byte chooses the options: header mode, label
 * column, classification or regression. */
#include "fuzz_file.h"
#include "nabla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const labels[] = {NULL, "0", "1", "label", "species", "99"};
    nb_csv_options opt = {.label = labels[data[0] % 6],
                          .header = (data[0] >> 3) % 3 - 1,
                          .regression = (data[0] >> 5) & 1,
                          .delimiter = (data[0] >> 6) & 1 ? ';' : 0};
    char path[64];
    int fd = fuzz_file(data + 1, size - 1, path, sizeof path);
    if (fd < 0) return 0;
    nb_dataset d;
    if (nb_load_csv(path, &opt, &d) == NB_OK) nb_dataset_free(&d);
    close(fd);
    return 0;
}
