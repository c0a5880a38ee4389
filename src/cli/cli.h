/* cli.h — the command line shared by the subcommands: common options,
 * collecting experiment files (a directory expands to its sorted *.ini). */
#ifndef CNNRUN_CLI_H
#define CNNRUN_CLI_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/files.h"
#include "cnnrun/model.h"

#define CLI_MAX_SETS 64

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
    int64_t study_id;      /* run: the study its runs are recorded in (cmd_run.c; 0: none) */
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
/* Sets the engine's thread count (engine_set_threads: the OpenMP team's, with
 * OpenBLAS single-threaded inside it; OpenBLAS's own threads when built
 * without OpenMP) to requested, or to the online CPUs when requested is 0,
 * and returns it. Call it before model_build (per-thread scratch). */
int cli_setup_threads(int requested);
/* SIGINT and SIGTERM set cli_stop_requested (run, lr-find: finish the step,
 * save, mark the run interrupted) instead of killing the process; the first
 * SIGINT says so on stderr, and a second one kills the process at once (a
 * wait for a locked database, a long step). */
extern volatile sig_atomic_t cli_stop_requested;
void cli_catch_stop_signals(void);
/* The first SIGINT says nothing (a --jobs worker: its parent speaks). */
void cli_stop_signals_quiet(void);
/* Under mpirun main() sends the output of ranks other than 0 to /dev/null;
 * this gives this rank its stderr back (a --ranks-per-run group's rank 0). */
void cli_speak(void);

/* watch.c: the run that the MPI fault watch (dist.h) marks `failed` when a
 * rank dies, or `interrupted` when the job is stopped, from its own thread
 * (hence atomics: the training thread updates them). */
typedef struct {
    const char *db_path;          /* every rank's (the speaker may not be rank 0) */
    const char *config_path;      /* the experiment file, for the resume hint; NULL: none */
    _Atomic int64_t run_id;       /* <= 0: no row yet */
    _Atomic double train_seconds; /* the finished epochs' (runs.train_seconds) */
} WatchedRun;
/* Over MPI ranks (else nothing): every rank calls it, with rank 0's run_id
 * (the row it made; broadcast to the others), and w then watched (its
 * db_path, config_path and train_seconds set). Stop: nothing watched
 * (waits for a mark in progress). */
void cli_watch_start(WatchedRun *w, int64_t run_id);
void cli_watch_stop(void);

/* data_source.c: the data an experiment trains on ([data] dataset, dir):
 * its images, its identity and classes (DataInfo), and where it came from. */
typedef struct {
    CifarSplit train, test;
    DataInfo info;
    const char *dir;    /* the directory as given (--data, [data] dir, ...) */
    const char *origin; /* "--data", "[data] dir", "$CNNRUN_DATA", "embedded sample" */
} LoadedData;
/* Resolves the directory (cifar_resolve_dir with data_opt, --data) and
 * loads e's data set into d; then e->classes is the data's and, with
 * normalize = dataset, e->norm_mean and norm_std the training images'. 0,
 * CN_EXIT_USAGE (an empty --data or $CNNRUN_DATA; printed) or CN_EXIT_FAIL
 * (the loader's message). Free with cli_free_data after 0. */
int cli_load_data(const char *data_opt, Experiment *e, LoadedData *d);
void cli_free_data(LoadedData *d);
/* dataset = folder: e->classes from the class folders of its train/ (no
 * picture decoded), and `validation` checked against them; other data sets
 * know theirs from the file. 0, or -1 after printing why. */
int cli_count_classes(const char *data_opt, Experiment *e);

/* train_split.c: cuts train to the file's train_subset and moves its
 * [data] validation images into *val (zeroed by the caller; untouched without
 * validation, or when held_out: the data's test split is those images,
 * data_load's). validation / e->classes of each class. 0, or -1 after
 * printing why the training images cannot give them (file:line of
 * `validation`; exit status 2). */
int cli_training_split(const Experiment *e, CifarSplit *train, CifarSplit *val, bool held_out);
/* train_split.c: cuts test to the file's test_subset. A subset larger than
 * the data (train_subset here and in cli_training_split) is not cut silently:
 * a warning names the key, its file:line and the number of images used. */
