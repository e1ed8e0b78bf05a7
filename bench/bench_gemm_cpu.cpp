// The CPU dense GEMMs of a training step: ember's CPU matmul (Eigen's
// blocked GEMM on OpenMP threads) against OpenBLAS's cblas_sgemm (Debian's
// pthreads build, as many threads as OpenMP), on the shapes a step multiplies:
//
//   layer forward   X[n, h] W[h, h]          (tall-skinny)
//   input gradient  G[n, h] W[h, h]^T
//   weight gradient X[n, h]^T G[n, h]        (long K = n: the subgraph's nodes)
//   retrieval logits Q[B, d] C[C, d]^T
//
// n defaults to the nodes of a retrieval view at 200k users, batch 1024,
// fanouts [10, 5] (bench_train_step --dump ... meta.json num_nodes). Long-K
// products are also timed chunked over K (partial products summed), the
// alternative the issue asks about. Built only when OpenBLAS is found
// (pkg-config openblas); it is a measurement, not a dependency of the engine.
#include <cblas.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <random>

#include "bench_util.h"
#include "kernels/tensor_ops.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_config(void);

using namespace ember;

namespace {

struct GemmShape {
  const char* name;
  int64_t m, k, n;
  bool ta, tb;  // C[m, n] = op(A) op(B), op(A) [m, k], op(B) [k, n]
};

Tensor random(int64_t r, int64_t c, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  Tensor t = Tensor::empty({r, c}, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(g);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU GEMMs of a training step: Eigen (ember's CPU matmul) vs OpenBLAS"};
  int64_t nodes = 42000, hidden = 128, batch = 1024, cands = 2048;
  int threads = omp_get_max_threads(), reps = 15;
  app.add_option("--nodes", nodes, "rows of a view (subgraph nodes)")->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--hidden", hidden, "model width")->check(CLI::Range(int64_t{1}, int64_t{8192}));
  app.add_option("--batch", batch, "query users")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--cands", cands, "retrieval candidates")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--threads", threads, "threads for both (OpenMP and OpenBLAS)")->check(CLI::Range(1, 256));
  app.add_option("--reps", reps, "timed repetitions")->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);

  const GemmShape shapes[] = {
      {"layer forward X W", nodes, hidden, hidden, false, false},
      {"input grad G W^T", nodes, hidden, hidden, false, true},
      {"weight grad X^T G", hidden, nodes, hidden, true, false},
      {"logits Q C^T", batch, hidden, cands, false, true},
  };
  std::printf("# CPU GEMM, float32: %s; %d threads each; OpenBLAS: %s\n",
              bench::device_description(Device::CPU).c_str(), threads, openblas_get_config());
  std::printf("%-20s %18s %12s %12s %12s %12s %8s\n", "shape", "m x k x n", "Eigen min", "Eigen med",
              "OpenBLAS min", "OpenBLAS med", "ratio");
  for (const GemmShape& s : shapes) {
    Tensor a = s.ta ? random(s.k, s.m, 1) : random(s.m, s.k, 1);
    Tensor b = s.tb ? random(s.n, s.k, 2) : random(s.k, s.n, 2);
    Tensor c = Tensor::empty({s.m, s.n}, DType::F32);
    const bench::Options opt{3, reps};
    const bench::Result eig = bench::run(Device::CPU, [&] { c = tensor::matmul(a, b, s.ta, s.tb); }, opt);
    const Tensor ref = c;
    Tensor c2 = Tensor::empty({s.m, s.n}, DType::F32);
    const int lda = static_cast<int>(a.size(1)), ldb = static_cast<int>(b.size(1));
    const bench::Result blas = bench::run(Device::CPU, [&] {
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                  static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a.data<float>(), lda,
                  b.data<float>(), ldb, 0.0f, c2.data<float>(), static_cast<int>(s.n));
    }, opt);
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      diff = std::max(diff, static_cast<double>(std::abs(ref.data<float>()[i] - c2.data<float>()[i])));
      scale = std::max(scale, static_cast<double>(std::abs(ref.data<float>()[i])));
    }
    EMBER_CHECK(diff <= 1e-4 * scale + 1e-4, s.name << ": OpenBLAS and Eigen disagree by " << diff);
    char dims[64];
    std::snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s.m, (long long)s.k, (long long)s.n);
    std::printf("%-20s %18s %10.2fms %10.2fms %10.2fms %10.2fms %7.2fx\n", s.name, dims, eig.min_ms(), eig.median_ms(),
                blas.min_ms(), blas.median_ms(), eig.median_ms() / blas.median_ms());
    const double flops = 2.0 * s.m * s.n * s.k;
    std::printf("%s\n", nlohmann::json{{"bench", "gemm_cpu"}, {"shape", s.name}, {"m", s.m}, {"k", s.k}, {"n", s.n},
                                       {"threads", threads}, {"eigen_ms_min", eig.min_ms()},
                                       {"eigen_ms_median", eig.median_ms()}, {"openblas_ms_min", blas.min_ms()},
                                       {"openblas_ms_median", blas.median_ms()},
                                       {"eigen_gflops", eig.gflops(flops)}, {"openblas_gflops", blas.gflops(flops)},
                                       {"eigen_over_openblas", eig.median_ms() / blas.median_ms()}}
                                .dump()
                                .c_str());
  }
  return 0;
}
