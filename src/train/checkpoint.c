/* checkpoint.c — the checkpoint file (checkpoint.h): writing it atomically,
 * reading and validating it, and the network's shape signature.
 *
 * Layout (native byte order; an order marker makes a foreign file an error):
 *   char[8]  magic "CNNRCKPT"       u32 format version    u32 0x01020304
 *   u64      FNV-1a of the signature text, u32 length, the text
 *   u32 + bytes  experiment name;   i64 run_id; i32 epoch; i64 global_step
 *   f64 best_acc; f64 train_seconds; 2 x (u64 state, u64 inc): shuffle, augment RNG
 *   (version 2) i32 steps_in_epoch; f64 part_loss_sum; i64 part_correct; i64 part_seen;
 *               f64 part_seconds
 *   (version 4) i32 best_epoch
 *   (version 5) u32 length + the run's data as text (0: none recorded)
 *   (u64 state, u64 inc): dropout RNG
 *   (version 3) u32 conv nodes; per conv node in node order: u32 length + the
 *               name of its algorithm (conv_algo_name)
 *   u64 n + n f32  params;  u64 n + n f32  state (BN running stats)
 *   i32 optimizer type (-1: none); i64 optimizer step; u64 n + f32 m1; u64 n + f32 m2
 *               (the state vectors, OPT_STATE_M1 and _M2: n floats each where a group's
 *               optimizer keeps it, its row in src/config/optimizers.c says; else 0)
 *   u64 FNV-1a of every byte before it (detects truncation and damage)
 */
#include "cnnrun/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/files.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

#define ORDER_MARK 0x01020304u

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

char *model_signature(const Model *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "input %dx%dx%d classes %d params %zu state %zu\n", m->in_c, m->in_h, m->in_w,
            m->classes, m->n_params, m->n_state);
    for (int i = 0; i < m->n_nodes; i++) {
        const Node *n = &m->nodes[i];
        fprintf(f, "%s %s %dx%dx%d w %zu b %zu\n", n->name, op_name(n->op), n->c, n->h, n->w,
                n->w_len, n->b_len);
    }
    fclose(f);
    return buf;
}

/* DIR/<experiment with unsafe characters as _>-<run_id><suffix> */
static void run_file(char *buf, size_t size, const char *dir, const char *experiment,
                     int64_t run_id, const char *suffix)
{
    char name[128];
    size_t k = 0;
    for (const char *p = experiment; *p && k + 1 < sizeof name; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        name[k++] = ok ? c : '_';
    }
    name[k] = '\0';
    snprintf(buf, size, "%s/%s-%lld%s", dir, name, (long long)run_id, suffix);
}

void checkpoint_path(char *buf, size_t size, const char *dir, const char *experiment,
                     int64_t run_id, const char *which)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "-%s.ckpt", which);
    run_file(buf, size, dir, experiment, run_id, suffix);
}

int run_lock_try(const char *dir, const char *experiment, int64_t run_id, long *holder)
{
    char path[CN_PATH_MAX + 256];
    run_file(path, sizeof path, dir, experiment, run_id, ".lock");
    *holder = 0;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return RUN_LOCK_NONE;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return RUN_LOCK_NONE;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            *holder = atol(pid);
            close(fd);
            return RUN_LOCK_HELD;
        }
        /* the run that held it removed the file as it ended (run_unlock): a
         * lock on that file locks nothing; take the one at the path now */
        struct stat a, b;
        if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino ||
            a.st_dev != b.st_dev) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) return RUN_LOCK_NONE;
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    int written = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;
    (void)written; /* the pid only says who holds the lock */
    return fd;
}

int run_lock(const char *dir, const char *experiment, int64_t run_id)
{
    long holder;
    int fd = run_lock_try(dir, experiment, run_id, &holder);
    if (fd == RUN_LOCK_HELD) {
        char path[CN_PATH_MAX + 256], pid[32] = "?";
        run_file(path, sizeof path, dir, experiment, run_id, ".lock");
        if (holder > 0) snprintf(pid, sizeof pid, "%ld", holder);
        fprintf(stderr, "%s: run %lld of '%s' is still running (process %s); stop it first, or "
                        "start a new run without --resume\n",
                path, (long long)run_id, experiment, pid);
    }
    return fd;
}

