/* CSV data files, as data sets and as rows to predict on. The first byte
 * chooses the options: header mode, label column, classification or
 * regression, delimiter, and the prediction width. */
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
    /* The same bytes as rows to predict on, 1 to 4 features wide. */
    nb_feature_reader *r;
    if (nb_feature_reader_open(path, &opt, (data[0] & 3) + 1, &r) == NB_OK) {
        nb_real x[4 * 8];
        size_t rows;
        while (nb_feature_reader_read(r, x, 8, &rows) == NB_OK && rows > 0) {
        }
        nb_feature_reader_close(r);
    }
    close(fd);
    return 0;
}
