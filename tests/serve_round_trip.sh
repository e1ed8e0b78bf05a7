#!/usr/bin/env bash
# ember_serve over HTTP on a free loopback port: answers, every error code,
# reloads while clients query, and SIGTERM while a request is in flight (the
# answer arrives complete, the server exits 0). Python's urllib is the client.
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/cfg.json" <<'JSON'
{"data": {"synthetic": {"num_users": 400, "num_communities": 8, "feature_dim": 200}},
 "model": {"hidden": 16, "embedding_dim": 16, "heads": 2},
 "sampler": {"batch_size": 64}, "objectives": {"random_negatives": 32},
 "train": {"epochs": 1, "progress": false}}
JSON
"$bin/ember_train" --config "$tmp/cfg.json" --out "$tmp/run" >/dev/null
"$bin/ember_index" --run "$tmp/run" --check-queries 0 >/dev/null
# softcount expansion searches once per friend: slow enough to be "in flight".
"$bin/ember_serve" --run "$tmp/run" --port 0 --threads 3 --max-body 4096 --expand-merge softcount >"$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "serving" "$tmp/serve.log" && break; sleep 0.1; done
port=$(grep -o "127.0.0.1:[0-9]*" "$tmp/serve.log" | head -1 | cut -d: -f2)
test -n "$port"
grep -q "loopback only" "$tmp/serve.log"
python3 - "$port" "$server" <<'PY'
import json, os, signal, sys, threading, time, urllib.error, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
base = "http://127.0.0.1:%d" % port
def call(path, body=None, method=None):
    req = urllib.request.Request(base + path, data=body.encode() if body is not None else None, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
s, j = call("/v1/recommend?user=5&k=7")
assert s == 200 and len(j["candidates"]) == 7 and j["user"] == 5, (s, j)
s, j = call("/v1/recommend", json.dumps({"users": [5, 6], "k": 3}))
assert s == 200 and [r["user"] for r in j["results"]] == [5, 6], (s, j)
s, h = call("/v1/health")
assert s == 200 and h["vectors"] == 400 and h["status"] == "ok", h
for path, body, method, code in [("/v1/recommend?user=99999", None, None, 404), ("/v1/recommend?user=x", None, None, 400),
                                 ("/v1/recommend?user=1&k=5000", None, None, 400), ("/v1/recommend", "{bad", None, 400),
                                 ("/v1/recommend", "x" * 5000, None, 413), ("/nowhere", None, None, 404),
                                 ("/v1/health", None, "DELETE", 405)]:
    s, j = call(path, body, method)
    assert s == code and "error" in j, (path, s, j)
# Reload while three clients query: every answer is complete.
errors, done = [], threading.Event()
def client(t):
    i = 0
    while not done.is_set():
        s, j = call("/v1/recommend?user=%d&k=5" % ((t * 97 + i) % 400))
        if s != 200 or len(j["candidates"]) != 5:
            errors.append((s, j))
        i += 1
ts = [threading.Thread(target=client, args=(t,)) for t in range(3)]
for t in ts: t.start()
for _ in range(3):
    s, j = call("/v1/reload", "")
    assert s == 200 and j["status"] == "reloaded", j
done.set()
for t in ts: t.join()
assert not errors, errors[:3]
assert call("/v1/health")[1]["index_version"] == 4
# SIGTERM while a slow batch is being answered: the answer arrives complete.
result = {}
def slow():
    result["r"] = call("/v1/recommend", json.dumps({"users": list(range(0, 400, 2)), "k": 200}))
t = threading.Thread(target=slow)
t0 = time.time()
t.start()
time.sleep(0.05)
os.kill(pid, signal.SIGTERM)
t.join()
s, j = result["r"]
assert s == 200 and len(j["results"]) == 200 and all(len(r["candidates"]) == 200 for r in j["results"]), s
print("in-flight batch answered in %.2f s across SIGTERM" % (time.time() - t0))
PY
wait "$server"
code=$?
server=""
test $code -eq 0
grep -q "finishing the requests in flight" "$tmp/serve.log"
echo "serve round trip OK"
