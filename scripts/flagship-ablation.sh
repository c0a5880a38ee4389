#!/bin/sh
# flagship-ablation.sh — the ablation of docs/flagship.md: experiments/flagship.ini
# with its ingredients switched off cumulatively, one seed each, down to
# experiments/ablation/plain.ini (plain SGD + 1-cycle). Each row is a run in the
# results database under its own experiment name.
#   scripts/flagship-ablation.sh [ROW ...]   rows: no-muon no-init no-tricks plain
# (default: all four). Extra cnnrun options come from $CNNRUN_OPTS, e.g.
#   CNNRUN_OPTS="--data ../shared/data/cifar-10-batches-bin --threads 2"
set -eu
cnnrun=${CNNRUN:-build/cnnrun}
f=experiments/flagship.ini

# 1. Muon off: the six 3x3 filters take SGD with legacy airbench94's settings
#    rescaled to batch 2000 (lr 11.5 per 1024 examples / 7.667 kilo-steps; wd 0.0153).
no_muon="--set group.filters.type=sgd --set group.filters.lr_scale=0.00075
 --set group.filters.momentum=0.85 --set group.filters.weight_decay=2.661"
# 2. ... and the initialisations off: PyTorch default init, the first conv trained
#    like the other filters, no dirac, no unit-std head.
no_init="--set layer.whiten.init=default --set group.fixed.frozen=false
 --set group.fixed.lr_scale=0.00075 --set group.fixed.weight_decay=2.661
 --set layer.g1_conv1.init=default --set layer.g1_conv2.init=default
 --set layer.g2_conv1.init=default --set layer.g2_conv2.init=default
 --set layer.g3_conv1.init=default --set layer.g3_conv2.init=default
 --set layer.head.init=default"
# 3. ... and the data and loss tricks off: random flip for the alternating flip,
#    no label smoothing.
no_tricks="--set data.augment=translate:2,flip --set optimizer.label_smoothing=0"

rows=${*:-no-muon no-init no-tricks plain}
for row in $rows; do
    case $row in
    no-muon)   set -- $f $no_muon ;;
    no-init)   set -- $f $no_muon $no_init ;;
    no-tricks) set -- $f $no_muon $no_init $no_tricks ;;
    plain)     set -- experiments/ablation/plain.ini ;;
    *) echo "flagship-ablation.sh: unknown row '$row' (no-muon no-init no-tricks plain)" >&2; exit 2 ;;
    esac
    name=ablation-$row
    [ "$row" = plain ] || set -- "$@" --set experiment.name=$name
    echo "=== $name: $cnnrun run $* ${CNNRUN_OPTS:-}"
    # shellcheck disable=SC2086
    "$cnnrun" run "$@" ${CNNRUN_OPTS:-}
done
