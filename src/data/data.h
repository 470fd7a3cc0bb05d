/* Helpers shared by the data-set files of src/data; not public API. */
#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include "internal.h"

/* Allocate out's arrays for count samples: x (count x features), and labels
 * (classes > 0) or y (count x targets). Sizes are overflow-checked and held
 * to NB_MAX_SAMPLES / NB_MAX_FEATURES. what names the data in messages. */
nb_status nb_data_alloc(nb_dataset *out, size_t count, int features, int classes, int targets,
                        const char *what);
/* A copy of s through nb_malloc (NULL when out of memory). */
char *nb_data_strdup(const char *s);
/* A copy of n names (NULL src gives NULL); NB_ERR_MEMORY on failure. */
nb_status nb_data_copy_names(char *const *src, int n, char ***out);
void nb_data_free_names(char **names, int n);

#endif
