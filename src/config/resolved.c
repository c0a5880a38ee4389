/* resolved.c — two resolved configurations (experiment_text) compared:
 * whether they are the same run's, for `cnnrun run --resume`, and the first
 * difference when they are not; how many differences (a sweep's --resume
 * names what changed against the nearest recorded run).
 *
 * The same run's: every section, in order, and every key line but comments
 * agree; except a key line one text has and the other lacks, where the
 * value is the key's default. That is a key added to cnnrun after the run
 * started (its default keeps the old behaviour, the rule for every new key:
 * docs/architecture.md), so a run made by an older cnnrun resumes under a
 * newer one; and the other way round, a key the newer binary wrote at its
 * default. A key at another value, a key the schema does not know and a
 * computed default (SF_COMPUTED: the text documents it only) still count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/util.h"
#include "schema.h"

typedef struct {
    const char *key, *value; /* into the text's copy */
} Line;

typedef struct {
    const char *name; /* "experiment", "layer.c1", "group.head" */
    Line *lines;
    int n;
} Section;

typedef struct {
    char *copy;
    Section *s;
    int n;
} Parsed;

static char *trim(char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    char *end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = '\0';
    return p;
}

/* Sections and "key = value" lines; comments and blank lines dropped. */
static void parse(const char *text, Parsed *out)
{
    out->copy = xstrdup(text);
    out->s = NULL;
    out->n = 0;
    int cap = 0;
    for (char *line = out->copy; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *p = trim(line);
        if (*p == '[' && p[strlen(p) - 1] == ']') {
            if (out->n == cap) {
                cap = cap ? 2 * cap : 16;
                out->s = xrealloc(out->s, (size_t)cap * sizeof *out->s);
            }
            p[strlen(p) - 1] = '\0';
            out->s[out->n++] = (Section){.name = p + 1};
        } else if (*p && *p != ';' && *p != '#' && out->n > 0) {
            Section *s = &out->s[out->n - 1];
            char *eq = strchr(p, '=');
            s->lines = xrealloc(s->lines, (size_t)(s->n + 1) * sizeof *s->lines);
            if (eq) {
                *eq = '\0';
                s->lines[s->n++] = (Line){trim(p), trim(eq + 1)};
            } else {
                s->lines[s->n++] = (Line){p, ""};
            }
        }
        line = nl ? nl + 1 : NULL;
    }
}

static void parsed_free(Parsed *p)
{
    for (int i = 0; i < p->n; i++) free(p->s[i].lines);
    free(p->s);
    free(p->copy);
}

static const char *value_of(const Section *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->lines[i].key, key)) return s->lines[i].value;
    return NULL;
}

/* The schema of a section by its name (a layer's by its type line). */
static const SchemaSection *schema_of(const Section *s)
{
    if (!strncmp(s->name, "group.", 6)) return schema_group();
    if (!strncmp(s->name, "layer.", 6)) {
        const char *type = value_of(s, "type");
        for (int t = 0; type && schema_layer_type_names[t]; t++)
            if (!strcmp(schema_layer_type_names[t], type)) return schema_layer((LayerType)t);
        return NULL;
    }
    return schema_find_section(s->name);
}

/* Whether value is what the key's default prints as. */
static int at_default(const SchemaSection *ss, const char *key, const char *value)
{
    const SchemaKey *k = ss ? schema_find_key(ss, key) : NULL;
    if (!k || !k->def || (k->flags & SF_COMPUTED)) return 0;
    if (!k->def[0]) return !value[0]; /* "milestones =": an empty list */
    union {
        Experiment e;
        LayerSpec l;
        GroupSpec g;
    } *base = xcalloc(1, sizeof *base);
    char err[256], buf[CN_PATH_MAX + 64];
    int same = schema_parse(k, k->def, base, err, sizeof err) == 0;
    if (same) {
        schema_format(k, base, buf, sizeof buf);
        same = !strcmp(buf, value);
    }
    free(base);
    return same;
}

/* The differences of two sections of the same name, the first into why
 * (when it is still empty); all of them counted unless `first` (the first
 * one found is enough). Their number. */
static int section_differs(const Section *a, const Section *b, char *why, size_t n, int first)
{
    const SchemaSection *ss = schema_of(a);
    int count = 0;
    for (int pass = 0; pass < 2; pass++) {
        const Section *x = pass ? b : a, *y = pass ? a : b;
        for (int i = 0; i < x->n; i++) {
            const Line *l = &x->lines[i];
            const SchemaKey *sk = ss ? schema_find_key(ss, l->key) : NULL;
            if (sk && (sk->flags & SF_NOT_RUN)) continue; /* keep_checkpoints: not the curve */
            const char *other = value_of(y, l->key);
            if (other ? !strcmp(other, l->value) : at_default(ss, l->key, l->value)) continue;
            if (pass && other) continue; /* a key both have: counted in the first pass */
            const char *now = pass ? other : l->value, *then = pass ? l->value : other;
            if (!count++ && !why[0])
                snprintf(why, n, "[%s] %s: now %s%s%s, then %s%s%s", a->name, l->key,
                         now ? "'" : "", now ? now : "not there", now ? "'" : "",
                         then ? "'" : "", then ? then : "not there", then ? "'" : "");
            if (first) return count;
        }
    }
    return count;
}

/* The differences of now from then, the first into why; all counted unless
 * `first`. */
static int differences(const char *now, const char *then, char *why, size_t n, int first)
{
    char scratch[8];
    if (!why || n == 0) {
        why = scratch;
        n = sizeof scratch;
    }
    why[0] = '\0';
    Parsed a, b;
    parse(now, &a);
    parse(then, &b);
    int count = 0;
    for (int i = 0; !(first && count) && i < a.n && i < b.n; i++) {
        if (strcmp(a.s[i].name, b.s[i].name) != 0) {
            if (!count++)
                snprintf(why, n, "section %d: now [%s], then [%s]", i + 1, a.s[i].name,
                         b.s[i].name);
        } else {
            count += section_differs(&a.s[i], &b.s[i], why, n, first);
        }
    }
    if (!(first && count) && a.n != b.n) {
        const Parsed *more = a.n > b.n ? &a : &b;
        int i = a.n < b.n ? a.n : b.n;
        if (!count)
            snprintf(why, n, "section [%s] is there only %s", more->s[i].name,
                     a.n > b.n ? "now" : "then");
        count += abs(a.n - b.n);
    }
    parsed_free(&a);
    parsed_free(&b);
    return count;
}

int experiment_text_same_run(const char *now, const char *then, char *why, size_t n)
{
    return differences(now, then, why, n, 1) == 0;
}

int experiment_text_differences(const char *now, const char *then, char *why, size_t n)
{
    return differences(now, then, why, n, 0);
}
