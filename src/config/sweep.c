/* sweep.c — the grid of runs one experiment file stands for: its [sweep]
 * section (`section.key = v1, v2, ...`, one line per swept key) and the
 * --sweep options of the same form, read into a Sweep (config.h), and the
 * overrides of each grid point (first key outermost). Only the form is
 * checked here; each point's values are checked as --set values are, by
 * experiment_load with the point's overrides (their errors name the sweep's
 * line). A key whose own value is a list (augment, milestones, knots, inputs,
 * a group's params and layers) separates the sweep's values with '|'. */
#include "cnnrun/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/decimal.h"
#include "cnnrun/util.h"
#include "ini_doc.h"
#include "prune_keys.h"
#include "schema.h"

static bool list_type(SchemaType t)
{
    return t == SK_AUGMENT || t == SK_MILESTONES || t == SK_KNOTS || t == SK_INPUTS ||
           t == SK_PARAM_KINDS || t == SK_PATTERNS;
}

/* Whether section.key takes a comma-separated list of its own (a layer's key:
 * in any layer type, the section's type is not known here). */
static bool list_valued(const char *section, const char *key)
{
    if (strncmp(section, "layer.", 6) == 0) {
        for (int t = 0; t < LT_COUNT; t++) {
            const SchemaSection *ls = schema_layer((LayerType)t);
            const SchemaKey *k = ls ? schema_find_key(ls, key) : NULL;
            if (k && list_type(k->type)) return true;
        }
        return false;
    }
    const SchemaSection *ss =
        strncmp(section, "group.", 6) == 0 ? schema_group() : schema_find_section(section);
    const SchemaKey *k = ss ? schema_find_key(ss, key) : NULL;
    return k && list_type(k->type);
}

/* How two values of a key are the same value (split_values: a value twice
 * would run the same point twice). */
typedef enum {
    SAME_TEXT,   /* strings, enums, lists: the same text */
    SAME_INT,    /* integers: the same number ("8", "+8", "08") */
    SAME_FLOAT,  /* 32-bit floats: the same float ("0.1", "0.10", "1e-1") */
    SAME_DOUBLE, /* 64-bit: the same double */
    SAME_BOOL    /* true/yes/on/1 against false/no/off/0 */
} Sameness;

static Sameness sameness_of_type(SchemaType t)
{
    switch (t) {
    case SK_INT:
    case SK_U64: return SAME_INT;
    case SK_FLOAT: return SAME_FLOAT;
    case SK_DOUBLE: return SAME_DOUBLE;
    case SK_BOOL: return SAME_BOOL;
    default: return SAME_TEXT;
    }
}

/* section.key's sameness. A layer key may be in several layer types (the
 * section's type is not known here): the one they agree on, a double when
 * they are numbers of different kinds, else text. */
static Sameness sameness(const char *section, const char *key)
{
    if (strncmp(section, "layer.", 6) != 0) {
        const SchemaSection *ss =
            strncmp(section, "group.", 6) == 0 ? schema_group() : schema_find_section(section);
        const SchemaKey *k = ss ? schema_find_key(ss, key) : NULL;
        return k ? sameness_of_type(k->type) : SAME_TEXT;
    }
    int found = -1;
    for (int t = 0; t < LT_COUNT; t++) {
        const SchemaSection *ls = schema_layer((LayerType)t);
        const SchemaKey *k = ls ? schema_find_key(ls, key) : NULL;
        if (!k) continue;
        Sameness s = sameness_of_type(k->type);
        if (found < 0 || (Sameness)found == s) found = (int)s;
        else if (found != SAME_TEXT && found != SAME_BOOL && s != SAME_TEXT && s != SAME_BOOL)
            found = SAME_DOUBLE;
        else return SAME_TEXT;
    }
    return found < 0 ? SAME_TEXT : (Sameness)found;
}

/* 1 true, 0 false, -1 not a boolean (as schema_parse reads them) */
static int bool_value(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                             "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(v, yes[i])) return 1;
        if (!strcmp(v, no[i])) return 0;
    }
    return -1;
}

/* The value's canonical text: two values are the same value when these are
 * equal ("n:" a number or boolean as read, "t:" anything else, compared as
 * written; a value that does not parse is reported when its point loads). */
