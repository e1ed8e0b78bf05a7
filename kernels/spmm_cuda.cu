// CUDA kernel for kernels/spmm.h: one warp per output row (grid-stride), the
// row's (col, val) pairs loaded 32 at a time by the lanes and broadcast with
// __shfl_sync; lane l accumulates columns c0 + l + 32 u (u < 4) of a
// 128-column pass, so the reads of W rows and the writes of y are coalesced.
// No atomics: deterministic (the row's nonzeros are added in CSR order).
#include "kernels/common.cuh"
#include "kernels/spmm.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kWarps = kThreads / 32;
constexpr int kU = 4;  // columns per lane per pass
constexpr unsigned kMaxBlocks = 65535;

template <class T>
__global__ void spmm_csr_kernel(const int64_t* __restrict__ row_ptr, const int32_t* __restrict__ col,
                                const T* __restrict__ val, const T* __restrict__ w, const T* __restrict__ bias,
                                int64_t rows, int64_t n, T* __restrict__ y) {
  const int lane = threadIdx.x % 32;
  for (int64_t i = blockIdx.x * (int64_t)kWarps + threadIdx.x / 32; i < rows; i += (int64_t)gridDim.x * kWarps) {
    const int64_t e0 = row_ptr[i], e1 = row_ptr[i + 1];
    for (int64_t c0 = 0; c0 < n; c0 += 32 * kU) {
      T acc[kU];
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        const int64_t j = c0 + lane + 32 * u;
        acc[u] = (bias && j < n) ? bias[j] : T(0);
      }
      for (int64_t eb = e0; eb < e1; eb += 32) {
        const int64_t e = eb + lane;
        const int32_t my_col = e < e1 ? col[e] : 0;
        const T my_val = e < e1 ? val[e] : T(0);
        const int cnt = e1 - eb < 32 ? static_cast<int>(e1 - eb) : 32;
        for (int t = 0; t < cnt; ++t) {
          const int64_t cc = __shfl_sync(0xffffffffu, my_col, t);
          const T v = __shfl_sync(0xffffffffu, my_val, t);
          const T* wr = w + cc * n;
#pragma unroll
          for (int u = 0; u < kU; ++u) {
            const int64_t j = c0 + lane + 32 * u;
            if (j < n) acc[u] += v * wr[j];
          }
        }
      }
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        const int64_t j = c0 + lane + 32 * u;
        if (j < n) y[i * n + j] = acc[u];
      }
    }
  }
}

}  // namespace

void spmm_csr(const Tensor& row_ptr, const Tensor& col, const Tensor& val, const Tensor& w, const Tensor& bias,
              Tensor& y) {
  const int64_t rows = y.size(0), n = y.size(1);
  if (rows == 0 || n == 0) return;
  EMBER_FLOAT_SWITCH(w.dtype(), T, {
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    EMBER_LAUNCH(spmm_csr_kernel<T>, grid_for(rows, kWarps, kMaxBlocks), kThreads, 0, 0, row_ptr.data<int64_t>(),
                 col.data<int32_t>(), val.data<T>(), w.data<T>(), pb, rows, n, y.data<T>());
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
