/* schema.sql.h — the results database schema, version RESULTS_SCHEMA_VERSION
 * (stored in PRAGMA user_version). docs/results.md documents every column;
 * change both together and bump the version when the schema changes. */
#ifndef CNNRUN_RESULTS_SCHEMA_SQL_H
#define CNNRUN_RESULTS_SCHEMA_SQL_H

#define RESULTS_SCHEMA_VERSION 1
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

#endif
