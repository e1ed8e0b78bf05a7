// The kernel emulator: runs the hand-written CUDA kernels (kernels/*_cuda.cu)
// on the CPU, compiled by the host compiler with EMBER_EMULATED defined.
//
// Included (only) through kernels/common.cuh in the emulated build. It supplies
// the subset of the CUDA device language the kernels use: dim3 / threadIdx /
// blockIdx / blockDim / gridDim, __syncthreads, warp shuffles and votes,
// atomics, a few intrinsics, float2/float4. See docs/architecture.md,
// section "Kernel emulator".
//
// Execution model:
//   * launch() runs the grid on the calling OS thread, one block at a time
//     (in order, or in a seeded random order, see Options).
//   * The threads of a block are cooperative fibers (one stack each, pooled
//     per OS thread, a guard page below each). A fiber runs until it reaches a
//     barrier, a warp collective (shuffle / vote / __syncwarp), an atomic
//     preemption point (only with Options::shuffle_warps) or the end of the
//     kernel, then switches straight to the next ready fiber. Warps are 32
//     consecutive linear thread ids; lanes are scheduled independently
//     (Volta "independent thread scheduling").
//   * __syncthreads() waits for every non-exited thread of the block at the
//     SAME __syncthreads (same file:line). Different call sites, or a barrier
//     some threads can never reach, throw ember::Error from launch() naming
//     the kernel, block and threads.
//   * A warp collective completes when every lane of its mask waits in a
//     collective of the same kind with the same mask (any call site, as in
//     PTX). A mask without the calling lane, or naming a lane that does not
//     exist, has exited, waits at __syncthreads, or waits in another
//     collective that needs the caller, throws. Nothing hangs: if no thread
//     can run, launch() throws with a description of every waiting thread.
//   * __shared__ is `static thread_local`: the variable is shared by the
//     fibers of the block that runs on this OS thread, and blocks on one OS
//     thread run one after another. Static __shared__ arrays are NOT reset
//     between blocks (they keep the previous block's values); dynamic shared
//     memory (EMBER_DYNAMIC_SHARED) is filled with 0xFF bytes (NaN / -1)
//     before every block so uninitialised reads show up.
//   * Exceptions thrown by kernel code surface from launch(); ember::Error
//     messages get the kernel / block / thread appended.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "core/error.h"

// Kernel sources use `#pragma unroll`, which g++ does not know.
#pragma GCC diagnostic ignored "-Wunknown-pragmas"

// ---- CUDA vector and index types ----------------------------------------------------
// Declared in a namespace of their own and brought into the global namespace
// with using-declarations: kernel code says `dim3` as in CUDA, while the
// linker never sees two different definitions of ::dim3 (nvcc-compiled TUs of
// the same library have CUDA's own).
namespace ember {
namespace emu {
namespace cuda_types_ {
struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) double2 { double x, y; };
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline double2 make_double2(double x, double y) { return double2{x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }

}  // namespace cuda_types_
}  // namespace emu
}  // namespace ember
using ember::emu::cuda_types_::dim3;
using ember::emu::cuda_types_::double2;
using ember::emu::cuda_types_::float2;
using ember::emu::cuda_types_::float4;
using ember::emu::cuda_types_::int2;
using ember::emu::cuda_types_::int4;
using ember::emu::cuda_types_::make_double2;
using ember::emu::cuda_types_::make_float2;
using ember::emu::cuda_types_::make_float4;
using ember::emu::cuda_types_::make_int2;
using ember::emu::cuda_types_::make_int4;
using ember::emu::cuda_types_::make_uint3;
using ember::emu::cuda_types_::uint3;

// Streams do not exist in the emulator; EMBER_LAUNCH drops the argument.
using cudaStream_t = struct ember_emu_stream_*;

constexpr int warpSize = 32;

