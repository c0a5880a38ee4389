/* test_results.c — the SQLite results database: run lifecycle and final/best
 * accuracy, persistence, refusing foreign files and newer schemas, duplicate
 * epochs, unusable directories, two processes writing concurrently, a
 * write that waits out another process's lock, a damaged file refused, and the
 * groups of runs that differ only in their seed (run_params, run_groups). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/results/errmsg.h"
#include "check_run.h"
#include "cnnrun/results.h"
#include "cnnrun/results_read.h"
#include "cnnrun/util.h"

/* ---- helpers ----------------------------------------------------------- */

static char tmpdir[256];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    chmod(p, 0700);
    return remove(p);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cnnrun_test_results_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* stderr capture: everything written between begin and end is returned. */
static int saved_stderr = -1;
static char capture_file[512];

static void capture_begin(void)
{
    fflush(stderr);
    snprintf(capture_file, sizeof capture_file, "%s/stderr.txt", tmpdir);
    int fd = open(capture_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    char *text = read_text_file(capture_file, NULL);
    ck_assert_ptr_nonnull(text);
    fputs(text, stderr);  /* keep it visible in the test log */
    return text;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static sqlite3_int64 q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double q_double(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Returns a malloc'd copy of a text result ("<NULL>" for NULL). */
static char *q_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *v = xstrdup(t ? (const char *)t : "<NULL>");
    sqlite3_finalize(st);
    return v;
}

static RunInfo sample_info(const char *name)
{
    RunInfo info = {
        .experiment = name,
        .config_path = "experiments/x.ini",
        .config = "[train]\nepochs = 3\n",
        .seed = 42,
        .threads = 2,
        .params = 12345,
        .flops_per_image = 2.5e6,
        .epochs_planned = 3,
        .version = CN_VERSION,
        .data_dir = NULL,
    };
    return info;
}

static EpochRecord sample_epoch(int epoch, double test_acc)
{
    EpochRecord e = {
        .epoch = epoch,
        .lr = 0.1 / epoch,
        .train_loss = 2.0 / epoch,
        .train_acc = 0.3 + 0.1 * epoch,
        .test_loss = 1.9 / epoch,
        .test_acc = test_acc,
        .seconds = 1.5,
        .images_per_sec = 1000.0,
    };
    return e;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_lifecycle_and_persistence)
{
    const char *path = tmp_path("results/results.db");  /* results/ does not exist yet */
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    struct stat st;
    ck_assert_int_eq(stat(tmp_path("results"), &st), 0);
    ck_assert(S_ISDIR(st.st_mode));

    RunInfo info = sample_info("resnet_small");
    int64_t id = results_begin_run(r, &info);
    ck_assert_int_gt(id, 0);

    sqlite3 *db = raw_open(path);
    char *s = q_text(db, "SELECT status FROM runs WHERE id = 1");
    ck_assert_str_eq(s, "running");
    free(s);
    s = q_text(db, "SELECT started_at FROM runs WHERE id = 1");
    ck_assert_int_eq(strlen(s), 20);  /* 2024-01-02T03:04:05Z */
    ck_assert(s[4] == '-' && s[10] == 'T' && s[19] == 'Z');
    free(s);
    s = q_text(db, "SELECT data_dir FROM runs WHERE id = 1");
    ck_assert_str_eq(s, "<NULL>");
    free(s);
    s = q_text(db, "SELECT finished_at FROM runs WHERE id = 1");
    ck_assert_str_eq(s, "<NULL>");
    free(s);
    ck_assert_int_eq(q_int(db, "SELECT seed FROM runs WHERE id = 1"), 42);
    ck_assert_int_eq(q_int(db, "SELECT params FROM runs WHERE id = 1"), 12345);
    ck_assert_double_eq_tol(q_double(db, "SELECT flops_per_image FROM runs WHERE id = 1"), 2.5e6, 1e-6);

    double accs[3] = {0.5, 0.7, 0.6};
    for (int i = 0; i < 3; i++) {
        EpochRecord e = sample_epoch(i + 1, accs[i]);
        if (i < 2) e.steps = 48, e.images = 48 * 1024; /* the last: steps not known (0) */
        ck_assert_int_eq(results_add_epoch(r, id, &e), 0);
    }
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs WHERE run_id = 1"), 3);
    /* what each epoch ran (schema version 4), NULL when not known */
    ck_assert_int_eq(q_int(db, "SELECT sum(steps) FROM epochs WHERE run_id = 1"), 96);
    ck_assert_int_eq(q_int(db, "SELECT images FROM epochs WHERE epoch = 2"), 48 * 1024);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs WHERE steps IS NULL AND images IS "
                               "NULL AND epoch = 3"), 1);
    ck_assert_int_eq(results_finish_run(r, id, "finished", 12.5, NULL), 0);

    s = q_text(db, "SELECT status FROM runs WHERE id = 1");
    ck_assert_str_eq(s, "finished");
    free(s);
    s = q_text(db, "SELECT finished_at FROM runs WHERE id = 1");
    ck_assert_int_eq(strlen(s), 20);
    free(s);
    ck_assert_double_eq_tol(q_double(db, "SELECT final_test_acc FROM runs WHERE id = 1"), 0.6, 1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT best_test_acc FROM runs WHERE id = 1"), 0.7, 1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT train_seconds FROM runs WHERE id = 1"), 12.5, 1e-12);
    ck_assert_int_eq(q_int(db, "PRAGMA user_version"), 14); /* RESULTS_SCHEMA_VERSION */
    s = q_text(db, "PRAGMA journal_mode");
    ck_assert_str_eq(s, "wal");
    free(s);
    sqlite3_close(db);
    results_close(r);

    /* re-open: data persists, a second run gets a new id */
    r = results_open(path);
    ck_assert_ptr_nonnull(r);
    info = sample_info("other");
    info.config_path = NULL;
    int64_t id2 = results_begin_run(r, &info);
    ck_assert_int_gt(id2, 0);
    ck_assert_int_ne(id2, id);
    EpochRecord e = sample_epoch(1, 0.25);
    ck_assert_int_eq(results_add_epoch(r, id2, &e), 0);
    ck_assert_int_eq(results_add_lr_find(r, id2, 0, 1e-5, 2.3), 0);
    ck_assert_int_eq(results_add_lr_find(r, id2, 1, 1e-4, 2.2), 0);
    ck_assert_int_eq(results_finish_run(r, id2, "failed", 3.0, "disk full"), 0);
    results_close(r);

    db = raw_open(path);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM runs"), 2);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs WHERE run_id = 1"), 3);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs"), 4);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM lr_find"), 2);
    s = q_text(db, "SELECT error FROM runs WHERE status = 'failed'");
    ck_assert_str_eq(s, "disk full");
    free(s);
    s = q_text(db, "SELECT config_path FROM runs WHERE experiment = 'other'");
    ck_assert_str_eq(s, "<NULL>");
    free(s);
    s = q_text(db, "SELECT experiment FROM runs WHERE id = 1");
    ck_assert_str_eq(s, "resnet_small");
    free(s);
    s = q_text(db, "PRAGMA integrity_check");
    ck_assert_str_eq(s, "ok");
    free(s);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_duplicate_epoch_and_bad_calls)
{
    const char *path = tmp_path("r.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = sample_info("dup");
    int64_t id = results_begin_run(r, &info);
    ck_assert_int_gt(id, 0);
    EpochRecord e = sample_epoch(1, 0.4);
    ck_assert_int_eq(results_add_epoch(r, id, &e), 0);

    capture_begin();
    int dup_rc = results_add_epoch(r, id, &e);
    int norun_rc = results_add_epoch(r, id + 100, &e);
    int status_rc = results_finish_run(r, id, "running", 1.0, NULL);
    int nofinish_rc = results_finish_run(r, id + 100, "finished", 1.0, NULL);
    RunInfo noname = sample_info(NULL);
    int64_t noname_id = results_begin_run(r, &noname);
    char *err = capture_end();
    ck_assert_int_eq(dup_rc, -1);
    ck_assert_int_eq(norun_rc, -1);
    ck_assert_int_eq(status_rc, -1);
    ck_assert_int_eq(nofinish_rc, -1);
    ck_assert_int_eq(noname_id, -1);
    ck_assert_ptr_nonnull(strstr(err, "already has a row for epoch 1"));
    ck_assert_ptr_nonnull(strstr(err, "no run with id 101"));
    ck_assert_ptr_nonnull(strstr(err, "invalid final status 'running'"));
    ck_assert_ptr_nonnull(strstr(err, "cannot finish run 101"));
    ck_assert_ptr_nonnull(strstr(err, path));
    free(err);

    /* the connection is still usable after the failures */
    e = sample_epoch(2, 0.9);
    ck_assert_int_eq(results_add_epoch(r, id, &e), 0);
    ck_assert_int_eq(results_finish_run(r, id, "interrupted", 2.0, NULL), 0);
    results_close(r);

    sqlite3 *db = raw_open(path);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs"), 2);
    ck_assert_double_eq_tol(q_double(db, "SELECT final_test_acc FROM runs"), 0.9, 1e-12);
    char *s = q_text(db, "PRAGMA integrity_check");
    ck_assert_str_eq(s, "ok");
    free(s);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_not_sqlite_refused)
{
    const char *path = tmp_path("notes.db");
    const char *text = "these are my notes, definitely not an SQLite database file.\n"
                       "it is long enough to have a header-sized first block of text....\n";
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);

    capture_begin();
    ResultsDb *r = results_open(path);
    char *err = capture_end();
    ck_assert_ptr_null(r);
    char want[600];
    snprintf(want, sizeof want, "%s: not an SQLite database (file is not a database)", path);
    ck_assert_ptr_nonnull(strstr(err, want));
    free(err);

    char *after = read_text_file(path, NULL);  /* untouched */
    ck_assert_str_eq(after, text);
    free(after);
}
END_TEST

