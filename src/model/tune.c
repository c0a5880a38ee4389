/* tune.c — each convolution's algorithm (Node.algo). At build, what the
 * experiment's engine settings ask for (EngineSettings.conv: read from
 * CNNRUN_CONV by the command line): the shape rule, or one algorithm wherever
 * eligible. Then, when they ask for measuring (model_tune_convs, as cuDNN's
 * benchmark mode does): each distinct shape's choice is taken from the
 * machine's wisdom file (wisdom.c) where it was measured before, else every
 * eligible algorithm is timed for forward + backward on a sample of the batch
 * with the model's threads, in turns, the best of several passes each, and
 * the fastest kept unless it beats the rule's choice by less than a margin;
 * the choice is added to the file, so every later process computes the same.
 * Repeated shapes (ResNet's blocks) are timed once. A checkpoint's choice is
 * put back as it was (model_set_conv_algos), so that a resumed run computes
 * what the interrupted one would have. The kernels' shared scratch depends
 * on the algorithms: model_scratch_need sizes it (plan.c allocates it), and
 * it is re-sized whenever they change. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "ops.h"
#include "wisdom.h"

/* One timing pass of forward + backward aims at this many FLOPs per thread
 * (some 20-40 ms), and gives each thread at least TUNE_ROWS output pixels,
 * never more than the batch. The sample must not be much smaller than the
 * batch where the batch is large: a Winograd product has one row per tile of
 * the sample and its weight transform is paid once per call, so a small
 * sample favours im2col wrongly. Measured (Zen 4, 2 threads): with 5e8 and
 * 128 the flagship's 256-channel 7x7 convolutions were timed on 6 images and
 * kept im2col, 1.90 s per step at batch 2000 against 0.92 s with F(4x4);
 * ResNet-18's 512-channel 4x4 ones, timed on 16 of 128 images, 160 ms
 * against 72 ms. */
#define TUNE_FLOPS_PER_THREAD 4e9
#define TUNE_ROWS 4096
#define TUNE_PASSES 5 /* timed, in turns, after one warm-up pass; the best counts */
/* Another algorithm replaces the rule's only when it is this much faster:
 * two algorithms within timing noise of each other are not worth a choice
 * that a busy moment of the machine could have made. */
#define TUNE_MARGIN 0.05
#define MAX_CANDIDATES 8

static int is_conv(const Node *n)
{
    return op_info(n->op)->conv_shape != NULL;
}

static ConvShape shape_of(const Model *m, const Node *n, int batch)
{
    return op_info(n->op)->conv_shape(m, n, batch);
}

int model_init_conv_algos(Model *m)
{
    const EngineSettings *es = &m->exp->engine;
    int forced = es->conv == CONV_CHOICE_FORCED;
    m->conv_tune = es->conv == CONV_CHOICE_TUNE || es->conv == CONV_CHOICE_RETUNE;
    m->conv_from = forced ? CONV_FROM_ENV : CONV_FROM_RULE;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        if (!is_conv(n)) continue;
        ConvShape s = shape_of(m, n, 1);
        n->algo = forced && conv_algo_eligible(es->conv_forced, &s) ? es->conv_forced
                                                                    : conv_algo_rule(&s);
    }
    return 0;
}

size_t model_scratch_need(const Model *m)
{
    size_t scratch = 0;
    for (int i = 0; i < m->n_nodes && m->max_batch > 0; i++) {
        const OpInfo *op = op_info(m->nodes[i].op);
        size_t need = op->scratch_floats ? op->scratch_floats(m, &m->nodes[i], m->max_batch) : 0;
        if (need > scratch) scratch = need;
    }
    return scratch;
}

static void resize_scratch(Model *m)
{
    if (m->max_batch == 0) return;
    size_t need = model_scratch_need(m);
    if (need == m->n_scratch) return;
    free(m->scratch);
    m->scratch = alloc_floats(need);
    m->n_scratch = need;
}

/* ---- measuring -------------------------------------------------------------- */

/* Images of one timing pass of s (at most s->n, the batch): see model.h. */
static int sample_images(const ConvShape *s, int threads)
{
    double flops = 3.0 * 2.0 * s->kh * s->kw * s->c_in * s->c_out * s->h_out * s->w_out;
    double pixels = (double)s->h_out * s->w_out;
    double n = ceil(TUNE_FLOPS_PER_THREAD * threads / flops);
    double by_rows = ceil((double)TUNE_ROWS * threads / pixels);
    if (by_rows > n) n = by_rows;
    if (n < threads) n = threads;
    n = ceil(n / threads) * threads; /* whole images for every thread */
    return n < s->n ? (int)n : s->n;
}

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        unsigned h = (unsigned)(i * 2654435761u) ^ seed;
        h ^= h >> 15;
        p[i] = (float)(h & 0xffff) / 32768.0f - 1.0f;
    }
}

