/* options.c — the command line read by the option table (commands.c): one
 * loop, one error path (a line naming the option, and where help is); the
 * experiment paths (a directory stands for every *.ini in it, sorted by
 * name). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cblas.h>

#include "cli.h"
#include "commands.h"
#include "cnnrun/decimal.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

static void add_file(CliOptions *o, const char *path)
{
    o->files = xrealloc(o->files, sizeof(char *) * (size_t)(o->n_files + 1));
    o->files[o->n_files++] = xstrdup(path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(CliOptions *o, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "cnnrun: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(o, path);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "cnnrun: %s: cannot open directory: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".ini") == 0 && de->d_name[0] != '.') {
            names = xrealloc(names, sizeof(char *) * (size_t)(n + 1));
            names[n++] = xstrdup(de->d_name);
        }
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "cnnrun: %s: no *.ini experiment files in this directory\n", path);
        free(names);
        return -1;
    }
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) {
        char full[CN_PATH_MAX];
        size_t plen = strlen(path);
        snprintf(full, sizeof full, "%s%s%s", path, plen && path[plen - 1] == '/' ? "" : "/",
                 names[i]);
        add_file(o, full);
        free(names[i]);
    }
    free(names);
    return 0;
}

int cli_expand_files(CliOptions *o)
{
    int n = o->n_files;
    char **given = o->files;
    o->files = NULL;
    o->n_files = 0;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0) rc = add_path(o, given[i]);
        free(given[i]);
    }
    free(given);
    return rc;
}

/* `cnnrun COMMAND: MESSAGE (see ...)`: the hint that ends a usage error. */
static void see_help(CliCommandId command)
{
    fprintf(stderr, " (see `cnnrun %s --help`)\n", cli_commands[command].name);
}

/* "run", "report and runs", "run, check and bench": the commands in mask. */
static void put_commands(unsigned mask)
{
    int left = __builtin_popcount(mask);
    for (int c = 0; c < CMD_COUNT; c++) {
        if (!(mask & (1u << c))) continue;
        left--;
        fprintf(stderr, "%s%s", cli_commands[c].name, left > 1 ? ", " : left == 1 ? " and " : "");
    }
}

/* The option typed as `shown` that command has no row for: unknown, or
 * another command's (named). */
static void no_such_option(const char *shown, const char *name, CliCommandId command)
{
    const char *cmd = cli_commands[command].name;
    unsigned others = name ? cli_option_commands(name) : 0;
    if (others) {
        fprintf(stderr, "cnnrun %s: %s is an option of ", cmd, shown);
        put_commands(others);
        fprintf(stderr, ", not of %s", cmd);
        see_help(command);
        return;
    }
    const char *best = NULL;
    int best_d = 3; /* a suggestion within two edits */
    for (int i = 0; name && i < cli_n_options; i++) {
        int d = edit_distance(name, cli_options[i].name);
        if ((cli_options[i].commands & (1u << command)) && d < best_d && d < (int)strlen(name)) {
            best = cli_options[i].name;
            best_d = d;
        }
    }
    fprintf(stderr, "cnnrun %s: unknown option '%s'", cmd, shown);
    if (best) fprintf(stderr, "; did you mean --%s?", best);
    see_help(command);
}

/* Stores val, the value of r as typed `shown`, into its field. 0 or -1 (printed). */
static int store_value(const CliOption *r, const char *shown, const char *val, const char *cmd,
                       CliOptions *o)
{
    void *field = (char *)o + r->offset;
    long x;
    double d;
    switch (r->kind) {
    case ARG_INT:
        if (decimal_long(val, &x) != DECIMAL_OK || x < r->lo || x > r->hi) {
            fprintf(stderr, "cnnrun %s: %s expects an integer in %ld..%ld, got '%s'\n", cmd,
                    shown, r->lo, r->hi, val);
            return -1;
        }
        *(int *)field = (int)x;
        break;
    case ARG_REAL:
        if (decimal_double(val, &d) != DECIMAL_OK || !(d > r->rlo) || d > r->rhi) {
            fprintf(stderr, "cnnrun %s: %s expects %s, got '%s'\n", cmd, shown, r->expects, val);
            return -1;
        }
        *(double *)field = d;
        break;
    case ARG_ENUM: {
        int k = 0;
        while (r->values[k] && strcmp(r->values[k], val)) k++;
        if (!r->values[k]) {
            fprintf(stderr, "cnnrun %s: %s expects ", cmd, shown);
            for (k = 0; r->values[k]; k++)
                fprintf(stderr, "%s%s", k == 0 ? "" : r->values[k + 1] ? ", " : " or ",
                        r->values[k]);
            fprintf(stderr, ", got '%s'\n", val);
            return -1;
        }
        *(int *)field = r->codes[k];
        break;
    }
    case ARG_STRING:
    case ARG_PATH:
    case ARG_MAYBE_PATH:
        *(const char **)field = val;
        break;
    case ARG_IDS: { /* joined by ',' */
        char **ids = field;
        size_t len = strlen(*ids);
        *ids = xrealloc(*ids, len + strlen(val) + 2);
        sprintf(*ids + len, "%s%s", len ? "," : "", val);
        break;
    }
    case ARG_NONE:
    case ARG_LIST:
        break;
    }
    return r->take ? r->take(o, val, cmd) : 0;
}

