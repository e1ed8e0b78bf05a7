#!/usr/bin/env python3
"""The retrieval-only training step of bench/bench_train_step.cpp in plain
PyTorch on the CPU: the same sampled subgraphs and initial weights (read from
`bench_train_step --dump DIR`), the same model (sparse input projection (an embedding bag), GAT
layers with concatenated heads, ELU and residuals, the last layer averaging
its heads, no dropout in the dump), the same retrieval loss (softmax
cross-entropy over the L2-normalised query and candidate embeddings / tau,
minus log q, with the accidental-hit mask) and AdamW. Checks that the first
batch's loss agrees with ember's, then times forward + backward + optimizer
per step over the dumped batches after warm-up, and prints a JSON line.

Give PyTorch its best setup (bench/compare_train_step.sh does):
LD_PRELOAD=libjemalloc.so.2, the same number of threads as ember.

    python3 bench/train_step_pytorch.py DIR [--threads 2] [--steps 20] [--warmup 3]
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


def load(d, name):
    return torch.from_numpy(np.load(os.path.join(d, name)))


def message_edges(src, dst, n):
    """Ember's message graph: every edge as given, plus a self-loop for each node without one."""
    has_loop = torch.zeros(n, dtype=torch.bool)
    has_loop[src[src == dst]] = True
    loops = torch.nonzero(~has_loop).flatten()
    return torch.cat([src, loops]), torch.cat([dst, loops])


def gat_layer(x, w, att_src, att_dst, bias, src, dst, n, heads, feats, concat, slope):
    wh = (x @ w).view(n, heads, feats)
    s = (wh * att_src.unsqueeze(0)).sum(-1)
    d = (wh * att_dst.unsqueeze(0)).sum(-1)
    e = Fn.leaky_relu(s.index_select(0, src) + d.index_select(0, dst), slope)
    idx = dst.unsqueeze(1).expand(-1, heads)
    emax = torch.full((n, heads), float("-inf"), dtype=e.dtype).scatter_reduce(0, idx, e.detach(), reduce="amax",
                                                                                 include_self=True)
    p = torch.exp(e - emax.index_select(0, dst))
    denom = torch.zeros(n, heads, dtype=e.dtype).index_add(0, dst, p)
    alpha = p / denom.index_select(0, dst)
    msg = wh.index_select(0, src) * alpha.unsqueeze(-1)
    out = torch.zeros(n, heads, feats, dtype=e.dtype).index_add(0, dst, msg)
    out = out.reshape(n, heads * feats) if concat else out.mean(1)
    return out + bias


class Batch:
    def __init__(self, d):
        meta = json.load(open(os.path.join(d, "meta.json")))
        self.n, self.B, self.F = meta["num_nodes"], meta["num_queries"], meta["num_features"]
        src, dst = load(d, "src.npy").flatten(), load(d, "dst.npy").flatten()
        self.src, self.dst = message_edges(src, dst, self.n)
        # The sparse input as an embedding bag (PyTorch's fastest sparse x dense product on the CPU).
        self.x_offsets = load(d, "x_row_ptr.npy").flatten()[:-1].contiguous()
        self.x_col = load(d, "x_col.npy").flatten()
        self.x_val = load(d, "x_val.npy").flatten()
        self.cand = load(d, "candidates.npy").flatten()
        C = self.cand.numel()
        self.mask = load(d, "mask.npy").flatten().view(self.B, C).bool()
        lq = load(d, "log_q.npy").flatten()
        self.log_q = lq if lq.numel() == C else torch.zeros(C)
        with open(os.path.join(d, "ember_loss.txt")) as f:
            self.ember_loss = float(f.read())


class Model(torch.nn.Module):
    def __init__(self, d, cfg):
        super().__init__()
        m = cfg["model"]
        self.layers, self.heads, self.hidden, self.dim = m["layers"], m["heads"], m["hidden"], m["embedding_dim"]
        self.slope, self.residual, self.elu = m["negative_slope"], m["residual"], m["elu"]
        P = lambda name: torch.nn.Parameter(load(d, "encoder.%s.npy" % name).float())
        self.w_in = P("w_in")
        self.b_in = torch.nn.Parameter(load(d, "encoder.b_in.npy").float().flatten())
        self.gat = torch.nn.ParameterList()
        self.res = {}
        for l in range(self.layers):
            q = "gat%d." % l
            self.gat.append(P(q + "weight"))
            self.gat.append(P(q + "att_src"))
            self.gat.append(P(q + "att_dst"))
            self.gat.append(torch.nn.Parameter(load(d, "encoder." + q + "bias.npy").float().flatten()))
            f = os.path.join(d, "encoder." + q + "residual.npy")
            if os.path.exists(f):
                self.res[l] = torch.nn.Parameter(torch.from_numpy(np.load(f)).float())
                self.register_parameter("res%d" % l, self.res[l])

    def forward(self, b):
        h = Fn.embedding_bag(b.x_col, self.w_in, b.x_offsets, mode="sum", per_sample_weights=b.x_val) + self.b_in
        for l in range(self.layers):
            last = l + 1 == self.layers
            per_head = self.dim if last else self.hidden // self.heads
            w, a_s, a_d, bias = self.gat[4 * l: 4 * l + 4]
            out = gat_layer(h, w, a_s, a_d, bias, b.src, b.dst, b.n, self.heads, per_head, not last, self.slope)
            if self.residual:
                out = out + (h @ self.res[l] if l in self.res else h)
            h = Fn.elu(out) if (not last and self.elu) else out
        return h


def retrieval_loss(emb, b, tau):
    q = Fn.normalize(emb[: b.B], dim=1, eps=1e-12)
    c = Fn.normalize(emb.index_select(0, b.cand), dim=1, eps=1e-12)
    logits = q @ c.t() / tau - b.log_q.unsqueeze(0)
    logits = logits.masked_fill(~b.mask, float("-inf"))
    target = torch.arange(b.B)
    return Fn.cross_entropy(logits, target)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    batches = [Batch(os.path.join(a.dir, d)) for d in sorted(os.listdir(a.dir)) if d.startswith("batch")]
    model = Model(a.dir, cfg)
    tau = cfg["objectives"]["temperature"]
    with torch.no_grad():
        first = retrieval_loss(model(batches[0]), batches[0], tau).item()
    rel = abs(first - batches[0].ember_loss) / max(1e-12, abs(batches[0].ember_loss))
    print("first batch loss: PyTorch %.6f, ember %.6f (relative difference %.2e)" % (first, batches[0].ember_loss, rel))
    o = cfg["optim"]
    opt = torch.optim.AdamW(model.parameters(), lr=o["lr"], weight_decay=o["weight_decay"])
    times = []
    for i in range(a.warmup + a.steps):
        b = batches[i % len(batches)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = retrieval_loss(model(b), b, tau)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
    samples = sum(batches[i % len(batches)].B for i in range(a.warmup, a.warmup + a.steps))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {"impl": "pytorch", "threads": a.threads, "torch": torch.__version__, "steps": a.steps,
           "step_ms_min": min(times) * 1e3, "step_ms_median": float(np.median(times)) * 1e3,
           "samples_per_s": samples / sum(times), "peak_rss_mib": rss, "first_loss": first,
           "ember_first_loss": batches[0].ember_loss, "loss_rel_diff": rel,
           "jemalloc": "jemalloc" in os.environ.get("LD_PRELOAD", "")}
    print(json.dumps(out))
    return 0 if rel < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
