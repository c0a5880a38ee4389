/* jobs.c — `cnnrun run --jobs N`: a study's runs (files, sweep points)
 * trained N at a time on one machine, each by a worker process, in grid
 * order, into the one results database (docs/training.md, "Parallel runs").
 *
 * - Workers are forked, not re-executed: a worker is the parent's copy after
 *   every file and grid point was validated and the database created, and it
 *   trains one grid point with run_point, as the one-at-a-time loop would
 *   (same seed, its own --threads: the same curve). The parent trains
 *   nothing: it has loaded no data, started no OpenMP team and holds no
 *   SQLite connection when it forks (a connection must not cross a fork).
 * - One database, concurrent writers: each worker opens its own connection
 *   to the one file (WAL, busy timeout: results.h). Run ids stay those in
 *   the checkpoints' names, which merging per-worker databases would
 *   renumber.
 * - Rows in grid order: the next worker starts once the previous one has
 *   opened its runs row (or ended), so run ids follow the grid, and
 *   `--resume` of a sweep (resume.c: each point's run is looked for after the
 *   previous point's) finds them as after runs made one at a time; the
 *   chain's run id is passed on from worker to worker.
 * - A worker reports on a status pipe, one line per event (open, epoch,
 *   final, end, after); its stderr goes into a second pipe, and the parent
 *   prints it line by line prefixed by the run's name. Its progress display
 *   and model table are off (RecordOptions.quiet): the parent prints one
 *   line per ended run and the study's ETA.
 * - A worker killed by a signal: its run, if it has a row still `running`,
 *   is marked `failed` ("worker pid N died (signal S)"); the others go on;
 *   the exit status is 1. SIGINT/SIGTERM to the parent are passed to every
 *   worker as SIGTERM (each finishes its step, saves, marks its run
 *   `interrupted`) and no further run starts; a worker whose parent dies
 *   gets SIGTERM too (Linux: PR_SET_PDEATHSIG). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "jobs.h"
#include "run_point.h"

typedef struct {
    pid_t pid;            /* 0: a free slot */
    int file;             /* grids[file], point */
    long point;
    char name[160];       /* in messages: the experiment, "[k/N]" of a sweep point */
    char values[512];     /* " with key=value, ...": a sweep point's values ("" for none) */
    int status_fd, err_fd; /* the pipes' read ends; -1 after their end */
    char sline[256], eline[1024];
    size_t slen, elen;
    int opened;           /* its runs row is open */
    int64_t run_id;       /* 0: no row (yet); set once the row exists, before it is open */
    int epochs, epoch;    /* planned; the last one recorded */
    double acc, seconds;  /* the last evaluated (or final) test accuracy; the run's time */
    double mark;          /* now_seconds() at its last open or epoch report */
    char status[16];      /* how the run ended (RunObserver.ended); "" before */
} Worker;

typedef struct {
    StudyOptions *o;
    Grid *grids;
    long total;
    Worker *w;
    int n;                /* slots: min(--jobs, runs) */
    int next_file;        /* the next grid point to start */
    long next_point;
    int64_t after;        /* --resume of a sweep: the run of next_file's previous point */
    int gate;             /* the slot whose runs row the next start waits for; -1: none */
    int last;             /* the slot started last: its `after` is the chain's; -1: none */
    long started, ended, failed, died; /* died: workers killed by a signal */
    int worst, broken;    /* broken: a worker could not be started; no more start */
    double rate_sum;      /* seconds per epoch, summed over every epoch report: the ETA */
    long rate_n;
    long planned_sum, planned_n; /* epochs the runs opened train here (to this share's end) */
} Jobs;

/* ---- the worker ------------------------------------------------------------ */

typedef struct {
    int fd;
    const int64_t *after;
} Reporter;

/* One line on the status pipe: one write, shorter than PIPE_BUF. */
static void say(int fd, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len <= 0) return;
    if (len >= (int)sizeof buf) len = (int)sizeof buf - 1;
    while (write(fd, buf, (size_t)len) < 0 && errno == EINTR) {
    }
}

static void on_row(void *ctx, int64_t run_id, double run_seconds)
{
    say(((const Reporter *)ctx)->fd, "row %lld %.17g\n", (long long)run_id, run_seconds);
}

static void on_opened(void *ctx, int64_t run_id, int first_epoch, int epochs, double run_seconds)
{
    const Reporter *r = ctx;
    say(r->fd, "open %lld %lld %d %d %.17g\n", (long long)run_id, (long long)*r->after,
        first_epoch, epochs, run_seconds);
}

