#!/usr/bin/env bash
# Configures and builds ember into ${EMBER_BUILD_DIR:-build} (Release, Ninja,
# CUDA auto-detected, kernel emulator on). Extra arguments go to cmake.
# EMBER_BUILD_TARGETS (space separated) builds only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EMBER_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; exit 1; }
grep -E "^-- ember:" "$build.configure.log" || true
targets=()
for t in ${EMBER_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j2 "${targets[@]}"
