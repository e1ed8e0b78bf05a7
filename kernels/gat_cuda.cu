// CUDA kernels for kernels/gat.h (sparse GAT attention), also run under the
// kernel emulator.
//
// Work decomposition (power-law degrees):
//   * light rows (degree <= kGatHeavyDegree): one warp per row, kWarps rows
//     per block. Degree-1 rows cost one 32-edge step.
//   * heavy rows (degree > kGatHeavyDegree, listed once per graph in
//     GatGraphView::heavy / t_heavy): one block of kHeavyWarps warps per
//     row; warp w takes the w-th contiguous slice of the row, and the
//     per-warp partials are merged in warp order through shared memory.
// Inside a warp, lanes own feature columns (column = tile + 32 v + lane, v <
// V, tiles of 32 V columns): loads of a neighbour's row are coalesced. The
// row's edges are walked in chunks of 32: lane k computes the attention
// weights of edge k of the chunk for every head and stages them (with the
// neighbour id) in shared memory, then the whole warp accumulates the 32
// neighbour rows.
//
// Forward: softmax statistics per (row, head) first (lanes over edges,
// online max/sum merged by butterfly), then the aggregation with the final
// weights: no [E, H, F] tensor, no atomics; only lse [N, H] is stored.
// Backward, deterministic (no atomics):
//   pass 1 (destination rows): d out_i / d alpha~_ij = <g_ih, Wh_jh> per edge
//     and head (a warp reduction per edge and head) into the [E, H] buffer,
//     c_ih = sum_j alpha~ <g, Wh_j>; then each entry becomes the gradient of
//     the pre-activation score, and their row sums give d d_i.
//   pass 2 (source rows of the transposed CSR): dWh_j = sum over out-edges of
//     alpha~_ij g_i, plus ds_j a_src + dd_j a_dst; ds_j is the sum of the
//     buffer over j's out-edges.
//   pass 3: d a_src, d a_dst as fixed node-block partials (double) summed in
//     block order.
#include <algorithm>
#include <type_traits>

#include "kernels/block_reduce.cuh"
#include "kernels/common.cuh"
#include "kernels/gat.h"

