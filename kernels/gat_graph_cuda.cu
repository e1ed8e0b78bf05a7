// CUDA backend for kernels/gat_graph.h: message-graph construction on the GPU
// with CUB (DeviceRadixSort, DeviceScan) and small index kernels.
//
// build_message_csr: one 64-bit key per edge, ((dst * N + src) << 1) | added,
// where `added` marks the candidate self-loops (i, i) appended for every node;
// a radix sort orders by (dst, src) with an added loop after the original
// (i, i) edges, so "keep" flags decide locally: an added loop survives only
// when no original (i, i) precedes it, and with merge_duplicates only the
// first key of each (dst, src) run survives. An exclusive scan of the flags
// gives output positions; row_ptr[i] is a binary search (lower bound) of i in
// the sorted destinations. Everything is deterministic (integer work only; the
// validation uses an integer atomicMin to find the FIRST bad edge).
//
// transpose_message_csr: a stable radix sort of (source, edge index) pairs.
//
// Under the emulator (EMBER_REAL_CUDA == 0) CUB's device-wide algorithms are
// not available: the CPU implementation runs on the EMU tensors directly.
#include "kernels/common.cuh"
#include "kernels/gat_graph.h"

#if EMBER_REAL_CUDA
#include <climits>

#include <cub/cub.cuh>
#endif

namespace ember {
namespace EMBER_KERNEL_NS {

#if EMBER_REAL_CUDA
namespace {

constexpr unsigned kThreads = 256;

template <class I>
__global__ void check_ids_kernel(const I* __restrict__ src, const I* __restrict__ dst, int64_t E,
                                 int64_t N, unsigned long long* __restrict__ first_bad) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < E; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t s = static_cast<int64_t>(src[e]), d = static_cast<int64_t>(dst[e]);
    if (s < 0 || s >= N || d < 0 || d >= N) atomicMin(first_bad, static_cast<unsigned long long>(e));
  }
}

template <class I>
__global__ void make_keys_kernel(const I* __restrict__ src, const I* __restrict__ dst, int64_t E, int64_t N,
                                 int64_t M, unsigned long long* __restrict__ keys) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < M; k += (int64_t)gridDim.x * blockDim.x) {
    if (k < E) {
      const unsigned long long s = static_cast<unsigned long long>(src[k]);
      const unsigned long long d = static_cast<unsigned long long>(dst[k]);
      keys[k] = (d * static_cast<unsigned long long>(N) + s) << 1;
    } else {
      const unsigned long long i = static_cast<unsigned long long>(k - E);
      keys[k] = ((i * static_cast<unsigned long long>(N) + i) << 1) | 1ull;
    }
  }
}

__global__ void keep_flags_kernel(const unsigned long long* __restrict__ keys, int64_t M, bool merge,
                                  int32_t* __restrict__ flags) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < M; k += (int64_t)gridDim.x * blockDim.x) {
    const unsigned long long pair = keys[k] >> 1;
    const bool added = (keys[k] & 1ull) != 0;
    const bool prev_same = k > 0 && (keys[k - 1] >> 1) == pair;
    flags[k] = (merge ? !prev_same : (!added || !prev_same)) ? 1 : 0;
  }
}

__global__ void compact_kernel(const unsigned long long* __restrict__ keys, const int32_t* __restrict__ flags,
                               const int32_t* __restrict__ pos, int64_t M, int64_t N, int32_t* __restrict__ col,
                               int32_t* __restrict__ cdst) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < M; k += (int64_t)gridDim.x * blockDim.x) {
    if (!flags[k]) continue;
    const unsigned long long pair = keys[k] >> 1;
    const int32_t p = pos[k];
    col[p] = static_cast<int32_t>(pair % static_cast<unsigned long long>(N));
    cdst[p] = static_cast<int32_t>(pair / static_cast<unsigned long long>(N));
  }
}

// row_ptr[i] = first position whose key is >= i (i in [0, N]).
template <class K>
__global__ void lower_bound_kernel(const K* __restrict__ sorted, int64_t M, int64_t N, int64_t* __restrict__ row_ptr) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i <= N; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t lo = 0, hi = M;
    while (lo < hi) {
      const int64_t mid = (lo + hi) >> 1;
      if (static_cast<int64_t>(sorted[mid]) < i) lo = mid + 1;
      else hi = mid;
    }
    row_ptr[i] = lo;
  }
}