/* argv[*i], an option, and its value (the next arguments it takes: *i moved
 * past them). 0 or -1 (printed). */
static int parse_option(int argc, char **argv, int *i, CliCommandId command, CliOptions *o)
{
    const char *a = argv[*i], *cmd = cli_commands[command].name;
    const char *eq = strchr(a, '='), *val = NULL, *name = NULL;
    char shown[64], buf[64];
    snprintf(shown, sizeof shown, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
    if (a[1] == '-') {
        snprintf(buf, sizeof buf, "%s", shown + 2);
        name = buf;
        if (eq) val = eq + 1;
    } else if (a[1] && !a[2]) {
        name = cli_short_option(a[1]);
    }
    const CliOption *r = name ? cli_option(name, command) : NULL;
    if (!r) {
        no_such_option(a[1] == '-' ? shown : a, name, command);
        return -1;
    }
    void *field = (char *)o + r->offset;
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    size_t nl = next ? strlen(next) : 0, sl = r->suffix ? strlen(r->suffix) : 0;
    switch (r->kind) {
    case ARG_NONE:
        if (val) {
            fprintf(stderr, "cnnrun %s: %s takes no value, got '%s'", cmd, shown, val);
            see_help(command);
            return -1;
        }
        if (r->size == sizeof(bool)) *(bool *)field = true;
        else *(int *)field = 1;
        return 0;
    case ARG_MAYBE_PATH: /* `--resume`, `--resume=PATH`, `--resume PATH.ckpt` */
        if (!val && nl > sl && !strcmp(next + nl - sl, r->suffix)) val = argv[++*i];
        return store_value(r, shown, val, cmd, o);
    case ARG_IDS: /* `--diff 3 7`, `--diff=3,7`, `--diff` (the command says what it lacks) */
        if (!*(char **)field) *(char **)field = xstrdup("");
        if (val) return store_value(r, shown, val, cmd, o);
        while (*i + 1 < argc && argv[*i + 1][0] != '-')
            if (store_value(r, shown, argv[++*i], cmd, o) != 0) return -1;
        return 0;
    default:
        break;
    }
    if (!val && (!next || (next[0] == '-' && next[1] == '-' && next[2]))) {
        fprintf(stderr, "cnnrun %s: %s needs a value (%s)", cmd, shown,
                r->metavar ? r->metavar : "one of its values");
        if (next) fprintf(stderr, "; got the option %s", next);
        see_help(command);
        return -1;
    }
    if (!val) val = argv[++*i];
    return store_value(r, shown, val, cmd, o);
}

int cli_parse(int argc, char **argv, CliCommandId command, CliOptions *o)
{
    memset(o, 0, sizeof *o);
    o->db = "results/results.db";
    o->jobs = 1;
    o->command_line = cli_command_line(cli_commands[command].name, argc, argv);
    o->argc = argc;
    o->argv = argv;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) { /* a file, directory or image, as given */
            if (!o->first_arg) o->first_arg = a;
            add_file(o, a);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            return 1;
        } else if (!strcmp(a, "--version")) {
            return 2;
        } else if (parse_option(argc, argv, &i, command, o) != 0) {
            return -1;
        }
    }
    return 0;
}

void cli_free(CliOptions *o)
{
    for (int i = 0; i < o->n_files; i++) free(o->files[i]);
    free(o->files);
    free(o->diff);
    free(o->command_line);
    free(o->resume_command);
    /* --set buffers: section points at the start of each strdup'ed buffer */
    for (int i = 0; i < o->n_sets; i++) free((void *)o->sets[i].section);
}
