/* labels.c — the legend text of a plot's series (report.h
 * report_differing_labels): only what tells them apart — the experiment
 * where the series are not all of one, and each run_params key whose value
 * differs between them, by its last part where that is unambiguous
 * (`lr_max=0.05`, not `schedule.lr_max=0.05, data.train_subset=1000, ...`). */
#include <stdlib.h>
#include <string.h>

#include "cnnrun/report.h"
#include "cnnrun/util.h"

static const char *value_of(const ReportNamed *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0) return s->values[i];
    return NULL;
}

/* key's value differs between the series (or some have it, some not) */
static int differs(const ReportNamed *s, int n, const char *key)
{
    const char *first = value_of(&s[0], key);
    for (int i = 1; i < n; i++) {
        const char *v = value_of(&s[i], key);
        if ((v == NULL) != (first == NULL) || (v && strcmp(v, first) != 0)) return 1;
    }
    return 0;
}

static int seen(const char *const *keys, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0) return 1;
    return 0;
}

static const char *last_part(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the differing keys of the series, sorted (caller frees the array) */
static const char **differing_keys(const ReportNamed *s, int n, int *count)
{
    int cap = 0;
    for (int i = 0; i < n; i++) cap += s[i].n;
    const char **keys = xmalloc(sizeof *keys * (size_t)(cap + 1));
    *count = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++)
            if (!seen(keys, *count, s[i].keys[k]) && differs(s, n, s[i].keys[k]))
                keys[(*count)++] = s[i].keys[k];
    qsort(keys, (size_t)*count, sizeof *keys, cmp_str);
    return keys;
}

char **report_differing_labels(const ReportNamed *s, int n)
{
    char **out = xcalloc((size_t)(n > 0 ? n : 1), sizeof *out);
    int nk, exp_differs = 0;
    const char **keys = differing_keys(s, n, &nk);
    for (int i = 1; i < n; i++)
        exp_differs |= strcmp(s[i].experiment ? s[i].experiment : "",
                              s[0].experiment ? s[0].experiment : "") != 0;
    for (int i = 0; i < n; i++) {
        size_t cap = 1 + (exp_differs && s[i].experiment ? strlen(s[i].experiment) + 1 : 0);
        for (int k = 0; k < nk; k++) {
            const char *v = value_of(&s[i], keys[k]);
            cap += strlen(keys[k]) + (v ? strlen(v) : 1) + 2;
        }
        char *b = out[i] = xmalloc(cap);
        b[0] = '\0';
        if (exp_differs && s[i].experiment) strcat(b, s[i].experiment);
        for (int k = 0; k < nk; k++) {
            int clash = 0; /* another differing key with the same last part */
            for (int j = 0; j < nk; j++)
                clash |= j != k && strcmp(last_part(keys[j]), last_part(keys[k])) == 0;
            const char *v = value_of(&s[i], keys[k]);
            if (!v) continue; /* a key of the others' experiment: nothing to say */
            if (*b) strcat(b, " ");
            strcat(b, clash ? keys[k] : last_part(keys[k]));
            strcat(b, "=");
            strcat(b, v);
        }
    }
    free(keys);
    return out;
}

void report_free_labels(char **labels, int n)
{
    for (int i = 0; labels && i < n; i++) free(labels[i]);
    free(labels);
}
