/* grid.c — the runs one experiment file stands for on the command line: one,
 * or the grid of its [sweep] section and the --sweep options (the Sweep of
 * src/config/sweep.c), each point being the file with the --set values and
 * the point's values as overrides. Owns checking every point before anything
 * trains: the point of every key's first value, then each other value once
 * (each bad value reported once, at its sweep line), then the combinations
 * not yet seen. The drawn points of a random sweep are one axis (a value
 * of its first random key: sweep_key_is_axis), each reported as one; and
 * the warnings that [sweep] prune without [data] validation judges the runs
 * on the test set, and that it decides before the learning rate's peak. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/study.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

void grid_note_unswept(const char *path, const ConfigOverride *sets, int n_sets,
                       const char *command)
{
    Sweep sw;
    if (!path || sweep_unapplied(path, sets, n_sets, &sw) == 0) {
        sweep_free(&sw);
        return;
    }
    const SweepKey *k = &sw.keys[0];
    const char *q = strpbrk(k->values[0], " ,|") ? "'" : ""; /* for the shell */
    fprintf(stderr, "%s:%d: note: %s does not apply the [sweep] section (%ld grid point%s): it "
                    "uses the file's own values; give a point's with --set (e.g. --set "
                    "%s%s.%s=%s%s)\n",
            path, k->line, command, sw.n_points, sw.n_points == 1 ? "" : "s", q,
            k->section, k->key, k->values[0], q);
    sweep_free(&sw);
}

int grid_open(Grid *g, const char *path, const StudyOptions *o)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    g->sets = o->sets;
    g->n_sets = o->n_sets;
    g->engine = &o->engine;
    g->data = o->data;
    if (sweep_load(path, o->sets, o->n_sets, o->sweeps, o->n_sweeps, &g->sweep) != 0) return -1;
    return 0;
}

void grid_close(Grid *g)
{
    for (long i = 0; g->texts && i < g->sweep.n_points; i++) free(g->texts[i]);
    free(g->texts);
    g->texts = NULL;
    sweep_free(&g->sweep);
}

const ConfigOverride *grid_point(Grid *g, long i, int *n)
{
    memcpy(g->ov, g->sets, sizeof g->ov[0] * (size_t)g->n_sets);
    sweep_point(&g->sweep, i, g->ov + g->n_sets);
    *n = g->n_sets + g->sweep.n_keys;
    return g->ov;
}

int grid_load(Grid *g, long i, Experiment *e)
{
    int n;
    const ConfigOverride *ov = grid_point(g, i, &n);
    if (experiment_load(g->path, ov, n, e) != 0) return -1;
    e->engine = *g->engine;
    return 0;
}

const char *grid_point_text(Grid *g, long i)
{
    if (!g->texts) g->texts = xcalloc((size_t)g->sweep.n_points, sizeof *g->texts);
    if (!g->texts[i]) {
        Experiment e;
        if (grid_load(g, i, &e) != 0) return NULL;
        g->texts[i] = experiment_text(&e);
        experiment_free(&e);
    }
    return g->texts[i];
}

/* The file with the overrides ov, the network's shapes and the parameter
 * groups; with keep, *keep gets the experiment (else it is freed). 0 or -1
 * (printed). */
static int check_overrides(Grid *g, const ConfigOverride *ov, int n, Experiment *keep)
{
    Experiment e;
    if (experiment_load(g->path, ov, n, &e) != 0) return -1;
    e.engine = *g->engine;
    if (study_count_classes(g->data, &e) != 0) { /* a folder's: its last layer is checked */
        experiment_free(&e);
        return -1;
    }
    Model m;
    int rc = model_build(&e, 0, &m); /* shapes only, no memory */
    if (rc == 0) {
        rc = optimizer_check_groups(&m); /* [group.*] over this network */
        if (rc == 0) rc = study_memory_fits(g->path, &m, g->memory);
        model_free(&m);
    }
    if (rc == 0 && keep) *keep = e;
    else experiment_free(&e);
    return rc == 0 ? 0 : -1;
}

