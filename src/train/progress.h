/* progress.h — terminal progress display of a training run (private to train/). */
#ifndef CNNRUN_PROGRESS_H
#define CNNRUN_PROGRESS_H

typedef struct {
    int tty, epochs; /* epochs of the run, a partial last one counted */
    int quiet;       /* draw nothing (set after progress_init) */
    double last_draw;
} Progress;

void progress_init(Progress *p, int epochs);
/* Step `step` of the `steps` of epoch `epoch` (fewer in a partial last epoch). */
void progress_step(Progress *p, int epoch, int step, int steps, double loss, double acc,
                   double img_s, double eta_s, double now);
/* lr: the rates as optimizer_rates_text gives them. */
void progress_epoch(Progress *p, int epoch, const char *lr, double train_loss, double train_acc,
                    double test_loss, double test_acc, double seconds, double img_s);

#endif
