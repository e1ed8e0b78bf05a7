#!/usr/bin/env bash
# Sets up a fresh machine, builds ember and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build=${EMBER_BUILD_DIR:-build}
"$build/examples/train_mlp"
