/* rank_groups.c — `cnnrun run --ranks-per-run K` under `mpirun -np R`: the
 * R ranks are R/K groups of K consecutive ranks (dist_split), each a K-rank
 * data-parallel run of its own, and the study's runs are shared out among
 * them (docs/distributed.md, "Many runs over many ranks").
 *
 * - Static share: run i of the study (every file's grid points, in order)
 *   is group i % G's, and a group trains its runs in order. Not a queue: a
 *   resume with the same -np and K gives every run to the same group, so to
 *   the same host and database that hold its row and checkpoints; and no
 *   rank has to be a coordinator, busy training meanwhile.
 * - Databases: a group's rank 0 writes. A group whose rank 0 is on world
 *   rank 0's host writes --db, beside the others (concurrent SQLite WAL
 *   writers, as `--jobs`); one on another host writes "<db>.<host>.db"
 *   beside it (a WAL must not be shared between hosts, and a network file
 *   system may make --db the same file on every host); world rank 0 prints
 *   the `cnnrun merge` that puts them together. Checkpoints go beside the
 *   database written.
 * - Output: each group's rank 0 says one line per ended run (no progress
 *   display, no model table: RecordOptions.quiet), printed by world rank 0
 *   (relayed between its runs: dist_relay_lines), which prints the count of
 *   the runs that succeeded last, after every group's lines. A failing run
 *   stops no other; a stop signal (mpirun passes it to every rank) stops
 *   every group. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/dist.h"
#include "cnnrun/util.h"
#include "jobs.h"
#include "rank_groups.h"
#include "run_point.h"

/* One run of the group, as its observer sees it. */
typedef struct {
    int group;
    char name[160];
    char values[512]; /* " with key=value, ...": a sweep point's values */
    int64_t run_id;   /* 0: no row (yet) */
    double acc;       /* the last evaluated (or final) test accuracy */
    double seconds;
    int epoch, epochs; /* the last one trained; planned */
    char status[16];  /* how it ended (RunObserver.ended); "" before */
} GroupRun;

static void on_opened(void *ctx, int64_t run_id, int first_epoch, int epochs, double run_seconds)
{
    (void)first_epoch;
    (void)run_seconds;
    ((GroupRun *)ctx)->run_id = run_id;
    ((GroupRun *)ctx)->epochs = epochs;
}

static void on_epoch(void *ctx, int epoch, double test_acc, double run_seconds)
{
    GroupRun *r = ctx;
    (void)epoch;
    if (!isnan(test_acc)) r->acc = test_acc;
    r->seconds = run_seconds;
}

static void on_final(void *ctx, double test_acc) { ((GroupRun *)ctx)->acc = test_acc; }

static void on_ended(void *ctx, const char *how, int epoch, double train_seconds)
{
    GroupRun *r = ctx;
    str_copy(r->status, sizeof r->status, how);
    r->epoch = epoch;
    r->seconds = train_seconds;
}

/* A group's line (its rank 0's): printed by world rank 0, relayed from the
 * others (dist_line_to_world0), so that it comes before the study's count. */
static void say(const char *line)
{
    if (dist_rank() != 0) return;
    if (dist_world_rank() == 0) fputs(line, stderr);
    else dist_line_to_world0(line);
}

static void print_end(const GroupRun *r, int rc)
{
    char head[256], t[32], line[1024];
    snprintf(head, sizeof head, "cnnrun: [group %d] %s", r->group, r->name);
    if (r->run_id <= 0) {
        if (rc == CN_EXIT_OK) return; /* already run: its own line says so */
        snprintf(line, sizeof line, "%s: failed before its run started (exit %d)\n", head, rc);
    } else if (rc == CN_EXIT_OK) {
        char acc[32] = "-", how[96]; /* "-": never evaluated ([experiment] eval_every) */
        if (!isnan(r->acc)) snprintf(acc, sizeof acc, "%.2f%%", 100 * r->acc);
        snprintf(line, sizeof line, "%s: run %lld %s: test acc %s in %s%s\n", head,
                 (long long)r->run_id,
                 jobs_end_words(how, sizeof how, r->status, r->epoch, r->epochs), acc,
                 jobs_fmt_time(t, sizeof t, r->seconds), r->values);
    } else {
        snprintf(line, sizeof line, "%s: run %lld %s (exit %d)%s\n", head, (long long)r->run_id,
                 r->status[0] ? r->status : "failed", rc, r->values);
    }
    say(line);
}

void rank_groups_host_db(char *buf, size_t size, const char *db, const char *host)
{
    size_t len = strlen(db);
    int stem = len > 3 && !strcmp(db + len - 3, ".db") ? (int)(len - 3) : (int)len;
    char h[64];
    str_copy(h, sizeof h, host);
    for (char *c = h; *c; c++) /* a file name: no '/' from a host's name */
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
            *c != '-' && *c != '.' && *c != '_')
            *c = '_';
    snprintf(buf, size, "%.*s.%s.db", stem, db, h);
}

/* World rank 0, at the end: the databases of the groups on other hosts and
 * the merge that puts them into --db. */
