// Included first by every kernels/*_cuda.cu. Makes one kernel source work in
// two builds:
//   nvcc (real GPU):        EMBER_KERNEL_NS = cuda, EMBER_LAUNCH uses <<<>>>
//   host compiler (EMBER_EMULATED): EMBER_KERNEL_NS = emu, EMBER_LAUNCH runs
//                           the kernel's threads as fibers in kernels/emu.
// Rules for kernel code (see docs/architecture.md):
//   - kernels live in `namespace ember { namespace EMBER_KERNEL_NS { namespace {`
//     (internal linkage, so the two builds never clash);
//   - per-element math lives in EMBER_HD functions shared with the CPU reference;
//   - launch only with EMBER_LAUNCH; dynamic shared memory only through
//     EMBER_DYNAMIC_SHARED; block/warp helpers come from kernels/block_reduce.cuh;
//   - library calls (cuBLAS, cuSPARSE, CUB device-wide) sit under
//     `#if EMBER_REAL_CUDA`, with the CPU implementation in the #else branch
//     (EMU tensors are host memory, so the CPU code can read them directly).
#pragma once

#include "core/error.h"
#include "core/hd.h"
#include "core/tensor.h"

#if defined(EMBER_EMULATED)
#include "kernels/emu/emu.h"
#define EMBER_KERNEL_NS emu
#define EMBER_REAL_CUDA 0
#define EMBER_LAUNCH(kernel, grid, block, shmem, stream, ...) \
  ::ember::emu::launch(#kernel, kernel, dim3(grid), dim3(block), static_cast<size_t>(shmem), __VA_ARGS__)
#define EMBER_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::ember::emu::dynamic_shared())
#define EMBER_DEVICE Device::EMU
#else
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#define EMBER_KERNEL_NS cuda
#define EMBER_REAL_CUDA 1
#define EMBER_LAUNCH(kernel, grid, block, shmem, stream, ...)       \
  do {                                                              \
    kernel<<<dim3(grid), dim3(block), (shmem), (stream)>>>(__VA_ARGS__); \
    EMBER_CUDA_CHECK(cudaGetLastError());                           \
  } while (0)
#define EMBER_DYNAMIC_SHARED(T, name)                     \
  extern __shared__ __align__(16) unsigned char ember_dynamic_smem_[];  \
  T* name = reinterpret_cast<T*>(ember_dynamic_smem_)
#define EMBER_DEVICE Device::CUDA
#endif

namespace ember {
namespace EMBER_KERNEL_NS {

// Blocks for n elements with `threads` per block, capped for grid-stride loops.
inline unsigned grid_for(int64_t n, unsigned threads, unsigned max_blocks = 65535u) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return static_cast<unsigned>(b);
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
