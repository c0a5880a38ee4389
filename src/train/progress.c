/* progress.c — what a run prints while it trains: on a terminal one live
 * line per epoch (step, loss, accuracy, img/s, ETA) redrawn in place; when
 * not a terminal (nohup, a log file), the same line as plain text once a
 * minute (both on stderr: progress), and one line per finished epoch (on
 * stdout: the run's results, so `cnnrun run x.ini > log` keeps them) with
 * its rate or each group's (optimizer_rates_text). */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "progress.h"

void progress_init(Progress *p, int epochs)
{
    p->tty = isatty(fileno(stderr));
    p->quiet = 0;
    p->epochs = epochs;
    p->last_draw = 0;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (s < 0) s = 0;
    int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
    if (h) snprintf(buf, n, "%dh%02dm", h, m);
    else snprintf(buf, n, "%dm%02ds", m, sec);
}

void progress_step(Progress *p, int epoch, int step, int steps, double loss, double acc,
                   double img_s, double eta_s, double now)
{
    if (p->quiet) return;
    if (p->last_draw == 0) p->last_draw = now; /* log: the first line after a minute */
    double every = p->tty ? 0.25 : 60.0;
    if (now - p->last_draw < every && !(p->tty && step == steps)) return;
    p->last_draw = now;
    char eta[32];
    fmt_eta(eta, sizeof eta, eta_s);
    fprintf(stderr, "%sepoch %d/%d  step %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s%s",
            p->tty ? "\r\033[K" : "", epoch, p->epochs, step, steps, loss, 100 * acc, img_s,
            eta, p->tty ? "" : "\n");
    fflush(stderr);
}

void progress_epoch(Progress *p, int epoch, const char *lr, double train_loss, double train_acc,
                    double test_loss, double test_acc, double seconds, double img_s)
{
    if (p->quiet) return;
    if (p->tty) { /* the live line (stderr) gives way to the epoch's (stdout) */
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    char test[64] = "not evaluated"; /* [experiment] eval_every */
    if (!isnan(test_loss))
        snprintf(test, sizeof test, "loss %.4f acc %.2f%%", test_loss, 100 * test_acc);
    fprintf(stdout,
            "epoch %3d/%d  lr %s  train loss %.4f acc %.2f%%  test %s  %.1fs  %.0f img/s\n",
            epoch, p->epochs, lr, train_loss, 100 * train_acc, test, seconds, img_s);
    fflush(stdout); /* `> log` shows each epoch as it ends */
}
