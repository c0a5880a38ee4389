/* fixture.c — see fixture.h. */
#include <stdarg.h>
#include "fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_u32(FILE *fp, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, fp) != 4) return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static int read_f32(FILE *fp, float *dst, size_t n)
{
    unsigned char b[4];
    for (size_t i = 0; i < n; i++) {
        if (fread(b, 1, 4, fp) != 4) return -1;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
    return 0;
}

void fixture_free(Fixture *f)
{
    if (f->tensors) {
        for (int i = 0; i < f->ntensors; i++) free(f->tensors[i].data);
        free(f->tensors);
    }
    f->tensors = NULL;
    f->ntensors = 0;
}

int fixture_load_path(Fixture *f, const char *path)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(f->err, sizeof f->err,
                 "fixture %s: cannot open (set CNNRUN_SOURCE_DIR; regenerate with "
                 "/usr/bin/python3 tests/golden/make_fixtures.py)", path);
        return -1;
    }
    char magic[4];
    uint32_t version = 0, n = 0;
    if (fread(magic, 1, 4, fp) != 4 || memcmp(magic, "CNFX", 4) != 0) {
        snprintf(f->err, sizeof f->err, "fixture %s: bad magic (not a CNFX file)", path);
        goto fail;
    }
    if (read_u32(fp, &version) || version != FIXTURE_VERSION) {
        snprintf(f->err, sizeof f->err, "fixture %s: version %u, reader expects %d", path,
                 (unsigned)version, FIXTURE_VERSION);
        goto fail;
    }
    if (read_u32(fp, &n) || n > 100000) {
        snprintf(f->err, sizeof f->err, "fixture %s: bad tensor count", path);
        goto fail;
    }
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) {
        snprintf(f->err, sizeof f->err, "fixture %s: out of memory", path);
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        FixtureTensor *t = &f->tensors[i];
        uint32_t len, ndim;
        if (read_u32(fp, &len) || len == 0 || len >= sizeof t->name ||
            fread(t->name, 1, len, fp) != len) {
            snprintf(f->err, sizeof f->err, "fixture %s: tensor %u: bad name", path, (unsigned)i);
            goto fail;
        }
        t->name[len] = '\0';
        f->ntensors = (int)i + 1;
        if (read_u32(fp, &ndim) || ndim > FIXTURE_MAX_DIMS) {
            snprintf(f->err, sizeof f->err, "fixture %s: %s: bad ndim", path, t->name);
            goto fail;
        }
        t->ndim = (int)ndim;
        t->count = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            uint32_t v;
            if (read_u32(fp, &v) || v > (1u << 24)) {
                snprintf(f->err, sizeof f->err, "fixture %s: %s: bad dim", path, t->name);
                goto fail;
            }
            t->dims[d] = (int)v;
            t->count *= v;
        }
        if (t->count > (1u << 24)) {
            snprintf(f->err, sizeof f->err, "fixture %s: %s: too large", path, t->name);
            goto fail;
        }
        t->data = malloc((t->count ? t->count : 1) * sizeof(float));
        if (!t->data || read_f32(fp, t->data, t->count)) {
            snprintf(f->err, sizeof f->err, "fixture %s: %s: truncated data", path, t->name);
            goto fail;
        }
    }
    if (fgetc(fp) != EOF) {
        snprintf(f->err, sizeof f->err, "fixture %s: trailing bytes after %u tensors", path,
                 (unsigned)n);
        goto fail;
    }
    fclose(fp);
    return 0;
fail:
    fclose(fp);
    fixture_free(f);
    return -1;
}

int fixture_load(Fixture *f, const char *name)
{
    const char *root = getenv("CNNRUN_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", root && *root ? root : ".", name);
    return fixture_load_path(f, path);
}

const FixtureTensor *fixture_tensor(Fixture *f, const char *name, size_t expected_count)
{
    for (int i = 0; i < f->ntensors; i++) {
        FixtureTensor *t = &f->tensors[i];
        if (strcmp(t->name, name) != 0) continue;
        if (expected_count && t->count != expected_count) {
            snprintf(f->err, sizeof f->err,
                     "fixture %s: tensor '%s' has %zu elements, test expects %zu "
                     "(fixture and test out of sync?)", f->path, name, t->count, expected_count);
            return NULL;
        }
        return t;
    }
    snprintf(f->err, sizeof f->err, "fixture %s: no tensor named '%s'", f->path, name);
    return NULL;
}

const float *fixture_get(Fixture *f, const char *name, size_t expected_count)
{
    const FixtureTensor *t = fixture_tensor(f, name, expected_count);
    return t ? t->data : NULL;
}

const float *fixture_getp(Fixture *f, const char *prefix, const char *name, size_t expected_count)
{
    char full[256];
    snprintf(full, sizeof full, "%s/%s", prefix, name);
    return fixture_get(f, full, expected_count);
}

int fixture_has(const Fixture *f, const char *prefix, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s/%s", prefix, name);
    for (int i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, full) == 0) return 1;
    return 0;
}

void rep_add(Report *r, const char *fmt, ...)
{
    if (r->len >= sizeof r->msg - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->msg + r->len, sizeof r->msg - r->len, fmt, ap);
    va_end(ap);
    if (k > 0) r->len += (size_t)k;
    if (r->len > sizeof r->msg - 1) r->len = sizeof r->msg - 1;
}
