/* whiten.c — a conv's whitening initialisation (whiten.h): the patch second
 * moment with dsyrk, one image at a time in double, and the eigendecomposition
 * with LAPACK's ssyevd, which OpenBLAS ships (declared here: Debian's OpenBLAS
 * package has no lapacke.h). */
#include "whiten.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "cnnrun/util.h"

/* LAPACK (Fortran): every argument by reference, the lengths of the two
 * character arguments appended (gfortran's convention). */
extern void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
                    float *w, float *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

void whiten_moments_add(int n, int h, int w, int c, int kh, int kw, const float *in, double *acc)
{
    const int ho = h - kh + 1, wo = w - kw + 1, d = kh * kw * c;
    if (n <= 0 || ho <= 0 || wo <= 0) return;
    const size_t rows = (size_t)ho * wo;
    double *p = xmalloc(sizeof(double) * rows * (size_t)d);
    for (int i = 0; i < n; i++) {
        const float *img = in + (size_t)i * h * w * c;
        double *row = p;
        for (int y = 0; y < ho; y++)
            for (int x = 0; x < wo; x++, row += d)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        const float *px = img + ((size_t)(y + ky) * w + (x + kx)) * c;
                        double *dst = row + (ky * kw + kx) * c;
                        for (int ch = 0; ch < c; ch++) dst[ch] = px[ch];
                    }
        /* acc (upper) += P^T P, P (rows, d) */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)rows, 1.0, p, d, 1.0, acc, d);
    }
    free(p);
}

int whiten_weights(int d, const double *acc, double count, float eps, float *weight)
{
    float *a = xmalloc(sizeof(float) * (size_t)d * d), *lambda = xmalloc(sizeof(float) * (size_t)d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            a[(size_t)i * d + j] =
                (float)((i <= j ? acc[(size_t)i * d + j] : acc[(size_t)j * d + i]) / count);
    /* symmetric, so row- and column-major are the same matrix */
    int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    float work_query = 0;
    ssyevd_("V", "U", &d, a, &d, lambda, &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
    if (info == 0) {
        lwork = (int)work_query + 1;
        liwork = iwork_query;
        float *work = xmalloc(sizeof(float) * (size_t)lwork);
        int *iwork = xmalloc(sizeof(int) * (size_t)(liwork > 0 ? liwork : 1));
        ssyevd_("V", "U", &d, a, &d, lambda, work, &lwork, iwork, &liwork, &info, 1, 1);
        free(work);
        free(iwork);
    }
    if (info == 0) {
        const int out = 2 * d;
        for (int k = 0; k < d; k++) {
            const float *v = a + (size_t)k * d; /* column k of the column-major result */
            int big = 0;
            for (int j = 1; j < d; j++)
                if (fabsf(v[j]) > fabsf(v[big])) big = j;
            double lam = lambda[k] > 0 ? lambda[k] : 0.0;
            float f = (float)((v[big] < 0 ? -1.0 : 1.0) / sqrt(lam + (double)eps));
            for (int j = 0; j < d; j++) {
                weight[(size_t)j * out + k] = v[j] * f;
                weight[(size_t)j * out + d + k] = -(v[j] * f);
            }
        }
    }
    free(a);
    free(lambda);
    return info;
}
