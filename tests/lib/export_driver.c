/* Runs an exported model (nabla export) over rows of comma-separated raw
 * inputs on standard input and prints, per row, the predicted class and
 * every output to 9 significant digits. Compiled by tests/export.sh with
 * -DMODEL_H='"name.h"' -DNAME=name -DUNAME=NAME (the prefix in upper case). */
#include MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
#define PREDICT    CAT(NAME, _predict)
#define INPUTS     CAT(UNAME, _INPUTS)
#define OUTPUTS    CAT(UNAME, _OUTPUTS)
#define SCRATCH    CAT(UNAME, _SCRATCH_SIZE)

static float in[INPUTS], out[OUTPUTS], scratch[SCRATCH];
static char line[1 << 20];

int main(void)
{
    long row = 0;
    while (fgets(line, sizeof line, stdin)) {
        char *p = line, *end;
        for (int i = 0; i < INPUTS; i++) {
            in[i] = strtof(p, &end);
            if (end == p) {
                fprintf(stderr, "row %ld: value %d is not a number\n", row + 1, i + 1);
                return 1;
            }
            p = *end == ',' ? end + 1 : end;
        }
        int k = PREDICT(in, out, scratch);
        printf("%d", k);
        for (int j = 0; j < OUTPUTS; j++) printf(" %.9g", (double)out[j]);
        printf("\n");
        row++;
    }
    return 0;
}
