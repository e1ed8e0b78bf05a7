// Benchmark: the SSMTL objectives (ops/objectives.h) and the sparse input
// projection (ops/sparse_linear.h), forward and forward+backward, float32.
//
//   bench_objectives [--only cca|sce|retrieval|sparse] [--device cpu cuda emu]
//                    [--cca-n 1048576 --cca-k 128] [--sce-n 1048576 --sce-d 128 --sce-v 524288]
//                    [--ret-b 4096 --ret-m 65536 --ret-d 128]
//                    [--sp-rows 65536 --sp-cols 30000 --sp-nnz 32 --sp-out 128] [--reps 5] [--json]
//
// The defaults are the GPU-scale sizes; on the CPU pass smaller ones (see
// docs/performance.md, "Objective kernels"). Reported: min / median ms over
// --reps, effective GB/s and GFLOP/s from the models below (median time), and
// on a GPU the fraction of the H100 roofline, max(GB/s / 3350, GFLOP/s / 67000)
// (3.35 TB/s HBM3, 67 TFLOP/s FP32 non-tensor).
// Traffic / work models (s = 4 bytes, what the kernels must move at least):
//   cca        fwd: 8 n k s bytes (read z, write zt, Gram + loss reads, 2 views), 2 n k^2 flops (2 Gram syrk)
//              +bwd: +18 n k s bytes, +4 n k^2 flops (zt @ C GEMM per view)
//   sce        fwd: 2 |V| d s bytes, 6 |V| d flops;  +bwd: +4 |V| d s + N d s (zero-fill of dz), +8 |V| d flops
//   retrieval  fwd: 2 B M d flops;  fwd+bwd: 10 B M d flops executed (the backward recomputes the logits
//              twice: dq and dc passes, no atomics); bytes ~ (B + M) d s per pass (negligible)
//   sparse     fwd: nnz (4 + s) + nnz out s (gathered W rows) + rows out s bytes, 2 nnz out flops;
//              +bwd: the same again for dW = X^T G (transpose cached) + db
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

#include "core/philox.h"
#include "ops/objectives.h"
#include "ops/reduce.h"
#include "ops/sparse_linear.h"
// After the ember headers (bench_util.h uses ember::Error unqualified).
#include "bench_util.h"

using namespace ember;

namespace {

constexpr double kPeakGBps = 3350.0;    // H100 SXM HBM3
constexpr double kPeakGflops = 67000.0; // H100 SXM FP32 (non-tensor)

struct Printer {
  bool json = false;
  void header() {
    std::printf("%-10s %-44s %-8s %10s %10s %9s %9s %7s  %s\n", "objective", "device", "pass", "min ms", "median ms",
                "GB/s", "GFLOP/s", "%peak", "size");
  }
  void row(const char* name, Device dev, bool backward, const bench::Result& r, double bytes, double flops,
           const std::string& size) {
    const double gbps = r.gbps(bytes), gflops = r.gflops(flops);
    std::string peak = "-";
    if (dev == Device::CUDA) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", 100.0 * std::max(gbps / kPeakGBps, gflops / kPeakGflops));
      peak = buf;
    }
    std::printf("%-10s %-44s %-8s %10.3f %10.3f %9.1f %9.1f %7s  %s\n", name, bench::device_description(dev).c_str(),
                backward ? "fwd+bwd" : "fwd", r.min_ms(), r.median_ms(), gbps, gflops, peak.c_str(), size.c_str());
    if (json) {
      nlohmann::json j{{"bench", "objectives"}, {"objective", name}, {"device", bench::device_description(dev)},
                       {"pass", backward ? "fwd+bwd" : "fwd"}, {"size", size}, {"min_ms", r.min_ms()},
                       {"median_ms", r.median_ms()}, {"gbps", gbps}, {"gflops", gflops}};
      std::cout << j.dump() << "\n";
    }
  }
};