/* In a child: SIGXFSZ ignored (as main does) and files limited to `limit`
 * bytes (ulimit -f), then fn(path); its stderr into dir/err.txt. Returns
 * that text (to free). */
static char *with_file_limit(rlim_t limit, void (*fn)(const char *), const char *path)
{
    char errpath[600];
    snprintf(errpath, sizeof errpath, "%s/err.txt", tmpdir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(errpath, "w", stderr)) _exit(127);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {.rlim_cur = limit, .rlim_max = limit};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(127);
        fn(path);
        fflush(stderr);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    char *text = read_text_file(errpath, NULL);
    ck_assert_ptr_nonnull(text);
    fputs(text, stderr);
    return text;
}

/* Epochs written until the WAL outgrows the file size limit. */
static void epochs_until_refused(const char *path)
{
    ResultsDb *r = results_open(path);
    if (!r) _exit(3);
    RunInfo info = sample_info("big");
    int64_t id = results_begin_run(r, &info);
    int failed = 0;
    for (int k = 1; k <= 5000 && !failed; k++) {
        EpochRecord e = sample_epoch(k, 0.5);
        failed = results_add_epoch(r, id, &e) != 0;
    }
    results_close(r);
    if (!failed) _exit(4);
}

static void open_to_read(const char *path)
{
    int version;
    ResultsRefusal why;
    sqlite3 *db = results_open_readonly(path, &version, &why);
    if (db) _exit(5);
}

