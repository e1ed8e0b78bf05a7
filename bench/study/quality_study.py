#!/usr/bin/env python3
"""Issue 15 study: do ember's candidates beat friends-of-friends, and do the
robust objectives pay off?  (Run as `run_study.py --quality ...` or directly.)

Protocol (per setting = graph x split; docs/results.md, "Retrieval quality"):
  arms, each trained with seeds 1..S (the seed also seeds the split, so every
  comparison is paired per seed):
    today        retrieval-only with the previous defaults (configs/base.json)
    tuned        retrieval-only, trained long and wide enough (configs/tuned.json:
                 d = 128, temperature 0.03, logQ, 40 epochs, patience 6)
    +ids         tuned + learnable user-id embeddings (configs/ids.json)
    +hard        tuned + 8 hard negatives per query (configs/hard.json)
    all          tuned + ids + hard negatives
    ssmtl        all + CCA + MAE with gradient-normalised weights (fractions 0.1)
    ssmtl_mgda   all + CCA + MAE combined by MGDA (with --mgda)
  every trained run is evaluated ONCE on the test split, exactly and as served:
    +expansion   query expansion (mean over all friends, own weight 0.5)
    +blend       expansion blended with Adamic-Adar by reciprocal-rank fusion,
                 its weight chosen on the VALIDATION split of seed 1's `all` run
  heuristics per seed: Adamic-Adar, common neighbours, popularity, random.
  HNSW recall@10 vs exact for the `all` runs; training time and peak RSS per run.

Resumable (finished runs / evaluations are skipped); --report-only rebuilds
summary.md / summary.json (and plots with --plots DIR).

  python3 bench/study/run_study.py --quality --quick     # 5 settings, minutes to an hour
  python3 bench/study/run_study.py --quality             # every shared graph, edge and cold split
"""
import json
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_study as rs  # noqa: E402  (shared helpers: merge, log, paired statistics, records)

GRAPHS = [("synth_3k", "synthetic", ["synthetic_3k.json"]),
          ("ego_facebook", "ego_facebook", []),
          ("lastfm_asia", "lastfm_asia", []),
          ("twitch_PTBR", "twitch/PTBR", []),
          ("twitch_ENGB", "twitch/ENGB", []),
          ("twitch_RU", "twitch/RU", []),
          ("twitch_ES", "twitch/ES", []),
          ("twitch_FR", "twitch/FR", []),
          ("twitch_DE", "twitch/DE", []),
          ("synth_20k", "synthetic", ["synthetic_large.json"]),
          ("deezer_europe", "deezer_europe", [])]
SETTINGS_FULL = [("%s_edge" % n, g, o) for n, g, o in GRAPHS] + [("%s_cold" % n, g, o + ["cold.json"]) for n, g, o in GRAPHS]
SETTINGS_QUICK = [s for s in SETTINGS_FULL if s[0] in
                  ("synth_3k_edge", "twitch_PTBR_edge", "lastfm_asia_edge", "ego_facebook_edge", "synth_3k_cold")]

ARMS = {  # name -> (label, overlays on top of base.json)
    "today": ("GAT today (retrieval-only, previous defaults)", []),
    "tuned": ("GAT tuned (retrieval-only)", ["tuned.json"]),
    "ids": ("GAT tuned +ids", ["tuned.json", "ids.json"]),
    "hard": ("GAT tuned +hard negatives", ["tuned.json", "hard.json"]),
    "all": ("GAT all levers (ids + hard)", ["tuned.json", "ids.json", "hard.json"]),
    "ssmtl": ("GAT all + SSMTL (gradnorm)", ["tuned.json", "ids.json", "hard.json", "ssmtl_gradnorm.json"]),
    "ssmtl_mgda": ("GAT all + SSMTL (MGDA)", ["tuned.json", "ids.json", "hard.json", "ssmtl_mgda.json"]),
}
EXPANSION = ["--expand", "0", "--expand-select", "all", "--expand-merge", "mean", "--self-weight", "0.5"]
BLEND_GRID = [0.2, 0.35, 0.5, 0.65, 0.8]
HEUR = ["FoF Adamic-Adar", "FoF common neighbours", "popularity", "random"]


