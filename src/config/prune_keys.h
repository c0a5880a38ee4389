/* prune_keys.h — private to src/config: the [sweep] keys of pruning
 * (prune_keys.c), read by sweep.c's reading of the section. */
#ifndef CNNRUN_CONFIG_PRUNE_KEYS_H
#define CNNRUN_CONFIG_PRUNE_KEYS_H

#include "cnnrun/config.h"
#include "ini_doc.h"

typedef struct {
    PruneRule rule;
    int line[5]; /* each key's line (0: not given), in prune_keys.c's order */
} PruneKeys;

/* The defaults: no pruning; min_runs 3, warmup 0, rungs 1, 3, 9, eta 3. */
void prune_keys_init(PruneKeys *pk);
/* key = value at line, when key is a pruning key: read (errors into d), 1;
 * else 0 (not one of them). */
int prune_keys_read(Diag *d, PruneKeys *pk, const char *key, const char *value, int line);
/* After the section: a key given without the pruner it belongs to. */
void prune_keys_check(Diag *d, PruneKeys *pk);

#endif
