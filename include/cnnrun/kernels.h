/* kernels.h — the engine: forward and backward of every primitive layer as
 * plain functions over float buffers (llm.c style). No allocation, no hidden
 * state: work space and the thread count come in with each call (a Workspace,
 * or a conv's scratch and ConvShape.threads), sized by the matching
 * *_work_floats / conv_scratch_floats, which the model plans once at build.
 *
 * Conventions
 *  - Activations are NHWC (channels last): x[((n*H + y)*W + x)*C + c].
 *  - conv weight is (KH, KW, C_in, C_out) row-major, i.e. a (K, C_out) matrix
 *    with K = KH*KW*C_in; PyTorch's (C_out, C_in, KH, KW) permuted (3,2,1,0)->...
 *    see tests/golden/make_fixtures.py for the exact conversion.
 *  - linear weight is (in, out) row-major (PyTorch's weight transposed).
 *  - Backward functions ADD into parameter gradients (dweight, dbias, dgamma,
 *    dbeta): the trainer zeroes them once per step. Input gradients are
 *    written (acc = 0) or added (acc = 1): a tensor read by several layers
 *    gets the sum of their gradients.
 *  - dinput may be NULL when no gradient is needed (the network's input).
 */
#ifndef CNNRUN_KERNELS_H
#define CNNRUN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- threads and work space (src/engine/gemm.c) ----
 * engine_set_threads sets the engine's thread count (the OpenMP team's, with
 * OpenBLAS single-threaded inside it; without OpenMP, OpenBLAS's), before
 * model_build: the memory plan sizes per-thread work space by it.
 * engine_get_threads reads it back from OpenMP (or OpenBLAS). */
void engine_set_threads(int n);
int engine_get_threads(void);

/* ---- the BLAS underneath (src/engine/blas_info.c) ----
 * The OpenBLAS core that runs (openblas_get_corename: "Haswell", "SkylakeX",
 * "Prescott", ...) and its build line; the vector level a core is written for
 * and the one the CPU has; blas_core_advice writes a warning into buf (and
 * returns 1) when the core leaves the CPU's vectors unused, naming the
 * OPENBLAS_CORETYPE to set (env_coretype: that variable's value, NULL when
 * unset; an AVX2 core set on purpose on an AVX-512 CPU is not warned about);
 * blas_warn prints it on stderr (the caller says it once: study_setup_threads; a --jobs
 * parent before it forks, its workers not). cnnrun never sets the variable. */
typedef enum { ISA_UNKNOWN, ISA_SSE, ISA_AVX, ISA_AVX2, ISA_AVX512 } IsaLevel;
const char *blas_core_name(void);
const char *blas_config(void);
IsaLevel blas_core_level(const char *core);
IsaLevel cpu_isa_level(void);
const char *isa_level_name(IsaLevel l);
int blas_core_advice(const char *core, IsaLevel cpu, const char *env_coretype, char *buf,
                     size_t size);
void blas_warn(void);

/* Batch norm over a batch split across processes (data-parallel training,
 * src/train/dist.c): the training statistics are combined over all of them,
 * so each computes what one process computes on the whole batch. The engine
 * only calls these; it knows nothing of MPI. */
typedef struct {
    /* in: this process's rows *count and per-channel mean and M2 (sum of
     * squared deviations from that mean), c each; out: the whole batch's,
     * the same on every process */
    void (*moments)(void *ctx, int c, double *count, double *mean, double *m2);
    /* in: this process's per-channel sums (n doubles); out: their totals
     * over the processes, the same on every process */
    void (*sums)(void *ctx, int n, double *v);
    void *ctx;
} BnSync;

/* The precision of the matrix products ([experiment] precision): fp32, or
 * bf16 inputs with fp32 sums (src/engine/bf16.c, conv_dnnl.c). Everything
 * else — the stored activations (but the bf16 copies of a oneDNN conv's
 * input, the same values its product rounds), batch norm, the loss, the
 * weights and the optimizer — stays fp32. */
typedef enum { PRECISION_FP32 = 0, PRECISION_BF16, PRECISION_COUNT } Precision;