class QualityStudy:
    def __init__(self, a):
        self.a = a
        self.bin = a.bin
        self.res = os.path.abspath(a.results)
        self.seeds = list(range(1, (a.seeds or 3) + 1))
        settings = SETTINGS_QUICK if a.quick else SETTINGS_FULL
        if a.smoke:
            settings = [("q_smoke_edge", "synthetic", ["synthetic_tiny.json", "smoke.json"])]
        if a.only:
            keep = a.only.split(",")
            settings = [s for s in settings if s[0] in keep]
        self.settings = settings
        arms = a.arms.split(",") if a.arms else [m for m in ARMS if m != "ssmtl_mgda" or a.mgda]
        bad = [m for m in arms if m not in ARMS]
        if bad:
            raise SystemExit("unknown arm(s) %s; known: %s" % (bad, ", ".join(ARMS)))
        self.arms = arms
        os.makedirs(self.res, exist_ok=True)

    def sh(self, cmd, logfile, timefile=None):
        return rs.Study.sh(self, cmd, logfile, timefile)

    def config(self, name, graph, overlays, arm):
        cfg = json.load(open(os.path.join(HERE, "configs", "base.json")))
        for o in overlays + ARMS[arm][1]:
            cfg = rs.merge(cfg, json.load(open(os.path.join(HERE, "configs", o))))
        cfg["data"]["graph"] = graph if graph == "synthetic" else os.path.join(rs.DATA, graph)
        if self.a.epochs:
            cfg["train"]["epochs"] = self.a.epochs
        d = os.path.join(self.res, name, arm)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "config.json")
        with open(path + ".tmp", "w") as f:
            json.dump(cfg, f, indent=1)
        os.replace(path + ".tmp", path)
        return path

    def run_dir(self, name, arm, seed):
        return os.path.join(self.res, name, arm, "seed%d" % seed)

    def train(self, name, arm, cfg, seed):
        d = self.run_dir(name, arm, seed)
        if os.path.exists(os.path.join(d, "embeddings.npy")):
            return d
        cmd = [os.path.join(self.bin, "ember_train"), "--config", cfg, "--out", d, "--seed", str(seed)]
        if os.path.exists(os.path.join(d, "checkpoint.bin")):
            cmd = [os.path.join(self.bin, "ember_train"), "--out", d, "--resume"]
        elif os.path.exists(d):
            shutil.rmtree(d)
        rs.log("train %s %s seed=%d" % (name, arm, seed))
        os.makedirs(d, exist_ok=True)
        wall = self.sh(cmd, d + ".train.log", d + ".time")
        rs.log("  done in %.0f s" % wall)
        return d

    def evaluate(self, d, split, extra, tag):
        """ember_evaluate once per (run, split, tag); the JSON it writes is kept as eval_<split>_<tag>.json."""
        target = os.path.join(d, "eval_%s_%s.json" % (split, tag))
        if os.path.exists(target):
            return json.load(open(target))
        self.sh([os.path.join(self.bin, "ember_evaluate"), "--run", d, "--split", split] + extra,
                d + ".eval_%s_%s.log" % (split, tag))
        src = os.path.join(d, "eval.json" if split == "test" else "eval_val.json")
        os.replace(src, target)
        return json.load(open(target))

    def blend_weight(self, name):
        """Chosen on the validation split of seed 1's `all` (else last) run: best served Recall@50."""
        sel = os.path.join(self.res, name, "blend_selection.json")
        if os.path.exists(sel):
            return json.load(open(sel))["weight"]
        arm = "all" if "all" in self.arms else self.arms[-1]
        d = self.run_dir(name, arm, self.seeds[0])
        scores = {}
        for w in BLEND_GRID:
            j = self.evaluate(d, "val", EXPANSION + ["--blend", "rrf", "--blend-weight", repr(w)], "blend%g" % w)
            scores[w] = rs.eval_to_buckets(j["served"][-1])["all"]["recall@50"]
        best = max(BLEND_GRID, key=lambda w: (scores[w], -abs(w - 0.5)))
        with open(sel, "w") as f:
            json.dump({"weight": best, "val_recall50": {repr(w): s for w, s in scores.items()}, "arm": arm,
                       "seed": self.seeds[0]}, f, indent=1)
        rs.log("%s: blend weight %.2f (val R@50 %s)" % (name, best, scores))
        return best

    def run(self):
        t0 = time.time()
        for name, graph, overlays in self.settings:
            st = time.time()
            cfgs = {arm: self.config(name, graph, overlays, arm) for arm in self.arms}
            # Seed 1 of every arm first (the blend weight is chosen on its validation split).
            for arm in self.arms:
                self.train(name, arm, cfgs[arm], self.seeds[0])
            w = self.blend_weight(name)
            served = EXPANSION + ["--blend", "rrf", "--blend-weight", repr(w)]
            for seed in self.seeds:
                for arm in self.arms:
                    d = self.train(name, arm, cfgs[arm], seed)
                    self.evaluate(d, "test", served, "served")  # test touched once per run
                    if arm == "all":
                        rs.Study.index(self, d)
                base = self.run_dir(name, self.arms[0], seed)
                h = os.path.join(self.res, name, "heuristics_seed%d.json" % seed)
                if not os.path.exists(h):
                    self.sh([os.path.join(self.bin, "ember_evaluate"), "--run", base, "--split", "test", "--baselines"],
                            os.path.join(self.res, name, "heuristics_seed%d.log" % seed))
                    bj = json.load(open(os.path.join(base, "baselines.json")))
                    with open(h, "w") as f:
                        json.dump({k: rs.eval_to_buckets(v) for k, v in bj.items() if k in HEUR}, f, indent=1)
            rs.log("%s finished in %.0f s (this invocation)" % (name, time.time() - st))
            self.report()
        rs.log("quality study finished in %.0f s (this invocation)" % (time.time() - t0))

    # ---- report --------------------------------------------------------------------
    def collect(self):
        out = {}
        for name, graph, overlays in self.settings:
            rows = {}
            for arm in self.arms:
                for seed in self.seeds:
                    d = self.run_dir(name, arm, seed)
                    p = os.path.join(d, "eval_test_served.json")
                    if not os.path.exists(p):
                        continue
                    j = json.load(open(p))
                    rec = record(d, j)
                    rows.setdefault(arm, {})[seed] = rec
                    for v in j.get("served", []):
                        kind = "blend" if "blend" in v["method"] else "exp"
                        rows.setdefault(arm + "+" + kind, {})[seed] = dict(rec, metrics=rs.eval_to_buckets(v))
            for seed in self.seeds:
                p = os.path.join(self.res, name, "heuristics_seed%d.json" % seed)
                if os.path.exists(p):
                    for h, m in json.load(open(p)).items():
                        rows.setdefault(h, {})[seed] = {"metrics": m}
            sel = os.path.join(self.res, name, "blend_selection.json")
            if rows:
                out[name] = {"graph": graph, "overlays": overlays, "rows": rows,
                             "blend": json.load(open(sel)) if os.path.exists(sel) else None}
        return out

    def report(self):
        data = self.collect()
        with open(os.path.join(self.res, "summary.json"), "w") as f:
            json.dump(data, f, indent=1)
        md = render(data, self.arms)
        with open(os.path.join(self.res, "summary.md"), "w") as f:
            f.write(md)
        if self.a.plots:
            plots(data, self.a.plots, self.arms, "quality_quick_" if self.a.quick else "quality_")
        return md


