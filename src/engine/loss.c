/* loss.c — softmax cross-entropy over class scores, fused with its gradient. */
#include <math.h>

#include "cnnrun/kernels.h"

double softmax_xent(int n, int classes, const float *logits, const int *labels, float *dlogits,
                    float scale, int *correct)
{
    double total = 0.0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (z[j] > z[best]) best = j;
        right += best == labels[i];
        float zmax = z[best];
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum += exp((double)(z[j] - zmax));
        double log_sum = log(sum);
        total += log_sum - (double)(z[labels[i]] - zmax);
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++) {
                double p = exp((double)(z[j] - zmax) - log_sum);
                d[j] = (float)((p - (j == labels[i] ? 1.0 : 0.0)) * scale);
            }
        }
    }
    if (correct) *correct += right;
    return total;
}