static void on_epoch(void *ctx, int epoch, double test_acc, double run_seconds)
{
    say(((const Reporter *)ctx)->fd, "epoch %d %.17g %.17g\n", epoch, test_acc, run_seconds);
}

static void on_final(void *ctx, double test_acc)
{
    say(((const Reporter *)ctx)->fd, "final %.17g\n", test_acc);
}

static void on_ended(void *ctx, const char *how, int epoch, double train_seconds)
{
    say(((const Reporter *)ctx)->fd, "end %s %d %.17g\n", how, epoch, train_seconds);
}

/* In the forked child: trains grids[file]'s point into the database and
 * exits with run_point's status. */
static void worker_main(Jobs *j, int file, long point, int64_t after, int sfd, int efd,
                        pid_t parent)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (getppid() != parent) study_stop_requested = 1; /* it died before the line above */
    signal(SIGPIPE, SIG_IGN); /* a parent gone: the writes fail, the run still stops cleanly */
    study_stop_signals_quiet();
    for (int k = 0; k < j->n; k++) { /* the other workers' pipes */
        if (j->w[k].status_fd >= 0) close(j->w[k].status_fd);
        if (j->w[k].err_fd >= 0) close(j->w[k].err_fd);
    }
    if (dup2(efd, STDERR_FILENO) < 0) _exit(CN_EXIT_FAIL);
    close(efd);
    int threads = j->o->threads;
    if (threads <= 0) { /* the cores shared out */
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN) / j->n;
        if (threads < 1) threads = 1;
    }
    threads = study_engine_threads(threads); /* the parent warned about OpenBLAS's core */
    int rc = CN_EXIT_FAIL;
    ResultsDb *db = results_open(j->o->db);
    if (db) {
        Reporter rep = {.fd = sfd, .after = &after};
        RunObserver obs = {.ctx = &rep, .row = on_row, .opened = on_opened, .epoch = on_epoch,
                           .final = on_final, .ended = on_ended};
        rc = run_point(&j->grids[file], point, j->o, db, threads, &after, &obs);
        results_close(db);
    }
    say(sfd, "after %lld\n", (long long)after);
    fflush(NULL);
    _exit(rc);
}

/* ---- the parent ------------------------------------------------------------ */

/* "1h02m", "3m05s", "12.3s", "42ms" */
const char *jobs_fmt_time(char *b, size_t n, double s)
{
    if (!(s >= 0)) s = 0;
    if (s >= 3600) snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60) snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else if (s >= 0.95) snprintf(b, n, "%.1fs", s);
    else snprintf(b, n, "%.0fms", s * 1000);
    return b;
}

const char *jobs_end_words(char *b, size_t n, const char *how, int epoch, int epochs)
{
    if (!strcmp(how, "paused"))
        snprintf(b, n, "paused after epoch %d of %d (--until-epoch)", epoch, epochs);
    else if (how[0] && strcmp(how, "finished") != 0) /* pruned, target, patience */
        snprintf(b, n, "stopped after epoch %d of %d (%s)", epoch, epochs, how);
    else
        snprintf(b, n, "finished");
    return b;
}

static int live(const Worker *w)
{
    return w->pid > 0;
}

/* The epoch a run of `epochs` epochs ends this share of the study at: its
 * last, or --until-epoch's N when that comes first. */
static int share_end(const Jobs *j, int epochs)
{
    int until = j->o->until_epoch;
    return until > 0 && until < epochs ? until : epochs;
}

/* The study's time left (to the end of this share under --until-epoch):
 * the epochs left (of the runs going, less the time since their last
 * epoch; then of the runs not started, each as long as the mean run so
 * far), a going run's at its own time per epoch, the others' at the mean
 * of every epoch report, shared by the slots. Negative: not known yet. */
static double study_eta(const Jobs *j)
{
    if (j->rate_n == 0) return -1;
    double rate = j->rate_sum / j->rate_n, now = now_seconds();
    double mean_epochs = j->planned_n ? (double)j->planned_sum / j->planned_n : 0;
    double left = (double)(j->total - j->started) * mean_epochs * rate;
    long going = 0;
    for (int k = 0; k < j->n; k++) {
        const Worker *w = &j->w[k];
        if (!live(w)) continue;
        going++;
        /* a run's own time per epoch once it has one: a study's networks differ
         * (the seed's: 450 to 3,700 s an epoch), and the mean of every
         * epoch report leans to the fast ones, which report most */
        double own = w->opened && w->epoch > 0 && w->seconds > 0 ? w->seconds / w->epoch : rate;
        double t = w->opened ? (share_end(j, w->epochs) - w->epoch) * own - (now - w->mark)
                             : mean_epochs * rate;
        left += t > 0 ? t : 0;
    }
    long runs = going + (j->total - j->started);
    long slots = runs < j->n ? runs : j->n;
    return slots > 0 ? left / slots : 0;
}

