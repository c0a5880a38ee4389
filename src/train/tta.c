/* tta.c — test-time augmentation: the views of a normalised NHWC batch that
 * the final evaluation averages, and their weights (airbench's: the image
 * and its mirror 1/4 each, then each of the four 1-pixel diagonal
 * translations — reflect-padded, content moved down-right or up-left — and
 * their mirrors 1/8), so a prediction is the weighted mean of the views'
 * logits. */
#include <stdlib.h>
#include <string.h>

#include "cnnrun/data.h"
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

int tta_views(TtaMode mode)
{
    return mode == TTA_MIRROR_TRANSLATE ? 6 : mode == TTA_MIRROR ? 2 : 1;
}

double tta_weight(TtaMode mode, int view)
{
    switch (mode) {
    case TTA_NONE: return 1.0;
    case TTA_MIRROR: return 0.5;
    case TTA_MIRROR_TRANSLATE: return view < 2 ? 0.25 : 0.125;
    case TTA_COUNT: break; /* not a mode */
    }
    return 0.0;
}

/* Reflect index i into 0..n-1 without repeating the edge (PyTorch 'reflect'). */
static int reflect(int i, int n)
{
    return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
}

void tta_view(const float *in, int n, int view, float *out)
{
    const int S = CIFAR_SIDE, C = CIFAR_CHANNELS;
    /* view 0: identity, 1: mirror; 2, 3: content moved by +1 (down-right)
     * and its mirror; 4, 5: by -1 (up-left) and its mirror */
    int shift = view < 2 ? 0 : view < 4 ? 1 : -1, mirror = view & 1;
    for (int b = 0; b < n; b++) {
        const float *src = in + (size_t)b * CIFAR_PIXELS;
        float *dst = out + (size_t)b * CIFAR_PIXELS;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int xs = mirror ? S - 1 - x : x; /* mirror after the translation */
                int sy = reflect(y - shift, S), sx = reflect(xs - shift, S);
                memcpy(dst + ((size_t)y * S + x) * C, src + ((size_t)sy * S + sx) * C,
                       sizeof(float) * C);
            }
    }
}

void tta_logits(Model *m, const float *batch, int n, TtaMode mode, float *view, float *logits)
{
    const int views = tta_views(mode), K = m->classes;
    memset(logits, 0, sizeof(float) * (size_t)n * K);
    for (int v = 0; v < views; v++) {
        const float *in = batch;
        if (mode != TTA_NONE) {
            tta_view(batch, n, v, view);
            in = view;
        }
        model_forward(m, in, n, false);
        const float *out = model_logits(m), w = (float)tta_weight(mode, v);
        for (size_t i = 0; i < (size_t)n * K; i++) logits[i] += w * out[i];
    }
}

EvalResult evaluate_tta(Model *m, const CifarSplit *s, const Augment *aug, int batch, float *buf,
                        int *labels, TtaMode mode)
{
    if (mode == TTA_NONE) return evaluate(m, s, aug, batch, buf, labels);
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = aug->normalize,
                     .mean = aug->mean, .std = aug->std};
    const int K = m->classes;
    float *view = alloc_floats((size_t)batch * CIFAR_PIXELS);
    float *logits = alloc_floats((size_t)batch * K);
    int *idx = xmalloc(sizeof(int) * (size_t)batch);
    double loss = 0;
    int correct = 0;
    for (int start = 0; start < s->n; start += batch) {
        int n = s->n - start < batch ? s->n - start : batch;
        for (int i = 0; i < n; i++) idx[i] = start + i;
        cifar_make_batch(s, idx, n, &plain, NULL, buf, labels);
        tta_logits(m, buf, n, mode, view, logits);
        loss += softmax_xent(n, K, logits, labels, NULL, 0.0f, &correct);
    }
    free(view), free(logits), free(idx);
    EvalResult r = {.loss = s->n ? loss / s->n : 0, .acc = s->n ? (double)correct / s->n : 0};
    return r;
}
