/* estimate.c — what a study of several runs will cost, said before it
 * starts: one line on stderr, `study: 9 runs, 450 epochs, about 40h00m
 * (...)`. Each run's images (its epochs, or steps, over its training split:
 * the data's records counted from the files' sizes or a folder's pictures,
 * less the subset and the validation hold-out; nothing is loaded) over its
 * rate in images per second:
 *
 * - measured: the mean of images / seconds (the epoch's wall time, its
 *   testing included) of the epochs of the finished runs in the database of
 *   the same network (its parameters and forward FLOPs), batch size and
 *   threads;
 * - else projected from the database: the FLOPs a second the finished runs
 *   at these threads trained at (images_per_sec x flops_per_image), over
 *   this network's FLOPs;
 * - else projected from this machine: one thread's sgemm rate (a 256^3
 *   product, timed a few times: well under a second; no thread team is
 *   started, so a --jobs parent forks as before) times the threads, at half
 *   that peak, over three times the forward FLOPs (forward and backward).
 * The projections add each epoch's testing (the test split and the
 * validation hold-out, forward only: a third of a training image each);
 * with 5,000 training images and 10,000 test images that is 40 % of the
 * epoch, which an estimate from training alone left out.
 *
 * The line says which. --jobs N runs N at once, each with its share of the
 * cores; --ranks-per-run shares the runs among the groups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "cnnrun/kernels.h"
#include "cnnrun/results_read.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"
#include "estimate.h"
#include "jobs.h"

/* Records in file dir/name of rec bytes each (0: none). */
static long records(const char *dir, const char *name, long rec)
{
    char p[CN_PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) ? (long)st.st_size / rec : 0;
}

/* The pictures of a folder data set's split (train/, test/): the files in its class folders. */
static long folder_pictures(const char *dir, const char *split)
{
    char p[CN_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, split);
    DIR *d = opendir(p);
    if (!d) return 0;
    long n = 0;
    for (struct dirent *c; (c = readdir(d));) {
        if (c->d_name[0] == '.') continue;
        char q[2 * CN_PATH_MAX + 128];
        snprintf(q, sizeof q, "%s/%s", p, c->d_name);
        DIR *k = opendir(q);
        if (!k) continue;
        for (struct dirent *f; (f = readdir(k));) n += f->d_name[0] != '.';
        closedir(k);
    }
    closedir(d);
    return n;
}

/* The images e trains on in an epoch (test = 0: its training split, less the
 * subset and the validation hold-out), or tests on after each epoch (test =
 * 1: its test split, or a folder's test/ pictures, none without; plus the
 * validation hold-out), counted without loading them. */
static long split_images(const char *data_opt, const Experiment *e, int test)
{
    const char *origin;
    const char *dir = cifar_resolve_dir(data_opt, e->dir, &origin);
    if (!dir) return 0;
    long n = 0;
    if (!strcmp(e->dataset, "cifar100")) {
        n = records(dir, test ? "test.bin" : "train.bin", 3074);
    } else if (!strcmp(e->dataset, "folder")) {
        n = folder_pictures(dir, test ? "test" : "train");
    } else if (test) {
        n = records(dir, "test_batch.bin", 3073);
    } else {
        for (int i = 1; i <= 5; i++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", i);
            n += records(dir, name, 3073);
        }
    }
    int subset = test ? e->test_subset : e->train_subset;
    if (subset > 0 && subset < n) n = subset;
    n += test ? e->validation : -e->validation;
    return n > 0 ? n : 0;
}

/* The measured rate of e's network (params, flops) at batch and threads:
 * the mean over its finished runs' epochs of the images trained a second of
 * the epoch's wall time, its testing included (images_per_sec, training
 * alone, where an old row has no images); 0 when none. */
static double measured_rate(sqlite3 *db, size_t params, double flops, int batch, int threads)
{
    sqlite3_stmt *st;
    const char *sql =
        "SELECT avg(CASE WHEN e.images > 0 AND e.seconds > 0 THEN e.images / e.seconds "
        "ELSE e.images_per_sec END) FROM runs r JOIN epochs e "
        "ON e.run_id = r.id WHERE r.status = 'finished' AND r.params = ?1 "
        "AND abs(r.flops_per_image - ?2) <= 1e-9 * ?2 AND r.threads = ?3 "
        "AND instr(r.config, char(10) || 'batch_size = ' || ?4 || char(10)) > 0 "
        "AND e.images_per_sec > 0";
    if (!db || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)params);
    sqlite3_bind_double(st, 2, flops);
    sqlite3_bind_int(st, 3, threads);
    sqlite3_bind_int(st, 4, batch);
    double rate = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        rate = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return rate;
}

/* FLOPs a second (forward, per image) of the finished runs at threads: the
 * mean over their epochs; 0 when none, with *n_runs. */
