/* commands.h — the command line as two tables (commands.c): one row per
 * command and one row per option; the parser (options.c) and the usage text
 * (usage.c) are loops over them, so an option exists, is accepted by its
 * commands, is refused by the others and is documented in one row. */
#ifndef CNNRUN_COMMANDS_H
#define CNNRUN_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

typedef enum {
    CMD_RUN,
    CMD_CHECK,
    CMD_BENCH,
    CMD_TUNE,
    CMD_EVAL,
    CMD_EXPORT,
    CMD_PREDICT,
    CMD_LR_FIND,
    CMD_REPORT,
    CMD_RUNS,
    CMD_STUDIES,
    CMD_MERGE,
    CMD_COUNT
} CliCommandId;

/* What a command's row says beyond its name (CliCommand.flags). */
enum {
    CMDF_BUILDS = 1 << 0, /* builds a network: reads the engine's environment first */
    CMDF_SHARED = 1 << 1, /* under mpirun every rank runs it (training); else rank 0 alone */
    CMDF_RAW_ARGS = 1 << 2, /* its arguments are taken as given (predict's images, answered
                             * one by one), not as files and directories of *.ini */
};

typedef struct {
    const char *name;        /* as typed: `cnnrun NAME` */
    int (*fn)(CliOptions *o);
    const char *args;        /* the arguments it takes, for the usage ("" none) */
    const char *needs;       /* what a call without arguments lacks ("experiment file"; NULL:
                              * it takes none, or the command says) */
    unsigned flags;          /* CMDF_* */
    const char *summary;     /* one line */
} CliCommand;

extern const CliCommand cli_commands[CMD_COUNT];
/* The row of `name`, NULL if there is none. */
const CliCommand *cli_command(const char *name);

/* What an option takes after it. */
typedef enum {
    ARG_NONE,   /* a flag: the field (int or bool) set to 1; `--NAME=V` refused */
    ARG_INT,    /* a decimal integer in [lo, hi] (decimal_long), into an int */
    ARG_REAL,   /* a decimal number in (rlo, rhi] (decimal_double), into a double */
    ARG_STRING, /* text, into a const char * */
    ARG_PATH,   /* a file or directory, into a const char * */
    ARG_ENUM,   /* one of values, its code into an int */
    ARG_LIST,   /* a value each time it is given: the row's `take` stores it */
    ARG_IDS,    /* the arguments up to the next option (or `=A,B`): `take` stores each */
    ARG_MAYBE_PATH /* a flag, or a flag and the next argument when it ends in `suffix` */
} CliArgKind;

typedef struct CliOption {
    const char *name;      /* the long name, without "--" */
    char short_name;       /* `-o`: 'o'; 0: none */
    CliArgKind kind;
    size_t offset, size;   /* the CliOptions field it sets (OPT_FIELD) */
    unsigned commands;     /* ON(RUN) | ...: the commands that take it */
    const char *metavar;   /* the value in the usage: "N", "PATH" (NULL: a flag) */
    const char *help;      /* one line */
    bool required;         /* the command refuses to work without it (the usage says so) */
    long lo, hi;           /* ARG_INT's range */
    double rlo, rhi;       /* ARG_REAL's range, (rlo, rhi] */
    const char *expects;   /* ARG_REAL: what the value is, in the error ("a learning rate > 0") */
    const char *const *values; /* ARG_ENUM: the names (NULL-terminated) ... */
    const int *codes;          /* ... and the value each stores */
    const char *suffix;        /* ARG_MAYBE_PATH: what a path taken ends in */
    /* ARG_LIST, ARG_IDS: stores val; any kind: checks the stored value. 0, or
     * -1 after printing why (`cnnrun COMMAND: --NAME ...`). */
    int (*take)(CliOptions *o, const char *val, const char *command);
} CliOption;

#define ON(c) (1u << CMD_##c)
#define OPT_FIELD(f) .offset = offsetof(CliOptions, f), .size = sizeof(((CliOptions *)0)->f)

extern const CliOption cli_options[];
extern const int cli_n_options;
/* The row of the option of long name `name` that command takes; NULL if it
 * takes none of that name. */
const CliOption *cli_option(const char *name, CliCommandId command);
/* The commands that take an option of that name (bits 1 << CliCommandId; 0: no such option). */
unsigned cli_option_commands(const char *name);
/* The long name of the option whose short name is `letter`; NULL if none. */
const char *cli_short_option(char letter);

/* usage.c: `cnnrun --help` (the commands), `cnnrun COMMAND --help` (its
 * arguments and every option it takes, one line each). */
void cli_usage(FILE *f);
void cli_command_usage(FILE *f, CliCommandId command);
/* "--NAME METAVAR" (or "-o, --output DIR") as the usage writes it, into buf. */
void cli_option_synopsis(const CliOption *opt, char *buf, size_t size);

/* options.c: parses argv after the command; the arguments that are not
 * options go into o->files as given (cli_expand_files then reads the
 * directories). Each problem is one line naming the option, ending in the
 * hint `see cnnrun COMMAND --help`: an unknown option, one the command does
 * not take, a missing or bad value. 0, -1 (printed), 1 for --help, 2 for
 * --version (the caller prints). */
int cli_parse(int argc, char **argv, CliCommandId command, CliOptions *o);
/* Replaces each directory of o->files by its *.ini files, sorted by name; a
 * path that is not there is an error. 0, or -1 after printing why. */
int cli_expand_files(CliOptions *o);

#endif