Tensor rand_f32(const Shape& s, uint64_t seed, Device dev) {
  Rng r(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (float& x : v) x = static_cast<float>(2.0 * r.uniform() - 1.0);
  return Tensor::from_vector(v, s, dev);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember SSMTL objective benchmarks"};
  std::string only;
  std::vector<std::string> devices{"cpu", "cuda"};
  int reps = 5, warmup = 1;
  bool json = false;
  int64_t cca_n = 1 << 20, cca_k = 128;
  int64_t sce_n = 1 << 20, sce_d = 128, sce_v = 1 << 19;
  int64_t ret_b = 4096, ret_m = 65536, ret_d = 128;
  int64_t sp_rows = 65536, sp_cols = 30000, sp_nnz = 32, sp_out = 128;
  app.add_option("--only", only, "run one objective: cca, sce, retrieval, sparse");
  app.add_option("--device", devices, "devices to run (cpu, cuda, emu)");
  app.add_option("--reps", reps, "timed repetitions")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed warm-up runs")->check(CLI::NonNegativeNumber);
  app.add_flag("--json", json, "also print one JSON line per result");
  app.add_option("--cca-n", cca_n, "CCA rows")->check(CLI::PositiveNumber);
  app.add_option("--cca-k", cca_k, "CCA columns")->check(CLI::PositiveNumber);
  app.add_option("--sce-n", sce_n, "SCE rows N")->check(CLI::PositiveNumber);
  app.add_option("--sce-d", sce_d, "SCE features d")->check(CLI::PositiveNumber);
  app.add_option("--sce-v", sce_v, "SCE masked rows |V|")->check(CLI::PositiveNumber);
  app.add_option("--ret-b", ret_b, "retrieval queries B")->check(CLI::PositiveNumber);
  app.add_option("--ret-m", ret_m, "retrieval candidates M")->check(CLI::PositiveNumber);
  app.add_option("--ret-d", ret_d, "retrieval embedding size d")->check(CLI::PositiveNumber);
  app.add_option("--sp-rows", sp_rows, "sparse rows")->check(CLI::PositiveNumber);
  app.add_option("--sp-cols", sp_cols, "sparse feature ids")->check(CLI::PositiveNumber);
  app.add_option("--sp-nnz", sp_nnz, "nonzeros per row")->check(CLI::PositiveNumber);
  app.add_option("--sp-out", sp_out, "output features")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  auto want = [&](const char* name) { return only.empty() || only == name; };

  Printer pr{json};
  std::printf("SSMTL objectives, float32, min/median of %d reps after %d warm-up\n", reps, warmup);
  pr.header();
  for (const std::string& dname : devices) {
    const Device dev = bench::parse_device(dname);
    if (dev == Device::CUDA && !Context::get().cuda_available()) {
      std::printf("%-10s %-44s skipped: %s\n", "all", "cuda", Context::get().cuda_unavailable_reason().c_str());
      continue;
    }
    const bench::Options opt{warmup, reps};
    const double s = 4.0;
    if (want("cca")) {
      Variable a(rand_f32({cca_n, cca_k}, 1, dev), true), b(rand_f32({cca_n, cca_k}, 2, dev), true);
      const double nk = double(cca_n) * cca_k, nkk = nk * cca_k;
      const std::string size = "n=" + std::to_string(cca_n) + " k=" + std::to_string(cca_k);
      for (bool bwd : {false, true}) {
        auto r = bench::run(dev, [&] {
          a.zero_grad();  // time the op, not the gradient accumulation across repetitions
          b.zero_grad();
          Variable l = cca_loss(a, b, 1e-3);
          if (bwd) l.backward();
        }, opt);
        pr.row("cca", dev, bwd, r, (bwd ? 26.0 : 8.0) * nk * s, (bwd ? 6.0 : 2.0) * nkk, size);
      }
    }
    if (want("sce")) {
      Variable x(rand_f32({sce_n, sce_d}, 3, dev)), z(rand_f32({sce_n, sce_d}, 4, dev), true);
      std::vector<int64_t> rows(static_cast<size_t>(std::min(sce_v, sce_n)));
      const int64_t stride = std::max<int64_t>(1, sce_n / static_cast<int64_t>(rows.size()));
      for (size_t r = 0; r < rows.size(); ++r) rows[r] = (static_cast<int64_t>(r) * stride) % sce_n;
      Tensor rt = Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}, dev);
      const double vd = double(rows.size()) * sce_d;
      const std::string size = "N=" + std::to_string(sce_n) + " d=" + std::to_string(sce_d) +
                               " |V|=" + std::to_string(rows.size());
      for (bool bwd : {false, true}) {
        auto r = bench::run(dev, [&] {
          z.zero_grad();
          Variable l = scaled_cosine_error(x, z, rt, 2.0);
          if (bwd) l.backward();
        }, opt);
        const double bytes = bwd ? 6.0 * vd * s + double(sce_n) * sce_d * s : 2.0 * vd * s;
        pr.row("sce", dev, bwd, r, bytes, (bwd ? 14.0 : 6.0) * vd, size);
      }
    }
    if (want("retrieval")) {
      Variable q(rand_f32({ret_b, ret_d}, 5, dev), true), c(rand_f32({ret_m, ret_d}, 6, dev), true);
      std::vector<int64_t> pos(static_cast<size_t>(ret_b));
      for (int64_t b = 0; b < ret_b; ++b) pos[b] = (b * 7919) % ret_m;
      Tensor pt = Tensor::from_vector(pos, {ret_b, 1});
      RetrievalOptions o;
      o.temperature = 0.05;
      const double bmd = double(ret_b) * ret_m * ret_d;
      const std::string size = "B=" + std::to_string(ret_b) + " M=" + std::to_string(ret_m) + " d=" +
                               std::to_string(ret_d);
      const size_t before = Context::get().allocator(dev).stats().current_bytes;  // q, c and the positives
      bench::reset_peak(dev);
      for (bool bwd : {false, true}) {
        auto r = bench::run(dev, [&] {
          q.zero_grad();
          c.zero_grad();
          Variable l = retrieval_softmax_ce(q, c, pt, o);
          if (bwd) l.backward();
        }, opt);
        pr.row("retrieval", dev, bwd, r, (bwd ? 4.0 : 1.0) * (ret_b + ret_m) * ret_d * s, (bwd ? 10.0 : 2.0) * bmd,
               size);
      }
      std::printf("%-10s peak %s bytes allocated by the op (fwd+bwd, inputs excluded): %.2f MiB; one B x M float "
                  "buffer would be %.1f MiB\n",
                  "retrieval", device_name(dev), double(bench::peak_bytes(dev) - before) / 1048576.0,
                  double(ret_b) * ret_m * 4 / 1048576.0);
    }
    if (want("sparse")) {
      Rng rng(7);
      std::vector<int64_t> rp{0};
      std::vector<int32_t> ci;
      std::vector<float> v;
      ci.reserve(static_cast<size_t>(sp_rows * sp_nnz));
      for (int64_t i = 0; i < sp_rows; ++i) {
        for (int64_t e = 0; e < sp_nnz; ++e) {
          // Zipf-like feature popularity: a few ids are very frequent.
          const double u = rng.uniform();
          ci.push_back(static_cast<int32_t>(static_cast<int64_t>(sp_cols * u * u * u) % sp_cols));
          v.push_back(1.0f);
        }
        rp.push_back(static_cast<int64_t>(ci.size()));
      }
      SparseCsr x = SparseCsr::from_host(sp_rows, sp_cols, rp, ci, v, Device::CPU).with_transpose().to(dev);
      Variable w(rand_f32({sp_cols, sp_out}, 8, dev), true), bias(Tensor::zeros({sp_out}, DType::F32, dev), true);
      const double nnz = double(sp_rows) * sp_nnz;
      const double fwd_bytes = nnz * (4 + s) + nnz * sp_out * s + double(sp_rows) * sp_out * s;
      const std::string size = "rows=" + std::to_string(sp_rows) + " ids=" + std::to_string(sp_cols) + " nnz/row=" +
                               std::to_string(sp_nnz) + " out=" + std::to_string(sp_out);
      for (bool bwd : {false, true}) {
        auto r = bench::run(dev, [&] {
          w.zero_grad();
          bias.zero_grad();
          Variable y = sparse_linear(x, w, bias);
          if (bwd) sum(y).backward();
        }, opt);
        pr.row("sparse", dev, bwd, r, (bwd ? 2.0 : 1.0) * fwd_bytes, (bwd ? 4.0 : 2.0) * nnz * sp_out, size);
      }
    }
  }
  return 0;
}
