/* The files of a training run, checked before any work (see
 * train_job_internal.h): no output replaces an input or another output,
 * and each can be written. */
#include "cli.h"
#include "train_job_internal.h"

#include <stdlib.h>
#include <string.h>

#define CMD "train"

/* A file train writes or reads, named by its option. */
typedef struct named_path {
    const char *option; /* "--out", or a description for the Ctrl-C checkpoint */
    const char *path;
} named_path;

#define CTRL_C_CHECKPOINT "the Ctrl-C checkpoint"

/* Fail before training, not after it, when an output cannot be written:
 * its folder exists and is writable, and it is not a folder. The implicit
 * Ctrl-C checkpoint is only written on Ctrl-C: a problem with it is a
 * warning, and Ctrl-C then ends the run at once (*checkpoint NULL). */
static int check_output(const named_path *o, const char **checkpoint)
{
    if (nb_output_check(o->path) == NB_OK) return CLI_EXIT_OK;
    if (strcmp(o->option, CTRL_C_CHECKPOINT) == 0) {
        fprintf(stderr,
                "nabla %s: warning: %s: %s; Ctrl-C will save none and end the run at once (give "
                "--checkpoint FILE)\n",
                CMD, o->option, nb_last_error());
        *checkpoint = NULL;
        return CLI_EXIT_OK;
    }
    cli_error(CMD, "%s: %s", o->option, nb_last_error());
    return CLI_EXIT_OUTPUT;
}

/* The outputs, and the first data file one of them is (nb_data_files). */
typedef struct data_clash {
    const named_path *out;
    int n_out;
    int hit;    /* the output's index, or -1 */
    char *file; /* the data file it is */
} data_clash;

static int find_data_clash(const char *path, void *user)
{
    data_clash *c = user;
    for (int i = 0; i < c->n_out; i++)
        if (nb_files_collide(c->out[i].path, path)) {
            c->hit = i;
            c->file = strdup(path);
            return 1;
        }
    return 0;
}

/* No output may be a file the data source reads: a CSV file, or any of the
 * IDX files of a folder (those not there yet too: one would be read). */
static int check_data_clash(const arg_command *cmd, const char *data, const named_path *out,
                            int n_out)
{
    data_clash c = {out, n_out, -1, NULL};
    if (nb_data_files(data, find_data_clash, &c) != NB_OK)
        return cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--data");
    if (c.hit < 0) return CLI_EXIT_OK;
    const named_path *o = &out[c.hit];
    int rc;
    if (!c.file)
        rc = cli_fail(CMD, NB_ERR_MEMORY, CLI_STAGE_RUN, "--data");
    else if (strcmp(c.file, data) == 0)
        rc = args_usage_error(cmd,
                              "%s '%s' and --data '%s' are the same file: the output would "
                              "replace the input",
                              o->option, o->path, data);
    else
        rc = args_usage_error(cmd,
                              "%s '%s' and --data '%s' (its file '%s') are the same file: the "
                              "output would replace the input",
                              o->option, o->path, data, c.file);
    free(c.file);
    return rc;
}

/* No output may replace an input or another output: compared as files
 * (device and inode, through links), not as strings. The checkpoint that
 * --resume reads may be the one this run writes: it is read whole before
 * the first save replaces it. */
static int check_collisions(const arg_command *cmd, const cli_train_job *job, const named_path *out,
                            int n_out)
{
    const char *resume = job->config.resume_path;
    for (int i = 0; i < n_out; i++) {
        for (int j = 0; j < i; j++)
            if (nb_files_collide(out[i].path, out[j].path))
                return args_usage_error(cmd,
                                        "%s '%s' and %s '%s' are the same file: one output "
                                        "would replace the other",
                                        out[j].option, out[j].path, out[i].option, out[i].path);
        int checkpoint = strcmp(out[i].option, "--checkpoint") == 0 ||
                         strcmp(out[i].option, CTRL_C_CHECKPOINT) == 0;
        if (resume && !checkpoint && nb_files_collide(out[i].path, resume))
            return args_usage_error(cmd,
                                    "%s '%s' and --resume '%s' are the same file: the output "
                                    "would replace the input",
                                    out[i].option, out[i].path, resume);
    }
    return check_data_clash(cmd, job->data, out, n_out);
}

int cli_train_check_files(const arg_command *cmd, const cli_train_job *job, const char **checkpoint)
{
    named_path out[5];
    int n_out = 0;
    if (job->out) out[n_out++] = (named_path){"--out", job->out};
    if (job->log) out[n_out++] = (named_path){"--log", job->log};
    if (job->report) out[n_out++] = (named_path){"--report", job->report};
    out[n_out++] = (named_path){job->checkpoint ? "--checkpoint" : CTRL_C_CHECKPOINT, *checkpoint};
    int rc = check_collisions(cmd, job, out, n_out);
    if (rc != CLI_EXIT_OK) return rc;
    const char *resume = job->config.resume_path;
    if (resume) {
        nb_status st = nb_input_check(resume);
        if (st != NB_OK) {
            cli_error(CMD, "resuming from checkpoint \"%s\": %s", resume, nb_last_error());
            return cli_exit_code(st, CLI_STAGE_MODEL);
        }
    }
    for (int i = 0; i < n_out && rc == CLI_EXIT_OK; i++) rc = check_output(&out[i], checkpoint);
    return rc;
}