// edst[e] = the row containing edge e; eid[e] = e.
__global__ void edge_rows_kernel(const int64_t* __restrict__ row_ptr, int64_t N, int64_t E, int32_t* __restrict__ edst,
                                 int32_t* __restrict__ eid) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < E; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t lo = 0, hi = N;  // last i with row_ptr[i] <= e
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) >> 1;
      if (row_ptr[mid] <= e) lo = mid;
      else hi = mid;
    }
    edst[e] = static_cast<int32_t>(lo);
    eid[e] = static_cast<int32_t>(e);
  }
}

__global__ void gather_i32_kernel(const int32_t* __restrict__ table, const int32_t* __restrict__ idx, int64_t n,
                                  int32_t* __restrict__ out) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x)
    out[k] = table[idx[k]];
}

Tensor temp_bytes(size_t bytes) {
  return Tensor::empty({static_cast<int64_t>((bytes + 7) / 8) + 1}, DType::I64, Device::CUDA);
}

int bits_for(unsigned long long max_value) {
  int b = 0;
  while (b < 64 && (max_value >> b) != 0ull) ++b;
  return b < 1 ? 1 : b;
}

}  // namespace

void build_message_csr(const Tensor& src_in, const Tensor& dst_in, int64_t N, bool add_self_loops,
                       bool merge_duplicates, Tensor& row_ptr, Tensor& col) {
  EMBER_CHECK(N >= 0, "build_message_graph: negative node count " << N);
  EMBER_CHECK(N < INT32_MAX, "build_message_graph: " << N << " nodes do not fit int32 ids");
  EMBER_CHECK(src_in.dim() == 1 && dst_in.dim() == 1,
              "build_message_graph: src and dst must be 1-D, got " << src_in.describe() << " and " << dst_in.describe());
  EMBER_CHECK(src_in.numel() == dst_in.numel(), "build_message_graph: inconsistent sizes: " << src_in.numel()
                                                    << " sources but " << dst_in.numel() << " destinations");
  EMBER_CHECK(src_in.dtype() == dst_in.dtype(), "build_message_graph: src and dst dtypes differ ("
                                                    << dtype_name(src_in.dtype()) << " vs " << dtype_name(dst_in.dtype()) << ")");
  const int64_t E = src_in.numel();
  EMBER_CHECK(E + N < INT32_MAX, "build_message_graph: " << E << " edges + " << N
                                                         << " self-loops exceed the int32 edge index");
  Tensor src = src_in.contiguous(), dst = dst_in.contiguous();
  const int64_t M = E + (add_self_loops ? N : 0);
  row_ptr = Tensor::zeros({N + 1}, DType::I64, Device::CUDA);
  if (M == 0) {
    col = Tensor::empty({0}, DType::I32, Device::CUDA);
    return;
  }
  Tensor keys = Tensor::empty({M}, DType::I64, Device::CUDA);
  auto* pkeys = reinterpret_cast<unsigned long long*>(keys.data<int64_t>());
  EMBER_INDEX_SWITCH(src.dtype(), I, {
    if (E > 0) {
      Tensor bad = Tensor::full({1}, static_cast<double>(E), DType::I64, Device::CUDA);
      EMBER_LAUNCH(check_ids_kernel<I>, grid_for(E, kThreads), kThreads, 0, 0, src.data<I>(), dst.data<I>(), E, N,
                   reinterpret_cast<unsigned long long*>(bad.data<int64_t>()));
      const int64_t e = bad.item<int64_t>({0});
      if (e < E) {
        const int64_t s = static_cast<int64_t>(src.item<I>({e})), d = static_cast<int64_t>(dst.item<I>({e}));
        if (s < 0 || s >= N)
          EMBER_FAIL("build_message_graph: edge " << e << " has source id " << s << " outside [0, " << N << ")");
        EMBER_FAIL("build_message_graph: edge " << e << " has destination id " << d << " outside [0, " << N << ")");
      }
    }
    EMBER_LAUNCH(make_keys_kernel<I>, grid_for(M, kThreads), kThreads, 0, 0, src.data<I>(), dst.data<I>(), E, N, M,
                 pkeys);
  });
  // Sort by (dst, src, added).
  Tensor sorted = Tensor::empty({M}, DType::I64, Device::CUDA);
  auto* psorted = reinterpret_cast<unsigned long long*>(sorted.data<int64_t>());
  const unsigned long long max_key = ((static_cast<unsigned long long>(N) * N) << 1) | 1ull;
  const int end_bit = bits_for(max_key);
  size_t bytes = 0;
  EMBER_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, pkeys, psorted, static_cast<int>(M), 0, end_bit));
  {
    Tensor tmp = temp_bytes(bytes);
    EMBER_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(tmp.raw_data(), bytes, pkeys, psorted, static_cast<int>(M), 0, end_bit));
  }
  keys = Tensor();
  Tensor flags = Tensor::empty({M}, DType::I32, Device::CUDA);
  Tensor pos = Tensor::empty({M}, DType::I32, Device::CUDA);
  EMBER_LAUNCH(keep_flags_kernel, grid_for(M, kThreads), kThreads, 0, 0, psorted, M, merge_duplicates,
               flags.data<int32_t>());
  bytes = 0;
  EMBER_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, flags.data<int32_t>(), pos.data<int32_t>(),
                                                 static_cast<int>(M)));
  {
    Tensor tmp = temp_bytes(bytes);
    EMBER_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(tmp.raw_data(), bytes, flags.data<int32_t>(), pos.data<int32_t>(),
                                                   static_cast<int>(M)));
  }
  const int64_t kept = static_cast<int64_t>(pos.item<int32_t>({M - 1})) + flags.item<int32_t>({M - 1});
  col = Tensor::empty({kept}, DType::I32, Device::CUDA);
  Tensor cdst = Tensor::empty({kept}, DType::I32, Device::CUDA);
  EMBER_LAUNCH(compact_kernel, grid_for(M, kThreads), kThreads, 0, 0, psorted, flags.data<int32_t>(),
               pos.data<int32_t>(), M, N, col.data<int32_t>(), cdst.data<int32_t>());
  EMBER_LAUNCH(lower_bound_kernel<int32_t>, grid_for(N + 1, kThreads), kThreads, 0, 0, cdst.data<int32_t>(), kept, N,
               row_ptr.data<int64_t>());
}