/* Issue 34: what SQLite calls "disk I/O error" (a write past ulimit -f: the
 * WAL growing, the -shm file a reader makes) or "database or disk is full"
 * is named for what it is, with the database's path; a reader no longer
 * calls the file "not an SQLite database (disk I/O error)". */
START_TEST(test_io_errors_named)
{
    ck_assert_str_eq(results_io_cause(SQLITE_FULL, ENOSPC),
                     "the disk is full (no space left on the device)");
    ck_assert_str_eq(results_io_cause(SQLITE_FULL, 0),
                     "the disk is full (no space left on the device)");
    ck_assert_str_eq(results_io_cause(SQLITE_IOERR_SHMSIZE, ENOSPC),
                     "the disk is full (no space left on the device)");
    ck_assert_str_eq(results_io_cause(SQLITE_IOERR_WRITE, EFBIG),
                     "the file size limit is reached (ulimit -f: File too large)");
    ck_assert_str_eq(results_io_cause(SQLITE_IOERR_WRITE, EDQUOT), "the disk quota is used up");
    ck_assert_ptr_null(results_io_cause(SQLITE_IOERR_READ, EIO));
    ck_assert_ptr_null(results_io_cause(SQLITE_CONSTRAINT, ENOSPC)); /* a stale errno */

    const char *path = tmp_path("limited.db");
    char *err = with_file_limit(256 * 1024, epochs_until_refused, path);
    char want[700];
    snprintf(want, sizeof want, "%s: cannot record epoch", path);
    ck_assert_msg(strstr(err, want) &&
                      strstr(err, "(the file size limit is reached (ulimit -f: File too large))"),
                  "%s", err);
    free(err);

    path = tmp_path("read.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = sample_info("x");
    ck_assert_int_gt(results_begin_run(r, &info), 0);
    results_close(r); /* the -wal and -shm go with the last connection */
    err = with_file_limit(1024, open_to_read, path);
    snprintf(want, sizeof want, "%s: cannot read the results database (the file size limit is "
                                "reached", path);
    ck_assert_msg(strstr(err, want) && !strstr(err, "not an SQLite database"), "%s", err);
    free(err);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
    const char *path = tmp_path("future.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    results_close(r);
    sqlite3 *db = raw_open(path);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    capture_begin();
    r = results_open(path);
    char *err = capture_end();
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "schema version 99 is newer"));
    free(err);

    /* another application's SQLite file (tables, no version) is refused too */
    const char *other = tmp_path("other.db");
    db = raw_open(other);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(db);
    capture_begin();
    r = results_open(other);
    err = capture_end();
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, "not a cnnrun results database"));
    free(err);
    db = raw_open(other);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM sqlite_master"), 1);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_unusable_locations)
{
    /* parent "results" is a regular file */
    FILE *f = fopen(tmp_path("results"), "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    capture_begin();
    ResultsDb *a = results_open(tmp_path("results/results.db"));
    ResultsDb *b = results_open(tmp_path("a/b/results.db"));  /* two missing levels */
    ResultsDb *c = results_open(tmpdir);                     /* a directory */
    ResultsDb *d = results_open("");
    char *err = capture_end();
    ck_assert_ptr_null(a);
    ck_assert_ptr_null(b);
    ck_assert_ptr_null(c);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err, "it is not a directory"));
    ck_assert_ptr_nonnull(strstr(err, "cannot create directory"));
    ck_assert_ptr_nonnull(strstr(err, "is a directory, not a database file"));
    free(err);
}
END_TEST

