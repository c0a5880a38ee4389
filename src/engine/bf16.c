/* bf16.c — the engine's bf16 matrix product (Precision PRECISION_BF16):
 * c = op(a) x op(b) + beta c with a and b rounded to bfloat16 (round to
 * nearest even: the top 16 bits of the fp32 value) and the products summed
 * in fp32. The inputs' rounding is the only difference from the fp32 product:
 * a bf16 x bf16 product is exact in fp32, so the paths below differ only in
 * the order of the fp32 sums.
 *
 * Where the product comes from (bf16_path; docs/performance.md has the
 * measurements that chose it):
 *  - oneDNN's matmul (Debian libdnnl-dev, when built with it) on a CPU with
 *    AMX-BF16 or AVX512-BF16: oneDNN picks the instructions (AMX tiles on a
 *    Sapphire Rapids or later Xeon, vdpbf16ps on Zen 4/5);
 *  - emulated everywhere else: the inputs rounded to bf16 values held as
 *    fp32, then OpenBLAS's sgemm. The same numbers as bf16 hardware up to
 *    the order of the sums, and slower than fp32 (a warning says so once per
 *    run: bf16_path_warning).
 *
 * oneDNN is loaded when a bf16 product first asks for it (dnnl_lib.c).
 *
 * Work space: each thread converts its operands into its own buffers, kept
 * and grown between calls (thread-local: they hold no values from one call
 * to the next), and, with oneDNN, its own engine and stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#ifdef CNNRUN_DNNL
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_in_parallel(void) { return 0; }
#endif

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "dnnl_lib.h"

float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) { /* inf, nan: keep (a nan stays a nan) */
        u &= 0xffff0000u;
        if ((u & 0x007f0000u) == 0 && x != x) u |= 0x00400000u;
    } else {
        u += 0x7fffu + ((u >> 16) & 1u); /* to nearest, ties to even */
        u &= 0xffff0000u;
    }
    float y;
    memcpy(&y, &u, 4);
    return y;
}

/* Multiply-adds from which a product goes to oneDNN (each call sets up a
 * primitive: some 20-50 us). Measured (ResNet-18's linear layer, 128 x 512 x
 * 10, oneDNN 0.6 GFLOP/s). */
#define BF16_DNNL_MIN_WORK (1 << 20)

/* ---- which path ------------------------------------------------------------ */

Bf16Path bf16_path(void) { return dnnl_lib_path(); }

const char *bf16_path_name(Bf16Path p)
{
    switch (p) {
    case BF16_ONEDNN_AMX: return "oneDNN (matmul, convolutions), AMX-BF16 tiles";
    case BF16_ONEDNN_AVX512: return "oneDNN (matmul, convolutions), AVX512-BF16 (vdpbf16ps)";
    case BF16_EMULATED: break;
    }
    return "emulated (inputs rounded to bf16, fp32 sgemm)";
}

int bf16_path_warning(char *buf, size_t size)
{
    if (bf16_path() != BF16_EMULATED) return 0;
#ifdef CNNRUN_DNNL
    const char *why = cpu_has_bf16() || cpu_has_amx_bf16()
                          ? "oneDNN's libdnnl.so.2 could not be loaded (Debian libdnnl2: "
                            "apt-get install libdnnl-dev)"
                          : "this CPU has neither AVX512-BF16 nor AMX-BF16";
#else
    const char *why = cpu_has_bf16() ? "this cnnrun was built without oneDNN (libdnnl-dev)"
                                     : "this CPU has no AVX512-BF16 and this cnnrun was built "
                                       "without oneDNN (libdnnl-dev)";
#endif
    snprintf(buf, size, "precision = bf16 is emulated here (%s): it computes what bf16 "
                        "hardware computes, more slowly than fp32", why);
    return 1;
}

/* ---- the thread's buffers ------------------------------------------------------ */

typedef struct {
    void *p;
    size_t bytes;
} Buf;

static _Thread_local Buf buf_a, buf_b;

static void *grow(Buf *b, size_t bytes)
{
    if (bytes > b->bytes) {
        free(b->p);
        b->p = xmalloc(bytes);
        b->bytes = bytes;
    }
    return b->p;
}

/* rows x cols of x (leading dimension ld) rounded into a dense rows x cols
 * array of floats (emulated); bf16 bits widened back to floats (exact). */
static void round_f32(const float *x, int rows, int cols, int ld, float *out)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) out[(size_t)r * cols + c] = bf16_round(x[(size_t)r * ld + c]);
}

static void widen_f32(const uint16_t *h, int rows, int cols, int ld, float *out)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            uint32_t u = (uint32_t)h[(size_t)r * ld + c] << 16;
            memcpy(out + (size_t)r * cols + c, &u, 4);
        }
}

