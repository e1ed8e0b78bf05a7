// CUDA kernels for kernels/cca.h.
//   * Column statistics: one fused reduction kernel reads z once. Block
//     (32, 8) covers 32 columns (a warp reads 32 consecutive floats of a row)
//     of one chunk of rows; each thread sums (z - shift) and (z - shift)^2 in
//     double with the chunk's first row as the shift, the 8 row-threads are
//     combined in order, and a per-column kernel merges the chunk summaries
//     (count, mean, M2) in chunk order (Chan et al.). Deterministic.
//   * The Gram matrices come from tensor::matmul (cuBLAS) in ops/objectives.cpp.
//   * Loss: one grid-stride kernel over the n*k differences and the 2*k*k
//     Gram residuals, double block partials, one-block final sum (fixed order).
//   * Backward: the a_j / b_j column sums use the same chunked layout as the
//     statistics, then one element-wise kernel writes dz.
#include <cmath>

#include "kernels/block_reduce.cuh"
#include "kernels/cca.h"
#include "kernels/cca_math.h"
#include "kernels/common.cuh"

#if EMBER_REAL_CUDA
#include <cublas_v2.h>

#include "kernels/cublas_handle.h"
#endif

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kColTile = 32;  // columns per block (threadIdx.x)
constexpr unsigned kRowLanes = 8;  // row phases per block (threadIdx.y)
constexpr int64_t kMaxChunks = 1024;
constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 2048;

// Rows per chunk: at least 64, at most kMaxChunks chunks.
int64_t rows_per_chunk(int64_t n) {
  int64_t rpc = (n + kMaxChunks - 1) / kMaxChunks;
  return rpc < 64 ? 64 : rpc;
}

template <class T>
__global__ void col_stats_partial_kernel(const T* __restrict__ z, int64_t n, int64_t k, int64_t rpc,
                                         double* __restrict__ part_mean, double* __restrict__ part_m2) {
  __shared__ double s1s[kRowLanes][kColTile];
  __shared__ double s2s[kRowLanes][kColTile];
  const int64_t col = blockIdx.x * (int64_t)kColTile + threadIdx.x;
  const int64_t r0 = blockIdx.y * rpc;
  const int64_t r1 = r0 + rpc < n ? r0 + rpc : n;
  double s1 = 0.0, s2 = 0.0, shift = 0.0;
  if (col < k && r0 < r1) {
    shift = static_cast<double>(z[r0 * k + col]);
    for (int64_t i = r0 + threadIdx.y; i < r1; i += kRowLanes) {
      const double v = static_cast<double>(z[i * k + col]) - shift;
      s1 += v;
      s2 += v * v;
    }
  }
  s1s[threadIdx.y][threadIdx.x] = s1;
  s2s[threadIdx.y][threadIdx.x] = s2;
  __syncthreads();
  if (threadIdx.y == 0 && col < k && r0 < r1) {
    double a = 0.0, b = 0.0;
    for (unsigned y = 0; y < kRowLanes; ++y) {
      a += s1s[y][threadIdx.x];
      b += s2s[y][threadIdx.x];
    }
    const double cnt = static_cast<double>(r1 - r0);
    const double m2 = b - a * a / cnt;
    part_mean[blockIdx.y * k + col] = shift + a / cnt;
    part_m2[blockIdx.y * k + col] = m2 > 0.0 ? m2 : 0.0;
  }
}

template <class T>
__global__ void col_stats_finalize_kernel(const double* __restrict__ part_mean, const double* __restrict__ part_m2,
                                          int64_t nchunks, int64_t n, int64_t k, int64_t rpc, double eps,
                                          double* __restrict__ mean, T* __restrict__ inv_std) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (j >= k) return;
  double cnt = 0.0, m = 0.0, q = 0.0;
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t r1 = (c + 1) * rpc < n ? (c + 1) * rpc : n;
    math::chan_merge(cnt, m, q, static_cast<double>(r1 - c * rpc), part_mean[c * k + j], part_m2[c * k + j]);
  }
  mean[j] = m;
  inv_std[j] = static_cast<T>(1.0 / sqrt(q / static_cast<double>(n) + eps));
}

template <class T>
__global__ void standardize_kernel(const T* __restrict__ z, const double* __restrict__ mean,
                                   const T* __restrict__ inv_std, int64_t n, int64_t k, T rsn, T* __restrict__ zt) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n * k; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = e % k;
    zt[e] = static_cast<T>((static_cast<double>(z[e]) - mean[j]) * static_cast<double>(inv_std[j] * rsn));
  }
}

template <class T>
__global__ void loss_partial_kernel(const T* __restrict__ zta, const T* __restrict__ ztb, int64_t nk,
                                    const T* __restrict__ ca, const T* __restrict__ cb, int64_t k, double lambda,
                                    double* __restrict__ partial) {
  __shared__ double smem[32];
  const int64_t kk = k * k, total = nk + 2 * kk;
  double s = 0.0;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    if (e < nk) {
      const double dv = static_cast<double>(zta[e]) - static_cast<double>(ztb[e]);
      s += dv * dv;
    } else {
      const int64_t f = e - nk;
      const T* c = f < kk ? ca : cb;
      const int64_t g = f < kk ? f : f - kk;
      const double dv = static_cast<double>(c[g]) - ((g / k) == (g % k) ? 1.0 : 0.0);
      s += lambda * dv * dv;
    }
  }
  s = block_reduce_sum(s, smem);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T>