namespace ember {
namespace EMBER_KERNEL_NS {
namespace {

constexpr int kWarps = 8;          // light kernels: rows (warps) per block
constexpr int kHeavyWarps = 16;    // heavy kernels: warps per block (one row)
constexpr int kChunk = 32;         // edges staged per step
constexpr int kAttBlocks = 256;    // pass 3: at most this many node blocks
constexpr int kAttThreads = 256;

struct Geo {
  int64_t n;      // nodes
  int H, F, HF, O;
  double slope;
  double p;       // dropout rate
  uint64_t seed, stream;
};

Geo make_geo(const GatParams& p, int64_t n) {
  Geo g;
  g.n = n;
  g.H = static_cast<int>(p.heads);
  g.F = static_cast<int>(p.features);
  g.HF = static_cast<int>(p.in_cols());
  g.O = static_cast<int>(p.out_cols());
  g.slope = p.negative_slope;
  g.p = p.dropout;
  g.seed = p.seed;
  g.stream = p.stream;
  return g;
}

// Shared-memory carving. Per warp: stage [kChunk * H] T (staged attention
// weights), small [3 H] T (per-row values), idx [kChunk] int32 (staged node
// ids). Heavy kernels add: part [warps * 32 V] T (tile partials),
// wpart [warps * 2 H] T, bh [3 H] T (block-wide per-row values), red [32] T.
template <class T>
struct Smem {
  T* stage;
  T* small;
  T* smalls;  // small of warp 0 (warp w's is smalls + 3 H w)
  T* part;
  T* wpart;
  T* bh;
  T* red;
  int32_t* idx;
};

__host__ __device__ inline size_t smem_elems(int warps, int H, int V, bool heavy) {
  size_t t = static_cast<size_t>(warps) * (kChunk * H + 3 * H);
  if (heavy) t += static_cast<size_t>(warps) * 32 * V + static_cast<size_t>(warps) * 2 * H + 3 * H + 32;
  return t;
}

template <class T>
size_t smem_bytes(int warps, int H, int V, bool heavy) {
  return smem_elems(warps, H, V, heavy) * sizeof(T) + static_cast<size_t>(warps) * kChunk * sizeof(int32_t);
}

template <class T>
__device__ __forceinline__ Smem<T> carve(unsigned char* raw, int warps, int H, int V, bool heavy, int warp) {
  T* base = reinterpret_cast<T*>(raw);
  Smem<T> s;
  s.stage = base + static_cast<size_t>(warp) * kChunk * H;
  T* p = base + static_cast<size_t>(warps) * kChunk * H;
  s.smalls = p;
  s.small = p + static_cast<size_t>(warp) * 3 * H;
  p += static_cast<size_t>(warps) * 3 * H;
  s.part = s.wpart = s.bh = s.red = nullptr;
  if (heavy) {
    s.part = p;
    p += static_cast<size_t>(warps) * 32 * V;
    s.wpart = p;
    p += static_cast<size_t>(warps) * 2 * H;
    s.bh = p;
    p += 3 * H;
    s.red = p;
  }
  s.idx = reinterpret_cast<int32_t*>(base + smem_elems(warps, H, V, heavy)) + warp * kChunk;
  return s;
}

// Dropout multiplier of (edge, head).
template <class T>
__device__ __forceinline__ T drop_scale(const Geo& g, int64_t e, int h) {
  return gat_math::dropout_scale<T>(g.seed, g.stream, e, g.H, h, g.p);
}

// Online softmax statistics of head h over edges [b, e) of destination i,
// lanes strided; merged over the warp (every lane gets the result).
template <class T>
__device__ __forceinline__ void warp_stats(const int32_t* __restrict__ col, const T* __restrict__ s, T di, int h,
                                           int H, T slope, int64_t b, int64_t e, int lane, T& m, T& l) {
  m = T(-INFINITY);
  l = T(0);
  for (int64_t k = b + lane; k < e; k += 32) {
    const T x = gat_math::leaky_relu(s[static_cast<int64_t>(col[k]) * H + h] + di, slope);
    gat_math::softmax_push(m, l, x);
  }
  for (int off = 16; off > 0; off >>= 1) {
    const T m2 = __shfl_xor_sync(0xffffffffu, m, off);
    const T l2 = __shfl_xor_sync(0xffffffffu, l, off);
    gat_math::softmax_merge(m, l, m2, l2);
  }
}

// Forward aggregation of edges [b, e) of destination i into acc (one tile of
// output columns). lse_d: [0, H) the row's lse, [H, 2H) its d scores.
template <class T, int V, bool kConcat>
__device__ __forceinline__ void warp_aggregate(const Geo& g, int64_t i, int64_t b, int64_t e,
                                               const int32_t* __restrict__ col, const T* __restrict__ wh,
                                               const T* __restrict__ s, const T* lse_d, int tile, T (&acc)[V],
                                               T* stage, int32_t* idx, int lane) {
  const int H = g.H, F = g.F, HF = g.HF, O = g.O;
  const T slope = static_cast<T>(g.slope);
  int ocol[V], ohead[V];
  bool valid[V];
#pragma unroll
  for (int v = 0; v < V; ++v) {
    const int o = tile + v * 32 + lane;
    valid[v] = o < O;
    ocol[v] = o;                          // concat: input column == output column
    ohead[v] = kConcat ? (valid[v] ? o / F : 0) : 0;
  }
  for (int64_t base = b; base < e; base += kChunk) {
    const int n = static_cast<int>(e - base < kChunk ? e - base : kChunk);
    __syncwarp();  // the previous chunk's readers are done
    if (lane < n) {
      const int64_t ed = base + lane;
      const int32_t j = col[ed];
      idx[lane] = j;
      for (int h = 0; h < H; ++h) {
        const T x = gat_math::leaky_relu(s[static_cast<int64_t>(j) * H + h] + lse_d[H + h], slope);
        T a = exp(x - lse_d[h]);
        if (g.p > 0.0) a *= drop_scale<T>(g, ed, h);
        stage[lane * H + h] = a;
      }
    }
    __syncwarp();
#pragma unroll 4
    for (int t = 0; t < n; ++t) {  // unrolled: several neighbour rows in flight per lane
      const T* wj = wh + static_cast<int64_t>(idx[t]) * HF;
      const T* at = stage + t * H;
#pragma unroll
      for (int v = 0; v < V; ++v) {
        if (!valid[v]) continue;
        if (kConcat) {
          acc[v] += at[ohead[v]] * wj[ocol[v]];
        } else {
          for (int h = 0; h < H; ++h) acc[v] += at[h] * wj[h * F + ocol[v]];
        }
      }
    }
  }
  __syncwarp();
}

// ---- forward -----------------------------------------------------------------

template <class T, int V, bool kConcat>
__global__ void fwd_light_kernel(const int64_t* __restrict__ row_ptr, const int32_t* __restrict__ col,
                                 const T* __restrict__ wh, const T* __restrict__ s, const T* __restrict__ d, Geo g,
                                 T* __restrict__ out, T* __restrict__ lse) {
  EMBER_DYNAMIC_SHARED(unsigned char, raw);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t i = blockIdx.x * (int64_t)kWarps + warp;
  if (i >= g.n) return;  // whole warp
  const int64_t b = row_ptr[i], e = row_ptr[i + 1];
  if (e - b > kGatHeavyDegree) return;  // fwd_heavy_kernel's row
  Smem<T> sm = carve<T>(raw, kWarps, g.H, V, false, warp);
  const T slope = static_cast<T>(g.slope);
  for (int h = 0; h < g.H; ++h) {
    const T di = d[i * g.H + h];
    T m, l;
    warp_stats(col, s, di, h, g.H, slope, b, e, lane, m, l);
    const T ls = gat_math::softmax_lse(m, l);
    if (lane == 0) {
      lse[i * g.H + h] = ls;
      sm.small[h] = ls;
      sm.small[g.H + h] = di;
    }
  }
  __syncwarp();
  const T scale = kConcat ? T(1) : T(1) / static_cast<T>(g.H);
  for (int tile = 0; tile < g.O; tile += 32 * V) {
    T acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = T(0);
    warp_aggregate<T, V, kConcat>(g, i, b, e, col, wh, s, sm.small, tile, acc, sm.stage, sm.idx, lane);
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int o = tile + v * 32 + lane;
      if (o < g.O) out[i * g.O + o] = acc[v] * scale;
    }
  }
}

// Slice [sb, se) of row [b, e) for warp w of kHeavyWarps.
__device__ __forceinline__ void heavy_slice(int64_t b, int64_t e, int w, int64_t& sb, int64_t& se) {
  const int64_t per = (e - b + kHeavyWarps - 1) / kHeavyWarps;
  sb = b + w * per < e ? b + w * per : e;
  se = sb + per < e ? sb + per : e;
}

template <class T, int V, bool kConcat>
__global__ void __launch_bounds__(kHeavyWarps * 32, 1) fwd_heavy_kernel(const int32_t* __restrict__ heavy, const int64_t* __restrict__ row_ptr,
                                 const int32_t* __restrict__ col, const T* __restrict__ wh, const T* __restrict__ s,
                                 const T* __restrict__ d, Geo g, T* __restrict__ out, T* __restrict__ lse) {
  EMBER_DYNAMIC_SHARED(unsigned char, raw);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t i = heavy[blockIdx.x];
  const int64_t b = row_ptr[i], e = row_ptr[i + 1];
  Smem<T> sm = carve<T>(raw, kHeavyWarps, g.H, V, true, warp);
  const T slope = static_cast<T>(g.slope);
  int64_t sb, se;
  heavy_slice(b, e, warp, sb, se);
  for (int h = 0; h < g.H; ++h) {
    T m, l;
    warp_stats(col, s, d[i * g.H + h], h, g.H, slope, sb, se, lane, m, l);
    if (lane == 0) {
      sm.wpart[warp * 2 * g.H + 2 * h] = m;
      sm.wpart[warp * 2 * g.H + 2 * h + 1] = l;
    }
  }
  __syncthreads();
  for (int h = threadIdx.x; h < g.H; h += blockDim.x) {
    T m = T(-INFINITY), l = T(0);
    for (int w = 0; w < kHeavyWarps; ++w)
      gat_math::softmax_merge(m, l, sm.wpart[w * 2 * g.H + 2 * h], sm.wpart[w * 2 * g.H + 2 * h + 1]);
    const T ls = gat_math::softmax_lse(m, l);
    lse[i * g.H + h] = ls;
    sm.bh[h] = ls;
    sm.bh[g.H + h] = d[i * g.H + h];
  }
  __syncthreads();
  const T scale = kConcat ? T(1) : T(1) / static_cast<T>(g.H);
  for (int tile = 0; tile < g.O; tile += 32 * V) {
    T acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = T(0);
    warp_aggregate<T, V, kConcat>(g, i, sb, se, col, wh, s, sm.bh, tile, acc, sm.stage, sm.idx, lane);
#pragma unroll
    for (int v = 0; v < V; ++v) sm.part[warp * 32 * V + v * 32 + lane] = acc[v];
    __syncthreads();
    for (int t = threadIdx.x; t < 32 * V; t += blockDim.x) {
      const int o = tile + t;
      if (o >= g.O) continue;
      T sum = T(0);
      for (int w = 0; w < kHeavyWarps; ++w) sum += sm.part[w * 32 * V + t];
      out[i * g.O + o] = sum * scale;
    }
    __syncthreads();
  }
}

// ---- backward pass 1: destination rows ------------------------------------------

// Dots <g_ih, Wh_jh> of edges [b, e) of destination i for one tile of the H*F
// columns, into buf (written by the tile holding the head's first column,
// added by later ones); c[h] += alpha~ * dot (lane 0, in edge order).
// lse_d: [0, H) lse_i, [H, 2H) d_i.
template <class T, int V, bool kConcat>
__device__ __forceinline__ void warp_edge_dots(const Geo& g, int64_t i, int64_t b, int64_t e,
                                               const int32_t* __restrict__ col, const T* __restrict__ wh,
                                               const T* __restrict__ s, const T* __restrict__ gout,
                                               const T* lse_d, int tile, T* c, T* __restrict__ buf, T* stage,
                                               int32_t* idx, int lane) {
  const int H = g.H, F = g.F, HF = g.HF;
  const T slope = static_cast<T>(g.slope);
  const T inv_heads = kConcat ? T(1) : T(1) / static_cast<T>(H);
  T gv[V];
  int cc[V], hv[V];
  bool valid[V];
#pragma unroll
  for (int v = 0; v < V; ++v) {
    const int c_ = tile + v * 32 + lane;
    valid[v] = c_ < HF;
    cc[v] = c_;
    hv[v] = valid[v] ? c_ / F : -1;
    gv[v] = valid[v] ? gout[i * g.O + (kConcat ? c_ : c_ % F)] * inv_heads : T(0);
  }
  const int last = (tile + 32 * V < HF ? tile + 32 * V : HF) - 1;
  const int h_lo = tile / F, h_hi = last / F;
  for (int64_t base = b; base < e; base += kChunk) {
    const int n = static_cast<int>(e - base < kChunk ? e - base : kChunk);
    __syncwarp();
    if (lane < n) {
      const int64_t ed = base + lane;
      const int32_t j = col[ed];
      idx[lane] = j;
      for (int h = h_lo; h <= h_hi; ++h) {
        const T x = gat_math::leaky_relu(s[static_cast<int64_t>(j) * H + h] + lse_d[H + h], slope);
        T a = exp(x - lse_d[h]);
        if (g.p > 0.0) a *= drop_scale<T>(g, ed, h);
        stage[lane * H + h] = a;
      }
    }
    __syncwarp();
    for (int t = 0; t < n; ++t) {
      const T* wj = wh + static_cast<int64_t>(idx[t]) * HF;
      T prod[V];
#pragma unroll
      for (int v = 0; v < V; ++v) prod[v] = valid[v] ? gv[v] * wj[cc[v]] : T(0);
      const int64_t ed = base + t;
      for (int h = h_lo; h <= h_hi; ++h) {
        T part = T(0);
#pragma unroll
        for (int v = 0; v < V; ++v) part += hv[v] == h ? prod[v] : T(0);
        part = warp_reduce_sum(part);
        if (lane == 0) {
          T& slot = buf[ed * H + h];
          slot = h * F >= tile ? part : slot + part;
          c[h] += stage[t * H + h] * part;
        }
      }
    }
  }
  __syncwarp();
}

// Turns buf[e, h] (= <g, Wh_j>) into the pre-activation score gradient for
// edges [b, e) strided by `stride` from `first`; returns this thread's partial
// sum of them for head h. ch: c_ih, lh: lse_ih, dih: d_ih.
template <class T>
__device__ __forceinline__ T score_grads(const Geo& g, int h, int64_t first, int64_t e, int stride,
                                         const int32_t* __restrict__ col, const T* __restrict__ s, T dih, T lh,
                                         T ch, T* __restrict__ buf) {
  const T slope = static_cast<T>(g.slope);
  T part = T(0);
  for (int64_t k = first; k < e; k += stride) {
    const T x = s[static_cast<int64_t>(col[k]) * g.H + h] + dih;
    const T a = exp(gat_math::leaky_relu(x, slope) - lh);
    const T ks = g.p > 0.0 ? drop_scale<T>(g, k, h) : T(1);
    const T de = a * (ks * buf[k * g.H + h] - ch) * gat_math::leaky_relu_grad(x, slope);
    buf[k * g.H + h] = de;
    part += de;
  }
  return part;
}


template <class T, int V, bool kConcat>
__global__ void bwd1_light_kernel(const int64_t* __restrict__ row_ptr, const int32_t* __restrict__ col,
                                  const T* __restrict__ wh, const T* __restrict__ s, const T* __restrict__ d,
                                  const T* __restrict__ lse, const T* __restrict__ gout, Geo g, T* __restrict__ buf,
                                  T* __restrict__ dd) {
  EMBER_DYNAMIC_SHARED(unsigned char, raw);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t i = blockIdx.x * (int64_t)kWarps + warp;
  if (i >= g.n) return;
  const int64_t b = row_ptr[i], e = row_ptr[i + 1];
  if (e - b > kGatHeavyDegree) return;  // bwd1_heavy_kernel's row
  Smem<T> sm = carve<T>(raw, kWarps, g.H, V, false, warp);
  const int H = g.H;
  // small: [0, H) lse_i, [H, 2H) d_i, [2H, 3H) c_i.
  for (int h = lane; h < H; h += 32) {
    sm.small[h] = lse[i * H + h];
    sm.small[H + h] = d[i * H + h];
    sm.small[2 * H + h] = T(0);
  }
  __syncwarp();
  if (e > b)
    for (int tile = 0; tile < g.HF; tile += 32 * V)
      warp_edge_dots<T, V, kConcat>(g, i, b, e, col, wh, s, gout, sm.small, tile, sm.small + 2 * H, buf, sm.stage,
                                    sm.idx, lane);
  __syncwarp();
  for (int h = 0; h < H; ++h) {
    T part = score_grads(g, h, b + lane, e, 32, col, s, sm.small[H + h], sm.small[h], sm.small[2 * H + h], buf);
    part = warp_reduce_sum(part);
    if (lane == 0) dd[i * H + h] = part;
  }
}

template <class T, int V, bool kConcat>
__global__ void __launch_bounds__(kHeavyWarps * 32, 1) bwd1_heavy_kernel(const int32_t* __restrict__ heavy, const int64_t* __restrict__ row_ptr,
                                  const int32_t* __restrict__ col, const T* __restrict__ wh, const T* __restrict__ s,
                                  const T* __restrict__ d, const T* __restrict__ lse, const T* __restrict__ gout, Geo g,
                                  T* __restrict__ buf, T* __restrict__ dd) {
  EMBER_DYNAMIC_SHARED(unsigned char, raw);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t i = heavy[blockIdx.x];
  const int64_t b = row_ptr[i], e = row_ptr[i + 1];
  Smem<T> sm = carve<T>(raw, kHeavyWarps, g.H, V, true, warp);
  const int H = g.H;
  // bh: [0, H) lse_i, [H, 2H) d_i, [2H, 3H) c_i; each warp's small[2H..3H): its part of c.
  for (int h = threadIdx.x; h < H; h += blockDim.x) {
    sm.bh[h] = lse[i * H + h];
    sm.bh[H + h] = d[i * H + h];
  }
  for (int h = lane; h < H; h += 32) sm.small[2 * H + h] = T(0);
  __syncthreads();
  int64_t sb, se;
  heavy_slice(b, e, warp, sb, se);
  for (int tile = 0; tile < g.HF; tile += 32 * V)
    warp_edge_dots<T, V, kConcat>(g, i, sb, se, col, wh, s, gout, sm.bh, tile, sm.small + 2 * H, buf, sm.stage,
                                  sm.idx, lane);
  __syncthreads();
  for (int h = threadIdx.x; h < H; h += blockDim.x) {
    T c = T(0);
    for (int w = 0; w < kHeavyWarps; ++w) c += sm.smalls[w * 3 * H + 2 * H + h];
    sm.bh[2 * H + h] = c;
  }
  __syncthreads();
  for (int h = 0; h < H; ++h) {
    T part = score_grads(g, h, b + threadIdx.x, e, blockDim.x, col, s, sm.bh[H + h], sm.bh[h], sm.bh[2 * H + h], buf);
    part = block_reduce_sum(part, sm.red);
    if (threadIdx.x == 0) dd[i * H + h] = part;
  }
}

// ---- backward pass 2: source rows (transposed CSR) --------------------------------

// acc += sum over out-edges [b, e) of source j of alpha~_ij g_i, one tile of
// the H*F columns. sj: the row's s scores [H].
template <class T, int V, bool kConcat>
__device__ __forceinline__ void warp_gather_grads(const Geo& g, const int32_t* __restrict__ tdst,
                                                  const int32_t* __restrict__ teid, const T* __restrict__ d,
                                                  const T* __restrict__ lse, const T* __restrict__ gout, const T* sj,
                                                  int64_t b, int64_t e, int tile, T (&acc)[V], T* stage, int32_t* idx,
                                                  int lane) {
  const int H = g.H, F = g.F, HF = g.HF, O = g.O;
  const T slope = static_cast<T>(g.slope);
  const T inv_heads = kConcat ? T(1) : T(1) / static_cast<T>(H);
  int gcol[V], hv[V];
  bool valid[V];
#pragma unroll
  for (int v = 0; v < V; ++v) {
    const int c_ = tile + v * 32 + lane;
    valid[v] = c_ < HF;
    hv[v] = valid[v] ? c_ / F : 0;
    gcol[v] = kConcat ? c_ : (valid[v] ? c_ % F : 0);
  }
  const int last = (tile + 32 * V < HF ? tile + 32 * V : HF) - 1;
  const int h_lo = tile / F, h_hi = last / F;
  for (int64_t base = b; base < e; base += kChunk) {
    const int n = static_cast<int>(e - base < kChunk ? e - base : kChunk);
    __syncwarp();
    if (lane < n) {
      const int32_t i = tdst[base + lane];
      const int64_t ed = teid[base + lane];
      idx[lane] = i;
      for (int h = h_lo; h <= h_hi; ++h) {
        const T x = gat_math::leaky_relu(sj[h] + d[static_cast<int64_t>(i) * H + h], slope);
        T a = exp(x - lse[static_cast<int64_t>(i) * H + h]) * inv_heads;
        if (g.p > 0.0) a *= drop_scale<T>(g, ed, h);
        stage[lane * H + h] = a;
      }
    }
    __syncwarp();
#pragma unroll 4
    for (int t = 0; t < n; ++t) {
      const T* gr = gout + static_cast<int64_t>(idx[t]) * O;
      const T* at = stage + t * H;
#pragma unroll
      for (int v = 0; v < V; ++v)
        if (valid[v]) acc[v] += at[hv[v]] * gr[gcol[v]];
    }
  }
  __syncwarp();
}

template <class T, int V, bool kConcat>
__global__ void bwd2_light_kernel(const int64_t* __restrict__ t_row_ptr, const int32_t* __restrict__ tdst,
                                  const int32_t* __restrict__ teid, const T* __restrict__ s, const T* __restrict__ d,
                                  const T* __restrict__ lse, const T* __restrict__ gout, const T* __restrict__ buf,
                                  const T* __restrict__ dd, const T* __restrict__ att_src,
                                  const T* __restrict__ att_dst, Geo g, T* __restrict__ ds, T* __restrict__ gwh) {
  EMBER_DYNAMIC_SHARED(unsigned char, raw);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t j = blockIdx.x * (int64_t)kWarps + warp;
  if (j >= g.n) return;
  const int64_t b = t_row_ptr[j], e = t_row_ptr[j + 1];
  if (e - b > kGatHeavyDegree) return;  // bwd2_heavy_kernel's row
  Smem<T> sm = carve<T>(raw, kWarps, g.H, V, false, warp);
  const int H = g.H;
  // small: [0, H) ds_j, [H, 2H) dd_j, [2H, 3H) s_j.
  for (int h = 0; h < H; ++h) {
    T part = T(0);
    for (int64_t k = b + lane; k < e; k += 32) part += buf[static_cast<int64_t>(teid[k]) * H + h];
    part = warp_reduce_sum(part);
    if (lane == 0) {
      ds[j * H + h] = part;
      sm.small[h] = part;
      sm.small[H + h] = dd[j * H + h];
      sm.small[2 * H + h] = s[j * H + h];
    }
  }
  __syncwarp();
  for (int tile = 0; tile < g.HF; tile += 32 * V) {
    T acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = T(0);
    warp_gather_grads<T, V, kConcat>(g, tdst, teid, d, lse, gout, sm.small + 2 * H, b, e, tile, acc, sm.stage, sm.idx,
                                     lane);
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int c = tile + v * 32 + lane;
      if (c >= g.HF) continue;
      const int h = c / g.F;
      gwh[j * g.HF + c] = acc[v] + sm.small[h] * att_src[c] + sm.small[H + h] * att_dst[c];
    }
  }
}

template <class T, int V, bool kConcat>
__global__ void __launch_bounds__(kHeavyWarps * 32, 1) bwd2_heavy_kernel(const int32_t* __restrict__ t_heavy, const int64_t* __restrict__ t_row_ptr,
                                  const int32_t* __restrict__ tdst, const int32_t* __restrict__ teid,
                                  const T* __restrict__ s, const T* __restrict__ d, const T* __restrict__ lse,
                                  const T* __restrict__ gout, const T* __restrict__ buf, const T* __restrict__ dd,
                                  const T* __restrict__ att_src, const T* __restrict__ att_dst, Geo g,
                                  T* __restrict__ ds, T* __restrict__ gwh) {
  EMBER_DYNAMIC_SHARED(unsigned char, raw);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t j = t_heavy[blockIdx.x];
  const int64_t b = t_row_ptr[j], e = t_row_ptr[j + 1];
  Smem<T> sm = carve<T>(raw, kHeavyWarps, g.H, V, true, warp);
  const int H = g.H;
  // bh: [0, H) ds_j, [H, 2H) dd_j, [2H, 3H) s_j.
  for (int h = 0; h < H; ++h) {
    T part = T(0);
    for (int64_t k = b + threadIdx.x; k < e; k += blockDim.x) part += buf[static_cast<int64_t>(teid[k]) * H + h];
    part = block_reduce_sum(part, sm.red);
    if (threadIdx.x == 0) {
      ds[j * H + h] = part;
      sm.bh[h] = part;
      sm.bh[H + h] = dd[j * H + h];
      sm.bh[2 * H + h] = s[j * H + h];
    }
  }
  __syncthreads();
  int64_t sb, se;
  heavy_slice(b, e, warp, sb, se);
  for (int tile = 0; tile < g.HF; tile += 32 * V) {
    T acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = T(0);
    warp_gather_grads<T, V, kConcat>(g, tdst, teid, d, lse, gout, sm.bh + 2 * H, sb, se, tile, acc, sm.stage, sm.idx,
                                     lane);
#pragma unroll
    for (int v = 0; v < V; ++v) sm.part[warp * 32 * V + v * 32 + lane] = acc[v];
    __syncthreads();
    for (int t = threadIdx.x; t < 32 * V; t += blockDim.x) {
      const int c = tile + t;
      if (c >= g.HF) continue;
      T sum = T(0);
      for (int w = 0; w < kHeavyWarps; ++w) sum += sm.part[w * 32 * V + t];
      const int h = c / g.F;
      gwh[j * g.HF + c] = sum + sm.bh[h] * att_src[c] + sm.bh[H + h] * att_dst[c];
    }
    __syncthreads();
  }
}

// ---- scores and attention-vector gradients --------------------------------------

template <class T>
__global__ void scores_kernel(const T* __restrict__ wh, const T* __restrict__ att_src, const T* __restrict__ att_dst,
                              Geo g, T* __restrict__ s, T* __restrict__ d) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t i = blockIdx.x * (int64_t)kWarps + warp;
  if (i >= g.n) return;
  const T* w = wh + i * g.HF;
  for (int h = 0; h < g.H; ++h) {
    T a = T(0), b = T(0);
    for (int f = lane; f < g.F; f += 32) {
      a += w[h * g.F + f] * att_src[h * g.F + f];
      b += w[h * g.F + f] * att_dst[h * g.F + f];
    }
    a = warp_reduce_sum(a);
    b = warp_reduce_sum(b);
    if (lane == 0) {
      s[i * g.H + h] = a;
      d[i * g.H + h] = b;
    }
  }
}

