// Benchmark: the dense linear layer y = x W + b, forward and forward+backward,
// on the CPU (Eigen/OpenMP) and on the GPU (cuBLAS) when present.
//   bench_linear --rows 65536 --in 256 --out 256 --reps 10 [--device cpu|cuda] [--json]
#include <CLI/CLI.hpp>

#include <iostream>

#include "autograd/init.h"
#include "bench_util.h"
#include "ops/linear.h"
#include "ops/reduce.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"ember linear-layer benchmark"};
  int64_t rows = 65536, in = 256, out = 256;
  int reps = 10, warmup = 2;
  std::vector<std::string> devices{"cpu", "cuda"};
  bool json = false;
  app.add_option("--rows", rows, "rows of x")->check(CLI::PositiveNumber);
  app.add_option("--in", in, "input features")->check(CLI::PositiveNumber);
  app.add_option("--out", out, "output features")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "timed repetitions")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed warm-up runs")->check(CLI::NonNegativeNumber);
  app.add_option("--device", devices, "devices to run (cpu, cuda, emu)");
  app.add_flag("--json", json, "also print one JSON line per result");
  CLI11_PARSE(app, argc, argv);

  std::printf("linear: x[%ld, %ld] @ W[%ld, %ld] + b, float32, min/median of %d reps\n", (long)rows,
              (long)in, (long)in, (long)out, reps);
  std::printf("%-52s %-10s %10s %10s %10s\n", "device", "pass", "min ms", "median ms", "GFLOP/s");
  for (const std::string& dname : devices) {
    Device dev = bench::parse_device(dname);
    if (dev == Device::CUDA && !Context::get().cuda_available()) {
      std::printf("%-52s skipped: %s\n", "cuda", Context::get().cuda_unavailable_reason().c_str());
      continue;
    }
    Rng rng(1);
    Variable x(glorot_uniform({rows, in}, rng, DType::F32, dev), true);
    Variable w = parameter(glorot_uniform({in, out}, rng, DType::F32, dev));
    Variable b = parameter(Tensor::zeros({out}, DType::F32, dev));
    const double flops_fwd = 2.0 * rows * in * out;
    for (bool backward : {false, true}) {
      auto res = bench::run(dev, [&] {
        Variable y = linear(x, w, b);
        if (backward) sum(y).backward();
      }, {warmup, reps});
      const double flops = backward ? 3.0 * flops_fwd : flops_fwd;
      std::printf("%-52s %-10s %10.3f %10.3f %10.1f\n", bench::device_description(dev).c_str(),
                  backward ? "fwd+bwd" : "fwd", res.min_ms(), res.median_ms(), res.gflops(flops));
      if (json) {
        nlohmann::json j{{"bench", "linear"}, {"device", bench::device_description(dev)},
                         {"pass", backward ? "fwd+bwd" : "fwd"}, {"rows", rows}, {"in", in}, {"out", out},
                         {"min_ms", res.min_ms()}, {"median_ms", res.median_ms()}, {"gflops", res.gflops(flops)}};
        std::cout << j.dump() << "\n";
      }
    }
  }
  return 0;
}
