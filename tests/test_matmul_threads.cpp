// The CPU GEMM (kernels/matmul_cpu.cpp) computes fixed blocks: rows in blocks
// of 512, long K in chunks, the same partition for one thread or many. So a
// result does not depend on the thread count, and rows of a block that
// starts at a multiple of 512 are the same computed alone or inside a taller
// product (sharded inference relies on it: Trainer::embed_sharded).
#include <catch2/catch.hpp>
#include <omp.h>

#include <cstring>
#include <random>

#include "kernels/tensor_ops.h"

using namespace ember;

namespace {
Tensor random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> N01;
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (auto& x : v) x = N01(rng);
  return Tensor::from_vector(v, {rows, cols});
}
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}
struct Threads {
  int saved = omp_get_max_threads();
  explicit Threads(int n) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(saved); }
};
}  // namespace

TEST_CASE("CPU matmul: the same bits for 1 and 2 threads, tall products and long K", "[kernels][matmul]") {
  const Tensor x = random_matrix(1500, 96, 1), w = random_matrix(96, 64, 2);
  const Tensor g = random_matrix(9000, 48, 3), h = random_matrix(9000, 40, 4);  // X^T G: K = 9000 >= 4 x 1024
  Tensor one_tall, one_long;
  {
    Threads t(1);
    one_tall = tensor::matmul(x, w);
    one_long = tensor::matmul(g.transpose2d(), h);
  }
  Threads t(2);
  REQUIRE(same_bits(one_tall, tensor::matmul(x, w)));
  REQUIRE(same_bits(one_long, tensor::matmul(g.transpose2d(), h)));
}

TEST_CASE("CPU matmul: rows of a block at a multiple of 512 equal the block computed alone", "[kernels][matmul]") {
  const Tensor x = random_matrix(1500, 96, 5), w = random_matrix(96, 80, 6);
  for (int threads : {1, 2}) {
    Threads t(threads);
    const Tensor whole = tensor::matmul(x, w);
    for (int64_t begin : {int64_t(512), int64_t(1024)}) {
      const int64_t end = std::min<int64_t>(begin + 512, 1500);
      const Tensor part = tensor::matmul(x.slice_rows(begin, end).contiguous(), w);
      INFO(threads << " thread(s), rows [" << begin << ", " << end << ")");
      REQUIRE(same_bits(part, whole.slice_rows(begin, end).contiguous()));
    }
  }
}
