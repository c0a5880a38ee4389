/* ini_doc.h — private to src/config: an .ini file read with inih into an
 * ordered document (sections and entries with their line numbers), and the
 * error list that every stage of loading an experiment reports into.
 *
 * Reading rules (docs/experiment-format.md, "Syntax"):
 *  - a line longer than inih's limit (199 characters) is an error and is not
 *    parsed; a full-line comment of any length is fine;
 *  - leading whitespace is not significant: an indented `key = value` line is
 *    an entry and an indented `[section]` a header. inih would read such lines
 *    as continuations of the previous value; multi-line values are not
 *    supported, so an indented line of any other form is an error;
 *  - duplicate sections, duplicate keys, keys before the first section,
 *    malformed headers and lines without '=' are errors. */
#ifndef CNNRUN_CONFIG_INI_DOC_H
#define CNNRUN_CONFIG_INI_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Where something came from: a line of the file, or a --set override. */
typedef struct {
    int line;        /* 1-based line in the file; 0 = the file as a whole */
    const char *set; /* "section.key" of an override (--set, a sweep's value), or NULL;
                        "--sweep section.key" for a --sweep option */
} CfgLoc;

/* ---- error list ---- */

#define DIAG_MAX_PRINTED 20

typedef struct {
    int line;
    char *set; /* owned copy of CfgLoc.set */
    int seq;
    char *msg;
} DiagMsg;

typedef struct {
    const char *path;
    DiagMsg *msgs;
    int n, cap;
} Diag;

void diag_init(Diag *d, const char *path);
void diag_error(Diag *d, CfgLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints `path:line: msg` (`path: msg` for line 0, `--set s.k: msg` for
 * --set overrides, `--sweep s.k: msg` for --sweep ones; an override with a
 * line, a [sweep] value, as the line), file errors sorted by line, then
 * overrides, at most DIAG_MAX_PRINTED of them. */
void diag_print(const Diag *d, FILE *f);
void diag_free(Diag *d);

/* ---- document ---- */

typedef struct {
    char *key, *value;
    CfgLoc loc;
    char *set_label; /* owns loc.set when the entry comes from --set */
} IniEntry;

/* A hash index of names (section names, or a section's keys) to the first
 * item with that name, so that looking one up (a duplicate check per header
 * and per key) stays O(1) in files with many thousands of sections. Private
 * to ini_doc.c. */
typedef struct {
    int *slots; /* item index + 1; 0 = empty */
    int cap, n; /* cap: a power of two, or 0 */
} IniIndex;

typedef struct {
    char *name;
    CfgLoc loc;       /* the header line; 0 for sections created by --set */
    bool broken;      /* malformed or duplicate header: entries are dropped */
    bool incomplete;  /* a line inside could not be read: skip missing-key checks */
    IniEntry *entries;
    int n_entries, cap;
    IniIndex index; /* key -> first entry */
} IniSection;

typedef struct {
    IniSection *sections;
    int n_sections, cap;
    int n_errors; /* errors found while reading the text */
    IniIndex index; /* name -> first section */
} IniDoc;

/* Returns the section a misplaced key belongs in ("experiment", ...), or NULL;
 * used for hints on keys written before any section. */
typedef const char *(*IniKeyHint)(const char *key);

/* Parses text (len bytes, NUL-terminated) into doc. Reports problems into
 * diag and returns the number of problems found (0 = clean). doc is always
 * valid afterwards and must be freed. */
int ini_doc_parse(IniDoc *doc, const char *text, size_t len, Diag *diag, IniKeyHint hint);
void ini_doc_free(IniDoc *doc);

/* First non-broken section with that name, or NULL. */
IniSection *ini_doc_find(IniDoc *doc, const char *name);
IniSection *ini_doc_add_section(IniDoc *doc, const char *name, CfgLoc loc);
IniEntry *ini_section_find(IniSection *s, const char *key);
/* Appends an entry; set_label (may be NULL) is copied and becomes loc.set. */
IniEntry *ini_section_add(IniSection *s, const char *key, const char *value, int line,
                          const char *set_label);
/* Replaces an entry's value and origin (for --set: line 0; a [sweep] value:
 * the sweep's line). */
void ini_entry_replace(IniEntry *e, const char *value, const char *set_label, int line);

#endif