/* The fastest of s's k candidates for one forward + backward (din only when
 * the node has an input gradient), at a sample of s->n images; the rule's
 * choice unless another beats it by TUNE_MARGIN. Each candidate's best time
 * goes into times ("NAME:MS,..."). prefer (a test hook, 0: none): that
 * algorithm is seen 100x faster than measured. */
static int fastest(const ConvShape *full, int need_din, const int *cand, int k, int threads,
                   int prefer, char *times, size_t size)
{
    ConvShape s = *full;
    s.n = sample_images(full, threads);
    conv_shape_init(&s);
    size_t in_n = (size_t)s.n * s.h * s.w * s.c_in;
    size_t out_n = (size_t)s.n * s.h_out * s.w_out * s.c_out;
    size_t w_n = (size_t)s.kh * s.kw * s.c_in * s.c_out, scratch_n = 0;
    for (int c = 0; c < k; c++) {
        s.algo = cand[c];
        size_t need = conv_scratch_floats(&s);
        if (need > scratch_n) scratch_n = need;
    }
    float *in = alloc_floats(in_n), *w = alloc_floats(w_n), *dout = alloc_floats(out_n);
    float *out = alloc_floats(out_n), *dw = alloc_floats(w_n), *scratch = alloc_floats(scratch_n);
    float *din = need_din ? alloc_floats(in_n) : NULL;
    fill(in, in_n, 1), fill(w, w_n, 2), fill(dout, out_n, 3);
    double best[MAX_CANDIDATES];
    for (int c = 0; c < k; c++) best[c] = INFINITY;
    /* the candidates take turns in every pass, so a slow moment of the
     * machine falls on all of them */
    for (int pass = 0; pass <= TUNE_PASSES; pass++) {
        for (int c = 0; c < k; c++) {
            s.algo = cand[c];
            double t0 = now_seconds();
            conv_forward(&s, in, w, NULL, out, scratch);
            conv_backward(&s, in, w, dout, din, 0, dw, NULL, scratch);
            double t = now_seconds() - t0;
            if (cand[c] == prefer) t /= 100;
            if (pass > 0 && t < best[c]) best[c] = t;
        }
    }
    int rule = conv_algo_rule(full), win = -1, at_rule = 0;
    for (int c = 0; c < k; c++) {
        if (cand[c] == rule) at_rule = c;
        if (win < 0 || best[c] < best[win]) win = c; /* a tie keeps the earlier row */
    }
    if (best[win] > best[at_rule] * (1 - TUNE_MARGIN)) win = at_rule;
    size_t o = 0;
    times[0] = '\0';
    for (int c = 0; c < k && o < size; c++)
        o += (size_t)snprintf(times + o, size - o, "%s%s:%.2f", c ? "," : "",
                              conv_algo_name(cand[c]), best[c] * 1e3);
    free(in), free(w), free(dout), free(out), free(dw), free(scratch), free(din);
    return cand[win];
}

/* A timed shape: what decides an algorithm's time. */
typedef struct {
    ConvShape s;
    int need_din;
    int algo;     /* -1: to be measured */
    int reported; /* a node of this shape was done: the next ones take its choice */
} Timed;

static int same(const Timed *t, const ConvShape *s, int need_din)
{
    const ConvShape *a = &t->s;
    return a->n == s->n && a->h == s->h && a->w == s->w && a->c_in == s->c_in &&
           a->c_out == s->c_out && a->kh == s->kh && a->kw == s->kw && a->stride == s->stride &&
           a->pad == s->pad && t->need_din == need_din;
}

/* One line of `cnnrun tune`: the node, its shape, the times, the choice. */
static void report_shape(FILE *f, const Node *n, const ConvShape *s, const char *times, int algo,
                         const char *how)
{
    fprintf(f, "  %-14s %4d x %3dx%-3d -> %4d  %dx%d/%d  %-48s %-10s %s\n", n->name, s->c_in,
            s->h, s->w, s->c_out, s->kh, s->kw, s->stride, times, conv_algo_name(algo), how);
}

