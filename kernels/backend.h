// How a kernel-level function is declared once and dispatched by device.
//
// Every kernel-level function exists in three namespaces with the SAME name
// and signature (llm.c style):
//   ember::cpu::fn   plain C++/OpenMP reference, kernels/<family>_cpu.cpp
//   ember::cuda::fn  CUDA launcher + kernels, kernels/<family>_cuda.cu (nvcc)
//   ember::emu::fn   the same .cu source compiled by the host compiler against
//                    the kernel emulator (kernels/emu), Device::EMU tensors.
// Declare with EMBER_DECLARE_BACKENDS, call with EMBER_DISPATCH(device, fn, args).
#pragma once
#include "core/error.h"
#include "core/tensor.h"

#define EMBER_DECLARE_BACKENDS(...) \
  namespace ember {                 \
  namespace cpu { __VA_ARGS__ }     \
  namespace cuda { __VA_ARGS__ }    \
  namespace emu { __VA_ARGS__ }     \
  }

#if defined(EMBER_WITH_CUDA)
#define EMBER_IF_CUDA_(...) __VA_ARGS__
#else
#define EMBER_IF_CUDA_(...) EMBER_FAIL("this ember was built without CUDA (EMBER_CUDA=OFF)");
#endif
#if defined(EMBER_WITH_EMU)
#define EMBER_IF_EMU_(...) __VA_ARGS__
#else
#define EMBER_IF_EMU_(...) EMBER_FAIL("this ember was built without the kernel emulator");
#endif

// Calls ember::{cpu,cuda,emu}::fn(args...) according to `device`.
#define EMBER_DISPATCH(device, fn, ...)                                        \
  [&]() {                                                                     \
    switch (device) {                                                         \
      case ::ember::Device::CPU: return ::ember::cpu::fn(__VA_ARGS__);        \
      case ::ember::Device::CUDA: EMBER_IF_CUDA_(return ::ember::cuda::fn(__VA_ARGS__);) \
      case ::ember::Device::EMU: EMBER_IF_EMU_(return ::ember::emu::fn(__VA_ARGS__);)    \
    }                                                                         \
    EMBER_FAIL("unknown device");                                             \
  }()

// Runs the statement with T = float or double according to a float dtype.
#define EMBER_FLOAT_SWITCH(dtype, T, ...)                                         \
  switch (dtype) {                                                                \
    case ::ember::DType::F32: { using T = float; __VA_ARGS__; break; }            \
    case ::ember::DType::F64: { using T = double; __VA_ARGS__; break; }           \
    default: EMBER_FAIL("expected a float32 or float64 tensor, got " << ::ember::dtype_name(dtype)); \
  }

// Runs the statement with I = int32_t or int64_t according to an index dtype.
#define EMBER_INDEX_SWITCH(dtype, I, ...)                                         \
  switch (dtype) {                                                                \
    case ::ember::DType::I32: { using I = int32_t; __VA_ARGS__; break; }          \
    case ::ember::DType::I64: { using I = int64_t; __VA_ARGS__; break; }          \
    default: EMBER_FAIL("expected an int32 or int64 index tensor, got " << ::ember::dtype_name(dtype)); \
  }