// part[2 blk + 0 / 1, c] = sum over the block's nodes of ds / dd [node, head(c)] * Wh[node, c].
template <class T>
__global__ void att_partial_kernel(const T* __restrict__ wh, const T* __restrict__ ds, const T* __restrict__ dd, Geo g,
                                   int64_t per, double* __restrict__ part) {
  const int64_t lo = blockIdx.x * per;
  const int64_t hi = lo + per < g.n ? lo + per : g.n;
  for (int c = threadIdx.x; c < g.HF; c += blockDim.x) {
    const int h = c / g.F;
    double a = 0.0, b = 0.0;
    for (int64_t i = lo; i < hi; ++i) {
      const double w = static_cast<double>(wh[i * g.HF + c]);
      a += static_cast<double>(ds[i * g.H + h]) * w;
      b += static_cast<double>(dd[i * g.H + h]) * w;
    }
    part[(2 * static_cast<int64_t>(blockIdx.x)) * g.HF + c] = a;
    part[(2 * static_cast<int64_t>(blockIdx.x) + 1) * g.HF + c] = b;
  }
}

template <class T>
__global__ void att_final_kernel(const double* __restrict__ part, int nblocks, int HF, T* __restrict__ gas,
                                 T* __restrict__ gad) {
  for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < HF; c += gridDim.x * blockDim.x) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < nblocks; ++k) {
      a += part[(2 * static_cast<int64_t>(k)) * HF + c];
      b += part[(2 * static_cast<int64_t>(k) + 1) * HF + c];
    }
    gas[c] = static_cast<T>(a);
    gad[c] = static_cast<T>(b);
  }
}

