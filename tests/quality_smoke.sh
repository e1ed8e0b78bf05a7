#!/usr/bin/env bash
# The retrieval-quality study (bench/study/run_study.py --quality) end to end
# on one tiny synthetic setting: arms trained with 2 seeds, the blend weight
# chosen on validation, test evaluated once per run (exact and served),
# heuristics, HNSW check, report with paired comparisons; a second
# invocation resumes without training again.
set -euo pipefail
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)
command -v python3 >/dev/null || { echo "python3 missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--quality --smoke --bin "$bin" --results "$tmp/res" --epochs 1 --seeds 2 --arms today,all,ssmtl)
python3 "$src/bench/study/run_study.py" "${args[@]}" | tee "$tmp/log"
s=$tmp/res/summary.md
grep -q "GAT all levers (ids + hard), +expansion +FoF blend" "$s"
grep -q "FoF Adamic-Adar" "$s"
grep -q "GAT all + SSMTL (gradnorm)" "$s"
grep -q "Paired differences" "$s"
test -s "$tmp/res/q_smoke_edge/blend_selection.json"
test -s "$tmp/res/q_smoke_edge/all/seed2/eval_test_served.json"
python3 "$src/bench/study/run_study.py" "${args[@]}" >"$tmp/log2"
if grep -q "train q_smoke" "$tmp/log2"; then echo "resume retrained a run"; exit 1; fi
echo "quality study smoke OK"