void run_unlock(const char *dir, const char *experiment, int64_t run_id, int fd)
{
    if (fd < 0) return;
    char path[CN_PATH_MAX + 256];
    run_file(path, sizeof path, dir, experiment, run_id, ".lock");
    unlink(path); /* while still held: whoever opens it next sees it gone (run_lock_try) */
    close(fd);
}

long run_lock_dead_pid(const char *dir, const char *experiment, int64_t run_id)
{
    char path[CN_PATH_MAX + 256];
    run_file(path, sizeof path, dir, experiment, run_id, ".lock");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return 0;
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    if (end == buf || (*end && *end != '\n') || pid <= 1) return 0;
    /* read only: no lock is taken, so a run starting now is never disturbed */
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH ? pid : 0;
}

int checkpoint_dir_check(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "%s: cannot use the checkpoint directory: %s\n", dir, strerror(errno));
            return -1;
        }
        if (mkdir(dir, 0777) != 0) {
            if (errno == ENOENT) return 0; /* its parent comes with the database */
            if (errno != EEXIST) {
                fprintf(stderr, "%s: cannot create the checkpoint directory: %s; fix the "
                                "permissions of the directory it is in, or use another --db "
                                "(checkpoints go next to the database)\n", dir, strerror(errno));
                return -1;
            }
        }
        if (stat(dir, &st) != 0) {
            fprintf(stderr, "%s: cannot use the checkpoint directory: %s\n", dir, strerror(errno));
            return -1;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: the checkpoint directory is a file, not a directory; move the file "
                        "away, or use another --db (checkpoints go next to the database)\n", dir);
        return -1;
    }
    char probe[CN_PATH_MAX + 32], *tmp;
    snprintf(probe, sizeof probe, "%s/.cnnrun-probe", dir);
    int fd = temp_beside(probe, &tmp);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot create files in the checkpoint directory: %s; fix the "
                        "directory's permissions, or use another --db (checkpoints go next to "
                        "the database)\n", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(tmp);
    free(tmp);
    return 0;
}

void checkpoint_remove_stale(const char *dir, const char *experiment, int64_t run_id)
{
    char prefix[CN_PATH_MAX + 256];
    run_file(prefix, sizeof prefix, dir, experiment, run_id, "-");
    const char *base = strrchr(prefix, '/') + 1; /* run_file puts dir/ first */
    DIR *d = opendir(dir);
    if (!d) return;
    size_t n = strlen(base);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        const char *name = ent->d_name, *rest = name + n; /* last.ckpt.tmp.XXXXXX */
        if (strncmp(name, base, n) != 0 || strlen(rest) != strlen("last.ckpt.tmp.XXXXXX") ||
            (strncmp(rest, "last.ckpt.tmp.", 14) != 0 && strncmp(rest, "best.ckpt.tmp.", 14) != 0))
            continue;
        char path[CN_PATH_MAX + 512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        unlink(path);
    }
    closedir(d);
}

void checkpoint_default_dir(char *buf, size_t size, const char *db_path)
{
    const char *slash = strrchr(db_path, '/');
    const char *base = slash ? slash + 1 : db_path;
    int dir_len = slash ? (int)(slash - db_path) + 1 : 0; /* with the '/' */
    if (strcmp(base, "results.db") == 0) {
        snprintf(buf, size, "%.*scheckpoints", dir_len, db_path);
        return;
    }
    const char *dot = strrchr(base, '.');
    int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(buf, size, "%.*s%.*s-checkpoints", dir_len, db_path, stem, base);
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
    FILE *f;
    uint64_t h;
    int err;
} Writer;

static void put(Writer *w, const void *p, size_t n)
{
    if (w->err || n == 0) return;
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) w->h = (w->h ^ b[i]) * 1099511628211ULL;
    if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
}