/* check_overrides of point i. */
static int check_point(Grid *g, long i, Experiment *keep)
{
    int n;
    const ConfigOverride *ov = grid_point(g, i, &n);
    return check_overrides(g, ov, n, keep);
}

/* The values of choice(...) keys that no drawn point took, each with the
 * first point's other values: a value the file names is checked whether or
 * not this draw took it (a larger `samples` may). The number of bad ones. */
static int check_undrawn_choices(Grid *g)
{
    const Sweep *s = &g->sweep;
    int bad = 0;
    for (int k = 0; k < s->n_keys; k++) {
        const SweepKey *sk = &s->keys[k];
        for (int c = 0; c < sk->n_choices; c++) {
            int drawn = 0;
            for (int j = 0; j < sk->n_values && !drawn; j++)
                drawn = !strcmp(sk->values[j], sk->choices[c]);
            if (drawn) continue;
            int n;
            grid_point(g, 0, &n); /* into g->ov */
            g->ov[g->n_sets + k].value = sk->choices[c];
            if (check_overrides(g, g->ov, n, NULL) == 0) continue;
            bad++;
            if (sk->line)
                fprintf(stderr, "%s:%d: (the value '%s' of %s.%s's choice, not drawn with "
                                "samples = %d)\n", g->path, sk->line, sk->choices[c], sk->section,
                        sk->key, s->samples);
            else
                fprintf(stderr, "--sweep %s.%s: (the value '%s' of its choice, not drawn with "
                                "samples = %d)\n", sk->section, sk->key, sk->choices[c],
                        s->samples);
        }
    }
    return bad;
}

/* The index of the point with every key at its first value but key k at
 * value j. */
static long single_change(const Sweep *s, int k, int j)
{
    long stride = 1;
    for (int q = s->n_keys - 1; q > k; q--)
        if (sweep_key_is_axis(s, q)) stride *= s->keys[q].n_values;
    return (long)j * stride;
}

/* Whether point i has only first values but at most one key. */
static int is_single_change(const Sweep *s, long i)
{
    int changed = 0;
    for (int k = s->n_keys - 1; k >= 0; k--) {
        if (!sweep_key_is_axis(s, k)) continue;
        changed += i % s->keys[k].n_values != 0;
        i /= s->keys[k].n_values;
    }
    return changed <= 1;
}

static void note_point(const Grid *g, long i)
{
    char text[1024];
    sweep_point_text(&g->sweep, i, text, sizeof text);
    fprintf(stderr, "%s: (grid point %ld of %ld: %s)\n", g->path, i + 1, g->sweep.n_points, text);
}

/* A drawn point of a random sweep, j of the samples, at the samples line. */
static void note_sample(const Grid *g, long i, int j)
{
    char text[1024];
    sweep_point_text(&g->sweep, i, text, sizeof text);
    fprintf(stderr, "%s:%d: (drawn point %d of %d: grid point %ld of %ld: %s)\n", g->path,
            g->sweep.samples_line, j + 1, g->sweep.samples, i + 1, g->sweep.n_points, text);
}

