/* evaluate.c — test loss and accuracy of a model over a whole split, in eval
 * mode (running BN statistics, no dropout, no augmentation). */
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"

/* Image indices are listed this many at a time: a batch-sized array on the
 * stack (batch_size may be 65,536, or more for a test batch) could overflow
 * it. With no random augmentation every image is made on its own, so making
 * a batch in pieces gives exactly the same floats. */
#define EVAL_IDX_CHUNK 256

EvalResult evaluate(Model *m, const CifarSplit *s, const Augment *aug, int batch, float *buf,
                    int *labels)
{
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = aug->normalize,
                     .mean = aug->mean, .std = aug->std};
    int idx[EVAL_IDX_CHUNK];
    double loss = 0;
    int correct = 0;
    for (int start = 0; start < s->n; start += batch) {
        int n = s->n - start < batch ? s->n - start : batch;
        for (int k = 0; k < n; k += EVAL_IDX_CHUNK) {
            int c = n - k < EVAL_IDX_CHUNK ? n - k : EVAL_IDX_CHUNK;
            for (int i = 0; i < c; i++) idx[i] = start + k + i;
            cifar_make_batch(s, idx, c, &plain, NULL, buf + (size_t)k * CIFAR_PIXELS, labels + k);
        }
        model_forward(m, buf, n, false);
        loss += softmax_xent(n, m->classes, model_logits(m), labels, NULL, 0.0f, &correct);
    }
    EvalResult r = {.loss = s->n ? loss / s->n : 0, .acc = s->n ? (double)correct / s->n : 0};
    return r;
}
