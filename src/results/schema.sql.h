/* schema.sql.h — the results database schema, version RESULTS_SCHEMA_VERSION
 * (stored in PRAGMA user_version): the version-1 tables (RESULTS_SCHEMA_SQL)
 * followed by one migration per later version (RESULTS_MIGRATIONS). A new file
 * gets the version-1 tables and then every migration, an older file only the
 * migrations it lacks, so both end with the same schema. docs/results.md
 * documents every column; change both together. To change the schema: append
 * a migration and bump RESULTS_SCHEMA_VERSION. */
#ifndef CNNRUN_RESULTS_SCHEMA_SQL_H
#define CNNRUN_RESULTS_SCHEMA_SQL_H

#define RESULTS_SCHEMA_VERSION 5
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
#define RESULTS_RUN_SUMMARY_SELECT \
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
    "CREATE VIEW IF NOT EXISTS run_summary AS\n" RESULTS_RUN_SUMMARY_SELECT ";\n"
    "CREATE VIEW IF NOT EXISTS latest_runs AS\n"
    "SELECT * FROM run_summary\n"
    "WHERE run_id IN (SELECT max(id) FROM runs GROUP BY experiment);\n",
    /* 2 -> 3: runs.final_views (the final evaluation's test-time augmentation);
     * run_summary's final_test_acc is the run's own once it is set (the TTA
     * accuracy, or the last epoch's when the run finished) */
    "ALTER TABLE runs ADD COLUMN final_views INTEGER;\n"
    "DROP VIEW IF EXISTS latest_runs;\n"
    "DROP VIEW IF EXISTS run_summary;\n"
    "CREATE VIEW run_summary AS\n" RESULTS_RUN_SUMMARY_SELECT ";\n"
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
};
_Static_assert(sizeof RESULTS_MIGRATIONS / sizeof RESULTS_MIGRATIONS[0] ==
                   RESULTS_SCHEMA_VERSION - 1,
               "one migration per schema version after 1");

#endif
