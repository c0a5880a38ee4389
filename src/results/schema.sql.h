/* schema.sql.h — the results database schema, version RESULTS_SCHEMA_VERSION
 * (stored in PRAGMA user_version): the version-1 tables (RESULTS_SCHEMA_SQL)
 * followed by one migration per later version (RESULTS_MIGRATIONS). A new file
 * gets the version-1 tables and then every migration, an older file only the
 * migrations it lacks, so both end with the same schema. docs/results.md
 * documents every column; change both together. To change the schema: append
 * a migration and bump RESULTS_SCHEMA_VERSION. */
#ifndef CNNRUN_RESULTS_SCHEMA_SQL_H
#define CNNRUN_RESULTS_SCHEMA_SQL_H

#define RESULTS_SCHEMA_VERSION 14
/* PRAGMA application_id: "CNNR" — marks the file as a cnnrun results database. */
#define RESULTS_APPLICATION_ID 0x434E4E52

static const char RESULTS_SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "  id              INTEGER PRIMARY KEY,\n"
    "  experiment      TEXT NOT NULL,\n"
    "  config_path     TEXT,\n"
    "  config          TEXT,\n"
    "  status          TEXT NOT NULL DEFAULT 'running'\n"
    "                  CHECK (status IN ('running','finished','failed','interrupted','diverged')),\n"
    "  started_at      TEXT NOT NULL,\n"
    "  finished_at     TEXT,\n"
    "  seed            INTEGER,\n"
    "  threads         INTEGER,\n"
    "  params          INTEGER,\n"
    "  flops_per_image REAL,\n"
    "  epochs_planned  INTEGER,\n"
    "  final_test_acc  REAL,\n"
    "  best_test_acc   REAL,\n"
    "  train_seconds   REAL,\n"
    "  version         TEXT,\n"
    "  data_dir        TEXT,\n"
    "  error           TEXT,\n"
    "  hostname        TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment);\n"
    "CREATE TABLE IF NOT EXISTS epochs (\n"
    "  run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  epoch           INTEGER NOT NULL CHECK (epoch >= 1),\n"
    "  lr              REAL,\n"
    "  train_loss      REAL,\n"
    "  train_acc       REAL,\n"
    "  test_loss       REAL,\n"
    "  test_acc        REAL,\n"
    "  seconds         REAL,\n"
    "  images_per_sec  REAL,\n"
    "  PRIMARY KEY (run_id, epoch)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS lr_find (\n"
    "  run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  step            INTEGER NOT NULL,\n"
    "  lr              REAL,\n"
    "  loss            REAL,\n"
    "  PRIMARY KEY (run_id, step)\n"
    ") WITHOUT ROWID;\n";

/* ---- issue 7: views for people and the per-layer table ------------------ */

/* One row per run with what a comparison needs; epochs_done, the accuracies,
 * time and throughput come from `epochs`, so they are right while a run is
 * still going or after it was killed. Shared by the `run_summary` view and by
 * `cnnrun report` (which also reads version-1 files, without the view). */
/* Versions 2 to 6 (before [data] validation): the best epoch is the one with
 * the highest test accuracy. Migrations 1 -> 2 and 2 -> 3 create the view
 * with it, and `cnnrun report` reads such files with it. */
#define RESULTS_RUN_SUMMARY_SELECT_V2 \
    "SELECT r.id AS run_id, r.experiment, r.status,\n" \
    "  (SELECT count(*) FROM epochs e WHERE e.run_id = r.id) AS epochs_done,\n" \
    "  r.epochs_planned,\n" \
    "  (SELECT max(e.test_acc) FROM epochs e WHERE e.run_id = r.id) AS best_test_acc,\n" \
    "  (SELECT e.epoch FROM epochs e WHERE e.run_id = r.id\n" \
    "   ORDER BY e.test_acc DESC, e.epoch LIMIT 1) AS best_epoch,\n" \
    "  coalesce(r.final_test_acc, (SELECT e.test_acc FROM epochs e WHERE e.run_id = r.id\n" \
    "   ORDER BY e.epoch DESC LIMIT 1)) AS final_test_acc,\n" \
    "  coalesce(r.train_seconds,\n" \
    "           (SELECT sum(e.seconds) FROM epochs e WHERE e.run_id = r.id)) AS train_seconds,\n" \
    "  (SELECT avg(e.images_per_sec) FROM epochs e WHERE e.run_id = r.id) AS images_per_sec,\n" \
    "  r.params, r.flops_per_image / 1e6 AS mflops,\n" \
    "  r.seed, r.threads, r.started_at, r.finished_at, r.error\n" \
    "FROM runs r"