/* A directory the user may not write into: root ignores mode bits, so as
 * root the opening runs in a child that drops to nobody (65534). The
 * optional case "unprivileged" (meson test test_results_unprivileged). */
START_TEST(test_unwritable_directory)
{
    ck_assert_int_eq(chmod(tmpdir, 0755), 0);
    ck_assert_int_eq(mkdir(tmp_path("ro"), 0555), 0);
    capture_begin();
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        ResultsDb *e = results_open(tmp_path("ro/results.db"));
        fflush(stderr);
        _exit(e == NULL ? 0 : 4);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    char *err = capture_end();
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "child status %d (3: could not drop privileges, 4: opened)", st);
    ck_assert_ptr_nonnull(strstr(err, "is not writable"));
    ck_assert_int_eq(access(tmp_path("ro/results.db"), F_OK), -1); /* nothing written */
    free(err);
}
END_TEST

enum { N_CHILDREN = 2, N_EPOCHS = 50 };

static int child_writes(const char *path, int child)
{
    ResultsDb *r = results_open(path);
    if (!r) return 10;
    char name[32];
    snprintf(name, sizeof name, "child%d", child);
    RunInfo info = sample_info(name);
    int64_t id = results_begin_run(r, &info);
    if (id <= 0) return 11;
    for (int ep = 1; ep <= N_EPOCHS; ep++) {
        EpochRecord e = sample_epoch(ep, ep / 100.0);
        if (results_add_epoch(r, id, &e) != 0) return 12;
        if (results_add_lr_find(r, id, ep, 1e-3 * ep, 1.0) != 0) return 13;
    }
    if (results_finish_run(r, id, "finished", 1.0, NULL) != 0) return 14;
    results_close(r);
    return 0;
}

START_TEST(test_concurrent_processes)
{
    /* both children open a fresh file at once: schema creation races too */
    const char *path = tmp_path("results/shared.db");
    pid_t pids[N_CHILDREN];
    for (int c = 0; c < N_CHILDREN; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) _exit(child_writes(path, c));
    }
    for (int c = 0; c < N_CHILDREN; c++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    sqlite3 *db = raw_open(path);
    ck_assert_int_eq(q_int(db, "SELECT count(DISTINCT id) FROM runs"), N_CHILDREN);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs"), N_CHILDREN * N_EPOCHS);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM lr_find"), N_CHILDREN * N_EPOCHS);
    ck_assert_int_eq(q_int(db, "SELECT min(n) FROM (SELECT count(*) AS n FROM epochs GROUP BY run_id)"),
                     N_EPOCHS);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), N_CHILDREN);
    ck_assert_double_eq_tol(q_double(db, "SELECT min(final_test_acc) FROM runs"), 0.5, 1e-12);
    char *s = q_text(db, "PRAGMA integrity_check");
    ck_assert_str_eq(s, "ok");
    free(s);
    sqlite3_close(db);
}
END_TEST

/* ==== issue 23: a busy database, a damaged one ============================ */

/* Another process holds the write lock (BEGIN IMMEDIATE, as a long merge
 * does) for ~1.2 s, 6 busy timeouts (CNNRUN_DB_BUSY_MS=200): the epoch is
 * still recorded, after a line saying that the run waits; nothing lost. */