// ---- declaration specifiers ---------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
// One block runs at a time per OS thread, so a thread_local static is exactly
// "one instance per running block". Not reset between blocks (see above).
#define __shared__ static thread_local

namespace ember {
namespace emu {

// Test-only process state: how launch() orders blocks and fibers.
// Default: blocks in order, fibers in a fixed deterministic order.
// The environment variable EMBER_EMU_SEED=<n> (read once, at the first use)
// turns on shuffle_blocks and shuffle_warps with seed n.
struct Options {
  bool shuffle_blocks = false;  // run blocks in a seeded random order
  bool shuffle_warps = false;   // seeded random choice of the next ready fiber, and
                                // random preemption at atomics / __threadfence
  uint64_t seed = 0;
  int max_threads_per_block = 1024;
#if defined(__SANITIZE_ADDRESS__)
  size_t stack_bytes = 512 * 1024;  // per fiber (ASan frames are larger)
#else
  size_t stack_bytes = 128 * 1024;  // per fiber
#endif
};
void set_options(const Options& o);
Options options();

// Largest dynamic shared memory a launch may request (H100: 228 KiB).
constexpr size_t kMaxDynamicSharedBytes = 228 * 1024;

namespace detail {

// What kernel code can see of the running thread / block. Set by the
// scheduler before a fiber runs (one OS thread runs one fiber at a time).
struct ThreadCtx {
  uint3 thread_idx;
  unsigned linear;  // x + y*Dx + z*Dx*Dy
};
struct BlockCtx {
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned char* dynamic_shared;
  size_t dynamic_shared_bytes;
};
inline thread_local ThreadCtx* tls_thread = nullptr;
inline thread_local BlockCtx* tls_block = nullptr;

[[noreturn]] void outside_kernel(const char* what);

inline const ThreadCtx& thread_ctx(const char* what) {
  ThreadCtx* t = tls_thread;
  if (!t) outside_kernel(what);
  return *t;
}
inline const BlockCtx& block_ctx(const char* what) {
  BlockCtx* b = tls_block;
  if (!b || !tls_thread) outside_kernel(what);
  return *b;
}

// Type-erased kernel invocation: fn(ctx) runs the kernel once for the
// current fiber.
struct Thunk {
  void (*fn)(void* ctx);
  void* ctx;
};
void launch_impl(const char* name, dim3 grid, dim3 block, size_t shmem, Thunk thunk);

template <class To>
inline To implicit_cast(To v) {
  return v;
}

template <class Tuple, class... P>
struct KernelCall {
  void (*kernel)(P...);
  Tuple args;
  static void run(void* self) {
    auto* k = static_cast<KernelCall*>(self);
    // Each thread gets its own copy of the by-value parameters, as in CUDA.
    std::apply(k->kernel, static_cast<const Tuple&>(k->args));
  }
};

// Barrier / warp collectives (implemented in emu.cpp).
void syncthreads(const char* file, int line);
int syncthreads_reduce(int kind, int pred, const char* file, int line);  // 0 count, 1 and, 2 or

enum WarpOp : int {
  kShflIdx = 0,
  kShflUp,
  kShflDown,
  kShflXor,
  kBallot,
  kAny,
  kAll,
  kSyncWarp,
  kReduceAdd,
  kReduceMin,
  kReduceMax,
  kMatchAny,
};
// Returns the collective's result for this lane as raw bits; `bits` holds the
// lane's input (value bits, or the predicate for votes), `size` its byte size.
uint64_t warp_collective(int op, unsigned mask, uint64_t bits, int size, int param, int width,
                         const char* file, int line);
unsigned active_mask();
// Random preemption point (no-op unless Options::shuffle_warps).
void preempt_point();

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable<T>::value && (sizeof(T) == 4 || sizeof(T) == 8),
                "warp shuffles take 4- or 8-byte values");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace detail

// Runs `kernel` over grid x block threads. Throws ember::Error for a bad
// configuration, a barrier / warp-collective misuse, or any exception thrown
// by kernel code. `name` is the kernel's spelling (for messages).
template <class... P, class... A>
void launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t shmem, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "EMBER_LAUNCH: wrong number of kernel arguments");
  using Tuple = std::tuple<std::decay_t<P>...>;
  // Arguments convert implicitly to the parameter types, as in a CUDA launch.
  detail::KernelCall<Tuple, P...> call{kernel, Tuple(detail::implicit_cast<std::decay_t<P>>(std::forward<A>(args))...)};
  detail::launch_impl(name, grid, block, shmem,
                      detail::Thunk{&detail::KernelCall<Tuple, P...>::run, &call});
}

