// Benchmark: one GAT layer (ops/gat.h: x W, sparse attention, bias) on a
// seeded Chung-Lu power-law graph, forward and forward+backward.
//
//   bench_gat_layer [--nodes 200000] [--edges 4000000] [--heads 4] [--features 64]
//                   [--in 64] [--mean] [--dropout 0] [--alpha 0.7] [--seed 1]
//                   [--reps 5] [--warmup 1] [--device cpu|cuda|emu ...] [--json]
//                   [--dump DIR]
//
// Graph: both endpoints of every edge drawn independently with probability
// ~ (rank + 1)^-alpha (ranks scattered over the ids), self-loops added.
// Timing: min / median of --reps runs after --warmup (CUDA events on a GPU).
// "Effective GB/s" counts the minimal traffic of the sparse part: per edge
// the neighbour's row of Wh (H*F values), its id and its H scores, per node
// Wh and the output row; forward+backward counts three such passes.
// Peak memory: ember's allocator peak during the timed runs, above what was
// allocated before (inputs, parameters, graph).
// --dump DIR writes the graph, the inputs, the parameters and ember's output
// (of the first device) as .npy files + config.json for bench/gat_pytorch_cpu.py.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "ops/gat.h"
#include "ops/reduce.h"
#include "kernels/tensor_ops.h"
// after the ember headers: bench_util.h uses ember::Error without including it
#include "bench_util.h"

using namespace ember;

namespace {

struct Edges {
  std::vector<int32_t> src, dst;
};

Edges chung_lu(int64_t n, int64_t e, double alpha, uint64_t seed) {
  std::vector<double> cdf(static_cast<size_t>(n));
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    acc += std::pow(static_cast<double>(i + 1), -alpha);
    cdf[static_cast<size_t>(i)] = acc;
  }
  // Rank -> id: a multiplicative scatter (n and the multiplier coprime).
  int64_t mult = 2654435761LL % n;
  if (mult == 0) mult = 1;
  auto gcd = [](int64_t a, int64_t b) {
    while (b) {
      const int64_t t = a % b;
      a = b;
      b = t;
    }
    return a;
  };
  while (gcd(mult, n) != 1) ++mult;
  Edges el;
  el.src.resize(static_cast<size_t>(e));
  el.dst.resize(static_cast<size_t>(e));
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < e; ++k) {
    for (int side = 0; side < 2; ++side) {
      const double u = philox::uniform(seed, static_cast<uint64_t>(side), static_cast<uint64_t>(k)) * acc;
      const int64_t rank = std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
      const int32_t id = static_cast<int32_t>((std::min<int64_t>(rank, n - 1) * mult) % n);
      (side == 0 ? el.src : el.dst)[static_cast<size_t>(k)] = id;
    }
  }
  return el;
}

// Minimal .npy writer (format 1.0) for C-order arrays.
void write_npy(const std::string& path, const void* data, size_t bytes, const char* descr, const Shape& shape) {
  std::string sh = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    sh += std::to_string(shape[i]);
    if (shape.size() == 1) sh += ",";
    else if (i + 1 < shape.size()) sh += ", ";
  }
  sh += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  EMBER_CHECK(f, "cannot write " << path);
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  f.write(reinterpret_cast<const char*>(magic), 8);
  const uint16_t hl = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&hl), 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  EMBER_CHECK(f, "error writing " << path);
}

void dump_tensor(const std::string& dir, const std::string& name, const Tensor& t) {
  Tensor c = t.to(Device::CPU);
  const char* descr = c.dtype() == DType::F32 ? "<f4" : c.dtype() == DType::F64 ? "<f8"
                    : c.dtype() == DType::I32 ? "<i4" : "<i8";
  write_npy(dir + "/" + name + ".npy", c.raw_data(), c.nbytes(), descr, c.shape());
}

