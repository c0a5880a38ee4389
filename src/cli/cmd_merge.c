/* cmd_merge.c — `cnnrun merge A.db B.db ... --into ALL.db`: the runs of results
 * databases written on several machines (a cluster scheduler's jobs) in one
 * file, for one report (results_merge in src/results/merge.c does the copy).
 * A run merged before is skipped, or brought up to date when it was merged
 * unfinished. Exit status: 0 merged (or nothing new), 1 a run in two
 * sources or in a state the destination's does not follow from, a damaged
 * file, an SQLite error or a signal (nothing written), 2 a bad command line
 * or a file (source or destination) that is not a cnnrun database. */
#include <stdio.h>

#include "cli.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"

int cmd_merge(CliOptions *o)
{
    if (o->into && !*o->into) {
        fprintf(stderr, "cnnrun merge: --into is empty; give the destination database's path\n");
        return CN_EXIT_USAGE;
    }
    if (!o->into) {
        fprintf(stderr, "cnnrun merge: give the destination with --into ALL.db\n");
        return CN_EXIT_USAGE;
    }
    int rc = results_merge(o->into, (const char *const *)o->files, o->n_files);
    return rc >= 0 ? CN_EXIT_OK : rc == -2 ? CN_EXIT_USAGE : CN_EXIT_FAIL;
}
