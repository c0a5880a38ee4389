/* ini_doc.c — reads an .ini file with inih into an ordered document and owns
 * the error list of config loading (see ini_doc.h for the reading rules).
 *
 * inih's handler gets no line number and is not called for section headers,
 * so the reader given to ini_parse_stream does the bookkeeping: it hands inih
 * one whole line at a time, counts lines, classifies each line exactly as
 * inih will (mirroring inih's "previous name" state, which decides whether an
 * indented line is a continuation) and records section headers itself. The
 * handler then only records `key = value` entries into the current section. */
#include "ini_doc.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/util.h"

/* ------------------------------------------------------------------ diag */

void diag_init(Diag *d, const char *path)
{
    memset(d, 0, sizeof *d);
    d->path = path;
}

void diag_error(Diag *d, CfgLoc loc, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->msgs = xrealloc(d->msgs, (size_t)d->cap * sizeof *d->msgs);
    }
    DiagMsg *m = &d->msgs[d->n];
    m->line = loc.line;
    m->set = loc.set ? xstrdup(loc.set) : NULL;
    m->seq = d->n;
    m->msg = xstrdup(buf);
    d->n++;
}

/* file lines in order, then --set overrides in command-line order, then
 * messages about the file as a whole */
static int diag_group(const DiagMsg *m)
{
    if (m->line > 0) return 0;
    return m->set ? 1 : 2;
}

static int diag_cmp(const void *pa, const void *pb)
{
    const DiagMsg *a = pa, *b = pb;
    int ga = diag_group(a), gb = diag_group(b);
    if (ga != gb) return ga - gb;
    if (ga == 0 && a->line != b->line) return a->line < b->line ? -1 : 1;
    return a->seq - b->seq;
}

void diag_print(const Diag *d, FILE *f)
{
    if (d->n == 0) return;
    DiagMsg *sorted = xmalloc((size_t)d->n * sizeof *sorted);
    memcpy(sorted, d->msgs, (size_t)d->n * sizeof *sorted);
    qsort(sorted, (size_t)d->n, sizeof *sorted, diag_cmp);
    int shown = d->n < DIAG_MAX_PRINTED ? d->n : DIAG_MAX_PRINTED;
    for (int i = 0; i < shown; i++) {
        const DiagMsg *m = &sorted[i];
        if (m->line > 0)
            fprintf(f, "%s:%d: %s\n", d->path, m->line, m->msg);
        else if (m->set && strncmp(m->set, "--", 2) == 0)
            fprintf(f, "%s: %s\n", m->set, m->msg);
        else if (m->set)
            fprintf(f, "--set %s: %s\n", m->set, m->msg);
        else if (m->line > 0)
            fprintf(f, "%s:%d: %s\n", d->path, m->line, m->msg);
        else
            fprintf(f, "%s: %s\n", d->path, m->msg);
    }
    if (d->n > shown)
        fprintf(f, "%s: %d more errors not shown (%d in total)\n", d->path, d->n - shown, d->n);
    free(sorted);
}

void diag_free(Diag *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->msgs[i].set);
        free(d->msgs[i].msg);
    }
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = 0;
}

/* ------------------------------------------------------------ document */

/* FNV-1a */
static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

typedef const char *(*NameOf)(const void *items, int i);

static const char *section_name(const void *items, int i)
{
    return ((const IniSection *)items)[i].name;
}

static const char *entry_key(const void *items, int i)
{
    return ((const IniEntry *)items)[i].key;
}

/* The first of items[0..] named name, or -1. */
static int index_find(const IniIndex *x, const void *items, NameOf name_of, const char *name)
{
    if (x->cap == 0) return -1;
    unsigned mask = (unsigned)(x->cap - 1);
    for (unsigned h = name_hash(name) & mask;; h = (h + 1) & mask) {
        int slot = x->slots[h];
        if (slot == 0) return -1;
        if (strcmp(name_of(items, slot - 1), name) == 0) return slot - 1;
    }
}

static void index_put(IniIndex *x, const char *name, int i)
{
    unsigned h = name_hash(name) & (unsigned)(x->cap - 1);
    while (x->slots[h]) h = (h + 1) & (unsigned)(x->cap - 1);
    x->slots[h] = i + 1;
    x->n++;
}

/* Records items[i] (just appended; items[0..i-1] are indexed already) unless
 * an earlier item has its name. Keeps the table at most half full. */
