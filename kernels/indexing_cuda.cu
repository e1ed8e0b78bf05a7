// CUDA kernels for kernels/indexing.h. Out-of-range indices are detected on
// the device (an error flag read back after the launch: a synchronisation,
// skipped when the caller has checked the indices on the host) and reported
// as ember::Error; offending rows are skipped, never written out of bounds.
// scatter_add_rows uses atomicAdd, so float sums of duplicate indices may
// differ from the CPU in the last bits (order of additions).
#include "kernels/common.cuh"
#include "kernels/indexing.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 256;

template <class T, class I>
__global__ void gather_kernel(const T* __restrict__ x, int64_t nrows, const I* __restrict__ idx,
                              int64_t rows, int64_t cols, T* __restrict__ out, int* __restrict__ bad) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = e / cols, j = e % cols;
    const int64_t src = static_cast<int64_t>(idx[r]);
    if (src < 0 || src >= nrows) {
      if (bad) *bad = 1;
      continue;
    }
    out[e] = x[src * cols + j];
  }
}

template <class T, class I>
__global__ void scatter_add_kernel(const T* __restrict__ src, const I* __restrict__ idx, int64_t rows,
                                   int64_t cols, int64_t nout, T* __restrict__ out, int* __restrict__ bad) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = e / cols, j = e % cols;
    const int64_t dst = static_cast<int64_t>(idx[r]);
    if (dst < 0 || dst >= nout) {
      if (bad) *bad = 1;
      continue;
    }
    atomicAdd(&out[dst * cols + j], src[e]);
  }
}

template <class T>
__global__ void copy_columns_kernel(const T* __restrict__ src, int64_t sn, int64_t src_col,
                                    T* __restrict__ dst, int64_t dn, int64_t dst_col, int64_t m,
                                    int64_t ncols) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < m * ncols;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / ncols, j = e % ncols;
    dst[i * dn + dst_col + j] = src[i * sn + src_col + j];
  }
}

void check_flag(const Tensor& flag, const char* what, int64_t limit) {
  EMBER_CHECK(flag.item<int32_t>({0}) == 0,
              what << ": an index is out of range [0, " << limit << ")");
}

}  // namespace

void gather_rows(const Tensor& x, const Tensor& idx, Tensor& out, bool check_range) {
  const int64_t rows = idx.numel(), nrows = x.size(0);
  const int64_t cols = nrows > 0 ? x.numel() / nrows : (x.dim() > 1 ? x.numel() : 1);
  if (rows == 0) return;
  Tensor bad = check_range ? Tensor::zeros({1}, DType::I32, x.device()) : Tensor();
  EMBER_INDEX_SWITCH(idx.dtype(), I, {
    EMBER_FLOAT_SWITCH(x.dtype(), T, {
      auto gather = gather_kernel<T, I>;
      EMBER_LAUNCH(gather, grid_for(rows * cols, kThreads), kThreads, 0, 0,
                   x.data<T>(), nrows, idx.data<I>(), rows, cols, out.data<T>(), check_range ? bad.data<int32_t>() : nullptr);
    });
  });
  if (check_range) check_flag(bad, "gather_rows", nrows);
}

void scatter_add_rows(const Tensor& src, const Tensor& idx, Tensor& out, bool check_range) {
  const int64_t rows = idx.numel(), nout = out.size(0);
  const int64_t cols = nout > 0 ? out.numel() / nout : 1;
  if (rows == 0) return;
  Tensor bad = check_range ? Tensor::zeros({1}, DType::I32, src.device()) : Tensor();
  EMBER_INDEX_SWITCH(idx.dtype(), I, {
    EMBER_FLOAT_SWITCH(src.dtype(), T, {
      auto scatter_add = scatter_add_kernel<T, I>;
      EMBER_LAUNCH(scatter_add, grid_for(rows * cols, kThreads), kThreads, 0, 0,
                   src.data<T>(), idx.data<I>(), rows, cols, nout, out.data<T>(), check_range ? bad.data<int32_t>() : nullptr);
    });
  });
  if (check_range) check_flag(bad, "scatter_add_rows", nout);
}

void copy_columns(const Tensor& src, int64_t src_col, Tensor& dst, int64_t dst_col, int64_t ncols) {
  const int64_t m = src.size(0);
  if (m * ncols == 0) return;
  EMBER_FLOAT_SWITCH(src.dtype(), T, {
    EMBER_LAUNCH(copy_columns_kernel<T>, grid_for(m * ncols, kThreads), kThreads, 0, 0, src.data<T>(),
                 src.size(1), src_col, dst.data<T>(), dst.size(1), dst_col, m, ncols);
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
