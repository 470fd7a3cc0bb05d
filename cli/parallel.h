/* nabla train under mpirun: the processes' communicator (docs/mpi.md). */
#ifndef NABLA_CLI_PARALLEL_H
#define NABLA_CLI_PARALLEL_H

#include "nabla.h"

/* Was this process started by mpirun (its environment says so, with more
 * than one process)? */
int cli_parallel_launched(void);
/* This process's rank as the launcher's environment says (0 when alone). */
int cli_parallel_rank(void);
/* Whether this nabla can train on several processes: a line for
 * --version. */
const char *cli_parallel_about(void);
/* The communicator of the processes mpirun started (NULL in *comm when
 * nabla runs alone). A nabla built without MPI under mpirun, or MPI that
 * cannot start, is an error (the exit code). */
int cli_parallel_start(const nb_comm **comm);
/* End the processes' run with this process's exit code rc, returned: 0 or
 * 130 (outcomes the processes agree on) end MPI in order; any other code
 * aborts every process, which might otherwise wait for this one. */
int cli_parallel_end(const nb_comm *comm, int rc);

#endif
