/* experiment.c — experiment_load: read the .ini file into a document
 * (ini_doc.c), apply the --set overrides, check every section and key against
 * the schema (schema.c), resolve defaults and cross-key rules, and check that
 * every `input`/`inputs` names an earlier layer. Every problem is collected and
 * printed as `path:line: message` before returning -1; nothing stays
 * allocated on failure. Also experiment_print, the resolved configuration in
 * INI form that reads back to the same Experiment. */
#include "cnnrun/config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnrun/files.h"
#include "cnnrun/util.h"
#include "ini_doc.h"
#include "schema.h"

#define MAX_KEYS 32

/* section names for "did you mean" (the [sweep] section is read by sweep.c) */
static const char *const top_names[] = {"experiment", "data", "optimizer", "schedule", "sweep",
                                        NULL};

const char *layer_type_name(LayerType t)
{
    return (int)t >= 0 && t < LT_COUNT ? schema_layer_type_names[t] : "?";
}

const char *activation_name(Activation a)
{
    return (int)a >= 0 && a < ACT_COUNT ? schema_activation_names[a] : "?";
}

const char *param_kind_name(unsigned kind)
{
    for (int i = 0; schema_param_kind_names[i]; i++)
        if (kind == 1u << i) return schema_param_kind_names[i];
    return "?";
}

/* ------------------------------------------------------------ helpers */

/* What was found for each key of a section table. */
typedef struct {
    const IniEntry *entry[MAX_KEYS]; /* the entry that set it, or NULL */
    bool ok[MAX_KEYS];               /* given and valid */
} Seen;

static int key_index(const SchemaSection *ss, const char *key)
{
    const SchemaKey *k = schema_find_key(ss, key);
    return k ? (int)(k - ss->keys) : -1;
}

static const IniEntry *seen_entry(const Seen *sn, const SchemaSection *ss, const char *key)
{
    int i = key_index(ss, key);
    return i >= 0 ? sn->entry[i] : NULL;
}

static bool seen_ok(const Seen *sn, const SchemaSection *ss, const char *key)
{
    int i = key_index(ss, key);
    return i >= 0 && sn->ok[i];
}

static void join_keys(const SchemaSection *ss, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ss->n_keys && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", ss->keys[i].key);
}

static void apply_defaults(const SchemaSection *ss, void *base)
{
    for (int i = 0; i < ss->n_keys; i++) {
        const SchemaKey *k = &ss->keys[i];
        if (!k->def || (k->flags & (SF_REQUIRED | SF_COMPUTED))) continue;
        char err[256];
        if (schema_parse(k, k->def, base, err, sizeof err) != 0) {
            fprintf(stderr, "cnnrun: internal error: default of '%s': %s\n", k->key, err);
            abort();
        }
    }
}

static bool layer_name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= CN_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

static void report_unknown_section(Diag *d, CfgLoc loc, const char *name)
{
    if (strncasecmp(name, "layer", 5) == 0) {
        diag_error(d, loc, "unknown section [%s]; layer sections are written [layer.NAME]", name);
        return;
    }
    if (strncasecmp(name, "group", 5) == 0) {
        diag_error(d, loc, "unknown section [%s]; parameter groups are written [group.NAME]",
                   name);
        return;
    }
    const char *s = schema_suggest(name, top_names);
    if (s)
        diag_error(d, loc, "unknown section [%s]; did you mean [%s]?", name, s);
    else
        diag_error(d, loc,
                   "unknown section [%s] (sections: [experiment], [data], [optimizer], "
                   "[schedule], [sweep], [group.NAME], [layer.NAME])",
                   name);
}

/* `what` is "[optimizer]" or "[layer.c1] (conv)". */
static void report_unknown_key(Diag *d, const IniEntry *en, const SchemaSection *ss,
                               const char *what)
{
    const char *cands[MAX_KEYS + 1];
    for (int i = 0; i < ss->n_keys; i++) cands[i] = ss->keys[i].key;
    cands[ss->n_keys] = NULL;
    const char *s = schema_suggest(en->key, cands);
    if (s) {
        diag_error(d, en->loc, "unknown key '%s' in %s; did you mean '%s'?", en->key, what, s);
        return;
    }
    char other[256] = "";
    if (ss->layer_type >= 0) {
        size_t used = 0;
        for (int t = 0; t < LT_COUNT && used < sizeof other; t++)
            if (schema_find_key(schema_layer((LayerType)t), en->key))
                used += (size_t)snprintf(other + used, sizeof other - used, "%s%s",
                                         used ? ", " : "", schema_layer_type_names[t]);
        if (*other) {
            diag_error(d, en->loc, "unknown key '%s' in %s; '%s' is a key of %s layers", en->key,
                       what, en->key, other);
            return;
        }
    }
    if (strncmp(what, "[group.", 7) == 0 && strcmp(en->key, "lr") == 0) {
        diag_error(d, en->loc, "unknown key 'lr' in %s; a group scales the [schedule]'s rate "
                               "with 'lr_scale'", what);
        return;
    }
    const char *home = schema_key_home(en->key);
    if (home && strcmp(home, "layer.NAME") != 0) {
        diag_error(d, en->loc, "unknown key '%s' in %s; it belongs in [%s]", en->key, what, home);
        return;
    }
    char keys[512];
    join_keys(ss, keys, sizeof keys);
    diag_error(d, en->loc, "unknown key '%s' in %s (valid keys: %s)", en->key, what, keys);
}

