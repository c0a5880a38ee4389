/* sweep.c — the grid of runs one experiment file stands for: its [sweep]
 * section (`section.key = v1, v2, ...`, one line per swept key) and the
 * --sweep options of the same form, read into a Sweep (config.h), and the
 * overrides of each grid point (first key outermost). Only the form is
 * checked here; each point's values are checked as --set values are, by
 * experiment_load with the point's overrides (their errors name the sweep's
 * line). A key whose own value is a list (augment, milestones, knots, inputs,
 * a group's params and layers) separates the sweep's values with '|'. The
 * section's own keys `samples` and `seed` (the pruning keys are
 * prune_keys.c's), and a key given as a call
 * (`loguniform(1e-4, 0.1)`, `choice(8, 16)`) make a random search: the calls
 * are checked and drawn by sample.c, the N points they give being one axis
 * of the grid, at the place of the first random key. */
#include "cnnrun/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/decimal.h"
#include "cnnrun/util.h"
#include "ini_doc.h"
#include "sample.h"
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

/* What section.key's random values are drawn as (sample.c). */
static SampleKind kind_of(const char *section, const char *key)
{
    if (list_valued(section, key)) return SAMPLE_OTHER;
    switch (sameness(section, key)) {
    case SAME_INT: return SAMPLE_INT;
    case SAME_FLOAT: return SAMPLE_FLOAT;
    case SAME_DOUBLE: return SAMPLE_REAL;
    default: return SAMPLE_OTHER;
    }
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
                           "'%s' (the section's own keys are samples, seed, prune, prune_min_runs, "
                           "prune_warmup, rungs and eta)", name);
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

/* The values of k from text: a list, or a random value (a call; a text key
 * may have a value that looks like one: it is a call when its name is
 * uniform, loguniform or choice, or when the sweep draws samples). */
static int read_values(Diag *d, CfgLoc loc, const char *text, SweepKey *k, bool samples)
{
    SampleKind kind = kind_of(k->section, k->key);
    if (!sample_is_call(text) || (!sample_known(text) && kind == SAMPLE_OTHER && !samples))
        return split_values(d, loc, text, k);
    char name[sizeof k->section + sizeof k->key + 1];
    snprintf(name, sizeof name, "%s.%s", k->section, k->key);
    const char *inner;
    size_t len;
    int rc = sample_check_call(d, loc, name, kind, text, &inner, &len);
    if (rc < 0) return -1;
    if (rc == 1) { /* choice: its values as a list's */
        char *list = trimmed(inner, len);
        rc = *list ? split_values(d, loc, list, k) : 0;
        free(list);
        if (rc != 0) return -1;
        if (k->n_values < 2) {
            diag_error(d, loc, "choice(v1, v2, ...) of %s needs two values or more, got %d",
                       name, k->n_values);
            return -1;
        }
        for (int i = 0; i < k->n_values; i++) {
            long l;
            double x;
            const char *v = k->values[i];
            if (kind == SAMPLE_INT && decimal_long(v, &l) != DECIMAL_OK)
                diag_error(d, loc, "expected an integer for %s, got '%s' in choice(...)%s", name,
                           v, decimal_is_other_base(v) ? " (only decimal numbers are accepted)"
                                                       : "");
            else if ((kind == SAMPLE_REAL || kind == SAMPLE_FLOAT) &&
                     decimal_double(v, &x) != DECIMAL_OK)
                diag_error(d, loc, "expected a finite number for %s, got '%s' in choice(...)%s",
                           name, v, decimal_is_other_base(v)
                                        ? " (only decimal numbers are accepted)" : "");
            else continue;
            return -1;
        }
    }
    k->spec = trimmed(text, strlen(text));
    return 0;
}

static void free_key(SweepKey *k)
{
    for (int i = 0; i < k->n_values; i++) free(k->values[i]);
    free(k->values);
    free(k->spec);
    for (int i = 0; i < k->n_choices; i++) free(k->choices[i]);
    free(k->choices);
    k->values = NULL;
    k->spec = NULL;
    k->choices = NULL;
    k->n_values = k->n_choices = 0;
}

