/* dist.c — data-parallel training over MPI (dist.h): starting and ending
 * MPI, the ranks, the collectives the session and the CLI use, and batch
 * norm's statistics over the ranks (the engine's BnSync). The only file that
 * includes mpi.h; built without MPI (meson -Dmpi=disabled, or no MPI found)
 * every function is the one-process no-op. Every reduction has a fixed
 * order that depends only on the number of ranks, and gives every rank the
 * same numbers: gradients are summed in buckets started while the
 * backward pass still runs, each bucket block by block (reduce-scatter, each
 * block reduced once, by its owner, then all-gathered as soon as that has
 * ended, both overlapping the rest of the backward pass), batch-norm
 * statistics gathered and combined in rank order. After dist_split (`run
 * --ranks-per-run K`) the ranks are groups of K, each training runs of its
 * own: every collective above, the ranks and the fault watch are then the
 * group's (the current communicator), and a group of K ranks is a K-rank
 * run; the dist_world_* calls still reach every rank. */
#include "cnnrun/dist.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/util.h"

#ifdef CNNRUN_MPI
#include <mpi.h>

/* The process's MPI state: MPI itself is per process. */
static struct {
    int on;        /* dist_init initialised MPI */
    int rank, size; /* in the current communicator: the group's */
    MPI_Comm comm;  /* the current communicator: MPI_COMM_WORLD, or the group's */
    int world_rank, world_size, group, groups;
    DistPeer *peers; /* every rank's process (world order), for the fault watch */
    double *sum_all; /* dist_sum_doubles: every rank's values */
    size_t sum_cap;  /* values per rank it holds */
    char library[128];
} g = {.size = 1, .world_size = 1, .groups = 1};

/* dist_grads_*: the buckets of one gradient sum */
typedef struct {
    size_t lo, len;   /* x[lo .. lo + len) */
    size_t off;       /* where its padded copy lies in gb.pad */
    int block;        /* len / size, rounded up */
} Bucket;

static struct {
    float *x;
    size_t n, sent;   /* x[sent .. n) is in buckets already */
    float *pad;
    size_t pad_n, pad_used;
    Bucket *b;
    MPI_Request *rs, *ag; /* each bucket's reduce-scatter, its allgather */
    int k, cap;
    int gathering;    /* buckets[0 .. gathering) have their allgather started */
    MPI_Comm comm_ag; /* the allgathers' own communicator: see gather_ready */
} gb;

void dist_init(int *argc, char ***argv)
{
    /* launched by mpirun / srun: their environment says so; a plain
     * `cnnrun` does not start MPI at all (no singleton init: it is slow and
     * needs the runtime), and is one rank */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK")) return;
    int provided;
    /* the engine's OpenMP threads never call MPI: funneled is enough */
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g.on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    g.comm = MPI_COMM_WORLD;
    g.world_rank = g.rank, g.world_size = g.size;
    gb.comm_ag = MPI_COMM_NULL;
    if (g.size < 2) return;
    MPI_Comm_dup(MPI_COMM_WORLD, &gb.comm_ag);
    DistPeer me = {.pid = (int)getpid()};
    const char *host = getenv("CNNRUN_DIST_HOST"); /* tests: ranks on "other hosts" */
    if (host) str_copy(me.host, sizeof me.host, host);
    else if (gethostname(me.host, sizeof me.host) != 0) str_copy(me.host, sizeof me.host, "?");
    me.host[sizeof me.host - 1] = '\0';
    g.peers = xcalloc((size_t)g.size, sizeof *g.peers);
    MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, g.peers, (int)sizeof me, MPI_BYTE,
                  MPI_COMM_WORLD);
    dist_watch_begin(g.rank, g.size, g.peers);
}

void dist_finalize(void)
{
    if (!g.on) return;
    dist_watch_end();
    free(g.peers);
    g.peers = NULL;
    if (gb.comm_ag != MPI_COMM_NULL) MPI_Comm_free(&gb.comm_ag);
    if (g.comm != MPI_COMM_WORLD) MPI_Comm_free(&g.comm);
    free(gb.pad), free(gb.b), free(gb.rs), free(gb.ag);
    free(g.sum_all);
    g.sum_all = NULL, g.sum_cap = 0;
    memset(&gb, 0, sizeof gb);
    MPI_Finalize();
    g.on = 0;
}

