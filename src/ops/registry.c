/* Ops are looked up by name, never by index: model files store names. */
#include "internal.h"

#include <string.h>

static const nb_op_def *const families[] = {nb_ops_arith, nb_ops_matmul,  nb_ops_activation,
                                            nb_ops_loss,  nb_ops_join,    nb_ops_conv,
                                            nb_ops_pool,  nb_ops_dropout, nb_ops_batch_norm};

#define FAMILY_COUNT (sizeof families / sizeof families[0])
#define NAMES_MAX    64

const nb_op_def *nb_op_find(const char *name)
{
    if (!name) return NULL;
    for (size_t f = 0; f < FAMILY_COUNT; f++)
        for (const nb_op_def *op = families[f]; op->name; op++)
            if (strcmp(op->name, name) == 0) return op;
    return NULL;
}

int nb_op_exists(const char *name)
{
    return nb_op_find(name) != NULL;
}

const char *const *nb_op_names(void)
{
    static const char *names[NAMES_MAX + 1];
    if (!names[0]) {
        size_t n = 0;
        for (size_t f = 0; f < FAMILY_COUNT; f++)
            for (const nb_op_def *op = families[f]; op->name && n < NAMES_MAX; op++)
                names[n++] = op->name;
        names[n] = NULL;
    }
    return names;
}