START_TEST(test_epoch_waits_for_lock)
{
    setenv("CNNRUN_DB_BUSY_MS", "200", 1);
    const char *path = tmp_path("busy.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = sample_info("busy");
    int64_t id = results_begin_run(r, &info);
    ck_assert_int_gt(id, 0);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t holder = fork();
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        sqlite3 *db = NULL;
        int ok = sqlite3_open(path, &db) == SQLITE_OK &&
                 sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        ok = write(ready[1], ok ? "y" : "n", 1) == 1 && ok;
        usleep(1200 * 1000);
        ok = ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(db);
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    capture_begin();
    double t0 = now_seconds();
    EpochRecord e = sample_epoch(1, 0.5);
    int rc = results_add_epoch(r, id, &e);
    double waited = now_seconds() - t0;
    int fin = results_finish_run(r, id, "finished", 1.0, NULL);
    char *err = capture_end();
    int status = 0;
    waitpid(holder, &status, 0);
    unsetenv("CNNRUN_DB_BUSY_MS");
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(fin, 0);
    ck_assert_msg(waited > 0.5, "the lock was held while the epoch was written (%g s)", waited);
    ck_assert_msg(strstr(err, "still waiting: nothing this run finished is dropped") != NULL,
                  "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "got the write lock after"));
    free(err);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    results_close(r);
    sqlite3 *db = raw_open(path);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs WHERE run_id = 1"), 1);
    ck_assert_int_eq(q_int(db, "SELECT status = 'finished' FROM runs WHERE id = 1"), 1);
    sqlite3_close(db);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

/* Bytes written over a page of the `epochs` table: opening the file to
 * write is refused, naming the damage, and the file is left as it was. */
START_TEST(test_damaged_database_refused)
{
    const char *path = tmp_path("damaged.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = sample_info("hurt");
    for (int k = 0; k < 3; k++) {
        int64_t id = results_begin_run(r, &info);
        for (int i = 1; i <= 3; i++) {
            EpochRecord e = sample_epoch(i, 0.1 * i);
            ck_assert_int_eq(results_add_epoch(r, id, &e), 0);
        }
    }
    results_close(r); /* the WAL goes into the file */
    sqlite3 *db = raw_open(path);
    long page = (long)q_int(db, "SELECT rootpage FROM sqlite_master WHERE name = 'epochs'");
    long size = (long)q_int(db, "PRAGMA page_size");
    sqlite3_close(db);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    char junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(0x5a ^ (i * 37));
    ck_assert_int_eq(pwrite(fd, junk, sizeof junk, (page - 1) * size + 8), (ssize_t)sizeof junk);
    close(fd);
    size_t before_len = 0, after_len = 0;
    char *before = read_text_file(path, &before_len);
    ck_assert_ptr_nonnull(before);

    capture_begin();
    r = results_open(path);
    char *err = capture_end();
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, "the results database is damaged") != NULL, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "HINT: restore it from a backup"));
    free(err);
    char *after = read_text_file(path, &after_len);
    ck_assert_ptr_nonnull(after);
    ck_assert(before_len == after_len && memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
}
END_TEST

/* ==== issue 7: migration of a version-1 file, views, the layers table ===== */
#include "../src/results/schema.sql.h"
#include "cnnrun/config.h"

START_TEST(test_migrate_version_1)
{
    /* a version-1 file as cnnrun 0.1.0 wrote it, with one run and two epochs */
    const char *path = tmp_path("v1.db");
    sqlite3 *db = raw_open(path);
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = 1; PRAGMA application_id = %d;",
             RESULTS_APPLICATION_ID);
    ck_assert_int_eq(sqlite3_exec(db, RESULTS_SCHEMA_SQL, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, pragmas, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
        "INSERT INTO runs (id, experiment, status, started_at, epochs_planned, params, "
        "flops_per_image) VALUES (1, 'old', 'running', '2025-01-01T00:00:00Z', 3, 100, 2e6);"
        "INSERT INTO epochs (run_id, epoch, test_acc, seconds, images_per_sec) VALUES "
        "(1, 1, 0.25, 10, 100), (1, 2, 0.5, 10, 300);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    results_close(r);
    db = raw_open(path);
    ck_assert_int_eq(q_int(db, "PRAGMA user_version"), RESULTS_SCHEMA_VERSION);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs"), 2);  /* data kept */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs WHERE steps IS NULL"), 2);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM layers"), 0);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM pragma_table_info('layers') "
                               "WHERE name = 'conv_algo'"), 1); /* version 5 */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM run_params"), 0); /* version 6 */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM epochs WHERE val_acc IS NULL"), 2); /* 7 */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM runs WHERE stop_reason IS NULL AND "
                               "seconds_to_target IS NULL AND epochs_to_target IS NULL"), 1);
    ck_assert_int_eq(q_int(db, "SELECT ranks FROM runs WHERE id = 1"), 1); /* version 8 */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM runs WHERE blas_core IS NULL"), 1); /* 9 */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM run_groups"), 0); /* not finished */
    /* version 14: studies; an older run belongs to none */
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM studies"), 0);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM runs WHERE study_id IS NULL"), 1);
    /* the summary is computed from the epochs while a run has no final values */
    ck_assert_int_eq(q_int(db, "SELECT epochs_done FROM run_summary WHERE run_id = 1"), 2);
    ck_assert_int_eq(q_int(db, "SELECT best_epoch FROM run_summary WHERE run_id = 1"), 2);
    ck_assert_double_eq_tol(q_double(db, "SELECT best_test_acc FROM run_summary"), 0.5, 1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT train_seconds FROM run_summary"), 20, 1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT images_per_sec FROM run_summary"), 200, 1e-9);
    ck_assert_double_eq_tol(q_double(db, "SELECT mflops FROM run_summary"), 2, 1e-12);
    sqlite3_close(db);

    /* opening again changes nothing */
    r = results_open(path);
    ck_assert_ptr_nonnull(r);
    results_close(r);
}
END_TEST