/* Version 7 on: the best epoch (best_test_acc is its test accuracy) is the
 * one with the highest validation accuracy when the run has [data]
 * validation, else the highest test accuracy, the earliest of equals; and
 * the run's early stop and time to accuracy. */
#define RESULTS_RUN_SUMMARY_SELECT \
    "SELECT r.id AS run_id, r.experiment, r.status,\n" \
    "  (SELECT count(*) FROM epochs e WHERE e.run_id = r.id) AS epochs_done,\n" \
    "  r.epochs_planned,\n" \
    "  (SELECT e.test_acc FROM epochs e WHERE e.run_id = r.id\n" \
    "   ORDER BY coalesce(e.val_acc, e.test_acc) DESC, e.epoch LIMIT 1) AS best_test_acc,\n" \
    "  (SELECT e.epoch FROM epochs e WHERE e.run_id = r.id\n" \
    "   ORDER BY coalesce(e.val_acc, e.test_acc) DESC, e.epoch LIMIT 1) AS best_epoch,\n" \
    "  coalesce(r.final_test_acc, (SELECT e.test_acc FROM epochs e WHERE e.run_id = r.id\n" \
    "   ORDER BY e.epoch DESC LIMIT 1)) AS final_test_acc,\n" \
    "  coalesce(r.train_seconds,\n" \
    "           (SELECT sum(e.seconds) FROM epochs e WHERE e.run_id = r.id)) AS train_seconds,\n" \
    "  (SELECT avg(e.images_per_sec) FROM epochs e WHERE e.run_id = r.id) AS images_per_sec,\n" \
    "  r.params, r.flops_per_image / 1e6 AS mflops,\n" \
    "  r.seed, r.threads, r.started_at, r.finished_at, r.error,\n" \
    "  (SELECT max(e.val_acc) FROM epochs e WHERE e.run_id = r.id) AS best_val_acc,\n" \
    "  r.stop_reason, r.epochs_to_target, r.seconds_to_target\n" \
    "FROM runs r"

/* ---- issue 15: sweeps and groups ---------------------------------------- */

/* One row per group of finished runs (lr-find runs aside) that differ only
 * in their seed: the same experiment, the same run_params apart from
 * experiment.seed (`params`: "key=value" sorted by key, ", " between, a
 * value with a comma or a space in double quotes) and the same resolved
 * configuration apart from its first line (a comment naming the file's path)
 * and its seed line. The accuracies and times are run_summary's; the
 * standard deviations are sample ones (n - 1), NULL for one run, computed in
 * two passes (the mean first) in plain SQL so the sqlite3 shell reads the
 * view too (sqrt: SQLite's math functions, built into the shell since 3.35;
 * db.c and the report register one where the library lacks it).
 *
 * The parts of the view every version shares: the key of a group (its
 * params and the rest of its configuration) with the runs it is made of,
 * the aggregates, and the grouping. */
#define RUN_GROUPS_KEY_AND_FROM RUN_GROUPS_KEY_PARAMS RUN_GROUPS_G
#define RUN_GROUPS_KEY_PARAMS \
    "    coalesce((SELECT group_concat(kv, ', ') FROM\n" \
    "      (SELECT p.key || '=' || CASE WHEN p.value GLOB '*[, ]*'\n" \
    "                              THEN '\"' || p.value || '\"' ELSE p.value END AS kv\n" \
    "       FROM run_params p WHERE p.run_id = s.run_id AND p.key <> 'experiment.seed'\n" \
    "       ORDER BY p.key)), '') AS params,\n" \
    "    replace(substr(coalesce(r.config, ''), instr(coalesce(r.config, ''), char(10)) + 1),\n" \
    "            char(10) || 'seed = ' || r.seed || char(10), char(10)) AS rest\n" \
    "  FROM run_summary s JOIN runs r ON r.id = s.run_id\n" \
    "  WHERE s.status = 'finished' AND s.epochs_planned > 0),\n"