/* Checks and stores every entry of a section; records what was seen. */
static void apply_entries(Diag *d, const IniSection *s, const SchemaSection *ss, void *base,
                          const char *what, Seen *sn)
{
    for (int j = 0; j < s->n_entries; j++) {
        const IniEntry *en = &s->entries[j];
        int i = key_index(ss, en->key);
        if (i < 0) {
            report_unknown_key(d, en, ss, what);
            continue;
        }
        sn->entry[i] = en;
        char err[512];
        if (schema_parse(&ss->keys[i], en->value, base, err, sizeof err) != 0)
            diag_error(d, en->loc, "%s", err);
        else
            sn->ok[i] = true;
    }
    if (s->incomplete) return; /* a line could not be read: don't guess */
    for (int i = 0; i < ss->n_keys; i++)
        if ((ss->keys[i].flags & SF_REQUIRED) && !sn->entry[i])
            diag_error(d, s->loc, "missing required key '%s' in %s", ss->keys[i].key, what);
}

/* The location of the first given key of a list, else the section's. */
static CfgLoc loc_of(const Seen *sn, const SchemaSection *ss, const IniSection *s,
                     const char *const *keys)
{
    for (int i = 0; keys[i]; i++) {
        const IniEntry *en = seen_entry(sn, ss, keys[i]);
        if (en) return en->loc;
    }
    if (s) return s->loc;
    CfgLoc none = {0, NULL};
    return none;
}

/* ------------------------------------------------------------ overrides */

int config_override_parse(char *buf, ConfigOverride *out)
{
    char orig[256];
    snprintf(orig, sizeof orig, "%s", buf);
    char *eq = strchr(buf, '=');
    char *dot = NULL;
    if (eq) {
        *eq = '\0';
        /* trim the section.key part, keeping it at the start of buf */
        char *a = buf;
        while (isspace((unsigned char)*a)) a++;
        memmove(buf, a, strlen(a) + 1);
        char *end = buf + strlen(buf);
        while (end > buf && isspace((unsigned char)end[-1])) *--end = '\0';
        dot = strrchr(buf, '.');
    }
    if (!eq || !dot || dot == buf || !dot[1]) {
        fprintf(stderr,
                "--set '%s': expected section.key=value, e.g. --set optimizer.momentum=0.95 or "
                "--set layer.c1.filters=32\n",
                orig);
        return -1;
    }
    *dot = '\0';
    char *key = dot + 1;
    while (isspace((unsigned char)*key)) key++;
    char *dend = dot;
    while (dend > buf && isspace((unsigned char)dend[-1])) *--dend = '\0';
    char *value = eq + 1;
    while (isspace((unsigned char)*value)) value++;
    char *vend = value + strlen(value);
    while (vend > value && isspace((unsigned char)vend[-1])) *--vend = '\0';
    if (!*buf || !*key) {
        fprintf(stderr, "--set '%s': expected section.key=value, e.g. --set optimizer.momentum=0.95\n",
                orig);
        return -1;
    }
    *out = (ConfigOverride){.section = buf, .key = key, .value = value}; /* a --set */
    return 0;
}

static const char *closest_layer(const IniDoc *doc, const char *name)
{
    const char *cands[256];
    int n = 0;
    for (int i = 0; i < doc->n_sections && n < 255; i++)
        if (!doc->sections[i].broken && strncmp(doc->sections[i].name, "layer.", 6) == 0)
            cands[n++] = doc->sections[i].name + 6;
    cands[n] = NULL;
    return schema_suggest(name, cands);
}

