/* commands.c — the command line's two tables: one row per command (its
 * function, arguments, one-line summary) and one row per option (its kind
 * of value, the CliOptions field it sets, the commands that take it, one
 * line of help), and the checks of the few values that need more than their
 * kind's. An option that means one thing to some commands and another to
 * others (--study, --steps, -o, --json) has a row for each meaning. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cnnrun/dist.h"
#include "cnnrun/util.h"

const CliCommand cli_commands[CMD_COUNT] = {
    [CMD_RUN] = {"run", cmd_run, "FILE.ini|DIR ...", "experiment file", CMDF_BUILDS | CMDF_SHARED,
                 "train and record runs; a DIR runs every *.ini in it, sorted by name"},
    [CMD_CHECK] = {"check", cmd_check, "FILE.ini ...", "experiment file", CMDF_BUILDS,
                   "validate; print the configuration, model table (a sweep: its runs)"},
    [CMD_BENCH] = {"bench", cmd_bench, "FILE.ini", "experiment file", CMDF_BUILDS | CMDF_SHARED,
                   "training throughput (img/s, step times, GFLOP/s) and per-layer time"},
    [CMD_TUNE] = {"tune", cmd_tune, "FILE.ini ...", "experiment file", CMDF_BUILDS,
                  "each convolution's algorithm measured now (or kept), for later runs"},
    [CMD_EVAL] = {"eval", cmd_eval, "FILE.ini", "experiment file", CMDF_BUILDS,
                  "a checkpoint's test loss and accuracy, per class, confusion matrix"},
    [CMD_EXPORT] = {"export", cmd_export, "FILE.ini", "experiment file", CMDF_BUILDS,
                    "the trained network as an ONNX model (opset 13; docs/export.md)"},
    [CMD_PREDICT] = {"predict", cmd_predict, "FILE.ini IMAGE ...", "experiment file",
                     CMDF_BUILDS | CMDF_RAW_ARGS,
                     "the top-3 classes of PNG, JPEG or PPM images of any size"},
    [CMD_LR_FIND] = {"lr-find", cmd_lr_find, "FILE.ini", "experiment file",
                     CMDF_BUILDS | CMDF_SHARED,
                     "learning-rate range test; suggests a [schedule]"},
    [CMD_REPORT] = {"report", cmd_report, "", NULL, 0,
                    "HTML report of the newest study (index.html, SVG plots), best first"},
    [CMD_RUNS] = {"runs", cmd_runs, "", NULL, 0,
                  "the runs as a table, their groups of seeds, CSV or JSON, or a --diff"},
    [CMD_STUDIES] = {"studies", cmd_studies, "", NULL, 0,
                     "one line per study (run invocation): its runs, wall time, best point"},
    [CMD_MERGE] = {"merge", cmd_merge, "A.db B.db ...", "database", 0,
                   "the runs of several results databases in one, renumbered"},
};

const CliCommand *cli_command(const char *name)
{
    for (int i = 0; i < CMD_COUNT; i++)
        if (!strcmp(cli_commands[i].name, name)) return &cli_commands[i];
    return NULL;
}

/* ---- the values that need a check of their own ---------------------------- */

static int take_data(CliOptions *o, const char *val, const char *command)
{
    (void)o, (void)command;
    if (*val) return 0;
    cifar_resolve_dir(val, NULL, NULL); /* its message: never the sample silently */
    return -1;
}

static int take_study(CliOptions *o, const char *val, const char *command)
{
    (void)o;
    if (*val) return 0;
    fprintf(stderr, "cnnrun %s: --study needs a name%s, got ''\n", command,
            strcmp(command, "run") ? ", an id or 'all'" : "");
    return -1;
}

static int take_set(CliOptions *o, const char *val, const char *command)
{
    if (o->n_sets == CLI_MAX_SETS) {
        fprintf(stderr, "cnnrun %s: too many --set options (at most %d)\n", command, CLI_MAX_SETS);
        return -1;
    }
    char *buf = xstrdup(val); /* freed by cli_free: the override's section points at it */
    if (config_override_parse(buf, &o->sets[o->n_sets]) != 0) {
        free(buf);
        return -1;
    }
    o->n_sets++;
    return 0;
}

static int take_sweep(CliOptions *o, const char *val, const char *command)
{
    if (o->n_sweeps == CLI_MAX_SETS) {
        fprintf(stderr, "cnnrun %s: too many --sweep options (at most %d)\n", command,
                CLI_MAX_SETS);
        return -1;
    }
    o->sweeps[o->n_sweeps++] = (char *)val; /* sweep_load checks its form */
    return 0;
}

static int take_resume(CliOptions *o, const char *val, const char *command)
{
    (void)val, (void)command;
    o->resume = 1;
    return 0;
}

