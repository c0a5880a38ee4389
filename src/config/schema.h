/* schema.h — private to src/config: the table of every section and key an
 * experiment file may contain (type, range, default, one-line meaning). The
 * same table validates files, fills defaults, prints the resolved
 * configuration and generates the key reference in docs/experiment-format.md. */
#ifndef CNNRUN_CONFIG_SCHEMA_H
#define CNNRUN_CONFIG_SCHEMA_H

#include <stddef.h>
#include <stdio.h>

#include "cnnrun/config.h"

typedef enum {
    SK_INT,        /* int, [min, max] */
    SK_U64,        /* uint64_t, 0 .. INT64_MAX (fits SQLite's integer) */
    SK_FLOAT,      /* float, finite, range per flags */
    SK_DOUBLE,     /* double, finite, range per flags (a count that multiplies up, e.g. epochs) */
    SK_BOOL,       /* true/false yes/no on/off 1/0 */
    SK_ENUM,       /* one of values[]; stored as int (or string / bool, see flags) */
    SK_STRING,     /* char[size], non-empty */
    SK_AUGMENT,    /* Experiment.augment_crop / _flip / _translate / _flip_alternating */
    SK_MILESTONES, /* Experiment.milestones / n_milestones */
    SK_KNOTS,      /* Experiment.knot_epoch / knot_value / n_knots, count at most max */
    SK_INPUT,      /* LayerSpec.inputs[0], n_inputs = 1 */
    SK_INPUTS,     /* LayerSpec.inputs / n_inputs, count in [min, max] */
    SK_PARAM_KINDS,/* GroupSpec.params: comma-separated ParamKind names */
    SK_PATTERNS    /* GroupSpec.layers / n_layers: comma-separated fnmatch patterns, at most max */
} SchemaType;

enum {
    SF_REQUIRED = 1 << 0,
    SF_MIN_EXCL = 1 << 1,    /* value > min instead of >= min */
    SF_MAX_EXCL = 1 << 2,    /* value < max instead of <= max */
    SF_NO_MAX = 1 << 3,      /* no upper bound (float, double) */
    SF_COMPUTED = 1 << 4,    /* default depends on other keys: `def` only documents it */
    SF_ENUM_STRING = 1 << 5, /* SK_ENUM stored as the chosen string in char[size] */
    SF_ENUM_BOOL = 1 << 6,   /* SK_ENUM stored as bool (values[1] = true) */
    SF_UTF8 = 1 << 7,        /* SK_STRING shown in tables and reports: valid UTF-8 only */
    SF_ENUM_SET = 1 << 8,    /* SK_ENUM whose values are sets of words, ", " between, in a
                              * fixed order: "last,best" is "best, last" */
    SF_NOT_RUN = 1 << 9      /* does not change what a run computes: a --resume may change it */
};

typedef struct {
    const char *key;
    SchemaType type;
    unsigned flags;
    size_t offset; /* into Experiment (section keys), LayerSpec (layer keys) or GroupSpec */
    size_t size;   /* SK_STRING / SF_ENUM_STRING: size of the char array */
    double min, max;
    const char *def;            /* default as written in a file; NULL: none */
    const char *const *values;  /* SK_ENUM: NULL-terminated, index = stored value */
    const char *doc;            /* one-line meaning */
} SchemaKey;

typedef struct {
    const char *name;    /* "experiment", ..., "layer.NAME" for layer types, "group.NAME" */
    int layer_type;      /* LayerType, or -1 for the top-level sections */
    const SchemaKey *keys;
    int n_keys;
    const char *doc;
} SchemaSection;

/* The top-level sections, in print order. */
const SchemaSection *schema_sections(int *n);
/* "experiment" ... "schedule", or NULL. */
const SchemaSection *schema_find_section(const char *name);
const SchemaSection *schema_layer(LayerType t);
/* The keys of a [group.NAME] section. */
const SchemaSection *schema_group(void);
const SchemaKey *schema_find_key(const SchemaSection *s, const char *key);
/* Section a key belongs in ("experiment", "layer.NAME", "group.NAME"...), for hints;
 * NULL if none. */
const char *schema_key_home(const char *key);

extern const char *const schema_layer_type_names[];  /* LT_COUNT + NULL */
extern const char *const schema_activation_names[];  /* ACT_COUNT + NULL */
extern const char *schema_optimizer_names[];         /* OPT_COUNT + NULL, from
                                                         optimizers.c's rows */
extern const char *const schema_param_kind_names[];  /* one per ParamKind bit, in bit order + NULL */

/* Parses value into base (Experiment* or LayerSpec*). On error writes a
 * message without location (e.g. "expected an integer for 'filters', got
 * '6x4'") into err and returns -1. */
int schema_parse(const SchemaKey *k, const char *value, void *base, char *err, size_t errlen);
/* Writes the stored value as it would be written in a file. */
void schema_format(const SchemaKey *k, const void *base, char *buf, size_t n);
/* "1..65536", ">= 0 and < 1", ... ("" when there is no constraint). */
void schema_range_text(const SchemaKey *k, char *buf, size_t n);
/* Shortest decimal text that reads back as the same float (double). */
void schema_format_float(float v, char *buf, size_t n);
void schema_format_double(double v, char *buf, size_t n);
/* Closest of cands (NULL-terminated) to word, if close enough; else NULL. */
const char *schema_suggest(const char *word, const char *const *cands);

/* The key reference (markdown tables) for docs/experiment-format.md. */
void schema_print_markdown(FILE *f);

#endif