/* A kernel call's work space and the threads it may use. */
typedef struct {
    float *f;      /* `floats` floats, 64-byte aligned */
    size_t floats;
    int threads;   /* >= 1 */
    int precision; /* Precision of its matrix products */
    /* batch norm in training: statistics over the processes that share the
     * batch; NULL (always outside data-parallel training): this one's rows */
    const BnSync *bn_sync;
} Workspace;
/* For callers outside a model (tests, tools). Here and in every
 * *_work_floats, threads 0 means the engine's count. */
Workspace workspace_alloc(size_t floats, int threads);
void workspace_free(Workspace *ws);

/* Runs body(ctx, begin, end) over [0, n) in static, contiguous ranges on the
 * engine's threads (one range when n is small): results cannot depend on
 * timing. */
void parallel_for(size_t n, void (*body)(void *ctx, size_t begin, size_t end), void *ctx);

/* ---- matrix products ----
 * c (m,n) = op(a) (m,k) x op(b) (k,n) + beta * c, row-major, op = transpose
 * when trans_* is set. With OpenMP the product is split over ws->threads
 * (single-threaded OpenBLAS in each) unless called from inside a parallel
 * region or with ws NULL (one thread); a split of the inner dimension keeps
 * its partial results in ws->f (gemm_work_floats). Without OpenMP,
 * OpenBLAS's threads do large products. */
size_t gemm_work_floats(int m, int n, int k, int threads);
void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc, const Workspace *ws);

/* ---- bf16 products (src/engine/bf16.c) ----
 * bf16_gemm: c (m,n) = op(a) x op(b) + beta c, row-major, with a and b
 * rounded to bf16 (to nearest, ties to even) and the products summed in
 * fp32 — by oneDNN's matmul where the CPU has bf16 instructions and cnnrun
 * was built with oneDNN, else emulated (the rounded inputs through sgemm;
 * `emulate` asks for that path anyway: tests compare the two). The same
 * numbers either way up to the order of the fp32 sums. One thread. gemm()
 * calls it for a Workspace of PRECISION_BF16. */
typedef enum { BF16_EMULATED, BF16_ONEDNN_AVX512, BF16_ONEDNN_AMX } Bf16Path;
void bf16_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc, int emulate);
/* bf16_gemm_h: the same with either operand given as bf16 bits already
 * (ah / bh, from bf16_pack, leading dimension lda / ldb) instead of fp32
 * (a / b): exactly one of each pair is not NULL. An operand used by many
 * products (a convolution's weights, a chunk's output gradient) is converted
 * once. */
void bf16_gemm_h(int trans_a, int trans_b, int m, int n, int k, const float *a,
                 const uint16_t *ah, int lda, const float *b, const uint16_t *bh, int ldb,
                 float beta, float *c, int ldc, int emulate);
/* x (rows x cols, leading dimension ld) as bf16 bits (to nearest, ties to
 * even), dense (leading dimension cols). */
void bf16_pack(const float *x, int rows, int cols, int ld, uint16_t *out);
/* x rounded to the nearest bf16 value (ties to even), as an fp32. */
float bf16_round(float x);
/* The path bf16_gemm takes on this CPU and build, and its name. */
Bf16Path bf16_path(void);
const char *bf16_path_name(Bf16Path p);
/* Where the path is emulated: a warning (slower than fp32, and why) into
 * buf, 1; else 0. */
int bf16_path_warning(char *buf, size_t size);

/* The sgemm peak as the engine runs products (src/engine/peak.c): GFLOP/s of
 * the best of `reps` n x n x n products through gemm() on the engine's
 * threads, after one warm-up product. */
double gemm_peak_gflops(int n, int reps);
/* The same for products of a Precision (PRECISION_BF16: bf16_gemm's path). */
double gemm_peak_gflops_in(int n, int reps, int precision);

