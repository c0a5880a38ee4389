/* epoch.h — the numbers of one finished epoch: what the training loop
 * reports (train.h) and what the results database stores as a row of
 * `epochs` (results.h). A header of its own so that neither of the two
 * needs the other. */
#ifndef CNNRUN_EPOCH_H
#define CNNRUN_EPOCH_H

typedef struct {
    int epoch;                 /* 1-based */
    double lr;                 /* at the last step of the epoch */
    double train_loss, train_acc;
    double test_loss, test_acc;  /* NaN (stored as NULL) when the epoch was not evaluated */
    int evaluated;             /* [experiment] eval_every: the test split was evaluated */
    /* [data] validation: the held-out images, evaluated with the test split */
    double val_loss, val_acc;  /* stored only when validated (else NULL) */
    int validated;
    /* the accuracy the run is judged on (validation, else test) is its best so far:
     * the `best` checkpoint, patience's reference */
    int improved;
    int reached_target;        /* [experiment] target_accuracy was reached at this epoch */
    double seconds;            /* wall time of the epoch (training + evaluation) */
    double run_seconds;        /* the run's up to this epoch's end (runs.train_seconds so far) */
    double images_per_sec;     /* training images per second */
    int steps;                 /* optimizer steps in it (fewer in a partial last epoch);
                                  0: not known (stored as NULL) */
    int images;                /* training images in those steps */
} EpochRecord;

#endif
