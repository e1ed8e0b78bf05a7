// CPU reference for kernels/matmul.h: Eigen's blocked GEMM on mapped memory.
#include <Eigen/Dense>

#include "kernels/matmul.h"

namespace ember {
namespace cpu {

template <class T>
static void gemm(const Tensor& a, bool ta, const Tensor& b, bool tb, double alpha, double beta,
                 Tensor& c) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> A(a.data<T>(), a.size(0), a.size(1));
  Eigen::Map<const Mat> B(b.data<T>(), b.size(0), b.size(1));
  Eigen::Map<Mat> C(c.data<T>(), c.size(0), c.size(1));
  const T al = static_cast<T>(alpha);
  if (beta == 0.0) {
    C.setZero();
  } else if (beta != 1.0) {
    C *= static_cast<T>(beta);
  }
  if (a.size(0) == 0 || a.size(1) == 0 || b.size(1) == 0 || b.size(0) == 0) return;
  if (!ta && !tb) C.noalias() += al * A * B;
  else if (ta && !tb) C.noalias() += al * A.transpose() * B;
  else if (!ta && tb) C.noalias() += al * A * B.transpose();
  else C.noalias() += al * A.transpose() * B.transpose();
}

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, double alpha, double beta,
            Tensor& c) {
  EMBER_FLOAT_SWITCH(a.dtype(), T, gemm<T>(a, trans_a, b, trans_b, alpha, beta, c));
}

}  // namespace cpu
}  // namespace ember