static uint16_t to_bf16(float x)
{
    float r = bf16_round(x);
    uint32_t u;
    memcpy(&u, &r, 4);
    return (uint16_t)(u >> 16);
}

#ifdef CNNRUN_DNNL
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static void
pack_bf16_hw(const float *x, int rows, int cols, int ld, uint16_t *out)
{
    for (int r = 0; r < rows; r++) {
        const float *src = x + (size_t)r * ld;
        uint16_t *dst = out + (size_t)r * cols;
        int c = 0;
        for (; c + 32 <= cols; c += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + c + 16),
                                             _mm512_loadu_ps(src + c));
            _mm512_storeu_si512((void *)(dst + c), (__m512i)v);
        }
        for (; c < cols; c++) dst[c] = to_bf16(src[c]);
    }
}
#endif

void bf16_pack(const float *x, int rows, int cols, int ld, uint16_t *out)
{
#ifdef CNNRUN_DNNL
    if (dnnl_lib_vcvt()) {
        pack_bf16_hw(x, rows, cols, ld, out);
        return;
    }
#endif
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) out[(size_t)r * cols + c] = to_bf16(x[(size_t)r * ld + c]);
}

#ifdef CNNRUN_DNNL
/* ---- oneDNN's matmul, its primitives kept per thread -------------------------- */

/* A product's primitive and memory objects, kept for the next product of the
 * same shape on this thread (a step repeats a few dozen shapes thousands of
 * times): set up once, then only the data pointers change. */
typedef struct {
    int key[9]; /* trans_a, trans_b, m, n, k, lda, ldb, ldc, 1 when used */
    float beta;
    dnnl_primitive_t p;
    dnnl_memory_t am, bm, cm;
} Prim;

#define PRIM_CACHE 16
static _Thread_local Prim prim_cache[PRIM_CACHE];
static _Thread_local int prim_next;
static _Thread_local dnnl_engine_t dnnl_eng;
static _Thread_local dnnl_stream_t dnnl_str;

static void prim_free(Prim *e)
{
    if (e->am) dn.dnnl_memory_destroy(e->am);
    if (e->bm) dn.dnnl_memory_destroy(e->bm);
    if (e->cm) dn.dnnl_memory_destroy(e->cm);
    if (e->p) dn.dnnl_primitive_destroy(e->p);
    memset(e, 0, sizeof *e);
}

/* A new primitive for c (m x n, ldc) = op(A) x op(B) + beta c, A and B bf16
 * with leading dimensions lda, ldb as stored (A: m x k, or k x m when
 * trans_a). 0 on success. */
static int prim_make(Prim *e, int trans_a, int trans_b, int m, int n, int k, int lda, int ldb,
                     float beta, int ldc)
{
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
    dnnl_dims_t as = {trans_a ? 1 : lda, trans_a ? lda : 1};
    dnnl_dims_t bs = {trans_b ? 1 : ldb, trans_b ? ldb : 1};
    dnnl_dims_t cs = {ldc, 1};
    if (dn.dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_bf16, as) != dnnl_success ||
        dn.dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_bf16, bs) != dnnl_success ||
        dn.dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs) != dnnl_success)
        return -1;
    dnnl_matmul_desc_t md;
    if (dn.dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd) != dnnl_success) return -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = -1;
    if (dn.dnnl_primitive_attr_create(&attr) != dnnl_success) goto done;
    if (beta != 0.0f) { /* c = product + beta c, the sum in fp32 */
        if (dn.dnnl_post_ops_create(&ops) != dnnl_success ||
            dn.dnnl_post_ops_append_sum(ops, beta) != dnnl_success ||
            dn.dnnl_primitive_attr_set_post_ops(attr, ops) != dnnl_success)
            goto done;
    }
    if (dn.dnnl_primitive_desc_create(&pd, &md, attr, dnnl_eng, NULL) != dnnl_success ||
        dn.dnnl_primitive_create(&e->p, pd) != dnnl_success ||
        dn.dnnl_memory_create(&e->am, &amd, dnnl_eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dn.dnnl_memory_create(&e->bm, &bmd, dnnl_eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dn.dnnl_memory_create(&e->cm, &cmd, dnnl_eng, DNNL_MEMORY_NONE) != dnnl_success)
        goto done;
    rc = 0;
done:
    if (pd) dn.dnnl_primitive_desc_destroy(pd);
    if (ops) dn.dnnl_post_ops_destroy(ops);
    if (attr) dn.dnnl_primitive_attr_destroy(attr);
    if (rc) prim_free(e);
    return rc;
}

/* c = op(A) x op(B) + beta c on this thread, through its kept primitive for
 * the shape (made on first use). 0 on success. */
static int dnnl_product(int trans_a, int trans_b, int m, int n, int k, const uint16_t *a, int lda,
                        const uint16_t *b, int ldb, float beta, float *c, int ldc)
{
    if (!dnnl_eng) {
        if (dn.dnnl_engine_create(&dnnl_eng, dnnl_cpu, 0) != dnnl_success) return -1;
        if (dn.dnnl_stream_create(&dnnl_str, dnnl_eng, dnnl_stream_default_flags) != dnnl_success)
            return -1;
    }
    const int key[9] = {trans_a, trans_b, m, n, k, lda, ldb, ldc, 1};
    Prim *e = NULL;
    for (int i = 0; i < PRIM_CACHE && !e; i++)
        if (!memcmp(prim_cache[i].key, key, sizeof key) && prim_cache[i].beta == beta)
            e = &prim_cache[i];
    if (!e) {
        e = &prim_cache[prim_next];
        prim_next = (prim_next + 1) % PRIM_CACHE;
        prim_free(e);
        if (prim_make(e, trans_a, trans_b, m, n, k, lda, ldb, beta, ldc)) return -1;
        memcpy(e->key, key, sizeof key);
        e->beta = beta;
    }
    if (dn.dnnl_memory_set_data_handle(e->am, (void *)a) != dnnl_success ||
        dn.dnnl_memory_set_data_handle(e->bm, (void *)b) != dnnl_success ||
        dn.dnnl_memory_set_data_handle(e->cm, c) != dnnl_success)
        return -1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->am}, {DNNL_ARG_WEIGHTS, e->bm},
                               {DNNL_ARG_DST, e->cm}};
    if (dn.dnnl_primitive_execute(e->p, dnnl_str, 3, args) != dnnl_success ||
        dn.dnnl_stream_wait(dnnl_str) != dnnl_success)
        return -1;
    return 0;
}
#endif