int dist_rank(void) { return g.rank; }
int dist_size(void) { return g.size; }
int dist_world_rank(void) { return g.world_rank; }
int dist_world_size(void) { return g.world_size; }
int dist_group(void) { return g.group; }
int dist_groups(void) { return g.groups; }

const char *dist_host(int world_rank)
{
    return g.peers && world_rank >= 0 && world_rank < g.world_size ? g.peers[world_rank].host
                                                                     : NULL;
}

void dist_split(int k)
{
    if (!g.on || k < 1 || k >= g.world_size || g.world_size % k || g.groups > 1) return;
    g.group = g.world_rank / k;
    g.groups = g.world_size / k;
    MPI_Comm_split(MPI_COMM_WORLD, g.group, g.world_rank, &g.comm);
    MPI_Comm_rank(g.comm, &g.rank);
    MPI_Comm_size(g.comm, &g.size);
    /* the allgathers' own communicator is the group's too; the buffers sized
     * by the number of ranks are grown again as needed */
    if (gb.comm_ag != MPI_COMM_NULL) MPI_Comm_free(&gb.comm_ag);
    if (g.size > 1) MPI_Comm_dup(g.comm, &gb.comm_ag);
    free(g.sum_all);
    g.sum_all = NULL, g.sum_cap = 0;
    free(gb.pad);
    gb.pad = NULL, gb.pad_n = 0;
    /* the watch looks after the group's ranks: its run is the one a death
     * in the group fails (a rank of another group dying stops this one's
     * run by mpirun's SIGTERM: `interrupted`) */
    dist_watch_end();
    dist_watch_begin(g.rank, g.size, g.peers + (size_t)g.group * (size_t)k);
}

int dist_world_max_int(int v)
{
    if (g.world_size == 1) return v;
    int m;
    MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return m;
}