static void apply_overrides(IniDoc *doc, const ConfigOverride *ov, int n, Diag *d)
{
    for (int i = 0; i < n; i++) {
        const ConfigOverride *o = &ov[i];
        /* a --sweep value is named as its option, a [sweep] value by its
         * line, a --set as `--set section.key` */
        const char *origin = o->origin ? o->origin : "--set";
        int line = o->line > 0 ? o->line : 0;
        char label[256];
        snprintf(label, sizeof label, "%s%s%s.%s", o->origin && !line ? o->origin : "",
                 o->origin && !line ? " " : "", o->section ? o->section : "",
                 o->key ? o->key : "");
        CfgLoc loc = {line, label};
        if (!o->section || !o->key || !o->value || !*o->section || !*o->key) {
            diag_error(d, loc, "expected section.key=value");
            continue;
        }
        if (strchr(o->value, '\n') || strchr(o->value, '\r')) {
            diag_error(d, loc, "the value must be on one line");
            continue;
        }
        if (strncmp(o->section, "sweep", 5) == 0 && (!o->section[5] || o->section[5] == '.')) {
            diag_error(d, loc, "the [sweep] section is not changed with %s; give the values "
                               "of a swept key with --sweep SECTION.KEY=V1,V2,...", origin);
            continue;
        }
        IniSection *s = ini_doc_find(doc, o->section);
        if (!s) {
            if (schema_find_section(o->section)) {
                CfgLoc none = {0, NULL};
                s = ini_doc_add_section(doc, o->section, none);
            } else if (strncmp(o->section, "layer.", 6) == 0) {
                const char *sug = closest_layer(doc, o->section + 6);
                char hint[128] = "";
                if (sug) snprintf(hint, sizeof hint, "; did you mean 'layer.%s'?", sug);
                diag_error(d, loc, "there is no [%s] in the file (%s changes layers, it "
                                   "cannot add them)%s", o->section, origin, hint);
                continue;
            } else if (strncmp(o->section, "group.", 6) == 0) {
                diag_error(d, loc, "there is no [%s] in the file (%s changes parameter "
                                   "groups, it cannot add them)", o->section, origin);
                continue;
            } else {
                report_unknown_section(d, loc, o->section);
                continue;
            }
        }
        IniEntry *en = ini_section_find(s, o->key);
        if (en)
            ini_entry_replace(en, o->value, label, line);
        else
            ini_section_add(s, o->key, o->value, line, label);
    }
}

/* ----------------------------------------------------------- validation */

typedef struct {
    CfgLoc input_loc; /* where input/inputs was given, or the header */
    bool valid_type;
} LayerInfo;