#define RUN_GROUPS_G \
    "g AS (\n" \
    "  SELECT m.*, avg(f) OVER w AS mf, avg(b) OVER w AS mb FROM m\n" \
    "  WINDOW w AS (PARTITION BY experiment, params, rest))\n"
/* The same key, each study apart (version 14 on). */
#define RUN_GROUPS_KEY_14 \
    RUN_GROUPS_KEY_PARAMS \
    "g AS (\n" \
    "  SELECT m.*, avg(f) OVER w AS mf, avg(b) OVER w AS mb FROM m\n" \
    "  WINDOW w AS (PARTITION BY study_id, experiment, params, rest))\n"
#define RUN_GROUPS_AGGREGATES \
    "SELECT experiment, params, count(*) AS n,\n" \
    "  avg(f) AS mean_final_test_acc,\n" \
    "  CASE WHEN count(f) > 1 THEN sqrt(sum((f - mf) * (f - mf)) / (count(f) - 1)) END\n" \
    "    AS std_final_test_acc,\n" \
    "  avg(b) AS mean_best_test_acc,\n" \
    "  CASE WHEN count(b) > 1 THEN sqrt(sum((b - mb) * (b - mb)) / (count(b) - 1)) END\n" \
    "    AS std_best_test_acc,\n" \
    "  avg(t) AS mean_train_seconds,\n" \
    "  group_concat(run_id, ',') AS run_ids"
#define RUN_GROUPS_GROUPING \
    "FROM (SELECT * FROM g ORDER BY run_id)\n" \
    "GROUP BY experiment, params, rest\n" \
    "ORDER BY min(run_id)"

/* Versions 6 to 9 (the migrations 5 -> 6 and 6 -> 7 still create it). */
#define RESULTS_RUN_GROUPS_SELECT_V6 \
    "WITH m AS (\n" \
    "  SELECT s.run_id, s.experiment, s.final_test_acc AS f, s.best_test_acc AS b,\n" \
    "    s.train_seconds AS t,\n" \
    RUN_GROUPS_KEY_AND_FROM RUN_GROUPS_AGGREGATES "\n" RUN_GROUPS_GROUPING

/* Versions 10 to 13 ([sweep] prune, issue 24): a run pruned (stop_reason
 * 'pruned') is counted in n and in n_pruned, and left out of the means, the
 * standard deviations and the mean time (it stopped early on purpose). */
#define RESULTS_RUN_GROUPS_SELECT_V10 \
    "WITH m AS (\n" \
    "  SELECT s.run_id, s.experiment, r.stop_reason IS 'pruned' AS pruned,\n" \
    "    CASE WHEN r.stop_reason IS NOT 'pruned' THEN s.final_test_acc END AS f,\n" \
    "    CASE WHEN r.stop_reason IS NOT 'pruned' THEN s.best_test_acc END AS b,\n" \
    "    CASE WHEN r.stop_reason IS NOT 'pruned' THEN s.train_seconds END AS t,\n" \
    RUN_GROUPS_KEY_AND_FROM RUN_GROUPS_AGGREGATES ",\n" \
    "  sum(pruned) AS n_pruned\n" RUN_GROUPS_GROUPING

/* Version 14 on (studies, issue 36): as version 10, and a group never spans
 * two studies: runs of one configuration from two `cnnrun run` invocations
 * are two groups (column study_id; NULL: runs recorded before studies, which
 * group together as before). */
