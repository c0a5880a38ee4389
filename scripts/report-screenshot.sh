#!/bin/sh
# report-screenshot.sh — makes docs/report-groups.png, the picture of a
# report's groups section in docs/results.md: a tiny network on the embedded
# sample (data/sample), swept over three learning rates by three seeds (9
# short runs, under a minute on one core), its `cnnrun report`, and a
# screenshot of it in headless Chromium. A manual documentation step, not
# part of the tests or CI (Chromium is not a dependency of cnnrun).
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
cat > "$work/seeds.ini" <<'INI'
[experiment]
name = seeds
epochs = 6
[data]
batch_size = 50
augment = crop:2, flip
[schedule]
type = one_cycle
lr_start = 0.01
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
[sweep]
schedule.lr_max = 0.02, 0.1, 0.5
experiment.seed = 1, 2, 3
INI
"$cnnrun" run "$work/seeds.ini" --threads 1 --db "$work/results.db"
"$cnnrun" runs --groups --db "$work/results.db"
"$cnnrun" report --db "$work/results.db" -o "$work/report"
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$root/docs/report-groups.png" --window-size=1200,1600 \
    "file://$work/report/index.html" 2>"$work/chromium.log" ||
    { cat "$work/chromium.log"; echo "report-screenshot: Chromium failed"; exit 1; }
echo "report-screenshot: wrote docs/report-groups.png"