static int take_jobs(CliOptions *o, const char *val, const char *command)
{
    (void)val;
    if (o->jobs == 1 || dist_world_size() == 1) return 0;
    fprintf(stderr, "cnnrun %s: --jobs %d trains runs side by side on one machine; under mpirun "
                    "(%d ranks) the ranks train one run together: leave out --jobs "
                    "(--ranks-per-run K shares the ranks among runs), or run without mpirun\n",
            command, o->jobs, dist_world_size());
    return -1;
}

static int take_ranks_per_run(CliOptions *o, const char *val, const char *command)
{
    (void)val;
    int k = o->ranks_per_run, world = dist_world_size();
    if (world == 1 && k > 1) {
        fprintf(stderr, "cnnrun %s: --ranks-per-run %d shares the ranks of an mpirun job among "
                        "runs, but this process is one rank (not started by mpirun, or cnnrun "
                        "built without MPI): give `mpirun -np R cnnrun %s ... --ranks-per-run "
                        "%d` with R a multiple of %d, or leave the option out\n",
                command, k, command, k, k);
        return -1;
    }
    if (world % k == 0) return 0;
    fprintf(stderr, "cnnrun %s: --ranks-per-run %d does not divide the %d ranks (mpirun -np %d): "
                    "the ranks split into groups of K, each training its own runs; give a K "
                    "that divides %d\n",
            command, k, world, world, world);
    return -1;
}

/* ---- the options ------------------------------------------------------------ */

/* the commands that build a network from an experiment file and its --set */
#define BUILDERS (ON(RUN) | ON(CHECK) | ON(BENCH) | ON(TUNE) | ON(LR_FIND) | ON(EVAL) | \
                  ON(EXPORT) | ON(PREDICT))

static const char *const tta_values[] = {"none", "mirror", "flip", "mirror_translate", NULL};
static const int tta_codes[] = {TTA_NONE, TTA_MIRROR, TTA_MIRROR, TTA_MIRROR_TRANSLATE};
_Static_assert(sizeof(TtaMode) == sizeof(int), "--tta is stored as an int");