// ---- launch helpers ------------------------------------------------------------------

// Columns per lane for a row of `cols` columns: tiles of 32 V columns.
int pick_v(int64_t cols) { return cols <= 64 ? 2 : (cols <= 128 ? 4 : 8); }

// Calls f(std::integral_constant<int, V>, std::integral_constant<bool, concat>).
template <class Fn>
void with_v_concat(int v, bool concat, Fn&& f) {
  using C1 = std::integral_constant<bool, true>;
  using C0 = std::integral_constant<bool, false>;
  switch (v) {
    case 2: concat ? f(std::integral_constant<int, 2>{}, C1{}) : f(std::integral_constant<int, 2>{}, C0{}); break;
    case 4: concat ? f(std::integral_constant<int, 4>{}, C1{}) : f(std::integral_constant<int, 4>{}, C0{}); break;
    default: concat ? f(std::integral_constant<int, 8>{}, C1{}) : f(std::integral_constant<int, 8>{}, C0{}); break;
  }
}

// Checks the dynamic shared memory of a launch and opts in above 48 KiB on a GPU.
template <class K>
void prepare_smem(K kernel, size_t bytes) {
  EMBER_CHECK(bytes <= 227 * 1024, "gat: a launch would need " << bytes
                                       << " bytes of shared memory (too many heads for the kernels)");
#if EMBER_REAL_CUDA
  if (bytes > 48 * 1024)
    EMBER_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
#else
  (void)kernel;
#endif
}