/* Whether w's run is the one the next grid point's --resume looks after:
 * the one started last, of the file the next point is of. */
static int chain_link(const Jobs *j, const Worker *w)
{
    return j->last >= 0 && &j->w[j->last] == w && w->file == j->next_file;
}

static void status_line(Jobs *j, Worker *w, const char *line)
{
    long long a, b;
    int x, y;
    double u, v;
    char st[16];
    if (sscanf(line, "open %lld %lld %d %d %lf", &a, &b, &x, &y, &v) == 5) {
        w->run_id = a;
        w->opened = 1;
        w->epoch = x - 1;
        w->epochs = y;
        w->seconds = v; /* a resumed run's epochs so far: its own rate from the start */
        if (x > 1 && v > 0) {
            j->rate_sum += v / (x - 1);
            j->rate_n++;
        }
        w->mark = now_seconds();
        int todo = share_end(j, y) - (x - 1); /* a resumed run starts at epoch x */
        j->planned_sum += todo > 0 ? todo : 0;
        j->planned_n++;
        if (chain_link(j, w)) j->after = b;
        if (j->gate >= 0 && &j->w[j->gate] == w) j->gate = -1; /* the next may start */
    } else if (sscanf(line, "row %lld %lf", &a, &v) == 2) {
        w->run_id = a; /* a worker that dies from here on leaves this row to mark */
        w->seconds = v;
    } else if (sscanf(line, "epoch %d %lf %lf", &x, &u, &v) == 3) {
        if (!isnan(u)) w->acc = u;
        w->epoch = x;
        w->seconds = v;
        w->mark = now_seconds();
        if (x > 0 && v > 0) {
            j->rate_sum += v / x;
            j->rate_n++;
        }
    } else if (sscanf(line, "final %lf", &u) == 1) {
        w->acc = u;
    } else if (sscanf(line, "end %15s %d %lf", st, &x, &v) == 3) {
        str_copy(w->status, sizeof w->status, st);
        w->epoch = x;
        w->seconds = v;
    } else if (sscanf(line, "after %lld", &a) == 1) {
        if (chain_link(j, w)) j->after = a;
    }
}

/* A whole line of one of w's pipes to its use. */
static void give_out(Jobs *j, Worker *w, int err)
{
    char *line = err ? w->eline : w->sline;
    size_t *len = err ? &w->elen : &w->slen;
    line[*len] = '\0';
    if (err) fprintf(stderr, "%s: %s\n", w->name, line);
    else status_line(j, w, line);
    *len = 0;
}

/* Reads what is there on one of w's pipes, each line to its use (too long
 * a one in parts). At the pipe's end (or an error) closes it. */
static void read_pipe(Jobs *j, Worker *w, int err)
{
    int *fd = err ? &w->err_fd : &w->status_fd;
    char *line = err ? w->eline : w->sline;
    size_t *len = err ? &w->elen : &w->slen;
    size_t cap = err ? sizeof w->eline : sizeof w->sline;
    char buf[4096];
    ssize_t got = read(*fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) return;
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] == '\n') {
            give_out(j, w, err);
            continue;
        }
        if (*len + 1 >= cap) give_out(j, w, err);
        line[(*len)++] = buf[i];
    }
    if (got <= 0) {
        if (*len) give_out(j, w, err);
        close(*fd);
        *fd = -1;
    }
}

