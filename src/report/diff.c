/* diff.c — `cnnrun runs --diff ID ID ...` (report_print_diff): the
 * configuration keys whose values differ between the runs named, one line per
 * key (in the order the resolved configuration lists them), one column per
 * run. A run's keys are those of its stored resolved configuration
 * (runs.config: `[section]` then `key = value`, a `; key = (not set: ...)`
 * comment too, as SECTION.KEY like --set takes them) with the run_params keys it
 * lacks (all the keys of a run recorded without its configuration), and the
 * engine's settings it ran with (runs.engine "conv=tune dwsplit=auto" as
 * engine.conv, engine.dwsplit); a key a run lacks shows as "-". The runs are checked by report_load_table: an id
 * not in the database is refused as `cnnrun runs --runs` refuses it. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/results_read.h"
#include "cnnrun/report.h"
#include "cnnrun/util.h"

typedef struct {
    char **keys;
    char **values; /* [key * n_runs + run]; NULL: the run lacks it */
    int n_keys, n_runs;
} Diff;

static int find_key(const Diff *d, const char *key)
{
    for (int k = 0; k < d->n_keys; k++)
        if (strcmp(d->keys[k], key) == 0) return k;
    return -1;
}

static void put(Diff *d, int run, const char *key, const char *value)
{
    int k = find_key(d, key);
    if (k < 0) {
        k = d->n_keys++;
        d->keys = xrealloc(d->keys, sizeof(char *) * (size_t)d->n_keys);
        d->values = xrealloc(d->values, sizeof(char *) * (size_t)(d->n_keys * d->n_runs));
        d->keys[k] = xstrdup(key);
        for (int r = 0; r < d->n_runs; r++) d->values[k * d->n_runs + r] = NULL;
    }
    free(d->values[k * d->n_runs + run]);
    d->values[k * d->n_runs + run] = xstrdup(value);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
    return s;
}

/* The keys of a resolved configuration text into run `run`. */
static void parse_config(Diff *d, int run, const char *config)
{
    char *text = xstrdup(config), *save = NULL, section[256] = "";
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line = trim(line);
        if (*line == '[') {
            char *end = strchr(line, ']');
            if (end) snprintf(section, sizeof section, "%.*s", (int)(end - line - 1), line + 1);
            continue;
        }
        if (*line == ';') line = trim(line + 1); /* "; key = (not set: ...)" */
        char *eq = strchr(line, '=');
        if (!*section || !eq || eq == line) continue; /* the heading comment */
        *eq = '\0';
        char *key = trim(line), full[512];
        if (strchr(key, ' ')) continue; /* a comment that is not a key */
        snprintf(full, sizeof full, "%s.%s", section, key);
        put(d, run, full, trim(eq + 1));
    }
    free(text);
}

/* runs.engine's "k=v k=v" into run `run` as engine.k. */
static void parse_engine(Diff *d, int run, const char *engine)
{
    char *text = xstrdup(engine), *save = NULL;
    for (char *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '='), full[128];
        if (!eq) continue;
        *eq = '\0';
        snprintf(full, sizeof full, "engine.%s", w);
        put(d, run, full, eq + 1);
    }
    free(text);
}