/* ---- convolution (im2col + cblas_sgemm; 1x1 stride-1 without im2col) ---- */
/* Algorithms (the table in src/engine/conv_algo.c has one row per algorithm:
 * its name, the shapes it computes, whether the shape rule prefers it, and
 * the algorithm of its weight gradient). CONV_IM2COL: im2col + GEMM for all
 * three products, every shape. CONV_WINOGRAD: Winograd F(2x2,3x3)
 * (src/engine/winograd.c) for the forward pass and the input gradient of
 * 3x3 stride-1 pad-1 layers, the weight gradient by im2col. CONV_WINOGRAD4:
 * Winograd F(4x4,3x3) for all three products of those layers. CONV_ONEDNN:
 * oneDNN's convolution primitives (src/engine/conv_dnnl.c) for all three, in
 * bf16 where oneDNN runs the bf16 path, every shape. CONV_AUTO: the
 * shape rule (conv_algo_rule). An algorithm a shape is not eligible for runs
 * as im2col. The model chooses each conv's algorithm (Node.algo): by
 * measuring, by the rule, or as CNNRUN_CONV forces (EngineSettings;
 * src/model/tune.c). */
enum { CONV_AUTO = 0, CONV_IM2COL = 1, CONV_WINOGRAD = 2, CONV_WINOGRAD4 = 3, CONV_ONEDNN = 4 };

typedef struct {
    int n, h, w, c_in;       /* input (N,H,W,C_in) */
    int c_out, kh, kw, stride, pad;
    int h_out, w_out;        /* filled by conv_shape_init */
    int algo;                /* CONV_*: forward and input gradient, and the weight
                                gradient unless algo_dweight says otherwise */
    int algo_dweight;        /* the weight gradient's: CONV_AUTO (0) follows `algo`
                                the row's own: conv_algo_used_dweight) */
    int threads;             /* most threads to use, 0: the engine's count; scratch sized
                                by conv_scratch_floats with the same value holds them */
    int dwsplit;             /* CONV_DWSPLIT_*: how the weight gradient is split (the
                                scratch depends on it) */
    int precision;           /* Precision of its products (PRECISION_FP32: 0) */
} ConvShape;

/* The algorithm that runs the weight gradient of s: s->algo_dweight where
 * set and eligible, else the weight-gradient algorithm of the row
 * conv_algo_resolve gives (the forward pass's and input gradient's); never
 * CONV_AUTO (an ineligible choice runs im2col). */
int conv_algo_used_dweight(const ConvShape *s);

void conv_shape_init(ConvShape *s);

/* ---- the convolution algorithms (src/engine/conv_algo.c) ---- */
/* Rows of the table, and row i's algorithm (CONV_IM2COL is row 0). */
int conv_algo_count(void);
int conv_algo_at(int i);
/* Its name ("im2col", "winograd": CNNRUN_CONV's values, the model table's and
 * the results' layers.conv_algo), "auto" for CONV_AUTO, NULL when unknown. */
const char *conv_algo_name(int algo);
/* The algorithm of a name, -1 when there is none. */
int conv_algo_by_name(const char *name);
/* 1 if algo computes shape s itself (CONV_IM2COL: every shape). */
int conv_algo_eligible(int algo, const ConvShape *s);
/* 1 if the rule or the tuner may give s algo: eligible, and in bf16 not
 * Winograd F(4x4) (its bf16 products double the gradients' error;
 * CNNRUN_CONV=winograd4 still forces it). */
int conv_algo_choosable(int algo, const ConvShape *s);
/* The choosable algorithms of s in table order (at most max); returns how many. */
int conv_algo_candidates(const ConvShape *s, int *algos, int max);
/* The shape rule: the last choosable row that prefers s (Winograd F(4x4)
 * wherever it computes an fp32 shape: measured fastest on the CPUs we know;
 * docs/performance.md), im2col where none does. */
int conv_algo_rule(const ConvShape *s);
/* The rule before 2026-12-07 (F(2x2) with >= 128 channels in and out on
 * images >= 4x4, im2col elsewhere): what a checkpoint that recorded no
 * algorithms computed (model_set_conv_algos with NULL). */
int conv_algo_rule_v1(const ConvShape *s);
/* What conv_forward/conv_backward run for s: s->algo where eligible, the rule
 * for CONV_AUTO, im2col otherwise. */
int conv_algo_resolve(const ConvShape *s);

/* How the model chooses each convolution's algorithm (EngineSettings.conv):
 * by the shape rule (the zero value: a library caller that says nothing
 * measures nothing); by measuring, kept per machine in the wisdom file and
 * taken from there when the same shape was measured before (src/model/
 * tune.c, wisdom.c); by measuring again whatever the file holds; or one
 * algorithm wherever eligible (EngineSettings.conv_forced). */
