#!/usr/bin/env python3
"""Issue 9 study: does SSMTL beat the retrieval-only GAT baseline on public
social graphs and for cold-start users?

Protocol (per setting = graph x split):
  1. sweep (first seed only, VALIDATION split): CCA-only runs at each beta in
     the grid and MAE-only runs at each gamma (alpha = 1 always); pick beta*
     and gamma* by validation Recall@50 (ember_evaluate --split val);
  2. final configurations: retrieval-only (beta = gamma = 0), +CCA (beta*),
     +MAE (gamma*), SSMTL (beta*, gamma*), each trained with every seed
     (same encoder, epoch budget, early stopping on val Recall@50), and
     evaluated ONCE on the test split; heuristics (FoF common neighbours,
     Adamic-Adar, popularity, random) per seed from ember_evaluate --baselines;
  3. HNSW recall@10 vs exact (ember_index --check-queries), training time
     (metrics.jsonl "seconds") and peak RSS (/usr/bin/time -v) per run;
  4. report: mean +- std tables, paired per-seed differences vs retrieval-only.

The seed also seeds the split (and the synthetic graph), so runs with the same
seed share their split: the comparison is paired.

Standard library only for orchestration; matplotlib (optional) for plots.
Resumable: finished steps are skipped (training: embeddings.npy; evaluation:
eval.json / eval_val.json; index: index.log; heuristics: baselines.json).

  python3 bench/study/run_study.py --quick            # < 20 min on 2 cores
  python3 bench/study/run_study.py                    # full study
  python3 bench/study/run_study.py --only synth_small_edge,ego_facebook_edge --methods baseline,ssmtl
  python3 bench/study/run_study.py --quick --report-only --plots docs/results
  python3 bench/study/run_study.py --quality [--quick]  # retrieval quality (bench/study/quality_study.py)
"""
import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.environ.get("EMBER_DATA", os.path.abspath(os.path.join(ROOT, "..", "shared", "data")))

# name -> (graph argument, [config overlays under bench/study/configs])
SETTINGS_FULL = [
    ("synth_small_edge", "synthetic", ["synthetic_small.json"]),
    ("synth_small_cold", "synthetic", ["synthetic_small.json", "cold.json"]),
    ("ego_facebook_edge", "ego_facebook", []),
    ("lastfm_asia_edge", "lastfm_asia", []),
    ("ego_facebook_cold", "ego_facebook", ["cold.json"]),
    ("lastfm_asia_cold", "lastfm_asia", ["cold.json"]),
    ("twitch_PTBR_cold", "twitch/PTBR", ["cold.json"]),
] + [("twitch_%s_edge" % l, "twitch/" + l, []) for l in ["PTBR", "ENGB", "RU", "ES", "FR", "DE"]] + [
    # the two largest last (resumable: a time-limited run still covers the rest)
    ("synth_large_edge", "synthetic", ["synthetic_large.json"]),
    ("deezer_europe_edge", "deezer_europe", []),
]

SETTINGS_QUICK = [
    ("q_synth_tiny_edge", "synthetic", ["synthetic_tiny.json"]),
    ("q_synth_tiny_cold", "synthetic", ["synthetic_tiny.json", "cold.json"]),
    ("q_twitch_PTBR_edge", "twitch/PTBR", []),
]

METHODS = ["baseline", "cca", "mae", "ssmtl"]
METHOD_LABEL = {"baseline": "GAT retrieval-only", "cca": "GAT +CCA", "mae": "GAT +MAE", "ssmtl": "GAT SSMTL"}
HEURISTICS = ["FoF common neighbours", "FoF Adamic-Adar", "popularity", "random"]
BUCKETS = ["all", "0-2", "3-10", "11-50", ">50"]