static void put_u32(Writer *w, uint32_t v) { put(w, &v, sizeof v); }
static void put_u64(Writer *w, uint64_t v) { put(w, &v, sizeof v); }
static void put_i64(Writer *w, int64_t v) { put(w, &v, sizeof v); }
static void put_f64(Writer *w, double v) { put(w, &v, sizeof v); }
static void put_rng(Writer *w, const Rng *r)
{
    put_u64(w, r->state);
    put_u64(w, r->inc);
}
static void put_floats(Writer *w, const float *p, size_t n)
{
    put_u64(w, n);
    put(w, p, n * sizeof(float));
}

/* The convolutions' algorithms by name: a renumbered enum cannot change them. */
static void put_conv_algos(Writer *w, const Model *m)
{
    int n = model_conv_algos(m, NULL, 0);
    int *algos = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    model_conv_algos(m, algos, n);
    put_u32(w, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        const char *name = conv_algo_name(algos[i]);
        if (!name) name = "?"; /* not an algorithm: loads as the shape rule's */
        put_u32(w, (uint32_t)strlen(name));
        put(w, name, strlen(name));
    }
    free(algos);
}

static int ensure_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "%s: cannot create the checkpoint directory '%s': %s\n", path, dir,
                    strerror(errno));
            rc = -1;
        }
    }
    free(dir);
    return rc;
}

int checkpoint_save(const char *path, const Model *m, const Optimizer *o,
                    const CheckpointMeta *meta)
{
    if (ensure_dir(path) != 0 || output_target_ok(path, FILE_CHECKPOINT, "the checkpoint") != 0)
        return -1;
    char *tmp;
    int fd = temp_beside(path, &tmp);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot create a temporary checkpoint file: %s\n", path,
                strerror(errno));
        return -1;
    }
    Writer w = {.f = fdopen(fd, "wb"), .h = 1469598103934665603ULL, .err = 0};
    if (!w.f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    char *sig = model_signature(m);
    size_t sig_len = strlen(sig);
    put(&w, CKPT_MAGIC, 8);
    put_u32(&w, CKPT_VERSION);
    put_u32(&w, ORDER_MARK);
    put_u64(&w, fnv1a(sig, sig_len));
    put_u32(&w, (uint32_t)sig_len);
    put(&w, sig, sig_len);
    free(sig);
    uint32_t name_len = (uint32_t)strlen(meta->experiment);
    put_u32(&w, name_len);
    put(&w, meta->experiment, name_len);
    put_i64(&w, meta->run_id);
    put_u32(&w, (uint32_t)meta->epoch);
    put_i64(&w, meta->global_step);
    put_f64(&w, meta->best_acc);
    put_f64(&w, meta->train_seconds);
    put_rng(&w, &meta->shuffle_rng);
    put_rng(&w, &meta->aug_rng);
    put_u32(&w, (uint32_t)meta->steps_in_epoch);
    put_f64(&w, meta->part_loss_sum);
    put_i64(&w, meta->part_correct);
    put_i64(&w, meta->part_seen);
    put_f64(&w, meta->part_seconds);
    put_u32(&w, (uint32_t)meta->best_epoch);
    size_t data_len = meta->data ? strlen(meta->data) : 0;
    if (data_len > CKPT_DATA_MAX) data_len = 0; /* data.h's text is far below it */
    put_u32(&w, (uint32_t)data_len);
    put(&w, meta->data ? meta->data : "", data_len);
    put_rng(&w, &m->dropout_rng);
    put_conv_algos(&w, m);
    put_floats(&w, m->params, m->n_params);
    put_floats(&w, m->state, m->n_state);
    put_u32(&w, o ? (uint32_t)o->type : UINT32_MAX);
    put_i64(&w, o ? (int64_t)o->step : 0);
    put_floats(&w, o ? o->m1 : NULL, o && o->m1 ? o->n : 0);
    put_floats(&w, o ? o->m2 : NULL, o && o->m2 ? o->n : 0);
    uint64_t sum = w.h;
    put_u64(&w, sum);
    if (!w.err && fflush(w.f) != 0) w.err = errno;
    if (!w.err && fsync(fileno(w.f)) != 0) w.err = errno;
    if (fclose(w.f) != 0 && !w.err) w.err = errno;
    if (!w.err && commit_beside(tmp, path) != 0) w.err = errno;
    if (w.err) {
        fprintf(stderr, "%s: cannot write the checkpoint: %s\n", path, strerror(w.err));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t n, at;
    int short_read;
    uint32_t version; /* the file's format version */
} Reader;

static const void *get(Reader *r, size_t n)
{
    if (r->short_read || n > r->n - r->at) {
        r->short_read = 1;
        return NULL;
    }
    const void *q = r->p + r->at;
    r->at += n;
    return q;
}

#define GETTER(name, type)                   \
    static type name(Reader *r)              \
    {                                        \
        type v = 0;                          \
        const void *q = get(r, sizeof v);    \
        if (q) memcpy(&v, q, sizeof v);      \
        return v;                            \
    }
GETTER(get_u32, uint32_t)
GETTER(get_u64, uint64_t)
GETTER(get_i64, int64_t)
GETTER(get_f64, double)

static void get_rng(Reader *r, Rng *out)
{
    out->state = get_u64(r);
    out->inc = get_u64(r);
}

/* A float array of the expected length; NULL (and *count set) otherwise. */
static const float *get_floats(Reader *r, uint64_t *count)
{
    *count = get_u64(r);
    if (r->short_read || *count > (r->n - r->at) / sizeof(float)) {
        r->short_read = 1;
        return NULL;
    }
    return get(r, (size_t)*count * sizeof(float));
}

/* First line that differs between two signature texts, for the message. */
static void print_first_difference(const char *want, const char *have, size_t have_len)
{
    int line = 1;
    const char *a = want, *b = have, *b_end = have + have_len;
    while (*a || b < b_end) {
        const char *ae = strchr(a, '\n');
        const char *be = memchr(b, '\n', (size_t)(b_end - b));
        if (!ae) ae = a + strlen(a);
        if (!be) be = b_end;
        if ((size_t)(ae - a) != (size_t)(be - b) || memcmp(a, b, (size_t)(ae - a)) != 0) {
            fprintf(stderr, "  first difference, node line %d:\n    this network: %.*s\n"
                            "    checkpoint:   %.*s\n",
                    line, (int)(ae - a), a, (int)(be - b), b);
            return;
        }
        a = *ae ? ae + 1 : ae;
        b = be < b_end ? be + 1 : be;
        line++;
    }
}

static const char *opt_type_name(uint32_t t)
{
    return t < OPT_COUNT ? optimizer_type_name((OptimizerType)t) : "none";
}

/* n bytes at offset into buf; 0, or -1 (errno set; EIO: the file is shorter) */
static int read_at(int fd, void *buf, size_t n, off_t offset)
{
    for (size_t done = 0; done < n;) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, offset + (off_t)done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return -1;
        }
        done += (size_t)k;
    }
    return 0;
}

