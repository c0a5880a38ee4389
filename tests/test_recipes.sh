#!/bin/sh
# test_recipes.sh — runs every `sh` code block of the "Recipes" section of
# docs/results.md, as written, with the sqlite3 shell against a real results
# database made by short runs (two experiments and an lr-find on the embedded
# sample, a 2 x 2 sweep, a run stopped at its target), checks the group and
# time-to-accuracy recipes' rows, and `cnnrun runs` (also --groups) and
# `cnnrun report` (with its groups) on it. Fails on any SQL error (non-zero exit or anything on
# stderr). Needs CNNRUN_BIN and
# CNNRUN_SOURCE_DIR (set by meson test).
set -eu
: "${CNNRUN_BIN:?set CNNRUN_BIN to the cnnrun executable}"
: "${CNNRUN_SOURCE_DIR:?set CNNRUN_SOURCE_DIR to the project directory}"
command -v sqlite3 >/dev/null || { echo "test_recipes: the sqlite3 shell is missing (scripts/install-deps.sh installs it)"; exit 1; }

work=$(mktemp -d /tmp/cnnrun_recipes_XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cd "$work"
cat > tiny.ini <<'INI'
[experiment]
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
[layer.p1]
type = maxpool
size = 2
[layer.pool]
type = global_avgpool
[layer.fc]
type = linear
outputs = 10
INI
for name in quick resnet18 quick; do
    "$CNNRUN_BIN" run tiny.ini --threads 1 --set experiment.name=$name >run.log 2>&1 ||
        { cat run.log; echo "test_recipes: the training run '$name' failed"; exit 1; }
done
"$CNNRUN_BIN" lr-find tiny.ini --threads 1 --steps 10 --set experiment.name=quick >run.log 2>&1 ||
    { cat run.log; echo "test_recipes: lr-find failed"; exit 1; }
# a sweep of two learning rates by two seeds (runs 5-8): run_params and run_groups have rows
"$CNNRUN_BIN" run tiny.ini --threads 1 --set experiment.name=sweep \
    --sweep schedule.lr_max=0.05,0.1 --sweep experiment.seed=1,2 >run.log 2>&1 ||
    { cat run.log; echo "test_recipes: the sweep failed"; exit 1; }
# a run with a validation split that stops at its target accuracy (run 9): val_acc,
# stop_reason and the time to accuracy have values
"$CNNRUN_BIN" run tiny.ini --threads 1 --set experiment.name=tta --set data.validation=50 \
    --set experiment.target_accuracy=0.01 >run.log 2>&1 ||
    { cat run.log; echo "test_recipes: the validation run failed"; exit 1; }
test -f results/results.db

# extract the recipes: every ```sh block after "## Recipes", up to the next "## "
awk -v dir="$work" '
    /^## / { in_recipes = ($0 ~ /^## Recipes/) }
    in_recipes && /^```sh$/ { n++; file = sprintf("%s/recipe_%02d.sh", dir, n); next }
    file != "" && /^```$/ { close(file); file = ""; next }
    file != "" { print > file }
' "$CNNRUN_SOURCE_DIR/docs/results.md"
count=$(ls recipe_*.sh 2>/dev/null | wc -l)
if [ "$count" -lt 12 ]; then
    echo "test_recipes: docs/results.md has $count sh recipes under '## Recipes'; expected at least 12"
    exit 1
fi

fail=0
nonempty=0
for r in recipe_*.sh; do
    if ! sh -e "$r" >"$r.out" 2>"$r.err" || [ -s "$r.err" ]; then
        echo "FAIL: docs/results.md recipe $r:"
        sed 's/^/    /' "$r"
        echo "  stderr:"
        sed 's/^/    /' "$r.err"
        fail=1
    fi
    [ -s "$r.out" ] && nonempty=$((nonempty + 1))
done
echo "test_recipes: ran $count recipes; $nonempty printed something"
[ "$fail" -eq 0 ] || exit 1
# the database has what the recipes query: most of them must print rows
[ "$nonempty" -ge $((count - 4)) ] || { echo "test_recipes: too many recipes printed nothing"; exit 1; }
# the group and time-to-accuracy recipes, by what they select: the right rows
recipe_with() { grep -l "$1" recipe_*.sh | head -1; }
r=$(recipe_with within_45_min)
grep -Eq "^tta .*target_accuracy=0\.01 +1 +1 +[0-9.]+ ± - +[0-9.]+ +1 +9 *$" "$r.out" ||
    { cat "$r.out"; echo "test_recipes: the group time-to-accuracy recipe misses run 9's group"; exit 1; }
r=$(recipe_with "stop_reason is not null")
grep -q "^9  *tta  *target " "$r.out" ||
    { cat "$r.out"; echo "test_recipes: the stopped-early recipe misses run 9"; exit 1; }
# the group curve (runs 5 and 6: lr_max 0.05, seeds 1 and 2): n = 2 and the mean of the two
# runs' test_acc at every epoch, the std their sample std (computed here another way)
r=$(recipe_with "as std_pct")
want=$(sqlite3 results/results.db "select group_concat(epoch || ' 2 ' || m || ' ' || s, '|') from
    (select a.epoch, round(100 * (a.test_acc + b.test_acc) / 2, 2) as m,
            round(100 * abs(a.test_acc - b.test_acc) / sqrt(2), 2) as s
     from epochs a join epochs b on b.epoch = a.epoch and a.run_id = 5 and b.run_id = 6
     order by a.epoch)")
got=$(tail -n +3 "$r.out" | awk '{ print $1, $2, $3 + 0, $4 + 0 }' | paste -sd '|')
want=$(echo "$want" | tr '|' '\n' | awk '{ print $1, $2, $3 + 0, $4 + 0 }' | paste -sd '|')
[ "$got" = "$want" ] ||
    { cat "$r.out"; echo "test_recipes: the group curve recipe gave '$got', expected '$want'"; exit 1; }
test -s epochs.csv && test -s runs.csv ||
    { echo "test_recipes: the CSV export recipe wrote no epochs.csv / runs.csv"; exit 1; }

# cnnrun runs / report on the same database (the last recipe deleted run 2); each `cnnrun
# run` above is a study of its own: --study all for every run
"$CNNRUN_BIN" runs --study all > runs.txt
grep -q "quick/lr-find" runs.txt || { cat runs.txt; echo "test_recipes: cnnrun runs misses a run"; exit 1; }
grep -q "^   9  tta .* target  *[0-9]* s (ep 1)  " runs.txt ||
    { cat runs.txt; echo "test_recipes: cnnrun runs misses run 9's stop_reason and time to target"; exit 1; }
"$CNNRUN_BIN" runs --groups --study all > groups.txt
grep -q "5,6 .*experiment.name=sweep, schedule.lr_max=0.05" groups.txt && grep -q "±" groups.txt ||
    { cat groups.txt; echo "test_recipes: cnnrun runs --groups misses the sweep's groups"; exit 1; }
"$CNNRUN_BIN" report --study all -o rep > report.log
for f in rep/index.html rep/overlay.svg rep/run-3.svg rep/lr-find-4.svg rep/groups-acc.svg \
         rep/groups-loss.svg rep/sweep-1.svg; do
    test -s "$f" || { echo "test_recipes: cnnrun report did not write $f"; exit 1; }
done
grep -q "<svg" rep/overlay.svg
rc=0; "$CNNRUN_BIN" report --db missing.db 2>err.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q "missing.db: no results database" err.txt ||
    { echo "test_recipes: a missing database must exit 1 with the path named"; exit 1; }
rc=0; "$CNNRUN_BIN" report --runs 99 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q "there is no run 99" err.txt ||
    { echo "test_recipes: an unknown run id must exit 2"; exit 1; }
echo "test_recipes: ok"
