/* conv_dnnl.c — the convolution as oneDNN's convolution primitives
 * (CONV_ONEDNN): in bf16 on a CPU where oneDNN runs the bf16 path (AMX-BF16
 * tiles or AVX512-BF16), every shape, its forward pass, input gradient and
 * weight gradient one primitive each. What it computes is what every bf16
 * algorithm computes — the inputs rounded to bf16 (to nearest, ties to
 * even), the products summed in fp32, fp32 out — in another order of the
 * sums; it skips im2col's copies and Winograd's transforms, which cost more
 * than the AMX products themselves (docs/performance.md).
 *
 * The operands: the input and the output gradient converted to bf16 NHWC in
 * the conv's scratch (bf16_pack; the input's copy kept from forward to
 * backward where the caller gives it room: conv_forward_keep), the fp32 HWIO weights reordered (and
 * rounded) by oneDNN into the blocked bf16 layout its primitive asked for,
 * the weight gradient computed in oneDNN's blocked fp32 layout and reordered
 * back, added to the gradient (sum post-op). A bias is added after the
 * product, in fp32, as the other algorithms add it. The input gradient's
 * primitive has no sum: where it is added to, it runs by parts of the batch
 * into a buffer the caches keep, each part added before the next.
 *
 * Primitives are made on first use and kept per shape and thread count for
 * the process (a step repeats a few dozen shapes thousands of times; oneDNN
 * compiles each kernel when it makes it), with the buffers of the blocked
 * weights; oneDNN keeps its own scratchpad. One call at a time per process
 * (the engine runs one layer at a time), on ConvShape.threads threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "conv_dnnl.h"
#include "dnnl_lib.h"
#include "parallel.h"

int conv_dnnl_eligible(const ConvShape *s)
{
    return s->precision == PRECISION_BF16 && dnnl_lib_path() != BF16_EMULATED;
}

static size_t in_elems(const ConvShape *s)
{
    return (size_t)s->n * s->h * s->w * s->c_in;
}

static size_t out_elems(const ConvShape *s)
{
    return (size_t)s->n * s->h_out * s->w_out * s->c_out;
}

/* Scratch: the input as bf16, the output gradient as bf16, and the input
 * gradient in fp32 where it is added to (acc). */
size_t conv_dnnl_scratch_floats(const ConvShape *s)
{
    return bf16_floats(in_elems(s)) + bf16_floats(out_elems(s)) + in_elems(s);
}

size_t conv_dnnl_keep_floats(const ConvShape *s)
{
    return conv_dnnl_eligible(s) ? bf16_floats(in_elems(s)) : 0;
}

#ifndef CNNRUN_DNNL
int conv_dnnl_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                      float *out, float *scratch, float *keep)
{
    (void)s, (void)in, (void)weight, (void)bias, (void)out, (void)scratch, (void)keep;
    return -1;
}

int conv_dnnl_backward(const ConvShape *s, const float *in, const float *keep, const float *weight,
                       const float *dout, const uint16_t *dout_h, float *din, int acc,
                       float *dweight, float *scratch)
{
    (void)s, (void)in, (void)keep, (void)weight, (void)dout, (void)dout_h, (void)din, (void)acc;
    (void)dweight, (void)scratch;
    return -1;
}

int conv_dnnl_ready(const ConvShape *s)
{
    (void)s;
    return 0;
}
#else

/* One shape's primitives and memory objects. The user-side memories
 * (src, dst, ...) get their data pointers per call; the blocked weights and
 * weight gradient are oneDNN's own buffers. */
typedef struct Prims {
    int key[10]; /* n h w c_in c_out kh kw stride pad threads */
    int refused, warned; /* oneDNN made no primitive for the shape: asked once */
    dnnl_primitive_desc_t fwd_pd;
    dnnl_primitive_t fwd, bwd_d, bwd_w, w_fwd, w_bwd, dw_back;
    dnnl_memory_t src, wei_user, wei_fwd, wei_bwd, dst, ddst, dsrc, dw_blk, dw_user;
    /* the input gradient added to (acc) by parts of `part` images (0: at
     * once), each part's product still in cache when it is added */
    int part;
    dnnl_primitive_t bwd_d_part;
    dnnl_memory_t ddst_part, dsrc_part;
    struct Prims *next;
} Prims;

static Prims *kept;
static dnnl_engine_t eng;
static dnnl_stream_t str;

