/* mem_fit.c — the memory plan held against the machine: before `cnnrun run`
 * trains anything (every grid point) and in `cnnrun check`, the memory a
 * network needs at its batch size (Model.activation_bytes: activations and
 * their gradients, planned at build time; plus the parameters, their
 * gradients and two optimizer moments) is compared with the memory the
 * system has available (/proc/meminfo MemAvailable, else sysconf); run
 * refuses a plan that does not fit, check warns, both naming the largest
 * batch size that fits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cnnrun/dist.h"

#define MIB (1024.0 * 1024.0)

/* Available memory in bytes, 0 when unknown. CNNRUN_MEMAVAILABLE_MIB (not
 * documented for users) fakes it, so that the tests never need the memory. */
static double available_bytes(void)
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

int cli_memory_fits(const char *path, const Model *m, MemCheck how)
{
    if (how == MEM_CHECK_NONE || m->exp->batch_size < 1) return 0;
    double avail = available_bytes();
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