void sweep_free(Sweep *s)
{
    for (int i = 0; i < s->n_keys; i++) free_key(&s->keys[i]);
    s->n_keys = 0;
    s->n_points = 1;
    s->samples = 0;
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

/* [sweep]'s own keys (no dot): samples and seed, into s; the draws' seed
 * is else the file's [experiment] seed (its default 1 when it has none or a
 * bad one: experiment_load reports that). */
static void read_own_keys(Diag *d, IniDoc *doc, Sweep *s)
{
    s->seed = 1;
    const IniSection *ex = ini_doc_find(doc, "experiment");
    for (int j = 0; ex && j < ex->n_entries; j++) {
        uint64_t v;
        if (!strcmp(ex->entries[j].key, "seed") && decimal_u64(ex->entries[j].value, &v) == 0)
            s->seed = v;
    }
    const IniSection *sec = ini_doc_find(doc, "sweep");
    for (int j = 0; sec && j < sec->n_entries; j++) {
        const IniEntry *en = &sec->entries[j];
        CfgLoc loc = {en->loc.line, NULL};
        const char *v = en->value;
        const char *hint = decimal_is_other_base(v) ? " (only decimal numbers are accepted)" : "";
        if (!strcmp(en->key, "samples")) {
            long n;
            int rc = decimal_long(v, &n);
            if (rc == DECIMAL_BAD)
                diag_error(d, loc, "expected a whole number of points for 'samples', got '%s'%s",
                           v, hint);
            else if (rc != DECIMAL_OK || n < 1 || n > CN_SWEEP_MAX_SAMPLES)
                diag_error(d, loc, "'samples' must be 1..%d, got %s", CN_SWEEP_MAX_SAMPLES, v);
            else s->samples = (int)n, s->samples_line = en->loc.line;
        } else if (!strcmp(en->key, "seed")) {
            uint64_t x;
            int rc = decimal_u64(v, &x);
            if (rc == DECIMAL_BAD)
                diag_error(d, loc, "expected an integer for the sweep's 'seed', got '%s'%s", v,
                           hint);
            else if (rc != DECIMAL_OK)
                diag_error(d, loc, "the sweep's 'seed' must be 0..%lld, got %s",
                           (long long)INT64_MAX, v);
            else s->seed = x, s->seed_line = en->loc.line;
        }
    }
}

static bool own_key(const char *key)
{
    return !strcmp(key, "samples") || !strcmp(key, "seed");
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
    read_own_keys(d, &doc, s);
    const IniSection *sec = ini_doc_find(&doc, "sweep");
    for (int j = 0; sec && j < sec->n_entries; j++) {
        const IniEntry *en = &sec->entries[j];
        SweepKey k = {.line = en->loc.line};
        CfgLoc loc = {en->loc.line, NULL};
        if (own_key(en->key)) continue;
        PruneKeys skip;
        if (!strchr(en->key, '.') && prune_keys_read(d, pk ? pk : &skip, en->key, en->value,
                                                     en->loc.line))
            continue;
        if (split_name(d, loc, en->key, &k) != 0) continue;
        if (read_values(d, loc, en->value, &k, s->samples > 0) != 0) {
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
    } else if (split_name(d, loc, name, &k) == 0 &&
               read_values(d, loc, eq + 1, &k, s->samples > 0) == 0) {
        /* twice on the command line: an error; over the file's line: replaces it */
        SweepKey mark = k;
        mark.values = NULL;
        mark.n_values = 0;
        mark.spec = NULL;
        if (add_key(d, loc, given, &mark, false) == 0) add_key(d, loc, s, &k, true);
        else free_key(&k);
    } else {
        free_key(&k);
    }
    free(name);
}

/* The random keys against `samples`, then their N points drawn (sample.c). */
static void draw_samples(Diag *d, Sweep *s)
{
    int n_random = 0;
    for (int k = 0; k < s->n_keys; k++) {
        const SweepKey *sk = &s->keys[k];
        if (!sk->spec) continue;
        n_random++;
        if (s->samples) continue;
        char label[256];
        snprintf(label, sizeof label, "--sweep %s.%s", sk->section, sk->key);
        CfgLoc loc = {sk->line, sk->line ? NULL : label};
        diag_error(d, loc, "%s.%s = %s is drawn at random: say how many points to draw with "
                           "'samples = N' in [sweep]", sk->section, sk->key, sk->spec);
    }
    if (s->samples && !n_random) {
        CfgLoc loc = {s->samples_line, NULL};
        diag_error(d, loc, "samples = %d, but no key of the sweep is drawn at random (give one "
                           "as uniform(a, b), loguniform(a, b) or choice(v1, v2, ...)); a grid "
                           "is written without samples", s->samples);
    }
    if (s->seed_line && !s->samples) {
        CfgLoc loc = {s->seed_line, NULL};
        diag_error(d, loc, "the sweep's 'seed' seeds its random draws, but it has no 'samples'");
    }
    if (d->n > 0 || !s->samples) return;
    SampleKind kind[CN_SWEEP_MAX_KEYS];
    for (int k = 0; k < s->n_keys; k++) kind[k] = kind_of(s->keys[k].section, s->keys[k].key);
    sample_draw(d, s, kind);
}

bool sweep_key_is_axis(const Sweep *s, int k)
{
    if (!s->keys[k].spec) return true;
    for (int q = 0; q < k; q++)
        if (s->keys[q].spec) return false;
    return true;
}

/* The number of points (the axes' product), at most max + 1. */
static long count_points(const Sweep *s, long max, int *over_at)
{
    long n = 1;
    *over_at = -1;
    for (int k = 0; k < s->n_keys; k++) {
        if (!sweep_key_is_axis(s, k)) continue;
        n *= s->keys[k].n_values;
        if (n > max) {
            *over_at = k;
            return max + 1;
        }
    }
    return n;
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
    if (d.n == 0) draw_samples(&d, out);
    int over = -1;
    long n = d.n == 0 ? count_points(out, CN_SWEEP_MAX_POINTS, &over) : 1;
    if (over >= 0) {
        CfgLoc loc = {out->keys[over].line, out->keys[over].line ? NULL : "--sweep"};
        diag_error(&d, loc, "the sweep has more than %d grid points; sweep fewer values",
                   CN_SWEEP_MAX_POINTS);
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
    Diag quiet; /* the draws of a random sweep, as `run` makes them */
    diag_init(&quiet, path);
    draw_samples(&quiet, out);
    diag_free(&quiet);
    for (int k = 0; k < out->n_keys;) { /* a random key not drawn (a bad sweep): left out */
        if (out->keys[k].n_values > 0) {
            k++;
            continue;
        }
        free_key(&out->keys[k]);
        memmove(&out->keys[k], &out->keys[k + 1],
                sizeof out->keys[0] * (size_t)(out->n_keys - k - 1));
        out->n_keys--;
    }
    int over;
    out->n_points = count_points(out, CN_SWEEP_MAX_POINTS, &over);
    return out->n_keys;
}

void sweep_point(const Sweep *s, long i, ConfigOverride *out)
{
    long sample = 0; /* the random keys' axis: all take sample `sample` */
    for (int k = s->n_keys - 1; k >= 0; k--) {
        if (!sweep_key_is_axis(s, k)) continue;
        const SweepKey *sk = &s->keys[k];
        long j = i % sk->n_values;
        i /= sk->n_values;
        if (sk->spec) sample = j;
        out[k].value = sk->values[j];
    }
    for (int k = 0; k < s->n_keys; k++) {
        const SweepKey *sk = &s->keys[k];
        out[k] = (ConfigOverride){.section = sk->section, .key = sk->key,
                                  .value = sk->spec ? sk->values[sample] : out[k].value,
                                  .origin = sk->line ? "[sweep]" : "--sweep", .line = sk->line};
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