def log(msg):
    print("[study %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def wtag(x):
    return "0" if x == 0 else ("%g" % x)


class Study:
    def __init__(self, args):
        self.a = args
        self.bin = args.bin
        self.res = os.path.abspath(args.results)
        self.quick = args.quick
        self.epochs = args.epochs or 10  # the same budget quick and full (early stopping shortens it)
        self.grid = [float(x) for x in (args.grid or ("0.1,0.01,0.001" if self.quick else "0.1,0.01,0.001,0.0001")).split(",")]
        self.seeds = list(range(1, (args.seeds or 3) + 1))
        settings = SETTINGS_QUICK if self.quick else SETTINGS_FULL
        if args.smoke:  # the quick study's smallest setting, shrunk (tests/study_smoke.sh)
            settings = [(n, g, o + ["smoke.json"]) for n, g, o in SETTINGS_QUICK if n == "q_synth_tiny_edge"]
        if args.only:
            keep = args.only.split(",")
            settings = [s for s in settings if s[0] in keep]
        if args.overlay:  # extra config overlays (investigations), applied to every setting
            extra = args.overlay.split(",")
            settings = [(n, g, o + extra) for n, g, o in settings]
        self.settings = settings
        # Quick: the +CCA / +MAE arms are the sweep runs at seed 1 only.
        self.methods = args.methods.split(",") if args.methods else METHODS
        self.side_arm_seeds = self.seeds
        os.makedirs(self.res, exist_ok=True)

    # ---- helpers -------------------------------------------------------------------
    def sh(self, cmd, logfile, timefile=None):
        if timefile:
            cmd = ["/usr/bin/time", "-v", "-o", timefile] + cmd
        t0 = time.time()
        with open(logfile, "w") as f:
            r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        if r.returncode != 0:
            raise RuntimeError("failed (%d): %s; see %s" % (r.returncode, " ".join(cmd), logfile))
        return time.time() - t0

    def setting_config(self, name, graph, overlays):
        cfg = json.load(open(os.path.join(HERE, "configs", "base.json")))
        for o in overlays:
            cfg = merge(cfg, json.load(open(os.path.join(HERE, "configs", o))))
        cfg["data"]["graph"] = graph if graph == "synthetic" else os.path.join(DATA, graph)
        cfg["train"]["epochs"] = self.epochs
        d = os.path.join(self.res, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "config.json")
        with open(path + ".tmp", "w") as f:
            json.dump(cfg, f, indent=1)
        os.replace(path + ".tmp", path)
        return path

    def run_dir(self, name, beta, gamma, seed):
        return os.path.join(self.res, name, "b%s_g%s" % (wtag(beta), wtag(gamma)), "seed%d" % seed)

    def train(self, name, cfg, beta, gamma, seed):
        d = self.run_dir(name, beta, gamma, seed)
        if os.path.exists(os.path.join(d, "embeddings.npy")):
            return d
        os.makedirs(os.path.dirname(d), exist_ok=True)
        cmd = [os.path.join(self.bin, "ember_train"), "--config", cfg, "--out", d, "--seed", str(seed),
               "--beta", repr(beta), "--gamma", repr(gamma)]
        if os.path.exists(os.path.join(d, "checkpoint.bin")):
            cmd = [os.path.join(self.bin, "ember_train"), "--out", d, "--resume"]
        elif os.path.exists(d):
            shutil.rmtree(d)
        log("train %s beta=%g gamma=%g seed=%d" % (name, beta, gamma, seed))
        os.makedirs(d, exist_ok=True)
        wall = self.sh(cmd, d + ".train.log", d + ".time")
        log("  done in %.0f s" % wall)
        return d

    def evaluate(self, d, split):
        target = os.path.join(d, "eval.json" if split == "test" else "eval_val.json")
        if os.path.exists(target):
            return json.load(open(target))
        self.sh([os.path.join(self.bin, "ember_evaluate"), "--run", d, "--split", split], d + ".eval_%s.log" % split)
        if split == "val" and not os.path.exists(target):  # drivers before eval_val.json
            os.replace(os.path.join(d, "eval.json"), target)
        j = json.load(open(target))
        assert j["split"] == split, target
        return j

    def heuristics(self, name, d_baseline, seed):
        out = os.path.join(self.res, name, "heuristics_seed%d.json" % seed)
        if os.path.exists(out):
            return json.load(open(out))
        logf = os.path.join(self.res, name, "heuristics_seed%d.log" % seed)
        # Re-evaluates the retrieval-only run on test (same numbers) and adds the heuristics.
        self.sh([os.path.join(self.bin, "ember_evaluate"), "--run", d_baseline, "--split", "test", "--baselines"], logf)
        bj = os.path.join(d_baseline, "baselines.json")  # full precision (drivers before it: the printed tables)
        if os.path.exists(bj):
            res = {k: eval_to_buckets(v) for k, v in json.load(open(bj)).items() if k in HEURISTICS}
        else:
            res = parse_tables(open(logf).read())
        res = {k: v for k, v in res.items() if k in HEURISTICS}
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
        return res

    def index(self, d):
        logf = d + ".index.log"
        if not os.path.exists(logf):
            self.sh([os.path.join(self.bin, "ember_index"), "--run", d, "--check-queries", "500"], logf + ".tmp")
            os.replace(logf + ".tmp", logf)
            idx = os.path.join(d, "index.hnsw")
            if os.path.exists(idx):
                os.remove(idx)  # large, not needed afterwards
        m = re.search(r"HNSW recall@10 vs exact search.*?:\s*([0-9.]+)", open(logf).read())
        return float(m.group(1)) if m else None

    # ---- protocol ------------------------------------------------------------------
    def select(self, name, cfg):
        """Sweep on the first seed, select beta*, gamma* on the validation split."""
        s0 = self.seeds[0]
        sweep = {"cca": {}, "mae": {}}
        db = self.train(name, cfg, 0.0, 0.0, s0)
        base_val = rec50(self.evaluate(db, "val"))
        if self.a.weights:  # fixed weights (selected on validation elsewhere): no sweep here
            beta, gamma = [float(x) for x in self.a.weights.split(",")]
            sel = {"baseline_val_recall50": base_val, "sweep_val_recall50": {}, "beta": beta, "gamma": gamma,
                   "grid": [], "seed": s0, "epochs": self.epochs, "fixed_weights": True}
            with open(os.path.join(self.res, name, "selection.json"), "w") as f:
                json.dump(sel, f, indent=1)
            return beta, gamma
        for w in ([] if self.a.joint_sweep else self.grid):
            if "cca" in self.methods or "ssmtl" in self.methods:
                d = self.train(name, cfg, w, 0.0, s0)
                sweep["cca"][w] = rec50(self.evaluate(d, "val"))
            if "mae" in self.methods or "ssmtl" in self.methods:
                d = self.train(name, cfg, 0.0, w, s0)
                sweep["mae"][w] = rec50(self.evaluate(d, "val"))
        # Ties (validation Recall@50 is coarse on small graphs) go to the SMALLER weight,
        # i.e. the configuration closer to the retrieval-only baseline.
        pick = lambda sw: max(sw, key=lambda w: (sw[w], -w)) if sw else None
        beta, gamma = pick(sweep["cca"]), pick(sweep["mae"])
        if self.a.joint_sweep:  # cheaper: SSMTL with beta = gamma = w, pick w on validation
            sweep["ssmtl"] = {}
            for w in self.grid:
                d = self.train(name, cfg, w, w, s0)
                sweep["ssmtl"][w] = rec50(self.evaluate(d, "val"))
            beta = gamma = pick(sweep["ssmtl"])
        sel = {"baseline_val_recall50": base_val, "sweep_val_recall50": {k: {wtag(w): v for w, v in s.items()}
                                                                          for k, s in sweep.items()},
               "beta": beta, "gamma": gamma, "grid": self.grid, "seed": s0, "epochs": self.epochs,
               "joint_sweep": bool(self.a.joint_sweep)}
        with open(os.path.join(self.res, name, "selection.json"), "w") as f:
            json.dump(sel, f, indent=1)
        log("%s: selected beta*=%s gamma*=%s (val R@50 baseline %.4f, CCA %s, MAE %s)" %
            (name, beta, gamma, base_val, sweep["cca"], sweep["mae"]))
        return beta, gamma

    def final(self, name, cfg, beta, gamma):
        arms = {"baseline": (0.0, 0.0, self.seeds), "cca": (beta, 0.0, self.side_arm_seeds),
                "mae": (0.0, gamma, self.side_arm_seeds), "ssmtl": (beta, gamma, self.seeds)}
        order = ["baseline", "ssmtl", "cca", "mae"]  # the headline comparison first
        for seed in self.seeds:
            for m in order:
                if m not in self.methods:
                    continue
                b, g, seeds = arms[m]
                if seed not in seeds or b is None or g is None:
                    continue
                d = self.train(name, cfg, b, g, seed)
                self.evaluate(d, "test")
                self.index(d)
            self.heuristics(name, self.run_dir(name, 0.0, 0.0, seed), seed)

    def run(self):
        t0 = time.time()
        for name, graph, overlays in self.settings:
            cfg = self.setting_config(name, graph, overlays)
            st = time.time()
            beta, gamma = self.select(name, cfg)
            self.final(name, cfg, beta, gamma)
            log("%s finished in %.0f s (this invocation)" % (name, time.time() - st))
            self.report()  # refresh after every setting
        log("study finished in %.0f s (this invocation)" % (time.time() - t0))

    # ---- report --------------------------------------------------------------------
    def collect(self):
        """rows[setting] = {method: {seed: record}} from whatever exists on disk."""
        out = {}
        for name, graph, overlays in self.settings:
            sel_path = os.path.join(self.res, name, "selection.json")
            if not os.path.exists(sel_path):
                continue
            sel = json.load(open(sel_path))
            beta, gamma = sel["beta"], sel["gamma"]
            arms = {"baseline": (0.0, 0.0), "cca": (beta, 0.0), "mae": (0.0, gamma), "ssmtl": (beta, gamma)}
            rows = {}
            for m, (b, g) in arms.items():
                if b is None or g is None or (m != "baseline" and m not in self.methods):
                    continue
                for seed in self.seeds:
                    d = self.run_dir(name, b, g, seed)
                    if not os.path.exists(os.path.join(d, "eval.json")):
                        continue
                    rows.setdefault(m, {})[seed] = run_record(d)
            for seed in self.seeds:
                p = os.path.join(self.res, name, "heuristics_seed%d.json" % seed)
                if os.path.exists(p):
                    for h, rec in json.load(open(p)).items():
                        rows.setdefault(h, {})[seed] = {"metrics": rec}
            out[name] = {"selection": sel, "rows": rows, "graph": graph, "overlays": overlays}
        return out

    def report(self):
        data = self.collect()
        with open(os.path.join(self.res, "summary.json"), "w") as f:
            json.dump(data, f, indent=1)
        md = render_markdown(data, self.seeds)
        with open(os.path.join(self.res, "summary.md"), "w") as f:
            f.write(md)
        if self.a.plots:
            prefix = self.a.plot_prefix if self.a.plot_prefix is not None else ("quick_" if self.quick else "")
            make_plots(data, self.a.plots, prefix=prefix)
        return md


# ---- parsing and statistics ------------------------------------------------------------

def parse_tables(text):
    """Parses ember_evaluate's printed tables into {method: {bucket: {metric: value}}}."""
    res, method, header = {}, None, None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  bucket"):
            method = lines[i - 1].strip()
            header = line.split()[2:]
            res[method] = {}
        elif method and line.startswith("  ") and header and len(line.split()) == len(header) + 2:
            p = line.split()
            rec = {"queries": int(p[1])}
            for h, v in zip(header, p[2:]):
                k = h.replace("HR@", "hit_rate@").replace("R@", "recall@").replace("MRR", "mrr")
                rec[k] = float(v)
            res[method][p[0]] = rec
        elif not line.strip():
            method, header = None, None
    return res


def eval_to_buckets(j):
    return {b["bucket"]: b for b in j["buckets"]}


def rec50(j, bucket="all"):
    return eval_to_buckets(j)[bucket]["recall@50"]


def run_record(d):
    return run_record_from(d, eval_to_buckets(json.load(open(os.path.join(d, "eval.json")))))


def run_record_from(d, metrics):
    """A run's record: its metrics and, from its files, training time, epochs, peak RSS, HNSW recall."""
    rec = {"metrics": metrics}
    lines = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl")) if l.strip()]
    if lines:
        rec["seconds"] = lines[-1].get("seconds")
        rec["epochs_run"] = lines[-1].get("epoch")
        best = max(lines, key=lambda l: l.get("val_recall@50", -1))
        rec["best_epoch"] = best.get("epoch")
    tf = d + ".time"
    if os.path.exists(tf):
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read())
        if m:
            rec["max_rss_mb"] = int(m.group(1)) / 1024.0
    il = d + ".index.log"
    if os.path.exists(il):
        m = re.search(r"HNSW recall@10 vs exact search.*?:\s*([0-9.]+)", open(il).read())
        if m:
            rec["hnsw_recall10"] = float(m.group(1))
    return rec