// Base of this block's dynamic shared memory (EMBER_DYNAMIC_SHARED).
inline void* dynamic_shared() { return detail::block_ctx("dynamic shared memory").dynamic_shared; }

}  // namespace emu
}  // namespace ember

// ---- built-in variables -------------------------------------------------------
#define threadIdx (::ember::emu::detail::thread_ctx("threadIdx").thread_idx)
#define blockIdx (::ember::emu::detail::block_ctx("blockIdx").block_idx)
#define blockDim (::ember::emu::detail::block_ctx("blockDim").block_dim)
#define gridDim (::ember::emu::detail::block_ctx("gridDim").grid_dim)

// ---- barriers and fences --------------------------------------------------------
#define __syncthreads() ::ember::emu::detail::syncthreads(__FILE__, __LINE__)
#define __syncthreads_count(pred) ::ember::emu::detail::syncthreads_reduce(0, (pred) ? 1 : 0, __FILE__, __LINE__)
#define __syncthreads_and(pred) ::ember::emu::detail::syncthreads_reduce(1, (pred) ? 1 : 0, __FILE__, __LINE__)
#define __syncthreads_or(pred) ::ember::emu::detail::syncthreads_reduce(2, (pred) ? 1 : 0, __FILE__, __LINE__)
inline void __threadfence() {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  ::ember::emu::detail::preempt_point();
}
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- warp shuffles and votes (macros, so misuse is reported with file:line) ----
namespace ember {
namespace emu {
namespace detail {
template <class T>
inline T shfl(int op, unsigned mask, T v, int param, int width, const char* file, int line) {
  return from_bits<T>(warp_collective(op, mask, to_bits(v), int(sizeof(T)), param, width, file, line));
}
}  // namespace detail
}  // namespace emu
}  // namespace ember

#define EMBER_EMU_SHFL_(op, mask, var, param, width, ...) \
  ::ember::emu::detail::shfl(op, (mask), (var), (param), (width), __FILE__, __LINE__)
#define __shfl_sync(mask, var, ...) EMBER_EMU_SHFL_(::ember::emu::detail::kShflIdx, mask, var, __VA_ARGS__, 32, 0)
#define __shfl_up_sync(mask, var, ...) EMBER_EMU_SHFL_(::ember::emu::detail::kShflUp, mask, var, __VA_ARGS__, 32, 0)
#define __shfl_down_sync(mask, var, ...) EMBER_EMU_SHFL_(::ember::emu::detail::kShflDown, mask, var, __VA_ARGS__, 32, 0)
#define __shfl_xor_sync(mask, var, ...) EMBER_EMU_SHFL_(::ember::emu::detail::kShflXor, mask, var, __VA_ARGS__, 32, 0)
#define __ballot_sync(mask, pred)                                                                        \
  static_cast<unsigned>(::ember::emu::detail::warp_collective(::ember::emu::detail::kBallot, (mask),      \
                                                              (pred) ? 1u : 0u, 4, 0, 32, __FILE__, __LINE__))
#define __any_sync(mask, pred)                                                                           \
  static_cast<int>(::ember::emu::detail::warp_collective(::ember::emu::detail::kAny, (mask), (pred) ? 1u : 0u, \
                                                         4, 0, 32, __FILE__, __LINE__))
