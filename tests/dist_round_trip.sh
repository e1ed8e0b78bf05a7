#!/usr/bin/env bash
# The drivers under mpirun (docs/distributed.md), in a temporary directory:
#   1. 2 ranks (sharded global batches) vs 1 process: final validation
#      Recall@50 within 0.05 and every epoch's loss within 10 %;
#   2. sharded embeddings (ember_embed, 2 ranks) = one process, byte for byte;
#   3. sharded HNSW index built on 2 ranks, searched by ember_query;
#   4. a rank killed mid-training ends the job non-zero within 60 s;
#      resume with another rank count continues and says so;
#   5. ranks with different configs are refused at start;
#   6. a graph read from files and mapped from data.cache_dir: the first job
#      builds the graph and split caches once, the next maps them, and both
#      train exactly the run of the same job without the cache.
set -euo pipefail
bin=$1
mpirun=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run2() { "$mpirun" --oversubscribe -np "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/cfg.json" <<'JSON'
{"data": {"synthetic": {"num_users": 1200, "num_communities": 12, "feature_dim": 200}},
 "model": {"hidden": 16, "embedding_dim": 16, "heads": 2},
 "sampler": {"batch_size": 128}, "objectives": {"beta": 0.01, "gamma": 0.01, "random_negatives": 32},
 "train": {"epochs": 4, "patience": 0, "progress": false}}
JSON
"$bin/ember_train" --config "$tmp/cfg.json" --out "$tmp/one" >"$tmp/one.log"
run2 2 "$bin/ember_train" --config "$tmp/cfg.json" --out "$tmp/two" >"$tmp/two.log"
grep -q "data-parallel: 2 ranks" "$tmp/two.log"
test "$(grep -c "parameters and optimizer state checksum" "$tmp/two.log")" -eq 2
test "$(grep "checksum" "$tmp/two.log" | awk '{print $NF}' | sort -u | wc -l)" -eq 1
python3 - "$tmp/one/metrics.jsonl" "$tmp/two/metrics.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 4, (len(a), len(b))
for x, y in zip(a, b):
    rel = abs(x["loss"] - y["loss"]) / abs(x["loss"])
    assert rel <= 0.10, ("epoch", x["epoch"], x["loss"], y["loss"])
r1, r2 = a[-1]["val_recall@50"], b[-1]["val_recall@50"]
assert abs(r1 - r2) <= 0.05, (r1, r2)
print(f"dist_round_trip: 1 rank vs 2 ranks: final val Recall@50 {r1:.4f} vs {r2:.4f}; "
      f"losses {[round(x['loss'], 3) for x in a]} vs {[round(y['loss'], 3) for y in b]}")
PY
# 2. sharded embeddings = one process (byte for byte)
cp "$tmp/one/embeddings.npy" "$tmp/one_emb.npy"
run2 2 "$bin/ember_embed" --run "$tmp/one" | grep -q "2 ranks"
cmp "$tmp/one/embeddings.npy" "$tmp/one_emb.npy"
# 3. a sharded index built on 2 ranks answers queries
run2 2 "$bin/ember_index" --run "$tmp/one" --shards 3 --check-queries 200 | tee "$tmp/index.log"
grep -q "3 shard(s), built on 2 ranks" "$tmp/index.log"
"$bin/ember_query" --run "$tmp/one" --user 3 --k 5 >/dev/null
# 4. a rank killed mid-training: the job ends non-zero, promptly; resume on 1 rank
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c['train']['epochs']=400; c['train']['checkpoint_every']=5; json.dump(c,open(sys.argv[2],'w'))" "$tmp/cfg.json" "$tmp/long.json"
run2 2 "$bin/ember_train" --config "$tmp/long.json" --out "$tmp/kill" >"$tmp/kill.log" 2>&1 &
job=$!
for _ in $(seq 600); do [ -s "$tmp/kill/checkpoint.bin" ] && break; sleep 0.1; done
test -s "$tmp/kill/checkpoint.bin"
# The newest process running that command line (/proc directly: procps may be absent).
victim=""
for d in /proc/[0-9]*; do
  if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q "^$bin/ember_train --config $tmp/long.json"; then
    p=${d#/proc/}
    if [ -z "$victim" ] || [ "$p" -gt "$victim" ]; then victim=$p; fi
  fi
done
test -n "$victim"
start=$(date +%s)
kill -9 "$victim"
rc=0
timeout 60 tail --pid="$job" -f /dev/null || { echo "dist_round_trip: the job did not end within 60 s of a rank's death"; kill -9 "$job"; exit 1; }
wait "$job" || rc=$?
echo "dist_round_trip: job ended with exit code $rc $(( $(date +%s) - start )) s after rank pid $victim was killed"
test "$rc" -ne 0
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c['train']['epochs']=2; json.dump(c,open(sys.argv[1],'w'))" "$tmp/kill/config.json"
"$bin/ember_train" --out "$tmp/kill" --resume --epochs 2 | tee "$tmp/resume.log"
grep -q "written by a job of 2 rank(s), continued by 1" "$tmp/resume.log"
test -s "$tmp/kill/embeddings.npy"
# 5. ranks whose resolved configs differ are refused at start (rank 0's
# config file reaches every rank; a command-line override on one rank differs)
if "$mpirun" --oversubscribe -np 1 "$bin/ember_train" --config "$tmp/cfg.json" --out "$tmp/mix" : \
     -np 1 "$bin/ember_train" --config "$tmp/cfg.json" --out "$tmp/mix" --beta 0.5 >"$tmp/mix.log" 2>&1; then
  echo "dist_round_trip: ranks with different configs were not refused"; exit 1
fi
grep -q "differs between ranks" "$tmp/mix.log"
# 6. the graph and split caches of data.cache_dir, mapped by both ranks
python3 - "$tmp" <<'PY'
import json, random, sys
d = sys.argv[1]
random.seed(3)
n = 600
with open(d + "/g.txt", "w") as f:
    for u in range(n):
        for k in (1, 2, random.randrange(3, n)):
            f.write(f"{u} {(u + k) % n}\n")
with open(d + "/f.json", "w") as f:
    json.dump({str(u): sorted(random.sample(range(300), 6)) for u in range(n)}, f)
c = json.load(open(d + "/cfg.json"))
c["data"] = {"graph": d + "/g.txt", "features": d + "/f.json"}
c["train"]["epochs"] = 1
json.dump(c, open(d + "/files.json", "w"))
c["data"]["cache_dir"] = d + "/cache"
json.dump(c, open(d + "/cached.json", "w"))
PY
run2 2 "$bin/ember_train" --config "$tmp/files.json" --out "$tmp/plain" >"$tmp/plain.log"
run2 2 "$bin/ember_train" --config "$tmp/cached.json" --out "$tmp/cached1" >"$tmp/cached1.log"
test "$(grep -c "building it from the source files" "$tmp/cached1.log")" -eq 1
test "$(grep -c "missing, making the split" "$tmp/cached1.log")" -eq 1
run2 2 "$bin/ember_train" --config "$tmp/cached.json" --out "$tmp/cached2" | tee "$tmp/cached2.log" | grep "memory per rank"
grep -q "graph cache hit" "$tmp/cached2.log"
if grep -q "building\|making the split" "$tmp/cached2.log"; then echo "dist_round_trip: a valid cache was rebuilt"; exit 1; fi
test "$(ls "$tmp/cache" | grep -c '\.egraph$')" -eq 1
test "$(ls "$tmp/cache" | grep -c '\.esplit$')" -eq 1
cmp "$tmp/plain/embeddings.npy" "$tmp/cached1/embeddings.npy"
cmp "$tmp/plain/embeddings.npy" "$tmp/cached2/embeddings.npy"
echo "dist_round_trip: all checks passed"