def mstd(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    if len(xs) == 1:
        return "%.4f" % xs[0]
    return "%.4f ± %.4f" % (statistics.mean(xs), statistics.stdev(xs))


def metric(rec, bucket, key):
    b = rec["metrics"].get(bucket)
    if not b or not b.get("queries"):
        return None
    return b.get(key)


def paired(a, b):
    """Per-seed differences b - a over shared seeds; mean, sd, t, sign count."""
    seeds = sorted(set(a) & set(b))
    diffs = [(s, b[s] - a[s]) for s in seeds if a[s] is not None and b[s] is not None]
    if not diffs:
        return None
    ds = [d for _, d in diffs]
    mean = statistics.mean(ds)
    sd = statistics.stdev(ds) if len(ds) > 1 else float("nan")
    t = mean / (sd / math.sqrt(len(ds))) if len(ds) > 1 and sd > 0 else float("nan")
    return {"diffs": diffs, "mean": mean, "sd": sd, "t": t, "wins": sum(d > 0 for d in ds), "n": len(ds)}


def overview_markdown(data):
    """One line per setting: test Recall@50 (mean over seeds) of every method and
    the paired SSMTL - retrieval-only difference, overall and for 0-2 training degree."""
    def mean_r50(rows, m, bucket="all"):
        xs = [metric(r, bucket, "recall@50") for r in rows.get(m, {}).values()]
        xs = [x for x in xs if x is not None]
        return ("%.4f" % statistics.mean(xs)) if xs else "-"

    def pair(rows, m, bucket):
        if m not in rows or "baseline" not in rows:
            return "-"
        p = paired({sd: metric(r, bucket, "recall@50") for sd, r in rows["baseline"].items()},
                   {sd: metric(r, bucket, "recall@50") for sd, r in rows[m].items()})
        if not p:
            return "-"
        t = "%.1f" % p["t"] if not math.isnan(p["t"]) else "-"
        return "%+.4f (t %s, %d/%d)" % (p["mean"], t, p["wins"], p["n"])

    out = ["| setting | β\*, γ\* | retrieval-only | +CCA | +MAE | SSMTL | FoF AA | popularity | "
           "SSMTL − retr. (all) | SSMTL − retr. (0-2) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for name, s in data.items():
        sel, rows = s["selection"], s["rows"]
        out.append("| %s | %s, %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, sel["beta"], sel["gamma"], mean_r50(rows, "baseline"), mean_r50(rows, "cca"), mean_r50(rows, "mae"),
            mean_r50(rows, "ssmtl"), mean_r50(rows, "FoF Adamic-Adar"), mean_r50(rows, "popularity"),
            pair(rows, "ssmtl", "all"), pair(rows, "ssmtl", "0-2")))
    return "\n".join(out) + "\n"


def render_markdown(data, seeds):
    out = ["Overview: test Recall@50, mean over seeds; paired differences: mean (t, seeds won)\n",
           overview_markdown(data)]
    order = ["baseline", "cca", "mae", "ssmtl"] + HEURISTICS
    for name, s in data.items():
        sel, rows = s["selection"], s["rows"]
        out.append("### %s\n" % name)
        out.append("graph `%s`, overlays %s; selected on validation (seed %d): beta* = %s, gamma* = %s; "
                   "val Recall@50 retrieval-only %.4f, CCA-only sweep %s, MAE-only sweep %s, SSMTL (beta = gamma) sweep %s; "
                   "epochs %s\n" %
                   (s["graph"], s["overlays"] or "[]", sel["seed"], sel["beta"], sel["gamma"],
                    sel["baseline_val_recall50"], sel["sweep_val_recall50"].get("cca") or "-",
                    sel["sweep_val_recall50"].get("mae") or "-", sel["sweep_val_recall50"].get("ssmtl") or "-",
                    sel.get("epochs", "?")))
        out.append("| method | seeds | R@10 | R@50 | R@100 | HR@10 | HR@50 | MRR | train s | max RSS MB | HNSW R@10 |")
        out.append("|---|---:|---|---|---|---|---|---|---:|---:|---:|")
        for m in order:
            if m not in rows:
                continue
            recs = list(rows[m].values())
            cells = [mstd([metric(r, "all", k) for r in recs]) for k in
                     ["recall@10", "recall@50", "recall@100", "hit_rate@10", "hit_rate@50", "mrr"]]
            secs = [r.get("seconds") for r in recs if r.get("seconds") is not None]
            rss = [r.get("max_rss_mb") for r in recs if r.get("max_rss_mb") is not None]
            hn = [r.get("hnsw_recall10") for r in recs if r.get("hnsw_recall10") is not None]
            out.append("| %s | %d | %s | %s | %s | %s |" % (
                METHOD_LABEL.get(m, m), len(recs), " | ".join(cells),
                ("%.0f" % statistics.mean(secs)) if secs else "-", ("%.0f" % max(rss)) if rss else "-",
                ("%.3f" % statistics.mean(hn)) if hn else "-"))
        out.append("")
        out.append("Recall@50 by training-degree bucket (mean ± std over seeds; queries per bucket from seed %d)\n" % seeds[0])
        any_rec = next(iter(rows.get("baseline", {}).values()), None)
        qs = {b: (metric(any_rec, b, "queries") or 0) if any_rec else 0 for b in BUCKETS}
        out.append("| method | " + " | ".join("%s (%d)" % (b, qs[b]) for b in BUCKETS) + " |")
        out.append("|---|" + "---|" * len(BUCKETS))
        for m in order:
            if m not in rows:
                continue
            recs = list(rows[m].values())
            out.append("| %s | %s |" % (METHOD_LABEL.get(m, m),
                                       " | ".join(mstd([metric(r, b, "recall@50") for r in recs]) for b in BUCKETS)))
        out.append("")
        base = rows.get("baseline", {})
        lines = []
        for m in ["ssmtl", "cca", "mae"]:
            if m not in rows:
                continue
            for b in BUCKETS:
                for key in ["recall@50", "mrr"]:
                    p = paired({sd: metric(r, b, key) for sd, r in base.items()},
                               {sd: metric(r, b, key) for sd, r in rows[m].items()})
                    if not p or (p["n"] < 2 and m != "ssmtl"):
                        continue
                    lines.append("| %s − retrieval-only | %s | %s | %s | %+.4f | %.4f | %s | %d/%d |" % (
                        METHOD_LABEL[m], b, key, ", ".join("s%d %+.4f" % (sd, d) for sd, d in p["diffs"]),
                        p["mean"], p["sd"], "%.2f" % p["t"] if not math.isnan(p["t"]) else "-", p["wins"], p["n"]))
        if lines:
            out.append("Paired per-seed differences on the test split (same split per seed)\n")
            out.append("| comparison | bucket | metric | per-seed diff | mean | sd | t | wins |")
            out.append("|---|---|---|---|---:|---:|---:|---:|")
            out.extend(lines)
            out.append("")
    return "\n".join(out) + "\n"


def make_plots(data, outdir, prefix=""):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # plots are optional
        log("no plots (matplotlib unavailable: %s)" % e)
        return
    os.makedirs(outdir, exist_ok=True)
    names = list(data)
    if not names:
        return
    order = ["baseline", "cca", "mae", "ssmtl", "FoF Adamic-Adar", "popularity"]
    cols = min(3, len(names))
    rows_n = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.2 * rows_n), squeeze=False, dpi=80)
    buckets = BUCKETS[1:]
    for ax, name in zip(axes.flat, names):
        rows = data[name]["rows"]
        ms = [m for m in order if m in rows]
        w = 0.8 / max(1, len(ms))
        for i, m in enumerate(ms):
            recs = list(rows[m].values())
            ys, es = [], []
            for b in buckets:
                v = [metric(r, b, "recall@50") for r in recs]
                v = [x for x in v if x is not None]
                ys.append(statistics.mean(v) if v else 0)
                es.append(statistics.stdev(v) if len(v) > 1 else 0)
            ax.bar([j + i * w for j in range(len(buckets))], ys, w, yerr=es, label=METHOD_LABEL.get(m, m))
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(buckets))])
        ax.set_xticklabels(buckets)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("test Recall@50")
        ax.set_xlabel("training degree")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, prefix + "recall50_by_degree.png"))
    plt.close(fig)
    if not any(data[n]["selection"]["sweep_val_recall50"].get(k) for n in names for k in ["cca", "mae", "ssmtl"]):
        return  # no sweep (fixed weights): no sensitivity plot
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False, dpi=80)
    for ax, name in zip(axes.flat, names):
        sel = data[name]["selection"]
        for k, lab in [("cca", "CCA-only, beta"), ("mae", "MAE-only, gamma"), ("ssmtl", "SSMTL, beta = gamma")]:
            sw = sel["sweep_val_recall50"].get(k) or {}
            xs = sorted(sw, key=float)
            ax.plot([float(x) for x in xs], [sw[x] for x in xs], marker="o", label=lab)
        ax.axhline(sel["baseline_val_recall50"], color="k", ls="--", label="retrieval-only")
        ax.set_xscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("weight (alpha = 1)")
        ax.set_ylabel("val Recall@50 (seed %d)" % sel["seed"])
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, prefix + "sensitivity.png"))
    plt.close(fig)


