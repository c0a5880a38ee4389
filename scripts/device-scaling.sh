#!/bin/sh
# device-scaling.sh — issues 25's and 24's tables on a lent many-core machine
# (every command under a timeout; about 5-6 minutes for SECTIONS="scaling
# flagship gemm", 2-3 more for "study": two calls fit a 15-minute lease
# better than one): training img/s of `cnnrun bench experiments/resnet18.ini`
# for each thread count, under OpenBLAS's own CPU detection and with
# OPENBLAS_CORETYPE=SkylakeX, the weight gradients split by the batch and by
# rows (CNNRUN_DWSPLIT); the flagship net at the most threads; and the sgemm
# peak (build/tests/gemm_peak T) per thread count; and a study's throughput,
# runs side by side (`run --jobs`) against one wide run. Prints markdown
# tables for docs/performance.md ("Many threads").
#
#   scripts/device-scaling.sh [BUILD_DIR]      (default: build)
#
# Build for the device with a -march it runs, e.g.
#   meson setup build-v4 -Dc_args=-march=x86-64-v4 && ninja -C build-v4
# and carry the build dir (and the libraries `ldd BUILD_DIR/cnnrun` names, in
# a folder given as LIBS=DIR). Environment (defaults in brackets):
#   THREADS  thread counts                    [1 2 4 8 16]
#   ROWS_THREADS  the counts also run with CNNRUN_DWSPLIT=rows [those >= 4
#            of THREADS; at 1-2 threads both settings run the batch split
#            unless forced: add them here to see it]
#   STEPS    bench steps (after 2 warm-up)    [6]
#   CORES    OpenBLAS settings: own, SkylakeX, or any OPENBLAS_CORETYPE [own SkylakeX]
#   OWN_MIN  fewest threads under OpenBLAS's own detection [2: its generic
#            kernel makes 1 thread ~20 s a step]
#   FLAGSHIP_THREADS  [the largest of THREADS]; 0 skips the flagship
#   TIMEOUT  seconds per bench [75]
#   CNNRUN_CONV  [rule: the shape rule, no tuning at each start, the same
#            algorithms in every cell]
#   SECTIONS which tables                     [scaling flagship gemm study]
#   STUDY_SHAPES  issue 24's study throughput: JOBSxTHREADS shapes of
#            `cnnrun run --jobs J --threads T` [1xN (N/2)x2 (N/4)x4, N the
#            largest of THREADS], each STUDY_RUNS ResNet-18 runs [8] of
#            STUDY_STEPS steps [19: within the sample's one epoch of 20] on the
#            sample data, under the last of CORES
#   STUDY_TIMEOUT  seconds per study shape    [240]
set -u
build=${1:-build}
bin=$build/cnnrun
peak=$build/tests/gemm_peak
THREADS=${THREADS:-1 2 4 8 16}
STEPS=${STEPS:-6}
CORES=${CORES:-own SkylakeX}
OWN_MIN=${OWN_MIN:-2}
TIMEOUT=${TIMEOUT:-75}
export CNNRUN_CONV="${CNNRUN_CONV:-rule}"
if [ -z "${ROWS_THREADS+x}" ]; then
    ROWS_THREADS=
    for t in $THREADS; do [ "$t" -ge 4 ] && ROWS_THREADS="$ROWS_THREADS $t"; done
fi
most=1
for t in $THREADS; do [ "$t" -gt "$most" ] && most=$t; done
FLAGSHIP_THREADS=${FLAGSHIP_THREADS:-$most}
SECTIONS=${SECTIONS:-scaling flagship gemm study}
STUDY_SHAPES=${STUDY_SHAPES:-1x$most $((most / 2))x2 $((most / 4))x4}
STUDY_RUNS=${STUDY_RUNS:-8}
STUDY_STEPS=${STUDY_STEPS:-19}
STUDY_TIMEOUT=${STUDY_TIMEOUT:-240}
[ -n "${LIBS:-}" ] && export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

if [ ! -x "$bin" ]; then
    echo "device-scaling.sh: no $bin (build first, or give the build dir)" >&2
    exit 2
fi
if ldd "$bin" | grep -q "not found"; then
    echo "device-scaling.sh: $bin is missing libraries (carry them, LIBS=DIR):" >&2
    ldd "$bin" | grep "not found" >&2
    exit 2
fi

# run CORE CMD...: CMD with OPENBLAS_CORETYPE unset (own) or set to CORE
run() {
    core=$1
    shift
    if [ "$core" = own ]; then
        env -u OPENBLAS_CORETYPE timeout "$TIMEOUT" "$@"
    else
        OPENBLAS_CORETYPE=$core timeout "$TIMEOUT" "$@"
    fi
}

