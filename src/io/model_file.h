/* The model file format's lower layer, exposed to the tests. */
#ifndef NABLA_MODEL_FILE_H
#define NABLA_MODEL_FILE_H

#include "graph_json.h" /* NB_LOAD_BATCH, the batch a loaded model has */
#include "nabla.h"

/* Write the whole model file (length, header, data) to f and flush it;
 * path only names the file in messages. A failed write or flush (a full
 * disk) is an NB_ERR_IO. */
nb_status nb_model_write(const nb_model *model, FILE *f, const char *path);

#endif