static int same(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

int report_print_diff(const char *path, const int64_t *ids, int n, FILE *f)
{
    size_t cap = (size_t)n * 24 + 1, used = 0;
    char *spec = xmalloc(cap);
    spec[0] = '\0';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(spec + used, cap - used, "%s%lld", i ? "," : "",
                                 (long long)ids[i]);
    ReportData rd;
    int rc = report_load_table(path, spec, &rd); /* every id there, or refused */
    report_free(&rd);
    int version;
    ResultsRefusal why;
    sqlite3 *db = rc == 0 ? results_open_readonly(path, &version, &why) : NULL;
    if (!db) {
        free(spec);
        return rc ? rc : CN_EXIT_FAIL;
    }
    Diff d = {.n_runs = n};
    sqlite3_stmt *cst = NULL, *pst = NULL;
    if (sqlite3_prepare_v2(db, version >= 11 ? "SELECT config, engine FROM runs WHERE id = ?1"
                                             : "SELECT config, NULL FROM runs WHERE id = ?1",
                           -1, &cst, NULL) != SQLITE_OK ||
        (version >= 6 && sqlite3_prepare_v2(db, "SELECT key, value FROM run_params WHERE "
                                                "run_id = ?1 ORDER BY key", -1, &pst, NULL) !=
                             SQLITE_OK)) {
        fprintf(stderr, "%s: cannot read the runs' configurations (%s)\n", path,
                sqlite3_errmsg(db));
        rc = CN_EXIT_FAIL;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sqlite3_reset(cst);
        sqlite3_bind_int64(cst, 1, ids[i]);
        const char *config = sqlite3_step(cst) == SQLITE_ROW
                                 ? (const char *)sqlite3_column_text(cst, 0) : NULL;
        if (config) parse_config(&d, i, config);
        else fprintf(f, "(run %lld has no stored configuration: its run_params alone)\n",
                     (long long)ids[i]);
        const char *engine = config ? (const char *)sqlite3_column_text(cst, 1) : NULL;
        if (engine) parse_engine(&d, i, engine);
        if (!pst) continue;
        sqlite3_reset(pst);
        sqlite3_bind_int64(pst, 1, ids[i]);
        while (sqlite3_step(pst) == SQLITE_ROW) { /* a key the configuration lacks */
            const char *key = (const char *)sqlite3_column_text(pst, 0);
            int k = find_key(&d, key);
            if (k < 0 || !d.values[k * n + i])
                put(&d, i, key, (const char *)sqlite3_column_text(pst, 1));
        }
    }
    /* the keys that differ, and the widths of their columns */
    int *shown = xcalloc((size_t)d.n_keys + 1, sizeof(int)), n_shown = 0, wkey = 3;
    int *width = xcalloc((size_t)n, sizeof(int));
    char head[32];
    for (int i = 0; i < n; i++)
        width[i] = snprintf(head, sizeof head, "run %lld", (long long)ids[i]);
    for (int k = 0; k < d.n_keys; k++) {
        for (int i = 1; i < n && !shown[k]; i++)
            shown[k] = !same(d.values[k * n], d.values[k * n + i]);
        if (!shown[k]) continue;
        n_shown++;
        if ((int)strlen(d.keys[k]) > wkey) wkey = (int)strlen(d.keys[k]);
        for (int i = 0; i < n; i++) {
            const char *v = d.values[k * n + i];
            if (v && (int)strlen(v) > width[i]) width[i] = (int)strlen(v);
        }
    }
    if (n_shown == 0) {
        fprintf(f, "runs %s: the same configuration (no key differs)\n", spec);
    } else {
        fprintf(f, "%-*s", wkey, "key");
        for (int i = 0; i < n; i++) {
            snprintf(head, sizeof head, "run %lld", (long long)ids[i]);
            fprintf(f, "  %-*s", i + 1 < n ? width[i] : 0, head);
        }
        fputc('\n', f);
        for (int k = 0; k < d.n_keys; k++) {
            if (!shown[k]) continue;
            fprintf(f, "%-*s", wkey, d.keys[k]);
            for (int i = 0; i < n; i++) {
                const char *v = d.values[k * n + i];
                fprintf(f, "  %-*s", i + 1 < n ? width[i] : 0, v ? v : "-");
            }
            fputc('\n', f);
        }
    }
    free(shown);
    free(width);
done:
    free(spec);
    sqlite3_finalize(cst);
    sqlite3_finalize(pst);
    sqlite3_close(db);
    for (int k = 0; k < d.n_keys; k++) {
        free(d.keys[k]);
        for (int i = 0; i < n; i++) free(d.values[k * n + i]);
    }
    free(d.keys);
    free(d.values);
    return rc;
}
