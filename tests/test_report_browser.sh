#!/bin/sh
# test_report_browser.sh — the report in a real browser (issue 36): a 2 x 2
# sweep of a tiny network on the embedded sample, `cnnrun report`, and
# headless Chromium loads index.html with no console message (an uncaught
# error, a resource that fails to load, anything the page logs) and takes a
# screenshot; its DOM holds the plots inline with their hover texts. The
# console check is first shown to work: the same page with an error
# injected must be caught. Skips (exit 77, the reason said) where Chromium
# is not installed (Debian: apt-get install chromium; .ci/run installs it).
# Needs CNNRUN_BIN (set by meson test). KEEP=1 keeps the work directory.
set -eu
: "${CNNRUN_BIN:?set CNNRUN_BIN to the cnnrun executable}"
chromium=${CHROMIUM:-}
[ -n "$chromium" ] || chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "test_report_browser: SKIP: no chromium on PATH (apt-get install chromium, or set CHROMIUM)"
    exit 77
fi

work=$(mktemp -d /tmp/cnnrun_browser_XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cd "$work"
cat > tiny.ini <<'INI'
[experiment]
name = tiny
seed = 1
epochs = 3
[data]
batch_size = 50
train_subset = 200
test_subset = 100
[schedule]
type = one_cycle
lr_start = 0.01
lr_max = 0.1
cycle_epochs = 2
lr_end = 0.001
[layer.c1]
type = conv
filters = 4
size = 3
batchnorm = true
activation = relu
[layer.pool]
type = global_avgpool
[layer.fc]
type = linear
outputs = 10
[sweep]
schedule.lr_max = 0.05, 0.2
optimizer.weight_decay = 1e-4, 1e-3
INI
"$CNNRUN_BIN" run tiny.ini --threads 1 --db r.db > run.log 2>&1 || { cat run.log; exit 1; }
"$CNNRUN_BIN" report --db r.db -o rep > report.log 2>&1 || { cat report.log; exit 1; }

# load PAGE in headless Chromium: its screenshot to SHOT, its console into console.txt
load() {
    rm -f "$2" console.txt
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --enable-logging=stderr --v=0 --user-data-dir="$work/profile" \
        --window-size=1240,2000 --screenshot="$2" "file://$work/$1" > chromium.out 2> chromium.err ||
        { cat chromium.err; echo "test_report_browser: Chromium failed on $1"; exit 1; }
    grep ':CONSOLE' chromium.err > console.txt || true
}

# the check sees an error: the page with one injected
sed 's|</body>|<script>window.cnnrunNoSuchFunction();</script></body>|' rep/index.html > rep/broken.html
load rep/broken.html broken.png
grep -q 'cnnrunNoSuchFunction' console.txt ||
    { cat chromium.err; echo "test_report_browser: an injected error was not seen in the console"; exit 1; }

load rep/index.html shot.png
if [ -s console.txt ]; then
    cat console.txt
    echo "test_report_browser: the report logged to the console (above)"
    exit 1
fi
[ "$(head -c 8 shot.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    { echo "test_report_browser: no PNG screenshot"; exit 1; }
[ "$(wc -c < shot.png)" -gt 20000 ] || { echo "test_report_browser: the screenshot is empty"; exit 1; }

# the DOM as the browser built it: the plots inline, with their hover texts
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
    --dump-dom "file://$work/rep/index.html" > dom.html 2> chromium.err ||
    { cat chromium.err; exit 1; }
for id in overlay sweep-keys sweep-parallel run-1; do
    grep -q "<figure id=\"$id\"><svg" dom.html || grep -q "<figure id=\"$id\">" dom.html ||
        { echo "test_report_browser: no figure $id in the page's DOM"; exit 1; }
done
n=$(grep -o '<title>run ' dom.html | wc -l)
[ "$n" -ge 8 ] || { echo "test_report_browser: $n hover texts of runs in the DOM"; exit 1; }
echo "test_report_browser: the report loads in $("$chromium" --version 2>/dev/null | head -1) with no console message; screenshot $(wc -c < shot.png) bytes"
