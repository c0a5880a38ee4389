/* bench.c — `cnnrun bench FILE.ini [--steps N] [--batch B]`: times full
 * training steps (forward, backward, optimizer) on random real-shaped input
 * after warm-up; prints time share and achieved GFLOP/s per layer type and,
 * last, `images_per_sec=<number>`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

int cmd_bench(CliOptions *o)
{
    if (o->n_files != 1) {
        fprintf(stderr, "cnnrun bench: takes one experiment file, got %d\n", o->n_files);
        return CN_EXIT_USAGE;
    }
    Experiment e;
    if (experiment_load(o->files[0], o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    int batch = o->batch ? o->batch : e.batch_size;
    int steps = o->steps ? o->steps : 10;
    int threads = cli_setup_threads(o->threads);
    Session ses;
    if (session_open(&ses, &e, batch, 0) != CN_EXIT_OK) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    Model *m = &ses.model;
    float *x = ses.images;
    int *labels = ses.labels;
    Rng r;
    rng_seed(&r, 1, RNG_STREAM_BENCH);
    for (size_t i = 0; i < (size_t)batch * CIFAR_PIXELS; i++) x[i] = rng_normal(&r);
    for (int i = 0; i < batch; i++) labels[i] = (int)rng_below(&r, (uint32_t)m->classes);
    m->node_seconds = xcalloc((size_t)m->n_nodes, sizeof(double));
    double t0 = 0, t_update = 0;
    const int warmup = 2;
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) {
            memset(m->node_seconds, 0, sizeof(double) * (size_t)m->n_nodes);
            t0 = now_seconds();
            t_update = 0;
        }
        model_forward(m, x, batch, true);
        softmax_xent(batch, m->classes, model_logits(m), labels, model_dlogits(m),
                     1.0f / (float)batch, NULL);
        model_zero_grad(m);
        model_backward(m, x, batch);
        double tu = now_seconds();
        optimizer_step(&ses.opt, m->params, m->grads, 0.001f);
        t_update += now_seconds() - tu;
    }
    double total = now_seconds() - t0;
    double ips = (double)batch * steps / total;
    /* group by op type: time share and GFLOP/s (training = 3x forward FLOPs) */
    enum { N_OPS = OP_COUNT };
    double secs[N_OPS] = {0}, flops[N_OPS] = {0};
    for (int i = 0; i < m->n_nodes; i++) {
        secs[m->nodes[i].op] += m->node_seconds[i];
        flops[m->nodes[i].op] += 3.0 * m->nodes[i].flops * batch * steps;
    }
    printf("%s: batch %d, %d steps after %d warm-up, %d threads, %.1f MFLOPs/image forward\n",
           o->files[0], batch, steps, warmup, threads, model_flops_per_image(m) / 1e6);
    printf("%-16s %9s %7s %9s\n", "layer type", "seconds", "share", "GFLOP/s");
    for (int k = 0; k < N_OPS; k++) {
        if (secs[k] == 0) continue;
        if (flops[k] > 0)
            printf("%-16s %9.3f %6.1f%% %9.1f\n", op_name((OpType)k), secs[k], 100 * secs[k] / total,
                   flops[k] / secs[k] / 1e9);
        else
            printf("%-16s %9.3f %6.1f%% %9s\n", op_name((OpType)k), secs[k], 100 * secs[k] / total,
                   "-");
    }
    printf("%-16s %9.3f %6.1f%%\n", "optimizer", t_update, 100 * t_update / total);
    printf("%-16s %9.3f  overall %.1f GFLOP/s\n", "total", total,
           3.0 * model_flops_per_image(m) * batch * steps / total / 1e9);
    if (getenv("CNNRUN_BENCH_NODES")) {
        printf("%-28s %-8s %9s %9s\n", "node", "op", "ms/step", "GFLOP/s");
        for (int i = 0; i < m->n_nodes; i++) {
            const Node *n = &m->nodes[i];
            double sec = m->node_seconds[i];
            printf("%-28s %-8s %9.2f %9.1f\n", n->name, op_name(n->op), 1e3 * sec / steps,
                   n->flops > 0 ? 3.0 * n->flops * batch * steps / sec / 1e9 : 0.0);
        }
    }
    printf("images_per_sec=%.1f\n", ips);
    free(m->node_seconds);
    m->node_seconds = NULL;
    session_close(&ses);
    experiment_free(&e);
    return CN_EXIT_OK;
}
