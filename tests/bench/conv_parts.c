/* conv_parts.c — each convolution algorithm's three parts timed apart
 * (docs/performance.md, "oneDNN's convolution primitives"): the forward
 * pass, the input gradient alone and the weight gradient alone, in bf16, on
 * ResNet-18's shapes at batch N, ms, best of 5 after a warm-up, on the
 * engine's threads. What the tuner cannot show: it times the three together.
 *   build/tests/conv_parts [N] [threads] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

int main(int argc, char **argv)
{
    const int N = argc > 1 ? atoi(argv[1]) : 128, threads = argc > 2 ? atoi(argv[2]) : 2;
    engine_set_threads(threads);
    static const int shapes[][5] = {/* c_in h c_out k stride */ {3, 32, 64, 3, 1},
                                    {64, 32, 64, 3, 1},
                                    {128, 16, 128, 3, 1},
                                    {256, 8, 256, 3, 1},
                                    {512, 4, 512, 3, 1},
                                    {64, 32, 128, 3, 2},
                                    {128, 16, 256, 3, 2},
                                    {256, 8, 512, 3, 2},
                                    {64, 32, 128, 1, 2},
                                    {128, 16, 256, 1, 2},
                                    {256, 8, 512, 1, 2}};
    printf("bf16, batch %d, %d threads: ms of forward / input gradient / weight gradient\n", N,
           threads);
    for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++) {
        ConvShape s = {.n = N, .h = shapes[q][1], .w = shapes[q][1], .c_in = shapes[q][0],
                       .c_out = shapes[q][2], .kh = shapes[q][3], .kw = shapes[q][3],
                       .stride = shapes[q][4], .pad = shapes[q][3] / 2,
                       .precision = PRECISION_BF16};
        conv_shape_init(&s);
        size_t nx = (size_t)N * s.h * s.w * s.c_in, ny = (size_t)N * s.h_out * s.w_out * s.c_out;
        size_t nw = (size_t)s.kh * s.kw * s.c_in * s.c_out;
        float *x = alloc_floats(nx), *y = alloc_floats(ny), *dy = alloc_floats(ny);
        float *dx = alloc_floats(nx), *w = alloc_floats(nw), *dw = alloc_floats(nw);
        for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 7) * 0.1f - 0.3f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)(i % 5) * 0.1f - 0.2f;
        for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 3) * 0.01f;
        printf("%4d x %2dx%-2d -> %3d /%d:", s.c_in, s.h, s.w, s.c_out, s.stride);
        for (int a = 0; a < conv_algo_count(); a++) {
            s.algo = s.algo_dweight = conv_algo_at(a);
            if (!conv_algo_eligible(s.algo, &s)) continue;
            float *scratch = alloc_floats(conv_scratch_floats(&s) + 16);
            double best[3] = {1e9, 1e9, 1e9};
            for (int r = 0; r <= 5; r++) {
                double t[4];
                t[0] = now_seconds();
                conv_forward(&s, x, w, NULL, y, scratch);
                t[1] = now_seconds();
                conv_backward(&s, x, w, dy, dx, 0, NULL, NULL, scratch);
                t[2] = now_seconds();
                conv_backward(&s, x, w, dy, NULL, 0, dw, NULL, scratch);
                t[3] = now_seconds();
                for (int p = 0; p < 3 && r > 0; p++)
                    if (t[p + 1] - t[p] < best[p]) best[p] = t[p + 1] - t[p];
            }
            printf("  %s %.1f/%.1f/%.1f", conv_algo_name(s.algo), best[0] * 1e3, best[1] * 1e3,
                   best[2] * 1e3);
            free(scratch);
        }
        printf("\n");
        fflush(stdout);
        free(x), free(y), free(dy), free(dx), free(w), free(dw);
    }
    return 0;
}