void transpose_message_csr(const Tensor& row_ptr, const Tensor& col, int64_t N, Tensor& t_row_ptr, Tensor& t_dst,
                           Tensor& t_eid) {
  const int64_t E = col.numel();
  t_row_ptr = Tensor::zeros({N + 1}, DType::I64, Device::CUDA);
  t_dst = Tensor::empty({E}, DType::I32, Device::CUDA);
  t_eid = Tensor::empty({E}, DType::I32, Device::CUDA);
  if (E == 0) return;
  Tensor edst = Tensor::empty({E}, DType::I32, Device::CUDA);
  Tensor eid = Tensor::empty({E}, DType::I32, Device::CUDA);
  EMBER_LAUNCH(edge_rows_kernel, grid_for(E, kThreads), kThreads, 0, 0, row_ptr.data<int64_t>(), N, E,
               edst.data<int32_t>(), eid.data<int32_t>());
  Tensor tkeys = Tensor::empty({E}, DType::I32, Device::CUDA);
  auto* kin = reinterpret_cast<const unsigned*>(col.data<int32_t>());
  auto* kout = reinterpret_cast<unsigned*>(tkeys.data<int32_t>());
  const int end_bit = bits_for(static_cast<unsigned long long>(N > 0 ? N - 1 : 0));
  size_t bytes = 0;
  EMBER_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin, kout, eid.data<int32_t>(),
                                                   t_eid.data<int32_t>(), static_cast<int>(E), 0, end_bit));
  {
    Tensor tmp = temp_bytes(bytes);
    EMBER_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(tmp.raw_data(), bytes, kin, kout, eid.data<int32_t>(),
                                                     t_eid.data<int32_t>(), static_cast<int>(E), 0, end_bit));
  }
  EMBER_LAUNCH(gather_i32_kernel, grid_for(E, kThreads), kThreads, 0, 0, edst.data<int32_t>(),
               t_eid.data<int32_t>(), E, t_dst.data<int32_t>());
  EMBER_LAUNCH(lower_bound_kernel<unsigned>, grid_for(N + 1, kThreads), kThreads, 0, 0, kout, E, N,
               t_row_ptr.data<int64_t>());
}

#else  // emulated build: the CPU implementation on host (EMU) memory

void build_message_csr(const Tensor& src, const Tensor& dst, int64_t num_nodes, bool add_self_loops,
                       bool merge_duplicates, Tensor& row_ptr, Tensor& col) {
  cpu::build_message_csr(src, dst, num_nodes, add_self_loops, merge_duplicates, row_ptr, col);
}

void transpose_message_csr(const Tensor& row_ptr, const Tensor& col, int64_t num_nodes, Tensor& t_row_ptr,
                           Tensor& t_dst, Tensor& t_eid) {
  cpu::transpose_message_csr(row_ptr, col, num_nodes, t_row_ptr, t_dst, t_eid);
}

#endif

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
