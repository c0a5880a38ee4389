/* evaluate.c — test loss and accuracy of a model over a whole split, in eval
 * mode (running BN statistics, no dropout, no augmentation). */
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"

EvalResult evaluate(Model *m, const CifarSplit *s, const Augment *aug, int batch, float *buf,
                    int *labels)
{
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = aug->normalize};
    int idx[batch];
    double loss = 0;
    int correct = 0;
    for (int start = 0; start < s->n; start += batch) {
        int n = s->n - start < batch ? s->n - start : batch;
        for (int i = 0; i < n; i++) idx[i] = start + i;
        cifar_make_batch(s, idx, n, &plain, NULL, buf, labels);
        model_forward(m, buf, n, false);
        loss += softmax_xent(n, m->classes, model_logits(m), labels, NULL, 0.0f, &correct);
    }
    EvalResult r = {.loss = s->n ? loss / s->n : 0, .acc = s->n ? (double)correct / s->n : 0};
    return r;
}
