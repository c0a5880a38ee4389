/* watch.c — the study's side of the MPI fault watch (dist.h): the
 * run a stop marks in its database, from the watch's thread, when a rank
 * dies (`failed`, the rank named) or the job is told to stop (`interrupted`,
 * before mpirun's SIGKILL can come). The training thread's own, graceful
 * end, when it gets there, writes over the second. */
#include <stdio.h>

#include "cnnrun/study.h"
#include "cnnrun/dist.h"
#include "cnnrun/results.h"

/* the watch's thread waits this long for the database's lock: mpirun's
 * SIGKILL follows its SIGTERM by a second */
#define MARK_WAIT_MS 500

static void mark(void *ctx, DistStop why, const char *message)
{
    WatchedRun *w = ctx;
    const char *status = why == DIST_STOP_RANK_DIED ? "failed" : "interrupted";
    char full[1536];
    char groups[96] = "", option[40] = ""; /* --ranks-per-run: the group's ranks */
    if (dist_groups() > 1) {
        snprintf(groups, sizeof groups, " (in group %d of %d ranks each)", dist_group(),
                 dist_size());
        snprintf(option, sizeof option, " --ranks-per-run %d", dist_size());
    }
    if (why == DIST_STOP_RANK_DIED && w->config_path)
        snprintf(full, sizeof full, "%s%s; the other ranks were stopped; `mpirun -np %d cnnrun "
                                    "run %s%s --resume` continues from the last checkpoint",
                 message, groups, dist_world_size(), w->config_path, option);
    else
        snprintf(full, sizeof full, "%s", message);
    int64_t id = atomic_load(&w->run_id);
    int marked = id > 0 && w->db_path &&
                 results_mark_stopped(w->db_path, id, status, atomic_load(&w->train_seconds),
                                      full, why == DIST_STOP_RANK_DIED, MARK_WAIT_MS) == 1;
    if (why == DIST_STOP_RANK_DIED || marked)
        fprintf(stderr, "cnnrun: %s%s%s\n", full, marked ? "; the run is marked " : "",
                marked ? status : "");
}

void study_watch_start(WatchedRun *w, int64_t run_id)
{
    if (dist_size() < 2) return;
    dist_bcast(&run_id, sizeof run_id); /* rank 0's: the others have no row */
    atomic_store(&w->run_id, run_id);
    dist_watch(mark, w);
}

void study_watch_stop(void)
{
    dist_watch(NULL, NULL);
}
