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
# Batch candidates equal the per-user answers of ember_query (same index, same
# retrieval settings: expansion by default, and with the blend).
for blend in off rrf; do
  "$bin/ember_recommend" --run "$tmp/run" --out "$tmp/rec_$blend.tsv" --k 5 --blend $blend --no-progress | tee "$tmp/rec.log"
  grep -q "recall@5 of the served lists against exact search" "$tmp/rec.log"
  test "$(wc -l <"$tmp/rec_$blend.tsv")" -eq $((400 * 5 + 1))
  for u in 3 17 250; do
    "$bin/ember_query" --run "$tmp/run" --user $u --k 5 --blend $blend | awk 'NR > 2 && $1 ~ /^[0-9]+$/ {print $2}' >"$tmp/q.txt"
    awk -v u=$u '$1 == u {print $3}' "$tmp/rec_$blend.tsv" >"$tmp/r.txt"
    cmp "$tmp/q.txt" "$tmp/r.txt" || { echo "ember_recommend and ember_query differ for user $u (blend $blend)"; exit 1; }
  done
done
"$bin/ember_recommend" --run "$tmp/run" --out "$tmp/rec" --npy --k 5 --no-progress >/dev/null
python3 -c "
import sys, struct
def shape(p):
    h = open(p, 'rb').read(128)
    assert h[:6] == b'\x93NUMPY', p
    return h
for suffix, descr in [('candidates', '<i8'), ('scores', '<f4'), ('users', '<i8')]:
    h = shape(sys.argv[1] + '.' + suffix + '.npy')
    assert descr.encode() in h, (suffix, h)
" "$tmp/rec"
echo 17 >"$tmp/users.txt"
"$bin/ember_recommend" --run "$tmp/run" --out "$tmp/rec17.tsv" --k 5 --users "$tmp/users.txt" --no-progress >/dev/null
test "$(wc -l <"$tmp/rec17.tsv")" -eq 6
echo 123456 >"$tmp/users_bad.txt"
if "$bin/ember_recommend" --run "$tmp/run" --out "$tmp/x.tsv" --users "$tmp/users_bad.txt" 2>"$tmp/err4.log"; then exit 1; fi
grep -q "users_bad.txt:1: user 123456 is not a user" "$tmp/err4.log"
test ! -e "$tmp/x.tsv"
# Errors: non-zero exit with a message, never a crash.
if "$bin/ember_query" --run "$tmp/run" --user 999999 2>"$tmp/err.log"; then exit 1; fi
grep -q "not a user of this graph" "$tmp/err.log"
echo '{"model": {"heads": 0}}' >"$tmp/bad.json"
if "$bin/ember_train" --config "$tmp/bad.json" --out "$tmp/bad" 2>"$tmp/err2.log"; then exit 1; fi
grep -q "model.heads" "$tmp/err2.log"
echo "driver round trip OK"
