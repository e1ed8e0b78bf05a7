// kernels/cublas_handle.h: the cuBLAS handle, owned by ember::Context.
#include <cublas_v2.h>

#include "core/context.h"
#include "core/error.h"
#include "kernels/cublas_handle.h"

namespace ember {
namespace cuda {

namespace {
void* create_handle() {
  cublasHandle_t h = nullptr;
  cublasStatus_t st = cublasCreate(&h);
  EMBER_CHECK(st == CUBLAS_STATUS_SUCCESS, "cublasCreate failed with status " << static_cast<int>(st));
  return h;
}
void destroy_handle(void* h) { cublasDestroy(static_cast<cublasHandle_t>(h)); }
}  // namespace

void* cublas_handle() {
  EMBER_CHECK(Context::get().cuda_available(),
              "cuBLAS requested but no GPU is usable: " << Context::get().cuda_unavailable_reason());
  return Context::get().library_handle("cublas", create_handle, destroy_handle);
}

}  // namespace cuda
}  // namespace ember