typedef enum {
    CONV_CHOICE_RULE = 0,
    CONV_CHOICE_TUNE,
    CONV_CHOICE_RETUNE,
    CONV_CHOICE_FORCED,
    CONV_CHOICE_COUNT
} ConvChoice;

/* How a convolution's weight gradient is split over threads (src/engine/
 * dwsplit.c): CONV_DWSPLIT_BATCH, each thread its share of the images or
 * tiles into its own copy of the gradient, the copies added in thread order;
 * CONV_DWSPLIT_ROWS, the threads build each chunk together and each adds its
 * blocks of the gradient's rows into the one gradient (the result does not
 * depend on the thread count); CONV_DWSPLIT_AUTO, rows from 4 threads where
 * the gradient has a block of rows for every thread. */
enum { CONV_DWSPLIT_AUTO = 0, CONV_DWSPLIT_BATCH = 1, CONV_DWSPLIT_ROWS = 2, CONV_DWSPLIT_COUNT };

/* ---- the engine's settings (src/engine/settings.c) ----
 * Every setting below the command line that changes what the engine
 * computes (or how it chooses to), read from the environment in one place
 * (engine_settings_from_env, called once by the command line), carried by
 * the Experiment to the model (Experiment.engine, Model.engine) and from
 * there into each call (ConvShape.dwsplit), recorded with each run
 * (runs.engine: engine_settings_text), shown by `runs --diff` and put back
 * on resume (engine_settings_parse). The zero value is the library's
 * default: the shape rule, the automatic split, fusion on, no wisdom file.
 * The engine itself keeps no mutable state between calls. */
typedef struct {
    ConvChoice conv;    /* CNNRUN_CONV: tune (the command's default), retune, rule, ALGORITHM */
    int conv_forced;    /* CONV_*: the algorithm of CONV_CHOICE_FORCED */
    int dwsplit;        /* CNNRUN_DWSPLIT: CONV_DWSPLIT_* */
    int no_fuse;        /* CNNRUN_FUSE=0: no fused element-wise passes (bit-identical) */
    char wisdom[1024];  /* where measured choices are kept (CNNRUN_WISDOM, default
                           $XDG_CACHE_HOME/cnnrun/conv-wisdom); "": nowhere */
    int tune_prefer;    /* tests only (CNNRUN_TUNE_PREFER=ALGORITHM): the tuner sees that
                           algorithm 100x faster than it measured; 0: off */
} EngineSettings;
/* The environment's settings into *s (CNNRUN_CONV unset: tune). 0, or -1
 * after printing what a wrong value should be. */
int engine_settings_from_env(EngineSettings *s);
/* "conv=tune dwsplit=auto fuse=on" (what runs.engine records); the forced
 * algorithm by its name ("conv=winograd4"). */
void engine_settings_text(const EngineSettings *s, char *buf, size_t size);
/* The settings a text of engine_settings_text names, over *s (keys it lacks
 * keep *s's values; wisdom and tune_prefer are not in the text). 0, or -1
 * for a text it cannot read (nothing changed). */
int engine_settings_parse(const char *text, EngineSettings *s);

/* The version of the engine's kernels: a measured choice (the wisdom file)
 * is kept per version. Raise it when a kernel's speed or numbers change, or
 * an algorithm joins (2: oneDNN's convolutions in bf16). */
#define CNNRUN_ENGINE_VERSION 2

/* floats of scratch space conv_forward/conv_backward need. */
size_t conv_scratch_floats(const ConvShape *s);
/* out (N,Ho,Wo,C_out) = conv(in, weight) + bias (bias may be NULL). */
void conv_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                  float *out, float *scratch);
void conv_backward(const ConvShape *s, const float *in, const float *weight, const float *dout,
                   float *din, int acc, float *dweight, float *dbias, float *scratch);
/* The same with the input's bf16 copy kept from forward to backward in keep
 * (conv_keep_floats(s) floats; 0 where s is not bf16 on oneDNN's path):
 * where oneDNN's primitives run the conv, forward writes it and backward
 * reads it instead of converting the input again. The same numbers; the
 * backward must follow the forward of the same input. */
