// Creates / destroys the cuBLAS handle owned by ember::Context (CUDA builds).
#include <cublas_v2.h>

#include "core/error.h"

namespace ember {

void* create_cublas_handle() {
  cublasHandle_t h = nullptr;
  cublasStatus_t st = cublasCreate(&h);
  EMBER_CHECK(st == CUBLAS_STATUS_SUCCESS, "cublasCreate failed with status " << static_cast<int>(st));
  return h;
}

void destroy_cublas_handle(void* h) { cublasDestroy(static_cast<cublasHandle_t>(h)); }

}  // namespace ember
