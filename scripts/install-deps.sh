#!/bin/sh
# install-deps.sh — installs what cnnrun needs to build and test, from
# Debian's packages. Safe to run again; needs root (or sudo).
# --browser: Chromium too, for tests/test_report_browser.sh (skipped without it).
set -eu
pkgs="gcc libinih-dev libopenblas-dev libsqlite3-dev check meson ninja-build pkg-config sqlite3 libpng-dev libjpeg-dev protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx openmpi-bin libopenmpi-dev libdnnl-dev"
[ "${1:-}" = "--browser" ] && pkgs="$pkgs chromium"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
