/* main.c — `cnnrun COMMAND ...`: dispatches to the subcommands and owns the
 * usage text. Exit status: 0 success, 1 a run failed, 2 bad command or file. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cnnrun/export.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

static const char *usage =
    "usage: cnnrun COMMAND [options] ...\n"
    "\n"
    "commands:\n"
    "  run    [options] FILE.ini|DIR ...  train; a DIR runs every *.ini in it, sorted by name\n"
    "         --resume [PATH.ckpt]        continue the newest unfinished run of each file's\n"
    "                                     experiment (or the run of PATH.ckpt) in its own row;\n"
    "                                     of a sweep: skip the finished points, continue the\n"
    "                                     interrupted one, run the rest\n"
    "         --sweep S.KEY=V1,V2,...     run the grid of these values (repeatable; the first\n"
    "                                     key outermost; replaces the file's [sweep] line of\n"
    "                                     the key; values of a list key separated by '|')\n"
    "         --jobs N                    train N runs at once (default 1), each in a worker\n"
    "                                     process with --threads threads (default: the cores\n"
    "                                     / N); one line per ended run and a study ETA\n"
    "         --until-epoch N             pause each run after its epoch N (its schedule\n"
    "                                     unchanged; `interrupted`, saved): a time-boxed share\n"
    "                                     of a long study; --resume continues it\n"
    "         --ranks-per-run K           under mpirun -np R: R/K groups of K ranks, each\n"
    "                                     training its share of the runs (default R: one\n"
    "                                     run at a time over all ranks; docs/distributed.md)\n"
    "         --study NAME                the study's name (default: the directory's or the\n"
    "                                     first file's); one run invocation is one study,\n"
    "                                     and --resume goes on in the newest of the name\n"
    "  check  FILE.ini ... [--sweep ...]  validate; print the configuration and model table\n"
    "                                     (and of a sweep, its runs, one line each)\n"
    "  bench  FILE.ini [--steps N] [--seconds S] [--batch B]\n"
    "                                     training throughput (img/s, step-time median and\n"
    "                                     spread, GFLOP/s against the sgemm peak) and per-layer\n"
    "                                     time; at least N steps (10), for at least S seconds\n"
    "  tune   FILE.ini ...                each convolution's algorithm measured now (or\n"
    "                                     kept from before) as a run would choose it, and the\n"
    "                                     choice said; later runs on this machine reuse it\n"
    "  eval   FILE.ini --weights PATH [--tta mirror|mirror_translate] [--logits FILE]\n"
    "                                     test loss, accuracy, per-class accuracy, confusion\n"
    "                                     matrix of a checkpoint; --tta: the views' weighted\n"
    "                                     logits, as [experiment] tta (flip = mirror);\n"
    "                                     --logits: each test image's label and logits to FILE\n"
    "  export FILE.ini --weights PATH -o MODEL.onnx\n"
    "                                     the trained network as an ONNX model (opset 13;\n"
    "                                     input RGB in [0,1], NCHW, any batch; docs/export.md)\n"
    "  predict FILE.ini --weights PATH [--tta ...] [--json] IMAGE ...\n"
    "                                     the top-3 classes of PNG, JPEG or PPM images of any\n"
    "                                     size (resized to 32x32: area average when shrinking,\n"
    "                                     bilinear when enlarging); 1 if an image is unreadable\n"
    "  lr-find FILE.ini [--min 1e-5] [--max 10] [--steps 100]\n"
    "                                     learning-rate range test; suggests a [schedule]\n"
    "  report [--db PATH] [-o DIR] [--study ID|NAME|all] [--runs 1,3|latest|all] [--text]\n"
    "                                     HTML report (DIR/index.html + SVG plots; default\n"
    "                                     DIR: report/ next to the database) of the newest\n"
    "                                     study, every run best first; --text: the table only\n"
    "  runs   [--db PATH] [--runs 1,3|latest|all] [--groups] [--study ID|NAME|all]\n"
    "                                     the comparison table on the terminal (default: all\n"
    "                                     runs of the newest study); --groups: its runs that\n"
    "                                     differ only in their seed, as mean ± std\n"
    "  studies [--db PATH]                one line per study (run invocation): its runs\n"
    "                                     finished, pruned, failed, wall time, best point\n"
    "  runs   [--db PATH] [--runs ...] --csv|--json [--epochs]\n"
    "                                     every run with its values (run_params) and metrics,\n"
    "                                     one CSV line or JSON object each, for pandas and\n"
    "                                     spreadsheets; --epochs: with its epochs (CSV: a line\n"
    "                                     per run and epoch) (docs/results.md)\n"
    "  runs   [--db PATH] --diff ID ID ...  the configuration keys that differ between the\n"
    "                                     runs, one line per key, one column per run\n"
    "  merge  A.db B.db ... --into ALL.db  the runs of several results databases (one per\n"
    "                                     machine) in one, renumbered; a run merged before\n"
    "                                     is skipped, or brought up to date if it was still\n"
    "                                     running then\n"
    "\n"
    "common options:\n"
    "  --db PATH          results database (default results/results.db)\n"
    "  --data DIR         CIFAR-10 binary directory (default: [data] dir, $CNNRUN_DATA,\n"
    "                     then the embedded sample)\n"
    "  --threads N        threads (default: all cores)\n"
    "  --set S.KEY=VALUE  override a value of the experiment file (repeatable),\n"
    "                     e.g. --set experiment.epochs=3 --set layer.c1.filters=32\n"
    "  --help, --version\n"
    "\n"
    "environment:\n"
    "  CNNRUN_CONV=tune|retune|rule|im2col|winograd|winograd4\n"
    "                     each convolution's algorithm: measured once per machine and kept\n"
    "                     in the wisdom file (tune, the default), measured again (retune),\n"
    "                     the shape rule, or that one wherever it applies; a resumed run\n"
    "                     keeps its own (docs/performance.md)\n"
    "  CNNRUN_WISDOM=FILE where measured choices are kept (default\n"
    "                     ~/.cache/cnnrun/conv-wisdom; empty: nowhere)\n"
    "  CNNRUN_DWSPLIT=batch|rows  how threads share a convolution's weight gradient\n"
    "                     (default: rows from 4 threads; docs/performance.md)\n"
    "  CNNRUN_BENCH_NODES=1  bench: one line per node, with its algorithm\n"
    "  CNNRUN_DIST_VERBOSE=1 under mpirun: ranks other than 0 print too\n"
    "\n"
    "data-parallel (built with MPI): mpirun -np N cnnrun run|lr-find|bench ... trains on N\n"
    "ranks, batch_size the global batch; rank 0 records (docs/distributed.md)\n"
    "\n"
    "exit status: 0 success, 1 the run failed, 2 the command or an experiment file is wrong\n";

int cmd_bench(CliOptions *o);

/* `cnnrun --version`: the version, and whether ONNX export and MPI are compiled in. */
static void print_version(void)
{
    const char *mpi = dist_library();
    printf("cnnrun %s\n", CN_VERSION);
#ifdef CNNRUN_ONNX
    printf("onnx export: compiled in (opset %d, protobuf-c %s)\n", ONNX_OPSET,
           onnx_protobuf_c_version());
#else
    printf("onnx export: not compiled in (built without protobuf-c or onnx.proto; "
           "meson -Donnx=enabled)\n");
#endif
    printf("OpenBLAS: core %s (%s kernels) on a CPU with %s%s%s; %s\n", blas_core_name(),
           isa_level_name(blas_core_level(blas_core_name())), isa_level_name(cpu_isa_level()),
           getenv("OPENBLAS_CORETYPE") ? ", OPENBLAS_CORETYPE=" : "",
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "", blas_config());
    printf("bf16 products: %s\n", bf16_path_name(bf16_path()));
    if (mpi) printf("MPI: compiled in (%s); mpirun -np N cnnrun run ... trains over N ranks\n", mpi);
    else printf("MPI: not compiled in (meson setup -Dmpi=enabled with libopenmpi-dev)\n");
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    /* a file-size limit (ulimit -f) makes write() fail with EFBIG, an I/O
     * error each writer reports and cleans up after, instead of killing the
     * process silently (SIGXFSZ's default) with its temporaries left */
    signal(SIGXFSZ, SIG_IGN);
    /* under ulimit -v OpenBLAS's threads may have found no room for their
     * buffers as it loaded, and try again for ever: exit() would wait for
     * them, so this one is _exit, and nothing else has begun */
    if (study_address_space_start() != 0) {
        fflush(NULL);
        _exit(CN_EXIT_FAIL);
    }
    dist_init(&argc, &argv); /* under mpirun: this process is one rank of a data-parallel run */
    study_mute_rank(); /* every rank checks everything; rank 0 alone speaks (and records) */
    if (argc > 0 && argv[0] && *argv[0]) cli_argv0 = argv[0];
    int rc = dispatch(argc, argv);
    dist_finalize();
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CN_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CN_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        print_version();
        return CN_EXIT_OK;
    }
    struct {
        const char *name, *allowed;
        int (*fn)(CliOptions *);
    } cmds[] = {{"run", "resume,sweep,jobs,until-epoch,ranks-per-run,study,skip-invalid", cmd_run}, {"check", "sweep", cmd_check}, {"bench", "steps,seconds,batch", cmd_bench},
                {"tune", "", cmd_tune},
                {"eval", "weights,tta,logits", cmd_eval}, {"export", "weights,output", cmd_export},
                {"predict", "weights,tta,json", cmd_predict}, {"lr-find", "min,max,steps", cmd_lr_find},
                {"report", "output,runs,text,study", cmd_report},
                {"runs", "runs,groups,csv,json,epochs,diff,study", cmd_runs},
                {"studies", "", cmd_studies},
                {"merge", "into", cmd_merge}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i].name) != 0) continue;
        CliOptions o;
        int rc = cli_parse(argc - 2, argv + 2, cmd, cmds[i].allowed, &o);
        if (rc == 1 || rc == 2) { /* --help or --version after the command */
            if (rc == 1) fputs(usage, stdout);
            else print_version();
            cli_free(&o);
            return CN_EXIT_OK;
        }
        int no_files = cmds[i].fn == cmd_report || cmds[i].fn == cmd_runs ||
                       cmds[i].fn == cmd_studies;
        if (rc == 0 && o.n_files == 0 && !no_files) {
            fprintf(stderr, "cnnrun %s: no %s given\n%s", cmd,
                    cmds[i].fn == cmd_merge ? "database" : "experiment file", usage);
            rc = -1;
        }
        if (rc != 0) {
            cli_free(&o);
            return CN_EXIT_USAGE;
        }
        /* under mpirun only training is shared out; the other commands run
         * once, on rank 0 (two ranks merging into one file would collide) */
        int shared = cmds[i].fn == cmd_run || cmds[i].fn == cmd_lr_find || cmds[i].fn == cmd_bench;
        rc = shared || dist_rank() == 0 ? cmds[i].fn(&o) : CN_EXIT_OK;
        cli_free(&o);
        return rc;
    }
    fprintf(stderr, "cnnrun: unknown command '%s'\n\n%s", cmd, usage);
    return CN_EXIT_USAGE;
}