void bf16_gemm_h(int trans_a, int trans_b, int m, int n, int k, const float *a,
                 const uint16_t *ah, int lda, const float *b, const uint16_t *bh, int ldb,
                 float beta, float *c, int ldc, int emulate)
{
    if (m <= 0 || n <= 0) return;
    /* op(A) is m x k: stored as m x k (k x m when transposed), ld lda */
    int ar = trans_a ? k : m, ac = trans_a ? m : k;
    int br = trans_b ? n : k, bc = trans_b ? k : n;
#ifdef CNNRUN_DNNL
    /* a product too small to pay for oneDNN's call (the classifier's:
     * 128 x 512 x 10) takes the emulated path: the same rounded inputs */
    if ((double)m * n * k < BF16_DNNL_MIN_WORK) emulate = 1;
    if (!emulate && bf16_path() != BF16_EMULATED && k > 0) {
        const uint16_t *pa = ah, *pb = bh;
        int la = lda, lb = ldb;
        if (!pa) {
            uint16_t *t = grow(&buf_a, sizeof(uint16_t) * (size_t)ar * ac);
            bf16_pack(a, ar, ac, lda, t);
            pa = t, la = ac;
        }
        if (!pb) {
            uint16_t *t = grow(&buf_b, sizeof(uint16_t) * (size_t)br * bc);
            bf16_pack(b, br, bc, ldb, t);
            pb = t, lb = bc;
        }
        int rc = -1;
        /* on this thread alone, as every engine product (gemm() splits them):
         * inside a region of one thread oneDNN starts no team of its own */
#pragma omp parallel num_threads(1) if (!omp_in_parallel())
        rc = dnnl_product(trans_a, trans_b, m, n, k, pa, la, pb, lb, beta, c, ldc);
        if (rc == 0) return;
        fprintf(stderr, "cnnrun: oneDNN's bf16 product failed (%d x %d x %d); computed emulated\n",
                m, n, k);
    }
#else
    (void)emulate;
#endif
    float *fa = grow(&buf_a, sizeof(float) * (size_t)ar * ac + 1);
    float *fb = grow(&buf_b, sizeof(float) * (size_t)br * bc + 1);
    if (ah) widen_f32(ah, ar, ac, lda, fa);
    else round_f32(a, ar, ac, lda, fa);
    if (bh) widen_f32(bh, br, bc, ldb, fb);
    else round_f32(b, br, bc, ldb, fb);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, fa, ac, fb, bc, beta, c, ldc);
}

void bf16_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc, int emulate)
{
    bf16_gemm_h(trans_a, trans_b, m, n, k, a, NULL, lda, b, NULL, ldb, beta, c, ldc, emulate);
}
