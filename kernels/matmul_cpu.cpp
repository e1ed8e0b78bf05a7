// CPU reference for kernels/matmul.h: Eigen's blocked GEMM on mapped memory,
// partitioned over OpenMP threads by ember rather than by Eigen.
//
// The whole project is built with EIGEN_DONT_PARALLELIZE (CMakeLists.txt):
// Eigen never starts threads; ember's OpenMP loops partition the work.
// Why not Eigen's own parallel GEMM: its threads synchronise by busy-waiting
// on each other between packing stages, so one descheduled thread (a shared
// machine, our own sampler workers) stalls the others while they burn their
// cores (issue 16 measured 43 % of a step's samples in that loop). Here every
// thread computes whole blocks of C with a sequential Eigen product (Eigen
// runs sequentially inside a parallel region) and the only synchronisation
// is OpenMP's end-of-loop barrier, which sleeps after a short spin.
//
// Blocks are fixed sizes, never derived from the thread count, and the same
// partition is used whether one thread or many run it, so results do not
// depend on how many threads run (tests/test_matmul_threads.cpp):
//  - rows of C in blocks of kRowBlock (the tall-skinny products X W, G W^T
//    and the logits Q C^T): each element's sum over K is Eigen's, unchanged;
//  - for long K (the weight gradients X^T G: K = the subgraph's nodes, M and
//    N the layer widths), K in chunks of at least kKChunk: one partial
//    product per chunk, summed in chunk order.
#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <vector>

#include "kernels/matmul.h"

namespace ember {
namespace cpu {

namespace {

constexpr int64_t kRowBlock = 512;
constexpr int64_t kKChunk = 1024;
constexpr int64_t kMaxKChunks = 64;          // bounds the partial products' memory
constexpr double kParallelFlops = 4.0e6;     // below this one thread does it all

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// C[r0 : r0 + nr] += al * op(A)[r0 : r0 + nr] op(B)
template <class T>
void rows_product(const Eigen::Map<const Mat<T>>& A, bool ta, const Eigen::Map<const Mat<T>>& B, bool tb, T al,
                  Eigen::Map<Mat<T>>& C, int64_t r0, int64_t nr) {
  auto Cb = C.middleRows(r0, nr);
  if (!ta && !tb) Cb.noalias() += al * A.middleRows(r0, nr) * B;
  else if (ta && !tb) Cb.noalias() += al * A.middleCols(r0, nr).transpose() * B;
  else if (!ta && tb) Cb.noalias() += al * A.middleRows(r0, nr) * B.transpose();
  else Cb.noalias() += al * A.middleCols(r0, nr).transpose() * B.transpose();
}

// P = op(A)[:, k0 : k0 + nk] op(B)[k0 : k0 + nk, :]
template <class T>
void k_chunk_product(const Eigen::Map<const Mat<T>>& A, bool ta, const Eigen::Map<const Mat<T>>& B, bool tb,
                     int64_t k0, int64_t nk, Eigen::Map<Mat<T>>& P) {
  if (!ta && !tb) P.noalias() = A.middleCols(k0, nk) * B.middleRows(k0, nk);
  else if (ta && !tb) P.noalias() = A.middleRows(k0, nk).transpose() * B.middleRows(k0, nk);
  else if (!ta && tb) P.noalias() = A.middleCols(k0, nk) * B.middleCols(k0, nk).transpose();
  else P.noalias() = A.middleRows(k0, nk).transpose() * B.middleCols(k0, nk).transpose();
}

template <class T>
void gemm(const Tensor& a, bool ta, const Tensor& b, bool tb, double alpha, double beta, Tensor& c) {
  Eigen::Map<const Mat<T>> A(a.data<T>(), a.size(0), a.size(1));
  Eigen::Map<const Mat<T>> B(b.data<T>(), b.size(0), b.size(1));
  Eigen::Map<Mat<T>> C(c.data<T>(), c.size(0), c.size(1));
  const T al = static_cast<T>(alpha);
  if (beta == 0.0) {
    C.setZero();
  } else if (beta != 1.0) {
    C *= static_cast<T>(beta);
  }
  const int64_t M = c.size(0), N = c.size(1), K = ta ? a.size(0) : a.size(1);
  if (M == 0 || N == 0 || K == 0) return;
  const bool parallel = !omp_in_parallel() && omp_get_max_threads() > 1 &&
                        2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) >= kParallelFlops;
  const int64_t row_blocks = (M + kRowBlock - 1) / kRowBlock;
  if (row_blocks == 1 && K >= 4 * kKChunk) {
    // Long K, few rows: partial products over K chunks, summed in order.
    const int64_t chunk = std::max(kKChunk, (K + kMaxKChunks - 1) / kMaxKChunks);
    const int64_t chunks = (K + chunk - 1) / chunk;
    std::vector<T> partial(static_cast<size_t>(chunks * M * N));
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < chunks; ++i) {
      Eigen::Map<Mat<T>> P(partial.data() + i * M * N, M, N);
      const int64_t k0 = i * chunk;
      k_chunk_product<T>(A, ta, B, tb, k0, std::min(chunk, K - k0), P);
    }
    Mat<T> sum = Eigen::Map<Mat<T>>(partial.data(), M, N);
    for (int64_t i = 1; i < chunks; ++i) sum += Eigen::Map<Mat<T>>(partial.data() + i * M * N, M, N);
    C.noalias() += al * sum;
    return;
  }
  // Serial or parallel, C is computed in the same row blocks: a row's value
  // depends only on its place in its block of kRowBlock rows, never on M or
  // the thread count (sharded inference relies on it: Encoder::infer_block).
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < row_blocks; ++i) {
    const int64_t r0 = i * kRowBlock;
    rows_product<T>(A, ta, B, tb, al, C, r0, std::min(kRowBlock, M - r0));
  }
}

}  // namespace

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, double alpha, double beta,
            Tensor& c) {
  EMBER_FLOAT_SWITCH(a.dtype(), T, gemm<T>(a, trans_a, b, trans_b, alpha, beta, c));
}

}  // namespace cpu
}  // namespace ember