size_t conv_keep_floats(const ConvShape *s);
void conv_forward_keep(const ConvShape *s, const float *in, const float *weight, const float *bias,
                       float *out, float *scratch, float *keep);
void conv_backward_keep(const ConvShape *s, const float *in, const float *weight,
                        const float *dout, float *din, int acc, float *dweight, float *dbias,
                        float *scratch, const float *keep);
/* 1 where oneDNN's primitives run all three of s's products (made for s):
 * its input may come as bf16 bits only, in keep (conv_forward_bf16in); the
 * backward then reads that copy, never the fp32 input. */
int conv_takes_bf16_input(const ConvShape *s);
/* conv_forward_keep for such a shape, the input given as bf16 bits in keep. */
void conv_forward_bf16in(const ConvShape *s, const float *weight, const float *bias, float *out,
                         float *scratch, float *keep);
/* 1 where conv_backward_bf16 computes s (both its products by oneDNN's
 * primitives, which oneDNN made for s; no bias): its output gradient may
 * come as bf16 bits, written so by the layer after it. */
int conv_takes_bf16_dout(const ConvShape *s, int has_bias);
/* conv_backward_keep with the output gradient as bf16 bits (dout_h), for a
 * shape conv_takes_bf16_dout accepts; no bias gradient. */
void conv_backward_bf16(const ConvShape *s, const float *in, const float *weight,
                        const uint16_t *dout_h, float *din, int acc, float *dweight,
                        float *scratch, const float *keep);

/* ---- batch norm over the channel dim of an (M, C) matrix, M = N*H*W ---- */
/* Training: normalises with the batch statistics, saves mean and rstd
 * (1/sqrt(var+eps), biased var) for backward, updates running stats as
 * PyTorch does: running = (1-momentum)*running + momentum*batch (unbiased var).
 * ws: batchnorm_work_floats(c, ws->threads) floats. */
size_t batchnorm_work_floats(int c, int threads);
void batchnorm_forward_train(int m, int c, const float *in, const float *gamma, const float *beta,
                             float *out, float *mean, float *rstd, float *running_mean,
                             float *running_var, float momentum, float eps, const Workspace *ws);
void batchnorm_forward_eval(int m, int c, const float *in, const float *gamma, const float *beta,
                            float *out, const float *running_mean, const float *running_var,
                            float eps, const Workspace *ws);
void batchnorm_backward(int m, int c, const float *in, const float *gamma, const float *mean,
                        const float *rstd, const float *dout, float *din, int acc, float *dgamma,
                        float *dbeta, const Workspace *ws);

/* The same followed by an element-wise activation in the same passes:
 * out = act(bn(in)), written once (forward: a statistics pass, then one pass
 * that writes act(in * scale + shift)). The result is bit-identical to
 * batchnorm_forward_* followed by the activation's *_forward.
 * scale_shift (2c: scale, then shift) gets the coefficients, for backward.
 * BN_ACT_NONE is plain batch norm. */
typedef enum { BN_ACT_NONE, BN_ACT_RELU, BN_ACT_LEAKY, BN_ACT_GELU, BN_ACT_SILU } BnActKind;
typedef struct {
    BnActKind kind;
    float slope; /* leaky ReLU's negative slope */
} BnAct;
void batchnorm_act_forward_train(int m, int c, const float *in, const float *gamma,
                                 const float *beta, BnAct act, float *out, float *mean,
                                 float *rstd, float *scale_shift, float *running_mean,
                                 float *running_var, float momentum, float eps,
                                 const Workspace *ws);
void batchnorm_act_forward_eval(int m, int c, const float *in, const float *gamma,
                                const float *beta, BnAct act, float *out,
                                const float *running_mean, const float *running_var, float eps,
                                const Workspace *ws);
/* The same with the output written as bf16 bits (to nearest even, as
 * bf16_pack), for a convolution that reads it so (conv_takes_bf16_input),
 * and as fp32 in the same pass where out is not NULL (for other readers);
 * scale_shift is required. */
void batchnorm_act_forward_train_bf16(int m, int c, const float *in, const float *gamma,
                                      const float *beta, BnAct act, uint16_t *out_h, float *out,
                                      float *mean, float *rstd, float *scale_shift,
                                      float *running_mean, float *running_var, float momentum,
                                      float eps, const Workspace *ws);