#define RESULTS_RUN_GROUPS_SELECT \
    "WITH m AS (\n" \
    "  SELECT s.run_id, r.study_id, s.experiment, r.stop_reason IS 'pruned' AS pruned,\n" \
    "    CASE WHEN r.stop_reason IS NOT 'pruned' THEN s.final_test_acc END AS f,\n" \
    "    CASE WHEN r.stop_reason IS NOT 'pruned' THEN s.best_test_acc END AS b,\n" \
    "    CASE WHEN r.stop_reason IS NOT 'pruned' THEN s.train_seconds END AS t,\n" \
    RUN_GROUPS_KEY_14 RUN_GROUPS_AGGREGATES ",\n" \
    "  sum(pruned) AS n_pruned, study_id\n" \
    "FROM (SELECT * FROM g ORDER BY run_id)\n" \
    "GROUP BY study_id, experiment, params, rest\n" \
    "ORDER BY min(run_id)"

/* RESULTS_MIGRATIONS[v - 1] turns a version-v schema into version v + 1. */
static const char *const RESULTS_MIGRATIONS[] = {
    /* 1 -> 2: table `layers`, views `run_summary` and `latest_runs` */
    "CREATE TABLE IF NOT EXISTS layers (\n"
    "  run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  idx             INTEGER NOT NULL,\n"
    "  name            TEXT NOT NULL,\n"
    "  type            TEXT NOT NULL,\n"
    "  input_shape     TEXT,\n"
    "  output_shape    TEXT,\n"
    "  params          INTEGER,\n"
    "  mflops          REAL,\n"
    "  PRIMARY KEY (run_id, idx)\n"
    ") WITHOUT ROWID;\n"
    "CREATE VIEW IF NOT EXISTS run_summary AS\n" RESULTS_RUN_SUMMARY_SELECT_V2 ";\n"
    "CREATE VIEW IF NOT EXISTS latest_runs AS\n"
    "SELECT * FROM run_summary\n"
    "WHERE run_id IN (SELECT max(id) FROM runs GROUP BY experiment);\n",
    /* 2 -> 3: runs.final_views (the final evaluation's test-time augmentation);
     * run_summary's final_test_acc is the run's own once it is set (the TTA
     * accuracy, or the last epoch's when the run finished) */
    "ALTER TABLE runs ADD COLUMN final_views INTEGER;\n"
    "DROP VIEW IF EXISTS latest_runs;\n"
    "DROP VIEW IF EXISTS run_summary;\n"
    "CREATE VIEW run_summary AS\n" RESULTS_RUN_SUMMARY_SELECT_V2 ";\n"
    "CREATE VIEW latest_runs AS\n"
    "SELECT * FROM run_summary\n"
    "WHERE run_id IN (SELECT max(id) FROM runs GROUP BY experiment);\n",
    /* 3 -> 4: epochs.steps and epochs.images, what the epoch really ran: a
     * run of a fractional number of epochs ends with a partial one */
    "ALTER TABLE epochs ADD COLUMN steps INTEGER;\n"
    "ALTER TABLE epochs ADD COLUMN images INTEGER;\n",
    /* 4 -> 5: layers.conv_algo (each section's convolution algorithms, as the
     * model table prints them; NULL for a section without convolutions and
     * for runs recorded before) */
    "ALTER TABLE layers ADD COLUMN conv_algo TEXT;\n",
    /* 5 -> 6: table `run_params` (the values a run was given by a sweep or
     * --set) and view `run_groups` (runs that differ only in their seed, with
     * mean and standard deviation) */
    "CREATE TABLE IF NOT EXISTS run_params (\n"
    "  run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  key             TEXT NOT NULL,\n"
    "  value           TEXT NOT NULL,\n"
    "  PRIMARY KEY (run_id, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE VIEW IF NOT EXISTS run_groups AS\n" RESULTS_RUN_GROUPS_SELECT_V6 ";\n",
    /* 6 -> 7: [data] validation (epochs.val_loss, epochs.val_acc; the best
     * epoch chosen on validation), [experiment] patience and target_accuracy
     * (runs.stop_reason; time to accuracy: runs.epochs_to_target,
     * runs.seconds_to_target); the views over run_summary made again */
    "ALTER TABLE epochs ADD COLUMN val_loss REAL;\n"
    "ALTER TABLE epochs ADD COLUMN val_acc REAL;\n"
    "ALTER TABLE runs ADD COLUMN stop_reason TEXT;\n"
    "ALTER TABLE runs ADD COLUMN epochs_to_target INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN seconds_to_target REAL;\n"
    "DROP VIEW IF EXISTS run_groups;\n"
    "DROP VIEW IF EXISTS latest_runs;\n"
    "DROP VIEW IF EXISTS run_summary;\n"
    "CREATE VIEW run_summary AS\n" RESULTS_RUN_SUMMARY_SELECT ";\n"
    "CREATE VIEW latest_runs AS\n"
    "SELECT * FROM run_summary\n"
    "WHERE run_id IN (SELECT max(id) FROM runs GROUP BY experiment);\n"
    "CREATE VIEW run_groups AS\n" RESULTS_RUN_GROUPS_SELECT_V6 ";\n",
    /* 7 -> 8: runs.ranks, the processes of a data-parallel run over MPI
     * (docs/distributed.md); runs.threads is then each rank's. Rows written
     * before were one process. */
    "ALTER TABLE runs ADD COLUMN ranks INTEGER NOT NULL DEFAULT 1;\n",
    /* 8 -> 9: runs.blas_core, the OpenBLAS core (kernel family) that ran the
     * matrix products ("Haswell", "SkylakeX", "Prescott": a generic core on a
     * newer CPU explains a slow run). Rows written before: NULL. */
    "ALTER TABLE runs ADD COLUMN blas_core TEXT;\n",
    /* 9 -> 10: [sweep] prune (runs.stop_reason 'pruned'): view run_groups
     * counts a pruned run (n, n_pruned) but leaves it out of its means */
    "DROP VIEW IF EXISTS run_groups;\n"
    "CREATE VIEW run_groups AS\n" RESULTS_RUN_GROUPS_SELECT_V10 ";\n",
    /* 10 -> 11: runs.engine, the engine's settings that ran it
     * ("conv=tune dwsplit=auto fuse=on": engine_settings_text), put back on
     * resume and shown by runs --diff. Rows written before: NULL. */
    "ALTER TABLE runs ADD COLUMN engine TEXT;\n",
    /* 11 -> 12: runs.precision, the matrix products' ([experiment]
     * precision: 'fp32', 'bf16'). Rows written before: NULL (fp32). */
    "ALTER TABLE runs ADD COLUMN precision TEXT;\n",
    /* 12 -> 13 (issue 37, the data set): runs.data, the identity of the data
     * the run trained on ("dataset=cifar100 label=fine train=50000 test=10000
     * classes=100 names=HASH labels=HASH dir=PATH": data_identity); a resume
     * refuses other data. Rows written before: NULL (CIFAR-10, unchecked). */
    "ALTER TABLE runs ADD COLUMN data TEXT;\n",
    /* 13 -> 14 (issue 36, studies): table `studies`, one row per `cnnrun run`
     * invocation (a sweep resumed with --resume goes on in its study), and
     * runs.study_id. Rows written before: NULL — which invocation trained an
     * older run is not recorded anywhere, and one study per experiment name
     * would invent exactly the merge of two sweeps that studies end; they
     * group together as before and `--study all` shows them. View run_groups
     * made again: a group never spans two studies. */
    "CREATE TABLE IF NOT EXISTS studies (\n"
    "  id              INTEGER PRIMARY KEY,\n"
    "  name            TEXT NOT NULL,\n"
    "  command         TEXT,\n"
    "  status          TEXT NOT NULL DEFAULT 'running'\n"
    "                  CHECK (status IN ('running','finished','failed','interrupted')),\n"
    "  started_at      TEXT NOT NULL,\n"
    "  finished_at     TEXT\n"
    ");\n"
    "ALTER TABLE runs ADD COLUMN study_id INTEGER REFERENCES studies(id);\n"
    "CREATE INDEX IF NOT EXISTS runs_study ON runs(study_id);\n"
    "DROP VIEW IF EXISTS run_groups;\n"
    "CREATE VIEW run_groups AS\n" RESULTS_RUN_GROUPS_SELECT ";\n",
};
_Static_assert(sizeof RESULTS_MIGRATIONS / sizeof RESULTS_MIGRATIONS[0] ==
                   RESULTS_SCHEMA_VERSION - 1,
               "one migration per schema version after 1");

#endif
