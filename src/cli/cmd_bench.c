/* cmd_bench.c — `cnnrun bench FILE.ini [--steps N] [--seconds S] [--batch B]`:
 * measures the sgemm peak on the engine's threads, then times full training
 * steps (forward, backward, optimizer) on random real-shaped input after
 * warm-up; prints time share and achieved GFLOP/s per layer type (per node,
 * with each conv's algorithm, with CNNRUN_BENCH_NODES=1), the step times'
 * median and spread, the effective GFLOP/s and its ratio to the peak, and
 * last `images_per_sec=<number>`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* The sgemm peak: a 2048^3 product, best of 5 (tests/bench/gemm_peak's). */
#define PEAK_N 2048
#define PEAK_REPS 5

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n sorted values (linear between neighbours). */
static double quantile(const double *v, int n, double q)
{
    double at = q * (n - 1);
    int i = (int)at;
    return i + 1 < n ? v[i] + (at - i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* One training step on the session's batch (under mpirun: this rank's
 * slice of it, and the gradients summed over the ranks, counted in the
 * step's time). */
static double step(Session *ses, int batch, double *t_update)
{
    Model *m = &ses->model;
    int lo, k = session_shard(ses, batch, &lo);
    const float *x = ses->images + (size_t)lo * CIFAR_PIXELS;
    double t0 = now_seconds();
    model_forward(m, x, k, true);
    softmax_xent(k, m->classes, model_logits(m), ses->labels + lo, model_dlogits(m),
                 1.0f / (float)batch, NULL);
    model_zero_grad(m);
    session_backward(ses, x, k);
    double tu = now_seconds();
    optimizer_step(&ses->opt, m->params, m->grads, 0.001f);
    double t1 = now_seconds();
    *t_update += t1 - tu;
    return t1 - t0;
}

static void print_node_table(const Model *m, int batch, int steps)
{
    printf("%-28s %-8s %-9s %9s %9s\n", "node", "op", "algo", "ms/step", "GFLOP/s");
    for (int i = 0; i < m->n_nodes; i++) {
        const Node *n = &m->nodes[i];
        double sec = m->node_seconds[i];
        printf("%-28s %-8s %-9s %9.2f %9.1f\n", n->name, op_name(n->op),
               n->op == OP_CONV ? conv_algo_name(n->algo) : "-", 1e3 * sec / steps,
               n->flops > 0 ? 3.0 * n->flops * batch * steps / sec / 1e9 : 0.0);
    }
}

int cmd_bench(CliOptions *o)
{
    if (o->n_files != 1) {
        fprintf(stderr, "cnnrun bench: takes one experiment file, got %d\n", o->n_files);
        return CN_EXIT_USAGE;
    }
    Experiment e;
    if (experiment_load(o->files[0], o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    e.engine = o->engine;
    grid_note_unswept(o->files[0], o->sets, o->n_sets, "bench");
    int batch = o->batch ? o->batch : e.batch_size;
    if (batch < dist_size()) {
        fprintf(stderr, "cnnrun bench: a batch of %d images cannot be shared by %d ranks\n", batch,
                dist_size());
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    int min_steps = o->steps ? o->steps : 10;
    int threads = study_setup_threads(o->threads);
    if (dist_max_int(study_address_space_fits(o->files[0], &e, (batch + dist_size() - 1) /
                                                                 dist_size(), threads))) {
        experiment_free(&e); /* out of memory under ulimit -v: said */
        return CN_EXIT_FAIL;
    }
    /* each rank measures its own threads' peak at the same time; the run's
     * peak is their sum (the effective GFLOP/s are the whole batch's) */
    double peak = gemm_peak_gflops(PEAK_N, PEAK_REPS);
    double bf16_peak = e.precision == PRECISION_BF16 ? gemm_peak_gflops_in(PEAK_N, PEAK_REPS,
                                                                           PRECISION_BF16)
                                                     : 0;
    dist_sum_doubles(&bf16_peak, 1);
    dist_sum_doubles(&peak, 1);
    Session ses;
    if (session_open(&ses, &e, batch, 0) != CN_EXIT_OK) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    Model *m = &ses.model;
    Rng r;
    rng_seed(&r, 1, RNG_STREAM_BENCH);
    for (size_t i = 0; i < (size_t)batch * CIFAR_PIXELS; i++) ses.images[i] = rng_normal(&r);
    for (int i = 0; i < batch; i++) ses.labels[i] = (int)rng_below(&r, (uint32_t)m->classes);
    m->node_seconds = xcalloc((size_t)m->n_nodes, sizeof(double));
    const int warmup = 2;
    double t_update = 0;
    for (int s = 0; s < warmup; s++) step(&ses, batch, &t_update);
    memset(m->node_seconds, 0, sizeof(double) * (size_t)m->n_nodes);
    t_update = 0;
    /* at least min_steps steps, and with --seconds until that much time passed */
    int cap = min_steps, steps = 0;
    double *times = xmalloc(sizeof(double) * (size_t)cap);
    double t0 = now_seconds(), total = 0;
    /* the ranks step together: they stop when all of them would */
    while (dist_max_int(steps < min_steps || total < o->seconds)) {
        if (steps == cap) times = xrealloc(times, sizeof(double) * (size_t)(cap *= 2));
        times[steps++] = step(&ses, batch, &t_update);
        total = now_seconds() - t0;
    }
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
    if (ses.ranks > 1)
        printf("data-parallel: %d MPI ranks of %d thread%s, %d images per rank; rank 0's "
               "times, img/s of the whole batch\n", ses.ranks, threads, threads == 1 ? "" : "s",
               m->max_batch);
    printf("sgemm peak: %.1f GFLOP/s (engine gemm(), %d^3, best of %d%s)\n", peak, PEAK_N,
           PEAK_REPS, ses.ranks > 1 ? ", summed over the ranks" : "");
    if (e.precision == PRECISION_BF16)
        printf("bf16 product peak: %.1f GFLOP/s (%s, %d^3; precision = bf16)\n", bf16_peak,
               bf16_path_name(bf16_path()), PEAK_N);
    printf("OpenBLAS core: %s (%s kernels) on a CPU with %s%s%s (%s)\n", blas_core_name(),
           isa_level_name(blas_core_level(blas_core_name())), isa_level_name(cpu_isa_level()),
           getenv("OPENBLAS_CORETYPE") ? "; OPENBLAS_CORETYPE=" : "",
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "", blas_config());
    model_print_conv_choice(m, stdout);
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
    /* effective: the direct convolution's FLOPs (the model table's, x3 for
     * training) per second, whatever algorithm ran */
    double effective = 3.0 * model_flops_per_image(m) * ips / 1e9;
    printf("%-16s %9.3f  overall %.1f GFLOP/s\n", "total", total, effective);
    if (getenv("CNNRUN_BENCH_NODES")) print_node_table(m, batch, steps);
    qsort(times, (size_t)steps, sizeof(double), cmp_double);
    double med = quantile(times, steps, 0.5);
    printf("step: median %.1f ms (min %.1f, quartiles %.1f .. %.1f, max %.1f)   effective "
           "%.1f GFLOP/s = %.3f of the sgemm peak\n",
           1e3 * med, 1e3 * times[0], 1e3 * quantile(times, steps, 0.25),
           1e3 * quantile(times, steps, 0.75), 1e3 * times[steps - 1], effective,
           peak > 0 ? effective / peak : 0);
    printf("sgemm_peak_gflops=%.1f\n", peak);
    printf("precision=%s\n", e.precision == PRECISION_BF16 ? "bf16" : "fp32");
    if (e.precision == PRECISION_BF16) printf("bf16_peak_gflops=%.1f\n", bf16_peak);
    printf("effective_gflops=%.1f\n", effective);
    printf("peak_ratio=%.3f\n", peak > 0 ? effective / peak : 0);
    printf("step_ms_median=%.2f\nstep_ms_min=%.2f\nstep_ms_q1=%.2f\nstep_ms_q3=%.2f\n"
           "step_ms_max=%.2f\n",
           1e3 * med, 1e3 * times[0], 1e3 * quantile(times, steps, 0.25),
           1e3 * quantile(times, steps, 0.75), 1e3 * times[steps - 1]);
    printf("images_per_sec_median=%.1f\n", batch / med);
    printf("ranks=%d\n", ses.ranks);
    printf("blas_core=%s\n", blas_core_name());
    printf("images_per_sec=%.1f\n", ips);
    free(times);
    free(m->node_seconds);
    m->node_seconds = NULL;
    session_close(&ses);
    experiment_free(&e);
    return CN_EXIT_OK;
}
