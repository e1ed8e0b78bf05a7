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
# Only what the job runs: the library (CPU backend) and the drivers, in a
# build folder of its own (the test command's build/ also compiles the CUDA
# kernels, the emulator, the tests and the benchmarks).
main_build=${EMBER_MAIN_BUILD_DIR:-build-main}
EMBER_BUILD_DIR=$main_build EMBER_BUILD_TARGETS="ember_train ember_evaluate ember_index ember_query" \
  bash scripts/build.sh -DEMBER_CUDA=OFF -DEMBER_EMULATOR=OFF -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_BENCH=OFF -DEMBER_PYTHON=OFF
bin=$main_build/examples
out=${EMBER_RUNS_DIR:-runs}
echo "== training SSMTL (retrieval + CCA + MAE, weights balanced by gradient norm; id embeddings, hard negatives, logQ: the 'ssmtl' arm of docs/results.md)"
"$bin/ember_train" --config examples/configs/ssmtl.json --out "$out/ssmtl"
echo "== training the retrieval-only model (beta = gamma = 0, the same levers: the 'all' arm)"
"$bin/ember_train" --config examples/configs/baseline.json --out "$out/baseline"
echo "== evaluating on the held-out test friendships (candidates served with query expansion, blended with friends-of-friends as configured)"
"$bin/ember_evaluate" --run "$out/ssmtl" --run "$out/baseline" --baselines
echo "== building the HNSW index"
"$bin/ember_index" --run "$out/ssmtl"
echo "== answering a query"
"$bin/ember_query" --run "$out/ssmtl" --user 42 --k 10