static void print_end(Jobs *j, const Worker *w, int rc, const char *why)
{
    char t[32], eta[64] = "";
    double left = study_eta(j);
    if (j->ended < j->total && left >= 0.0005 && !study_stop_requested) /* no "ETA 0ms" */
        snprintf(eta, sizeof eta, "; study ETA %s", jobs_fmt_time(t, sizeof t, left));
    char head[256];
    snprintf(head, sizeof head, "cnnrun: [%ld/%ld] %s", j->ended, j->total, w->name);
    if (!w->opened && w->run_id <= 0) {
        if (rc == CN_EXIT_OK) return; /* already run: its own line says so */
        fprintf(stderr, "%s: failed before its run started (%s)%s\n", head, why, eta);
    } else if (rc == CN_EXIT_OK) {
        char acc[32] = "-", how[96]; /* "-": never evaluated ([experiment] eval_every) */
        if (!isnan(w->acc)) snprintf(acc, sizeof acc, "%.2f%%", 100 * w->acc);
        fprintf(stderr, "%s: run %lld %s: test acc %s in %s%s%s\n", head, (long long)w->run_id,
                jobs_end_words(how, sizeof how, w->status, w->epoch, w->epochs), acc,
                jobs_fmt_time(t, sizeof t, w->seconds), w->values, eta);
    } else {
        fprintf(stderr, "%s: run %lld %s (%s)%s%s\n", head, (long long)w->run_id,
                w->status[0] ? w->status : "failed", why, w->values, eta);
    }
}

/* w has exited with wait status ws: its pipes read to their end, its run
 * marked when it died, its line printed; the slot freed. */
static void end_worker(Jobs *j, Worker *w, int ws)
{
    while (w->status_fd >= 0) read_pipe(j, w, 0);
    while (w->err_fd >= 0) read_pipe(j, w, 1);
    char why[128];
    int rc;
    if (WIFSIGNALED(ws)) {
        rc = CN_EXIT_FAIL;
        j->died++;
        snprintf(why, sizeof why, "worker pid %d died (signal %d)", (int)w->pid, WTERMSIG(ws));
        if (w->run_id > 0 && !w->status[0]) { /* a row left `running`: a resume continues it */
            results_mark_stopped(j->o->db, w->run_id, "failed", w->seconds, why, 0, 30000);
            str_copy(w->status, sizeof w->status, "failed");
        }
    } else {
        rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : CN_EXIT_FAIL;
        snprintf(why, sizeof why, "exit %d", rc);
    }
    if (j->gate >= 0 && &j->w[j->gate] == w) j->gate = -1;
    j->ended++;
    if (rc != CN_EXIT_OK) {
        j->failed++;
        if (rc > j->worst) j->worst = rc;
    }
    w->pid = 0;
    print_end(j, w, rc, why);
}

