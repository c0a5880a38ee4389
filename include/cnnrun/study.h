/* study.h — a study (src/study): what one `cnnrun run` invocation trains —
 * every run of its experiment files (a file's [sweep] grid, a directory's
 * files), checked before anything trains, recorded in the results database
 * one after the other, N at a time in worker processes (--jobs) or shared
 * among groups of MPI ranks (--ranks-per-run) — and what the commands that
 * train or check one network share with it: the data a network trains on,
 * its training split, its memory held against the machine, the threads and
 * stop signals of a process that trains. The command line (src/cli) fills a
 * StudyOptions; the layer knows nothing of the command line. */
#ifndef CNNRUN_STUDY_H
#define CNNRUN_STUDY_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"

#define STUDY_MAX_SETS 64 /* --set, --sweep options at most */

/* What a study is asked to train. Pointers are the caller's, kept alive
 * for the call. */
typedef struct {
    const char *db;             /* the results database (created if absent) */
    const char *data;           /* the data directory given (--data); NULL: each file's */
    int threads;                /* per run; 0: every core (--jobs: shared by the workers) */
    const ConfigOverride *sets; /* applied to every file (--set) */
    int n_sets;
    char *const *sweeps;        /* SECTION.KEY=V1,V2 as given (--sweep): grid keys */
    int n_sweeps;
    char *const *files;         /* the experiment files (a directory already expanded) */
    int n_files;
    EngineSettings engine;      /* every experiment's Experiment.engine */
    int jobs;                   /* runs trained at once, each in a worker (<= 1: one) */
    int ranks_per_run;          /* under mpirun: groups of K ranks (0: one group) */
    int until_epoch;            /* > 0: pause each run after this epoch */
    int resume;                 /* continue the study's unfinished runs */
    const char *resume_path;    /* ... from this checkpoint (one run); NULL: look it up */
    bool skip_invalid;          /* a file that does not check is named and left out, not
                                 * a refusal of the whole study */
    const char *name;           /* the study's name; NULL: from first_arg */
    const char *first_arg;      /* the first file or directory as given */
    const char *command_line;   /* the command as typed (studies.command) */
    const char *resume_command; /* the command that continues it, for the hints */
    int64_t study_id;           /* set by study_run: the studies row (0: none) */
} StudyOptions;

/* Trains the study (study.c): every file and grid point checked before
 * anything trains (a misfit refuses them all, exit status 2, each misfit
 * named; with skip_invalid it is named and left out, and the status is
 * CN_EXIT_SKIPPED, 3, when the rest succeeded), the database opened, the
 * study's row, its estimated cost printed (several runs), the runs
 * trained, the summary. Returns the worst exit status. */
int study_run(StudyOptions *s);

/* ---- one process that trains (process.c) ---------------------------------- */

/* Sets the engine's thread count (engine_set_threads: the OpenMP team's, with
 * OpenBLAS single-threaded inside it; OpenBLAS's own threads when built
 * without OpenMP) to requested, or to the online CPUs when requested is 0,
 * and returns it. Call it before model_build (per-thread scratch). It warns
 * (rank 0) when OpenBLAS runs a generic core on a vector CPU (blas_warn);
 * study_engine_threads does the same without the warning: a --jobs worker's,
 * whose parent has warned once for the study. */
int study_setup_threads(int requested);
int study_engine_threads(int requested);
/* SIGINT and SIGTERM set study_stop_requested (run, lr-find: finish the step,
 * save, mark the run interrupted) instead of killing the process; the first
 * SIGINT says so on stderr, and a second one kills the process at once (a
 * wait for a locked database, a long step). */
extern volatile sig_atomic_t study_stop_requested;
void study_catch_stop_signals(void);
/* The first SIGINT says nothing (a --jobs worker: its parent speaks). */
void study_stop_signals_quiet(void);
/* Under mpirun, first thing: the output of ranks other than 0 goes to
 * /dev/null (every rank checks everything; rank 0 alone speaks) unless
 * $CNNRUN_DIST_VERBOSE is set. study_speak gives this rank its stderr back
 * (a --ranks-per-run group's rank 0). */
void study_mute_rank(void);
void study_speak(void);

/* ---- the data (data_source.c, train_split.c) ------------------------------ */