/* The size range a checkpoint with this header can have: its float arrays
 * (params, state, at most two optimizer moments of params' length) from the
 * signature's first line, plus the fixed fields, the experiment name (under
 * 128 bytes) and per signature line (node) an algorithm name (u32 + under 64
 * bytes). 0, or -1 when the signature does not say its counts. */
static int size_bounds(const char *sig, uint32_t sig_len, unsigned long long *lo,
                       unsigned long long *hi)
{
    char first[256];
    size_t n = sig_len < sizeof first - 1 ? sig_len : sizeof first - 1;
    memcpy(first, sig, n);
    first[n] = '\0';
    unsigned long long np, ns, lines = 0;
    if (sscanf(first, "input %*dx%*dx%*d classes %*d params %llu state %llu", &np, &ns) != 2 ||
        np > (1ULL << 40) || ns > (1ULL << 40))
        return -1;
    for (uint32_t i = 0; i < sig_len; i++) lines += sig[i] == '\n';
    const unsigned long long head = 28 + (unsigned long long)sig_len; /* through the signature */
    *lo = head + 4 * (np + ns) + 8; /* the arrays and the checksum, at least */
    *hi = head + 4 + 128 + 256 + 4 + lines * (4 + 64) + 4 * (3 * np + ns) + 4 + CKPT_DATA_MAX;
    return 0;
}

