/* check.c — `cnnrun check FILE...`: parse, build the model, print the
 * resolved configuration and the model table; train nothing. */
#include <stdio.h>

#include "cli.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

int cmd_check(CliOptions *o)
{
    int rc = CN_EXIT_OK;
    for (int i = 0; i < o->n_files; i++) {
        Experiment e;
        if (experiment_load(o->files[i], o->sets, o->n_sets, &e) != 0) {
            rc = CN_EXIT_USAGE;
            continue;
        }
        Model m;
        if (model_build(&e, 0, &m) != 0) {
            experiment_free(&e);
            rc = CN_EXIT_USAGE;
            continue;
        }
        if (optimizer_check_groups(&m) != 0) { /* [group.*] over this network */
            model_free(&m);
            experiment_free(&e);
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
        printf("%s: ok\n\n", o->files[i]);
        model_free(&m);
        experiment_free(&e);
    }
    return rc;
}