/* A memory descriptor of dims (N C H W or O I KH KW), type t, layout tag. */
static int md_tag(dnnl_memory_desc_t *md, const dnnl_dim_t *dims, dnnl_data_type_t t,
                  dnnl_format_tag_t tag)
{
    dnnl_dims_t d;
    memcpy(d, dims, sizeof(dnnl_dim_t) * 4);
    return dn.dnnl_memory_desc_init_by_tag(md, 4, d, t, tag) == dnnl_success ? 0 : -1;
}

static int mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *handle)
{
    return dn.dnnl_memory_create(m, md, eng, handle) == dnnl_success ? 0 : -1;
}

/* A primitive from its descriptor (hint: the forward's, for the backward
 * ones; sum: a sum post-op, for the weight gradient's reorder back); *pd
 * kept when pd_out is not NULL. */
static int make(dnnl_primitive_t *p, const_dnnl_op_desc_t desc, const_dnnl_primitive_desc_t hint,
                dnnl_primitive_desc_t *pd_out)
{
    dnnl_primitive_desc_t pd;
    if (dn.dnnl_primitive_desc_create(&pd, desc, NULL, eng, hint) != dnnl_success) return -1;
    int rc = dn.dnnl_primitive_create(p, pd) == dnnl_success ? 0 : -1;
    if (pd_out && rc == 0) *pd_out = pd;
    else dn.dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* A reorder from a to b (sum: b += a instead of b = a); b's memory desc. */
static int reorder(dnnl_primitive_t *p, const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b,
                   int sum)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = -1;
    if (sum && (dn.dnnl_primitive_attr_create(&attr) != dnnl_success ||
                dn.dnnl_post_ops_create(&ops) != dnnl_success ||
                dn.dnnl_post_ops_append_sum(ops, 1.0f) != dnnl_success ||
                dn.dnnl_primitive_attr_set_post_ops(attr, ops) != dnnl_success))
        goto done;
    if (dn.dnnl_reorder_primitive_desc_create(&pd, a, eng, b, eng, attr) != dnnl_success) goto done;
    rc = dn.dnnl_primitive_create(p, pd) == dnnl_success ? 0 : -1;
done:
    if (pd) dn.dnnl_primitive_desc_destroy(pd);
    if (ops) dn.dnnl_post_ops_destroy(ops);
    if (attr) dn.dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* The shape in oneDNN's terms: its memory descriptors (dims N C H W and
 * O I KH KW; bf16 where the product reads it, fp32 where it writes; the
 * weights' layouts `any`, for the primitive to choose, and the user's HWIO)
 * and the convolution's strides and left/top and right/bottom padding (what
 * makes the output h_out x w_out). */
typedef struct {
    dnnl_memory_desc_t src, dsrc, dst, ddst, wei_any, dw_any, wei_user;
    dnnl_dims_t strides, pad, pad_r;
} Descs;

static int descs(Descs *d, const ConvShape *s)
{
    const dnnl_dim_t src[4] = {s->n, s->c_in, s->h, s->w},
                     dst[4] = {s->n, s->c_out, s->h_out, s->w_out},
                     wei[4] = {s->c_out, s->c_in, s->kh, s->kw};
    d->strides[0] = d->strides[1] = s->stride;
    d->pad[0] = d->pad[1] = s->pad;
    d->pad_r[0] = (s->h_out - 1) * s->stride + s->kh - s->h - s->pad;
    d->pad_r[1] = (s->w_out - 1) * s->stride + s->kw - s->w - s->pad;
    if (md_tag(&d->src, src, dnnl_bf16, dnnl_nhwc) || md_tag(&d->dsrc, src, dnnl_f32, dnnl_nhwc) ||
        md_tag(&d->dst, dst, dnnl_f32, dnnl_nhwc) || md_tag(&d->ddst, dst, dnnl_bf16, dnnl_nhwc) ||
        md_tag(&d->wei_any, wei, dnnl_bf16, dnnl_format_tag_any) ||
        md_tag(&d->dw_any, wei, dnnl_f32, dnnl_format_tag_any) ||
        md_tag(&d->wei_user, wei, dnnl_f32, dnnl_hwio))
        return -1;
    return 0;
}

static int forward_desc(dnnl_convolution_desc_t *cd, Descs *d)
{
    return dn.dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct,
                                                 &d->src, &d->wei_any, NULL, &d->dst, d->strides,
                                                 d->pad, d->pad_r) == dnnl_success ? 0 : -1;
}