/* Reads the file and checks magic, byte order, version and checksum; only a
 * regular file, and the header first: its magic, version and the size its
 * signature implies are checked before the rest is read (a large file that
 * is not this network's checkpoint is never read whole). Returns 0 with
 * *data (caller frees) and r positioned after the header, or an exit status
 * after printing the problem. */
static int open_checked(const char *path, char **data_out, Reader *rd)
{
    struct stat st;
    int fd = open_regular(path, &st);
    if (fd < 0) {
        int e = errno;
        fprintf(stderr, "%s: cannot read the checkpoint: %s\n", path,
                e == EISDIR ? "it is a directory" : cn_strerror(e));
        return e == EISDIR || e == CN_ENOTREG ? CN_EXIT_USAGE : CN_EXIT_FAIL;
    }
    unsigned long long size = (unsigned long long)st.st_size;
    size_t len = 0;
    char *data = NULL, *sig = NULL;
    int rc = CN_EXIT_FAIL;
    unsigned char head[28]; /* magic, version, order, signature hash and length */
    size_t have = size < sizeof head ? (size_t)size : sizeof head;
    if (read_at(fd, head, have, 0) != 0) goto io_error;
    if (have < 8 || memcmp(head, CKPT_MAGIC, 8) != 0) {
        fprintf(stderr, "%s: not a cnnrun checkpoint (wrong magic number)\n", path);
        rc = CN_EXIT_USAGE;
        goto out;
    }
    if (have < sizeof head) goto truncated;
    uint32_t version, order, sig_len;
    memcpy(&version, head + 8, 4);
    memcpy(&order, head + 12, 4);
    memcpy(&sig_len, head + 24, 4);
    if (order != ORDER_MARK) {
        fprintf(stderr, "%s: the checkpoint was written on a machine of another byte order\n",
                path);
        rc = CN_EXIT_USAGE;
        goto out;
    }
    if (version < 1 || version > CKPT_VERSION) {
        fprintf(stderr, "%s: checkpoint format version %u; this cnnrun (%s) reads version %d\n",
                path, version, CN_VERSION, CKPT_VERSION);
        rc = CN_EXIT_USAGE;
        goto out;
    }
    if (sig_len > size - sizeof head) goto truncated;
    sig = xmalloc(sig_len ? sig_len : 1);
    if (read_at(fd, sig, sig_len, sizeof head) != 0) goto io_error;
    unsigned long long lo, hi;
    if (size_bounds(sig, sig_len, &lo, &hi) != 0) {
        fprintf(stderr, "%s: the checkpoint is damaged (its network signature is unreadable); "
                        "use the other checkpoint of the run (-best/-last) or start the run "
                        "again\n", path);
        goto out;
    }
    if (size < lo) goto truncated;
    if (size > hi) {
        fprintf(stderr, "%s: the checkpoint is damaged: %llu bytes, and its header allows at "
                        "most %llu; use the other checkpoint of the run (-best/-last) or start "
                        "the run again\n", path, size, hi);
        goto out;
    }
    len = (size_t)size;
    data = xmalloc(len);
    if (read_at(fd, data, len, 0) != 0) goto io_error;
    close(fd);
    fd = -1;
    free(sig);
    sig = NULL;
    Reader r = {.p = (const unsigned char *)data, .n = len, .at = 16}; /* at the signature hash */
    /* the checksum covers everything; check it before trusting any length */
    uint64_t stored;
    memcpy(&stored, data + len - sizeof stored, sizeof stored);
    if (fnv1a(data, len - sizeof stored) != stored) {
        fprintf(stderr, "%s: the checkpoint is truncated or damaged (checksum mismatch); use the "
                        "other checkpoint of the run (-best/-last) or start the run again\n",
                path);
        goto out;
    }
    r.n = len - sizeof stored;
    r.version = version;
    *data_out = data;
    *rd = r;
    return 0;

io_error: /* a read error, or the file shrank while it was read */
    fprintf(stderr, "%s: cannot read the checkpoint: %s\n", path, strerror(errno));
    goto out;
truncated:
    fprintf(stderr, "%s: the checkpoint is truncated (%llu bytes); use the other checkpoint of "
                    "the run (-best/-last) or start the run again\n",
            path, size);
    rc = CN_EXIT_FAIL;
out:
    if (fd >= 0) close(fd);
    free(sig);
    free(data);
    return rc;
}

