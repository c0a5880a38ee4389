/* cmd_run.c — `cnnrun run FILE|DIR ...`: the study the command line asks for
 * (src/study, study.h: every file and grid point checked before anything
 * trains, then each run trained and recorded; --resume, --jobs N,
 * --ranks-per-run K; docs/training.md), filled from the options. */
#include "cli.h"

void cli_study_options(const CliOptions *o, StudyOptions *s)
{
    *s = (StudyOptions){.db = o->db, .data = o->data, .threads = o->threads,
                        .sets = o->sets, .n_sets = o->n_sets,
                        .sweeps = o->sweeps, .n_sweeps = o->n_sweeps,
                        .files = o->files, .n_files = o->n_files, .engine = o->engine,
                        .jobs = o->jobs, .ranks_per_run = o->ranks_per_run,
                        .until_epoch = o->until_epoch, .resume = o->resume,
                        .resume_path = o->resume_path, .skip_invalid = o->skip_invalid,
                        .name = o->study, .first_arg = o->first_arg,
                        .command_line = o->command_line, .resume_command = o->resume_command};
}

int cmd_run(CliOptions *o)
{
    o->resume_command = cli_resume_command(o); /* the hints' (freed by cli_free) */
    StudyOptions s;
    cli_study_options(o, &s);
    return study_run(&s);
}
