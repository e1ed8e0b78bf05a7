// kernels/topk.h on the GPU (and under the kernel emulator).
//
// topk_merge_rows: one block per query row. The row is read in chunks of
// kChunk candidates; a candidate enters the shared buffer only if it beats the
// row's current k-th best (threshold, read once per chunk) and is not
// excluded. After each chunk with candidates, the k kept entries and the new
// ones are bitonic-sorted in shared memory (order: score desc, id asc; padding
// (-inf, INT32_MAX) sorts last) and the first k kept. The result is the same
// total order as the CPU reference, so identical scores give identical lists.
#include "kernels/common.cuh"
#include "kernels/topk.h"

#if EMBER_REAL_CUDA
#include <cublas_v2.h>

#include "kernels/cublas_handle.h"
#endif

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr unsigned kThreads = 128;
constexpr int kChunk = 1024;
constexpr int32_t kPadId = 0x7fffffff;

__device__ __forceinline__ bool better(float s1, int32_t i1, float s2, int32_t i2) {
  return s1 > s2 || (s1 == s2 && i1 < i2);
}

int next_pow2(int x) {
  int p = 1;
  while (p < x) p <<= 1;
  return p;
}

__global__ void topk_merge_kernel(const float* __restrict__ scores, int64_t cols, int64_t id_offset,
                                  const int64_t* __restrict__ excl_off, const int32_t* __restrict__ excl_ids,
                                  float* __restrict__ best_s, int32_t* __restrict__ best_i, int k, int cap) {
  EMBER_DYNAMIC_SHARED(unsigned char, smem);
  float* ss = reinterpret_cast<float*>(smem);
  int32_t* si = reinterpret_cast<int32_t*>(ss + cap);
  __shared__ int count;
  __shared__ float thr_s;
  __shared__ int32_t thr_i;
  const int64_t row = blockIdx.x;
  const unsigned tid = threadIdx.x;
  const float* srow = scores + row * cols;
  const int64_t elo = excl_off[row], ehi = excl_off[row + 1];

  for (int i = tid; i < k; i += blockDim.x) {
    int32_t id = best_i[row * k + i];
    ss[i] = id < 0 ? -INFINITY : best_s[row * k + i];
    si[i] = id < 0 ? kPadId : id;
  }
  __syncthreads();
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    if (tid == 0) {
      count = 0;
      thr_s = ss[k - 1];
      thr_i = si[k - 1];
    }
    __syncthreads();
    const int64_t c1 = c0 + kChunk < cols ? c0 + kChunk : cols;
    for (int64_t j = c0 + tid; j < c1; j += blockDim.x) {
      const float v = srow[j];
      const int32_t id = static_cast<int32_t>(id_offset + j);
      if (v != v) continue;                                   // NaN
      if (thr_i != kPadId && !better(v, id, thr_s, thr_i)) continue;  // cannot enter
      // excluded? (binary search in this row's sorted list)
      int64_t lo = elo, hi = ehi;
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (excl_ids[mid] < id) lo = mid + 1;
        else hi = mid;
      }
      if (lo < ehi && excl_ids[lo] == id) continue;
      const int p = atomicAdd(&count, 1);
      ss[k + p] = v;
      si[k + p] = id;
    }
    __syncthreads();
    const int m = count;
    if (m > 0) {
      int n = 1;
      while (n < k + m) n <<= 1;
      for (int i = k + m + tid; i < n; i += blockDim.x) {
        ss[i] = -INFINITY;
        si[i] = kPadId;
      }
      __syncthreads();
      for (int size = 2; size <= n; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
          for (int i = tid; i < n; i += blockDim.x) {
            const int j = i ^ stride;
            if (j <= i) continue;
            const bool first_better = (i & size) == 0;  // this run sorts best-first
            const bool swap = first_better ? better(ss[j], si[j], ss[i], si[i]) : better(ss[i], si[i], ss[j], si[j]);
            if (swap) {
              const float ts = ss[i];
              ss[i] = ss[j];
              ss[j] = ts;
              const int32_t ti = si[i];
              si[i] = si[j];
              si[j] = ti;
            }
          }
          __syncthreads();
        }
      }
    }
    __syncthreads();
  }
  for (int i = tid; i < k; i += blockDim.x) {
    const bool pad = si[i] == kPadId;
    best_s[row * k + i] = pad ? -INFINITY : ss[i];
    best_i[row * k + i] = pad ? -1 : si[i];
  }
}

}  // namespace

void topk_score_tile(const Tensor& queries, const Tensor& items, Tensor& out) {
  const int64_t B = queries.size(0), d = queries.size(1), T = items.size(0);
  EMBER_CHECK(items.size(1) == d && out.size(0) == B && out.size(1) == T,
              "topk_score_tile: shapes " << queries.describe() << ", " << items.describe() << " -> " << out.describe());
  if (B == 0 || T == 0) return;
#if EMBER_REAL_CUDA
  auto handle = static_cast<cublasHandle_t>(::ember::cuda::cublas_handle());
  const float one = 1.0f, zero = 0.0f;
  // Row-major out[B, T] = Q[B, d] I[T, d]^T is column-major out^T[T, B] = I^T... i.e. op(I_cm) = T:
  // out_cm(T x B) = (I_cm, d x T)^T * (Q_cm, d x B).
  cublasStatus_t st = cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(T), static_cast<int>(B),
                                  static_cast<int>(d), &one, items.data<float>(), static_cast<int>(d),
                                  queries.data<float>(), static_cast<int>(d), &zero, out.data<float>(),
                                  static_cast<int>(T));
  EMBER_CHECK(st == CUBLAS_STATUS_SUCCESS, "cuBLAS sgemm (top-k score tile) failed with status " << static_cast<int>(st));
#else
  ::ember::cpu::topk_score_tile(queries, items, out);
#endif
}

void topk_merge_rows(const Tensor& scores, int64_t id_offset, const Tensor& excl_offsets, const Tensor& excl_ids,
                     Tensor& best_scores, Tensor& best_ids) {
  check_topk_merge_args(scores, excl_offsets, excl_ids, best_scores, best_ids);
  const int64_t B = scores.size(0), T = scores.size(1);
  const int k = static_cast<int>(best_scores.size(1));
  if (B == 0 || T == 0) return;
  const int cap = next_pow2(k + kChunk);
  const size_t shmem = static_cast<size_t>(cap) * (sizeof(float) + sizeof(int32_t));
#if EMBER_REAL_CUDA
  if (shmem > 48 * 1024)
    EMBER_CUDA_CHECK(cudaFuncSetAttribute(topk_merge_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(shmem)));
#endif
  EMBER_LAUNCH(topk_merge_kernel, static_cast<unsigned>(B), kThreads, shmem, 0, scores.data<float>(), T, id_offset,
               excl_offsets.data<int64_t>(), excl_ids.data<int32_t>(), best_scores.data<float>(),
               best_ids.data<int32_t>(), k, cap);
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
