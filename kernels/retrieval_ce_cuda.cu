// CUDA kernels for kernels/retrieval_ce.h (see the description there):
// flash-attention-style streaming over 64 x 64 logit tiles, no [B, M] buffer.
//
// Tile engine: 256 threads as 16 x 16; thread (ty, tx) owns the logits of
// tile rows ty + 16 i and tile columns tx + 16 j (i, j < 4). The dot products
// are staged through shared memory in d-chunks of 32 (transposed, padded to
// 65 to avoid bank conflicts). The backward turns the tile into softmax
// weights in shared memory and multiplies it with the column matrix, staged
// in chunks of kKC rows x 128 output columns (4 x 8 accumulators per thread).
// SIMT FP32/FP64 (no tensor cores); no atomics anywhere.
#include <cmath>

#include "kernels/block_reduce.cuh"
#include "kernels/common.cuh"
#include "kernels/retrieval_ce.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr int kTile = 64;            // rows and columns of a logit tile
constexpr unsigned kThreads = 256;   // 16 x 16
constexpr int kTM = 4;               // tile rows (and columns) per thread
constexpr int kDK = 32;              // d-chunk of the dot products
constexpr int kPad = kTile + 1;
constexpr int kDV = 128;             // output columns per block (backward)
constexpr int kVC = kDV / 16;        // output columns per thread
// Blocks to aim for when splitting the candidates: ~4 waves of 2 resident
// blocks on each of the H100's 132 SMs (few waves -> small tail effect).
constexpr int64_t kTargetBlocks = 4 * 2 * 132;

template <class T>
struct Cfg {
  static constexpr int kKC = sizeof(T) == 4 ? 16 : 8;  // V rows staged per step (smem < 48 KiB)
  static constexpr int kPhase1 = 2 * kDK * kPad;
  static constexpr int kPhase2 = kTile * kPad + kKC * kDV;
  static constexpr int kSmem = kPhase1 > kPhase2 ? kPhase1 : kPhase2;
};

__device__ __forceinline__ bool included(const int32_t* __restrict__ mask, const int64_t* __restrict__ pos,
                                         int64_t P, int64_t M, int64_t b, int64_t j) {
  if (!mask || mask[b * M + j] != 0) return true;
  for (int64_t p = 0; p < P; ++p)
    if (pos[b * P + p] == j) return true;  // listed positives are never masked
  return false;
}

template <class T>
__device__ __forceinline__ void lse_merge(T& m, T& s, T mo, T so) {
  const T mn = m > mo ? m : mo;
  if (mn == -INFINITY) return;  // both empty
  s = s * exp(m - mn) + so * exp(mo - mn);
  m = mn;
}

