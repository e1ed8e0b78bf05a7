// EMBER_CUDA_CHECK: throw ember::Error with file:line on any CUDA runtime error.
// Only for translation units compiled against the CUDA runtime.
#pragma once
#include <cuda_runtime.h>

#include "core/error.h"

#define EMBER_CUDA_CHECK(expr)                                                   \
  do {                                                                           \
    cudaError_t ember_err_ = (expr);                                             \
    if (ember_err_ != cudaSuccess) {                                             \
      ::ember::detail::throw_error(__FILE__, __LINE__,                           \
                                   std::string("CUDA error in ") + #expr + ": " + \
                                       cudaGetErrorString(ember_err_));          \
    }                                                                            \
  } while (0)
