// The process's cuBLAS handle (CUDA builds with a GPU): created on first use
// and kept by ember::Context (core/context.h) until the process ends. The
// core does not link cuBLAS; this file registers how the handle is made.
// Not emulated: cuBLAS calls sit under `#if EMBER_REAL_CUDA` in the kernels.
#pragma once

namespace ember {
namespace cuda {

// cublasHandle_t as void* (this header stays free of CUDA types). Throws
// ember::Error when no GPU is usable or cublasCreate fails.
void* cublas_handle();

}  // namespace cuda
}  // namespace ember
