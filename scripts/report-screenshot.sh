#!/bin/sh
# report-screenshot.sh — makes the pictures of `cnnrun report` in
# docs/results.md (docs/img/report-*.png) from real tiny runs: a small
# network (two strided convolutions, 16 and 32 filters) on 1,000 images of
# the embedded sample, 4 epochs, one thread, three studies in one database
# — a sweep over schedule.lr_max (6 runs), over lr_max x
# optimizer.weight_decay (9 runs) and over lr_max x seed (20 runs, for the
# overlay), a few minutes on one core; then each study's report and
# headless Chromium's pictures of its plots. A manual documentation step,
# not part of the tests.
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
cat > "$work/small.ini" <<'INI'
[experiment]
name = small
seed = 1
epochs = 4
[data]
batch_size = 50
train_subset = 1000
augment = crop:2, flip
[schedule]
type = one_cycle
lr_start = 0.005
lr_max = 0.1
cycle_epochs = 4
lr_end = 0.001
[layer.c1]
type = conv
filters = 16
stride = 2
batchnorm = true
activation = relu
[layer.c2]
type = conv
filters = 32
stride = 2
batchnorm = true
activation = relu
[layer.pool]
type = global_avgpool
[layer.fc]
type = linear
outputs = 10
INI
run() { "$cnnrun" run "$work/small.ini" --threads 1 --db "$work/r.db" "$@"; }
run --study one-key --sweep schedule.lr_max=0.01,0.02,0.05,0.1,0.2,0.5
run --study two-key --sweep schedule.lr_max=0.02,0.1,0.5 --sweep optimizer.weight_decay=5e-5,5e-4,5e-3
run --study overlay --sweep schedule.lr_max=0.02,0.05,0.1,0.2,0.5 --sweep experiment.seed=1,2,3,4
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