static void index_add(IniIndex *x, const void *items, NameOf name_of, int i)
{
    if (index_find(x, items, name_of, name_of(items, i)) >= 0) return;
    if (2 * (x->n + 1) > x->cap) {
        int *old = x->slots, old_cap = x->cap;
        x->cap = x->cap ? 2 * x->cap : 16;
        x->slots = xcalloc((size_t)x->cap, sizeof *x->slots);
        x->n = 0;
        for (int k = 0; k < old_cap; k++)
            if (old[k]) index_put(x, name_of(items, old[k] - 1), old[k] - 1);
        free(old);
    }
    index_put(x, name_of(items, i), i);
}

static void index_free(IniIndex *x)
{
    free(x->slots);
    memset(x, 0, sizeof *x);
}

IniSection *ini_doc_find(IniDoc *doc, const char *name)
{
    int first = index_find(&doc->index, doc->sections, section_name, name);
    /* the first one of that name is broken only when its header was (an
     * empty name, a lost header): look on */
    for (int i = first; i >= 0 && i < doc->n_sections; i++)
        if (!doc->sections[i].broken && strcmp(doc->sections[i].name, name) == 0)
            return &doc->sections[i];
    return NULL;
}

IniSection *ini_doc_add_section(IniDoc *doc, const char *name, CfgLoc loc)
{
    if (doc->n_sections == doc->cap) {
        doc->cap = doc->cap ? 2 * doc->cap : 16;
        doc->sections = xrealloc(doc->sections, (size_t)doc->cap * sizeof *doc->sections);
    }
    IniSection *s = &doc->sections[doc->n_sections++];
    memset(s, 0, sizeof *s);
    s->name = xstrdup(name);
    s->loc = loc;
    index_add(&doc->index, doc->sections, section_name, doc->n_sections - 1);
    return s;
}

IniEntry *ini_section_find(IniSection *s, const char *key)
{
    int i = index_find(&s->index, s->entries, entry_key, key);
    return i >= 0 ? &s->entries[i] : NULL;
}

IniEntry *ini_section_add(IniSection *s, const char *key, const char *value, int line,
                          const char *set_label)
{
    if (s->n_entries == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->entries = xrealloc(s->entries, (size_t)s->cap * sizeof *s->entries);
    }
    IniEntry *e = &s->entries[s->n_entries++];
    e->key = xstrdup(key);
    e->value = xstrdup(value);
    e->set_label = set_label ? xstrdup(set_label) : NULL;
    e->loc.line = line;
    e->loc.set = e->set_label;
    index_add(&s->index, s->entries, entry_key, s->n_entries - 1);
    return e;
}

void ini_entry_replace(IniEntry *e, const char *value, const char *set_label, int line)
{
    free(e->value);
    free(e->set_label);
    e->value = xstrdup(value);
    e->set_label = set_label ? xstrdup(set_label) : NULL;
    e->loc.set = e->set_label;
    if (set_label) e->loc.line = line;
}

void ini_doc_free(IniDoc *doc)
{
    for (int i = 0; i < doc->n_sections; i++) {
        IniSection *s = &doc->sections[i];
        for (int j = 0; j < s->n_entries; j++) {
            free(s->entries[j].key);
            free(s->entries[j].value);
            free(s->entries[j].set_label);
        }
        free(s->entries);
        free(s->name);
        index_free(&s->index);
    }
    free(doc->sections);
    index_free(&doc->index);
    memset(doc, 0, sizeof *doc);
}

/* --------------------------------------------------------------- reader */

enum {
    LK_NONE,        /* blank, comment, header, or a line already reported */
    LK_KEY,         /* name=value: inih calls the handler with it */
    LK_CONT,        /* inih sees a continuation of its previous name */
    LK_CONT_HEADER  /* an indented [section] that inih sees as a continuation */
};

typedef struct {
    IniDoc *doc;
    Diag *diag;
    IniKeyHint hint;
    const char *p, *end;
    int lineno;
    int kind;            /* LK_* of the line last handed to inih */
    bool inih_prev_name; /* mirror: inih's prev_name is non-empty */
    int cur;             /* index of the current section, -1 before any */
} Parser;

static CfgLoc at(const Parser *P)
{
    CfgLoc l = {P->lineno, NULL};
    return l;
}

