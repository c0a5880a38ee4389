/* cmd_check.c — `cnnrun check FILE...`: parse, build the model, print the
 * resolved configuration and the model table; of a sweep, check every grid
 * point and list them (the configuration and table shown are the first
 * point's); train nothing. */
#include <stdio.h>

#include "cli.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* The runs a sweep makes, one line each, in the order they run. */
static void print_grid(const Grid *g)
{
    const Sweep *s = &g->sweep;
    printf("\n; sweep: %ld run%s (the first key outermost; above: grid point 1)\n", s->n_points,
           s->n_points == 1 ? "" : "s");
    if (s->samples) /* where the random points come from */
        printf("; %d point%s drawn at random, seed %llu (%s)\n", s->samples,
               s->samples == 1 ? "" : "s", (unsigned long long)s->seed,
               s->seed_line ? "[sweep] seed" : "[experiment] seed");
    for (long i = 0; i < s->n_points; i++) {
        char text[1024];
        sweep_point_text(s, i, text, sizeof text);
        printf("%5ld  %s\n", i + 1, text);
    }
}

int cmd_check(CliOptions *o)
{
    int rc = CN_EXIT_OK;
    StudyOptions s; /* the --set and --sweep values each file's grid takes */
    cli_study_options(o, &s);
    for (int i = 0; i < o->n_files; i++) {
        Grid g;
        Experiment e;
        if (grid_open(&g, o->files[i], &s) != 0) {
            rc = CN_EXIT_USAGE;
            continue;
        }
        g.memory = MEM_CHECK_WARN; /* a plan larger than the machine: said, still ok */
        if (grid_check(&g, &e) != 0) { /* every point: file, shapes, groups */
            grid_close(&g);
            rc = CN_EXIT_USAGE;
            continue;
        }
        Model m;
        if (model_build(&e, 0, &m) != 0) { /* built once already: cannot fail */
            experiment_free(&e);
            grid_close(&g);
            rc = CN_EXIT_USAGE;
            continue;
        }
        printf("# %s\n", o->files[i]);
        experiment_print(&e, stdout);
        printf("\n");
        model_print_table(&m, stdout);
        if (e.n_groups > 0) {
            printf("\n");
            optimizer_print_groups(&m, stdout);
        }
        if (g.sweep.n_keys > 0) print_grid(&g);
        if (g.sweep.prune.kind != PRUNE_NONE) {
            char text[256];
            prune_rule_text(&g.sweep.prune, text, sizeof text);
            printf("; prune: %s, judged on the %s accuracy\n", text,
                   e.validation > 0 ? "validation" : "test");
            grid_warn_prune(&g, &e);
        }
        printf("%s: ok\n\n", o->files[i]);
        model_free(&m);
        experiment_free(&e);
        grid_close(&g);
    }
    return rc;
}
