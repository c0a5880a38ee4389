/* mem_fit.c — the memory plan held against the machine: before `cnnrun run`
 * trains anything (every grid point) and in `cnnrun check`, the memory a
 * network needs at its batch size (Model.activation_bytes: activations and
 * their gradients, planned at build time; plus the parameters, their
 * gradients and two optimizer moments) is compared with the memory the
 * system has available (/proc/meminfo MemAvailable, else sysconf); run
 * refuses a plan that does not fit, check warns, both naming the largest
 * batch size that fits.
 *
 * And the address space a process may map (RLIMIT_AS, `ulimit -v`): OpenBLAS
 * maps a buffer of BLAS_BUFFER_BYTES for each of its own threads when it
 * loads and for each thread that runs a product at its first one, and when
 * that mmap fails it tries again for ever (0.3.21's blas_memory_alloc), in
 * a thread exit() then waits for: a hang at 100 % CPU that SIGTERM cannot
 * end. So before anything else (study_address_space_start) cnnrun checks that
 * OpenBLAS's own threads got theirs, and before a network's products start
 * (study_address_space_fits) that the plan, the buffers still to come and
 * the new threads' stacks and heaps fit under the limit: else it says "out
 * of memory" with the limit that would do, and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cnnrun/study.h"
#include "cnnrun/dist.h"
#include "cnnrun/util.h"

#define MIB (1024.0 * 1024.0)

/* Available memory in bytes, 0 when unknown. CNNRUN_MEMAVAILABLE_MIB (not
 * documented for users) fakes it, so that the tests never need the memory. */
double study_available_bytes(void)
{
    const char *fake = getenv("CNNRUN_MEMAVAILABLE_MIB");
    if (fake && *fake) return strtod(fake, NULL) * MIB;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
    if (f) fclose(f);
    if (kib >= 0) return kib * 1024.0;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

int study_memory_fits(const char *path, const Model *m, MemCheck how)
{
    if (how == MEM_CHECK_NONE || m->exp->batch_size < 1) return 0;
    double avail = study_available_bytes();
    if (avail <= 0) return 0; /* unknown: nothing to hold it against */
    /* a rank plans its slice of the batch (ranks on one host share its memory: not counted) */
    const int ranks = dist_size() > 1 ? dist_size() : 1;
    const int batch = (m->exp->batch_size + ranks - 1) / ranks;
    double per_image = (double)m->activation_bytes / m->exp->batch_size;
    double fixed = 4.0 * sizeof(float) * (double)m->n_params + sizeof(float) * (double)m->n_state;
    double need = per_image * batch + fixed;
    if (need <= avail) return 0;
    const int refuse = how == MEM_CHECK_REFUSE;
    fprintf(stderr, "%s: %sthe memory plan needs %.0f MiB at batch %d (activations and their "
                    "gradients %.0f MiB, parameters with gradients and optimizer state %.0f MiB), "
                    "more than the %.0f MiB this machine has available%s\n",
            path, refuse ? "" : "warning: ", need / MIB, batch, per_image * batch / MIB,
            fixed / MIB, avail / MIB, refuse ? "; not run" : "");
    double fit = per_image > 0 ? (avail - fixed) / per_image : 0;
    if (fit >= 1) /* below batch: the plan at batch does not fit */
        fprintf(stderr, "HINT: batch_size = %lld fits (%.2f MiB per image)%s\n",
                (long long)fit * ranks, per_image / MIB, ranks > 1 ? ", over the ranks" : "");
    else
        fprintf(stderr, "HINT: not even batch_size = 1 fits; use a smaller network\n");
    return refuse ? -1 : 0;
}

/* ---- the address space: RLIMIT_AS and OpenBLAS's buffers ------------------ */

/* OpenBLAS 0.3.x on x86-64 (BUFFER_SIZE, 32 << 22 in common_x86_64.h): the
 * buffer it maps per thread, seen as one anonymous read-write mapping of
 * exactly this size (strace: mmap(NULL, 134217728, ...) by its thread at
 * load, and by each thread at its first sgemm). */
#define BLAS_BUFFER_BYTES ((size_t)128 << 20)
/* glibc's heap for each new thread that allocates (HEAP_MAX_SIZE on 64-bit:
 * reserved whole, it counts in the address space) */
#define THREAD_HEAP_BYTES ((size_t)64 << 20)
/* what a run maps besides its plan: SQLite, stdio, small allocations */
#define SLACK_BYTES ((size_t)32 << 20)

/* OpenBLAS's own threads, counted when main started (the only threads then;
 * set once, read after). */
static int blas_own_threads;

/* A `Name:  N kB`-style field of /proc/self/status (VmSize, Threads); -1. */
static long status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, name, n) && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    if (f) fclose(f);
    return v;
}

/* OpenBLAS buffers mapped: anonymous read-write mappings of their size. */
static int blas_buffers_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, inode;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %n", &lo, &hi, perms, &inode, &path_at) < 4)
            continue;
        n += hi - lo == BLAS_BUFFER_BYTES && !strcmp(perms, "rw-p") && inode == 0 &&
             (line[path_at] == '\n' || line[path_at] == '\0');
    }
    if (f) fclose(f);
    return n;
}

/* The soft RLIMIT_AS in bytes; 0 when there is none. */
static double as_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
    return (double)lim.rlim_cur;
}

/* ulimit -v's unit (KiB) for bytes, rounded up to 10 MiB */
static long kib_to_ask(double bytes)
{
    double mib = bytes / MIB;
    return (long)(10 * (long)((mib + 9.999) / 10)) * 1024;
}