def record(d, j):
    rec = rs.run_record_from(d, rs.eval_to_buckets(j))
    return rec


def label(m):
    base, _, kind = m.partition("+")
    if base in ARMS:
        return ARMS[base][0] + {"": "", "exp": ", +expansion", "blend": ", +expansion +FoF blend"}[kind]
    return m


def mean_of(rows, m, bucket="all", key="recall@50"):
    xs = [rs.metric(r, bucket, key) for r in rows.get(m, {}).values()]
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def pair_str(rows, a, b, bucket="all", key="recall@50"):
    if a not in rows or b not in rows:
        return "-"
    p = rs.paired({s: rs.metric(r, bucket, key) for s, r in rows[a].items()},
                  {s: rs.metric(r, bucket, key) for s, r in rows[b].items()})
    if not p:
        return "-"
    t = "%.1f" % p["t"] if p["t"] == p["t"] else "-"
    return "%+.4f (t %s, %d/%d)" % (p["mean"], t, p["wins"], p["n"])


def render(data, arms):
    fmt = lambda x: "-" if x is None else "%.4f" % x
    best_ret = "all" if "all" in arms else arms[-1]
    out = ["Overview: test Recall@50 overall (mean over seeds). `served` = the `all` arm with query expansion; "
           "`blend` = served blended with Adamic-Adar (weight chosen on validation). Paired differences: mean (t, seeds won).\n",
           "| setting | today | tuned | +ids | +hard | all | served | blend | SSMTL (gradnorm) | AA | CN | popularity | "
           "served − AA | blend − AA | SSMTL − all |",
           "|---|" + "---:|" * 12 + "---|---|---|"]
    for name, s in data.items():
        r = s["rows"]
        out.append("| %s | %s |" % (name, " | ".join([
            fmt(mean_of(r, "today")), fmt(mean_of(r, "tuned")), fmt(mean_of(r, "ids")), fmt(mean_of(r, "hard")),
            fmt(mean_of(r, best_ret)), fmt(mean_of(r, best_ret + "+exp")), fmt(mean_of(r, best_ret + "+blend")),
            fmt(mean_of(r, "ssmtl+exp")), fmt(mean_of(r, "FoF Adamic-Adar")), fmt(mean_of(r, "FoF common neighbours")),
            fmt(mean_of(r, "popularity")), pair_str(r, "FoF Adamic-Adar", best_ret + "+exp"),
            pair_str(r, "FoF Adamic-Adar", best_ret + "+blend"), pair_str(r, best_ret + "+exp", "ssmtl+exp")])))
    out.append("")
    out.append("0-2 training-degree bucket, test Recall@50 (mean over seeds)\n")
    out.append("| setting | served | blend | SSMTL served | AA | popularity | served / AA | served − popularity |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, s in data.items():
        r = s["rows"]
        sv, aa = mean_of(r, best_ret + "+exp", "0-2"), mean_of(r, "FoF Adamic-Adar", "0-2")
        ratio = "-" if sv is None or not aa else "%.2fx" % (sv / aa)
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, fmt(sv), fmt(mean_of(r, best_ret + "+blend", "0-2")), fmt(mean_of(r, "ssmtl+exp", "0-2")), fmt(aa),
            fmt(mean_of(r, "popularity", "0-2")), ratio, pair_str(r, "popularity", best_ret + "+exp", "0-2")))
    out.append("")
    order = [m for a in arms for m in (a, a + "+exp", a + "+blend")] + HEUR
    for name, s in data.items():
        r = s["rows"]
        bl = s.get("blend") or {}
        out.append("### %s\n" % name)
        out.append("graph `%s`, overlays %s; blend weight %s (chosen on validation, seed %s: %s)\n" % (
            s["graph"], s["overlays"] or "[]", bl.get("weight", "-"), bl.get("seed", "-"), bl.get("val_recall50", "-")))
        out.append("| method | seeds | R@10 | R@50 | R@100 | HR@10 | MRR | train s | max RSS MB | HNSW R@10 |")
        out.append("|---|---:|---|---|---|---|---|---:|---:|---:|")
        for m in order:
            if m not in r:
                continue
            recs = list(r[m].values())
            cells = [rs.mstd([rs.metric(x, "all", k) for x in recs]) for k in
                     ["recall@10", "recall@50", "recall@100", "hit_rate@10", "mrr"]]
            secs = [x.get("seconds") for x in recs if x.get("seconds") is not None]
            rss = [x.get("max_rss_mb") for x in recs if x.get("max_rss_mb") is not None]
            hn = [x.get("hnsw_recall10") for x in recs if x.get("hnsw_recall10") is not None]
            out.append("| %s | %d | %s | %s | %s | %s |" % (
                label(m), len(recs), " | ".join(cells), ("%.0f" % statistics.mean(secs)) if secs else "-",
                ("%.0f" % max(rss)) if rss else "-", ("%.3f" % statistics.mean(hn)) if hn else "-"))
        out.append("")
        out.append("Recall@50 by training-degree bucket (mean ± std over seeds)\n")
        out.append("| method | " + " | ".join(rs.BUCKETS) + " |")
        out.append("|---|" + "---|" * len(rs.BUCKETS))
        for m in order:
            if m in r:
                out.append("| %s | %s |" % (label(m), " | ".join(
                    rs.mstd([rs.metric(x, b, "recall@50") for x in r[m].values()]) for b in rs.BUCKETS)))
        out.append("")
        out.append("Paired differences (test Recall@50, per seed)\n")
        out.append("| comparison | all | 0-2 | 3-10 | 11-50 | >50 |")
        out.append("|---|---|---|---|---|---|")
        comps = [("tuned", "today"), ("ids", "tuned"), ("hard", "tuned"), ("all", "tuned"), (best_ret + "+exp", best_ret),
                 (best_ret + "+exp", "FoF Adamic-Adar"), (best_ret + "+blend", "FoF Adamic-Adar"),
                 (best_ret + "+blend", best_ret + "+exp"), ("ssmtl+exp", best_ret + "+exp"), ("ssmtl", best_ret),
                 ("ssmtl_mgda+exp", best_ret + "+exp")]
        for b, a in comps:
            if a in r and b in r:
                out.append("| %s − %s | %s |" % (label(b), label(a), " | ".join(pair_str(r, a, b, k) for k in rs.BUCKETS)))
        out.append("")
    return "\n".join(out) + "\n"