/* The meta fields after the signature; *data (when not NULL) a copy of the
 * run's data text (version 5), NULL when there is none. */
static void get_meta(Reader *r, CheckpointMeta *mt, char **data)
{
    memset(mt, 0, sizeof *mt);
    uint32_t name_len = get_u32(r);
    const char *name = get(r, name_len);
    if (name) snprintf(mt->experiment, sizeof mt->experiment, "%.*s", (int)name_len, name);
    mt->run_id = get_i64(r);
    mt->epoch = (int)get_u32(r);
    mt->global_step = get_i64(r);
    mt->best_acc = get_f64(r);
    mt->train_seconds = get_f64(r);
    get_rng(r, &mt->shuffle_rng);
    get_rng(r, &mt->aug_rng);
    if (r->version >= 2) {
        mt->steps_in_epoch = (int)get_u32(r);
        mt->part_loss_sum = get_f64(r);
        mt->part_correct = get_i64(r);
        mt->part_seen = get_i64(r);
        mt->part_seconds = get_f64(r);
    }
    mt->best_epoch = r->version >= 4 ? (int)get_u32(r) : mt->epoch;
    if (data) *data = NULL;
    if (r->version >= 5) {
        uint32_t len = get_u32(r);
        const char *text = len <= CKPT_DATA_MAX ? get(r, len) : NULL;
        if (len > CKPT_DATA_MAX) r->short_read = 1;
        if (text && len && data) {
            *data = xmalloc((size_t)len + 1);
            memcpy(*data, text, len);
            (*data)[len] = '\0';
        }
    }
}

/* Version 3's algorithm names as CONV_* (-1: a name this cnnrun does not
 * know); NULL when the file records another number of convolutions than
 * n_convs or is short. Caller frees. */
static int *get_conv_algos(Reader *r, int n_convs)
{
    uint32_t n = get_u32(r);
    if (r->short_read || n != (uint32_t)n_convs) return NULL;
    int *algos = xmalloc(sizeof(int) * (n > 0 ? n : 1));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = get_u32(r);
        const char *name = get(r, len);
        char buf[64] = "";
        if (name && len < sizeof buf) {
            memcpy(buf, name, len);
            buf[len] = '\0';
        }
        algos[i] = conv_algo_by_name(buf); /* -1 for a name too long to be one */
    }
    if (r->short_read) {
        free(algos);
        return NULL;
    }
    return algos;
}

/* The convolutions compute as in the run that wrote the checkpoint: its
 * algorithms (version 3), or (older files, from before the algorithms were
 * measured) the ones a build without measuring gives. */
static void restore_conv_algos(const char *path, Model *m, const int *algos, int n)
{
    if (!algos) {
        model_set_conv_algos(m, NULL, n, path);
        return;
    }
    int *now = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    model_conv_algos(m, now, n);
    int differ = n > 0 && memcmp(now, algos, sizeof(int) * (size_t)n) != 0;
    free(now);
    if (differ && !m->conv_tune && m->conv_from != CONV_FROM_CHECKPOINT)
        fprintf(stderr, "%s: note: the convolutions run the algorithms the checkpoint records; "
                        "CNNRUN_CONV=%s applies to new runs\n",
                path, m->exp->engine.conv == CONV_CHOICE_FORCED
                          ? conv_algo_name(m->exp->engine.conv_forced) : "rule");
    model_set_conv_algos(m, algos, n, path);
}

/* The meta block of the file at path into *meta (and its data text into
 * *text when text is not NULL: NULL if it has none). 0 or the exit status
 * (printed). */
static int read_meta(const char *path, CheckpointMeta *meta, char **text)
{
    char *data = NULL;
    Reader r;
    if (text) *text = NULL;
    int rc = open_checked(path, &data, &r);
    if (rc != 0) return rc;
    get_u64(&r);
    uint32_t sig_len = get_u32(&r);
    get(&r, sig_len);
    get_meta(&r, meta, text);
    free(data);
    if (r.short_read) {
        if (text) {
            free(*text);
            *text = NULL;
        }
        fprintf(stderr, "%s: the checkpoint is truncated\n", path);
        return CN_EXIT_FAIL;
    }
    return 0;
}

