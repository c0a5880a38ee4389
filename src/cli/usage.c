/* usage.c — the help text, written from the tables of commands.c:
 * `cnnrun --help` lists the commands (and the environment, the exit
 * statuses), `cnnrun COMMAND --help` that command's arguments and every
 * option it takes, one line each. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

/* What the command line does not say: the environment, MPI, exit statuses. */
static const char *const after_commands =
    "\n"
    "environment:\n"
    "  CNNRUN_CONV=tune|retune|rule|im2col|winograd|winograd4|onednn\n"
    "                     each convolution's algorithm: measured once per machine\n"
    "                     and kept in the wisdom file (tune, the default), measured\n"
    "                     again (retune), the shape rule, or that one wherever it\n"
    "                     applies (onednn: bf16 on a CPU with bf16 instructions);\n"
    "                     a resumed run keeps its own (docs/performance.md)\n"
    "  CNNRUN_WISDOM=FILE where measured choices are kept (default\n"
    "                     ~/.cache/cnnrun/conv-wisdom; empty: nowhere)\n"
    "  CNNRUN_DWSPLIT=batch|rows\n"
    "                     how threads share a convolution's weight gradient\n"
    "                     (default: rows from 4 threads; docs/performance.md)\n"
    "  CNNRUN_DATA=DIR    the data's directory where neither --data nor [data] dir\n"
    "  CNNRUN_BENCH_NODES=1  bench: one line per node, with its algorithm\n"
    "  CNNRUN_DIST_VERBOSE=1 under mpirun: ranks other than 0 print too\n"
    "\n"
    "data-parallel (built with MPI): mpirun -np N cnnrun run|lr-find|bench ... trains\n"
    "on N ranks, batch_size the global batch; rank 0 records (docs/distributed.md)\n"
    "\n"
    "exit status: 0 success, 1 the run failed, 2 the command line or an experiment\n"
    "file is wrong\n";

void cli_usage(FILE *f)
{
    fprintf(f, "usage: cnnrun COMMAND [options] ARGS ...\n"
               "       cnnrun COMMAND --help   the command's arguments and options\n"
               "       cnnrun --version        the version and what is compiled in\n"
               "\n"
               "commands:\n");
    for (int c = 0; c < CMD_COUNT; c++)
        fprintf(f, "  %-8s %s\n", cli_commands[c].name, cli_commands[c].summary);
    fputs(after_commands, f);
}

void cli_option_synopsis(const CliOption *opt, char *buf, size_t size)
{
    int n = opt->short_name ? snprintf(buf, size, "-%c, --%s", opt->short_name, opt->name)
                            : snprintf(buf, size, "--%s", opt->name);
    if (n < 0 || (size_t)n >= size) return;
    if (opt->metavar) {
        snprintf(buf + n, size - (size_t)n, " %s", opt->metavar);
    } else if (opt->values) { /* an enum: its values */
        for (int k = 0; opt->values[k] && (size_t)n < size; k++)
            n += snprintf(buf + n, size - (size_t)n, "%c%s", k ? '|' : ' ', opt->values[k]);
    }
}

/* One option, its help in the column after `width`, wrapped at word
 * boundaries to keep lines within 80 columns (on the next line when the
 * synopsis is wider than the column). */
static void put_option(FILE *f, const char *synopsis, const char *help, int width)
{
    int col = width + 4, room = 80 - col;
    if ((int)strlen(synopsis) > width) fprintf(f, "  %s\n%*s", synopsis, col, "");
    else fprintf(f, "  %-*s  ", width, synopsis);
    const char *p = help;
    while (*p) {
        int n = (int)strlen(p);
        if (n > room) { /* the last blank that leaves the line within room */
            n = room;
            while (n > 0 && p[n] != ' ') n--;
            if (n == 0) n = (int)strcspn(p, " ");
        }
        fprintf(f, "%.*s\n", n, p);
        p += n;
        while (*p == ' ') p++;
        if (*p) fprintf(f, "%*s", col, "");
    }
}

void cli_command_usage(FILE *f, CliCommandId command)
{
    const CliCommand *c = &cli_commands[command];
    unsigned bit = 1u << command;
    char syn[128];
    fprintf(f, "usage: cnnrun %s [options]%s%s", c->name, *c->args ? " " : "", c->args);
    for (int i = 0; i < cli_n_options; i++) { /* what it refuses to work without */
        if (!(cli_options[i].commands & bit) || !cli_options[i].required) continue;
        fprintf(f, " --%s %s", cli_options[i].name, cli_options[i].metavar);
    }
    fprintf(f, "\n%s\n\noptions:\n", c->summary);
    int width = 0;
    for (int i = 0; i < cli_n_options; i++) {
        if (!(cli_options[i].commands & bit)) continue;
        cli_option_synopsis(&cli_options[i], syn, sizeof syn);
        int n = (int)strlen(syn);
        if (n > width && n <= 24) width = n;
    }
    for (int i = 0; i < cli_n_options; i++) {
        if (!(cli_options[i].commands & bit)) continue;
        cli_option_synopsis(&cli_options[i], syn, sizeof syn);
        put_option(f, syn, cli_options[i].help, width);
    }
    put_option(f, "-h, --help", "this text", width);
    put_option(f, "--version", "the version and what is compiled in", width);
    fprintf(f, "\ncnnrun --help: every command, the environment and the exit statuses\n");
}
