/* lr_find.c — the learning-rate range test (train.h): trains a throwaway
 * session for a few hundred steps with an exponentially growing learning
 * rate, reports the smoothed loss per step and derives the suggested
 * one-cycle range. The rule: lr_max = (lr at the minimum smoothed loss) / 10,
 * where the loss still falls steadily; lr_start = lr_max / 15 (the seed's
 * 0.008 / 0.12); lr_end = lr_start / 10. The steepest-descent lr is reported
 * for reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

#define SMOOTH_BETA 0.98
#define EXPLODE_FACTOR 4.0

TrainEnd lr_find(Session *s, const CifarSplit *train, const LrFindOptions *lo,
                 const TrainCallbacks *cb, LrFindResult *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    double *lrs = xmalloc(sizeof(double) * (size_t)lo->steps);
    double *sm = xmalloc(sizeof(double) * (size_t)lo->steps);
    const int per_epoch = s->steps_per_epoch;
    TrainEnd end = TRAIN_FINISHED;
    double avg = 0, best = INFINITY;
    int n_done = 0;
    for (int k = 0; k < lo->steps; k++) {
        int step = k % per_epoch;
        if (step == 0) session_shuffle(s);
        double f = lo->steps > 1 ? (double)k / (lo->steps - 1) : 0;
        double lr = lo->lr_min * pow(lo->lr_max / lo->lr_min, f);
        int n = session_batch(s, train, step);
        double loss = session_forward(s, n, NULL) / n;
        avg = SMOOTH_BETA * avg + (1 - SMOOTH_BETA) * loss;
        double smoothed = avg / (1 - pow(SMOOTH_BETA, k + 1));
        lrs[k] = lr;
        sm[k] = smoothed;
        n_done = k + 1;
        TrainStep st = {.step = k + 1, .global_step = k + 1, .lr = lr, .loss = smoothed};
        const char *failed = cb->step ? cb->step(cb->ctx, &st) : NULL; /* then the poll */
        int stop = !failed && cb->stop && cb->stop(cb->ctx);
        if ((*why = train_agree(s, failed, &stop))) {
            end = TRAIN_FAILED;
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
        if (stop) {
            end = TRAIN_INTERRUPTED;
            break;
        }
        session_update(s, n, (float)lr);
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
    out->suggested_max = out->lr_at_best / 10;
    out->suggested_start = out->suggested_max / 15;
    free(lrs);
    free(sm);
    return end;
}
