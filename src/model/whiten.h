/* whiten.h — private to src/model: the arithmetic of a conv's whitening
 * initialisation (`init = whiten`, ops.c): the uncentred second moment of the
 * layer's input patches, and filters from its eigendecomposition. */
#ifndef CNNRUN_MODEL_WHITEN_H
#define CNNRUN_MODEL_WHITEN_H

/* Adds to acc (d x d row-major doubles, d = kh*kw*c; only the upper triangle,
 * j >= i, is written) the sum of p p^T over every kh x kw patch p, at stride
 * 1 and without padding, of the n images in (n, h, w, c) NHWC. A patch is
 * flattened as p[(ky*kw + kx)*c + ch]: the row order of the conv weight
 * (KH, KW, C_in, C_out), so a filter is a column of the weight. Images are
 * added one after another in order: the sum does not depend on how a caller
 * splits them into calls. */
void whiten_moments_add(int n, int h, int w, int c, int kh, int kw, const float *in, double *acc);

/* The whitening filters of `count` patches whose summed p p^T is acc (as
 * whiten_moments_add leaves it): with S = acc / count (the uncentred
 * covariance, rounded to float) = V diag(lambda) V^T from LAPACK's ssyevd,
 * eigenvalues ascending, filter k < d is v_k / sqrt(lambda_k + eps) and filter
 * d + k its negative. weight is the conv weight, (d, 2d) row-major. The sign
 * of each eigenvector (which LAPACK leaves open) is fixed so that its entry
 * of largest magnitude (the first such) is positive; an eigenvalue below 0
 * (rounding of a singular S) counts as 0. Returns 0, or ssyevd's info. */
int whiten_weights(int d, const double *acc, double count, float eps, float *weight);

#endif
