#!/usr/bin/env bash
# ember's GAT layer vs the same layer in plain PyTorch, both on the CPU, in
# one run (same graph, weights, repetitions). Prints both tables and the time
# ratios PyTorch / ember (> 1: ember is faster).
#
#   bench/compare_gat_cpu.sh [BUILD_DIR] [bench_gat_layer flags...]
#   e.g. bench/compare_gat_cpu.sh build --nodes 200000 --edges 4000000 --reps 3
# Environment: PYTHON (default /usr/bin/python3, which has python3-torch),
#              THREADS (default 2, for both ember/OpenMP and PyTorch).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
[ $# -gt 0 ] && shift
python="${PYTHON:-/usr/bin/python3}"
threads="${THREADS:-2}"
dir="$(mktemp -d /tmp/gat_compare.XXXXXX)"
trap 'rm -rf "$dir"' EXIT

echo "== ember ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
OMP_NUM_THREADS="$threads" "$build/bench/bench_gat_layer" --device cpu --json --dump "$dir" "$@" | tee "$dir/ember.txt"
echo "== pytorch"
"$python" "$here/gat_pytorch_cpu.py" "$dir" --threads "$threads" | tee "$dir/torch.txt"
echo "== ratios (pytorch time / ember time, median and min)"
"$python" - "$dir/ember.txt" "$dir/torch.txt" <<'PY'
import json, sys
def lines(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")]
ember = {j["pass"]: j for j in lines(sys.argv[1])}
torch = {j["pass"]: j for j in lines(sys.argv[2])}
for p in ("fwd", "fwd+bwd"):
    e, t = ember[p], torch[p]
    print(f"{p:<8} ember {e['median_ms']:9.1f} ms (min {e['min_ms']:9.1f})   pytorch {t['median_ms']:9.1f} ms "
          f"(min {t['min_ms']:9.1f})   speed-up x{t['median_ms'] / e['median_ms']:.2f} (min x{t['min_ms'] / e['min_ms']:.2f})")
print(f"ember peak allocator memory: fwd {ember['fwd']['peak_bytes'] / 2**20:.0f} MiB, fwd+bwd "
      f"{ember['fwd+bwd']['peak_bytes'] / 2**20:.0f} MiB; pytorch process max RSS {torch['fwd+bwd']['max_rss_mib']:.0f} MiB")
print(f"max |ember out - pytorch out| = {torch['fwd']['max_abs_diff']:.3e}")
PY
