/* Checkpoint options of nabla train: --checkpoint, --checkpoint-every,
 * --resume, and the command that resumes an interrupted run. */
#ifndef NABLA_CLI_TRAIN_CHECKPOINT_H
#define NABLA_CLI_TRAIN_CHECKPOINT_H

#include "nabla.h"

#include <stddef.h>
#include <stdio.h>

/* --checkpoint-every TEXT into config: "N" epochs, "Nm" minutes (N may
 * have a fraction), "Nb" batches; N > 0. 0 on success, else -1 with a
 * message in err. */
int cli_checkpoint_every(const char *text, nb_train_config *config, char *err, size_t size);

/* Where a checkpoint goes: --checkpoint FILE, else <--out>.ckpt, else (no
 * --out, or one that is a device or FIFO) nabla.ckpt. <--out>.ckpt is
 * allocated and also put in *owned, for the caller to free (else *owned
 * is NULL); NULL when out of memory. */
const char *cli_checkpoint_path(const char *checkpoint, const char *out, char **owned);

/* A resumed run has finished and saved its outputs: the Ctrl-C checkpoint
 * it resumed from (path, the implicit <--out>.ckpt or nabla.ckpt, the same
 * file as resume) has served and is removed, saying so on stderr unless
 * quiet. An explicit --checkpoint FILE (explicit non-NULL) is kept, as is
 * a checkpoint that is not the one resumed from. */
void cli_remove_ctrl_c_checkpoint(const char *resume, const char *explicit, const char *path,
                                  int quiet);

/* "nabla train --resume PATH" and the other arguments of argv (the
 * subcommand's, argv[0] being "train") except an earlier --resume, each
 * quoted for a POSIX shell where needed. */
void cli_print_resume_command(FILE *f, const char *path, int argc, char **argv);

#endif