static void parse_error(Parser *P, const char *fmt, const char *arg)
{
    diag_error(P->diag, at(P), fmt, arg);
    P->doc->n_errors++;
    if (P->cur >= 0) P->doc->sections[P->cur].incomplete = true;
}

/* Same scan as inih's find_chars_or_comment: stops at one of chars, at an
 * inline ';' comment (which must follow whitespace), or at the end. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
    int was_space = 0;
    while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* Copies [a, b) trimmed of whitespace into a new string. */
static char *dup_trimmed(const char *a, const char *b)
{
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    char *s = xmalloc((size_t)(b - a) + 1);
    memcpy(s, a, (size_t)(b - a));
    s[b - a] = '\0';
    return s;
}

/* Short quoted form of a user's text for messages. */
static const char *excerpt(const char *s, char *buf, size_t n)
{
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
    if (len + 1 <= n && len <= 40) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    } else {
        snprintf(buf, n, "%.37s...", s);
    }
    return buf;
}

/* A "[...]" line (start points at '['). Returns true if inih accepts it as a
 * header (a ']' before any inline comment). */
static bool on_header(Parser *P, const char *start)
{
    IniDoc *doc = P->doc;
    const char *close = find_chars_or_comment(start + 1, "]");
    CfgLoc loc = at(P);
    if (*close != ']') {
        diag_error(P->diag, loc, "unclosed '[' in section header; expected [name]");
        doc->n_errors++;
        P->cur = (int)(ini_doc_add_section(doc, "", loc) - doc->sections);
        doc->sections[P->cur].broken = true;
        return false;
    }
    char *name = dup_trimmed(start + 1, close);
    const char *rest = close + 1;
    while (isspace((unsigned char)*rest)) rest++;
    bool broken = false;
    if (name[0] == '\0') {
        diag_error(P->diag, loc, "empty section name '[]'");
        doc->n_errors++;
        broken = true;
    } else {
        IniSection *first = ini_doc_find(doc, name);
        if (first) {
            diag_error(P->diag, loc, "duplicate section [%s] (first at line %d)%s", name,
                       first->loc.line,
                       strncmp(name, "layer.", 6) == 0 ? "; layer names must be unique" : "");
            doc->n_errors++;
            broken = true;
        }
    }
    if (*rest && *rest != ';' && *rest != '#') {
        char ex[64];
        diag_error(P->diag, loc, "unexpected text '%s' after [%s]", excerpt(rest, ex, sizeof ex),
                   name);
        doc->n_errors++;
    }
    P->cur = (int)(ini_doc_add_section(doc, name, loc) - doc->sections);
    doc->sections[P->cur].broken = broken;
    free(name);
    return true;
}

/* Classifies the line (NUL-terminated, as handed to inih) the way inih will
 * read it, and handles section headers. */
static void classify(Parser *P, const char *line)
{
    const char *start = line;
    if (P->lineno == 1 && (unsigned char)start[0] == 0xEF && (unsigned char)start[1] == 0xBB &&
        (unsigned char)start[2] == 0xBF)
        start += 3;
    while (*start && isspace((unsigned char)*start)) start++;
    P->kind = LK_NONE;
    if (*start == '\0' || *start == ';' || *start == '#') return; /* blank or comment */

    if (P->inih_prev_name && start > line) {
        /* inih: continuation of the previous value. We read it as a line of
         * its own (indentation is not significant); see on_entry. */
        if (*start == '[') {
            P->kind = LK_CONT_HEADER;
            on_header(P, start);
        } else {
            P->kind = LK_CONT;
        }
        return;
    }
    if (*start == '[') {
        if (on_header(P, start)) P->inih_prev_name = false;
        return;
    }
    const char *sep = find_chars_or_comment(start, "=:");
    if (*sep == '=' || *sep == ':') {
        const char *name_end = sep;
        while (name_end > start && isspace((unsigned char)name_end[-1])) name_end--;
        P->inih_prev_name = name_end > start;
        P->kind = LK_KEY;
        return;
    }
    char ex[64];
    parse_error(P, "expected 'key = value' or '[section]', got '%s'",
                excerpt(start, ex, sizeof ex));
}