# bench CORE SPLIT THREADS FILE [STEPS]: img/s of the median step, or why not
bench() {
    out=$(CNNRUN_DWSPLIT=$2 run "$1" "$bin" bench "$4" --threads "$3" --steps "${5:-$STEPS}" 2>&1)
    rc=$?
    ips=$(printf '%s\n' "$out" | sed -n 's/^images_per_sec_median=//p' | tail -1)
    if [ -n "$ips" ]; then
        printf '%s' "$ips"
    elif [ "$rc" = 124 ]; then
        printf 'timeout'
    else
        printf 'failed (%s)' "$rc"
    fi
}

has() { # has WORD LIST
    for w in $2; do [ "$w" = "$1" ] && return 0; done
    return 1
}

# A Markdown table's head: TITLE, then a column per thread count.
table_head() {
    printf '| %s |' "$1"
    for t in $THREADS; do printf ' %s |' "$t"; done
    printf '\n|---|'
    for t in $THREADS; do printf -- '---|'; done
    echo
}

echo "# device-scaling.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) vCPUs;" \
     "flags: $(grep -m1 -o 'avx512f\|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "binary: $bin ($("$bin" --version 2>/dev/null | head -1)); CNNRUN_CONV=$CNNRUN_CONV;" \
     "steps $STEPS; OPENBLAS_* here: $(env | grep '^OPENBLAS_' | tr '\n' ' ')"
if has scaling "$SECTIONS"; then
echo
table_head 'ResNet-18 img/s, batch 128'
for core in $CORES; do
    for split in batch rows; do
        printf '| %s, %s |' "$core" "$split"
        for t in $THREADS; do
            if [ "$core" = own ] && [ "$t" -lt "$OWN_MIN" ]; then
                printf ' |'
            elif [ "$split" = rows ] && ! has "$t" "$ROWS_THREADS"; then
                printf ' |'
            else
                printf ' %s |' "$(bench "$core" "$split" "$t" experiments/resnet18.ini)"
            fi
        done
        echo
    done
done
fi

if has flagship "$SECTIONS" && [ "$FLAGSHIP_THREADS" -gt 0 ]; then
    echo
    echo "| flagship img/s, $FLAGSHIP_THREADS threads | batch | rows |"
    echo "|---|---|---|"
    for core in $CORES; do
        printf '| %s | %s | %s |\n' "$core" \
            "$(bench "$core" batch "$FLAGSHIP_THREADS" experiments/flagship.ini 3)" \
            "$(bench "$core" rows "$FLAGSHIP_THREADS" experiments/flagship.ini 3)"
    done
fi

if has gemm "$SECTIONS"; then
echo
table_head 'engine gemm() GFLOP/s'
for core in $CORES; do
    printf '| %s |' "$core"
    for t in $THREADS; do
        g=$(run "$core" "$peak" "$t" 2>&1 | sed -n 's/^engine gemm().*  *\([0-9.]*\) GFLOP\/s$/\1/p')
        printf ' %s |' "${g:-?}"
    done
    echo
done
fi

# Issue 24: a study's throughput as runs side by side against one wide run.
# img/s = runs x steps x 128 / the wall time of the whole `cnnrun run`
# (every start, the data loads and the end-of-run evaluations included).
if has study "$SECTIONS"; then
    study_core=
    for core in $CORES; do study_core=$core; done
    seeds=$(seq -s, 1 "$STUDY_RUNS")
    tmp=$(mktemp -d)
    echo
    echo "| study: $STUDY_RUNS ResNet-18 runs x $STUDY_STEPS steps (batch 128), $study_core |" \
         "wall s | img/s | runs finished |"
    echo "|---|---|---|---|"
    for shape in $STUDY_SHAPES; do
        j=${shape%x*}
        t=${shape#*x}
        db=$tmp/study-$shape.db
        t0=$(date +%s.%N)
        TIMEOUT=$STUDY_TIMEOUT run "$study_core" "$bin" run experiments/resnet18.ini --db "$db" \
            --data data/sample --sweep "experiment.seed=$seeds" \
            --set "experiment.steps=$STUDY_STEPS" --set data.test_subset=500 \
            --jobs "$j" --threads "$t" > "$tmp/out-$shape" 2>&1
        rc=$?
        t1=$(date +%s.%N)
        done_n=$(sed -n 's/^cnnrun: \([0-9]*\) of [0-9]* runs succeeded.*/\1/p' "$tmp/out-$shape")
        if [ "$rc" = 0 ]; then
            awk -v a="$t0" -v b="$t1" -v r="$STUDY_RUNS" -v s="$STUDY_STEPS" -v sh="$shape" \
                -v n="$done_n" 'BEGIN { w = b - a; printf "| --jobs %s --threads %s | %.1f | %.1f | %s |\n", \
                substr(sh, 1, index(sh, "x") - 1), substr(sh, index(sh, "x") + 1), w, r * s * 128 / w, n }'
        else
            printf '| --jobs %s --threads %s | %s | | %s |\n' "$j" "$t" \
                "$([ "$rc" = 124 ] && echo timeout || echo "failed ($rc)")" "${done_n:-0}"
            tail -3 "$tmp/out-$shape" | sed 's/^/    /'
        fi
    done
    rm -rf "$tmp"
fi
