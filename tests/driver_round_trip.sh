#!/usr/bin/env bash
# The example drivers end to end in a temporary directory:
# train -> embed -> index -> query -> evaluate, plus error exits.
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/cfg.json" <<'JSON'
{"data": {"synthetic": {"num_users": 400, "num_communities": 8, "feature_dim": 200}},
 "model": {"hidden": 16, "embedding_dim": 16, "heads": 2},
 "sampler": {"batch_size": 64}, "objectives": {"beta": 0.01, "gamma": 0.01, "random_negatives": 32},
 "train": {"epochs": 2, "progress": false}}
JSON
"$bin/ember_train" --config "$tmp/cfg.json" --out "$tmp/run"
for f in config.json metrics.jsonl checkpoint.bin embeddings.npy node_ids.txt split/train.tsv split/test.tsv; do
  test -s "$tmp/run/$f" || { echo "missing $f"; exit 1; }
done
"$bin/ember_embed" --run "$tmp/run"
"$bin/ember_index" --run "$tmp/run" --check-queries 50 | tee "$tmp/index.log"
grep -q "recall@10" "$tmp/index.log"
"$bin/ember_query" --run "$tmp/run" --user 3 --k 5 | tee "$tmp/query.log"
test "$(grep -cE '^ +[0-9]+ +[0-9]+ +-?[0-9.]+' "$tmp/query.log")" -eq 5
"$bin/ember_evaluate" --run "$tmp/run" --baselines | tee "$tmp/eval.log"
grep -q "FoF Adamic-Adar" "$tmp/eval.log"
test -s "$tmp/run/eval.json"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['split']=='test' and 'FoF Adamic-Adar' in j and 'random' in j, j.keys()" "$tmp/run/baselines.json"
# A validation evaluation goes to eval_val.json and leaves the test result alone.
cp "$tmp/run/eval.json" "$tmp/eval_test.json"
"$bin/ember_evaluate" --run "$tmp/run" --split val >/dev/null
cmp "$tmp/run/eval.json" "$tmp/eval_test.json"
grep -q '"split": "val"' "$tmp/run/eval_val.json"
# Runs on another split of the same graph are refused.
cp -r "$tmp/run" "$tmp/run2"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['data']['test_fraction']=0.2; json.dump(c,open(p,'w'))" "$tmp/run2/config.json"
if "$bin/ember_evaluate" --run "$tmp/run" --run "$tmp/run2" 2>"$tmp/err3.log"; then exit 1; fi
grep -q "different graph or split" "$tmp/err3.log"
# Errors: non-zero exit with a message, never a crash.
if "$bin/ember_query" --run "$tmp/run" --user 999999 2>"$tmp/err.log"; then exit 1; fi
grep -q "not a user of this graph" "$tmp/err.log"
echo '{"model": {"heads": 0}}' >"$tmp/bad.json"
if "$bin/ember_train" --config "$tmp/bad.json" --out "$tmp/bad" 2>"$tmp/err2.log"; then exit 1; fi
grep -q "model.heads" "$tmp/err2.log"
echo "driver round trip OK"
