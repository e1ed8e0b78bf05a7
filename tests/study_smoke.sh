#!/usr/bin/env bash
# The issue-9 study script (bench/study/run_study.py) end to end on its
# smallest setting, shrunk: sweep on validation, final runs on test,
# heuristics, HNSW check, report with the paired comparison; then a second
# invocation must resume (skip everything).
set -euo pipefail
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)
command -v python3 >/dev/null || { echo "python3 missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--smoke --bin "$bin" --results "$tmp/res" --epochs 1 --seeds 2 --grid 0.1)
python3 "$src/bench/study/run_study.py" "${args[@]}" | tee "$tmp/log"
s=$tmp/res/summary.md
grep -q "GAT retrieval-only" "$s"
grep -q "GAT SSMTL" "$s"
grep -q "FoF Adamic-Adar" "$s"
grep -q "Paired per-seed differences" "$s"
test -s "$tmp/res/q_synth_tiny_edge/selection.json"
test -s "$tmp/res/q_synth_tiny_edge/b0_g0/seed2/eval.json"
# Resume: nothing is trained again.
python3 "$src/bench/study/run_study.py" "${args[@]}" >"$tmp/log2"
if grep -q "train q_synth" "$tmp/log2"; then echo "resume retrained a run"; exit 1; fi
echo "study smoke OK"
