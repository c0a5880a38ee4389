/* dist_watch.c — the fault watch of a run over MPI ranks (dist.h). With
 * Open MPI's defaults, when a rank dies mpirun sends SIGTERM to every other
 * rank and SIGKILL a second later (odls_base_sigkill_timeout), while they
 * wait for the dead rank inside a collective: the training thread never
 * gets back to look at its stop flag. So the signal handler only wakes this
 * file's thread (dist_signal, one write to a pipe), which looks at the ranks
 * it can see — those on its own host, by process id — and tells the run's
 * owner (DistStopFn) at once: a rank died (named), or the job was asked to
 * stop. The thread never calls MPI; dist.c hands it the ranks' process ids
 * and hosts, gathered once at start. A host lost whole leaves nobody to
 * name its ranks: rank 0 then says the job was stopped. */
#include "cnnrun/dist.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/util.h"

static struct {
    int on;             /* the thread runs */
    int rank, size;
    const DistPeer *peers;
    int pipe_r, pipe_w;
    pthread_t thread;
    pthread_mutex_t lock; /* fn and ctx; held while fn runs */
    DistStopFn fn;
    void *ctx;
} w = {.pipe_r = -1, .pipe_w = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* Whether process pid (on this host) is gone: no such process, or a zombie
 * that its parent (the launcher) has not reaped yet. */
static int process_gone(int pid)
{
    if (kill(pid, 0) != 0) return errno == ESRCH;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static int same_host(int a, int b) { return strcmp(w.peers[a].host, w.peers[b].host) == 0; }

/* What this rank sees after a stop signal: the dead ranks among those on its
 * host (gone[]), and whether it is the rank that speaks: with a dead rank,
 * the lowest living rank of the host (another host's ranks cannot see it);
 * without, rank 0 (when a rank elsewhere died, its host's speaker may
 * still name it: that "failed" overwrites rank 0's "interrupted"). */
static int look(int *gone, int *speaker)
{
    int dead = 0, first = -1;
    for (int r = 0; r < w.size; r++) {
        gone[r] = r != w.rank && same_host(r, w.rank) && process_gone(w.peers[r].pid);
        dead += gone[r];
        if (first < 0 && same_host(r, w.rank) && !gone[r]) first = r;
    }
    *speaker = dead ? first == w.rank : w.rank == 0;
    return dead;
}

/* "rank 1 (pid 4242 on node7) of 4 died", into msg. */
static void name_dead(const int *gone, char *msg, size_t cap)
{
    size_t len = 0;
    int named = 0;
    for (int r = 0; r < w.size && len < cap; r++) {
        if (!gone[r]) continue;
        int k = snprintf(msg + len, cap - len, "%s%d (pid %d on %s)", named ? ", " : "rank ", r,
                         w.peers[r].pid, w.peers[r].host);
        if (k > 0) len += (size_t)k;
        named++;
    }
    if (len < cap) snprintf(msg + len, cap - len, " of %d died", w.size);
}

static void *watch(void *arg)
{
    (void)arg;
    int *gone = xcalloc((size_t)w.size, sizeof *gone);
    char byte, msg[1024];
    for (;;) {
        ssize_t got = read(w.pipe_r, &byte, 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break; /* dist_watch_end closed the pipe */
        int speaker, dead = look(gone, &speaker);
        pthread_mutex_lock(&w.lock);
        if (speaker && w.fn) {
            int elsewhere = 0;
            for (int r = 0; r < w.size; r++) elsewhere |= !same_host(r, w.rank);
            if (dead) name_dead(gone, msg, sizeof msg);
            else
                snprintf(msg, sizeof msg, "interrupted by a signal%s",
                         elsewhere ? " (or a rank on another host died: mpirun stops the others "
                                     "so, and its message names the rank)" : "");
            w.fn(w.ctx, dead ? DIST_STOP_RANK_DIED : DIST_STOP_SIGNAL, msg);
        }
        pthread_mutex_unlock(&w.lock);
        /* the training thread waits for the dead rank in a collective and
         * never returns: this process ends here (the speaker at once; the
         * others after the speaker has looked, so that it names only the
         * rank that died, unless mpirun has killed them by then) */
        if (dead && !speaker) sleep(2);
        if (dead) _exit(CN_EXIT_FAIL);
    }
    free(gone);
    return NULL;
}

void dist_watch_begin(int rank, int size, const DistPeer *peers)
{
    int fd[2];
    if (size < 2 || w.on || pipe(fd) != 0) return;
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFL, O_NONBLOCK); /* a signal storm never blocks the handler */
    w.rank = rank, w.size = size, w.peers = peers;
    w.pipe_r = fd[0], w.pipe_w = fd[1];
    /* the thread takes no signals: they stay with the training thread's handler */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w.on = pthread_create(&w.thread, NULL, watch, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w.on) {
        close(fd[0]), close(fd[1]);
        w.pipe_r = w.pipe_w = -1;
    }
}

void dist_watch_end(void)
{
    if (!w.on) return;
    int fd = w.pipe_w;
    w.pipe_w = -1;
    close(fd); /* the thread reads end of file and returns */
    pthread_join(w.thread, NULL);
    close(w.pipe_r);
    w.pipe_r = -1;
    w.on = 0;
}

void dist_watch(DistStopFn fn, void *ctx)
{
    pthread_mutex_lock(&w.lock); /* waits for a report in progress */
    w.fn = fn, w.ctx = ctx;
    pthread_mutex_unlock(&w.lock);
}

void dist_signal(void)
{
    int fd = w.pipe_w;
    if (fd >= 0) {
        int saved = errno; /* a signal handler keeps errno */
        char b = 1;
        if (write(fd, &b, 1) < 0) { /* full: the thread is awake already */
        }
        errno = saved;
    }
}