static int backward_data_desc(dnnl_convolution_desc_t *bd, Descs *d)
{
    return dn.dnnl_convolution_backward_data_desc_init(bd, dnnl_convolution_direct, &d->dsrc,
                                                       &d->wei_any, &d->ddst, d->strides, d->pad,
                                                       d->pad_r) == dnnl_success ? 0 : -1;
}

/* The forward primitive and the weights' reorder into its layout. */
static int make_forward(Prims *e, const ConvShape *s)
{
    Descs d;
    dnnl_convolution_desc_t cd;
    if (descs(&d, s) || forward_desc(&cd, &d) || make(&e->fwd, &cd, NULL, &e->fwd_pd)) return -1;
    const dnnl_memory_desc_t *w = dn.dnnl_primitive_desc_query_md(e->fwd_pd, dnnl_query_weights_md, 0);
    if (mem(&e->src, &d.src, DNNL_MEMORY_NONE) || mem(&e->dst, &d.dst, DNNL_MEMORY_NONE) ||
        mem(&e->wei_user, &d.wei_user, DNNL_MEMORY_NONE) ||
        mem(&e->wei_fwd, w, DNNL_MEMORY_ALLOCATE) || reorder(&e->w_fwd, &d.wei_user, w, 0))
        return -1;
    return 0;
}

/* The backward primitives, the weights' reorder into the input gradient's
 * layout and the weight gradient's back into HWIO. */
static int make_backward(Prims *e, const ConvShape *s)
{
    Descs d;
    dnnl_convolution_desc_t bd, wd;
    dnnl_primitive_desc_t bd_pd = NULL, wd_pd = NULL;
    int rc = -1;
    if (descs(&d, s) || backward_data_desc(&bd, &d) ||
        dn.dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &d.src,
                                                       &d.dw_any, NULL, &d.ddst, d.strides, d.pad,
                                                       d.pad_r) != dnnl_success ||
        make(&e->bwd_d, &bd, e->fwd_pd, &bd_pd) || make(&e->bwd_w, &wd, e->fwd_pd, &wd_pd))
        goto done;
    const dnnl_memory_desc_t *w = dn.dnnl_primitive_desc_query_md(bd_pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dw = dn.dnnl_primitive_desc_query_md(wd_pd, dnnl_query_diff_weights_md, 0);
    if (mem(&e->ddst, &d.ddst, DNNL_MEMORY_NONE) || mem(&e->dsrc, &d.dsrc, DNNL_MEMORY_NONE) ||
        mem(&e->wei_bwd, w, DNNL_MEMORY_ALLOCATE) || mem(&e->dw_blk, dw, DNNL_MEMORY_ALLOCATE) ||
        mem(&e->dw_user, &d.wei_user, DNNL_MEMORY_NONE) || reorder(&e->w_bwd, &d.wei_user, w, 0) ||
        reorder(&e->dw_back, dw, &d.wei_user, 1))
        goto done;
    rc = 0;
done:
    if (bd_pd) dn.dnnl_primitive_desc_destroy(bd_pd);
    if (wd_pd) dn.dnnl_primitive_desc_destroy(wd_pd);
    return rc;
}

/* Images per part of an added input gradient: the most that divide the
 * batch and whose fp32 input gradient fits ACC_PART_BYTES (about what the
 * two cores' caches keep); 0 (all at once) where that is the whole batch or
 * parts would be too small to run well. */
#define ACC_PART_BYTES (1 << 20)
static int acc_part(const ConvShape *s)
{
    const size_t per_image = sizeof(float) * (size_t)s->h * s->w * s->c_in;
    int best = 0;
    for (int d = 1; d < s->n; d++)
        if (s->n % d == 0 && d * per_image <= ACC_PART_BYTES) best = d;
    return best >= 2 && best * per_image * 4 >= ACC_PART_BYTES ? best : 0;
}

/* The input gradient's primitive for a part of `part` images, where it takes
 * the weights in the layout the whole batch's takes (else e->part stays 0). */
