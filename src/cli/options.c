/* options.c — parsing of the common options and of the experiment paths:
 * a directory argument stands for every *.ini in it, sorted by name. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cblas.h>

#include "cli.h"
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

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    long x;
    if (decimal_long(v, &x) != DECIMAL_OK || x < lo || x > hi) {
        fprintf(stderr, "cnnrun: %s expects an integer in %d..%d, got '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* lr-find's --min / --max: a learning rate in (0, 1e6]. */
static int parse_lr(const char *command, const char *opt, const char *v, double *out)
{
    double x;
    if (decimal_double(v, &x) != DECIMAL_OK || !(x > 0) || x > 1e6) {
        fprintf(stderr, "cnnrun %s: %s expects a learning rate > 0, got '%s'\n", command, opt, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int allowed_opt(const char *allowed, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = allowed; p && *p;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p = q ? q + 1 : NULL;
    }
    return 0;
}

/* One argument as a shell reads it back: as it is when it holds only
 * characters no shell treats specially, else in single quotes. */
static void append_shell_word(char **line, size_t *len, const char *a)
{
    int plain = *a != '\0';
    for (const char *c = a; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:+@%", *c))
            plain = 0;
    size_t need = *len + 4 * strlen(a) + 4;
    *line = xrealloc(*line, need);
    char *p = *line + *len;
    *p++ = ' ';
    if (plain) {
        p += sprintf(p, "%s", a);
    } else {
        *p++ = '\'';
        for (const char *c = a; *c; c++) {
            if (*c == '\'') { memcpy(p, "'\\''", 4); p += 4; }
            else *p++ = *c;
        }
        *p++ = '\'';
        *p = '\0';
    }
    *len = (size_t)(p - *line);
}

const char *cli_argv0 = "cnnrun";

char *cli_command_line(const char *command, int argc, char **argv)
{
    size_t len = 0;
    char *line = xstrdup("");
    append_shell_word(&line, &len, cli_argv0);
    memmove(line, line + 1, len--); /* no space before the program */
    append_shell_word(&line, &len, command);
    for (int i = 0; i < argc; i++) append_shell_word(&line, &len, argv[i]);
    return line;
}

char *cli_resume_command(const CliOptions *o)
{
    size_t len = 0;
    char *line = xstrdup("");
    if (dist_world_size() > 1) { /* the same ranks again */
        char np[32];
        snprintf(np, sizeof np, "%d", dist_world_size());
        append_shell_word(&line, &len, "mpirun");
        append_shell_word(&line, &len, "-np");
        append_shell_word(&line, &len, np);
    }
    append_shell_word(&line, &len, cli_argv0);
    append_shell_word(&line, &len, "run");
    for (int i = 0; i < o->argc; i++) {
        const char *a = o->argv[i];
        if (!strcmp(a, "--until-epoch")) { /* the share's end: continuing goes on past it */
            i++;
            continue;
        }
        if (!strncmp(a, "--until-epoch=", 14)) continue;
        append_shell_word(&line, &len, a);
    }
    if (!o->resume) append_shell_word(&line, &len, "--resume");
    memmove(line, line + 1, len); /* no space before the first word */
    return line;
}

int cli_parse(int argc, char **argv, const char *command, const char *allowed, CliOptions *o)
{
    memset(o, 0, sizeof *o);
    o->db = "results/results.db";
    o->jobs = 1;
    o->command_line = cli_command_line(command, argc, argv);
    o->argc = argc;
    o->argv = argv;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (!o->first_arg) o->first_arg = a;
            /* predict's images are answered one by one, a missing one too */
            if (!strcmp(command, "predict")) add_file(o, a);
            else if (add_path(o, a) != 0) return -1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
        if (strcmp(a, "--version") == 0) return 2;
        const char *name = a + 2;
        const char *val = NULL;
        char namebuf[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq) {
            snprintf(namebuf, sizeof namebuf, "%.*s", (int)(eq - name), name);
            name = namebuf;
            val = eq + 1;
        }
        if (!strcmp(a, "-o")) name = "output";  /* report -o DIR */
        int common = !strcmp(name, "db") || !strcmp(name, "data") || !strcmp(name, "threads") ||
                     !strcmp(name, "set");
        if ((strncmp(a, "--", 2) != 0 && strcmp(a, "-o") != 0) ||
            (!common && !allowed_opt(allowed, name))) {
            fprintf(stderr, "cnnrun %s: unknown option '%s' (see cnnrun %s --help)\n", command, a,
                    command);
            return -1;
        }
        if (!strcmp(name, "skip-invalid")) { /* run --skip-invalid */
            if (val) {
                fprintf(stderr, "cnnrun %s: --%s takes no value\n", command, name);
                return -1;
            }
            o->skip_invalid = true;
            continue;
        }
        /* report --text, runs --groups --csv --json --epochs, predict --json */
        if (!strcmp(name, "text") || !strcmp(name, "groups") || !strcmp(name, "json") ||
            !strcmp(name, "csv") || !strcmp(name, "epochs")) {
            if (val) {
                fprintf(stderr, "cnnrun %s: --%s takes no value\n", command, name);
                return -1;
            }
            *(!strcmp(name, "text") ? &o->text : !strcmp(name, "groups") ? &o->groups
                : !strcmp(name, "csv") ? &o->csv : !strcmp(name, "epochs") ? &o->epochs
                : &o->json) = 1;
            continue;
        }
        /* runs --diff ID ID ... (or --diff=1,2): the arguments up to the next option */
        if (!strcmp(name, "diff")) {
            if (!o->diff) o->diff = xstrdup("");
            while (val || (i + 1 < argc && argv[i + 1][0] != '-')) {
                const char *id = val ? val : argv[++i];
                size_t len = strlen(o->diff);
                val = NULL;
                o->diff = xrealloc(o->diff, len + strlen(id) + 2);
                sprintf(o->diff + len, "%s%s", len ? "," : "", id);
            }
            continue;
        }
        /* --resume is a flag, or takes a checkpoint: `--resume=PATH`, `--resume PATH.ckpt` */
        if (!strcmp(name, "resume")) {
            size_t nl = i + 1 < argc ? strlen(argv[i + 1]) : 0;
            if (!val && nl > 5 && !strcmp(argv[i + 1] + nl - 5, ".ckpt")) val = argv[++i];
            o->resume = 1;
            o->resume_path = val;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cnnrun %s: option --%s needs a value\n", command, name);
                return -1;
            }
            val = argv[++i];
        }
        if (!strcmp(name, "db")) o->db = val;
        else if (!strcmp(name, "data")) {
            if (!*val) { /* cifar_resolve_dir's message: never the sample silently */
                cifar_resolve_dir(val, NULL, NULL);
                return -1;
            }
            o->data = val;
        }
        else if (!strcmp(name, "weights")) o->weights = val;
        else if (!strcmp(name, "output")) o->output = val;
        else if (!strcmp(name, "logits")) o->logits = val;
        else if (!strcmp(name, "runs")) o->runs = val;
        else if (!strcmp(name, "into")) o->into = val;
        else if (!strcmp(name, "study")) {
            if (!*val) {
                fprintf(stderr, "cnnrun %s: --study needs a name%s, got ''\n", command,
                        strcmp(command, "run") ? ", an id or 'all'" : "");
                return -1;
            }
            o->study = val;
        }
        else if (!strcmp(name, "tta")) {
            if (!strcmp(val, "none")) o->tta = TTA_NONE;
            else if (!strcmp(val, "mirror") || !strcmp(val, "flip")) o->tta = TTA_MIRROR;
            else if (!strcmp(val, "mirror_translate")) o->tta = TTA_MIRROR_TRANSLATE;
            else {
                fprintf(stderr,
                        "cnnrun %s: --tta expects none, mirror (or flip) or mirror_translate "
                        "(the views of [experiment] tta), got '%s'\n",
                        command, val);
                return -1;
            }
        } else if (!strcmp(name, "min")) {
            if (parse_lr(command, "--min", val, &o->lr_min)) return -1;
        } else if (!strcmp(name, "max")) {
            if (parse_lr(command, "--max", val, &o->lr_max)) return -1;
        } else if (!strcmp(name, "threads")) {
            if (parse_int("--threads", val, 1, 1024, &o->threads)) return -1;
        } else if (!strcmp(name, "jobs")) {
            if (parse_int("--jobs", val, 1, 1024, &o->jobs)) return -1;
            if (o->jobs > 1 && dist_world_size() > 1) {
                fprintf(stderr, "cnnrun %s: --jobs %d trains runs side by side on one machine; "
                                "under mpirun (%d ranks) the ranks train one run together: "
                                "leave out --jobs (--ranks-per-run K shares the ranks among "
                                "runs), or run without mpirun\n",
                        command, o->jobs, dist_world_size());
                return -1;
            }
        } else if (!strcmp(name, "ranks-per-run")) {
            if (parse_int("--ranks-per-run", val, 1, 1 << 20, &o->ranks_per_run)) return -1;
            if (dist_world_size() == 1 && o->ranks_per_run > 1) {
                fprintf(stderr, "cnnrun %s: --ranks-per-run %d shares the ranks of an mpirun job "
                                "among runs, but this process is one rank (not started by "
                                "mpirun, or cnnrun built without MPI): give "
                                "`mpirun -np R cnnrun %s ... --ranks-per-run %d` with R a "
                                "multiple of %d, or leave the option out\n",
                        command, o->ranks_per_run, command, o->ranks_per_run, o->ranks_per_run);
                return -1;
            }
            if (dist_world_size() % o->ranks_per_run != 0) {
                fprintf(stderr, "cnnrun %s: --ranks-per-run %d does not divide the %d ranks "
                                "(mpirun -np %d): the ranks split into groups of K, each training "
                                "its own runs; give a K that divides %d\n",
                        command, o->ranks_per_run, dist_world_size(), dist_world_size(),
                        dist_world_size());
                return -1;
            }
        } else if (!strcmp(name, "until-epoch")) {
            if (parse_int("--until-epoch", val, 1, 100000, &o->until_epoch)) return -1;
        } else if (!strcmp(name, "steps")) {
            if (parse_int("--steps", val, 1, 1000000, &o->steps)) return -1;
        } else if (!strcmp(name, "seconds")) {
            if (decimal_double(val, &o->seconds) != DECIMAL_OK || !(o->seconds > 0) ||
                o->seconds > 86400) {
                fprintf(stderr, "cnnrun %s: --seconds expects a time in seconds in (0, 86400], "
                                "got '%s'\n", command, val);
                return -1;
            }
        } else if (!strcmp(name, "batch")) {
            if (parse_int("--batch", val, 1, 65536, &o->batch)) return -1;
        } else if (!strcmp(name, "set")) {
            if (o->n_sets == CLI_MAX_SETS) {
                fprintf(stderr, "cnnrun: too many --set options (at most %d)\n", CLI_MAX_SETS);
                return -1;
            }
            char *buf = xstrdup(val);
            if (config_override_parse(buf, &o->sets[o->n_sets]) != 0) {
                free(buf);
                return -1;
            }
            o->n_sets++;
        } else if (!strcmp(name, "sweep")) {
            if (o->n_sweeps == CLI_MAX_SETS) {
                fprintf(stderr, "cnnrun: too many --sweep options (at most %d)\n", CLI_MAX_SETS);
                return -1;
            }
            o->sweeps[o->n_sweeps++] = (char *)val; /* sweep_load checks its form */
        }
    }
    /* the engine's environment, read here once for every command that builds
     * a network (a wrong value is a usage error before anything is written) */
    int builds = strcmp(command, "report") && strcmp(command, "runs") && strcmp(command, "merge") &&
                 strcmp(command, "studies");
    if (builds && engine_settings_from_env(&o->engine) != 0) return -1;
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