int checkpoint_read_meta(const char *path, CheckpointMeta *meta)
{
    return read_meta(path, meta, NULL);
}

int checkpoint_read_data(const char *path, char **text)
{
    CheckpointMeta meta;
    return read_meta(path, &meta, text);
}

int checkpoint_load(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta)
{
    char *data = NULL;
    int *algos = NULL;
    Reader r;
    int rc = open_checked(path, &data, &r);
    if (rc != 0) return rc;
    rc = CN_EXIT_FAIL;
    size_t len = r.n + sizeof(uint64_t);

    uint64_t sig_hash = get_u64(&r);
    uint32_t sig_len = get_u32(&r);
    const char *sig = get(&r, sig_len);
    if (!sig) goto truncated;
    char *mine = model_signature(m);
    if (sig_hash != fnv1a(mine, strlen(mine)) || strlen(mine) != sig_len ||
        memcmp(mine, sig, sig_len) != 0) {
        fprintf(stderr, "%s: the checkpoint was saved from a different network (its shape "
                        "signature differs); use the experiment file it was trained with\n",
                path);
        print_first_difference(mine, sig, sig_len);
        free(mine);
        rc = CN_EXIT_USAGE;
        goto out;
    }
    free(mine);

    CheckpointMeta mt;
    get_meta(&r, &mt, NULL);
    Rng dropout;
    get_rng(&r, &dropout);
    int n_convs = model_conv_algos(m, NULL, 0);
    algos = r.version >= 3 ? get_conv_algos(&r, n_convs) : NULL;
    if (r.version >= 3 && !algos) {
        if (r.short_read) goto truncated;
        fprintf(stderr, "%s: the checkpoint records the algorithms of another number of "
                        "convolutions than the network has\n", path);
        rc = CN_EXIT_USAGE;
        goto out;
    }
    uint64_t np, ns, n1, n2;
    const float *params = get_floats(&r, &np);
    const float *state = get_floats(&r, &ns);
    uint32_t otype = get_u32(&r);
    int64_t ostep = get_i64(&r);
    const float *m1 = get_floats(&r, &n1);
    const float *m2 = get_floats(&r, &n2);
    if (r.short_read) goto truncated;
    if (np != m->n_params || ns != m->n_state) {
        fprintf(stderr, "%s: the checkpoint holds %llu parameters and %llu state values, the "
                        "network %zu and %zu\n",
                path, (unsigned long long)np, (unsigned long long)ns, m->n_params, m->n_state);
        rc = CN_EXIT_USAGE;
        goto out;
    }
    if (o) {
        uint64_t want1 = o->m1 ? o->n : 0, want2 = o->m2 ? o->n : 0;
        if (otype != (uint32_t)o->type || n1 != want1 || n2 != want2) {
            fprintf(stderr, "%s: the checkpoint holds the state of optimizer '%s', the experiment "
                            "uses '%s'; resume with the experiment file it was trained with\n",
                    path, opt_type_name(otype), opt_type_name((uint32_t)o->type));
            rc = CN_EXIT_USAGE;
            goto out;
        }
        if (n1) memcpy(o->m1, m1, n1 * sizeof(float));
        if (n2) memcpy(o->m2, m2, n2 * sizeof(float));
        o->step = (long)ostep;
    }
    if (np) memcpy(m->params, params, np * sizeof(float));
    if (ns) memcpy(m->state, state, ns * sizeof(float));
    m->dropout_rng = dropout;
    restore_conv_algos(path, m, algos, n_convs);
    if (meta) *meta = mt;
    rc = 0;
    goto out;

truncated:
    fprintf(stderr, "%s: the checkpoint is truncated (%zu bytes); use the other checkpoint of the "
                    "run (-best/-last) or start the run again\n",
            path, len);
    rc = CN_EXIT_FAIL;
out:
    free(algos);
    free(data);
    return rc;
}