static void make_backward_part(Prims *e, const ConvShape *s)
{
    ConvShape p = *s;
    p.n = acc_part(s);
    if (!p.n) return;
    Descs d;
    dnnl_convolution_desc_t cd, bd;
    dnnl_primitive_desc_t fwd_pd = NULL, bd_pd = NULL;
    if (descs(&d, &p) || forward_desc(&cd, &d) ||
        dn.dnnl_primitive_desc_create(&fwd_pd, &cd, NULL, eng, NULL) != dnnl_success ||
        backward_data_desc(&bd, &d) || make(&e->bwd_d_part, &bd, fwd_pd, &bd_pd))
        goto done;
    const dnnl_memory_desc_t *w = dn.dnnl_primitive_desc_query_md(bd_pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *whole = NULL;
    dn.dnnl_memory_get_memory_desc(e->wei_bwd, &whole);
    if (whole && dn.dnnl_memory_desc_equal(w, whole) &&
        !mem(&e->ddst_part, &d.ddst, DNNL_MEMORY_NONE) && !mem(&e->dsrc_part, &d.dsrc, DNNL_MEMORY_NONE))
        e->part = p.n;
done:
    if (fwd_pd) dn.dnnl_primitive_desc_destroy(fwd_pd);
    if (bd_pd) dn.dnnl_primitive_desc_destroy(bd_pd);
}

/* The kept primitives of s (the backward ones too when backward), made on
 * first use; NULL where oneDNN refuses the shape. */
static Prims *prims(const ConvShape *s, int backward)
{
    if (!eng && (dn.dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success ||
                 dn.dnnl_stream_create(&str, eng, dnnl_stream_default_flags) != dnnl_success))
        return NULL;
    const int key[10] = {s->n,  s->h,  s->w,      s->c_in, s->c_out,
                         s->kh, s->kw, s->stride, s->pad,  conv_max_threads(s)};
    Prims *e = kept;
    while (e && memcmp(e->key, key, sizeof key)) e = e->next;
    if (!e) {
        e = xcalloc(1, sizeof *e);
        memcpy(e->key, key, sizeof key);
        e->refused = make_forward(e, s) != 0; /* (what was made is kept: once a shape) */
        e->next = kept;
        kept = e;
    }
    if (!e->refused && backward && !e->bwd_w) {
        e->refused = make_backward(e, s) != 0;
        if (!e->refused) make_backward_part(e, s);
    }
    if (e->refused && !e->warned) {
        fprintf(stderr, "cnnrun: warning: oneDNN has no bf16 convolution for %d x %dx%d -> %d "
                        "(%dx%d, stride %d): im2col computes it\n",
                s->c_in, s->h, s->w, s->c_out, s->kh, s->kw, s->stride);
        e->warned = 1;
    }
    return e->refused ? NULL : e;
}

static int run(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args)
{
    return dn.dnnl_primitive_execute(p, str, nargs, args) == dnnl_success ? 0 : -1;
}

static int set(dnnl_memory_t m, const void *p)
{
    return dn.dnnl_memory_set_data_handle(m, (void *)p) == dnnl_success ? 0 : -1;
}

/* x (rows x cols, dense) as bf16 bits, on the engine's threads: one
 * contiguous range each, converted as one row (a call per row of 64 values
 * cost more than the conversion). */
static void pack_rows(const float *x, size_t rows, int cols, uint16_t *out)
{
    const size_t n = rows * (size_t)cols;
    const int T = n > PARALLEL_MIN ? parallel_max_threads() : 1;
    PARALLEL_THREADS(T)
    {
        const size_t t = (size_t)parallel_thread_num(), nt = (size_t)parallel_num_threads();
        for (size_t b = n * t / nt, e = n * (t + 1) / nt; b < e;) {
            const size_t len = e - b < (1u << 30) ? e - b : (1u << 30);
            bf16_pack(x + b, 1, (int)len, (int)len, out + b);
            b += len;
        }
    }
}

/* oneDNN's team is OpenMP's: the call runs on the conv's threads. */
typedef struct {
    int saved;
} Team;

static Team team_enter(const ConvShape *s)
{
    Team t = {parallel_max_threads()};
    parallel_set_threads(conv_max_threads(s));
    return t;
}

static void team_leave(Team t)
{
    parallel_set_threads(t.saved);
}

/* A primitive that was made failed to run: nothing to fall back on, since
 * part of the results may be written. */
static void failed(const ConvShape *s)
{
    fprintf(stderr, "cnnrun: oneDNN's bf16 convolution %d x %dx%d -> %d (%dx%d, stride %d) failed\n",
            s->c_in, s->h, s->w, s->c_out, s->kh, s->kw, s->stride);
    exit(CN_EXIT_FAIL);
}

int conv_dnnl_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                      float *out, float *scratch, float *keep)
{
    Team t = team_enter(s);
    Prims *e = prims(s, 0);
    if (!e) {
        team_leave(t);
        return -1;
    }
    uint16_t *inh = (uint16_t *)(keep ? keep : scratch);
    if (in) pack_rows(in, (size_t)s->n * s->h * s->w, s->c_in, inh); /* else keep holds it */
    dnnl_exec_arg_t wr[2] = {{DNNL_ARG_FROM, e->wei_user}, {DNNL_ARG_TO, e->wei_fwd}};
    dnnl_exec_arg_t fw[3] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei_fwd},
                             {DNNL_ARG_DST, e->dst}};
    if (set(e->wei_user, weight) || set(e->src, inh) || set(e->dst, out) || run(e->w_fwd, 2, wr) ||
        run(e->fwd, 3, fw) || dn.dnnl_stream_wait(str) != dnnl_success)
        failed(s);
    team_leave(t);
    if (bias) {
        const size_t m = (size_t)s->n * s->h_out * s->w_out, c = (size_t)s->c_out;
        PARALLEL_FOR(m * c)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < c; j++) out[i * c + j] += bias[j];
    }
    return 0;
}