/* [data] validation: the best epoch is the one with the best val_acc (not
 * the best test_acc), in run_summary and in runs.best_test_acc; a run's time
 * to accuracy and why it stopped are recorded; val_* NULL when not validated. */
START_TEST(test_best_on_validation)
{
    const char *path = tmp_path("val.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = sample_info("val");
    int64_t id = results_begin_run(r, &info), plain = results_begin_run(r, &info);
    double test[3] = {0.5, 0.6, 0.7}, val[3] = {0.55, 0.65, 0.6};
    for (int i = 0; i < 3; i++) {
        EpochRecord e = sample_epoch(i + 1, test[i]);
        e.val_loss = 1.5 - val[i];
        e.val_acc = val[i];
        e.validated = 1;
        ck_assert_int_eq(results_add_epoch(r, id, &e), 0);
        e.validated = 0; /* val_* are not stored */
        ck_assert_int_eq(results_add_epoch(r, plain, &e), 0);
    }
    ck_assert_int_eq(results_reached_target(r, id, 2, 21.5), 0);
    ck_assert_int_eq(results_finish_run(r, id, "finished", 30, NULL), 0);
    ck_assert_int_eq(results_stop_reason(r, id, "patience"), 0);
    ck_assert_int_eq(results_finish_run(r, plain, "finished", 30, NULL), 0);
    results_close(r);

    sqlite3 *db = raw_open(path);
    char q[256];
    snprintf(q, sizeof q, "SELECT best_epoch FROM run_summary WHERE run_id = %lld", (long long)id);
    ck_assert_int_eq(q_int(db, q), 2);
    snprintf(q, sizeof q, "SELECT best_test_acc FROM run_summary WHERE run_id = %lld",
             (long long)id);
    ck_assert_double_eq_tol(q_double(db, q), 0.6, 1e-12); /* epoch 2's, not max 0.7 */
    snprintf(q, sizeof q, "SELECT best_test_acc FROM runs WHERE id = %lld", (long long)id);
    ck_assert_double_eq_tol(q_double(db, q), 0.6, 1e-12);
    snprintf(q, sizeof q, "SELECT best_val_acc FROM run_summary WHERE run_id = %lld",
             (long long)id);
    ck_assert_double_eq_tol(q_double(db, q), 0.65, 1e-12);
    snprintf(q, sizeof q, "SELECT epochs_to_target || ' ' || seconds_to_target || ' ' || "
                          "stop_reason FROM run_summary WHERE run_id = %lld", (long long)id);
    char *s = q_text(db, q);
    ck_assert_str_eq(s, "2 21.5 patience");
    free(s);
    /* without validation: the best test accuracy, nothing stopped */
    snprintf(q, sizeof q, "SELECT best_epoch FROM run_summary WHERE run_id = %lld",
             (long long)plain);
    ck_assert_int_eq(q_int(db, q), 3);
    snprintf(q, sizeof q, "SELECT count(*) FROM epochs WHERE run_id = %lld AND val_acc IS NULL "
                          "AND val_loss IS NULL", (long long)plain);
    ck_assert_int_eq(q_int(db, q), 3);
    snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE id = %lld AND stop_reason IS NULL AND "
                          "seconds_to_target IS NULL", (long long)plain);
    ck_assert_int_eq(q_int(db, q), 1);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_layers_and_latest_runs)
{
    const char *ini = tmp_path("net.ini");
    FILE *f = fopen(ini, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[experiment]\nname = net\n[layer.c1]\ntype = conv\nfilters = 4\nbatchnorm = true\n"
          "activation = relu\n[layer.pool]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
          "outputs = 10\n", f);
    fclose(f);
    Experiment e;
    Model m;
    ck_assert_int_eq(experiment_load(ini, NULL, 0, &e), 0);
    ck_assert_int_eq(model_build(&e, 0, &m), 0);

    const char *path = tmp_path("layers.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = {.experiment = "net", .epochs_planned = 1};
    int64_t id1 = results_begin_run(r, &info);
    int64_t id2 = results_begin_run(r, &info);
    ck_assert_int_eq(results_add_layers(r, id2, &m), 0);
    capture_begin();
    int rc = results_add_layers(r, id2, &m);
    char *err = capture_end();
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(strstr(err, "already has its layers recorded"));
    free(err);
    results_close(r);

    sqlite3 *db = raw_open(path);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM layers"), 3);
    ck_assert_int_eq(q_int(db, "SELECT sum(params) FROM layers"), (sqlite3_int64)m.n_params);
    ck_assert_double_eq_tol(q_double(db, "SELECT sum(mflops) FROM layers"),
                            model_flops_per_image(&m) / 1e6, 1e-9);
    char *s = q_text(db, "SELECT type || ' ' || input_shape || ' ' || output_shape FROM layers "
                         "WHERE idx = 0");
    ck_assert_str_eq(s, "conv 3x3/1+bn 3x32x32 4x32x32");
    free(s);
    s = q_text(db, "SELECT conv_algo FROM layers WHERE run_id = 2 AND idx = 0");
    ck_assert_str_eq(s, "winograd4"); /* the rule's */
    free(s);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM layers WHERE conv_algo IS NULL"), 2);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM latest_runs"), 1);
    ck_assert_int_eq(q_int(db, "SELECT run_id FROM latest_runs"), id2);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM run_summary"), 2);
    ck_assert_int_ne(id1, id2);
    sqlite3_close(db);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* layers.conv_algo holds each section's convolution algorithms as the model
 * table prints them: one name, or part=name for a section whose convs differ. */