/* The fgets-like reader given to inih: one whole line per call. */
static char *doc_reader(char *str, int num, void *stream)
{
    Parser *P = stream;
    if (P->p >= P->end || num < 2) return NULL;
    const char *nl = memchr(P->p, '\n', (size_t)(P->end - P->p));
    const char *line_end = nl ? nl : P->end;
    const char *next = nl ? nl + 1 : P->end;
    size_t len = (size_t)(line_end - P->p);
    if (len > 0 && P->p[len - 1] == '\r') len--;
    P->lineno++;

    if (len > (size_t)num - 1) {
        /* inih would cut it and parse the rest as another line: hand it an
         * empty line instead. A full-line comment of any length is fine. */
        const char *s = P->p;
        while (s < line_end && isspace((unsigned char)*s)) s++;
        if (*s != ';' && *s != '#') {
            diag_error(P->diag, at(P), "line is longer than %d characters", num - 1);
            P->doc->n_errors++;
            if (*s == '[') {
                /* an unreadable header: drop the entries that follow it */
                CfgLoc loc = at(P);
                P->cur = (int)(ini_doc_add_section(P->doc, "", loc) - P->doc->sections);
                P->doc->sections[P->cur].broken = true;
            } else if (P->cur >= 0) {
                P->doc->sections[P->cur].incomplete = true;
            }
        }
        str[0] = '\n';
        str[1] = '\0';
        P->kind = LK_NONE;
        P->p = next;
        return str;
    }
    memcpy(str, P->p, len);
    size_t n = len;
    if (n + 1 <= (size_t)num - 1) str[n++] = '\n';
    str[n] = '\0';
    P->p = next;
    classify(P, str);
    return str;
}

static void add_entry(Parser *P, const char *key, const char *value)
{
    if (key[0] == '\0') {
        parse_error(P, "missing key name before '='%s", "");
        return;
    }
    if (P->cur < 0) {
        const char *home = P->hint ? P->hint(key) : NULL;
        char hint[128] = "";
        if (home) snprintf(hint, sizeof hint, "; it belongs under [%s]", home);
        diag_error(P->diag, at(P), "key '%s' comes before any [section]%s", key, hint);
        P->doc->n_errors++;
        return;
    }
    IniSection *s = &P->doc->sections[P->cur];
    if (s->broken) return;
    IniEntry *first = ini_section_find(s, key);
    if (first) {
        diag_error(P->diag, at(P), "duplicate key '%s' in [%s] (first at line %d)", key, s->name,
                   first->loc.line);
        P->doc->n_errors++;
        return;
    }
    ini_section_add(s, key, value, P->lineno, NULL);
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    Parser *P = user;
    (void)section; /* we track sections ourselves (with their lines) */
    if (P->kind == LK_CONT_HEADER) return 1;
    if (P->kind == LK_CONT) {
        /* value is the whole indented line, inline comment removed */
        const char *sep = strpbrk(value, "=:");
        if (!sep) {
            char ex[64];
            parse_error(P,
                        "expected 'key = value', got indented '%s' (multi-line values are not "
                        "supported: write the value on one line)",
                        excerpt(value, ex, sizeof ex));
            return 1;
        }
        char *k = dup_trimmed(value, sep);
        char *v = dup_trimmed(sep + 1, sep + strlen(sep));
        add_entry(P, k, v);
        free(k);
        free(v);
        return 1;
    }
    add_entry(P, name, value ? value : "");
    return 1;
}

int ini_doc_parse(IniDoc *doc, const char *text, size_t len, Diag *diag, IniKeyHint hint)
{
    memset(doc, 0, sizeof *doc);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *c = text; c < nul; c++) line += *c == '\n';
        CfgLoc loc = {line, NULL};
        diag_error(diag, loc, "the file contains a NUL byte; is it a text file?");
        doc->n_errors++;
        return doc->n_errors;
    }
    Parser P = {.doc = doc, .diag = diag, .hint = hint, .p = text, .end = text + len,
                .cur = -1};
    int before = diag->n;
    int rc = ini_parse_stream(doc_reader, &P, on_entry, &P);
    if (rc > 0) {
        /* inih found a syntax error: it must be one we reported already */
        bool known = false;
        for (int i = before; i < diag->n; i++)
            if (diag->msgs[i].line == rc && !diag->msgs[i].set) known = true;
        if (!known) {
            CfgLoc loc = {rc, NULL};
            diag_error(diag, loc, "syntax error (inih could not parse this line)");
            doc->n_errors++;
        }
    } else if (rc < 0) {
        CfgLoc loc = {0, NULL};
        diag_error(diag, loc, "inih failed to parse the file (code %d)", rc);
        doc->n_errors++;
    }
    return doc->n_errors;
}
