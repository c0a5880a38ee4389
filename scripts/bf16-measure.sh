#!/bin/sh
# bf16-measure.sh — issue 35's speed table in one sitting: the CPU, the
# OpenBLAS variables, the sgemm peak and the bf16 product's peak, then
# cnnrun against PyTorch 1.13 (python3-torch) in fp32 and in bf16 (cnnrun
# `precision = bf16`, PyTorch bf16 autocast around forward and loss,
# channels_last), ResNet-18 (batch 128) and the airbench94 net (batch 512),
# alternating rounds (tests/bench/compare.py), with the environment's
# OpenBLAS variables as set and unset. Run on an idle machine; writes
# everything to stdout.
#   scripts/bf16-measure.sh [SECONDS] [ROUNDS]     (default 15 s windows, 2 rounds)
set -eu
cd "$(dirname "$0")/.."
SECONDS_=${1:-15}
ROUNDS=${2:-2}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2), model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2)"
echo "# bf16 instructions: $(grep -o -m1 -w 'avx512_bf16' /proc/cpuinfo || echo none) $(grep -o -m1 -w 'amx_bf16' /proc/cpuinfo || true)"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}"
build/cnnrun --version | sed 's/^/# /'
build/tests/gemm_peak | sed 's/^/# /'
build/cnnrun bench experiments/resnet18.ini --steps 1 --set experiment.precision=bf16 2>/dev/null \
    | grep -E '^(sgemm peak|bf16 product peak)' | sed 's/^/# /'
# "as set" and "unset" are one measurement when neither variable is set
UNSET=""
[ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ] && UNSET="--unset-openblas"
for p in fp32 bf16; do
    /usr/bin/python3 tests/bench/compare.py --nets resnet18,airbench94 --precision "$p" \
        --seconds "$SECONDS_" --rounds "$ROUNDS" $UNSET
done