void model_tune_convs(Model *m, FILE *report)
{
    if (!m->conv_tune || m->max_batch == 0) return;
    const EngineSettings *es = &m->exp->engine;
    double t0 = now_seconds();
    Timed *timed = xcalloc((size_t)m->n_nodes, sizeof *timed);
    int n_timed = 0, n_measure = 0;
    char machine[256], key[160], times[256];
    wisdom_machine(machine, sizeof machine, m->threads,
                   m->exp->precision == PRECISION_BF16 ? "bf16" : "fp32");
    Wisdom w;
    wisdom_open(&w, es->wisdom, machine); /* locked: a second process waits for the first */
    /* the distinct shapes, and which of them the file does not have */
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        if (!is_conv(n)) continue;
        ConvShape s = shape_of(m, n, m->max_batch);
        int cand[MAX_CANDIDATES];
        if (conv_algo_candidates(&s, cand, MAX_CANDIDATES) == 1) continue;
        int need_din = n->in[0] != NODE_INPUT; /* the network's input has no gradient */
        int t = 0;
        while (t < n_timed && !same(&timed[t], &s, need_din)) t++;
        if (t < n_timed) continue;
        wisdom_shape_key(key, sizeof key, &s, need_din);
        int algo = es->conv == CONV_CHOICE_RETUNE ? -1 : wisdom_find(&w, key, NULL, 0);
        if (algo >= 0 && !conv_algo_choosable(algo, &s)) algo = -1;
        timed[n_timed++] = (Timed){.s = s, .need_din = need_din, .algo = algo};
        n_measure += algo < 0;
    }
    if (n_measure > 0)
        fprintf(stderr, "cnnrun: measuring the convolution algorithms of %d shape%s on %d "
                        "thread%s (%s%s)\n",
                n_measure, n_measure == 1 ? "" : "s", m->threads, m->threads == 1 ? "" : "s",
                w.fd >= 0 ? "once on this machine: kept in " : "not kept: no wisdom file",
                w.fd >= 0 ? w.path : "");
    for (int i = 0, t; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        if (!is_conv(n)) continue;
        ConvShape s = shape_of(m, n, m->max_batch);
        int cand[MAX_CANDIDATES];
        int k = conv_algo_candidates(&s, cand, MAX_CANDIDATES);
        if (k == 1) {
            n->algo = cand[0];
            continue;
        }
        int need_din = n->in[0] != NODE_INPUT;
        for (t = 0; !same(&timed[t], &s, need_din); t++) {}
        Timed *td = &timed[t];
        const char *how = td->reported ? "same as above" : "kept";
        times[0] = '\0';
        if (td->algo < 0) {
            wisdom_shape_key(key, sizeof key, &s, need_din);
            td->algo = fastest(&s, need_din, cand, k, m->threads, es->tune_prefer, times,
                               sizeof times);
            wisdom_add(&w, key, td->algo, times);
            how = "measured";
        } else if (report && !td->reported) {
            wisdom_shape_key(key, sizeof key, &s, need_din);
            wisdom_find(&w, key, times, sizeof times);
        }
        if (report) report_shape(report, n, &s, times, td->algo, how);
        td->reported = 1;
        n->algo = td->algo;
    }
    wisdom_close(&w);
    free(timed);
    resize_scratch(m);
    m->conv_from = n_measure > 0 ? CONV_FROM_TUNING : CONV_FROM_WISDOM;
    m->conv_tune_shapes = n_measure;
    m->conv_tune_seconds = now_seconds() - t0;
}

/* ---- what a checkpoint keeps ------------------------------------------------ */

int model_conv_algos(const Model *m, int *algos, int max)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        if (!is_conv(&m->nodes[i])) continue;
        if (k < max) algos[k] = m->nodes[i].algo;
        k++;
    }
    return k;
}

int model_set_conv_algos(Model *m, const int *algos, int n, const char *who)
{
    if (n != model_conv_algos(m, NULL, 0)) return -1;
    if (!algos) { /* as the rule gave them when they were not recorded */
        model_init_conv_algos(m);
        m->conv_from = CONV_FROM_RULE;
        for (int i = 0; i < m->n_nodes; i++) {
            Node *node = &m->nodes[i];
            if (!is_conv(node)) continue;
            ConvShape s = shape_of(m, node, 1);
            node->algo = conv_algo_rule_v1(&s);
        }
        m->conv_tune = false; /* nothing is to be measured any more */
        resize_scratch(m);
        return 0;
    }
    int k = 0, replaced = 0;
    char list[1024] = "";
    size_t o = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *node = &m->nodes[i];
        if (!is_conv(node)) continue;
        ConvShape s = shape_of(m, node, 1);
        int algo = algos[k++];
        if (algo < 0 || !conv_algo_eligible(algo, &s)) {
            int rule = conv_algo_rule(&s);
            const char *was = conv_algo_name(algo);
            if (o < sizeof list)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s %s -> %s",
                                      replaced ? ", " : "", node->name, was ? was : "unknown",
                                      conv_algo_name(rule));
            algo = rule;
            replaced++;
        }
        node->algo = algo;
    }
    if (replaced) /* e.g. a bf16 run's oneDNN convolutions evaluated in fp32 */
        fprintf(stderr, "%s: note: %d convolution%s recorded an algorithm that does not compute "
                        "%s in %s in this cnnrun, and run%s the shape rule's instead (results "
                        "not bit for bit the recorded run's): %s%s\n",
                who, replaced, replaced == 1 ? "" : "s", replaced == 1 ? "its shape" : "their shapes",
                m->exp && m->exp->precision == PRECISION_BF16 ? "bf16" : "fp32", replaced == 1 ? "s" : "",
                list, o >= sizeof list ? "..." : "");
    resize_scratch(m);
    m->conv_from = CONV_FROM_CHECKPOINT;
    return replaced;
}
