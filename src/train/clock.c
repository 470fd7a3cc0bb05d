/* The training clock, read by the trainer and the checkpoint. Depends on
 * nothing else in src/train/. */
#include "train_internal.h"

#include <time.h>

double nb_train_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
