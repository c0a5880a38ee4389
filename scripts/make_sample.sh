#!/bin/sh
# make_sample.sh — builds data/sample, the small CIFAR-10 sample shipped with
# cnnrun so that the default run works offline: the first 500 records of each
# data_batch_1..5.bin (2,500 training images) and the first 1,000 records of
# test_batch.bin, plus batches.meta.txt and the manifest cnnrun-sample.txt.
#
# usage: scripts/make_sample.sh [SRC_DIR [DEST_DIR]]
#   SRC_DIR  defaults to ../shared/data/cifar-10-batches-bin (relative to the repo)
#   DEST_DIR defaults to data/sample
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$root/../shared/data/cifar-10-batches-bin}
dest=${2:-$root/data/sample}
record=3073
train_n=500
test_n=1000

mkdir -p "$dest"
{
    echo "# cnnrun sample manifest: FILE RECORDS (records of $record bytes)"
    for i in 1 2 3 4 5; do
        head -c $((train_n * record)) "$src/data_batch_$i.bin" > "$dest/data_batch_$i.bin"
        echo "data_batch_$i.bin $train_n"
    done
    head -c $((test_n * record)) "$src/test_batch.bin" > "$dest/test_batch.bin"
    echo "test_batch.bin $test_n"
} > "$dest/cnnrun-sample.txt"
rm -f "$dest/batches.meta.txt"
cp "$src/batches.meta.txt" "$dest/batches.meta.txt"
chmod 644 "$dest/batches.meta.txt"
