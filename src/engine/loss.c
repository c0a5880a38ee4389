/* loss.c — softmax cross-entropy over class scores, fused with its gradient;
 * optionally with label smoothing. */
#include <math.h>

#include "cnnrun/kernels.h"

double softmax_xent(int n, int classes, const float *logits, const int *labels, float *dlogits,
                    float scale, int *correct)
{
    return softmax_xent_smooth(n, classes, logits, labels, dlogits, scale, correct, 0.0f);
}

double softmax_xent_smooth(int n, int classes, const float *logits, const int *labels,
                           float *dlogits, float scale, int *correct, float smoothing)
{
    const double s = smoothing, off = s / classes;
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
        if (s == 0.0) {
            total += log_sum - (double)(z[labels[i]] - zmax);
        } else {
            double all = 0.0; /* sum over j of -log p_j */
            for (int j = 0; j < classes; j++) all += log_sum - (double)(z[j] - zmax);
            total += (1.0 - s) * (log_sum - (double)(z[labels[i]] - zmax)) + off * all;
        }
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++) {
                double p = exp((double)(z[j] - zmax) - log_sum);
                double target = s == 0.0 ? (j == labels[i] ? 1.0 : 0.0)
                                         : (j == labels[i] ? 1.0 - s : 0.0) + off;
                d[j] = (float)((p - target) * scale);
            }
        }
    }
    if (correct) *correct += right;
    return total;
}