// acc[i][j] = <A[a0 + ty + 16 i], Bm[b0 + tx + 16 j]> (0 outside the matrices).
// Called by every thread of the block; ends with __syncthreads.
template <class T>
__device__ __forceinline__ void dot_tile(const T* __restrict__ A, int64_t na, int64_t a0, const T* __restrict__ Bm,
                                         int64_t nb, int64_t b0, int64_t d, T* sa, T* sb, T (&acc)[kTM][kTM]) {
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
#pragma unroll
  for (int i = 0; i < kTM; ++i)
#pragma unroll
    for (int j = 0; j < kTM; ++j) acc[i][j] = T(0);
  for (int64_t d0 = 0; d0 < d; d0 += kDK) {
    for (int e = tid; e < kTile * kDK; e += kThreads) {
      const int i = e / kDK, kk = e % kDK;
      const int64_t col = d0 + kk, ra = a0 + i, rb = b0 + i;
      sa[kk * kPad + i] = (ra < na && col < d) ? A[ra * d + col] : T(0);
      sb[kk * kPad + i] = (rb < nb && col < d) ? Bm[rb * d + col] : T(0);
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kDK; ++kk) {
      T a[kTM], b[kTM];
#pragma unroll
      for (int i = 0; i < kTM; ++i) {
        a[i] = sa[kk * kPad + ty + 16 * i];
        b[i] = sb[kk * kPad + tx + 16 * i];
      }
#pragma unroll
      for (int i = 0; i < kTM; ++i)
#pragma unroll
        for (int j = 0; j < kTM; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
}

// Per (query, split): online max / sum of exp over the split's candidate tiles.
template <class T>
__global__ void __launch_bounds__(kThreads)
lse_partial_kernel(const T* __restrict__ q, const T* __restrict__ c, const int64_t* __restrict__ pos,
                   const int32_t* __restrict__ mask, const T* __restrict__ logq, int64_t B, int64_t M, int64_t d,
                   int64_t P, T inv_tau, int64_t tiles_per_split, T* __restrict__ part_m, T* __restrict__ part_s) {
  __shared__ T sa[kDK * kPad];
  __shared__ T sb[kDK * kPad];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t b0 = blockIdx.x * (int64_t)kTile;
  const int64_t ntiles = (M + kTile - 1) / kTile;
  const int64_t t0 = blockIdx.y * tiles_per_split;
  const int64_t t1 = t0 + tiles_per_split < ntiles ? t0 + tiles_per_split : ntiles;
  T m[kTM], s[kTM];
#pragma unroll
  for (int i = 0; i < kTM; ++i) {
    m[i] = -INFINITY;
    s[i] = T(0);
  }
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t j0 = t * kTile;
    T acc[kTM][kTM];
    dot_tile(q, B, b0, c, M, j0, d, sa, sb, acc);
#pragma unroll
    for (int i = 0; i < kTM; ++i) {
      const int64_t b = b0 + ty + 16 * i;
      T l[kTM];
      T tmax = -INFINITY;
#pragma unroll
      for (int jj = 0; jj < kTM; ++jj) {
        const int64_t j = j0 + tx + 16 * jj;
        const bool ok = b < B && j < M && included(mask, pos, P, M, b, j);
        l[jj] = ok ? acc[i][jj] * inv_tau - (logq ? logq[j] : T(0)) : T(-INFINITY);
        tmax = l[jj] > tmax ? l[jj] : tmax;
      }
      if (tmax > T(-INFINITY)) {
        const T mn = m[i] > tmax ? m[i] : tmax;
        T acc_s = s[i] * exp(m[i] - mn);
#pragma unroll
        for (int jj = 0; jj < kTM; ++jj)
          if (l[jj] > T(-INFINITY)) acc_s += exp(l[jj] - mn);
        m[i] = mn;
        s[i] = acc_s;
      }
    }
  }
  // Merge the 16 column-threads of each row (lanes of one half-warp), fixed butterfly.
#pragma unroll
  for (int i = 0; i < kTM; ++i)
    for (int off = 8; off > 0; off >>= 1) {
      const T mo = __shfl_xor_sync(0xffffffffu, m[i], off);
      const T so = __shfl_xor_sync(0xffffffffu, s[i], off);
      lse_merge(m[i], s[i], mo, so);
    }
  if (tx == 0)
#pragma unroll
    for (int i = 0; i < kTM; ++i) {
      const int64_t b = b0 + ty + 16 * i;
      if (b < B) {
        part_m[blockIdx.y * B + b] = m[i];
        part_s[blockIdx.y * B + b] = s[i];
      }
    }
}

// One warp per query: merge the splits (fixed order) into lse[b] and compute
// loss_rows[b] = lse[b] - mean positive logit.
template <class T>
__global__ void lse_finalize_kernel(const T* __restrict__ part_m, const T* __restrict__ part_s, int64_t nsplit,
                                    const T* __restrict__ q, const T* __restrict__ c, const int64_t* __restrict__ pos,
                                    const T* __restrict__ logq, int64_t B, int64_t d, int64_t P, T inv_tau,
                                    T* __restrict__ lse, double* __restrict__ loss_rows) {
  const int64_t b = blockIdx.x * (int64_t)(kThreads / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (b >= B) return;  // whole warp
  T m = -INFINITY, s = T(0);
  for (int64_t sp = lane; sp < nsplit; sp += 32) lse_merge(m, s, part_m[sp * B + b], part_s[sp * B + b]);
  for (int off = 16; off > 0; off >>= 1) {
    const T mo = __shfl_xor_sync(0xffffffffu, m, off);
    const T so = __shfl_xor_sync(0xffffffffu, s, off);
    lse_merge(m, s, mo, so);
  }
  const T l = m + log(s);
  double pos_sum = 0.0;
  int64_t cnt = 0;
  for (int64_t p = 0; p < P; ++p) {
    const int64_t j = pos[b * P + p];
    if (j < 0) continue;
    T dt = T(0);
    for (int64_t k = lane; k < d; k += 32) dt += q[b * d + k] * c[j * d + k];
    dt = warp_reduce_sum(dt);
    pos_sum += static_cast<double>(dt * inv_tau - (logq ? logq[j] : T(0)));
    ++cnt;
  }
  if (lane == 0) {
    lse[b] = l;
    loss_rows[b] = static_cast<double>(l) - pos_sum / static_cast<double>(cnt);
  }
}

template <class T>
__global__ void mean_kernel(const double* __restrict__ v, int64_t n, T* __restrict__ out) {
  __shared__ double smem[32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = block_reduce_sum(s, smem);
  if (threadIdx.x == 0) out[0] = static_cast<T>(s / static_cast<double>(n));
}

// out[(split * nR + r) * d + col] = g * mult * sum_k softmax(r, k) * K[k, col]
// over the split's column tiles. kCandRows = false: rows are queries (dq),
// columns candidates; true: rows are candidates (dc), columns queries.
template <class T, bool kCandRows>
__global__ void __launch_bounds__(kThreads)
grad_kernel(const T* __restrict__ R, int64_t nR, const T* __restrict__ K, int64_t nK, int64_t d,
            const int64_t* __restrict__ pos, const int32_t* __restrict__ mask, const T* __restrict__ logq,
            const T* __restrict__ lse, int64_t M, int64_t P, T inv_tau, const T* __restrict__ gout, double mult,
            int64_t tiles_per_split, T* __restrict__ out) {
  constexpr int kKC = Cfg<T>::kKC;
  __shared__ T smem[Cfg<T>::kSmem];
  T* sa = smem;                   // phase 1: dot-product chunks
  T* sb = smem + kDK * kPad;
  T* sp = smem;                   // phase 2: weights [kTile][kPad] and V rows [kKC][kDV]
  T* sv = smem + kTile * kPad;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t r0 = blockIdx.x * (int64_t)kTile;
  const int64_t dv0 = blockIdx.z * (int64_t)kDV;
  const int64_t ntiles = (nK + kTile - 1) / kTile;
  const int64_t t0 = blockIdx.y * tiles_per_split;
  const int64_t t1 = t0 + tiles_per_split < ntiles ? t0 + tiles_per_split : ntiles;
  T acc2[kTM][kVC];
#pragma unroll
  for (int i = 0; i < kTM; ++i)
#pragma unroll
    for (int cc = 0; cc < kVC; ++cc) acc2[i][cc] = T(0);
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t k0 = t * kTile;
    T acc[kTM][kTM];
    dot_tile(R, nR, r0, K, nK, k0, d, sa, sb, acc);
#pragma unroll
    for (int i = 0; i < kTM; ++i)
#pragma unroll
      for (int jj = 0; jj < kTM; ++jj) {
        const int64_t r = r0 + ty + 16 * i, kc = k0 + tx + 16 * jj;
        const int64_t b = kCandRows ? kc : r, j = kCandRows ? r : kc;
        T w = T(0);
        if (r < nR && kc < nK && included(mask, pos, P, M, b, j))
          w = exp(acc[i][jj] * inv_tau - (logq ? logq[j] : T(0)) - lse[b]);
        sp[(ty + 16 * i) * kPad + tx + 16 * jj] = w;
      }
    __syncthreads();
    for (int kc0 = 0; kc0 < kTile; kc0 += kKC) {
      for (int e = tid; e < kKC * kDV; e += kThreads) {
        const int rr = e / kDV, cc = e % kDV;
        const int64_t kr = k0 + kc0 + rr, col = dv0 + cc;
        sv[rr * kDV + cc] = (kr < nK && col < d) ? K[kr * d + col] : T(0);
      }
      __syncthreads();
#pragma unroll 4
      for (int rr = 0; rr < kKC; ++rr) {
        T pv[kTM], v[kVC];
#pragma unroll
        for (int i = 0; i < kTM; ++i) pv[i] = sp[(ty + 16 * i) * kPad + kc0 + rr];
#pragma unroll
        for (int cc = 0; cc < kVC; ++cc) v[cc] = sv[rr * kDV + tx + 16 * cc];
#pragma unroll
        for (int i = 0; i < kTM; ++i)
#pragma unroll
          for (int cc = 0; cc < kVC; ++cc) acc2[i][cc] += pv[i] * v[cc];
      }
      __syncthreads();
    }
  }
  const T scale = static_cast<T>(static_cast<double>(gout[0]) * mult);
#pragma unroll
  for (int i = 0; i < kTM; ++i) {
    const int64_t r = r0 + ty + 16 * i;
    if (r >= nR) continue;
#pragma unroll
    for (int cc = 0; cc < kVC; ++cc) {
      const int64_t col = dv0 + tx + 16 * cc;
      if (col < d) out[(blockIdx.y * nR + r) * d + col] = acc2[i][cc] * scale;
    }
  }
}

// dq[b, k] = sum over splits of part (split order) - g * mult * mean_p c[p, k].
template <class T>
__global__ void dq_combine_kernel(const T* __restrict__ part, int64_t nsplit, const T* __restrict__ c,
                                  const int64_t* __restrict__ pos, int64_t B, int64_t d, int64_t P,
                                  const T* __restrict__ gout, double mult, T* __restrict__ dq) {
  const double w = static_cast<double>(gout[0]) * mult;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < B * d; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t b = e / d, k = e % d;
    T s = T(0);
    for (int64_t sp = 0; sp < nsplit; ++sp) s += part[(sp * B + b) * d + k];
    double ps = 0.0;
    int64_t cnt = 0;
    for (int64_t p = 0; p < P; ++p) {
      const int64_t j = pos[b * P + p];
      if (j < 0) continue;
      ps += static_cast<double>(c[j * d + k]);
      ++cnt;
    }
    dq[e] = static_cast<T>(static_cast<double>(s) - w * ps / static_cast<double>(cnt));
  }
}

// One warp per candidate with positives: dc[j] -= g * mult * sum_e w_e q[b_e] (pair order).
template <class T>
__global__ void dc_positive_kernel(const int64_t* __restrict__ seg_ptr, const int64_t* __restrict__ seg_cand,
                                   const int64_t* __restrict__ seg_query, const double* __restrict__ seg_w,
                                   int64_t nseg, const T* __restrict__ q, int64_t d, const T* __restrict__ gout,
                                   double mult, T* __restrict__ dc) {
  const int64_t s = blockIdx.x * (int64_t)(kThreads / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (s >= nseg) return;
  const double w = static_cast<double>(gout[0]) * mult;
  const int64_t j = seg_cand[s];
  for (int64_t k = lane; k < d; k += 32) {
    double acc = 0.0;
    for (int64_t e = seg_ptr[s]; e < seg_ptr[s + 1]; ++e) acc += seg_w[e] * static_cast<double>(q[seg_query[e] * d + k]);
    dc[j * d + k] = static_cast<T>(static_cast<double>(dc[j * d + k]) - w * acc);
  }
}

// Candidate splits so that (query tiles x splits) fills the GPU; depends only
// on the shapes, so results are reproducible.
void splits_for(int64_t row_tiles, int64_t col_tiles, int64_t& nsplit, int64_t& per_split) {
  int64_t s = (kTargetBlocks + row_tiles - 1) / row_tiles;
  if (s > col_tiles) s = col_tiles;
  if (s < 1) s = 1;
  per_split = (col_tiles + s - 1) / s;
  nsplit = (col_tiles + per_split - 1) / per_split;
}

unsigned warp_blocks(int64_t n) { return static_cast<unsigned>((n + kThreads / 32 - 1) / (kThreads / 32)); }

}  // namespace

void retrieval_ce_forward(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                          const Tensor& log_q, double inv_tau, Tensor& lse, Tensor& out) {
  const int64_t B = q.size(0), M = c.size(0), d = q.size(1), P = positives.size(1);
  const int64_t qt = (B + kTile - 1) / kTile, ct = (M + kTile - 1) / kTile;
  int64_t nsplit = 1, per_split = 1;
  splits_for(qt, ct, nsplit, per_split);
  const Device dev = q.device();
  const int32_t* pmask = mask.defined() ? mask.data<int32_t>() : nullptr;
  Tensor loss_rows = Tensor::empty({B}, DType::F64, dev);
  EMBER_FLOAT_SWITCH(q.dtype(), T, {
    const T* plq = log_q.defined() ? log_q.data<T>() : nullptr;
    Tensor pm = Tensor::empty({nsplit, B}, q.dtype(), dev), ps = Tensor::empty({nsplit, B}, q.dtype(), dev);
    EMBER_LAUNCH(lse_partial_kernel<T>, dim3(static_cast<unsigned>(qt), static_cast<unsigned>(nsplit)), kThreads, 0,
                 0, q.data<T>(), c.data<T>(), positives.data<int64_t>(), pmask, plq, B, M, d, P,
                 static_cast<T>(inv_tau), per_split, pm.data<T>(), ps.data<T>());
    EMBER_LAUNCH(lse_finalize_kernel<T>, warp_blocks(B), kThreads, 0, 0, pm.data<T>(), ps.data<T>(), nsplit,
                 q.data<T>(), c.data<T>(), positives.data<int64_t>(), plq, B, d, P, static_cast<T>(inv_tau),
                 lse.data<T>(), loss_rows.data<double>());
    EMBER_LAUNCH(mean_kernel<T>, 1, 1024, 0, 0, loss_rows.data<double>(), B, out.data<T>());
  });
}

void retrieval_ce_backward(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                           const Tensor& log_q, double inv_tau, const Tensor& lse, const Tensor& gout,
                           const RetrievalPairsByCandidate& pairs, Tensor& dq, Tensor& dc) {
  const int64_t B = q.size(0), M = c.size(0), d = q.size(1), P = positives.size(1);
  const int64_t qt = (B + kTile - 1) / kTile, ct = (M + kTile - 1) / kTile;
  const unsigned dchunks = static_cast<unsigned>((d + kDV - 1) / kDV);
  const double mult = inv_tau / static_cast<double>(B);
  const Device dev = q.device();
  const int32_t* pmask = mask.defined() ? mask.data<int32_t>() : nullptr;
  const int64_t* ppos = positives.data<int64_t>();
  EMBER_FLOAT_SWITCH(q.dtype(), T, {
    const T* plq = log_q.defined() ? log_q.data<T>() : nullptr;
    const T tau_inv = static_cast<T>(inv_tau);
    if (dq.defined()) {
      int64_t nsplit = 1, per_split = 1;
      splits_for(qt, ct, nsplit, per_split);
      Tensor part = Tensor::empty({nsplit, B, d}, q.dtype(), dev);
      auto gq = grad_kernel<T, false>;
      EMBER_LAUNCH(gq, dim3(static_cast<unsigned>(qt), static_cast<unsigned>(nsplit), dchunks), kThreads, 0, 0,
                   q.data<T>(), B, c.data<T>(), M, d, ppos, pmask, plq, lse.data<T>(), M, P, tau_inv,
                   gout.data<T>(), mult, per_split, part.data<T>());
      EMBER_LAUNCH(dq_combine_kernel<T>, grid_for(B * d, kThreads), kThreads, 0, 0, part.data<T>(), nsplit,
                   c.data<T>(), ppos, B, d, P, gout.data<T>(), mult, dq.data<T>());
    }
    if (dc.defined()) {
      auto gc = grad_kernel<T, true>;
      EMBER_LAUNCH(gc, dim3(static_cast<unsigned>(ct), 1u, dchunks), kThreads, 0, 0, c.data<T>(), M, q.data<T>(), B,
                   d, ppos, pmask, plq, lse.data<T>(), M, P, tau_inv, gout.data<T>(), mult, qt, dc.data<T>());
      const int64_t nseg = pairs.seg_cand.numel();
      if (nseg > 0)
        EMBER_LAUNCH(dc_positive_kernel<T>, warp_blocks(nseg), kThreads, 0, 0, pairs.seg_ptr.data<int64_t>(),
                     pairs.seg_cand.data<int64_t>(), pairs.seg_query.data<int64_t>(),
                     pairs.seg_weight.data<double>(), nseg, q.data<T>(), d, gout.data<T>(), mult, dc.data<T>());
    }
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