static void check_top(Diag *d, Experiment *e, IniSection *const secs[4], Seen sn[4],
                      const char *path)
{
    int n_top;
    const SchemaSection *top = schema_sections(&n_top);
    const SchemaSection *exp_s = &top[0], *opt_s = &top[2], *sch_s = &top[3];
    const SchemaSection *data_s = &top[1];

    /* [experiment] name: default from the file name */
    if (!seen_entry(&sn[0], exp_s, "name")) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        char name[CN_PATH_MAX];
        str_copy(name, sizeof name, base);
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".ini") == 0) name[len - 4] = '\0';
        char err[512];
        if (schema_parse(schema_find_key(exp_s, "name"), name, e, err, sizeof err) != 0) {
            CfgLoc loc = {0, NULL};
            diag_error(d, loc, "cannot use the file name as the experiment name (%s); set name in "
                               "[experiment]", err);
        }
    }
    /* [experiment] epochs or steps: how long the run trains. A --set of one
     * of them replaces the file's other (a quick `--set experiment.epochs=2`
     * of a file in steps); both in the file, or both --set, is an error. */
    const IniEntry *epochs = seen_entry(&sn[0], exp_s, "epochs");
    const IniEntry *steps = seen_entry(&sn[0], exp_s, "steps");
    if (e->steps > 0 && epochs && seen_ok(&sn[0], exp_s, "epochs")) {
        bool epochs_set = epochs->loc.set != NULL, steps_set = steps->loc.set != NULL;
        if (epochs_set && !steps_set)
            e->steps = 0;
        else if (epochs_set == steps_set)
            diag_error(d, steps->loc, "'steps' and 'epochs' both give the length of the run; keep "
                                      "one of them (steps = 0 leaves it to epochs)");
    }
    if (e->steps > 0) e->epochs = 0;
    /* [data] dir_line, and the subsets' lines (for the warning when the data
     * has fewer images) */
    const IniEntry *dir = seen_entry(&sn[1], data_s, "dir");
    e->dir_line = dir ? dir->loc.line : 0;
    const IniEntry *sub = seen_entry(&sn[1], data_s, "train_subset");
    e->train_subset_line = sub ? sub->loc.line : 0;
    sub = seen_entry(&sn[1], data_s, "test_subset");
    e->test_subset_line = sub ? sub->loc.line : 0;
    /* [data] drop_last with fewer training images than a batch: no step at
     * all (a full data set smaller than a batch is caught when it is loaded) */
    if (e->drop_last && e->train_subset > 0 && e->train_subset < e->batch_size) {
        static const char *const k[] = {"drop_last", "batch_size", "train_subset", NULL};
        diag_error(d, loc_of(&sn[1], data_s, secs[1], k),
                   "'drop_last' with batch_size (%d) larger than train_subset (%d) leaves no "
                   "training step in an epoch", e->batch_size, e->train_subset);
    }
    /* [data] dataset: the classes the network's last layer must give (a
     * folder's are counted by the command line, which knows --data) */
    const bool c100 = strcmp(e->dataset, "cifar100") == 0;
    const bool folder = strcmp(e->dataset, "folder") == 0;
    e->classes = c100 ? (e->label_coarse ? 20 : 100) : folder ? 0 : 10;
    if (e->label_coarse && !c100 && seen_ok(&sn[1], data_s, "label")) {
        static const char *const k[] = {"label", NULL};
        diag_error(d, loc_of(&sn[1], data_s, secs[1], k),
                   "'label' chooses CIFAR-100's fine or coarse labels; dataset = %s has one kind "
                   "(set dataset = cifar100, or remove 'label')", e->dataset);
    }
    if (e->skip_bad_images && !folder && seen_ok(&sn[1], data_s, "skip_bad_images")) {
        static const char *const k[] = {"skip_bad_images", NULL};
        diag_error(d, loc_of(&sn[1], data_s, secs[1], k),
                   "'skip_bad_images' is for dataset = folder (pictures that may not decode); "
                   "dataset = %s is checked whole", e->dataset);
    }
    /* [data] validation: N/classes images of each class, and some left to
     * train on (a folder's classes: checked when it is counted) */
    const IniEntry *val = seen_entry(&sn[1], data_s, "validation");
    e->validation_line = val ? val->loc.line : 0;
    if (e->classes > 0 && e->validation % e->classes != 0) {
        static const char *const k[] = {"validation", NULL};
        diag_error(d, loc_of(&sn[1], data_s, secs[1], k),
                   "'validation' (%d) must be a multiple of %d: it holds out validation / %d "
                   "images of each class", e->validation, e->classes, e->classes);
    } else if (e->validation > 0 && e->train_subset > 0 && e->validation >= e->train_subset) {
        static const char *const k[] = {"validation", "train_subset", NULL};
        diag_error(d, loc_of(&sn[1], data_s, secs[1], k),
                   "'validation' (%d) holds out all of train_subset's %d images; keep some to "
                   "train on", e->validation, e->train_subset);
    }

    /* [optimizer] beta2: the optimizer's row says (Adam's 0.999, RMSProp's
     * alpha 0.99) */
    if (!seen_entry(&sn[2], opt_s, "beta2")) e->beta2 = optimizer_info(e->optimizer)->beta2;
    const IniEntry *type = seen_entry(&sn[2], opt_s, "type");
    e->optimizer_line = type ? type->loc.line : secs[2] ? secs[2]->loc.line : 0;
    if (e->nesterov && e->momentum == 0.0f && seen_ok(&sn[2], opt_s, "nesterov")) {
        static const char *const k[] = {"nesterov", NULL};
        diag_error(d, loc_of(&sn[2], opt_s, secs[2], k),
                   "'nesterov' needs momentum > 0 (set momentum, e.g. 0.9)");
    }

    /* [schedule] */
    if (e->schedule == SCHED_ONE_CYCLE && e->lr_start > e->lr_max) {
        static const char *const k[] = {"lr_start", "lr_max", "type", NULL};
        char a[32], b[32];
        schema_format_float(e->lr_start, a, sizeof a);
        schema_format_float(e->lr_max, b, sizeof b);
        diag_error(d, loc_of(&sn[3], sch_s, secs[3], k),
                   "one_cycle schedule: 'lr_start' (%s) must not exceed 'lr_max' (%s)", a, b);
    }
    if (e->schedule == SCHED_STEP && e->n_milestones == 0 &&
        !seen_entry(&sn[3], sch_s, "milestones")) {
        static const char *const k[] = {"type", NULL};
        diag_error(d, loc_of(&sn[3], sch_s, secs[3], k),
                   "the step schedule needs 'milestones' (e.g. milestones = 30, 45)");
    } else if (e->schedule == SCHED_STEP && e->n_milestones == 0 &&
               seen_ok(&sn[3], sch_s, "milestones")) {
        static const char *const k[] = {"milestones", NULL};
        diag_error(d, loc_of(&sn[3], sch_s, secs[3], k),
                   "the step schedule needs at least one milestone (e.g. milestones = 30, 45)");
    }
    if (e->schedule == SCHED_PIECEWISE && e->n_knots == 0 && !seen_entry(&sn[3], sch_s, "knots")) {
        static const char *const k[] = {"type", NULL};
        diag_error(d, loc_of(&sn[3], sch_s, secs[3], k),
                   "the piecewise schedule needs 'knots' (epoch:value pairs from epoch 0, e.g. "
                   "knots = 0:0.2, 2:1, 10:0.07)");
    } else if (e->schedule == SCHED_PIECEWISE && e->n_knots == 0 &&
               seen_ok(&sn[3], sch_s, "knots")) {
        static const char *const k[] = {"knots", NULL};
        diag_error(d, loc_of(&sn[3], sch_s, secs[3], k),
                   "the piecewise schedule needs at least one knot (e.g. knots = 0:0.2, 2:1, "
                   "10:0.07)");
    }
}