unsigned light_blocks(int64_t n) { return static_cast<unsigned>((n + kWarps - 1) / kWarps); }

}  // namespace

void gat_scores(const Tensor& wh, const Tensor& att_src, const Tensor& att_dst, const GatParams& p, Tensor& s,
                Tensor& d) {
  const int64_t n = wh.size(0);
  if (n == 0) return;
  const Geo g = make_geo(p, n);
  EMBER_FLOAT_SWITCH(wh.dtype(), T, {
    EMBER_LAUNCH(scores_kernel<T>, light_blocks(n), kWarps * 32, 0, 0, wh.data<T>(), att_src.data<T>(),
                 att_dst.data<T>(), g, s.data<T>(), d.data<T>());
  });
}

void gat_forward(const GatGraphView& gv, const Tensor& wh, const Tensor& s, const Tensor& d, const GatParams& p,
                 Tensor& out, Tensor& lse) {
  const int64_t n = gv.num_nodes;
  if (n == 0) return;
  const Geo g = make_geo(p, n);
  const int64_t nheavy = gv.heavy.defined() ? gv.heavy.numel() : 0;
  EMBER_FLOAT_SWITCH(wh.dtype(), T, {
    with_v_concat(pick_v(g.O), p.concat, [&](auto vt, auto ct) {
      constexpr int V = decltype(vt)::value;
      constexpr bool C = decltype(ct)::value;
      auto light = fwd_light_kernel<T, V, C>;
      const size_t lb = smem_bytes<T>(kWarps, g.H, V, false);
      prepare_smem(light, lb);
      EMBER_LAUNCH(light, light_blocks(n), kWarps * 32, lb, 0, gv.row_ptr.data<int64_t>(), gv.col.data<int32_t>(),
                   wh.data<T>(), s.data<T>(), d.data<T>(), g, out.data<T>(), lse.data<T>());
      if (nheavy > 0) {
        auto heavy = fwd_heavy_kernel<T, V, C>;
        const size_t hb = smem_bytes<T>(kHeavyWarps, g.H, V, true);
        prepare_smem(heavy, hb);
        EMBER_LAUNCH(heavy, static_cast<unsigned>(nheavy), kHeavyWarps * 32, hb, 0, gv.heavy.data<int32_t>(),
                     gv.row_ptr.data<int64_t>(), gv.col.data<int32_t>(), wh.data<T>(), s.data<T>(), d.data<T>(), g,
                     out.data<T>(), lse.data<T>());
      }
    });
  });
}