long dist_world_sum_long(long v)
{
    if (g.world_size == 1) return v;
    long s;
    MPI_Allreduce(&v, &s, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    return s;
}

enum { TAG_LINE = 7301 }; /* dist_line_to_world0's messages */

void dist_line_to_world0(const char *s)
{
    MPI_Send(s, (int)strlen(s) + 1, MPI_CHAR, 0, TAG_LINE, MPI_COMM_WORLD);
}

int dist_relay_lines(FILE *f, int open, int wait)
{
    while (open > 0) {
        MPI_Status st;
        int there = 1, n = 0;
        if (wait) MPI_Probe(MPI_ANY_SOURCE, TAG_LINE, MPI_COMM_WORLD, &st);
        else MPI_Iprobe(MPI_ANY_SOURCE, TAG_LINE, MPI_COMM_WORLD, &there, &st);
        if (!there) break;
        MPI_Get_count(&st, MPI_CHAR, &n);
        char *s = xmalloc(n > 0 ? (size_t)n : 1);
        MPI_Recv(s, n, MPI_CHAR, st.MPI_SOURCE, TAG_LINE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (n <= 1) open--; /* "": the sender's last */
        else fputs(s, f);
        free(s);
    }
    fflush(f);
    return open;
}

const char *dist_library(void)
{
    if (!g.library[0]) {
        char v[MPI_MAX_LIBRARY_VERSION_STRING];
        int len = 0;
        MPI_Get_library_version(v, &len);
        v[strcspn(v, ",\n")] = '\0'; /* "Open MPI v4.1.4" */
        str_copy(g.library, sizeof g.library, v);
    }
    return g.library;
}


/* ---- the bucketed gradient sum (dist_grads_*) ---------------------------- */


static void bucket_start(size_t lo, size_t hi)
{
    size_t len = hi - lo, block = (len + (size_t)g.size - 1) / (size_t)g.size;
    if (gb.k == gb.cap) {
        gb.cap = gb.cap ? 2 * gb.cap : 16;
        gb.b = xrealloc(gb.b, sizeof *gb.b * (size_t)gb.cap);
        gb.rs = xrealloc(gb.rs, sizeof *gb.rs * (size_t)gb.cap);
        gb.ag = xrealloc(gb.ag, sizeof *gb.ag * (size_t)gb.cap);
    }
    Bucket *b = &gb.b[gb.k];
    *b = (Bucket){.lo = lo, .len = len, .off = gb.pad_used, .block = (int)block};
    float *p = gb.pad + b->off;
    memcpy(p, gb.x + lo, sizeof(float) * len);
    memset(p + len, 0, sizeof(float) * (block * (size_t)g.size - len));
    gb.pad_used += block * (size_t)g.size;
    /* block r summed once, by rank r, into the bucket's first block */
    MPI_Ireduce_scatter_block(MPI_IN_PLACE, p, b->block, MPI_FLOAT, MPI_SUM, g.comm,
                              &gb.rs[gb.k]);
    gb.ag[gb.k] = MPI_REQUEST_NULL;
    gb.k++;
}

/* Bucket i's summed block, rank r's, moved to its place, then gathered. */
static void gather_start(int i)
{
    Bucket *b = &gb.b[i];
    float *p = gb.pad + b->off;
    memmove(p + (size_t)b->block * (size_t)g.rank, p, sizeof(float) * (size_t)b->block);
    MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, p, b->block, MPI_FLOAT, gb.comm_ag,
                   &gb.ag[i]);
}

/* Starts the allgather of each bucket whose reduce-scatter has ended, in
 * bucket order (wait: waiting for them). The ranks see the ends at different
 * times, so these calls interleave differently with the next buckets'
 * reduce-scatters on each rank: MPI asks only that every rank start the
 * collectives of one communicator in the same order, so the allgathers have
 * a communicator of their own. */
static void gather_ready(int wait)
{
    while (gb.gathering < gb.k) {
        int done = 1;
        if (wait) MPI_Wait(&gb.rs[gb.gathering], MPI_STATUS_IGNORE);
        else MPI_Test(&gb.rs[gb.gathering], &done, MPI_STATUS_IGNORE);
        if (!done) break;
        gather_start(gb.gathering++);
    }
}

void dist_grads_begin(float *x, size_t n)
{
    gb.x = x, gb.n = n, gb.sent = n, gb.k = 0, gb.pad_used = 0, gb.gathering = 0;
    if (g.size == 1) return;
    /* every bucket but the last is at least DIST_BUCKET_FLOATS long */
    size_t most = n + (n / DIST_BUCKET_FLOATS + 1) * (size_t)g.size;
    if (gb.pad_n < most) {
        free(gb.pad);
        gb.pad = alloc_floats(most);
        gb.pad_n = most;
    }
}

void dist_grads_ready(size_t from)
{
    if (g.size == 1 || from >= gb.sent) return;
    if (gb.sent - from >= DIST_BUCKET_FLOATS) {
        bucket_start(from, gb.sent);
        gb.sent = from;
    }
    if (!gb.k) return;
    gather_ready(0);
    int done; /* progress for the allgathers in flight */
    if (gb.gathering) MPI_Testall(gb.gathering, gb.ag, &done, MPI_STATUSES_IGNORE);
}

void dist_grads_end(void)
{
    if (g.size == 1 || gb.n == 0) return;
    if (gb.sent > 0) bucket_start(0, gb.sent);
    gather_ready(1);
    MPI_Waitall(gb.k, gb.ag, MPI_STATUSES_IGNORE);
    for (int i = 0; i < gb.k; i++)
        memcpy(gb.x + gb.b[i].lo, gb.pad + gb.b[i].off, sizeof(float) * gb.b[i].len);
    gb.k = 0;
}

/* The ranks' n doubles, rank after rank, into all (size * n). */
static void gather(const double *x, int n, double *all)
{
    MPI_Allgather(x, n, MPI_DOUBLE, all, n, MPI_DOUBLE, g.comm);
}

/* x[j] = the ranks' x[j] summed in rank order (the same on every rank), all
 * (size * n) the gathered values. */
static void sum_in_rank_order(double *x, int n, double *all)
{
    gather(x, n, all);
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int r = 0; r < g.size; r++) s += all[(size_t)r * n + j];
        x[j] = s;
    }
}

void dist_sum_doubles(double *x, int n)
{
    if (g.size == 1 || n <= 0) return;
    if (g.sum_cap < (size_t)n) { /* called every step: kept, grown as needed */
        free(g.sum_all);
        g.sum_all = xmalloc(sizeof(double) * (size_t)n * (size_t)g.size);
        g.sum_cap = (size_t)n;
    }
    sum_in_rank_order(x, n, g.sum_all);
}

