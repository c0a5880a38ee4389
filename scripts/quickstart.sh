#!/bin/sh
# quickstart.sh — from a fresh clone: install dependencies, build, train the
# default experiment (experiments/quick.ini) and show its epochs from the
# results database. Data: --data/$CNNRUN_DATA if given, else the embedded sample.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
./build/cnnrun run experiments/quick.ini "$@"
sqlite3 -header -column results/results.db \
  "select run_id, epoch, round(lr,5) lr, round(train_loss,4) train_loss, round(test_acc,4) test_acc
     from epochs where run_id = (select max(id) from runs)"
