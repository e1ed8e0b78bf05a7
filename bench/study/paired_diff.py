#!/usr/bin/env python3
"""Paired difference of two arms of the quality study, per setting, in one
training-degree bucket: mean over seeds of (a - b), the paired t statistic
and the seeds a wins. Reads the study's summary.json (run_study.py --quality).

  python3 bench/study/paired_diff.py --results runs/quality_quick --a ssmtl+exp --b all+exp --bucket 0-2
"""
import argparse
import json
import math
import os
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True, help="the study's results folder (holds summary.json)")
    ap.add_argument("--a", required=True, help="arm row, e.g. ssmtl+exp")
    ap.add_argument("--b", required=True, help="arm row, e.g. all+exp or 'FoF Adamic-Adar'")
    ap.add_argument("--bucket", default="all", help="all, 0-2, 3-10, 11-50, >50")
    ap.add_argument("--metric", default="recall@50")
    a = ap.parse_args(argv)
    path = os.path.join(a.results, "summary.json")
    try:
        summary = json.load(open(path))
    except (OSError, ValueError) as e:
        sys.exit("paired_diff: cannot read %s: %s" % (path, e))
    print("| setting | %s − %s, %s, bucket %s | t | seeds won |" % (a.a, a.b, a.metric, a.bucket))
    print("|---|---:|---:|---:|")
    for setting, s in summary.items():
        rows = s.get("rows", {})
        if a.a not in rows or a.b not in rows:
            continue
        seeds = sorted(set(rows[a.a]) & set(rows[a.b]))
        diffs = []
        for seed in seeds:
            try:
                diffs.append(rows[a.a][seed]["metrics"][a.bucket][a.metric] - rows[a.b][seed]["metrics"][a.bucket][a.metric])
            except KeyError:
                pass
        if not diffs:
            continue
        n = len(diffs)
        mean = sum(diffs) / n
        sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else float("nan")
        t = mean / (sd / math.sqrt(n)) if n > 1 and sd > 0 else float("nan")
        print("| %s | %+.4f | %.1f | %d/%d |" % (setting, mean, t, sum(d > 0 for d in diffs), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
