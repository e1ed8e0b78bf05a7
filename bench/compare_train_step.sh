#!/usr/bin/env bash
# ember's retrieval-only training step against the same step in PyTorch, in
# one run: bench_train_step dumps its first batches and initial weights
# (dropout off for the comparison) and times its own steps; then
# bench/train_step_pytorch.py checks the first batch's loss and times the same
# step with PyTorch's best CPU setup (jemalloc preloaded, the same threads,
# OpenBLAS through Debian's libblas alternative). Prints both and the ratios.
#   bench/compare_train_step.sh BUILD_DIR [bench_train_step options]
#   bench/compare_train_step.sh build --users 200000 --communities 2000 --batch 1024 --steps 20
set -euo pipefail
build=$1
shift
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=${EMBER_THREADS:-2}
py=/usr/bin/python3
jemalloc=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null || true)
[ -n "$jemalloc" ] || { echo "libjemalloc2 missing (apt-get install libjemalloc2)"; exit 1; }
$py -c "import torch" 2>/dev/null || { echo "python3-torch missing"; exit 1; }
OMP_NUM_THREADS=$threads "$build/bench/bench_train_step" --dump "$tmp/dump" --no-validation "$@" | tee "$tmp/ember.log"
steps=$(grep -o '"steps":[0-9]*' "$tmp/ember.log" | head -1 | cut -d: -f2)
LD_PRELOAD=$jemalloc OMP_NUM_THREADS=$threads $py "$src/bench/train_step_pytorch.py" "$tmp/dump" --threads "$threads" \
  --steps "${steps:-20}" 2>/dev/null | tee "$tmp/torch.log"
$py - "$tmp/ember.log" "$tmp/torch.log" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
t = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")][-1]
print("ember   %8.0f samples/s  step %8.1f ms median  peak RSS %6.0f MiB" % (e["samples_per_s"], e["step_ms_median"], e["peak_rss_mib"]))
print("PyTorch %8.0f samples/s  step %8.1f ms median  peak RSS %6.0f MiB  (first-batch loss agrees to %.1e)" % (
    t["samples_per_s"], t["step_ms_median"], t["peak_rss_mib"], t["loss_rel_diff"]))
print("ratio: ember %.2fx the samples/s of PyTorch, at %.2f of its peak memory" % (
    e["samples_per_s"] / t["samples_per_s"], e["peak_rss_mib"] / t["peak_rss_mib"]))
PY
