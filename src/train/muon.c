/* muon.c — the Muon update of one weight matrix (train.h), as airbench94_muon
 * does it (KellerJordan/cifar10-airbench, airbench94_muon.py; fp32 here
 * where the script uses bfloat16 for the iteration): momentum, the weight
 * renormalised to Frobenius norm sqrt(out_channels) before the step, and the
 * update orthogonalised by a quintic Newton-Schulz iteration.
 *
 * The weight is stored as S (rows, cols) = (K, out), the transpose of
 * PyTorch's G (out, K). PyTorch iterates on G when out <= K and on G^T
 * otherwise, so that A = X X^T is the smaller square. In S's terms:
 *   cols <= rows (PyTorch: X = G):    A = S^T S (cols x cols), S <- a S + S B
 *   cols >  rows (PyTorch: X = G^T):  A = S S^T (rows x rows), S <- a S + B S
 * with B = b A + c A A (symmetric), which is the same iteration transposed.
 * (Both forms give the same X, since (X X^T)^k X = X (X^T X)^k; the choice
 * only keeps A, and the work, small.) */
#include <math.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/train.h"

#define NS_A 3.4445f
#define NS_B (-4.7750f)
#define NS_C 2.0315f
#define NS_EPS 1e-7

static size_t smaller(int rows, int cols)
{
    return (size_t)(rows < cols ? rows : cols);
}

size_t muon_work_floats(int rows, int cols)
{
    size_t s = smaller(rows, cols);
    return 2 * (size_t)rows * (size_t)cols + 2 * s * s;
}

size_t muon_gemm_floats(int rows, int cols, int threads)
{
    int s = (int)smaller(rows, cols);
    size_t a, b, c;
    if (cols <= rows) {
        a = gemm_work_floats(cols, cols, rows, threads);
        c = gemm_work_floats(rows, cols, cols, threads);
    } else {
        a = gemm_work_floats(rows, rows, cols, threads);
        c = gemm_work_floats(rows, cols, rows, threads);
    }
    b = gemm_work_floats(s, s, s, threads);
    size_t most = a > b ? a : b;
    return most > c ? most : c;
}

static double frobenius(const float *x, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return sqrt(sum);
}

void muon_update(int rows, int cols, float *w, const float *g, float *buf, float lr,
                 float momentum, bool nesterov, float weight_decay, bool decoupled, int ns_steps,
                 float *work, const Workspace *ws)
{
    const size_t n = (size_t)rows * (size_t)cols, s = smaller(rows, cols);
    float *x = work, *y = work + n, *a = y + n, *b = a + s * s;
    const float mu = momentum, wd = decoupled ? 0.0f : weight_decay;
    /* momentum; u into x */
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * w[i];
        buf[i] = mu * buf[i] + d;
        x[i] = nesterov ? d + mu * buf[i] : buf[i];
    }
    /* the weight renormalised before the update (a zero weight stays zero) */
    double norm = frobenius(w, n);
    if (norm > 0) {
        const float scale = (float)(sqrt((double)cols) / norm);
        for (size_t i = 0; i < n; i++) w[i] *= scale;
    }
    if (decoupled && weight_decay != 0.0f) {
        const float keep = 1.0f - lr * weight_decay;
        for (size_t i = 0; i < n; i++) w[i] *= keep;
    }
    /* orthogonalise: X = u / (|u| + eps), then the quintic iteration */
    const float inv = (float)(1.0 / (frobenius(x, n) + NS_EPS));
    for (size_t i = 0; i < n; i++) x[i] *= inv;
    const int right = cols <= rows; /* PyTorch iterates on G itself */
    for (int it = 0; it < ns_steps; it++) {
        if (right) {
            gemm(1, 0, cols, cols, rows, x, cols, x, cols, 0.0f, a, cols, ws);   /* S^T S */
            gemm(0, 0, cols, cols, cols, a, cols, a, cols, 0.0f, b, cols, ws);   /* A A */
        } else {
            gemm(0, 1, rows, rows, cols, x, cols, x, cols, 0.0f, a, rows, ws);   /* S S^T */
            gemm(0, 0, rows, rows, rows, a, rows, a, rows, 0.0f, b, rows, ws);   /* A A */
        }
        for (size_t i = 0; i < s * s; i++) b[i] = NS_B * a[i] + NS_C * b[i];
        memcpy(y, x, n * sizeof *y);
        if (right)
            gemm(0, 0, rows, cols, cols, x, cols, b, cols, NS_A, y, cols, ws);    /* a S + S B */
        else
            gemm(0, 0, rows, cols, rows, b, rows, x, cols, NS_A, y, cols, ws);    /* a S + B S */
        float *t = x;
        x = y;
        y = t;
    }
    for (size_t i = 0; i < n; i++) w[i] -= lr * x[i];
}