/* Backward of act(bn(in)) after batchnorm_act_forward_train: dout holds
 * d out on entry and is overwritten with d bn(in) (the activation's backward,
 * bn(in) recomputed from in and scale_shift, in the pass that sums for batch
 * norm's backward); then din as batchnorm_backward. Bit-identical to the
 * activation's *_backward followed by batchnorm_backward. With BN_ACT_NONE,
 * dout is only read. */
void batchnorm_act_backward(int m, int c, const float *in, const float *gamma, const float *mean,
                            const float *rstd, const float *scale_shift, BnAct act, float *dout,
                            float *din, int acc, float *dgamma, float *dbeta, const Workspace *ws);
/* The same, the input gradient written as bf16 bits (rounded to nearest even,
 * as bf16_pack rounds it) into din_h instead of fp32: for a convolution
 * before it that takes its output gradient so (conv_takes_bf16_dout). */
void batchnorm_act_backward_bf16(int m, int c, const float *in, const float *gamma,
                                 const float *mean, const float *rstd, const float *scale_shift,
                                 BnAct act, float *dout, uint16_t *din_h, float *dgamma,
                                 float *dbeta, const Workspace *ws);
/* The first pass of batchnorm_act_forward_train alone: the statistics,
 * scale_shift (2c) and the running statistics, for a reader that applies
 * them as it reads in (add_norm_forward). */
void batchnorm_statistics(int m, int c, const float *in, const float *gamma, const float *beta,
                          float *mean, float *rstd, float *scale_shift, float *running_mean,
                          float *running_var, float momentum, float eps, const Workspace *ws);
/* The scale and shift (2c) evaluation applies: gamma / sqrt(var + eps) and
 * beta - mean * scale from the running statistics. */
void batchnorm_eval_coefficients(int c, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, float eps,
                                 float *scale_shift);
/* The second pass of batchnorm_act_forward_train alone: out = act(in * scale
 * + shift) with the scale_shift its statistics gave (for statistics computed
 * elsewhere: maxpool_batchnorm_statistics). */
void batchnorm_act_apply(int m, int c, const float *in, const float *scale_shift, BnAct act,
                         float *out);

/* ---- element-wise activations over n floats ---- */
void relu_forward(size_t n, const float *in, float *out); /* in == out allowed */
/* `in`: the ReLU's input or its output (the same positive entries). */
void relu_backward(size_t n, const float *in, const float *dout, float *din, int acc);
void leaky_forward(size_t n, float slope, const float *in, float *out);
void leaky_backward(size_t n, float slope, const float *in, const float *dout, float *din, int acc);
/* exact GELU: x * Phi(x) (PyTorch's default, approximate='none') */
void gelu_forward(size_t n, const float *in, float *out);
void gelu_backward(size_t n, const float *in, const float *dout, float *din, int acc);
/* SiLU (swish): x * sigmoid(x) */
void silu_forward(size_t n, const float *in, float *out);
void silu_backward(size_t n, const float *in, const float *dout, float *din, int acc);

/* ---- pooling (NHWC) ---- */
typedef struct {
    int n, h, w, c;
    int size, stride, pad;
    int h_out, w_out;        /* filled by pool_shape_init (floor mode, like PyTorch) */
} PoolShape;
void pool_shape_init(PoolShape *s);
/* Max pool; padding counts as -inf. argmax (N*Ho*Wo*C int32) records, for
 * backward, the offset of each maximum (first one on ties) within its own
 * image, in [0, H*W*C); backward adds the image's base n*H*W*C, so batches
 * past 2^31 input elements do not overflow the int32. */
void maxpool_forward(const PoolShape *s, const float *in, float *out, int32_t *argmax);
void maxpool_backward(const PoolShape *s, const int32_t *argmax, const float *dout, float *din,
                      int acc);
/* maxpool_forward that also computes, from each output row while it is
 * written, the training statistics of a batch norm of its output (gamma,
 * beta, momentum, eps: the batch norm's): mean, rstd, running statistics and
 * scale_shift, bit-identical to batchnorm_act_forward_train's on out; then
 * batchnorm_act_apply writes act(bn(out)) — the batch norm's statistics pass
 * over memory is gone. ws: batchnorm_work_floats(s->c, ws->threads). */
