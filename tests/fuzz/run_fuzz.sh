#!/usr/bin/env bash
# Builds the libFuzzer targets (clang; build dir ${EMBER_FUZZ_BUILD_DIR:-build-fuzz})
# and runs each for a fixed time, then prints one table row per target:
#   target | seconds | executions | corpus files | findings (artifacts)
# Usage: tests/fuzz/run_fuzz.sh [seconds per target, default 60] [target ...]
# Needs clang and libclang-rt-14-dev (EMBER_SETUP_FUZZ=1 bash scripts/setup.sh).
# A finding leaves crash-*/oom-*/timeout-*/leak-* files under
# <work>/artifacts/<target>/; reproduce with build-fuzz/tests/fuzz/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
build=${EMBER_FUZZ_BUILD_DIR:-build-fuzz}
work=${EMBER_FUZZ_WORK:-$build/fuzz-work}
all=(fuzz_snap_edges fuzz_csv_edges fuzz_musae_json fuzz_dense_features fuzz_config
     fuzz_graph_cache fuzz_checkpoint fuzz_hnsw_index fuzz_npy fuzz_split fuzz_serve_request)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" -DEMBER_CUDA=OFF -DEMBER_EMULATOR=OFF -DEMBER_BUILD_TESTS=OFF \
  -DEMBER_BUILD_BENCH=OFF -DEMBER_BUILD_EXAMPLES=OFF -DEMBER_FUZZ=ON >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j2 --target fuzz_make_seeds "${targets[@]}" >&2
rm -rf "$work/seeds"
mkdir -p "$work"
"$build/tests/fuzz/fuzz_make_seeds" "$work/seeds" >/dev/null

dict_for() {
  case "$1" in
    fuzz_musae_json|fuzz_config|fuzz_serve_request) echo "-dict=tests/fuzz/dict/json.dict" ;;
    fuzz_npy) echo "-dict=tests/fuzz/dict/npy.dict" ;;
    fuzz_snap_edges|fuzz_csv_edges|fuzz_dense_features|fuzz_split) echo "-dict=tests/fuzz/dict/text.dict" ;;
  esac
}

printf '| target | seconds | executions | exec/s | corpus | findings |\n|---|---:|---:|---:|---:|---|\n'
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  artifacts="$work/artifacts/$t"
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  for s in "tests/fuzz/corpus/$t" "$work/seeds/$t"; do
    [ -d "$s" ] && cp "$s"/* "$corpus"/ 2>/dev/null || true
  done
  log="$work/$t.log"
  # -rss_limit_mb / -malloc_limit_mb: any allocation over 2 GB is a finding.
  "$build/tests/fuzz/$t" "$corpus" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/" $(dict_for "$t") >"$log" 2>&1 || true
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" | tail -1)
  # Seconds: "Done N runs in S second(s)" at a normal end; executions / rate after a finding.
  took=$( (grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" || true) | awk '{print $5}' | tail -1)
  if [ -z "$took" ] && [ -n "$execs" ] && [ "${rate:-0}" -gt 0 ] 2>/dev/null; then took=$((execs / rate)); fi
  nfiles=$(ls "$corpus" | wc -l)
  findings=$(ls "$artifacts" | tr '\n' ' ')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${took:-$secs}" "${execs:-?}" "${rate:-?}" "$nfiles" "${findings:-none}"
done
