// Warp- and block-level reductions and scans used by the kernels in both
// builds (nvcc and the kernel emulator). Include after kernels/common.cuh.
//
// Requirements (checked by nothing at run time; violating them is a bug):
//   * warp_* helpers: called by all 32 lanes of a full warp (mask 0xffffffff).
//   * block_* helpers: called by EVERY thread of the block (they contain
//     __syncthreads); the block's thread count (blockDim.x*y*z) is a multiple
//     of 32 and <= 1024; `smem` points to >= 32 elements of shared memory that
//     are not used by anything else during the call. The helpers end with a
//     __syncthreads, so the same `smem` can be passed to the next call at once.
//   * Threads are numbered linearly (x fastest), so 2-D / 3-D blocks reduce
//     over the whole block.
// The summation order is fixed (butterfly within warps, then over warps), so
// results are deterministic and identical in every thread.
#pragma once

#include "kernels/common.cuh"

namespace ember {
namespace EMBER_KERNEL_NS {

namespace block_detail {
__device__ __forceinline__ unsigned linear_tid() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
__device__ __forceinline__ unsigned block_threads() { return blockDim.x * blockDim.y * blockDim.z; }
// max that propagates NaN symmetrically, so every lane gets the same result.
template <class T>
__device__ __forceinline__ T max_nan(T a, T b) {
  return (b > a || b != b) ? b : a;
}
}  // namespace block_detail

// Sum over the 32 lanes of the warp; the result is in every lane.
template <class T>
__device__ __forceinline__ T warp_reduce_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Maximum over the 32 lanes of the warp (NaN wins); the result is in every lane.
template <class T>
__device__ __forceinline__ T warp_reduce_max(T v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = block_detail::max_nan(v, static_cast<T>(__shfl_xor_sync(0xffffffffu, v, offset)));
  return v;
}

// Sum over the block; the result is returned to every thread.
template <class T>
__device__ __forceinline__ T block_reduce_sum(T v, T* smem) {
  const unsigned tid = block_detail::linear_tid();
  const unsigned lane = tid & 31u, warp = tid >> 5;
  const unsigned nwarps = block_detail::block_threads() >> 5;
  v = warp_reduce_sum(v);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  // Every warp reduces the per-warp partials itself: no broadcast needed.
  T r = lane < nwarps ? smem[lane] : T(0);
  r = warp_reduce_sum(r);
  __syncthreads();  // smem may be reused right away
  return r;
}

// Maximum over the block (NaN wins); the result is returned to every thread.
template <class T>
__device__ __forceinline__ T block_reduce_max(T v, T* smem) {
  const unsigned tid = block_detail::linear_tid();
  const unsigned lane = tid & 31u, warp = tid >> 5;
  const unsigned nwarps = block_detail::block_threads() >> 5;
  v = warp_reduce_max(v);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T r = smem[lane < nwarps ? lane : 0u];  // lanes past nwarps repeat warp 0's partial
  r = warp_reduce_max(r);
  __syncthreads();
  return r;
}

// Exclusive prefix sum over the block in linear thread order: thread t gets
// v_0 + ... + v_{t-1} (thread 0 gets 0). If `total` is not null, every thread
// stores the block total to *total (pass a per-thread local, or a shared /
// global location: all threads store the same value).
template <class T>
__device__ __forceinline__ T block_exclusive_scan_sum(T v, T* smem, T* total) {
  const unsigned tid = block_detail::linear_tid();
  const unsigned lane = tid & 31u, warp = tid >> 5;
  const unsigned nwarps = block_detail::block_threads() >> 5;
  // Inclusive scan within the warp (Hillis-Steele).
  T x = v;
  for (int offset = 1; offset < 32; offset <<= 1) {
    T y = __shfl_up_sync(0xffffffffu, x, offset);
    if (lane >= static_cast<unsigned>(offset)) x += y;
  }
  T excl = __shfl_up_sync(0xffffffffu, x, 1);
  if (lane == 0) excl = T(0);
  if (lane == 31) smem[warp] = x;
  __syncthreads();
  if (warp == 0) {
    // Inclusive scan of the per-warp totals, in place.
    T w = lane < nwarps ? smem[lane] : T(0);
    for (int offset = 1; offset < 32; offset <<= 1) {
      T y = __shfl_up_sync(0xffffffffu, w, offset);
      if (lane >= static_cast<unsigned>(offset)) w += y;
    }
    if (lane < nwarps) smem[lane] = w;
  }
  __syncthreads();
  const T prefix = warp > 0 ? smem[warp - 1] : T(0);
  if (total) *total = smem[nwarps - 1];
  __syncthreads();
  return prefix + excl;
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
