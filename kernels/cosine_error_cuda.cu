// CUDA kernels for kernels/cosine_error.h. One warp per row of V: the lanes
// stride over the d features, three warp-shuffle reductions give <x, z>,
// ||x||^2, ||z||^2, and the per-row math comes from cosine_error_math.h.
// Forward: the fused row kernel also reduces its block's rows (fixed order,
// in double) to one partial; a one-block kernel sums the partials in order,
// so the loss is deterministic. Backward: one fused kernel recomputes the
// three dots and writes both gradients (plain += for unique rows, atomicAdd
// when V has duplicates).
#include "kernels/block_reduce.cuh"
#include "kernels/common.cuh"
#include "kernels/cosine_error.h"
#include "kernels/cosine_error_math.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kWarps = kThreads / 32;
constexpr unsigned kMaxBlocks = 4096;

template <class T, class I>
__device__ __forceinline__ math::SceRow<T> warp_row_terms(const T* __restrict__ x, const T* __restrict__ z,
                                                          int64_t d, int64_t i, T y, T eps, int lane) {
  const T* xr = x + i * d;
  const T* zr = z + i * d;
  T dot = T(0), xx = T(0), zz = T(0);
  for (int64_t j = lane; j < d; j += 32) {
    const T a = xr[j], b = zr[j];
    dot += a * b;
    xx += a * a;
    zz += b * b;
  }
  dot = warp_reduce_sum(dot);
  xx = warp_reduce_sum(xx);
  zz = warp_reduce_sum(zz);
  return math::sce_row<T>(dot, xx, zz, y, eps);
}

// partial[block] = sum of the loss of the block's rows (grid-stride, one warp per row).
template <class T, class I>
__global__ void sce_forward_kernel(const T* __restrict__ x, const T* __restrict__ z, const I* __restrict__ rows,
                                   int64_t nv, int64_t d, T y, T eps, double* __restrict__ partial) {
  __shared__ double warp_sums[kWarps];
  const unsigned warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  double acc = 0.0;  // identical in every lane of the warp
  for (int64_t r = blockIdx.x * (int64_t)kWarps + warp; r < nv; r += (int64_t)gridDim.x * kWarps) {
    const math::SceRow<T> t = warp_row_terms<T, I>(x, z, d, static_cast<int64_t>(rows[r]), y, eps, lane);
    acc += static_cast<double>(math::sce_loss_from_cos(t.cos, y));
  }
  if (lane == 0) warp_sums[warp] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0.0;
    for (unsigned w = 0; w < kWarps; ++w) s += warp_sums[w];
    partial[blockIdx.x] = s;
  }
}

// out[0] = (sum of partial[0..n)) * scale, one block, fixed order.
template <class T>
__global__ void final_sum_kernel(const double* __restrict__ partial, int64_t n, double scale, T* __restrict__ out) {
  __shared__ double smem[32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += partial[i];
  s = block_reduce_sum(s, smem);
  if (threadIdx.x == 0) out[0] = static_cast<T>(s * scale);
}

template <class T, class I>
__global__ void sce_backward_kernel(const T* __restrict__ x, const T* __restrict__ z, const I* __restrict__ rows,
                                    int64_t nv, int64_t d, T y, T eps, const T* __restrict__ gout,
                                    bool atomic, T* __restrict__ dx, T* __restrict__ dz) {
  const unsigned warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const T scale = gout[0] / static_cast<T>(nv);
  for (int64_t r = blockIdx.x * (int64_t)kWarps + warp; r < nv; r += (int64_t)gridDim.x * kWarps) {
    const int64_t i = static_cast<int64_t>(rows[r]);
    const math::SceRow<T> t = warp_row_terms<T, I>(x, z, d, i, y, eps, lane);
    const T s = scale * t.dldc;
    const T* xr = x + i * d;
    const T* zr = z + i * d;
    for (int64_t j = lane; j < d; j += 32) {
      const T a = xr[j], b = zr[j];
      if (dz) {
        const T v = s * (t.a * a + t.bz * b);
        if (atomic) atomicAdd(&dz[i * d + j], v);
        else dz[i * d + j] += v;
      }
      if (dx) {
        const T v = s * (t.a * b + t.bx * a);
        if (atomic) atomicAdd(&dx[i * d + j], v);
        else dx[i * d + j] += v;
      }
    }
  }
}

}  // namespace

void scaled_cosine_error_forward(const Tensor& x, const Tensor& z, const Tensor& rows, double y, double eps,
                                 Tensor& out) {
  const int64_t d = x.size(1), nv = rows.numel();
  const unsigned blocks = grid_for(nv, kWarps, kMaxBlocks);
  Tensor partial = Tensor::empty({static_cast<int64_t>(blocks)}, DType::F64, x.device());
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_INDEX_SWITCH(rows.dtype(), I, {
      auto fwd = sce_forward_kernel<T, I>;
      EMBER_LAUNCH(fwd, blocks, kThreads, 0, 0, x.data<T>(), z.data<T>(), rows.data<I>(),
                   nv, d, static_cast<T>(y), static_cast<T>(eps), partial.data<double>());
    });
    EMBER_LAUNCH(final_sum_kernel<T>, 1, 1024, 0, 0, partial.data<double>(), static_cast<int64_t>(blocks),
                 1.0 / static_cast<double>(nv), out.data<T>());
  });
}

void scaled_cosine_error_backward(const Tensor& x, const Tensor& z, const Tensor& rows, double y, double eps,
                                  const Tensor& gout, bool unique_rows, Tensor& dx, Tensor& dz) {
  const int64_t d = x.size(1), nv = rows.numel();
  if (nv == 0 || (!dx.defined() && !dz.defined())) return;
  const unsigned blocks = grid_for(nv, kWarps, kMaxBlocks);
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_INDEX_SWITCH(rows.dtype(), I, {
      T* pdx = dx.defined() ? dx.data<T>() : nullptr;
      T* pdz = dz.defined() ? dz.data<T>() : nullptr;
      auto bwd = sce_backward_kernel<T, I>;
      EMBER_LAUNCH(bwd, blocks, kThreads, 0, 0, x.data<T>(), z.data<T>(),
                   rows.data<I>(), nv, d, static_cast<T>(y), static_cast<T>(eps), gout.data<T>(), !unique_rows,
                   pdx, pdz);
    });
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
