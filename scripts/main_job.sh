#!/usr/bin/env bash
# Sets up a fresh machine, builds ember and runs the main job on the built-in
# synthetic social graph: train SSMTL (retrieval + CCA + MAE) and the
# retrieval-only baseline, evaluate both next to the friends-of-friends,
# popularity and random heuristics (Recall/HitRate@K, MRR by training
# degree), build the HNSW index of the SSMTL embeddings and answer a query.
# Outputs go to runs/ (runs/ssmtl, runs/baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bin=${EMBER_BUILD_DIR:-build}/examples
out=${EMBER_RUNS_DIR:-runs}
echo "== training SSMTL (alpha 1, beta 0.01, gamma 0.1: the weights the validation sweep of docs/results.md picked for this graph)"
"$bin/ember_train" --config examples/configs/ssmtl.json --out "$out/ssmtl"
echo "== training the retrieval-only baseline (beta = gamma = 0)"
"$bin/ember_train" --config examples/configs/baseline.json --out "$out/baseline"
echo "== evaluating on the held-out test friendships"
"$bin/ember_evaluate" --run "$out/ssmtl" --run "$out/baseline" --baselines
echo "== building the HNSW index"
"$bin/ember_index" --run "$out/ssmtl"
echo "== answering a query"
"$bin/ember_query" --run "$out/ssmtl" --user 42 --k 10
