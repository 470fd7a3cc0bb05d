/* Errors are values: a status plus a per-thread message. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define NB_ERROR_MAX 1024

static _Thread_local char message[NB_ERROR_MAX];

const char *nb_last_error(void)
{
    return message;
}

void nb_clear_error(void)
{
    message[0] = '\0';
}

nb_status nb_error(nb_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return status;
}

nb_status nb_error_prefix(nb_status status, const char *fmt, ...)
{
    char old[NB_ERROR_MAX];
    va_list ap;
    memcpy(old, message, sizeof old);
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t used = strlen(message);
    if (used + 2 < sizeof message) {
        memcpy(message + used, ": ", 3);
        used += 2;
        size_t room = sizeof message - used - 1;
        size_t len = strnlen(old, room);
        memcpy(message + used, old, len);
        message[used + len] = '\0';
    }
    return status;
}

const char *nb_status_name(nb_status status)
{
    switch (status) {
    case NB_OK:
        return "ok";
    case NB_ERR_ARGUMENT:
        return "invalid argument";
    case NB_ERR_SHAPE:
        return "shape error";
    case NB_ERR_MEMORY:
        return "out of memory";
    case NB_ERR_IO:
        return "i/o error";
    case NB_ERR_FORMAT:
        return "format error";
    case NB_ERR_LIMIT:
        return "limit exceeded";
    case NB_ERR_NUMERIC:
        return "numeric error";
    case NB_ERR_STATE:
        return "wrong state";
    case NB_ERR_NOT_FOUND:
        return "not found";
    case NB_ERR_INTERRUPTED:
        return "interrupted";
    }
    return "unknown status";
}