static int pipe_cloexec(int fds[2])
{
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

void jobs_run_name(Grid *g, long point, char *buf, size_t size)
{
    Experiment e;
    const char *name = g->path;
    if (grid_load(g, point, &e) == 0) name = e.name;
    if (g->sweep.n_keys > 0)
        snprintf(buf, size, "%s[%ld/%ld]", name, point + 1, g->sweep.n_points);
    else
        snprintf(buf, size, "%s", name);
    if (name != g->path) experiment_free(&e);
}

void jobs_point_values(Grid *g, long point, char *buf, size_t size)
{
    buf[0] = '\0';
    if (g->sweep.n_keys == 0 || size < 8) return;
    memcpy(buf, " with ", 7);
    sweep_point_text(&g->sweep, point, buf + 6, size - 6);
}

/* Starts the next grid point in slot k. 0, or -1 (message printed). */
static int start_next(Jobs *j, int k)
{
    Worker *w = &j->w[k];
    Grid *g = &j->grids[j->next_file];
    *w = (Worker){.file = j->next_file, .point = j->next_point, .status_fd = -1, .err_fd = -1,
                  .acc = NAN};
    jobs_run_name(g, w->point, w->name, sizeof w->name);
    jobs_point_values(g, w->point, w->values, sizeof w->values);
    int sp[2], ep[2];
    if (pipe_cloexec(sp) != 0) {
        fprintf(stderr, "cnnrun: cannot start a worker: %s\n", strerror(errno));
        return -1;
    }
    if (pipe_cloexec(ep) != 0) {
        fprintf(stderr, "cnnrun: cannot start a worker: %s\n", strerror(errno));
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        close(sp[0]);
        close(ep[0]);
        worker_main(j, w->file, w->point, j->after, sp[1], ep[1], parent);
    }
    close(sp[1]);
    close(ep[1]);
    if (pid < 0) {
        fprintf(stderr, "cnnrun: cannot start a worker: %s\n", strerror(errno));
        close(sp[0]);
        close(ep[0]);
        return -1;
    }
    w->pid = pid;
    w->status_fd = sp[0];
    w->err_fd = ep[0];
    j->started++;
    j->gate = j->last = k;
    if (++j->next_point >= g->sweep.n_points) {
        j->next_file++;
        j->next_point = 0;
        j->after = 0;
    }
    return 0;
}

/* Starts what may start: a free slot, no worker still opening its row, no stop. */
static void start_workers(Jobs *j)
{
    while (!study_stop_requested && !j->broken && j->next_file < j->o->n_files && j->gate < 0) {
        int k = 0;
        while (k < j->n && live(&j->w[k])) k++;
        if (k == j->n) return;
        if (start_next(j, k) != 0) {
            j->broken = 1;
            if (j->worst < CN_EXIT_FAIL) j->worst = CN_EXIT_FAIL;
        }
    }
}

/* Waits (at most a moment) for output of the workers, reads it, and ends
 * those that exited. */
static void watch_workers(Jobs *j)
{
    struct pollfd pfd[2 * 1024];
    Worker *owner[2 * 1024];
    int is_err[2 * 1024], n = 0, quiet = 0; /* quiet: a worker with both pipes ended */
    for (int k = 0; k < j->n && n < 2 * 1024 - 1; k++) {
        Worker *w = &j->w[k];
        if (!live(w)) continue;
        if (w->status_fd < 0 && w->err_fd < 0) quiet = 1;
        for (int e = 0; e < 2; e++) {
            int fd = e ? w->err_fd : w->status_fd;
            if (fd < 0) continue;
            pfd[n] = (struct pollfd){.fd = fd, .events = POLLIN};
            owner[n] = w;
            is_err[n++] = e;
        }
    }
    int r = poll(pfd, (nfds_t)n, quiet ? 20 : 500);
    for (int i = 0; r > 0 && i < n; i++)
        if (pfd[i].revents && (is_err[i] ? owner[i]->err_fd : owner[i]->status_fd) >= 0)
            read_pipe(j, owner[i], is_err[i]);
    for (int k = 0; k < j->n; k++) {
        Worker *w = &j->w[k];
        int ws;
        if (live(w) && waitpid(w->pid, &ws, WNOHANG) == w->pid) end_worker(j, w, ws);
    }
}

int jobs_run(StudyOptions *o, Grid *grids, long total)
{
    Jobs j = {.o = o, .grids = grids, .total = total, .gate = -1, .last = -1,
              .n = o->jobs < total ? o->jobs : (int)total};
    j.w = xcalloc((size_t)j.n, sizeof *j.w);
    for (int k = 0; k < j.n; k++) j.w[k].status_fd = j.w[k].err_fd = -1;
    int threads = o->threads;
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN) / j.n;
    if (threads < 1) threads = 1;
    fprintf(stderr, "cnnrun: %ld runs, %d at a time (--jobs %d), %d thread%s each; results in "
                    "%s\n", total, j.n, o->jobs, threads, threads == 1 ? "" : "s", o->db);
    blas_warn(); /* here once, not once a worker (they call study_engine_threads) */
    study_catch_stop_signals();
    int passed_on = 0;
    for (;;) {
        if (study_stop_requested && !passed_on) {
            for (int k = 0; k < j.n; k++)
                if (live(&j.w[k])) kill(j.w[k].pid, SIGTERM);
            passed_on = 1;
        }
        start_workers(&j);
        int going = 0;
        for (int k = 0; k < j.n; k++) going += live(&j.w[k]);
        if (!going) break;
        watch_workers(&j);
    }
    /* the grid points never started (stopped, or a worker could not start) */
    int sweeps = 0;
    for (int i = 0; i < o->n_files; i++) sweeps += grids[i].sweep.n_keys > 0;
    for (; j.next_file < o->n_files; j.next_file++, j.next_point = 0) {
        const Grid *g = &grids[j.next_file];
        for (; j.next_point < g->sweep.n_points; j.next_point++) {
            if (g->sweep.n_keys)
                fprintf(stderr, "cnnrun: %s: grid point %ld of %ld not run (%s)\n", g->path,
                        j.next_point + 1, g->sweep.n_points,
                        study_stop_requested ? "interrupted" : "no worker");
            else
                fprintf(stderr, "cnnrun: %s: not run (%s)\n", g->path,
                        study_stop_requested ? "interrupted" : "no worker");
            j.failed++;
            if (j.worst < CN_EXIT_FAIL) j.worst = CN_EXIT_FAIL;
        }
    }
    if (study_stop_requested || j.died)
        fprintf(stderr, "cnnrun: `%s` continues the runs not finished\n",
                o->resume_command ? o->resume_command : "cnnrun run ... --resume");
    fprintf(stderr, "cnnrun: %ld of %ld runs succeeded (results in %s)\n", total - j.failed,
            total, o->db);
    free(j.w);
    return j.worst;
}