static char *canonical(Sameness how, const char *v)
{
    char buf[64];
    long l;
    double x;
    int b;
    if (how == SAME_INT && decimal_long(v, &l) == DECIMAL_OK) {
        snprintf(buf, sizeof buf, "n:%ld", l);
    } else if ((how == SAME_FLOAT || how == SAME_DOUBLE) && decimal_double(v, &x) == DECIMAL_OK) {
        if (how == SAME_FLOAT) x = (float)x;
        snprintf(buf, sizeof buf, "n:%a", x == 0 ? 0.0 : x); /* -0 is 0 */
    } else if (how == SAME_BOOL && (b = bool_value(v)) >= 0) {
        snprintf(buf, sizeof buf, "n:%d", b);
    } else {
        char *t = xmalloc(strlen(v) + 3);
        memcpy(t, "t:", 2);
        memcpy(t + 2, v, strlen(v) + 1);
        return t;
    }
    return xstrdup(buf);
}

static char *trimmed(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    char *t = xmalloc(n + 1);
    memcpy(t, s, n);
    t[n] = '\0';
    return t;
}

/* Splits "layer.c1.filters" at its last dot into k's section and key. */
static int split_name(Diag *d, CfgLoc loc, const char *name, SweepKey *k)
{
    const char *dot = strrchr(name, '.');
    size_t slen = dot ? (size_t)(dot - name) : 0;
    if (!dot || slen == 0 || !dot[1] || slen >= sizeof k->section ||
        strlen(dot + 1) >= sizeof k->key) {
        diag_error(d, loc, "a swept key is written SECTION.KEY, as --set takes it (e.g. "
                           "schedule.lr_max = 0.05, 0.1 or layer.c1.filters = 16, 32), got "
                           "'%s'", name);
        return -1;
    }
    memcpy(k->section, name, slen);
    k->section[slen] = '\0';
    str_copy(k->key, sizeof k->key, dot + 1);
    return 0;
}

/* Splits the value list into k->values: by '|' for a list-valued key, else
 * by ','. Every value non-empty. */
static int split_values(Diag *d, CfgLoc loc, const char *list, SweepKey *k)
{
    char name[sizeof k->section + sizeof k->key + 1];
    snprintf(name, sizeof name, "%s.%s", k->section, k->key);
    bool is_list = list_valued(k->section, k->key);
    char sep = is_list ? '|' : ',';
    const char *p = list;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) {
        diag_error(d, loc, "the sweep of %s has no values; give them separated by %s (e.g. %s)",
                   name, is_list ? "'|'" : "commas",
                   is_list ? "data.augment = crop:4, flip | flip" : "schedule.lr_max = 0.05, 0.1");
        return -1;
    }
    if (is_list && !strchr(list, '|') && strchr(list, ',')) {
        diag_error(d, loc, "%s takes a list of its own: separate the sweep's values with '|' "
                           "(e.g. data.augment = crop:4, flip | flip); for one value use "
                           "--set %s=...", name, name);
        return -1;
    }
    for (;;) {
        const char *q = strchr(p, sep);
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char *v = trimmed(p, n);
        if (!*v) {
            diag_error(d, loc, "the sweep of %s has an empty value (value %d)", name,
                       k->n_values + 1);
            free(v);
            return -1;
        }
        k->values = xrealloc(k->values, sizeof(char *) * (size_t)(k->n_values + 1));
        k->values[k->n_values++] = v;
        if (!q) break;
        p = q + 1;
    }
    /* the same value twice would run the same point twice: the same number
     * however written (0.1, 0.10, 1e-1) for a numeric key */
    Sameness how = sameness(k->section, k->key);
    char **canon = xmalloc(sizeof *canon * (size_t)k->n_values);
    for (int i = 0; i < k->n_values; i++) canon[i] = canonical(how, k->values[i]);
    int rc = 0;
    for (int i = 0; i < k->n_values && rc == 0; i++)
        for (int j = 0; j < i && rc == 0; j++) {
            if (strcmp(canon[i], canon[j]) != 0) continue;
            if (strcmp(k->values[i], k->values[j]) == 0)
                diag_error(d, loc, "the sweep of %s has the value '%s' twice", name,
                           k->values[i]);
            else
                diag_error(d, loc, "the sweep of %s has the same value twice: '%s' and '%s' "
                                   "are equal", name, k->values[j], k->values[i]);
            rc = -1;
        }
    for (int i = 0; i < k->n_values; i++) free(canon[i]);
    free(canon);
    return rc;
}

