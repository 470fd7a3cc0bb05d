/* The MPI transport of nb_comm: a private duplicate of MPI_COMM_WORLD with
 * MPI_ERRORS_RETURN, point-to-point swaps for the library's fixed-order
 * reduction and MPI_MAX all-reduces for its agreements. The only file that
 * includes mpi.h; built into the nabla_mpi library (-DNABLA_MPI=ON). */
#include "nabla_mpi.h"

#include "internal.h"

#include <limits.h>
#include <mpi.h>
#include <string.h>

/* The largest piece one MPI call moves (its count is an int). */
#define PIECE ((size_t)1 << 30)

typedef struct mpi_link {
    MPI_Comm comm;
    int initialised_here;
} mpi_link;

static mpi_link the_link = {MPI_COMM_NULL, 0};

static nb_status mpi_failed(int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
    text[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return nb_error(NB_ERR_IO, "MPI (rank %d): %s failed: %s (has another process died?)", rank,
                    what, len > 0 ? text : "unknown error");
}

static nb_status exchange(void *user, int peer, const void *send, void *recv, size_t bytes)
{
    mpi_link *link = user;
    const char *s = send;
    char *r = recv;
    for (size_t done = 0; done < bytes; done += PIECE) {
        int n = (int)(bytes - done < PIECE ? bytes - done : PIECE);
        int rc = MPI_Sendrecv(s + done, n, MPI_BYTE, peer, 17, r + done, n, MPI_BYTE, peer, 17,
                              link->comm, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_failed(rc, "exchanging with a peer (MPI_Sendrecv)");
    }
    return NB_OK;
}

static nb_status agree(void *user, int *values, int count)
{
    mpi_link *link = user;
    int rc = MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT, MPI_MAX, link->comm);
    return rc == MPI_SUCCESS ? NB_OK : mpi_failed(rc, "agreeing (MPI_Allreduce)");
}

static nb_status barrier(void *user)
{
    mpi_link *link = user;
    int rc = MPI_Barrier(link->comm);
    return rc == MPI_SUCCESS ? NB_OK : mpi_failed(rc, "waiting for the others (MPI_Barrier)");
}

nb_status nb_mpi_start(int *argc, char ***argv, nb_comm *comm)
{
    if (!comm) return nb_error(NB_ERR_ARGUMENT, "MPI: no communicator to fill");
    memset(comm, 0, sizeof *comm);
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready) {
        if (MPI_Init(argc, argv) != MPI_SUCCESS)
            return nb_error(NB_ERR_IO, "MPI: MPI_Init failed (was nabla started by mpirun?)");
        the_link.initialised_here = 1;
    }
    /* Errors come back as values on our communicator, so that a failed
     * exchange is a message and an exit code, not MPI's own abort. */
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &the_link.comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(the_link.comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(the_link.comm, &comm->rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(the_link.comm, &comm->size);
    if (rc != MPI_SUCCESS) return mpi_failed(rc, "setting up the communicator");
    comm->exchange = exchange;
    comm->agree = agree;
    comm->barrier = barrier;
    comm->user = &the_link;
    return NB_OK;
}

void nb_mpi_end(nb_comm *comm, int failed)
{
    if (!comm || comm->user != &the_link) return;
    if (failed) MPI_Abort(MPI_COMM_WORLD, failed);
    if (the_link.comm != MPI_COMM_NULL) MPI_Comm_free(&the_link.comm);
    if (the_link.initialised_here) MPI_Finalize();
    the_link.initialised_here = 0;
    memset(comm, 0, sizeof *comm);
}
