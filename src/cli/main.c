/* main.c — `cnnrun COMMAND ...`: finds the command's row (commands.c),
 * reads its command line and calls it; `--help` and `--version`.
 * Exit status: 0 success, 1 a run failed, 2 bad command or file. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "cnnrun/export.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

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

/* `cnnrun help [COMMAND]`, `cnnrun --help`: 0; an unknown COMMAND: 2. */
static int help(const char *name)
{
    const CliCommand *c = name ? cli_command(name) : NULL;
    if (name && !c) {
        fprintf(stderr, "cnnrun: unknown command '%s' (see `cnnrun --help`)\n", name);
        return CN_EXIT_USAGE;
    }
    if (c) cli_command_usage(stdout, (CliCommandId)(c - cli_commands));
    else cli_usage(stdout);
    return CN_EXIT_OK;
}

/* Parses the command's options and arguments into o: 0, -1 (printed), or
 * 1 when --help or --version was answered. */
static int read_command_line(const CliCommand *c, int argc, char **argv, CliOptions *o)
{
    CliCommandId id = (CliCommandId)(c - cli_commands);
    int rc = cli_parse(argc, argv, id, o);
    if (rc == 1) cli_command_usage(stdout, id);
    if (rc == 2) print_version();
    if (rc != 0) return rc > 0 ? 1 : -1;
    if (!(c->flags & CMDF_RAW_ARGS) && cli_expand_files(o) != 0) return -1;
    if (c->needs && o->n_files == 0) {
        fprintf(stderr, "cnnrun %s: no %s given (see `cnnrun %s --help`)\n", c->name, c->needs,
                c->name);
        return -1;
    }
    /* the engine's environment, read here once for every command that builds
     * a network (a wrong value is a usage error before anything is written) */
    if ((c->flags & CMDF_BUILDS) && engine_settings_from_env(&o->engine) != 0) return -1;
    return 0;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cnnrun COMMAND [options] ARGS ... (see `cnnrun --help`)\n");
        return CN_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) return help(NULL);
    if (!strcmp(name, "help")) return help(argc > 2 ? argv[2] : NULL);
    if (!strcmp(name, "--version")) {
        print_version();
        return CN_EXIT_OK;
    }
    const CliCommand *c = cli_command(name);
    if (!c) {
        fprintf(stderr, "cnnrun: unknown command '%s' (see `cnnrun --help`)\n", name);
        return CN_EXIT_USAGE;
    }
    CliOptions o;
    int rc = read_command_line(c, argc - 2, argv + 2, &o);
    if (rc != 0) {
        cli_free(&o);
        return rc > 0 ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    /* under mpirun only training is shared out; the other commands run
     * once, on rank 0 (two ranks merging into one file would collide) */
    rc = (c->flags & CMDF_SHARED) || dist_rank() == 0 ? c->fn(&o) : CN_EXIT_OK;
    cli_free(&o);
    return rc;
}