static void free_key(SweepKey *k)
{
    for (int i = 0; i < k->n_values; i++) free(k->values[i]);
    free(k->values);
    k->values = NULL;
    k->n_values = 0;
}

void sweep_free(Sweep *s)
{
    for (int i = 0; i < s->n_keys; i++) free_key(&s->keys[i]);
    s->n_keys = 0;
    s->n_points = 1;
}

static int find_key(const Sweep *s, const char *section, const char *key)
{
    for (int i = 0; i < s->n_keys; i++)
        if (!strcmp(s->keys[i].section, section) && !strcmp(s->keys[i].key, key)) return i;
    return -1;
}

/* Adds k (taking its values) at its place: replacing a key the file sweeps
 * (a --sweep), or last. */
static int add_key(Diag *d, CfgLoc loc, Sweep *s, SweepKey *k, bool replace)
{
    int at = find_key(s, k->section, k->key);
    if (at >= 0 && !replace) {
        if (s->keys[at].line > 0 && k->line > 0)
            diag_error(d, loc, "%s.%s is swept twice (also on line %d)", k->section, k->key,
                       s->keys[at].line);
        else
            diag_error(d, loc, "given twice; one --sweep per key");
        free_key(k);
        return -1;
    }
    if (at >= 0) {
        free_key(&s->keys[at]);
        s->keys[at] = *k;
        return 0;
    }
    if (s->n_keys == CN_SWEEP_MAX_KEYS) {
        diag_error(d, loc, "a sweep has at most %d keys", CN_SWEEP_MAX_KEYS);
        free_key(k);
        return -1;
    }
    s->keys[s->n_keys++] = *k;
    return 0;
}

/* The [sweep] lines of the file; the keys of pruning into *pk (prune_keys.c;
 * NULL: passed over). */
static void read_file_sweep(Diag *d, const char *path, Sweep *s, PruneKeys *pk)
{
    size_t len = 0;
    char *text = read_text_file(path, &len);
    if (!text) return; /* experiment_load says why */
    Diag parse;
    diag_init(&parse, path);
    IniDoc doc;
    ini_doc_parse(&doc, text, len, &parse, NULL); /* experiment_load reports its problems */
    diag_free(&parse);
    const IniSection *sec = ini_doc_find(&doc, "sweep");
    for (int j = 0; sec && j < sec->n_entries; j++) {
        const IniEntry *en = &sec->entries[j];
        SweepKey k = {.line = en->loc.line};
        CfgLoc loc = {en->loc.line, NULL};
        PruneKeys skip;
        if (!strchr(en->key, '.') && prune_keys_read(d, pk ? pk : &skip, en->key, en->value,
                                                     en->loc.line))
            continue;
        if (split_name(d, loc, en->key, &k) != 0) continue;
        if (split_values(d, loc, en->value, &k) != 0) {
            free_key(&k);
            continue;
        }
        add_key(d, loc, s, &k, false);
    }
    if (pk) prune_keys_check(d, pk);
    ini_doc_free(&doc);
    free(text);
}

/* One --sweep SECTION.KEY=V1,V2 */
static void read_option(Diag *d, const char *arg, Sweep *s, Sweep *given)
{
    const char *eq = strchr(arg, '=');
    char *name = trimmed(arg, eq ? (size_t)(eq - arg) : strlen(arg));
    char label[256];
    snprintf(label, sizeof label, "--sweep %s", name);
    CfgLoc loc = {0, label};
    SweepKey k = {.line = 0};
    if (!eq) {
        diag_error(d, loc, "expected --sweep SECTION.KEY=V1,V2,... (e.g. --sweep "
                           "schedule.lr_max=0.05,0.1), got '%s'", arg);
    } else if (split_name(d, loc, name, &k) == 0 && split_values(d, loc, eq + 1, &k) == 0) {
        /* twice on the command line: an error; over the file's line: replaces it */
        SweepKey mark = k;
        mark.values = NULL;
        mark.n_values = 0;
        if (add_key(d, loc, given, &mark, false) == 0) add_key(d, loc, s, &k, true);
        else free_key(&k);
    } else {
        free_key(&k);
    }
    free(name);
}