START_TEST(test_layers_conv_algo)
{
    const char *ini = tmp_path("res.ini");
    FILE *f = fopen(ini, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[experiment]\nname = res\n[layer.c1]\ntype = conv\nfilters = 16\nstride = 2\n"
          "[layer.c2]\ntype = conv\nfilters = 16\n[layer.r]\ntype = residual\nfilters = 32\n"
          "[layer.pool]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n", f);
    fclose(f);
    Experiment e;
    Model m;
    ck_assert_int_eq(experiment_load(ini, NULL, 0, &e), 0);
    e.engine = (EngineSettings){.conv = CONV_CHOICE_FORCED, .conv_forced = CONV_WINOGRAD};
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    const char *path = tmp_path("algo.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    RunInfo info = {.experiment = "res", .epochs_planned = 1};
    int64_t id = results_begin_run(r, &info);
    ck_assert_int_eq(results_add_layers(r, id, &m), 0);
    results_close(r);
    sqlite3 *db = raw_open(path);
    static const char *const want[] = {"im2col", "winograd",
                                       "conv1=winograd,conv2=winograd,shortcut=im2col"};
    for (int i = 0; i < 3; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT conv_algo FROM layers WHERE idx = %d", i);
        char *s = q_text(db, sql);
        ck_assert_str_eq(s, want[i]);
        free(s);
    }
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM layers WHERE conv_algo IS NULL"), 2);
    sqlite3_close(db);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* ==== issue 15: run_params and the view run_groups ======================== */

#define OV(s, k, v) {.section = s, .key = k, .value = v}

/* A finished (or other status) run of `exp` whose resolved configuration is
 * cfg (the seed line filled in from seed, the first line naming `path`), two
 * epochs: test_acc best then final, 10 s each; its values from ov. */
static int64_t group_run(ResultsDb *r, const char *exp, const char *path, uint64_t seed,
                         const char *cfg, double best, double final, const char *status,
                         const ConfigOverride *ov, int n)
{
    char config[1024];
    snprintf(config, sizeof config, "; resolved configuration of %s (every key, defaults "
                                     "included)\n\n[experiment]\nname = %s\nseed = %llu\n%s",
             path, exp, (unsigned long long)seed, cfg);
    RunInfo info = {.experiment = exp, .config = config, .seed = seed, .epochs_planned = 2};
    int64_t id = results_begin_run(r, &info);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(results_add_params(r, id, ov, n), 0);
    EpochRecord e1 = {.epoch = 1, .test_acc = best, .seconds = 10};
    EpochRecord e2 = {.epoch = 2, .test_acc = final, .seconds = 10};
    ck_assert_int_eq(results_add_epoch(r, id, &e1), 0);
    ck_assert_int_eq(results_add_epoch(r, id, &e2), 0);
    ck_assert_int_eq(results_finish_run(r, id, status, 20 + seed, NULL), 0);
    return id;
}

static double sample_std(const double *x, int n)
{
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += x[i] / n;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

START_TEST(test_run_groups_view)
{
    const char *path = tmp_path("groups.db");
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    const char *cfg = "epochs = 2\n\n[schedule]\nlr_max = 0.1\n";
    ConfigOverride s1[] = {OV("schedule", "lr_max", "0.1"), OV("experiment", "seed", "1")};
    ConfigOverride s2[] = {OV("schedule", "lr_max", "0.1"), OV("experiment", "seed", "2")};
    ConfigOverride s3[] = {OV("schedule", "lr_max", "0.1"), OV("experiment", "seed", "3"),
                           OV("experiment", "seed", "3")}; /* twice: one row */
    /* three seeds of one point, the second read by another path: one group */
    group_run(r, "g", "./g.ini", 1, cfg, 0.60, 0.50, "finished", s1, 2);
    group_run(r, "g", "/abs/g.ini", 2, cfg, 0.61, 0.54, "finished", s2, 2);
    group_run(r, "g", "g.ini", 3, cfg, 0.70, 0.61, "finished", s3, 3);
    /* another value: a group of one (std NULL) */
    ConfigOverride s4[] = {OV("schedule", "lr_max", "0.2"), OV("experiment", "seed", "1")};
    group_run(r, "g", "g.ini", 1, "epochs = 2\n\n[schedule]\nlr_max = 0.2\n", 0.45, 0.40,
              "finished", s4, 2);
    /* unfinished: in no group */
    ConfigOverride s5[] = {OV("schedule", "lr_max", "0.1"), OV("experiment", "seed", "4")};
    group_run(r, "g", "g.ini", 4, cfg, 0.9, 0.9, "interrupted", s5, 2);
    /* the same values, the file edited since (another epochs line): a group of its own */
    ConfigOverride s6[] = {OV("schedule", "lr_max", "0.1"), OV("experiment", "seed", "5")};
    group_run(r, "g", "g.ini", 5, "epochs = 3\n\n[schedule]\nlr_max = 0.1\n", 0.3, 0.3,
              "finished", s6, 2);
    /* no values at all; a list value (quoted in params) */
    group_run(r, "h", "h.ini", 1, cfg, 0.2, 0.1, "finished", NULL, 0);
    ConfigOverride s8[] = {OV("schedule", "lr_max", "0.1"), OV("data", "augment", "crop:4, flip")};
    group_run(r, "g", "g.ini", 1, "epochs = 2\naugment = crop:4, flip\n", 0.2, 0.2, "finished",
              s8, 2);
    results_close(r);

    sqlite3 *db = raw_open(path);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM run_params"), 2 * 7);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM run_groups"), 5);
    /* the rows come in the order of their first run */
    char *t = q_text(db, "SELECT group_concat(run_ids, ' | ') FROM run_groups");
    ck_assert_str_eq(t, "1,2,3 | 4 | 6 | 7 | 8");
    free(t);
    t = q_text(db, "SELECT params FROM run_groups WHERE run_ids = '1,2,3'");
    ck_assert_str_eq(t, "schedule.lr_max=0.1");
    free(t);
    t = q_text(db, "SELECT params FROM run_groups WHERE run_ids = '8'");
    ck_assert_str_eq(t, "data.augment=\"crop:4, flip\", schedule.lr_max=0.1");
    free(t);
    t = q_text(db, "SELECT '[' || params || ']' FROM run_groups WHERE experiment = 'h'");
    ck_assert_str_eq(t, "[]");
    free(t);
    const double fin[] = {0.50, 0.54, 0.61}, best[] = {0.60, 0.61, 0.70};
    ck_assert_int_eq(q_int(db, "SELECT n FROM run_groups WHERE run_ids = '1,2,3'"), 3);
    ck_assert_double_eq_tol(q_double(db, "SELECT mean_final_test_acc FROM run_groups "
                                         "WHERE run_ids = '1,2,3'"), (0.50 + 0.54 + 0.61) / 3,
                            1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT std_final_test_acc FROM run_groups "
                                         "WHERE run_ids = '1,2,3'"), sample_std(fin, 3), 1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT mean_best_test_acc FROM run_groups "
                                         "WHERE run_ids = '1,2,3'"), (0.60 + 0.61 + 0.70) / 3,
                            1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT std_best_test_acc FROM run_groups "
                                         "WHERE run_ids = '1,2,3'"), sample_std(best, 3), 1e-12);
    ck_assert_double_eq_tol(q_double(db, "SELECT mean_train_seconds FROM run_groups "
                                         "WHERE run_ids = '1,2,3'"), 22, 1e-12);
    ck_assert_int_eq(q_int(db, "SELECT count(*) FROM run_groups WHERE run_ids = '4' AND n = 1 "
                               "AND std_final_test_acc IS NULL AND std_best_test_acc IS NULL"), 1);
    sqlite3_close(db);
}
END_TEST

static void unprivileged_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unwritable_directory);
}

int main(int argc, char **argv)
{
    static const CheckOptional unprivileged = {"unprivileged", check_missing_unprivileged,
                                               unprivileged_tests};
    int optional = check_run_optional(argc, argv, &unprivileged);
    if (optional >= 0) return optional;
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("db");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lifecycle_and_persistence);
    tcase_add_test(tc, test_duplicate_epoch_and_bad_calls);
    tcase_add_test(tc, test_not_sqlite_refused);
    tcase_add_test(tc, test_io_errors_named);
    tcase_add_test(tc, test_newer_schema_refused);
    tcase_add_test(tc, test_unusable_locations);
    tcase_add_test(tc, test_concurrent_processes);
    tcase_add_test(tc, test_epoch_waits_for_lock);
    tcase_add_test(tc, test_damaged_database_refused);
    tcase_add_test(tc, test_migrate_version_1);
    tcase_add_test(tc, test_layers_conv_algo);
    tcase_add_test(tc, test_layers_and_latest_runs);
    tcase_add_test(tc, test_best_on_validation);
    tcase_add_test(tc, test_run_groups_view);
    suite_add_tcase(s, tc);
    return check_run(s);
}
