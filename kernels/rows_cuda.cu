// CUDA kernels for kernels/rows.h: one warp per row, warp-shuffle reductions.
#include "kernels/block_reduce.cuh"
#include "kernels/common.cuh"
#include "kernels/rows.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kRowsPerBlock = kThreads / 32;

template <class T>
__global__ void l2norm_kernel(const T* __restrict__ x, int64_t m, int64_t n, T eps, T* __restrict__ y,
                              T* __restrict__ norms) {
  const int64_t row = blockIdx.x * (int64_t)kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= m) return;  // whole warp leaves together
  const T* xr = x + row * n;
  T s = T(0);
  for (int64_t j = lane; j < n; j += 32) s += xr[j] * xr[j];
  s = warp_reduce_sum(s);
  const T nr = sqrt(s) > eps ? sqrt(s) : eps;
  if (lane == 0) norms[row] = nr;
  for (int64_t j = lane; j < n; j += 32) y[row * n + j] = xr[j] / nr;
}

template <class T>
__global__ void l2norm_backward_kernel(const T* __restrict__ y, const T* __restrict__ norms, T eps,
                                       const T* __restrict__ gy, int64_t m, int64_t n,
                                       T* __restrict__ gx) {
  const int64_t row = blockIdx.x * (int64_t)kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= m) return;
  const T nr = norms[row];
  T dot = T(0);
  if (nr > eps)
    for (int64_t j = lane; j < n; j += 32) dot += y[row * n + j] * gy[row * n + j];
  dot = warp_reduce_sum(dot);
  for (int64_t j = lane; j < n; j += 32) gx[row * n + j] = (gy[row * n + j] - y[row * n + j] * dot) / nr;
}

template <class T>
__global__ void log_softmax_kernel(const T* __restrict__ x, int64_t m, int64_t n, T* __restrict__ y) {
  const int64_t row = blockIdx.x * (int64_t)kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= m) return;
  const T* xr = x + row * n;
  T mx = -INFINITY;
  for (int64_t j = lane; j < n; j += 32) mx = xr[j] > mx ? xr[j] : mx;
  mx = warp_reduce_max(mx);
  T s = T(0);
  for (int64_t j = lane; j < n; j += 32) s += exp(xr[j] - mx);
  s = warp_reduce_sum(s);
  const T lse = mx + log(s);
  for (int64_t j = lane; j < n; j += 32) y[row * n + j] = xr[j] - lse;
}

template <class T>
__global__ void log_softmax_backward_kernel(const T* __restrict__ y, const T* __restrict__ gy,
                                            int64_t m, int64_t n, T* __restrict__ gx) {
  const int64_t row = blockIdx.x * (int64_t)kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= m) return;
  T s = T(0);
  for (int64_t j = lane; j < n; j += 32) s += gy[row * n + j];
  s = warp_reduce_sum(s);
  for (int64_t j = lane; j < n; j += 32) gx[row * n + j] = gy[row * n + j] - exp(y[row * n + j]) * s;
}

unsigned row_blocks(int64_t m) { return static_cast<unsigned>((m + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void l2_normalize_rows(const Tensor& x, double eps, Tensor& y, Tensor& norms) {
  const int64_t m = x.size(0), n = x.size(1);
  if (m == 0) return;
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_LAUNCH(l2norm_kernel<T>, row_blocks(m), kThreads, 0, 0, x.data<T>(), m, n,
                 static_cast<T>(eps), y.data<T>(), norms.data<T>());
  });
}

void l2_normalize_rows_backward(const Tensor& y, const Tensor& norms, double eps, const Tensor& gy,
                                Tensor& gx) {
  const int64_t m = y.size(0), n = y.size(1);
  if (m == 0) return;
  EMBER_FLOAT_SWITCH(y.dtype(), T, {
    EMBER_LAUNCH(l2norm_backward_kernel<T>, row_blocks(m), kThreads, 0, 0, y.data<T>(),
                 norms.data<T>(), static_cast<T>(eps), gy.data<T>(), m, n, gx.data<T>());
  });
}

void log_softmax_rows(const Tensor& x, Tensor& y) {
  const int64_t m = x.size(0), n = x.size(1);
  if (m == 0) return;
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_LAUNCH(log_softmax_kernel<T>, row_blocks(m), kThreads, 0, 0, x.data<T>(), m, n, y.data<T>());
  });
}

void log_softmax_rows_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  const int64_t m = y.size(0), n = y.size(1);
  if (m == 0) return;
  EMBER_FLOAT_SWITCH(y.dtype(), T, {
    EMBER_LAUNCH(log_softmax_backward_kernel<T>, row_blocks(m), kThreads, 0, 0, y.data<T>(),
                 gy.data<T>(), m, n, gx.data<T>());
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