def plots(data, outdir, arms, prefix):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:
        rs.log("no plots (matplotlib unavailable: %s)" % e)
        return
    os.makedirs(outdir, exist_ok=True)
    names = list(data)
    if not names:
        return
    best = "all" if "all" in arms else arms[-1]
    order = ["today", best, best + "+exp", best + "+blend", "ssmtl+exp", "FoF Adamic-Adar", "popularity"]
    cols = min(3, len(names))
    rows_n = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.4 * cols, 3.2 * rows_n), squeeze=False, dpi=80)
    buckets = rs.BUCKETS[1:]
    for ax, name in zip(axes.flat, names):
        r = data[name]["rows"]
        ms = [m for m in order if m in r]
        w = 0.8 / max(1, len(ms))
        for i, m in enumerate(ms):
            ys, es = [], []
            for b in buckets:
                v = [x for x in (rs.metric(rec, b, "recall@50") for rec in r[m].values()) if x is not None]
                ys.append(statistics.mean(v) if v else 0)
                es.append(statistics.stdev(v) if len(v) > 1 else 0)
            ax.bar([j + i * w for j in range(len(buckets))], ys, w, yerr=es, label=label(m)[:40])
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(buckets))])
        ax.set_xticklabels(buckets)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("test Recall@50")
        ax.set_xlabel("training degree")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, prefix + "recall50_by_degree.png"))
    plt.close(fig)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quality", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="5 settings (synthetic 3k edge + cold, PTBR, LastFM, ego-Facebook)")
    ap.add_argument("--results", default=None, help="results dir (default runs/quality or runs/quality_quick)")
    ap.add_argument("--bin", default=os.path.join(rs.ROOT, "build", "examples"), help="driver directory")
    ap.add_argument("--only", help="comma-separated setting names")
    ap.add_argument("--arms", help="comma-separated arms (default: all but ssmtl_mgda): " + ",".join(ARMS))
    ap.add_argument("--mgda", action="store_true", help="also the SSMTL arm with MGDA")
    ap.add_argument("--seeds", type=int, help="number of seeds (default 3)")
    ap.add_argument("--epochs", type=int, help="override every arm's epoch budget (tests)")
    ap.add_argument("--plots", help="write PNG plots into this directory")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="(tests) one tiny synthetic setting")
    a = ap.parse_args(argv)
    if a.results is None:
        a.results = os.path.join(rs.ROOT, "runs", "quality_quick" if a.quick else "quality")
    st = QualityStudy(a)
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