static void init_layer(LayerSpec *ls, const char *name, int line)
{
    memset(ls, 0, sizeof *ls);
    str_copy(ls->name, sizeof ls->name, name);
    ls->line = line;
    ls->inputs_line = line;
    ls->bias = true;
    ls->activation = ACT_NONE;
    ls->leaky_slope = 0.01f;
    ls->bn_eps = 1e-5f;
    ls->bn_momentum = 0.1f;
    ls->probability = 0.5f;
}

static void check_layer(Diag *d, IniSection *s, LayerSpec *ls, LayerInfo *info)
{
    info->input_loc = s->loc;
    info->valid_type = false;
    const IniEntry *type_en = ini_section_find(s, "type");
    char what[CN_NAME_MAX + 64];
    if (!type_en) {
        if (!s->incomplete) {
            char list[512];
            size_t used = 0;
            for (int t = 0; t < LT_COUNT; t++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", t ? ", " : "",
                                         schema_layer_type_names[t]);
            diag_error(d, s->loc, "missing required key 'type' in [%s] (valid types: %s)",
                       s->name, list);
        }
        return;
    }
    char err[1024];
    const SchemaKey *tk = schema_find_key(schema_layer(LT_CONV), "type");
    if (schema_parse(tk, type_en->value, ls, err, sizeof err) != 0) {
        diag_error(d, type_en->loc, "%s", err);
        return;
    }
    info->valid_type = true;
    const SchemaSection *ss = schema_layer(ls->type);
    snprintf(what, sizeof what, "[%s] (%s)", s->name, layer_type_name(ls->type));
    apply_defaults(ss, ls);
    Seen sn;
    memset(&sn, 0, sizeof sn);
    apply_entries(d, s, ss, ls, what, &sn);

    const IniEntry *in = seen_entry(&sn, ss, "input");
    if (!in) in = seen_entry(&sn, ss, "inputs");
    if (in) {
        info->input_loc = in->loc;
        ls->inputs_line = in->loc.line > 0 ? in->loc.line : ls->line;
    }

    switch (ls->type) {
    case LT_CONV: {
        const IniEntry *pad = seen_entry(&sn, ss, "pad");
        if (!pad)
            ls->pad = ls->size / 2;
        else if (seen_ok(&sn, ss, "pad") && ls->pad > ls->size)
            diag_error(d, pad->loc, "'pad' must be between 0 and size (%d), got %d", ls->size,
                       ls->pad);
        if (!seen_entry(&sn, ss, "bias")) ls->bias = !ls->batchnorm;
        /* dirac's identity sits on the centre tap (the channel counts are checked when the
         * model is built) */
        const IniEntry *init = seen_entry(&sn, ss, "init");
        bool size_ok = !seen_entry(&sn, ss, "size") || seen_ok(&sn, ss, "size");
        if (init && seen_ok(&sn, ss, "init") && size_ok &&
            ls->conv_init == CONV_INIT_DIRAC && ls->size % 2 == 0)
            diag_error(d, init->loc, "init = dirac needs a kernel with a centre (an odd size), "
                                     "got size %d", ls->size);
        break;
    }
    case LT_MAXPOOL:
    case LT_AVGPOOL: {
        if (!seen_entry(&sn, ss, "stride")) ls->stride = ls->size;
        const IniEntry *pad = seen_entry(&sn, ss, "pad");
        if (pad && seen_ok(&sn, ss, "pad") && ls->pad > ls->size / 2)
            diag_error(d, pad->loc,
                       "'pad' must be at most size/2 = %d for %s (as in PyTorch), got %d",
                       ls->size / 2, layer_type_name(ls->type), ls->pad);
        break;
    }
    default: break;
    }
}