int dist_max_int(int v)
{
    if (g.size == 1) return v;
    int m;
    MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MAX, g.comm);
    return m;
}

void dist_bcast(void *p, size_t n)
{
    if (g.size == 1 || n == 0) return;
    MPI_Bcast(p, (int)n, MPI_BYTE, 0, g.comm);
}

/* ---- batch norm over the ranks ------------------------------------------ */

typedef struct {
    BnSync sync;
    double *buf, *all;  /* one rank's message, and every rank's */
    size_t cap;         /* doubles each */
} DistBn;

static void bn_reserve(DistBn *d, size_t n)
{
    if (d->cap >= n) return;
    free(d->buf);
    free(d->all);
    d->buf = xmalloc(sizeof(double) * n);
    d->all = xmalloc(sizeof(double) * n * (size_t)g.size);
    d->cap = n;
}

/* Chan, Golub and LeVeque's pairwise update, rank 0 first, then 1, ...:
 * n = na + nb, mean = ma + (mb - ma) nb / n, M2 = M2a + M2b + (mb - ma)^2 na nb / n. */
static void bn_moments(void *ctx, int c, double *count, double *mean, double *m2)
{
    DistBn *d = ctx;
    size_t per = 2 * (size_t)c + 1;
    bn_reserve(d, per);
    d->buf[0] = *count;
    memcpy(d->buf + 1, mean, sizeof(double) * (size_t)c);
    memcpy(d->buf + 1 + c, m2, sizeof(double) * (size_t)c);
    gather(d->buf, (int)per, d->all);
    const double *r0 = d->all;
    double n = r0[0];
    memcpy(mean, r0 + 1, sizeof(double) * (size_t)c);
    memcpy(m2, r0 + 1 + c, sizeof(double) * (size_t)c);
    for (int r = 1; r < g.size; r++) {
        const double *q = d->all + per * (size_t)r;
        double nb = q[0], nn = n + nb;
        for (int j = 0; j < c; j++) {
            double delta = q[1 + j] - mean[j];
            mean[j] += delta * nb / nn;
            m2[j] += q[1 + c + j] + delta * delta * n * nb / nn;
        }
        n = nn;
    }
    *count = n;
}

static void bn_sums(void *ctx, int n, double *v)
{
    DistBn *d = ctx;
    bn_reserve(d, (size_t)n);
    sum_in_rank_order(v, n, d->all);
}

BnSync *dist_bn_sync_new(void)
{
    if (g.size == 1) return NULL;
    DistBn *d = xcalloc(1, sizeof *d);
    d->sync = (BnSync){.moments = bn_moments, .sums = bn_sums, .ctx = d};
    return &d->sync;
}

void dist_bn_sync_free(BnSync *s)
{
    if (!s) return;
    DistBn *d = s->ctx;
    free(d->buf);
    free(d->all);
    free(d);
}

#else /* one process */

void dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}
void dist_finalize(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_world_rank(void) { return 0; }
int dist_world_size(void) { return 1; }
int dist_group(void) { return 0; }
int dist_groups(void) { return 1; }
const char *dist_host(int world_rank)
{
    (void)world_rank;
    return NULL;
}
void dist_split(int k) { (void)k; }
int dist_world_max_int(int v) { return v; }
long dist_world_sum_long(long v) { return v; }
void dist_line_to_world0(const char *s) { fputs(s, stderr); }
int dist_relay_lines(FILE *f, int open, int wait)
{
    (void)f;
    (void)open;
    (void)wait;
    return 0;
}
const char *dist_library(void) { return NULL; }
void dist_sum_doubles(double *x, int n)
{
    (void)x;
    (void)n;
}
void dist_grads_begin(float *x, size_t n)
{
    (void)x;
    (void)n;
}
void dist_grads_ready(size_t from) { (void)from; }
void dist_grads_end(void) {}
int dist_max_int(int v) { return v; }
void dist_bcast(void *p, size_t n)
{
    (void)p;
    (void)n;
}
BnSync *dist_bn_sync_new(void) { return NULL; }
void dist_bn_sync_free(BnSync *s) { (void)s; }

#endif
