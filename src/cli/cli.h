/* cli.h — the command line shared by the subcommands: common options,
 * collecting experiment files (a directory expands to its sorted *.ini). */
#ifndef CNNRUN_CLI_H
#define CNNRUN_CLI_H

#include <stdbool.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/files.h"
#include "cnnrun/model.h"
#include "cnnrun/study.h"

#define CLI_MAX_SETS STUDY_MAX_SETS

typedef struct {
    const char *db;        /* --db, default results/results.db */
    const char *data;      /* --data */
    int threads;           /* --threads, default: all cores */
    int n_sets;
    ConfigOverride sets[CLI_MAX_SETS];
    int n_sweeps;
    char *sweeps[CLI_MAX_SETS]; /* run/check --sweep SECTION.KEY=V1,V2 (as given) */
    int steps;             /* bench --steps */
    double seconds;        /* bench --seconds: time steps for at least this long */
    int batch;             /* bench --batch */
    const char *weights;   /* eval, export, predict --weights */
    TtaMode tta;           /* eval, predict --tta: the views, as [experiment] tta */
    const char *logits;    /* eval --logits FILE: every test image's logits, as text */
    int json;              /* predict --json */
    int jobs;              /* run --jobs N: runs trained at once, in worker processes (1) */
    int until_epoch;       /* run --until-epoch N: pause each run after epoch N (0: off) */
    int ranks_per_run;     /* run --ranks-per-run K under mpirun (0: all the ranks, one run) */
    bool skip_invalid;     /* run --skip-invalid: a file that does not fit is named and
                            * skipped, the others run (default: refuse them all) */
    int resume;            /* run --resume [PATH.ckpt] */
    const char *resume_path;
    double lr_min, lr_max; /* lr-find --min --max (0: default) */
    const char *output;    /* report -o DIR / --output DIR; export -o FILE.onnx */
    const char *runs;      /* report/runs --runs 1,3 | latest | all */
    int text;              /* report --text: the table on the terminal, no HTML */
    int groups;            /* runs --groups: the groups of runs (view run_groups) */
    int csv, epochs;       /* runs --csv (--json: json), --epochs: the per-epoch rows too */
    char *diff;            /* runs --diff ID ID ...: the ids as given, joined by ','
                            * (NULL: no --diff; "": --diff without ids) */
    const char *into;      /* merge --into ALL.db */
    const char *study;     /* run --study NAME; runs/report/studies --study ID|NAME|all */
    char *command_line;    /* run: the command as typed (studies.command) */
    char *resume_command;  /* run: the command that continues it (cli_resume_command; cmd_run) */
    int argc;              /* the arguments after the command, as given */
    char **argv;
    const char *first_arg; /* the first file or directory as given (the study's default name) */
    EngineSettings engine; /* from the environment (engine_settings_from_env), given to every
                            * experiment loaded: Experiment.engine */
    int n_files;
    char **files;          /* experiment files after expanding directories */
} CliOptions;

/* The parser, cli_parse, and the tables it reads: commands.h. */
void cli_free(CliOptions *o);
/* "cnnrun COMMAND ARG ..." as a shell reads it back (an argument with a
 * character a shell treats specially in single quotes); caller frees. */
char *cli_command_line(const char *command, int argc, char **argv);
/* The program as it was started (main's argv[0]): the command lines' first word. */
extern const char *cli_argv0;
/* The command that continues this `cnnrun run` where it stops: the same
 * program, files and options (every --set, --sweep, --db, --data, ...; under
 * mpirun, `mpirun -np N` first), --until-epoch left out (continuing goes on
 * past the share), and --resume. Quoted for a shell; caller frees. */
char *cli_resume_command(const CliOptions *o);
/* cmd_run.c: the study the options of `cnnrun run` (or `check`) ask for:
 * s points into o, which must outlive it. */
void cli_study_options(const CliOptions *o, StudyOptions *s);

/* trained.c: what eval, export and predict share — the one experiment file,
 * its network built for batches of `batch` images, the weights of --weights
 * loaded into it. */
typedef struct {
    Experiment e;
    Model m;
    CheckpointMeta meta;
    int batch;    /* min(test_batch_size, batch_size): the planned batch */
    int threads;  /* the engine's, set by study_setup_threads */
    DataInfo data; /* the run's data as the checkpoint records it (older: CIFAR-10) */
} Trained;
/* The experiment file is o->files[0]; images: the files after it are images
 * (predict: at least one), else it is the only file. 0, or the exit status
 * after printing the problem: no --weights, the wrong number of files, an unreadable --weights path, a bad experiment file (2), a network
 * without one output per class of the run's data (2), checkpoint_load's (2: another network
 * or not a checkpoint; 1: damaged, or weights that are NaN or infinite). Free with
 * cli_free_trained after 0. */
int cli_load_trained(const CliOptions *o, const char *command, bool images, Trained *t);
void cli_free_trained(Trained *t);

/* outputs.c: before any work, the file path that the command will write,
 * an output of `kind` (described as `what`, e.g. "the logits") — it must be
 * none of the experiment files, --weights, the results database (--db, and
 * its -wal, -shm, -journal) or a file of data_dir (may be NULL); absent, or
 * a regular file (not a link) that is empty or an earlier output of `kind`
 * (files.h output_target_ok); and a file can be created beside it. 0, or
 * CN_EXIT_USAGE after printing why. */
int cli_check_output(const CliOptions *o, const char *path, FileKind kind, const char *what,
                     const char *data_dir);

/* The subcommands: cmd_NAME in cmd_NAME.c (cmd_runs beside cmd_report in
 * cmd_report.c), each a row of commands.c. */
int cmd_run(CliOptions *o);
int cmd_check(CliOptions *o);
int cmd_report(CliOptions *o);  /* `cnnrun report` */
int cmd_runs(CliOptions *o);    /* `cnnrun runs` */
int cmd_studies(CliOptions *o); /* `cnnrun studies` (cmd_report.c) */
int cmd_eval(CliOptions *o);
int cmd_lr_find(CliOptions *o);
int cmd_export(CliOptions *o);  /* `cnnrun export` (ONNX) */
int cmd_predict(CliOptions *o); /* `cnnrun predict` */
int cmd_merge(CliOptions *o);   /* `cnnrun merge` */
int cmd_tune(CliOptions *o);    /* `cnnrun tune` */
int cmd_bench(CliOptions *o);   /* `cnnrun bench` */

#endif