/* A layer's name and index, sorted by name: inputs are found by binary
 * search (a linear search per input made `check` quadratic in the layers). */
typedef struct {
    const char *name;
    int index;
} NamedLayer;

static int cmp_named_layer(const void *a, const void *b)
{
    const NamedLayer *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* The first layer named name (as a linear search would find), or -1. */
static int find_layer(const NamedLayer *sorted, int n, const char *name)
{
    int lo = 0, hi = n; /* the first entry >= name */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(sorted[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && strcmp(sorted[lo].name, name) == 0 ? sorted[lo].index : -1;
}

/* Every input names an earlier layer. */
static void check_inputs(Diag *d, const Experiment *e, const LayerInfo *info)
{
    NamedLayer *sorted = xmalloc(sizeof *sorted * (size_t)(e->n_layers ? e->n_layers : 1));
    for (int j = 0; j < e->n_layers; j++) sorted[j] = (NamedLayer){e->layers[j].name, j};
    qsort(sorted, (size_t)e->n_layers, sizeof *sorted, cmp_named_layer);
    for (int i = 0; i < e->n_layers; i++) {
        const LayerSpec *ls = &e->layers[i];
        if (!info[i].valid_type) continue;
        for (int k = 0; k < ls->n_inputs; k++) {
            const char *name = ls->inputs[k];
            int found = find_layer(sorted, e->n_layers, name);
            if (found >= 0 && found < i) continue;
            char hint[160] = "";
            if (found == i) {
                snprintf(hint, sizeof hint, "; a layer cannot read its own output");
            } else if (found > i) {
                snprintf(hint, sizeof hint,
                         "; [layer.%s] comes later (line %d): a layer can only read earlier ones",
                         name, e->layers[found].line);
            } else {
                const char *cands[257];
                int n = 0;
                for (int j = 0; j < i && n < 256; j++) cands[n++] = e->layers[j].name;
                cands[n] = NULL;
                const char *s = schema_suggest(name, cands);
                if (s) snprintf(hint, sizeof hint, "; did you mean '%s'?", s);
            }
            diag_error(d, info[i].input_loc,
                       "layer '%s' used as input is not defined before [layer.%s]%s", name,
                       ls->name, hint);
        }
    }
    free(sorted);
}

/* ------------------------------------------------------------- groups */

static bool group_name_ok(const char *s)
{
    return layer_name_ok(s);
}

/* A [group.NAME] section: keys not given take [optimizer]'s values. Layer
 * patterns are checked against the layer sections when check_layers is set
 * (they are all known). */
static void check_group(Diag *d, const IniSection *s, const Experiment *e, GroupSpec *g,
                        bool check_layers)
{
    const SchemaSection *ss = schema_group();
    memset(g, 0, sizeof *g);
    str_copy(g->name, sizeof g->name, s->name + 6);
    g->line = s->loc.line;
    apply_defaults(ss, g);
    g->type = e->optimizer;
    g->momentum = e->momentum;
    g->nesterov = e->nesterov;
    g->weight_decay = e->weight_decay;
    g->ns_steps = e->ns_steps;
    char what[CN_NAME_MAX + 16];
    snprintf(what, sizeof what, "[%s]", s->name);
    Seen sn;
    memset(&sn, 0, sizeof sn);
    apply_entries(d, s, ss, g, what, &sn);

    const IniEntry *type = seen_entry(&sn, ss, "type");
    g->type_line = type && type->loc.line > 0 ? type->loc.line : g->line;
    if (!seen_entry(&sn, ss, "decay"))
        g->decay = optimizer_info(g->type)->decoupled ? DECAY_DECOUPLED : DECAY_COUPLED;
    const bool matrix_only = optimizer_info(g->type)->matrix_only;
    const IniEntry *params = seen_entry(&sn, ss, "params");
    if (!params) g->params = matrix_only ? PK_MATRIX : PK_ALL;

    if (g->nesterov && g->momentum == 0.0f && seen_ok(&sn, ss, "nesterov")) {
        static const char *const k[] = {"nesterov", NULL};
        diag_error(d, loc_of(&sn, ss, s, k),
                   "'nesterov' needs momentum > 0 (set momentum, e.g. 0.9)");
    }
    if (matrix_only && !g->frozen && params && seen_ok(&sn, ss, "params") &&
        (g->params & ~(unsigned)PK_MATRIX)) {
        char list[128] = "";
        size_t used = 0;
        for (unsigned b = 1; b & PK_ALL; b <<= 1)
            if ((g->params & b) && !(b & PK_MATRIX))
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         used ? ", " : "", param_kind_name(b));
        diag_error(d, params->loc,
                   "%s updates conv and linear weights only, but 'params' has %s (type = %s%s; "
                   "give them a group of their own, e.g. with type = sgd)",
                   optimizer_type_name(g->type), list, optimizer_type_name(g->type),
                   type ? "" : " from [optimizer]");
    }
    const IniEntry *layers = seen_entry(&sn, ss, "layers");
    if (check_layers && layers && seen_ok(&sn, ss, "layers")) {
        for (int p = 0; p < g->n_layers; p++) {
            bool hit = false;
            for (int l = 0; l < e->n_layers && !hit; l++)
                hit = fnmatch(g->layers[p], e->layers[l].name, 0) == 0;
            if (hit) continue;
            const char *cands[257];
            int n = 0;
            for (int l = 0; l < e->n_layers && n < 256; l++) cands[n++] = e->layers[l].name;
            cands[n] = NULL;
            const char *sug = schema_suggest(g->layers[p], cands);
            char hint[CN_NAME_MAX + 32] = "";
            if (sug) snprintf(hint, sizeof hint, "; did you mean '%s'?", sug);
            diag_error(d, layers->loc, "no layer section matches '%s' in 'layers' of [%s]%s",
                       g->layers[p], s->name, hint);
        }
    }
}

static void validate(Diag *d, IniDoc *doc, Experiment *e, const char *path)
{
    int n_top;
    const SchemaSection *top = schema_sections(&n_top);
    IniSection *secs[4] = {NULL, NULL, NULL, NULL};
    Seen sn[4];
    memset(sn, 0, sizeof sn);
    for (int t = 0; t < n_top; t++) apply_defaults(&top[t], e);

    int n_layer_sections = 0, n_group_sections = 0;
    for (int i = 0; i < doc->n_sections; i++) {
        if (strncmp(doc->sections[i].name, "layer.", 6) == 0) n_layer_sections++;
        if (strncmp(doc->sections[i].name, "group.", 6) == 0) n_group_sections++;
    }
    e->layers = xcalloc((size_t)(n_layer_sections ? n_layer_sections : 1), sizeof *e->layers);
    if (n_group_sections) e->groups = xcalloc((size_t)n_group_sections, sizeof *e->groups);
    LayerInfo *info = xcalloc((size_t)(n_layer_sections ? n_layer_sections : 1), sizeof *info);

    for (int i = 0; i < doc->n_sections; i++) {
        IniSection *s = &doc->sections[i];
        if (s->broken) continue;
        const SchemaSection *ss = schema_find_section(s->name);
        if (ss) {
            int t = (int)(ss - top);
            secs[t] = s;
            char what[64];
            snprintf(what, sizeof what, "[%s]", s->name);
            apply_entries(d, s, ss, e, what, &sn[t]);
        } else if (strncmp(s->name, "layer.", 6) == 0) {
            const char *name = s->name + 6;
            if (!*name) {
                diag_error(d, s->loc, "[layer.] needs a name: [layer.NAME]");
                continue;
            }
            if (!layer_name_ok(name)) {
                diag_error(d, s->loc,
                           "invalid layer name '%s': use letters, digits, '_' and '-' (at most "
                           "%d characters)",
                           name, CN_NAME_MAX - 1);
                continue;
            }
            LayerSpec *ls = &e->layers[e->n_layers];
            init_layer(ls, name, s->loc.line);
            check_layer(d, s, ls, &info[e->n_layers]);
            e->n_layers++;
        } else if (strcmp(s->name, "sweep") == 0) {
            /* the grid of runs: src/config/sweep.c reads it, each point's
             * values come in as overrides */
        } else if (strncmp(s->name, "group.", 6) == 0) {
            const char *name = s->name + 6;
            if (!group_name_ok(name))
                diag_error(d, s->loc,
                           "invalid group name '%s': use letters, digits, '_' and '-' (at most "
                           "%d characters)",
                           name, CN_NAME_MAX - 1);
            /* checked below, once [optimizer] (their defaults) and every layer are read */
        } else {
            report_unknown_section(d, s->loc, s->name);
        }
    }
    check_top(d, e, secs, sn, path);

    /* whole-network checks need every layer section: skip them when a header
     * could not be read (the missing layer would cause false reports) */
    bool lost_header = false;
    for (int i = 0; i < doc->n_sections; i++)
        if (doc->sections[i].broken && doc->sections[i].name[0] == '\0') lost_header = true;
    if (!lost_header) {
        if (n_layer_sections == 0) {
            CfgLoc loc = {0, NULL};
            diag_error(d, loc, "no [layer.*] sections: the network is empty");
        }
        check_inputs(d, e, info);
    }
    for (int i = 0; i < doc->n_sections; i++) {
        const IniSection *s = &doc->sections[i];
        if (s->broken || strncmp(s->name, "group.", 6) != 0 || !group_name_ok(s->name + 6))
            continue;
        check_group(d, s, e, &e->groups[e->n_groups++], !lost_header);
    }
    free(info);
}

/* ------------------------------------------------------------------ API */

static const char *key_home_hint(const char *key)
{
    return schema_key_home(key);
}

int experiment_load(const char *path, const ConfigOverride *overrides, int n_overrides,
                    Experiment *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(EISDIR));
        return -1;
    }
    size_t len = 0;
    char *text = read_text_file(path, &len);
    if (!text) { /* a FIFO, device or too large a file is refused before it is read */
        fprintf(stderr, "%s: cannot open: %s\n", path, cn_strerror(errno));
        return -1;
    }
    Experiment e;
    memset(&e, 0, sizeof e);
    e.text = text;
    Diag d;
    diag_init(&d, path);
    if (!str_copy(e.path, sizeof e.path, path)) {
        CfgLoc loc = {0, NULL};
        diag_error(&d, loc, "the path is too long (at most %d characters)", CN_PATH_MAX - 1);
    }
    IniDoc doc;
    ini_doc_parse(&doc, text, len, &d, key_home_hint);
    apply_overrides(&doc, overrides, n_overrides, &d);
    validate(&d, &doc, &e, path);
    ini_doc_free(&doc);

    if (d.n > 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        free(e.layers);
        free(e.groups);
        free(text);
        return -1;
    }
    diag_free(&d);
    *out = e;
    return 0;
}

