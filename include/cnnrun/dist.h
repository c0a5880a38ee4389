/* dist.h — data-parallel training over MPI (src/train/dist.c), the one
 * place that calls MPI. Started by mpirun (or srun), every rank runs the same
 * command on the same files; built without MPI, or started without a
 * launcher, cnnrun is one rank and every call below is a no-op that returns
 * what one process would. docs/distributed.md has how to run it. */
#ifndef CNNRUN_DIST_H
#define CNNRUN_DIST_H

#include <stdio.h>

#include <stddef.h>

#include "cnnrun/kernels.h" /* BnSync */

/* MPI_Init_thread when a launcher started this process (its environment
 * says so: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK); else nothing. Call
 * first in main(). */
void dist_init(int *argc, char ***argv);
/* MPI_Finalize, when dist_init initialised MPI. */
void dist_finalize(void);
/* This process's rank and the number of ranks (0 and 1 without MPI). */
int dist_rank(void);
int dist_size(void);
/* ---- groups of ranks (`cnnrun run --ranks-per-run K`) ----
 * dist_split(k): every rank calls it; the ranks become world_size / k
 * groups of k consecutive ranks (group = world rank / k), each a run of k
 * ranks of its own: from then on dist_rank, dist_size, every collective
 * below and the fault watch are the group's. Nothing when k is the number
 * of ranks (or does not divide it), without MPI, or once split already. */
void dist_split(int k);
int dist_group(void);  /* this rank's group: 0 before a split */
int dist_groups(void); /* 1 before a split */
/* The rank among all ranks, and their number (dist_rank/dist_size before a split). */
int dist_world_rank(void);
int dist_world_size(void);
/* World rank r's host (gethostname's, or CNNRUN_DIST_HOST's), gathered at
 * dist_init; NULL with one rank. */
const char *dist_host(int world_rank);
/* Over every rank of every group (a barrier of the whole job). */
int dist_world_max_int(int v);
long dist_world_sum_long(long v);
/* A line of text (with its newline) for world rank 0 to print, from
 * another rank; "" says it is the sender's last. World rank 0 prints those
 * sent so far to f (wait: until `open` senders have sent their last) and
 * returns the senders still open. So what the ranks say comes out of one
 * process, in order: mpirun forwards each rank's own output on its own
 * time, after what world rank 0 prints later. */
void dist_line_to_world0(const char *s);
int dist_relay_lines(FILE *f, int open, int wait);

/* "Open MPI v4.1.4" (the library's version) or NULL when built without MPI. */
const char *dist_library(void);

/* Collectives over all ranks, in place; every rank calls them in the same
 * order. Sums are the same on every rank and, for a given number of ranks,
 * from run to run. */
void dist_sum_doubles(double *x, int n);
/* The gradient sum overlapped with the backward pass, in buckets (as
 * PyTorch DDP's): dist_grads_begin(x, n) before the backward,
 * dist_grads_ready(from) whenever x[from .. n) is final (from only
 * decreasing; model_backward_notify calls it), dist_grads_end() after it.
 * Each bucket of at least DIST_BUCKET_FLOATS is reduce-scattered as soon as
 * it is final, and all-gathered as soon as that has ended (seen at a later
 * ready(), which also progresses them); end() starts the last bucket and
 * waits for all. The
 * buckets' bounds depend only on the network, so the sums, the same on every
 * rank, are reproducible for a given number of ranks (for 2 ranks each element is one
 * addition, so any bucketing gives the same bits). */
#define DIST_BUCKET_FLOATS ((size_t)1 << 20) /* 4 MiB, DDP's default is 25 MB */
void dist_grads_begin(float *x, size_t n);
void dist_grads_ready(size_t from);
void dist_grads_end(void);
/* The largest of the ranks' v. */
int dist_max_int(int v);
/* Rank 0's n bytes to every rank. */
void dist_bcast(void *p, size_t n);

/* ---- faults (dist_watch.c) ----
 * When a rank dies, mpirun sends the others SIGTERM, then SIGKILL a second
 * later, while they wait for it inside a collective. The stop-signal
 * handler calls dist_signal() (async-signal-safe); a thread started by
 * dist_init then looks at the ranks on its host and calls the run's
 * DistStopFn at once, on that thread, in the rank that speaks: with a dead
 * rank, the lowest living rank on the dead rank's host; else rank 0. A
 * host's name is gethostname's, or CNNRUN_DIST_HOST's (tests). After
 * DIST_STOP_RANK_DIED the process ends (exit 1); after DIST_STOP_SIGNAL
 * training goes on to its own, graceful stop if it has the time. */
typedef enum {
    DIST_STOP_SIGNAL,    /* a stop signal, no dead rank seen (one on another host may be) */
    DIST_STOP_RANK_DIED, /* message names the rank(s) */
} DistStop;
typedef void (*DistStopFn)(void *ctx, DistStop why, const char *message);
/* Who to tell (NULL: nobody); waits for a call in progress to end. */
void dist_watch(DistStopFn fn, void *ctx);
/* From a signal handler: wakes the watch (nothing with one rank). */
void dist_signal(void);

/* A rank's process, as the watch sees it. */
typedef struct {
    int pid;
    char host[64];
} DistPeer;
/* dist.c's side: start the watch over size ranks' peers (kept), end it. */
void dist_watch_begin(int rank, int size, const DistPeer *peers);
void dist_watch_end(void);

/* Batch norm's statistics over the ranks (the engine's BnSync): the ranks'
 * moments gathered and combined in rank order (Chan et al.'s parallel
 * variance), its sums gathered and added in rank order, so that every rank
 * gets the same numbers. NULL with one rank. Free with dist_bn_sync_free. */
BnSync *dist_bn_sync_new(void);
void dist_bn_sync_free(BnSync *s);

#endif