std::string mib(size_t b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(b) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember GAT layer benchmark"};
  int64_t nodes = 200000, edges = 4000000, heads = 4, features = 64, in = 64;
  double alpha = 0.7, dropout = 0.0;
  uint64_t seed = 1;
  bool mean = false, json = false, sparse_only = false;
  int reps = 5, warmup = 1;
  std::vector<std::string> devices{"cpu", "cuda"};
  std::string dump;
  app.add_option("--nodes", nodes, "nodes N")->check(CLI::PositiveNumber);
  app.add_option("--edges", edges, "edges E (before self-loops)")->check(CLI::NonNegativeNumber);
  app.add_option("--heads", heads, "attention heads H")->check(CLI::PositiveNumber);
  app.add_option("--features", features, "features per head F")->check(CLI::PositiveNumber);
  app.add_option("--in", in, "input features F_in")->check(CLI::PositiveNumber);
  app.add_flag("--mean", mean, "average the heads (default: concatenate)");
  app.add_option("--dropout", dropout, "attention dropout rate");
  app.add_option("--alpha", alpha, "power-law exponent of the endpoint distribution");
  app.add_option("--seed", seed, "graph and parameter seed");
  app.add_option("--reps", reps, "timed repetitions")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed warm-up runs")->check(CLI::NonNegativeNumber);
  app.add_option("--device", devices, "devices to run (cpu, cuda, emu)");
  app.add_flag("--json", json, "also print one JSON line per result");
  app.add_flag("--sparse-only", sparse_only, "time only the sparse attention (gat_attention on a fixed Wh = x W)");
  app.add_option("--dump", dump, "write graph, inputs, parameters and output as .npy to this directory");
  CLI11_PARSE(app, argc, argv);

  const Edges el = chung_lu(nodes, edges, alpha, seed);
  GatOptions o;
  o.heads = heads;
  o.out_features = features;
  o.concat = !mean;
  o.attn_dropout = dropout;
  o.dropout_seed = seed;
  o.training = true;
  const int64_t hf = heads * features, out_cols = mean ? features : hf;

  // Parameters (float32, on the CPU first; copied to each device).
  Rng rng(seed, 7);
  auto uniform = [&rng](const Shape& s, double a) {
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (float& x : v) x = static_cast<float>((2.0 * rng.uniform() - 1.0) * a);
    return Tensor::from_vector(v, s);
  };
  Tensor x0 = uniform({nodes, in}, 1.0);
  Tensor w0 = uniform({in, hf}, std::sqrt(6.0 / static_cast<double>(in + hf)));
  Tensor as0 = uniform({heads, features}, std::sqrt(6.0 / static_cast<double>(features + 1)));
  Tensor ad0 = uniform({heads, features}, std::sqrt(6.0 / static_cast<double>(features + 1)));
  Tensor b0 = uniform({out_cols}, 0.1);

  std::printf("%s: N=%ld E=%ld (+self-loops) H=%ld F=%ld F_in=%ld %s dropout=%.2f alpha=%.2f, float32, "
              "min/median of %d reps\n",
              sparse_only ? "gat attention only (fixed Wh)" : "gat layer", (long)nodes, (long)edges, (long)heads, (long)features, (long)in, mean ? "mean" : "concat", dropout, alpha,
              reps);
  std::printf("%-46s %-8s %10s %10s %8s %12s\n", "device", "pass", "min ms", "median ms", "GB/s", "peak MiB");
  bool dumped = false;
  for (const std::string& dname : devices) {
    const Device dev = bench::parse_device(dname);
    if (dev == Device::CUDA && !Context::get().cuda_available()) {
      std::printf("%-46s skipped: %s\n", "cuda", Context::get().cuda_unavailable_reason().c_str());
      continue;
    }
    // Graph on the device (the GPU builds it itself with CUB).
    const auto tb0 = std::chrono::steady_clock::now();
    MessageGraph g = dev == Device::CPU
                         ? build_message_graph(el.src, el.dst, nodes, {}, Device::CPU)
                         : build_message_graph(Tensor::from_vector(el.src, {edges}).to(dev),
                                               Tensor::from_vector(el.dst, {edges}).to(dev), nodes);
    if (dev == Device::CUDA) cuda_api::synchronize();
    const double build_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tb0).count();
    const int64_t E = g.num_edges();
    int64_t max_in = 0;
    {
      const auto rp = g.row_ptr.to_vector<int64_t>();
      for (int64_t i = 0; i < nodes; ++i) max_in = std::max(max_in, rp[i + 1] - rp[i]);
    }
    Variable x(x0.to(dev), true), w(w0.to(dev), true), as(as0.to(dev), true), ad(ad0.to(dev), true),
        b(b0.to(dev), true);
    std::printf("%-46s graph: %ld edges with self-loops, max in-degree %ld, built in %.1f ms\n",
                bench::device_description(dev).c_str(), (long)E, (long)max_in, build_ms);

    if (!dump.empty() && !dumped) {
      Variable y = gat_conv(x, g, w, as, ad, b, o);
      dump_tensor(dump, "row_ptr", g.row_ptr);
      dump_tensor(dump, "col", g.col);
      dump_tensor(dump, "x", x0);
      dump_tensor(dump, "weight", w0);
      dump_tensor(dump, "att_src", as0);
      dump_tensor(dump, "att_dst", ad0);
      dump_tensor(dump, "bias", b0);
      dump_tensor(dump, "out", y.value());
      nlohmann::json cfg{{"nodes", nodes}, {"edges", E}, {"heads", heads}, {"features", features}, {"in", in},
                         {"concat", !mean}, {"negative_slope", o.negative_slope}, {"reps", reps},
                         {"warmup", warmup}, {"device", dname}};
      std::ofstream(dump + "/config.json") << cfg.dump(2) << "\n";
      dumped = true;
    }

    const double fwd_bytes =
        static_cast<double>(E) * (static_cast<double>(hf) * 4.0 + 4.0 + static_cast<double>(heads) * 4.0) +
        static_cast<double>(nodes) * static_cast<double>(hf + out_cols) * 4.0;
    Variable wh_fixed;
    if (sparse_only) wh_fixed = Variable(tensor::matmul(x.value(), w.value()), true);
    for (bool backward : {false, true}) {
      bench::reset_peak(dev);
      const size_t base = Context::get().allocator(dev).stats().current_bytes;
      auto res = bench::run(dev, [&] {
        x.zero_grad();
        w.zero_grad();
        as.zero_grad();
        ad.zero_grad();
        b.zero_grad();
        if (sparse_only) wh_fixed.zero_grad();
        Variable y = sparse_only ? gat_attention(wh_fixed, g, as, ad, o) : gat_conv(x, g, w, as, ad, b, o);
        if (backward) sum(y).backward();
      }, {warmup, reps});
      const size_t peak = bench::peak_bytes(dev) - base;
      const double bytes = backward ? 3.0 * fwd_bytes : fwd_bytes;
      const char* pass = backward ? "fwd+bwd" : "fwd";
      std::printf("%-46s %-8s %10.2f %10.2f %8.1f %12s\n", bench::device_description(dev).c_str(), pass,
                  res.min_ms(), res.median_ms(), res.gbps(bytes), mib(peak).c_str());
      if (json) {
        nlohmann::json j{{"bench", sparse_only ? "gat_attention" : "gat_layer"}, {"device", bench::device_description(dev)}, {"pass", pass},
                         {"nodes", nodes}, {"edges", E}, {"heads", heads}, {"features", features}, {"in", in},
                         {"concat", !mean}, {"dropout", dropout}, {"reps", reps}, {"min_ms", res.min_ms()},
                         {"median_ms", res.median_ms()}, {"gbps", res.gbps(bytes)}, {"peak_bytes", peak},
                         {"graph_build_ms", build_ms}};
        std::cout << j.dump() << "\n";
      }
    }
  }
  return 0;
}
