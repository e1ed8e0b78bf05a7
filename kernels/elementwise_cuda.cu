// CUDA kernels for kernels/elementwise.h (grid-stride loops over elements).
// The per-element math is kernels/elementwise_math.h, shared with the CPU.
#include "kernels/common.cuh"
#include "kernels/elementwise.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;

template <class T>
__global__ void binary_kernel(BinaryOp op, const T* __restrict__ a, const T* __restrict__ b,
                              T* __restrict__ out, int64_t n, int64_t nb, int64_t cols) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const T bv = nb == n ? b[i] : (nb == 1 ? b[0] : b[i % cols]);
    out[i] = math::binary(op, a[i], bv);
  }
}

template <class T>
__global__ void axpby_kernel(T alpha, const T* __restrict__ x, T beta, bool use_y, T* __restrict__ y,
                             int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = use_y ? alpha * x[i] + beta * y[i] : alpha * x[i];
}

template <class T>
__global__ void unary_kernel(UnaryOp op, T p, const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = math::unary(op, x[i], p);
}

template <class T>
__global__ void unary_backward_kernel(UnaryOp op, T p, const T* __restrict__ x,
                                      const T* __restrict__ gy, T* __restrict__ gx, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    gx[i] = math::unary_grad(op, x[i], gy[i], p);
}

// One thread per 8 elements (one Philox block each).
template <class T>
__global__ void dropout_kernel(double p, uint64_t seed, uint64_t stream, const T* __restrict__ x,
                               T* __restrict__ y, int64_t n) {
  const int64_t blocks = (n + math::kDropoutPerBlock - 1) / math::kDropoutPerBlock;
  for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < blocks; b += (int64_t)gridDim.x * blockDim.x)
    math::dropout8(x, y, n, b, p, seed, stream);
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = a.numel(), nb = b.numel();
  const int64_t cols = a.dim() == 0 ? 1 : a.size(-1);
  EMBER_CHECK(nb == n || nb == 1 || nb == cols, "binary: cannot broadcast " << b.describe() << " to "
                                                                           << a.describe());
  if (n == 0) return;
  EMBER_FLOAT_SWITCH(a.dtype(), T, {
    EMBER_LAUNCH(binary_kernel<T>, grid_for(n, kThreads), kThreads, 0, 0, op, a.data<T>(),
                 b.data<T>(), out.data<T>(), n, nb, cols);
  });
}

void axpby(double alpha, const Tensor& x, double beta, Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_LAUNCH(axpby_kernel<T>, grid_for(n, kThreads), kThreads, 0, 0, static_cast<T>(alpha),
                 x.data<T>(), static_cast<T>(beta), beta != 0.0, y.data<T>(), n);
  });
}

void unary(UnaryOp op, double param, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_LAUNCH(unary_kernel<T>, grid_for(n, kThreads), kThreads, 0, 0, op,
                 static_cast<T>(param), x.data<T>(), y.data<T>(), n);
  });
}

void unary_backward(UnaryOp op, double param, const Tensor& x, const Tensor& gy, Tensor& gx) {
  const int64_t n = x.numel();
  if (n == 0) return;
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_LAUNCH(unary_backward_kernel<T>, grid_for(n, kThreads), kThreads, 0, 0, op,
                 static_cast<T>(param), x.data<T>(), gy.data<T>(), gx.data<T>(), n);
  });
}

void dropout(double p, uint64_t seed, uint64_t stream, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_LAUNCH(dropout_kernel<T>, grid_for((n + math::kDropoutPerBlock - 1) / math::kDropoutPerBlock, kThreads), kThreads, 0, 0, p, seed, stream,
                 x.data<T>(), y.data<T>(), n);
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
