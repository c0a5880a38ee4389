/* wisdom.c — the convolution algorithms measured on this machine, kept in a
 * file (EngineSettings.wisdom, default ~/.cache/cnnrun/conv-wisdom) so that
 * every later process finds the choice instead of timing again, as FFTW's
 * wisdom and cuDNN's benchmark cache do. A user's cache file, not the results
 * database: the choice depends on the machine, not on the study, and two
 * databases on one machine (or a sweep point, a --jobs worker, a resume with
 * another --db) must compute the same numbers.
 *
 * One line per measured shape, plain text, the last line of a key winning
 * (a re-measure appends):
 *   <machine> <shape> algo=NAME ms=NAME:T,NAME:T,...
 * <machine> names everything the choice depends on beyond the shape: the CPU
 * (a hash of /proc/cpuinfo's model name and flags), the threads, the
 * engine's version, the OpenBLAS core and the precision. The file is held
 * under an exclusive lock (flock) from reading to the last line written, so
 * two processes that start together measure once: the second waits and
 * reads the first's choice. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "wisdom.h"

/* FNV-1a over the lines of /proc/cpuinfo's first processor that name the
 * CPU and its instruction sets. */
static uint64_t cpu_hash(void)
{
    uint64_t h = 1469598103934665603ull;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    static const char *const keys[] = {"vendor_id", "cpu family", "model", "model name",
                                       "stepping", "flags"};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n') break; /* the first processor only */
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t n = strlen(keys[k]);
            if (strncmp(line, keys[k], n) != 0 || (line[n] != '\t' && line[n] != ':')) continue;
            for (const char *p = line; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
        }
    }
    fclose(f);
    return h;
}

void wisdom_machine(char *buf, size_t size, int threads, const char *precision)
{
    snprintf(buf, size, "cpu=%016llx threads=%d engine=%d blas=%s precision=%s",
             (unsigned long long)cpu_hash(), threads, CNNRUN_ENGINE_VERSION, blas_core_name(),
             precision);
}

void wisdom_shape_key(char *buf, size_t size, const ConvShape *s, int need_din)
{
    snprintf(buf, size, "shape=n%d,%dx%dx%d,k%dx%d,s%d,p%d,out%d%s", s->n, s->h, s->w, s->c_in,
             s->kh, s->kw, s->stride, s->pad, s->c_out, need_din ? "" : ",nodin");
}

/* Makes the directories above path (mkdir -p of its dirname). */
static void make_parents(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(dir, 0755); /* an existing one: EEXIST; a failure shows at open */
        *p = '/';
    }
}

int wisdom_open(Wisdom *w, const char *path, const char *machine)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    snprintf(w->machine, sizeof w->machine, "%s", machine);
    if (!path || !*path) return 0;
    make_parents(path);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "cnnrun: note: cannot keep the measured convolution algorithms in %s "
                        "(%s): set CNNRUN_WISDOM to a writable file\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "cnnrun: note: %s is not a regular file: the measured convolution "
                        "algorithms are not kept\n", path);
        close(fd);
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) break;
    FILE *f = fdopen(dup(fd), "r");
    if (f) {
        char line[1024];
        size_t len = strlen(w->machine);
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, w->machine, len) != 0 || line[len] != ' ') continue;
            line[strcspn(line, "\n")] = '\0';
            if (w->n == w->cap) {
                w->cap = w->cap ? 2 * w->cap : 16;
                w->lines = xrealloc(w->lines, sizeof *w->lines * (size_t)w->cap);
            }
            w->lines[w->n++] = xstrdup(line + len + 1);
        }
        fclose(f);
    }
    w->fd = fd;
    snprintf(w->path, sizeof w->path, "%s", path);
    return 0;
}

/* The line's field `name=` (up to the next space) into buf. */
static int field(const char *line, const char *name, char *buf, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = line; p && *p; p = strchr(p, ' '), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || p[n] != '=') continue;
        size_t len = strcspn(p + n + 1, " ");
        if (len >= size) return -1;
        memcpy(buf, p + n + 1, len);
        buf[len] = '\0';
        return 0;
    }
    return -1;
}

int wisdom_find(const Wisdom *w, const char *shape, char *times, size_t size)
{
    size_t len = strlen(shape);
    for (int i = w->n - 1; i >= 0; i--) { /* the last line of a key wins */
        const char *l = w->lines[i];
        if (strncmp(l, shape, len) != 0 || l[len] != ' ') continue;
        char name[64];
        if (field(l, "algo", name, sizeof name) != 0) continue;
        int algo = conv_algo_by_name(name);
        if (algo < 0) continue; /* an algorithm this cnnrun does not have */
        if (times && field(l, "ms", times, size) != 0) times[0] = '\0';
        return algo;
    }
    return -1;
}

void wisdom_add(Wisdom *w, const char *shape, int algo, const char *times)
{
    if (w->fd < 0) return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s %s algo=%s ms=%s\n", w->machine, shape,
                     conv_algo_name(algo), times);
    if (n <= 0 || (size_t)n >= sizeof line) return;
    if (write(w->fd, line, (size_t)n) != n)
        fprintf(stderr, "cnnrun: note: could not add to %s (%s)\n", w->path, strerror(errno));
}

void wisdom_close(Wisdom *w)
{
    for (int i = 0; i < w->n; i++) free(w->lines[i]);
    free(w->lines);
    if (w->fd >= 0) close(w->fd); /* and its lock */
    memset(w, 0, sizeof *w);
    w->fd = -1;
}
