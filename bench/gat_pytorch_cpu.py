#!/usr/bin/env python3
"""The GAT layer of bench/bench_gat_layer.cpp in plain PyTorch on the CPU.

Reads the directory written by `bench_gat_layer --dump DIR` (graph as CSR by
destination, x, weight, att_src, att_dst, bias, ember's output), runs the
same layer the way PyTorch Geometric's GATConv does it without PyG
(index_select of the endpoints, scatter-max / index_add softmax, an [E, H, F]
message tensor reduced with index_add), and times forward and
forward+backward (loss = out.sum()) with the same warm-up / repetitions as the
ember run. Prints the max abs difference to ember's output and one JSON line
per pass.

    python3 bench/gat_pytorch_cpu.py DIR [--threads 2] [--reps N] [--warmup N]
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as Fn


def gat_layer(x, w, att_src, att_dst, bias, src, dst, n, heads, feats, concat, slope):
    wh = (x @ w).view(n, heads, feats)                      # [N, H, F]
    s = (wh * att_src.unsqueeze(0)).sum(-1)                 # [N, H]
    d = (wh * att_dst.unsqueeze(0)).sum(-1)                 # [N, H]
    e = Fn.leaky_relu(s.index_select(0, src) + d.index_select(0, dst), slope)  # [E, H]
    # Softmax over the in-edges of every destination (max subtracted, no gradient through it, as in PyG).
    idx = dst.unsqueeze(1).expand(-1, heads)
    emax = torch.full((n, heads), float("-inf"), dtype=e.dtype).scatter_reduce(
        0, idx, e.detach(), reduce="amax", include_self=True)
    p = torch.exp(e - emax.index_select(0, dst))
    denom = torch.zeros(n, heads, dtype=e.dtype).index_add(0, dst, p)
    alpha = p / denom.index_select(0, dst)                   # [E, H]
    msg = wh.index_select(0, src) * alpha.unsqueeze(-1)      # [E, H, F]
    out = torch.zeros(n, heads, feats, dtype=e.dtype).index_add(0, dst, msg)
    out = out.reshape(n, heads * feats) if concat else out.mean(1)
    return out + bias


def timed(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return min(ms), float(np.median(ms))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=None, help="default: the ember run's")
    ap.add_argument("--warmup", type=int, default=None, help="default: the ember run's")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    load = lambda name: np.load(os.path.join(args.dir, name + ".npy"))
    n, heads, feats = cfg["nodes"], cfg["heads"], cfg["features"]
    concat, slope = cfg["concat"], cfg["negative_slope"]
    reps = args.reps if args.reps is not None else cfg["reps"]
    warmup = args.warmup if args.warmup is not None else cfg["warmup"]

    row_ptr = torch.from_numpy(load("row_ptr"))
    src = torch.from_numpy(load("col").astype(np.int64))
    dst = torch.repeat_interleave(torch.arange(n, dtype=torch.int64), row_ptr[1:] - row_ptr[:-1])
    x = torch.from_numpy(load("x")).requires_grad_(True)
    w = torch.from_numpy(load("weight")).requires_grad_(True)
    att_src = torch.from_numpy(load("att_src")).requires_grad_(True)
    att_dst = torch.from_numpy(load("att_dst")).requires_grad_(True)
    bias = torch.from_numpy(load("bias")).requires_grad_(True)
    ref = torch.from_numpy(load("out"))
    params = [x, w, att_src, att_dst, bias]

    def forward():
        return gat_layer(x, w, att_src, att_dst, bias, src, dst, n, heads, feats, concat, slope)

    with torch.no_grad():
        out = forward()
    diff = (out - ref).abs().max().item()
    print(f"pytorch {torch.__version__} cpu, {torch.get_num_threads()} threads: N={n} E={src.numel()} H={heads} "
          f"F={feats} {'concat' if concat else 'mean'}; max |out - ember out| = {diff:.3e}")

    def fwd():
        forward()

    def fwd_bwd():
        for p in params:
            p.grad = None
        forward().sum().backward()

    for name, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
        mn, med = timed(fn, reps, warmup)
        print(f"{'pytorch cpu':<46} {name:<8} {mn:10.2f} {med:10.2f}")
        print(json.dumps({"bench": "gat_layer", "impl": "pytorch_cpu", "pass": name, "nodes": n,
                          "edges": int(src.numel()), "heads": heads, "features": feats, "threads": args.threads,
                          "min_ms": mn, "median_ms": med, "max_abs_diff": diff,
                          "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
