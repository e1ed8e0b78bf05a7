// CUDA kernels for kernels/reduce.h. Full reductions are two-pass (per-block
// partials, then one block) so results are deterministic: no atomics.
#include "kernels/block_reduce.cuh"
#include "kernels/common.cuh"
#include "kernels/reduce.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;

// partial[blockIdx.x] = sum over the block's grid-stride share of x (squared if asked).
template <class T>
__global__ void partial_sum_kernel(const T* __restrict__ x, int64_t n, bool square,
                                   T* __restrict__ partial) {
  __shared__ T smem[32];
  T s = T(0);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    s += square ? x[i] * x[i] : x[i];
  s = block_reduce_sum(s, smem);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block per row: out[r] = sum_j x[r, j].
template <class T>
__global__ void row_sum_kernel(const T* __restrict__ x, int64_t n, T* __restrict__ out) {
  __shared__ T smem[32];
  const T* row = x + blockIdx.x * n;
  T s = T(0);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += row[j];
  s = block_reduce_sum(s, smem);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// One thread per column: out[j] = sum_i x[i, j] (coalesced across threads).
template <class T>
__global__ void col_sum_kernel(const T* __restrict__ x, int64_t m, int64_t n, T* __restrict__ out) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (j >= n) return;
  T s = T(0);
  for (int64_t i = 0; i < m; ++i) s += x[i * n + j];
  out[j] = s;
}

template <class T>
__global__ void broadcast_kernel(const T* __restrict__ g, int axis, T scale, int64_t m, int64_t n,
                                 T* __restrict__ out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < m * n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = scale * (axis == 0 ? g[i % n] : g[i / n]);
}

template <class T>
void full_sum(const Tensor& x, bool square, Tensor& out) {
  const int64_t n = x.numel();
  const unsigned blocks = grid_for(n, kThreads, kMaxBlocks);
  Tensor partial = Tensor::empty({static_cast<int64_t>(blocks)}, x.dtype(), x.device());
  EMBER_LAUNCH(partial_sum_kernel<T>, blocks, kThreads, 0, 0, x.data<T>(), n, square,
               partial.data<T>());
  EMBER_LAUNCH(partial_sum_kernel<T>, 1, kThreads, 0, 0, partial.data<T>(),
               static_cast<int64_t>(blocks), false, out.data<T>());
}

}  // namespace

void sum_all(const Tensor& x, Tensor& out) {
  EMBER_FLOAT_SWITCH(x.dtype(), T, full_sum<T>(x, false, out));
}

void sum_squares(const Tensor& x, Tensor& out) {
  EMBER_FLOAT_SWITCH(x.dtype(), T, full_sum<T>(x, true, out));
}

void sum_axis(const Tensor& x, int axis, Tensor& out) {
  const int64_t m = x.size(0), n = x.size(1);
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    if (axis == 0) {
      if (n == 0) return;
      if (m == 0) { out.zero_(); return; }
      EMBER_LAUNCH(col_sum_kernel<T>, grid_for(n, kThreads, 1u << 30), kThreads, 0, 0, x.data<T>(),
                   m, n, out.data<T>());
    } else {
      if (m == 0) return;
      EMBER_LAUNCH(row_sum_kernel<T>, static_cast<unsigned>(m), kThreads, 0, 0, x.data<T>(), n,
                   out.data<T>());
    }
  });
}

void broadcast_axis(const Tensor& g, int axis, double scale, Tensor& out) {
  const int64_t m = out.size(0), n = out.size(1);
  if (m * n == 0) return;
  EMBER_FLOAT_SWITCH(g.dtype(), T, {
    EMBER_LAUNCH(broadcast_kernel<T>, grid_for(m * n, kThreads), kThreads, 0, 0, g.data<T>(), axis,
                 static_cast<T>(scale), m, n, out.data<T>());
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