static double db_flops_rate(sqlite3 *db, int threads, int *n_runs)
{
    *n_runs = 0;
    sqlite3_stmt *st;
    const char *sql =
        "SELECT avg(e.images_per_sec * r.flops_per_image), count(DISTINCT r.id) FROM runs r "
        "JOIN epochs e ON e.run_id = r.id WHERE r.status = 'finished' AND r.threads = ?1 "
        "AND r.flops_per_image > 0 AND e.images_per_sec > 0";
    if (!db || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_int(st, 1, threads);
    double rate = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        rate = sqlite3_column_double(st, 0);
        *n_runs = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return rate;
}

/* One thread's sgemm rate in FLOP/s (no thread team: gemm without a
 * workspace is one thread's product). */
static double thread_sgemm_rate(void)
{
    enum { N = 256 };
    float *a = alloc_floats((size_t)N * N), *b = alloc_floats((size_t)N * N);
    float *c = alloc_floats((size_t)N * N);
    for (size_t i = 0; i < (size_t)N * N; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    double best = 0;
    for (int rep = 0; rep < 4; rep++) { /* rep 0 warms up */
        double t0 = now_seconds();
        gemm(0, 0, N, N, N, a, N, b, N, 0.0f, c, N, NULL);
        double t = now_seconds() - t0;
        if (rep > 0 && t > 0 && (best == 0 || t < best)) best = t;
    }
    free(a), free(b), free(c);
    return best > 0 ? 2.0 * N * N * N / best : 0;
}

void study_estimate(const StudyOptions *o, Grid *grids, long total, int threads, int parallel,
                    const char *db_path)
{
    int version;
    ResultsRefusal why;
    sqlite3 *db = results_open_readonly(db_path, &version, &why);
    long runs = 0, epochs = 0, measured = 0, from_db = 0, from_machine = 0;
    int db_runs = 0;
    double seconds = 0, sgemm = 0;
    for (int i = 0; i < o->n_files; i++) {
        Grid *g = &grids[i];
        for (long p = 0; p < g->sweep.n_points; p++) {
            Experiment e;
            if (grid_load(g, p, &e) != 0) continue;
            Model m;
            if (study_count_classes(g->data, &e) != 0 || model_build(&e, 0, &m) != 0) {
                experiment_free(&e);
                continue;
            }
            long n = split_images(o->data, &e, 0);
            int spe = n > 0 ? train_steps_per_epoch(&e, (int)n) : 0;
            if (spe > 0) {
                RunLength rl = train_run_length(&e, spe);
                double end = rl.end;
                if (o->until_epoch > 0 && o->until_epoch < end) end = o->until_epoch;
                double flops = model_flops_per_image(&m), rate;
                double images = (double)n; /* an epoch's, in training images */
                if ((rate = measured_rate(db, m.n_params, flops, e.batch_size, threads)) > 0) {
                    measured++; /* testing is in the measured rate */
                } else {
                    images += split_images(o->data, &e, 1) / 3.0;
                    if ((rate = db_flops_rate(db, threads, &db_runs) / flops) > 0) {
                        from_db++;
                    } else {
                        if (sgemm == 0) sgemm = thread_sgemm_rate();
                        rate = sgemm * threads * 0.5 / (3 * flops);
                        from_machine++;
                    }
                }
                runs++;
                epochs += end == (long)end ? (long)end : (long)end + 1;
                if (rate > 0) seconds += end * images / rate;
            }
            model_free(&m);
            experiment_free(&e);
        }
    }
    if (db) sqlite3_close(db);
    if (runs == 0) return;
    char t[32], how[384] = "", part[160];
    size_t len = 0;
    const int kinds = (measured > 0) + (from_db > 0) + (from_machine > 0);
    for (int kind = 0; kind < 3; kind++) {
        long count = kind == 0 ? measured : kind == 1 ? from_db : from_machine;
        if (!count) continue;
        if (kind == 0)
            snprintf(part, sizeof part, "measured on earlier runs of the same network, batch "
                     "and threads, testing included");
        else if (kind == 1)
            snprintf(part, sizeof part, "projected from the FLOPs a second of %d earlier run%s "
                     "at %d thread%s", db_runs, db_runs == 1 ? "" : "s", threads,
                     threads == 1 ? "" : "s");
        else
            snprintf(part, sizeof part, "projected from this machine's sgemm: %.1f GFLOP/s a "
                     "thread x %d, at half that, for 3 x the forward FLOPs", sgemm * 1e-9,
                     threads);
        char count_s[32] = "";
        if (kinds > 1) snprintf(count_s, sizeof count_s, "%ld run%s ", count, count == 1 ? "" : "s");
        int w = snprintf(how + len, sizeof how - len, "%s%s%s", len ? "; " : "", count_s, part);
        if (w > 0 && (size_t)w < sizeof how - len) len += (size_t)w;
    }
    char at_once[48] = "";
    if (parallel > 1) snprintf(at_once, sizeof at_once, ", %d at a time", parallel);
    fprintf(stderr, "study: %ld run%s, %ld epoch%s, about %s%s (%s)\n", total,
            total == 1 ? "" : "s", epochs, epochs == 1 ? "" : "s",
            jobs_fmt_time(t, sizeof t, seconds / (parallel > 0 ? parallel : 1)), at_once, how);
}
