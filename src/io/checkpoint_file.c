/* The checkpoint container: safetensors written atomically, read back
 * trusting nothing (see checkpoint_file.h). */
#include "checkpoint_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ save */

typedef struct ckpt_target {
    const cJSON *metadata;
    const nb_ckpt_tensor *t;
    int count;
} ckpt_target;

static nb_status write_checkpoint(FILE *f, const void *user)
{
    const ckpt_target *c = user;
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = root && c->metadata ? cJSON_Duplicate(c->metadata, 1) : NULL;
    if (!root || (c->metadata && (!meta || !cJSON_AddItemToObject(root, "__metadata__", meta)))) {
        cJSON_Delete(meta);
        cJSON_Delete(root);
        return nb_error(NB_ERR_MEMORY, "out of memory for the header");
    }
    return nb_st_write(f, root, c->t, c->count);
}

nb_status nb_ckpt_file_save(const char *path, const cJSON *metadata, const nb_ckpt_tensor *t,
                            int count)
{
    if (!path || !path[0]) return nb_error(NB_ERR_ARGUMENT, "saving a checkpoint: no path");
    ckpt_target c = {metadata, t, count};
    nb_status st = nb_write_atomic(path, write_checkpoint, &c);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "saving checkpoint \"%s\"", path);
}

/* ------------------------------------------------------------------ load */

static nb_status open_file(FILE *f, nb_ckpt_file *out)
{
    return nb_st_read_header(f, &out->header, &out->data_start);
}

nb_status nb_ckpt_file_open(const char *path, nb_ckpt_file *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return nb_error(NB_ERR_ARGUMENT, "no checkpoint path");
    nb_status st = nb_open_regular(path, &out->f);
    if (st != NB_OK) return st;
    st = open_file(out->f, out);
    if (st != NB_OK) nb_ckpt_file_close(out);
    return st;
}

nb_status nb_ckpt_file_read(nb_ckpt_file *file, const char *name, nb_shape shape, nb_real *out)
{
    char a[64], b[64];
    const nb_st_tensor *t = nb_st_find(&file->header, name);
    if (!t)
        return nb_error(NB_ERR_FORMAT, "tensor \"%s\" %s is missing", name,
                        nb_shape_format(shape, a, sizeof a));
    if (!nb_shape_equal(t->shape, shape))
        return nb_error(NB_ERR_SHAPE, "tensor \"%s\" has shape %s in the file, expected %s", name,
                        nb_shape_format(t->shape, a, sizeof a),
                        nb_shape_format(shape, b, sizeof b));
    if (t->dsize != (int)sizeof(nb_real))
        return nb_error(NB_ERR_FORMAT,
                        "tensor \"%s\" holds %d-byte values, but this build resumes only its own "
                        "%s (%zu bytes)",
                        name, t->dsize, NB_ST_DTYPE, sizeof(nb_real));
    uint64_t at = file->data_start + t->begin;
    if (at > (uint64_t)LLONG_MAX || fseeko(file->f, (off_t)at, SEEK_SET) != 0)
        return nb_error(NB_ERR_IO, "tensor \"%s\": cannot seek to file byte %llu", name,
                        (unsigned long long)at);
    return nb_st_read_values(file->f, t->dsize, t->count, out, name);
}

const char *nb_ckpt_file_meta(const nb_ckpt_file *file, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(file->header.metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void nb_ckpt_file_close(nb_ckpt_file *file)
{
    if (file->f) fclose(file->f);
    nb_st_free(&file->header);
    memset(file, 0, sizeof *file);
}
