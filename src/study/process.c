/* process.c — a process that trains: its engine threads (the cores shared
 * among the ranks of a machine), its stop signals (SIGINT, SIGTERM: finish
 * the step, save, mark the run interrupted) and, under mpirun, which rank
 * speaks (study.h). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/decimal.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/study.h"

int study_setup_threads(int requested)
{
    int n = study_engine_threads(requested);
    if (dist_world_rank() == 0) blas_warn(); /* a generic OpenBLAS core on a newer CPU */
    return n;
}

int study_engine_threads(int requested)
{
    int n = requested > 0 ? requested : (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* ranks started together on one machine share its cores (Open MPI says
     * how many there are here) */
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long ranks_here = 0;
    if (requested <= 0 && dist_world_size() > 1 && local && decimal_long(local, &ranks_here) == 0 &&
        ranks_here > 1)
        n /= (int)(ranks_here < n ? ranks_here : n);
    if (n < 1) n = 1;
    engine_set_threads(n); /* the engine's threads (OpenMP team or OpenBLAS's) */
    return n;
}

volatile sig_atomic_t study_stop_requested;
static volatile sig_atomic_t stop_quiet;

static void on_stop_signal(int sig)
{
    study_stop_requested = 1;
    dist_signal(); /* under mpirun: the training thread may be waiting for a dead rank */
    if (sig == SIGINT && !stop_quiet) { /* once: SA_RESETHAND; write(2) is async-signal-safe */
        static const char msg[] = "\ncnnrun: stopping at the end of this step (Ctrl-C again "
                                  "quits at once)\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)n;
    }
}

void study_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL); /* a batch system's stop: always the graceful one */
    sa.sa_flags = SA_RESETHAND;    /* a second Ctrl-C kills the process */
    sigaction(SIGINT, &sa, NULL);
}

void study_stop_signals_quiet(void) { stop_quiet = 1; }

static int saved_stderr = -1; /* a muted rank's own stderr (study_mute_rank) */

void study_speak(void)
{
    if (saved_stderr < 0) return;
    fflush(stderr);
    if (dup2(saved_stderr, STDERR_FILENO) < 0) { /* nothing to report it to */
    }
    close(saved_stderr);
    saved_stderr = -1;
}

void study_mute_rank(void)
{
    if (dist_rank() == 0 || getenv("CNNRUN_DIST_VERBOSE")) return;
    saved_stderr = dup(STDERR_FILENO); /* study_speak: a --ranks-per-run group's rank 0 */
    if (saved_stderr >= 0) fcntl(saved_stderr, F_SETFD, FD_CLOEXEC);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) {
        /* nothing to report it to */
    }
}