__global__ void final_sum_kernel(const double* __restrict__ partial, int64_t n, T* __restrict__ out) {
  __shared__ double smem[32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += partial[i];
  s = block_reduce_sum(s, smem);
  if (threadIdx.x == 0) out[0] = static_cast<T>(s);
}

// Per chunk and column: a = sum G, b = sum G * zt (G = dL/dzt, see cca.h).
template <class T>
__global__ void grad_colsum_partial_kernel(const T* __restrict__ zt, const T* __restrict__ zo,
                                           const T* __restrict__ p, int64_t n, int64_t k, int64_t rpc, T lambda,
                                           const T* __restrict__ gout, double* __restrict__ part_a,
                                           double* __restrict__ part_b) {
  __shared__ double sas[kRowLanes][kColTile];
  __shared__ double sbs[kRowLanes][kColTile];
  const int64_t col = blockIdx.x * (int64_t)kColTile + threadIdx.x;
  const int64_t r0 = blockIdx.y * rpc;
  const int64_t r1 = r0 + rpc < n ? r0 + rpc : n;
  const T g = gout[0];
  double a = 0.0, b = 0.0;
  if (col < k)
    for (int64_t i = r0 + threadIdx.y; i < r1; i += kRowLanes) {
      const int64_t e = i * k + col;
      const T gv = math::cca_grad_zt<T>(g, zt[e], zo[e], p[e], lambda);
      a += static_cast<double>(gv);
      b += static_cast<double>(gv) * static_cast<double>(zt[e]);
    }
  sas[threadIdx.y][threadIdx.x] = a;
  sbs[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && col < k) {
    double sa = 0.0, sb = 0.0;
    for (unsigned y = 0; y < kRowLanes; ++y) {
      sa += sas[y][threadIdx.x];
      sb += sbs[y][threadIdx.x];
    }
    part_a[blockIdx.y * k + col] = sa;
    part_b[blockIdx.y * k + col] = sb;
  }
}

// a[j] = (sum of chunk partials) / n, b[j] = sum of chunk partials, chunk order.
__global__ void grad_colsum_finalize_kernel(const double* __restrict__ part_a, const double* __restrict__ part_b,
                                            int64_t nchunks, int64_t n, int64_t k, double* __restrict__ a,
                                            double* __restrict__ b) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (j >= k) return;
  double sa = 0.0, sb = 0.0;
  for (int64_t c = 0; c < nchunks; ++c) {
    sa += part_a[c * k + j];
    sb += part_b[c * k + j];
  }
  a[j] = sa / static_cast<double>(n);
  b[j] = sb;
}

template <class T>
__global__ void view_backward_kernel(const T* __restrict__ zt, const T* __restrict__ zo, const T* __restrict__ p,
                                     const double* __restrict__ a, const double* __restrict__ b,
                                     const T* __restrict__ inv_std, int64_t n, int64_t k, T rsn, T lambda,
                                     const T* __restrict__ gout, T* __restrict__ dz) {
  const T g = gout[0];
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n * k; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = e % k;
    const T gv = math::cca_grad_zt<T>(g, zt[e], zo[e], p[e], lambda);
    dz[e] = (gv - static_cast<T>(a[j]) - zt[e] * static_cast<T>(b[j])) * inv_std[j] * rsn;
  }
}

// Row-major c[i, j] for j < i = c[j, i] (syrk filled the row-major upper triangle).
template <class T>
__global__ void mirror_upper_kernel(int64_t k, T* __restrict__ c) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < k * k; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / k, j = e % k;
    if (j < i) c[e] = c[j * k + i];
  }
}

}  // namespace

void cca_gram(const Tensor& zt, Tensor& c) {
  const int64_t n = zt.size(0), k = zt.size(1);
  if (k == 0) return;
#if EMBER_REAL_CUDA
  // Row-major zt [n, k] is column-major A = zt^T [k, n]; C = A A^T (k x k).
  // Column-major lower triangle = row-major upper triangle; mirror it down.
  auto handle = static_cast<cublasHandle_t>(::ember::cuda::cublas_handle());
  cublasStatus_t st;
  if (zt.dtype() == DType::F32) {
    const float one = 1.0f, zero = 0.0f;
    st = cublasSsyrk(handle, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, static_cast<int>(k), static_cast<int>(n), &one,
                     zt.data<float>(), static_cast<int>(k), &zero, c.data<float>(), static_cast<int>(k));
  } else {
    const double one = 1.0, zero = 0.0;
    st = cublasDsyrk(handle, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, static_cast<int>(k), static_cast<int>(n), &one,
                     zt.data<double>(), static_cast<int>(k), &zero, c.data<double>(), static_cast<int>(k));
  }
  EMBER_CHECK(st == CUBLAS_STATUS_SUCCESS, "cuBLAS syrk failed with status " << static_cast<int>(st));
  EMBER_FLOAT_SWITCH(zt.dtype(), T, {
    EMBER_LAUNCH(mirror_upper_kernel<T>, grid_for(k * k, kThreads), kThreads, 0, 0, k, c.data<T>());
  });
#else
  (void)n;
  ::ember::cpu::cca_gram(zt, c);
#endif
}

