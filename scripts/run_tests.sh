#!/usr/bin/env bash
# Sets up a fresh machine, builds ember and runs the whole test suite (CTest).
# CUDA tests compare against a real GPU when one is present and skip with the
# reason otherwise; every kernel also runs under the kernel emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${EMBER_BUILD_DIR:-build}"
ctest --output-on-failure -j2 --timeout 600