int study_address_space_start(void)
{
    const double limit = as_limit();
    blas_own_threads = (int)status_field("Threads") - 1; /* OpenBLAS's: nothing else runs yet */
    if (blas_own_threads < 0) blas_own_threads = 0;
    if (limit <= 0 || blas_own_threads == 0) return 0;
    /* each maps its buffer as it starts: give them a moment */
    int mapped = blas_buffers_mapped();
    for (int i = 0; i < 100 && mapped < blas_own_threads; i++) {
        usleep(2000);
        mapped = blas_buffers_mapped();
    }
    if (mapped >= blas_own_threads) return 0;
    const double vm = (double)status_field("VmSize") * 1024;
    const int missing = blas_own_threads - mapped;
    /* its threads' buffers, and one more for a product on the main thread */
    const double want = vm + (double)(missing + 1) * BLAS_BUFFER_BYTES + SLACK_BYTES;
    fprintf(stderr, "cnnrun: out of memory: the address space this process may map (ulimit -v: "
                    "%.0f MiB) has no room for OpenBLAS's buffers (%.0f MiB for each of its %d "
                    "thread%s; %.0f MiB are mapped already), and without them OpenBLAS would wait "
                    "for ever; nothing was done\n",
            limit / MIB, BLAS_BUFFER_BYTES / MIB, blas_own_threads,
            blas_own_threads == 1 ? "" : "s", vm / MIB);
    fprintf(stderr, "HINT: raise the limit to at least ulimit -v %ld (%.0f MiB, for one thread; "
                    "about %.0f MiB more for each further --threads), or start cnnrun with "
                    "OPENBLAS_NUM_THREADS=1 (OpenBLAS then starts no threads of its own)\n",
            kib_to_ask(want), want / MIB, (BLAS_BUFFER_BYTES + THREAD_HEAP_BYTES) / MIB + 8);
    return -1;
}

/* The bytes a thread's stack takes: RLIMIT_STACK as glibc's pthreads use
 * it, 8 MiB when it is unlimited or unknown. */
static double thread_stack_bytes(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_STACK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY ||
        lim.rlim_cur > ((rlim_t)1 << 30))
        return 8 * MIB;
    return (double)lim.rlim_cur;
}

static int address_space_fits(const char *path, const Model *m, int batch, int threads,
                              double limit)
{
    const double vm = (double)status_field("VmSize") * 1024;
    const int mapped = blas_buffers_mapped();
    /* the buffers still to come: OpenBLAS's threads' and one per thread of ours */
    int missing = blas_own_threads + threads - mapped;
    if (missing < 0) missing = 0;
    /* our threads still to start (the OpenMP team stays between runs) */
    int started = (int)status_field("Threads") - 1 - blas_own_threads;
    int new_threads = threads - 1 - (started > 0 ? started : 0);
    if (new_threads < 0) new_threads = 0;
    const double per_image = m->exp->batch_size > 0
                                 ? (double)m->activation_bytes / m->exp->batch_size : 0;
    const double plan = per_image * batch + 4.0 * sizeof(float) * (double)m->n_params +
                        sizeof(float) * (double)m->n_state;
    const double blas = (double)missing * BLAS_BUFFER_BYTES;
    const double per_thread = thread_stack_bytes() + THREAD_HEAP_BYTES;
    const double need = vm + plan + blas + new_threads * per_thread + SLACK_BYTES;
    if (need <= limit) return 0;
    fprintf(stderr, "%s: out of memory: the address space this process may map (ulimit -v: %.0f "
                    "MiB) is too small: %.0f MiB are mapped, the memory plan needs %.0f MiB at "
                    "batch %d, OpenBLAS maps %.0f MiB for each thread that runs a product (%d "
                    "still to come: %.0f MiB) and each new thread takes %.0f MiB of stack and heap "
                    "(%d to start): about %.0f MiB in all; not run (OpenBLAS would wait for ever "
                    "for the rest)\n",
            path, limit / MIB, vm / MIB, plan / MIB, batch, BLAS_BUFFER_BYTES / MIB, missing,
            blas / MIB, per_thread / MIB, new_threads, need / MIB);
    /* on one thread: no new thread, one buffer of ours */
    int missing_one = blas_own_threads + 1 - mapped;
    const double one = vm + plan + (missing_one > 0 ? missing_one : 0) * (double)BLAS_BUFFER_BYTES +
                       SLACK_BYTES;
    if (threads > 1 && one <= limit)
        fprintf(stderr, "HINT: raise the limit to at least ulimit -v %ld, or run with --threads "
                        "1 (about %.0f MiB: that fits)\n", kib_to_ask(need), one / MIB);
    else
        fprintf(stderr, "HINT: raise the limit to at least ulimit -v %ld (%.0f MiB; or "
                        "unlimited)%s\n", kib_to_ask(need), need / MIB,
                threads > 1 ? ", or run with fewer --threads" : "");
    return CN_EXIT_FAIL;
}

int study_address_space_fits(const char *path, const Experiment *e, int batch, int threads)
{
    const double limit = as_limit();
    if (limit <= 0) return 0;
    if (threads < 1) threads = 1;
    Model shapes;
    if (model_build(e, 0, &shapes) != 0) return 0; /* the caller's build says what is wrong */
    int rc = address_space_fits(path, &shapes, batch, threads, limit);
    model_free(&shapes);
    return rc;
}