void cli_test_split(const Experiment *e, CifarSplit *test);

/* mem_fit.c: a network's memory plan held against the memory available.
 * MEM_CHECK_WARN prints a warning (cnnrun check), MEM_CHECK_REFUSE refuses
 * (cnnrun run): -1 after saying so, with the largest batch size that fits;
 * 0 when it fits, when only warned, or when the memory is not known. m:
 * built for shapes (model_build with max_batch 0). */
typedef enum { MEM_CHECK_NONE, MEM_CHECK_WARN, MEM_CHECK_REFUSE } MemCheck;
int cli_memory_fits(const char *path, const Model *m, MemCheck how);
/* mem_fit.c: the memory the system has available in bytes (/proc/meminfo
 * MemAvailable, else sysconf), 0 when unknown. */
double cli_available_bytes(void);
/* Under an address-space limit (ulimit -v), first thing in main: whether
 * OpenBLAS's own threads mapped their buffers as it loaded (if not, they
 * try again for ever, and exit() would wait for them). 0, or -1 after
 * saying "out of memory" with the limit that would do: main then ends with
 * _exit(1), not exit(). */
int cli_address_space_start(void);
/* Under an address-space limit, before a network's products start: whether
 * what is mapped now, the plan of e's network at batch, the OpenBLAS
 * buffers still to come for `threads` threads and their stacks and heaps
 * fit. 0 (also without a limit), or CN_EXIT_FAIL after saying "out of
 * memory" with the limit (or --threads) that would do. */
int cli_address_space_fits(const char *path, const Experiment *e, int batch, int threads);

/* grid.c: the runs one experiment file stands for — one, or the grid of its
 * [sweep] section and the --sweep options; each point is the file with the
 * --set values and then the point's values as overrides. */
typedef struct {
    const char *path;
    const ConfigOverride *sets;
    int n_sets;
    Sweep sweep;  /* no keys: one point, the file itself */
    MemCheck memory; /* each point's memory plan against the machine (grid_check) */
    const EngineSettings *engine; /* every point's Experiment.engine */
    const char *data; /* --data: where a folder's classes are counted (NULL: none given) */
    ConfigOverride ov[CLI_MAX_SETS + CN_SWEEP_MAX_KEYS];
    char **texts;    /* point i's resolved configuration once asked for (grid_point_text) */
} Grid;

/* Reads the file's sweep and the options' (errors printed); 0 or -1. */
int grid_open(Grid *g, const char *path, const CliOptions *o);
/* For a command that runs one configuration of o->files[0]: a note on
 * stderr when its [sweep] has keys no --set gives (they are not applied). */
void cli_note_unswept(const CliOptions *o, const char *command);
void grid_close(Grid *g);
/* The overrides of point i (the --set ones, then the point's) and their number. */
const ConfigOverride *grid_point(Grid *g, long i, int *n);
/* experiment_load of point i. */
int grid_load(Grid *g, long i, Experiment *e);
/* Point i's resolved configuration (experiment_text), as a run of it records
 * it: made once, kept until grid_close. NULL if the point does not load
 * (printed; grid_check has refused such a grid). */
const char *grid_point_text(Grid *g, long i);
/* Loads every point and builds its network's shapes and groups, before
 * anything trains; problems are printed, each bad value of a sweep once, with
 * the point it was found in. 0 (with point 0 in *first when not NULL), or -1. */
int grid_check(Grid *g, Experiment *first);
/* The warnings of [sweep] prune, on stderr at the prune line: judged on the
 * test set (first: point 0 has no [data] validation), which leaks it; and
 * deciding before a point's learning rate peaks. Nothing without prune. */
void grid_warn_prune(Grid *g, const Experiment *first);

/* trained.c: what eval, export and predict share — the one experiment file,
 * its network built for batches of `batch` images, the weights of --weights
 * loaded into it. */
typedef struct {
    Experiment e;
    Model m;
    CheckpointMeta meta;
    int batch;    /* min(test_batch_size, batch_size): the planned batch */
    int threads;  /* the engine's, set by cli_setup_threads */
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
