#!/bin/sh
# test.sh — from a fresh clone: install dependencies, build, run the test suite.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
meson test -C build --print-errorlogs