void maxpool_batchnorm_statistics(const PoolShape *s, const float *in, float *out,
                                  int32_t *argmax, const float *gamma, const float *beta,
                                  float *mean, float *rstd, float *scale_shift,
                                  float *running_mean, float *running_var, float momentum,
                                  float eps, const Workspace *ws);
/* Average pool, padding counted in the divisor (PyTorch count_include_pad=True). */
void avgpool_forward(const PoolShape *s, const float *in, float *out);
void avgpool_backward(const PoolShape *s, const float *dout, float *din, int acc);
/* Global average pool: (N,H,W,C) -> (N,C). */
void global_avgpool_forward(int n, int hw, int c, const float *in, float *out);
void global_avgpool_backward(int n, int hw, int c, const float *dout, float *din, int acc);

/* ---- linear: out (N,out) = in (N,in) x weight (in,out) + bias ----
 * ws: linear_work_floats(n, in_f, out_f, ws->threads) floats, or NULL (one thread). */
size_t linear_work_floats(int n, int in_f, int out_f, int threads);
void linear_forward(int n, int in_f, int out_f, const float *in, const float *weight,
                    const float *bias, float *out, const Workspace *ws);
void linear_backward(int n, int in_f, int out_f, const float *in, const float *weight,
                     const float *dout, float *din, int acc, float *dweight, float *dbias,
                     const Workspace *ws);

/* ---- dropout: mask holds 0 or 1/(1-p) per element ---- */
void dropout_forward(size_t n, const float *in, const float *mask, float *out);
void dropout_backward(size_t n, const float *mask, const float *dout, float *din, int acc);

/* ---- graph joins ---- */
/* out = sum of k inputs, each of n floats. */
void add_forward(size_t n, int k, const float *const *ins, float *out);
/* each dins[i] (+)= dout; entries may be NULL, or dout itself (its gradient
 * already: nothing to do; never with acc). acc[i] per input. */
void add_backward(size_t n, int k, const float *dout, float *const *dins, const int *acc);
/* add_forward over rows of c channels, input j taken as ins[j] * coef[j][ch]
 * + coef[j][c + ch] where coef[j] is not NULL (a batch norm's scale and
 * shift, applied as its forward applies them: the same bits as adding its
 * output), ReLU'd when relu (the ReLU that alone reads the sum:
 * plan_fusion), the result also written as bf16 bits (as bf16_pack rounds
 * them) into out_h where not NULL (for a convolution after it that takes
 * its input so). Bit-identical to add_forward then relu_forward. */
void add_norm_forward(size_t rows, int c, int k, const float *const *ins,
                      const float *const *coef, int relu, float *out, uint16_t *out_h);
/* The backward of the add + ReLU: turns dout (the ReLU output's gradient)
 * into the sum's in place, then as add_backward. */
void add_relu_backward(size_t n, int k, const float *out, float *dout, float *const *dins,
                       const int *acc);
/* Concatenate along channels: m rows, input i has cs[i] channels. */
void concat_forward(size_t m, int k, const int *cs, const float *const *ins, float *out);
void concat_backward(size_t m, int k, const int *cs, const float *dout, float *const *dins,
                     const int *acc);

/* ---- softmax cross-entropy over (N, classes) logits ----
 * Returns the summed loss over the batch; writes dlogits = (softmax - onehot) * scale
 * (scale = 1/N for a mean loss) when dlogits != NULL; counts correct top-1
 * predictions into *correct when not NULL. */
double softmax_xent(int n, int classes, const float *logits, const int *labels, float *dlogits,
                    float scale, int *correct);
/* The same with label smoothing s in [0, 1) (PyTorch's label_smoothing): the
 * target is (1 - s) * onehot + s / classes, so the loss is
 * (1 - s) * CE + s * mean_j(-log p_j) and dlogits = (softmax - target) * scale.
 * s = 0 gives exactly softmax_xent. */
double softmax_xent_smooth(int n, int classes, const float *logits, const int *labels,
                           float *dlogits, float scale, int *correct, float smoothing);

#endif