void experiment_free(Experiment *e)
{
    if (!e) return;
    free(e->text);
    free(e->layers);
    free(e->groups);
    e->text = NULL;
    e->layers = NULL;
    e->groups = NULL;
    e->n_layers = 0;
    e->n_groups = 0;
}

static void print_key(FILE *f, const SchemaKey *k, const void *base)
{
    char buf[CN_PATH_MAX + 64];
    schema_format(k, base, buf, sizeof buf);
    if (!*buf && k->type == SK_STRING)
        fprintf(f, "; %s = (not set: %s)\n", k->key, k->def);
    else if (!*buf)
        fprintf(f, "%s =\n", k->key);
    else
        fprintf(f, "%s = %s\n", k->key, buf);
}

void experiment_print(const Experiment *e, FILE *f)
{
    int n_top;
    const SchemaSection *top = schema_sections(&n_top);
    fprintf(f, "; resolved configuration of %s (every key, defaults included)\n", e->path);
    for (int t = 0; t < n_top; t++) {
        fprintf(f, "\n[%s]\n", top[t].name);
        for (int i = 0; i < top[t].n_keys; i++) {
            /* [experiment] epochs or steps: the one not used as a comment, so the
             * text reads back, and a run in epochs prints as it did before steps
             * existed (--resume compares the lines but comments) */
            const SchemaKey *k = &top[t].keys[i];
            if (t == 0 && e->steps > 0 && k->offset == offsetof(Experiment, epochs))
                fprintf(f, "; epochs = (not used: steps = %d)\n", e->steps);
            else if (t == 0 && e->steps == 0 && k->offset == offsetof(Experiment, steps))
                fprintf(f, "; steps = 0 (epochs decide)\n");
            else
                print_key(f, k, e);
        }
    }
    const SchemaSection *gs = schema_group();
    for (int g = 0; g < e->n_groups; g++) {
        fprintf(f, "\n[group.%s]\n", e->groups[g].name);
        for (int i = 0; i < gs->n_keys; i++) print_key(f, &gs->keys[i], &e->groups[g]);
    }
    for (int l = 0; l < e->n_layers; l++) {
        const LayerSpec *ls = &e->layers[l];
        const SchemaSection *ss = schema_layer(ls->type);
        fprintf(f, "\n[layer.%s]\n", ls->name);
        if (!ss) continue;
        for (int i = 0; i < ss->n_keys; i++) {
            const SchemaKey *k = &ss->keys[i];
            if (k->type == SK_INPUT && ls->n_inputs == 0) continue; /* the previous section */
            print_key(f, k, ls);
        }
    }
}

char *experiment_text(const Experiment *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) { /* only when out of memory, as xmalloc */
        perror("cnnrun: open_memstream");
        exit(CN_EXIT_FAIL);
    }
    experiment_print(e, mem);
    fclose(mem);
    return text;
}
