/* nabla train under mpirun (see parallel.h): MPI through the nabla_mpi
 * library in a -DNABLA_MPI=ON build; otherwise a clear refusal. */
#include "parallel.h"

#include "cli.h"

#include <stdlib.h>

#ifdef NABLA_WITH_MPI
#include "nabla_mpi.h"
#endif

/* Each launcher's name for the number of processes. */
static const char *const size_variables[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL};

int cli_parallel_launched(void)
{
    for (int i = 0; size_variables[i]; i++) {
        const char *v = getenv(size_variables[i]);
        if (v && atoi(v) > 1) return 1;
    }
    return 0;
}

static const char *const rank_variables[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", NULL};

int cli_parallel_rank(void)
{
    for (int i = 0; rank_variables[i]; i++) {
        const char *v = getenv(rank_variables[i]);
        if (v) return atoi(v);
    }
    return 0;
}

const char *cli_parallel_about(void)
{
#ifdef NABLA_WITH_MPI
    return "several processes: nabla train under mpirun (MPI)";
#else
    return "several processes: no (built without -DNABLA_MPI=ON)";
#endif
}

#ifdef NABLA_WITH_MPI
static nb_comm the_comm;
#endif

int cli_parallel_start(const nb_comm **comm)
{
    *comm = NULL;
    if (!cli_parallel_launched()) return CLI_EXIT_OK;
#ifdef NABLA_WITH_MPI
    if (nb_mpi_start(NULL, NULL, &the_comm) != NB_OK) {
        cli_error("train", "%s", nb_last_error());
        return CLI_EXIT_FAILURE;
    }
    *comm = &the_comm;
    return CLI_EXIT_OK;
#else
    cli_error("train", "started by mpirun, but this nabla was built without MPI; build it "
                       "with cmake -DNABLA_MPI=ON (docs/mpi.md)");
    return CLI_EXIT_USAGE;
#endif
}

int cli_parallel_end(const nb_comm *comm, int rc)
{
#ifdef NABLA_WITH_MPI
    if (comm == &the_comm)
        nb_mpi_end(&the_comm, rc == CLI_EXIT_OK || rc == CLI_EXIT_INTERRUPTED ? 0 : rc);
#else
    (void)comm;
#endif
    return rc;
}