static void print_merge(const StudyOptions *o, int groups, int k, long total)
{
    const char *home = dist_host(0);
    char paths[4096] = "", path[CN_PATH_MAX + 80];
    size_t len = 0;
    int n = 0;
    for (int gi = 1; gi < groups && gi < total; gi++) {
        const char *host = dist_host(gi * k);
        if (!home || !host || !strcmp(host, home)) continue;
        int seen = 0;
        for (int gj = 1; gj < gi; gj++) seen |= !strcmp(dist_host(gj * k), host);
        if (seen) continue;
        rank_groups_host_db(path, sizeof path, o->db, host);
        int w = snprintf(paths + len, sizeof paths - len, " %s", path);
        if (w > 0 && (size_t)w < sizeof paths - len) len += (size_t)w;
        n++;
    }
    if (n)
        fprintf(stderr, "cnnrun: %d database%s on other hosts (each on its own host's disk):%s; "
                        "put them together with `cnnrun merge%s --into %s` (after copying them "
                        "here)\n", n, n == 1 ? "" : "s", paths, paths, o->db);
}

int rank_groups_run(StudyOptions *o, Grid *grids, long total, ResultsDb *db)
{
    const int groups = dist_groups(), group = dist_group();
    const int k = dist_world_size() / groups;
    const char *home = dist_host(0), *here = dist_host(group * k);
    char path[CN_PATH_MAX + 80];
    if (!home || !here || !strcmp(home, here)) str_copy(path, sizeof path, o->db);
    else rank_groups_host_db(path, sizeof path, o->db, here);
    if (dist_rank() == 0) study_speak(); /* the group's rank 0 speaks for it */
    if (dist_world_rank() == 0)
        fprintf(stderr, "cnnrun: %ld runs shared by %d groups of %d rank%s (--ranks-per-run %d); "
                        "results in %s\n", total, groups, k, k == 1 ? "" : "s", k, o->db);
    /* world rank 0 has created --db; the other groups' writers open theirs
     * now (several at once is fine: results_open), and every writer has its
     * database or nobody trains */
    int rc = CN_EXIT_OK;
    if (dist_rank() == 0 && dist_world_rank() != 0) rc = run_db_open(path, &db);
    rc = dist_world_max_int(rc);
    if (rc != CN_EXIT_OK) {
        results_close(db);
        return rc;
    }
    /* run_point's database: its checkpoints, --resume's look-ups, the fault watch */
    StudyOptions mine = *o;
    mine.db = path;
    /* a group on another host writes a file of its own, without the study's
     * row (merged later): its runs belong to no study there */
    if (strcmp(path, o->db) != 0) mine.study_id = 0;
    int threads = study_setup_threads(o->threads);
    study_catch_stop_signals();
    long index = 0, ran = 0, failed = 0;
    int open = groups - 1; /* world rank 0: the groups whose lines it relays */
    int worst = CN_EXIT_OK;
    for (int i = 0; i < o->n_files; i++) {
        Grid *g = &grids[i];
        int64_t after = 0; /* --resume of a sweep: the group's previous point's run */
        for (long p = 0; p < g->sweep.n_points; p++) {
            if (index++ % groups != group) continue;
            ran++;
            GroupRun r = {.group = group, .acc = NAN};
            jobs_run_name(g, p, r.name, sizeof r.name);
            jobs_point_values(g, p, r.values, sizeof r.values);
            /* a signal to one rank stops its group (its run stopped them already) */
            study_stop_requested = dist_max_int(study_stop_requested);
            if (study_stop_requested) {
                char line[256];
                snprintf(line, sizeof line, "cnnrun: [group %d] %s: not run (interrupted)\n",
                         group, r.name);
                say(line);
                failed++;
                if (worst < CN_EXIT_FAIL) worst = CN_EXIT_FAIL;
                continue;
            }
            RunObserver obs = {.ctx = &r, .opened = on_opened, .epoch = on_epoch,
                               .final = on_final, .ended = on_ended};
            int prc = run_point(g, p, &mine, db, threads, &after, &obs);
            if (prc != CN_EXIT_OK) {
                failed++;
                if (prc > worst) worst = prc;
            }
            print_end(&r, prc);
            if (dist_world_rank() == 0) open = dist_relay_lines(stderr, open, 0);
        }
    }
    results_close(db);
    /* the other groups' last lines, then the count: in this order */
    if (dist_rank() == 0 && dist_world_rank() != 0) dist_line_to_world0("");
    if (dist_world_rank() == 0) dist_relay_lines(stderr, open, 1);
    /* every group has ended: the study's count and status */
    long succeeded = dist_world_sum_long(dist_rank() == 0 ? ran - failed : 0);
    worst = dist_world_max_int(worst);
    int stopped = dist_world_max_int(study_stop_requested);
    if (dist_world_rank() == 0) {
        if (stopped)
            fprintf(stderr, "cnnrun: interrupted; `%s` continues the runs not finished\n",
                    o->resume_command);
        fprintf(stderr, "cnnrun: %ld of %ld runs succeeded (results in %s)\n", succeeded, total,
                o->db);
        print_merge(o, groups, k, total);
    }
    return worst;
}
