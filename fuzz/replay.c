/* Runs a fuzz target over files given on the command line, so every build
 * (gcc, sanitizers, valgrind) replays the corpus and the regression inputs
 * without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int done = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            return 1;
        }
        uint8_t *buf = NULL;
        size_t size = 0, cap = 0, n;
        do {
            if (size == cap) {
                cap = cap ? cap * 2 : 4096;
                uint8_t *grown = realloc(buf, cap);
                if (!grown) {
                    free(buf);
                    fclose(f);
                    return 1;
                }
                buf = grown;
            }
            n = fread(buf + size, 1, cap - size, f);
            size += n;
        } while (n > 0);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, size);
        free(buf);
        done++;
    }
    printf("replayed %d inputs\n", done);
    return 0;
}
