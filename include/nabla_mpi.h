/* nabla over MPI (docs/mpi.md): an nb_comm whose transport is MPI, for
 * nb_train_config.comm. Built by -DNABLA_MPI=ON as the library nabla_mpi
 * (link it and MPI); the core library never needs MPI. */
#ifndef NABLA_MPI_H
#define NABLA_MPI_H

#include "nabla.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialise MPI (unless the program has) and fill comm for every process
 * of MPI_COMM_WORLD: a duplicate of it on which MPI errors are returned
 * (a dead peer is an error message, not an abort), rank and size, and the
 * exchange, agree and barrier functions. NB_ERR_IO when MPI cannot start. */
nb_status nb_mpi_start(int *argc, char ***argv, nb_comm *comm);

/* End MPI after a run: failed 0, the processes agreed on how the run ended
 * (MPI_Finalize); else this process stops alone, which would leave the
 * others waiting for it, so every process is aborted with exit code failed
 * (MPI_Abort). Does nothing for a comm that nb_mpi_start did not fill. */
void nb_mpi_end(nb_comm *comm, int failed);

#ifdef __cplusplus
}
#endif

#endif