#define __all_sync(mask, pred)                                                                           \
  static_cast<int>(::ember::emu::detail::warp_collective(::ember::emu::detail::kAll, (mask), (pred) ? 1u : 0u, \
                                                         4, 0, 32, __FILE__, __LINE__))
#define __syncwarp(...) ::ember::emu::detail::SyncWarp{__FILE__, __LINE__}(__VA_ARGS__)
#define __reduce_add_sync(mask, v) ::ember::emu::detail::reduce_sync_(::ember::emu::detail::kReduceAdd, (mask), (v), __FILE__, __LINE__)
#define __reduce_min_sync(mask, v) ::ember::emu::detail::reduce_sync_(::ember::emu::detail::kReduceMin, (mask), (v), __FILE__, __LINE__)
#define __reduce_max_sync(mask, v) ::ember::emu::detail::reduce_sync_(::ember::emu::detail::kReduceMax, (mask), (v), __FILE__, __LINE__)
#define __match_any_sync(mask, v)                                                                        \
  static_cast<unsigned>(::ember::emu::detail::warp_collective(::ember::emu::detail::kMatchAny, (mask),    \
                                                              ::ember::emu::detail::to_bits(v), int(sizeof(v)), \
                                                              0, 32, __FILE__, __LINE__))
inline unsigned __activemask() { return ::ember::emu::detail::active_mask(); }

namespace ember {
namespace emu {
namespace detail {
struct SyncWarp {
  const char* file;
  int line;
  void operator()(unsigned mask = 0xffffffffu) const { warp_collective(kSyncWarp, mask, 0, 4, 0, 32, file, line); }
};
template <class T>
inline T reduce_sync_(int op, unsigned mask, T v, const char* file, int line) {
  static_assert(std::is_same<T, int>::value || std::is_same<T, unsigned>::value,
                "__reduce_*_sync takes int or unsigned");
  return from_bits<T>(warp_collective(op, mask, to_bits(v), 4, std::is_signed<T>::value ? 1 : 0, 32, file, line));
}
}  // namespace detail
}  // namespace emu
}  // namespace ember

// ---- atomics (relaxed RMW on host memory; all return the old value) ----------
#define EMBER_EMU_ATOMIC_INT_(name, builtin)                                                      \
  inline int name(int* a, int v) { ::ember::emu::detail::preempt_point(); return builtin(a, v, __ATOMIC_RELAXED); } \
  inline unsigned name(unsigned* a, unsigned v) { ::ember::emu::detail::preempt_point(); return builtin(a, v, __ATOMIC_RELAXED); } \
  inline unsigned long long name(unsigned long long* a, unsigned long long v) {               \
    ::ember::emu::detail::preempt_point();                                                      \
    return builtin(a, v, __ATOMIC_RELAXED);                                                     \
  }
