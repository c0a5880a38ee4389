/* fixture.h — reader for the golden fixtures written by make_fixtures.py.
 *
 * File format (little-endian):
 *   "CNFX" | u32 version (1) | u32 ntensors |
 *   ntensors x ( u32 namelen | name (no NUL) | u32 ndim | u32 dims[ndim] |
 *                float32 data[prod(dims)] )
 * Names are "<case>/<tensor>". */
#ifndef CNNRUN_TEST_FIXTURE_H
#define CNNRUN_TEST_FIXTURE_H

#include <stddef.h>

#define FIXTURE_VERSION 1
#define FIXTURE_MAX_DIMS 8

typedef struct {
    char name[96];
    int ndim;
    int dims[FIXTURE_MAX_DIMS];
    size_t count;  /* product of dims */
    float *data;
} FixtureTensor;

typedef struct {
    char path[512];
    int ntensors;
    FixtureTensor *tensors;
    char err[2048];  /* last error, human readable */
} Fixture;

/* Loads file `name` (e.g. "conv.bin") from $CNNRUN_SOURCE_DIR/tests/fixtures.
 * Returns 0 on success, -1 on failure with f->err set. */
int fixture_load(Fixture *f, const char *name);
/* Loads an explicit path. Same return convention. */
int fixture_load_path(Fixture *f, const char *path);
void fixture_free(Fixture *f);

/* Tensor `name`; NULL with f->err set if it is missing, or if expected_count
 * is not 0 and differs from the stored element count. */
const FixtureTensor *fixture_tensor(Fixture *f, const char *name, size_t expected_count);
/* Same, data only. */
const float *fixture_get(Fixture *f, const char *name, size_t expected_count);
/* "<prefix>/<name>" convenience. */
const float *fixture_getp(Fixture *f, const char *prefix, const char *name, size_t expected_count);
/* Whether "<prefix>/<name>" exists. */
int fixture_has(const Fixture *f, const char *prefix, const char *name);

/* A failure report that collects one line per failed comparison, so a test
 * can keep comparing after the first failure and show them all. */
typedef struct {
    char msg[8192];
    size_t len;
    int nfail;
} Report;

void rep_add(Report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
