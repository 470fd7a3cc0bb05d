/* Data-parallel training without the CLI: every process started by
 * mpirun builds the same model, reads the same data and runs the public
 * training steps with the MPI communicator; the weights are bit-identical
 * for any process count that divides the shards (docs/mpi.md).
 *
 *   mpirun -np 2 ./mpi_train [model.safetensors]
 *
 * Rank 0 prints the epochs and saves the model. */
#include "nabla.h"
#include "nabla_mpi.h"

#include <stdio.h>

/* Three spiral arms of 200 points, made alike by every process from the seed. */
static nb_status make_data(nb_dataset *train)
{
    return nb_dataset_spiral(200, 3, 7, train);
}

static int epoch_line(const nb_progress *p, void *user)
{
    const nb_comm *comm = user;
    if (p->stats && comm->rank == 0)
        printf("epoch %d: loss %.6f, accuracy %.4f\n", p->epoch, p->stats->train_loss,
               p->stats->train_accuracy);
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "mpi_train: %s: %s\n", what, nb_last_error());
    return 1;
}

/* The loop nb_train runs, written out: the library agrees with the other
 * processes inside the steps (the gradients in nb_train_forward_backward,
 * the stop in nb_train_apply and nb_train_end_epoch). */
static nb_status train(nb_model *model, const nb_dataset *data, const nb_train_config *config)
{
    nb_train_state *s;
    nb_status st = nb_train_begin(model, data, NULL, config, &s);
    if (st != NB_OK) return st;
    while (st == NB_OK && !s->stop_reason) {
        int rows;
        while ((st = nb_train_next_batch(s, &rows)) == NB_OK && rows > 0) {
            if ((st = nb_train_forward_backward(s)) != NB_OK) break;
            if ((st = nb_train_apply(s)) != NB_OK) break;
        }
        if (st == NB_OK) st = nb_train_end_epoch(s);
        if (st == NB_OK) st = nb_train_next_epoch(s);
    }
    nb_train_result result;
    nb_status done = nb_train_finish(s, &result);
    nb_train_result_free(&result);
    nb_train_state_free(s);
    return st != NB_OK ? st : done;
}

int main(int argc, char **argv)
{
    nb_comm comm;
    if (nb_mpi_start(&argc, &argv, &comm) != NB_OK) return fail("starting MPI");
    nb_set_threads(1); /* one process per core */
    nb_dataset data = {0};
    nb_model *model = NULL;
    int rc = 0;
    nb_train_config config = nb_train_defaults();
    config.optimizer = nb_optimizer_defaults(NB_OPT_ADAM);
    config.batch = 64;
    config.epochs = 5;
    config.shards = 4; /* the same weights for 1, 2 or 4 processes */
    config.comm = &comm;
    config.progress = epoch_line;
    config.progress_user = &comm;
    if (make_data(&data) != NB_OK) rc = fail("making the data");
    if (!rc && nb_model_create("dense:32,relu,dense:32,relu,dense:3", 2, "softmax_ce", 64,
                               &model) != NB_OK)
        rc = fail("building the model");
    if (!rc && nb_model_init(model, 7) != NB_OK) rc = fail("initialising the model");
    if (!rc && train(model, &data, &config) != NB_OK) rc = fail("training");
    if (!rc && comm.rank == 0 && argc > 1 && nb_model_save(model, argv[1]) != NB_OK)
        rc = fail("saving the model");
    nb_model_free(model);
    nb_dataset_free(&data);
    nb_mpi_end(&comm, rc);
    return rc;
}
