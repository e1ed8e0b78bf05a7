#!/usr/bin/env bash
# Installs the built ember into a temporary prefix, builds examples/consumer
# against it with find_package(ember) and runs it. Each step's output goes to
# a log that is printed when the step fails.
set -euo pipefail
build_dir=$1
src_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() {
  local name=$1; shift
  if ! "$@" >"$tmp/$name.log" 2>&1; then
    echo "package_consumer: '$name' failed:"; cat "$tmp/$name.log"; exit 1
  fi
}
step install cmake --install "$build_dir" --prefix "$tmp/prefix"
step configure cmake -S "$src_dir/examples/consumer" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix"
step build cmake --build "$tmp/build" -j2
"$tmp/build/ember_consumer"