int sweep_load(const char *path, const ConfigOverride *sets, int n_sets, char *const *args,
               int n_args, Sweep *out)
{
    memset(out, 0, sizeof *out);
    out->n_points = 1;
    Diag d;
    diag_init(&d, path);
    PruneKeys pk;
    prune_keys_init(&pk);
    read_file_sweep(&d, path, out, &pk);
    out->prune = pk.rule;
    Sweep given = {.n_keys = 0}; /* the --sweep keys, to find one given twice */
    for (int i = 0; i < n_args; i++) read_option(&d, args[i], out, &given);
    sweep_free(&given);
    /* a --set of a swept key: which value would it be? */
    for (int i = 0; i < n_sets; i++) {
        const ConfigOverride *o = &sets[i];
        if (!o->section || !o->key) continue;
        int at = find_key(out, o->section, o->key);
        if (at < 0) continue;
        char label[256];
        snprintf(label, sizeof label, "%s.%s", o->section, o->key);
        CfgLoc loc = {0, label};
        if (out->keys[at].line > 0)
            diag_error(&d, loc, "the key is swept (%s:%d); to run some of its values give them "
                                "with --sweep %s=V1,V2,...", path, out->keys[at].line, label);
        else
            diag_error(&d, loc, "the key is swept (--sweep %s); give its values there", label);
    }
    long n = 1;
    for (int i = 0; i < out->n_keys && d.n == 0; i++) {
        n *= out->keys[i].n_values;
        if (n > CN_SWEEP_MAX_POINTS) {
            CfgLoc loc = {out->keys[i].line, out->keys[i].line ? NULL : "--sweep"};
            diag_error(&d, loc, "the sweep has more than %d grid points; sweep fewer values",
                       CN_SWEEP_MAX_POINTS);
        }
    }
    out->n_points = n;
    if (d.n > 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        sweep_free(out);
        return -1;
    }
    diag_free(&d);
    return 0;
}

int sweep_unapplied(const char *path, const ConfigOverride *sets, int n_sets, Sweep *out)
{
    memset(out, 0, sizeof *out);
    Diag d;
    diag_init(&d, path);
    read_file_sweep(&d, path, out, NULL); /* a malformed line: `run` and `check` report it */
    diag_free(&d);
    for (int j = 0; j < n_sets; j++) { /* a key --set gives is applied */
        int at = sets[j].section && sets[j].key ? find_key(out, sets[j].section, sets[j].key) : -1;
        if (at < 0) continue;
        free_key(&out->keys[at]);
        memmove(&out->keys[at], &out->keys[at + 1],
                sizeof out->keys[0] * (size_t)(out->n_keys - at - 1));
        out->n_keys--;
    }
    out->n_points = 1;
    for (int i = 0; i < out->n_keys; i++) out->n_points *= out->keys[i].n_values;
    return out->n_keys;
}

void sweep_point(const Sweep *s, long i, ConfigOverride *out)
{
    for (int k = s->n_keys - 1; k >= 0; k--) {
        const SweepKey *sk = &s->keys[k];
        long j = i % sk->n_values;
        i /= sk->n_values;
        out[k] = (ConfigOverride){.section = sk->section, .key = sk->key,
                                  .value = sk->values[j], .origin = sk->line ? "[sweep]" : "--sweep",
                                  .line = sk->line};
    }
}

void sweep_point_text(const Sweep *s, long i, char *buf, size_t n)
{
    ConfigOverride ov[CN_SWEEP_MAX_KEYS];
    sweep_point(s, i, ov);
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < s->n_keys && used < n; k++) {
        bool quote = strpbrk(ov[k].value, ", ") != NULL;
        used += (size_t)snprintf(buf + used, n - used, "%s%s.%s=%s%s%s", k ? ", " : "",
                                 ov[k].section, ov[k].key, quote ? "\"" : "", ov[k].value,
                                 quote ? "\"" : "");
    }
}
