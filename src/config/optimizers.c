/* optimizers.c — the optimizer table (config.h): one row per OptimizerType,
 * everything the file format, the parameter groups and the checkpoint ask of
 * an optimizer — its name, the defaults it gives other keys, the state it
 * keeps per parameter, whether it updates matrices only. Its update is the
 * row of the same type in src/train/optimizer.c's `steps` (the step sits
 * above the configuration). Adding an optimizer: docs/architecture.md,
 * "A new optimizer"; test_optimizer_table_complete fails on a row left
 * out or half filled. */
#include <stddef.h>

#include "cnnrun/config.h"
#include "schema.h"

static const OptimizerInfo table[] = {
    [OPT_SGD] = {.name = "sgd", .beta2 = 0.999f, .state = OPT_STATE_M1},
    [OPT_ADAM] = {.name = "adam", .beta2 = 0.999f, .state = OPT_STATE_M1 | OPT_STATE_M2},
    [OPT_ADAMW] = {.name = "adamw", .beta2 = 0.999f, .decoupled = true,
                   .state = OPT_STATE_M1 | OPT_STATE_M2},
    /* beta2 is RMSProp's smoothing constant alpha: PyTorch's default 0.99 */
    [OPT_RMSPROP] = {.name = "rmsprop", .beta2 = 0.99f, .state = OPT_STATE_M1},
    [OPT_MUON] = {.name = "muon", .beta2 = 0.999f, .matrix_only = true, .state = OPT_STATE_M1},
};
_Static_assert(sizeof table / sizeof *table == OPT_COUNT, "one row per optimizer type");

/* The names as the schema's enum lists want them (index = OptimizerType,
 * NULL-terminated), copied from the rows before main so that a name is
 * written once. */
const char *schema_optimizer_names[OPT_COUNT + 1];

__attribute__((constructor)) static void fill_names(void)
{
    for (int t = 0; t < OPT_COUNT; t++) schema_optimizer_names[t] = table[t].name;
    schema_optimizer_names[OPT_COUNT] = NULL;
}

const OptimizerInfo *optimizer_info(OptimizerType t)
{
    static const OptimizerInfo none = {.name = NULL};
    return (int)t >= 0 && t < OPT_COUNT ? &table[t] : &none;
}

const char *optimizer_type_name(OptimizerType t)
{
    const char *name = optimizer_info(t)->name;
    return name ? name : "?";
}
