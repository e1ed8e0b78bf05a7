// kernels/matmul.h on the GPU: cuBLAS. Row-major C = op(A) op(B) is computed
// as column-major C^T = op(B)^T op(A)^T. cuBLAS is not emulated: the
// emulated build runs the CPU GEMM on the (host-resident) EMU tensors.
#include "kernels/common.cuh"
#include "kernels/matmul.h"

#if EMBER_REAL_CUDA
#include <cublas_v2.h>

#include "kernels/cublas_handle.h"
#endif

namespace ember {
namespace EMBER_KERNEL_NS {

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, double alpha, double beta,
            Tensor& c) {
#if EMBER_REAL_CUDA
  const int m = static_cast<int>(c.size(0)), n = static_cast<int>(c.size(1));
  const int k = static_cast<int>(trans_a ? a.size(0) : a.size(1));
  if (m == 0 || n == 0) return;
  auto handle = static_cast<cublasHandle_t>(::ember::cuda::cublas_handle());
  const cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int lda = static_cast<int>(a.size(1)), ldb = static_cast<int>(b.size(1)), ldc = n;
  cublasStatus_t st;
  if (a.dtype() == DType::F32) {
    const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
    st = cublasSgemm(handle, opb, opa, n, m, k, &al, b.data<float>(), ldb, a.data<float>(), lda, &be,
                     c.data<float>(), ldc);
  } else {
    st = cublasDgemm(handle, opb, opa, n, m, k, &alpha, b.data<double>(), ldb, a.data<double>(), lda,
                     &beta, c.data<double>(), ldc);
  }
  EMBER_CHECK(st == CUBLAS_STATUS_SUCCESS, "cuBLAS gemm failed with status " << static_cast<int>(st));
#else
  ::ember::cpu::matmul(a, trans_a, b, trans_b, alpha, beta, c);
#endif
}

}  // namespace EMBER_KERNEL_NS
}  // namespace ember