def main():
    if "--quality" in sys.argv[1:]:  # the retrieval-quality study (issue 15): bench/study/quality_study.py
        import quality_study
        return quality_study.main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny synthetic (edge + cold) and Twitch PTBR, 10 epochs, "
                    "3-point sweep, 3 seeds for every method")
    ap.add_argument("--results", default=None, help="results dir (default runs/study or runs/study_quick)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-study", "examples"), help="driver directory")
    ap.add_argument("--only", help="comma-separated setting names")
    ap.add_argument("--methods", help="comma-separated subset of baseline,cca,mae,ssmtl")
    ap.add_argument("--seeds", type=int, help="number of seeds (default 3)")
    ap.add_argument("--epochs", type=int, help="epoch budget (default 10, quick and full)")
    ap.add_argument("--grid", help="comma-separated beta/gamma grid")
    ap.add_argument("--plots", help="write PNG plots into this directory")
    ap.add_argument("--plot-prefix", help="file-name prefix of the plots (default quick_ or none)")
    ap.add_argument("--overlay", help="comma-separated extra overlays from bench/study/configs (investigations)")
    ap.add_argument("--weights", help="B,G: skip the sweep and use these (chosen on validation elsewhere)")
    ap.add_argument("--joint-sweep", action="store_true", help="sweep SSMTL with beta = gamma = w instead of "
                    "CCA-only and MAE-only (fewer runs; +CCA/+MAE arms are then skipped)")
    ap.add_argument("--report-only", action="store_true", help="only rebuild summary.md/json (and plots)")
    ap.add_argument("--list", action="store_true", help="list the settings and exit")
    ap.add_argument("--smoke", action="store_true", help="(tests) the smallest quick setting on a 400-user graph")
    a = ap.parse_args()
    if a.smoke:
        a.quick = True
    if a.results is None:
        a.results = os.path.join(ROOT, "runs", "study_quick" if a.quick else "study")
    st = Study(a)
    if a.list:
        for s in st.settings:
            print(s[0], s[1], s[2])
        return 0
    if not a.report_only:
        st.run()
    sys.stdout.write(st.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