/* The data an experiment trains on ([data] dataset, dir): its images, its
 * identity and classes (DataInfo), and where it came from. */
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
 * (the loader's message). Free with study_free_data after 0. */
int study_load_data(const char *data_opt, Experiment *e, LoadedData *d);
void study_free_data(LoadedData *d);
/* dataset = folder: e->classes from the class folders of its train/ (no
 * picture decoded), and `validation` checked against them; other data sets
 * know theirs from the file. 0, or -1 after printing why. */
int study_count_classes(const char *data_opt, Experiment *e);

/* Cuts train to the file's train_subset and moves its [data] validation
 * images into *val (zeroed by the caller; untouched without validation, or
 * when held_out: the data's test split is those images, data_load's).
 * validation / e->classes of each class. 0, or -1 after printing why the
 * training images cannot give them (file:line of `validation`; exit status
 * 2). */
int study_training_split(const Experiment *e, CifarSplit *train, CifarSplit *val, bool held_out);
/* Cuts test to the file's test_subset. A subset larger than the data
 * (train_subset here and in study_training_split) is not cut silently: a
 * warning names the key, its file:line and the number of images used. */
void study_test_split(const Experiment *e, CifarSplit *test);

/* ---- memory (mem_fit.c) ---------------------------------------------------- */

/* A network's memory plan held against the memory available.
 * MEM_CHECK_WARN prints a warning (cnnrun check), MEM_CHECK_REFUSE refuses
 * (cnnrun run): -1 after saying so, with the largest batch size that fits;
 * 0 when it fits, when only warned, or when the memory is not known. m:
 * built for shapes (model_build with max_batch 0). */
typedef enum { MEM_CHECK_NONE, MEM_CHECK_WARN, MEM_CHECK_REFUSE } MemCheck;
int study_memory_fits(const char *path, const Model *m, MemCheck how);
/* The memory the system has available in bytes (/proc/meminfo
 * MemAvailable, else sysconf), 0 when unknown. */
double study_available_bytes(void);
/* Under an address-space limit (ulimit -v), first thing in main: whether
 * OpenBLAS's own threads mapped their buffers as it loaded (if not, they
 * try again for ever, and exit() would wait for them). 0, or -1 after
 * saying "out of memory" with the limit that would do: main then ends with
 * _exit(1), not exit(). */
int study_address_space_start(void);
/* Under an address-space limit, before a network's products start: whether
 * what is mapped now, the plan of e's network at batch, the OpenBLAS
 * buffers still to come for `threads` threads and their stacks and heaps
 * fit. 0 (also without a limit), or CN_EXIT_FAIL after saying "out of
 * memory" with the limit (or --threads) that would do. */
int study_address_space_fits(const char *path, const Experiment *e, int batch, int threads);

/* ---- the MPI fault watch (watch.c) ----------------------------------------- */

/* The run that the MPI fault watch (dist.h) marks `failed` when a rank
 * dies, or `interrupted` when the job is stopped, from its own thread
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
void study_watch_start(WatchedRun *w, int64_t run_id);
void study_watch_stop(void);

/* ---- the grid of runs of one file (grid.c) --------------------------------- */

/* The runs one experiment file stands for — one, or the grid of its
 * [sweep] section and the sweeps options; each point is the file with the
 * sets values and then the point's values as overrides. */
typedef struct {
    const char *path;
    const ConfigOverride *sets;
    int n_sets;
    Sweep sweep;  /* no keys: one point, the file itself */
    MemCheck memory; /* each point's memory plan against the machine (grid_check) */
    const EngineSettings *engine; /* every point's Experiment.engine */
    const char *data; /* --data: where a folder's classes are counted (NULL: none given) */
    ConfigOverride ov[STUDY_MAX_SETS + CN_SWEEP_MAX_KEYS];
    char **texts;    /* point i's resolved configuration once asked for (grid_point_text) */
} Grid;

/* Reads the file's sweep and the options' (s: sets, sweeps, engine, data;
 * errors printed); 0 or -1. */
int grid_open(Grid *g, const char *path, const StudyOptions *s);
/* For a command that runs one configuration of the file at path: a note on
 * stderr when its [sweep] has keys no --set gives (they are not applied). */
void grid_note_unswept(const char *path, const ConfigOverride *sets, int n_sets,
                       const char *command);
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

#endif