void gat_backward(const GatGraphView& gv, const Tensor& wh, const Tensor& att_src, const Tensor& att_dst,
                  const Tensor& s, const Tensor& d, const Tensor& lse, const Tensor& gout, const GatParams& p,
                  Tensor& gwh, Tensor& gatt_src, Tensor& gatt_dst) {
  const int64_t n = gv.num_nodes, E = gv.col.numel();
  const Geo g = make_geo(p, n);
  if (n == 0) {
    gatt_src.zero_();
    gatt_dst.zero_();
    return;
  }
  const Device dev = wh.device();
  Tensor buf = Tensor::empty({E * g.H}, wh.dtype(), dev);
  Tensor dd = Tensor::empty({n * g.H}, wh.dtype(), dev);
  Tensor ds = Tensor::empty({n * g.H}, wh.dtype(), dev);
  const int64_t nheavy = gv.heavy.defined() ? gv.heavy.numel() : 0;
  const int64_t ntheavy = gv.t_heavy.defined() ? gv.t_heavy.numel() : 0;
  EMBER_FLOAT_SWITCH(wh.dtype(), T, {
    with_v_concat(pick_v(g.HF), p.concat, [&](auto vt, auto ct) {
      constexpr int V = decltype(vt)::value;
      constexpr bool C = decltype(ct)::value;
      const size_t lb = smem_bytes<T>(kWarps, g.H, V, false);
      const size_t hb = smem_bytes<T>(kHeavyWarps, g.H, V, true);
      // Pass 1: destination rows.
      auto l1 = bwd1_light_kernel<T, V, C>;
      prepare_smem(l1, lb);
      EMBER_LAUNCH(l1, light_blocks(n), kWarps * 32, lb, 0, gv.row_ptr.data<int64_t>(), gv.col.data<int32_t>(),
                   wh.data<T>(), s.data<T>(), d.data<T>(), lse.data<T>(), gout.data<T>(), g, buf.data<T>(),
                   dd.data<T>());
      if (nheavy > 0) {
        auto h1 = bwd1_heavy_kernel<T, V, C>;
        prepare_smem(h1, hb);
        EMBER_LAUNCH(h1, static_cast<unsigned>(nheavy), kHeavyWarps * 32, hb, 0, gv.heavy.data<int32_t>(),
                     gv.row_ptr.data<int64_t>(), gv.col.data<int32_t>(), wh.data<T>(), s.data<T>(), d.data<T>(),
                     lse.data<T>(), gout.data<T>(), g, buf.data<T>(), dd.data<T>());
      }
      // Pass 2: source rows.
      auto l2 = bwd2_light_kernel<T, V, C>;
      prepare_smem(l2, lb);
      EMBER_LAUNCH(l2, light_blocks(n), kWarps * 32, lb, 0, gv.t_row_ptr.data<int64_t>(), gv.t_dst.data<int32_t>(),
                   gv.t_eid.data<int32_t>(), s.data<T>(), d.data<T>(), lse.data<T>(), gout.data<T>(), buf.data<T>(),
                   dd.data<T>(), att_src.data<T>(), att_dst.data<T>(), g, ds.data<T>(), gwh.data<T>());
      if (ntheavy > 0) {
        auto h2 = bwd2_heavy_kernel<T, V, C>;
        prepare_smem(h2, hb);
        EMBER_LAUNCH(h2, static_cast<unsigned>(ntheavy), kHeavyWarps * 32, hb, 0, gv.t_heavy.data<int32_t>(),
                     gv.t_row_ptr.data<int64_t>(), gv.t_dst.data<int32_t>(), gv.t_eid.data<int32_t>(), s.data<T>(),
                     d.data<T>(), lse.data<T>(), gout.data<T>(), buf.data<T>(), dd.data<T>(), att_src.data<T>(),
                     att_dst.data<T>(), g, ds.data<T>(), gwh.data<T>());
      }
    });
    // Pass 3: attention vectors.
    const int64_t nb = std::min<int64_t>(kAttBlocks, (n + 63) / 64);
    const int64_t per = (n + nb - 1) / nb;
    Tensor part = Tensor::empty({2 * nb * g.HF}, DType::F64, dev);
    EMBER_LAUNCH(att_partial_kernel<T>, static_cast<unsigned>(nb), kAttThreads, 0, 0, wh.data<T>(), ds.data<T>(),
                 dd.data<T>(), g, per, part.data<double>());
    EMBER_LAUNCH(att_final_kernel<T>, grid_for(g.HF, kAttThreads), kAttThreads, 0, 0, part.data<double>(),
                 static_cast<int>(nb), g.HF, gatt_src.data<T>(), gatt_dst.data<T>());
  });
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