int grid_check(Grid *g, Experiment *first)
{
    const Sweep *s = &g->sweep;
    if (check_point(g, 0, first) != 0) {
        if (s->samples) note_sample(g, 0, 0);
        else if (s->n_keys) note_point(g, 0);
        return -1;
    }
    if (s->n_keys == 0) return 0;
    int bad = 0;
    /* bad values: badv[k][j] */
    unsigned char *badv[CN_SWEEP_MAX_KEYS];
    for (int k = 0; k < s->n_keys; k++) badv[k] = xcalloc((size_t)s->keys[k].n_values, 1);
    for (int k = 0; k < s->n_keys; k++)
        for (int j = 1; j < s->keys[k].n_values && sweep_key_is_axis(s, k); j++) {
            long i = single_change(s, k, j);
            if (check_point(g, i, NULL) == 0) continue;
            bad++;
            badv[k][j] = 1;
            const SweepKey *sk = &s->keys[k];
            if (sk->spec) note_sample(g, i, j); /* a drawn point: its values */
            else if (sk->line)
                fprintf(stderr, "%s:%d: (the sweep's value '%s' of %s.%s: grid point %ld of %ld)\n",
                        g->path, sk->line, sk->values[j], sk->section, sk->key, i + 1,
                        s->n_points);
            else
                fprintf(stderr, "--sweep %s.%s: (the value '%s': grid point %ld of %ld)\n",
                        sk->section, sk->key, sk->values[j], i + 1, s->n_points);
        }
    for (long i = 1; i < s->n_points; i++) {
        if (is_single_change(s, i)) continue;
        int known_bad = 0;
        long r = i;
        for (int k = s->n_keys - 1; k >= 0; k--) {
            if (!sweep_key_is_axis(s, k)) continue;
            long j = r % s->keys[k].n_values;
            r /= s->keys[k].n_values;
            if (badv[k][j]) known_bad = 1;
        }
        if (known_bad) continue; /* reported with its value */
        if (check_point(g, i, NULL) != 0) {
            bad++;
            note_point(g, i);
        }
    }
    for (int k = 0; k < s->n_keys; k++) free(badv[k]);
    bad += check_undrawn_choices(g);
    if (bad && first) experiment_free(first);
    return bad ? -1 : 0;
}

/* Pruning that decides while a point's learning rate still rises judges
 * the runs with a larger peak when they are behind (measured on quick.ini:
 * docs/experiment-format.md, "Stopping hopeless runs early"). Every point
 * is looked at: the first may have the flattest schedule of the sweep. */
static void warn_prune_before_peak(Grid *g)
{
    const PruneRule *p = &g->sweep.prune;
    double peak = 0;
    long at = 0;
    for (long i = 0; i < g->sweep.n_points; i++) {
        Experiment e;
        if (grid_load(g, i, &e) != 0) return; /* not reached: grid_check loaded it */
        /* [experiment] steps: the epochs depend on the data; not judged */
        double t = e.epochs > 0 ? schedule_peak_epoch(&e, e.epochs) : 0;
        experiment_free(&e);
        if (t > peak) {
            peak = t;
            at = i;
        }
    }
    int decides = p->kind == PRUNE_MEDIAN ? p->warmup + 1 : p->rungs[0];
    if (decides >= peak - 1e-9) return;
    int from = (int)ceil(peak - 1e-9);
    fprintf(stderr, "%s:%d: warning: prune = %s first decides after epoch %d, but the learning "
                    "rate of grid point %ld rises until epoch %.4g: a run with a larger "
                    "learning rate is behind there and can be stopped before it overtakes the "
                    "others; ",
            g->path, p->line, p->kind == PRUNE_MEDIAN ? "median" : "asha", decides, at + 1,
            peak);
    if (p->kind == PRUNE_MEDIAN)
        fprintf(stderr, "prune_warmup = %d decides from epoch %d\n", from - 1, from);
    else
        fprintf(stderr, "rungs from epoch %d decide after the peak\n", from);
}

void grid_warn_prune(Grid *g, const Experiment *first)
{
    const PruneRule *p = &g->sweep.prune;
    if (p->kind == PRUNE_NONE) return;
    warn_prune_before_peak(g);
    if (first->validation > 0) return;
    fprintf(stderr, "%s:%d: warning: prune = %s judges the runs on the test set ([data] "
                    "validation is not set): the test set then chooses which runs go on, and "
                    "their test accuracies are no longer an unbiased estimate; set [data] "
                    "validation = N to prune on held-out training images\n",
            g->path, p->line, p->kind == PRUNE_MEDIAN ? "median" : "asha");
}
