/* lr_find.c — the learning-rate range test (train.h): trains a throwaway
 * model for a few hundred steps with an exponentially growing learning rate,
 * records the smoothed loss per step and derives the suggested one-cycle
 * range. The rule: lr_max = (lr at the minimum smoothed loss) / 10, where the
 * loss still falls steadily; lr_start = lr_max / 15 (the seed's 0.008 / 0.12);
 * lr_end = lr_start / 10. The steepest-descent lr is reported for reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

#define SMOOTH_BETA 0.98
#define EXPLODE_FACTOR 4.0

int lr_find(const Experiment *e, const CifarSplit *train, const LrFindOptions *lo,
            const TrainOptions *opt, LrFindResult *out)
{
    memset(out, 0, sizeof *out);
    Session ses;
    if (session_open(&ses, e, e->batch_size, train->n) != CN_EXIT_OK) return CN_EXIT_USAGE;
    const Model *m = &ses.model;
    double *lrs = xmalloc(sizeof(double) * (size_t)lo->steps);
    double *sm = xmalloc(sizeof(double) * (size_t)lo->steps);
    const int per_epoch = ses.steps_per_epoch;

    int rc = CN_EXIT_OK;
    int64_t run_id = 0;
    double t0 = now_seconds();
    if (opt->db) {
        char name[160], *cfg = NULL;
        size_t cfg_len = 0;
        snprintf(name, sizeof name, "%s/lr-find", e->name);
        FILE *mem = open_memstream(&cfg, &cfg_len);
        experiment_print(e, mem);
        fprintf(mem, "\n; lr-find: lr %g -> %g over %d steps\n", lo->lr_min, lo->lr_max,
                lo->steps);
        fclose(mem);
        RunInfo info = {.experiment = name, .config_path = e->path, .config = cfg,
                        .seed = e->seed, .threads = opt->threads, .params = (int64_t)m->n_params,
                        .flops_per_image = model_flops_per_image(m), .epochs_planned = 0,
                        .version = CN_VERSION, .data_dir = opt->data_dir};
        run_id = results_begin_run(opt->db, &info);
        free(cfg);
        if (run_id < 0) rc = CN_EXIT_FAIL;
    }
    double avg = 0, best = INFINITY;
    int n_done = 0;
    const char *status = "finished", *error = NULL;
    for (int k = 0; rc == CN_EXIT_OK && k < lo->steps; k++) {
        int s = k % per_epoch;
        if (s == 0) session_shuffle(&ses);
        double f = lo->steps > 1 ? (double)k / (lo->steps - 1) : 0;
        double lr = lo->lr_min * pow(lo->lr_max / lo->lr_min, f);
        int n = session_batch(&ses, train, s);
        double loss = session_forward(&ses, n, NULL) / n;
        avg = SMOOTH_BETA * avg + (1 - SMOOTH_BETA) * loss;
        double smoothed = avg / (1 - pow(SMOOTH_BETA, k + 1));
        lrs[k] = lr;
        sm[k] = smoothed;
        n_done = k + 1;
        if (opt->db && results_add_lr_find(opt->db, run_id, k + 1, lr, smoothed) != 0) {
            rc = CN_EXIT_FAIL;
            status = "failed";
            error = "could not record an lr_find step";
            break;
        }
        if (!isfinite(smoothed) || (k > 0 && smoothed > EXPLODE_FACTOR * best)) {
            out->stopped_early = 1;
            break;
        }
        if (smoothed < best) {
            best = smoothed;
            out->best_loss = smoothed;
            out->lr_at_best = lr;
        }
        if (opt->stop && *opt->stop) {
            status = "interrupted";
            error = "interrupted by a signal";
            rc = CN_EXIT_FAIL;
            break;
        }
        session_update(&ses, n, (float)lr);
    }
    /* steepest descent of the smoothed loss over log(lr), up to the minimum;
     * the first tenth of the steps is skipped (the smoothing is still settling) */
    double steepest = 0;
    for (int k = n_done / 10 + 1; k < n_done && lrs[k - 1] < out->lr_at_best; k++) {
        double slope = (sm[k] - sm[k - 1]) / (log(lrs[k]) - log(lrs[k - 1]));
        if (slope < steepest) {
            steepest = slope;
            out->lr_steepest = lrs[k];
        }
    }
    out->steps_done = n_done;
    out->run_id = run_id > 0 ? run_id : 0;
    out->suggested_max = out->lr_at_best / 10;
    out->suggested_start = out->suggested_max / 15;
    if (opt->db && run_id > 0 &&
        results_finish_run(opt->db, run_id, status, now_seconds() - t0, error) != 0)
        rc = CN_EXIT_FAIL;
    session_close(&ses);
    free(lrs);
    free(sm);
    return rc;
}