void cca_standardize(const Tensor& z, double eps, Tensor& zt, Tensor& inv_std) {
  const int64_t n = z.size(0), k = z.size(1);
  if (n == 0 || k == 0) return;
  const int64_t rpc = rows_per_chunk(n), nch = (n + rpc - 1) / rpc;
  const Device dev = z.device();
  Tensor pmean = Tensor::empty({nch, k}, DType::F64, dev), pm2 = Tensor::empty({nch, k}, DType::F64, dev);
  Tensor mean = Tensor::empty({k}, DType::F64, dev);
  EMBER_FLOAT_SWITCH(z.dtype(), T, {
    const dim3 grid(static_cast<unsigned>((k + kColTile - 1) / kColTile), static_cast<unsigned>(nch));
    EMBER_LAUNCH(col_stats_partial_kernel<T>, grid, dim3(kColTile, kRowLanes), 0, 0, z.data<T>(), n, k, rpc,
                 pmean.data<double>(), pm2.data<double>());
    EMBER_LAUNCH(col_stats_finalize_kernel<T>, grid_for(k, kThreads), kThreads, 0, 0, pmean.data<double>(),
                 pm2.data<double>(), nch, n, k, rpc, eps, mean.data<double>(), inv_std.data<T>());
    EMBER_LAUNCH(standardize_kernel<T>, grid_for(n * k, kThreads, kMaxBlocks * 4), kThreads, 0, 0, z.data<T>(),
                 mean.data<double>(), inv_std.data<T>(), n, k, static_cast<T>(1.0 / std::sqrt(double(n))),
                 zt.data<T>());
  });
}

void cca_loss_forward(const Tensor& zta, const Tensor& ztb, const Tensor& ca, const Tensor& cb, double lambda,
                      Tensor& out) {
  const int64_t nk = zta.numel(), k = zta.size(1);
  const unsigned blocks = grid_for(nk + 2 * k * k, kThreads, kMaxBlocks);
  Tensor partial = Tensor::empty({static_cast<int64_t>(blocks)}, DType::F64, zta.device());
  EMBER_FLOAT_SWITCH(zta.dtype(), T, {
    EMBER_LAUNCH(loss_partial_kernel<T>, blocks, kThreads, 0, 0, zta.data<T>(), ztb.data<T>(), nk, ca.data<T>(),
                 cb.data<T>(), k, lambda, partial.data<double>());
    EMBER_LAUNCH(final_sum_kernel<T>, 1, 1024, 0, 0, partial.data<double>(), static_cast<int64_t>(blocks),
                 out.data<T>());
  });
}

void cca_view_backward(const Tensor& zt, const Tensor& zt_other, const Tensor& p, const Tensor& inv_std,
                       double lambda, const Tensor& gout, Tensor& dz) {
  const int64_t n = zt.size(0), k = zt.size(1);
  if (n == 0 || k == 0) return;
  const int64_t rpc = rows_per_chunk(n), nch = (n + rpc - 1) / rpc;
  const Device dev = zt.device();
  Tensor pa = Tensor::empty({nch, k}, DType::F64, dev), pb = Tensor::empty({nch, k}, DType::F64, dev);
  Tensor a = Tensor::empty({k}, DType::F64, dev), b = Tensor::empty({k}, DType::F64, dev);
  EMBER_FLOAT_SWITCH(zt.dtype(), T, {
    const dim3 grid(static_cast<unsigned>((k + kColTile - 1) / kColTile), static_cast<unsigned>(nch));
    EMBER_LAUNCH(grad_colsum_partial_kernel<T>, grid, dim3(kColTile, kRowLanes), 0, 0, zt.data<T>(),
                 zt_other.data<T>(), p.data<T>(), n, k, rpc, static_cast<T>(lambda), gout.data<T>(),
                 pa.data<double>(), pb.data<double>());
    EMBER_LAUNCH(grad_colsum_finalize_kernel, grid_for(k, kThreads), kThreads, 0, 0, pa.data<double>(),
                 pb.data<double>(), nch, n, k, a.data<double>(), b.data<double>());
    EMBER_LAUNCH(view_backward_kernel<T>, grid_for(n * k, kThreads, kMaxBlocks * 4), kThreads, 0, 0, zt.data<T>(),
                 zt_other.data<T>(), p.data<T>(), a.data<double>(), b.data<double>(), inv_std.data<T>(), n, k,
                 static_cast<T>(1.0 / std::sqrt(double(n))), static_cast<T>(lambda), gout.data<T>(), dz.data<T>());
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