int conv_dnnl_ready(const ConvShape *s)
{
    Team t = team_enter(s);
    int ok = prims(s, 1) != NULL;
    team_leave(t);
    return ok;
}

int conv_dnnl_backward(const ConvShape *s, const float *in, const float *keep, const float *weight,
                       const float *dout, const uint16_t *dout_h, float *din, int acc,
                       float *dweight, float *scratch)
{
    Team t = team_enter(s);
    Prims *e = prims(s, 1);
    if (!e) {
        team_leave(t);
        return -1;
    }
    uint16_t *inh = (uint16_t *)scratch;
    uint16_t *douth = (uint16_t *)(scratch + bf16_floats(in_elems(s)));
    float *tmp = scratch + bf16_floats(in_elems(s)) + bf16_floats(out_elems(s));
    if (dout_h) douth = (uint16_t *)dout_h; /* converted by the layer after it */
    else pack_rows(dout, (size_t)s->n * s->h_out * s->w_out, s->c_out, douth);
    if (set(e->ddst, douth)) failed(s);
    if (dweight) {
        if (keep) inh = (uint16_t *)keep; /* the forward's conversion */
        else pack_rows(in, (size_t)s->n * s->h * s->w, s->c_in, inh);
        dnnl_exec_arg_t bw[3] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_DIFF_DST, e->ddst},
                                 {DNNL_ARG_DIFF_WEIGHTS, e->dw_blk}};
        dnnl_exec_arg_t back[2] = {{DNNL_ARG_FROM, e->dw_blk}, {DNNL_ARG_TO, e->dw_user}};
        if (set(e->src, inh) || set(e->dw_user, dweight) || run(e->bwd_w, 3, bw) ||
            run(e->dw_back, 2, back))
            failed(s);
    }
    const int parts = din && acc && e->part;
    if (din) {
        dnnl_exec_arg_t wr[2] = {{DNNL_ARG_FROM, e->wei_user}, {DNNL_ARG_TO, e->wei_bwd}};
        dnnl_exec_arg_t bd[3] = {{DNNL_ARG_DIFF_DST, e->ddst}, {DNNL_ARG_WEIGHTS, e->wei_bwd},
                                 {DNNL_ARG_DIFF_SRC, e->dsrc}};
        if (set(e->wei_user, weight) || run(e->w_bwd, 2, wr) ||
            (!parts && (set(e->dsrc, acc ? tmp : din) || run(e->bwd_d, 3, bd))))
            failed(s);
    }
    if (dn.dnnl_stream_wait(str) != dnnl_success) failed(s);
    if (parts) { /* each part's product added while it is in cache */
        const size_t in_part = in_elems(s) / (size_t)s->n * e->part;
        const size_t out_part = out_elems(s) / (size_t)s->n * e->part;
        dnnl_exec_arg_t bd[3] = {{DNNL_ARG_DIFF_DST, e->ddst_part},
                                 {DNNL_ARG_WEIGHTS, e->wei_bwd},
                                 {DNNL_ARG_DIFF_SRC, e->dsrc_part}};
        for (int i = 0; i < s->n; i += e->part) {
            if (set(e->ddst_part, douth + (size_t)i / (size_t)e->part * out_part) ||
                set(e->dsrc_part, tmp) || run(e->bwd_d_part, 3, bd) ||
                dn.dnnl_stream_wait(str) != dnnl_success)
                failed(s);
            float *d = din + (size_t)i / (size_t)e->part * in_part;
            PARALLEL_FOR(in_part)
            for (size_t k = 0; k < in_part; k++) d[k] += tmp[k];
        }
    }
    team_leave(t);
    if (din && acc && !parts) {
        const size_t n = in_elems(s);
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += tmp[i];
    }
    return 0;
}
#endif