EMBER_EMU_ATOMIC_INT_(atomicAdd, __atomic_fetch_add)
EMBER_EMU_ATOMIC_INT_(atomicAnd, __atomic_fetch_and)
EMBER_EMU_ATOMIC_INT_(atomicOr, __atomic_fetch_or)
EMBER_EMU_ATOMIC_INT_(atomicXor, __atomic_fetch_xor)
EMBER_EMU_ATOMIC_INT_(atomicExch, __atomic_exchange_n)
#undef EMBER_EMU_ATOMIC_INT_
inline int atomicSub(int* a, int v) { ::ember::emu::detail::preempt_point(); return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
inline unsigned atomicSub(unsigned* a, unsigned v) { ::ember::emu::detail::preempt_point(); return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }

namespace ember {
namespace emu {
namespace detail {
template <class T, class F>
inline T atomic_update(T* addr, F f) {
  preempt_point();
  T old = __atomic_load_n(addr, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(addr, &old, f(old), false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
// Floating-point RMW through the integer representation.
template <class F, class I, class Op>
inline F atomic_float_update(F* addr, Op op) {
  static_assert(sizeof(F) == sizeof(I), "size");
  I* ia = reinterpret_cast<I*>(addr);
  I old_bits = atomic_update(ia, [&](I ob) {
    F o;
    std::memcpy(&o, &ob, sizeof(F));
    F n = op(o);
    I nb;
    std::memcpy(&nb, &n, sizeof(F));
    return nb;
  });
  F old;
  std::memcpy(&old, &old_bits, sizeof(F));
  return old;
}
}  // namespace detail
}  // namespace emu
}  // namespace ember

inline float atomicAdd(float* a, float v) {
  return ::ember::emu::detail::atomic_float_update<float, uint32_t>(a, [v](float o) { return o + v; });
}
inline double atomicAdd(double* a, double v) {
  return ::ember::emu::detail::atomic_float_update<double, uint64_t>(a, [v](double o) { return o + v; });
}
inline float atomicExch(float* a, float v) {
  return ::ember::emu::detail::atomic_float_update<float, uint32_t>(a, [v](float) { return v; });
}
#define EMBER_EMU_MINMAX_(T)                                                                      \
  inline T atomicMax(T* a, T v) { return ::ember::emu::detail::atomic_update(a, [v](T o) { return o < v ? v : o; }); } \
  inline T atomicMin(T* a, T v) { return ::ember::emu::detail::atomic_update(a, [v](T o) { return v < o ? v : o; }); }
EMBER_EMU_MINMAX_(int)
EMBER_EMU_MINMAX_(unsigned)
EMBER_EMU_MINMAX_(long long)
EMBER_EMU_MINMAX_(unsigned long long)
#undef EMBER_EMU_MINMAX_
#define EMBER_EMU_CAS_(T)                                                         \
  inline T atomicCAS(T* a, T compare, T val) {                                   \
    ::ember::emu::detail::preempt_point();                                       \
    T expected = compare;                                                        \
    __atomic_compare_exchange_n(a, &expected, val, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); \
    return expected;                                                             \
  }
EMBER_EMU_CAS_(int)
EMBER_EMU_CAS_(unsigned)
EMBER_EMU_CAS_(unsigned long long)
EMBER_EMU_CAS_(unsigned short)
#undef EMBER_EMU_CAS_
inline unsigned atomicInc(unsigned* a, unsigned limit) {
  return ::ember::emu::detail::atomic_update(a, [limit](unsigned o) { return o >= limit ? 0u : o + 1u; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  return ::ember::emu::detail::atomic_update(a, [limit](unsigned o) { return (o == 0u || o > limit) ? limit : o - 1u; });
}

// ---- math intrinsics ---------------------------------------------------------------
// Fast-math intrinsics are computed exactly here (the GPU versions are
// approximate, so tests comparing with a tolerance stay meaningful).
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float exp10f(float x) { return std::pow(10.0f, x); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
template <class T>
inline T __ldg(const T* p) { return *p; }
// fmaxf fminf expf logf sqrtf fabsf tanhf ... come from <cmath> (global namespace).
// CUDA's global min/max overloads for the common same-type cases.
#define EMBER_EMU_MINMAX_FN_(T)                               \
  inline T max(T a, T b) { return a < b ? b : a; }            \
  inline T min(T a, T b) { return b < a ? b : a; }
EMBER_EMU_MINMAX_FN_(int)
EMBER_EMU_MINMAX_FN_(unsigned)
EMBER_EMU_MINMAX_FN_(long)
EMBER_EMU_MINMAX_FN_(unsigned long)
EMBER_EMU_MINMAX_FN_(long long)
EMBER_EMU_MINMAX_FN_(unsigned long long)
#undef EMBER_EMU_MINMAX_FN_
inline float max(float a, float b) { return std::fmax(a, b); }
inline float min(float a, float b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
