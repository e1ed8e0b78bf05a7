// CUDA kernels for kernels/optim.h: one thread per element, the update rule
// is math::adam / math::sgd shared with the CPU.
#include <cmath>

#include "kernels/common.cuh"
#include "kernels/optim.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                            T* __restrict__ v, int64_t n, double lr, double b1, double b2, double eps,
                            double wd, bool decoupled, double bc1, double bc2) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    math::adam(p[i], g[i], m[i], v[i], lr, b1, b2, eps, wd, decoupled, bc1, bc2);
}

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n,
                           double lr, double momentum, double wd) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    math::sgd(p[i], g[i], buf[i], lr, momentum, wd);
}

// One thread per (row, column) element of the gradient rows.
template <class T>
__global__ void sparse_adam_kernel(T* __restrict__ p, const int64_t* __restrict__ rows, const T* __restrict__ g,
                                   T* __restrict__ m, T* __restrict__ v, int64_t K, int64_t D, double lr, double b1,
                                   double b2, double eps, double wd, bool decoupled, double bc1, double bc2) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < K * D;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = i / D, j = i - k * D;
    const int64_t at = rows[k] * D + j;
    math::adam(p[at], g[i], m[at], v[at], lr, b1, b2, eps, wd, decoupled, bc1, bc2);
  }
}

}  // namespace

void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled, int64_t step) {
  const int64_t n = param.numel();
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  EMBER_FLOAT_SWITCH(param.dtype(), T, {
    EMBER_LAUNCH(adam_kernel<T>, grid_for(n, kThreads), kThreads, 0, 0, param.data<T>(),
                 grad.data<T>(), m.data<T>(), v.data<T>(), n, lr, beta1, beta2, eps, weight_decay,
                 decoupled, bc1, bc2);
  });
}

void sgd_update(Tensor& param, const Tensor& grad, Tensor& buf, double lr, double momentum,
                double weight_decay) {
  const int64_t n = param.numel();
  if (n == 0) return;
  EMBER_FLOAT_SWITCH(param.dtype(), T, {
    EMBER_LAUNCH(sgd_kernel<T>, grid_for(n, kThreads), kThreads, 0, 0, param.data<T>(),
                 grad.data<T>(), buf.data<T>(), n, lr, momentum, weight_decay);
  });
}

void sparse_adam_rows(Tensor& param, const Tensor& rows, const Tensor& grad, Tensor& m, Tensor& v, double lr,
                      double beta1, double beta2, double eps, double weight_decay, bool decoupled, int64_t step) {
  const int64_t K = rows.numel(), D = param.size(1);
  if (K == 0 || D == 0) return;
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  EMBER_FLOAT_SWITCH(param.dtype(), T, {
    EMBER_LAUNCH(sparse_adam_kernel<T>, grid_for(K * D, kThreads), kThreads, 0, 0, param.data<T>(),
                 rows.data<int64_t>(), grad.data<T>(), m.data<T>(), v.data<T>(), K, D, lr, beta1, beta2, eps,
                 weight_decay, decoupled, bc1, bc2);
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