const CliOption cli_options[] = {
    /* the experiment, its data and where it is recorded */
    {"db", 0, ARG_PATH, OPT_FIELD(db), ON(RUN) | ON(LR_FIND) | ON(REPORT) | ON(RUNS) | ON(STUDIES),
     "PATH", "the results database (default results/results.db)"},
    {"db", 0, ARG_PATH, OPT_FIELD(db), ON(EVAL) | ON(EXPORT), "PATH",
     "the results database, which the output must not overwrite (default results/results.db)"},
    {"data", 0, ARG_PATH, OPT_FIELD(data), ON(RUN) | ON(CHECK) | ON(LR_FIND) | ON(EVAL), "DIR",
     "the data's directory (default: [data] dir, $CNNRUN_DATA, then the embedded sample)",
     .take = take_data},
    {"threads", 0, ARG_INT, OPT_FIELD(threads), ON(RUN), "N",
     "threads per run (default: all cores; with --jobs N, the cores / N)", .lo = 1, .hi = 1024},
    {"threads", 0, ARG_INT, OPT_FIELD(threads), BUILDERS & ~ON(RUN), "N",
     "threads (default: all cores)", .lo = 1, .hi = 1024},
    {"set", 0, ARG_LIST, OPT_FIELD(sets), BUILDERS, "S.KEY=VALUE",
     "override a value of the experiment file (repeatable), e.g. --set experiment.epochs=3",
     .take = take_set},
    {"sweep", 0, ARG_LIST, OPT_FIELD(sweeps), ON(RUN) | ON(CHECK), "S.KEY=V1,V2,...",
     "the grid of these values (repeatable; first key outermost; a list key's values by '|')",
     .take = take_sweep},
    /* run */
    {"resume", 0, ARG_MAYBE_PATH, OPT_FIELD(resume_path), ON(RUN), "[PATH.ckpt]",
     "continue each file's newest unfinished run (or PATH.ckpt's); a sweep's unfinished points",
     .suffix = ".ckpt", .take = take_resume},
    {"jobs", 0, ARG_INT, OPT_FIELD(jobs), ON(RUN), "N",
     "train N runs at once, each in a worker process (default 1)", .lo = 1, .hi = 1024,
     .take = take_jobs},
    {"until-epoch", 0, ARG_INT, OPT_FIELD(until_epoch), ON(RUN), "N",
     "pause each run after its epoch N (saved, `interrupted`); --resume continues it", .lo = 1,
     .hi = 100000},
    {"ranks-per-run", 0, ARG_INT, OPT_FIELD(ranks_per_run), ON(RUN), "K",
     "under mpirun -np R: R/K groups of K ranks, each training its share of the runs", .lo = 1,
     .hi = 1 << 20, .take = take_ranks_per_run},
    {"study", 0, ARG_STRING, OPT_FIELD(study), ON(RUN), "NAME",
     "the study's name (default: the directory's or the first file's)", .take = take_study},
    {"skip-invalid", 0, ARG_NONE, OPT_FIELD(skip_invalid), ON(RUN), NULL,
     "a directory run: files that don't fit are named and skipped, not the whole refused"},
    /* bench, lr-find */
    {"steps", 0, ARG_INT, OPT_FIELD(steps), ON(BENCH), "N", "time at least N steps (default 10)",
     .lo = 1, .hi = 1000000},
    {"seconds", 0, ARG_REAL, OPT_FIELD(seconds), ON(BENCH), "S",
     "time steps for at least S seconds", .rlo = 0, .rhi = 86400,
     .expects = "a time in seconds in (0, 86400]"},
    {"batch", 0, ARG_INT, OPT_FIELD(batch), ON(BENCH), "B",
     "the batch size timed (default: the file's batch_size)", .lo = 1, .hi = 65536},
    {"steps", 0, ARG_INT, OPT_FIELD(steps), ON(LR_FIND), "N",
     "the range test's steps (default 100)", .lo = 1, .hi = 1000000},
    {"min", 0, ARG_REAL, OPT_FIELD(lr_min), ON(LR_FIND), "LR",
     "the lowest learning rate tried (default 1e-5)", .rlo = 0, .rhi = 1e6,
     .expects = "a learning rate > 0"},
    {"max", 0, ARG_REAL, OPT_FIELD(lr_max), ON(LR_FIND), "LR",
     "the highest learning rate tried (default 10)", .rlo = 0, .rhi = 1e6,
     .expects = "a learning rate > 0"},
    /* a trained network: eval, export, predict */
    {"weights", 0, ARG_PATH, OPT_FIELD(weights), ON(EVAL) | ON(EXPORT) | ON(PREDICT), "PATH",
     "the checkpoint loaded", .required = true},
    {"tta", 0, ARG_ENUM, OPT_FIELD(tta), ON(EVAL) | ON(PREDICT), NULL,
     "the views' weighted logits, as [experiment] tta (flip = mirror; default none)",
     .values = tta_values, .codes = tta_codes},
    {"logits", 0, ARG_PATH, OPT_FIELD(logits), ON(EVAL), "FILE",
     "each test image's label and logits, as text, to FILE"},
    {"json", 0, ARG_NONE, OPT_FIELD(json), ON(PREDICT), NULL, "the answers as one JSON object"},
    {"output", 'o', ARG_PATH, OPT_FIELD(output), ON(EXPORT), "MODEL.onnx",
     "the ONNX model written", .required = true},
    /* the database read back: report, runs, studies */
    {"output", 'o', ARG_PATH, OPT_FIELD(output), ON(REPORT), "DIR",
     "where the report goes (default: report/ next to the database)"},
    {"study", 0, ARG_STRING, OPT_FIELD(study), ON(REPORT) | ON(RUNS), "ID|NAME|all",
     "the study shown (default: the newest)", .take = take_study},
    {"runs", 0, ARG_STRING, OPT_FIELD(runs), ON(REPORT) | ON(RUNS), "1,3|latest|all",
     "the runs shown"},
    {"text", 0, ARG_NONE, OPT_FIELD(text), ON(REPORT), NULL,
     "the report's table on the terminal, no HTML"},
    {"groups", 0, ARG_NONE, OPT_FIELD(groups), ON(RUNS), NULL,
     "the runs that differ only in their seed, as groups: mean ± std"},
    {"csv", 0, ARG_NONE, OPT_FIELD(csv), ON(RUNS), NULL,
     "every run with its values (run_params) and metrics, one CSV line each"},
    {"json", 0, ARG_NONE, OPT_FIELD(json), ON(RUNS), NULL,
     "every run with its values and metrics, one JSON object each"},
    {"epochs", 0, ARG_NONE, OPT_FIELD(epochs), ON(RUNS), NULL,
     "with --csv or --json: each run's epochs too"},
    {"diff", 0, ARG_IDS, OPT_FIELD(diff), ON(RUNS), "ID ID ...",
     "the configuration keys that differ between the runs, one line per key"},
    /* merge */
    {"into", 0, ARG_PATH, OPT_FIELD(into), ON(MERGE), "ALL.db",
     "the database the runs are merged into", .required = true},
};
const int cli_n_options = (int)(sizeof cli_options / sizeof cli_options[0]);

const CliOption *cli_option(const char *name, CliCommandId command)
{
    for (int i = 0; i < cli_n_options; i++)
        if (!strcmp(cli_options[i].name, name) && (cli_options[i].commands & (1u << command)))
            return &cli_options[i];
    return NULL;
}

unsigned cli_option_commands(const char *name)
{
    unsigned commands = 0;
    for (int i = 0; i < cli_n_options; i++)
        if (!strcmp(cli_options[i].name, name)) commands |= cli_options[i].commands;
    return commands;
}

const char *cli_short_option(char letter)
{
    for (int i = 0; i < cli_n_options; i++)
        if (letter && cli_options[i].short_name == letter) return cli_options[i].name;
    return NULL;
}
