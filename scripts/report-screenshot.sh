#!/bin/sh
# report-screenshot.sh — makes the pictures of `cnnrun report` in
# docs/results.md (docs/img/report-*.png) from real tiny runs: experiments/
# quick.ini on 1,000 images of the embedded sample (300 for the overlay),
# 3 or 4 epochs, one thread, three studies in one database — a sweep over
# schedule.lr_max (6 runs), a sweep over lr_max x optimizer.weight_decay
# (9 runs) and lr_max x seed (20 runs, for the overlay) — about 8 minutes on
# one core; then each study's report and headless Chromium's pictures of its
# plots. A manual documentation step, not part of the tests.
# Usage: scripts/report-screenshot.sh [BUILD_DIR]   (default: build)
set -eu
cd "$(dirname "$0")/.."
root=$PWD
cnnrun="$root/${1:-build}/cnnrun"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$cnnrun" ] || { echo "report-screenshot: build first (meson setup build && ninja -C build)"; exit 1; }
[ -x "$chromium" ] || { echo "report-screenshot: no Chromium at $chromium (apt-get install chromium, or set CHROMIUM)"; exit 1; }
work=$(mktemp -d /tmp/cnnrun_screenshot_XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export CNNRUN_CONV=rule
run() { "$cnnrun" run experiments/quick.ini --threads 1 --db "$work/r.db" \
    --set schedule.lr_start=0.002 "$@"; }
short="--set data.train_subset=1000 --set experiment.epochs=3 --set schedule.cycle_epochs=3"
run $short --study one-key --sweep schedule.lr_max=0.01,0.02,0.05,0.1,0.2,0.5
run $short --study two-key --sweep schedule.lr_max=0.02,0.1,0.5 \
    --sweep optimizer.weight_decay=5e-5,5e-4,5e-3
run --set data.train_subset=300 --set experiment.epochs=4 --set schedule.cycle_epochs=4 \
    --study overlay --sweep schedule.lr_max=0.02,0.05,0.1,0.2,0.5 --sweep experiment.seed=1,2,3,4
mkdir -p docs/img
# shot STUDY PLOT.svg OUT.png HEIGHT: one plot of a study's report, as the browser draws it
shot() {
    "$cnnrun" report --db "$work/r.db" --study "$1" -o "$work/$1" > /dev/null
    "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --screenshot="$root/docs/img/$3" --window-size="1200,$4" "file://$work/$1/$2" \
        2> "$work/chromium.log" > /dev/null ||
        { cat "$work/chromium.log"; echo "report-screenshot: Chromium failed"; exit 1; }
    echo "report-screenshot: wrote docs/img/$3"
}
shot one-key sweep-1.svg report-sweep-one-key.png 420
shot two-key sweep-keys.svg report-sweep-two-keys.png 380
shot two-key sweep-parallel.svg report-sweep-parallel.png 380
shot overlay overlay.svg report-overlay-20.png 420
