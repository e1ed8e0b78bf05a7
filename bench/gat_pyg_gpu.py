#!/usr/bin/env python3
"""PyTorch Geometric's GATConv on the GPU, for comparison with ember's GAT layer.

Needs a CUDA GPU with torch + torch_geometric (not runnable on the CPU-only
dev box). Usage, on the GPU machine:

    build/bench/bench_gat_layer --device cuda --nodes 2400000 --edges 62000000 \\
        --reps 10 --json --dump /tmp/gat > /tmp/gat/ember.txt
    python3 bench/gat_pyg_gpu.py /tmp/gat --ember-json /tmp/gat/ember.txt

It loads the dumped graph (CSR by destination, self-loops already included,
so GATConv is built with add_self_loops=False), copies ember's weights into
GATConv, checks the output against ember's (max abs difference), and times
forward and forward+backward (loss = out.sum()) with CUDA events, reporting
min / median and the peak of torch.cuda.max_memory_allocated() above the
inputs. With --ember-json it prints the time and memory ratios PyG / ember
(> 1: ember is faster / smaller).
"""
import argparse
import json
import os

import numpy as np
import torch
from torch_geometric.nn import GATConv


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="directory written by bench_gat_layer --dump")
    ap.add_argument("--ember-json", help="bench_gat_layer --json output (for the ratios)")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    args = ap.parse_args()
    dev = torch.device("cuda")

    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    load = lambda name: torch.from_numpy(np.load(os.path.join(args.dir, name + ".npy")))
    n, heads, feats, fin = cfg["nodes"], cfg["heads"], cfg["features"], cfg["in"]
    reps = args.reps if args.reps is not None else cfg["reps"]
    warmup = args.warmup if args.warmup is not None else cfg["warmup"]

    row_ptr = load("row_ptr")
    src = load("col").to(torch.int64)
    dst = torch.repeat_interleave(torch.arange(n, dtype=torch.int64), row_ptr[1:] - row_ptr[:-1])
    edge_index = torch.stack([src, dst]).to(dev)
    x = load("x").to(dev).requires_grad_(True)

    conv = GATConv(fin, feats, heads=heads, concat=cfg["concat"], negative_slope=cfg["negative_slope"],
                   dropout=0.0, add_self_loops=False, bias=True).to(dev)
    lin = conv.lin if getattr(conv, "lin", None) is not None else conv.lin_src  # PyG >= 2.3 / older
    with torch.no_grad():
        lin.weight.copy_(load("weight").t())                    # ember W [F_in, H*F]; Linear weight [H*F, F_in]
        conv.att_src.copy_(load("att_src").view(1, heads, feats))
        conv.att_dst.copy_(load("att_dst").view(1, heads, feats))
        conv.bias.copy_(load("bias"))
    conv.train()

    with torch.no_grad():
        out = conv(x, edge_index)
    diff = (out.cpu() - load("out")).abs().max().item()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}: N={n} E={src.numel()} H={heads} F={feats}; "
          f"max |PyG out - ember out| = {diff:.3e}")

    def fwd():
        conv(x, edge_index)

    def fwd_bwd():
        x.grad = None
        conv.zero_grad(set_to_none=True)
        conv(x, edge_index).sum().backward()

    results = {}
    for name, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        ms = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            ms.append(a.elapsed_time(b))
        peak = torch.cuda.max_memory_allocated() - base
        results[name] = {"min_ms": min(ms), "median_ms": float(np.median(ms)), "peak_bytes": peak}
        print(f"{'pyg GATConv':<20} {name:<8} min {min(ms):9.2f} ms  median {np.median(ms):9.2f} ms  "
              f"peak {peak / 2**20:9.1f} MiB")
        print(json.dumps({"bench": "gat_layer", "impl": "pyg_gatconv", "pass": name, "nodes": n,
                          "edges": int(src.numel()), "heads": heads, "features": feats, **results[name],
                          "max_abs_diff": diff}))

    if args.ember_json:
        ember = {}
        for line in open(args.ember_json):
            if line.startswith("{"):
                j = json.loads(line)
                if j.get("bench") == "gat_layer" and j.get("device", "").startswith("cuda"):
                    ember[j["pass"]] = j
        for name in ("fwd", "fwd+bwd"):
            if name not in ember:
                print(f"{name}: no ember cuda result in {args.ember_json}")
                continue
            e, p = ember[name], results[name]
            print(f"{name:<8} ember {e['median_ms']:9.2f} ms vs PyG {p['median_ms']:9.2f} ms: x{p['median_ms'] / e['median_ms']:.2f} "
                  f"faster; memory ember {e['peak_bytes'] / 2**20:.0f} MiB vs PyG {p['peak_bytes'] / 2**20:.0f} MiB: "
                  f"x{p['peak_bytes'] / max(e['peak_bytes'], 1):.1f} less")


if __name__ == "__main__":
    main()
