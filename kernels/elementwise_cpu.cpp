// CPU reference for kernels/elementwise.h.
#include "kernels/elementwise.h"

namespace ember {
namespace cpu {

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = a.numel(), nb = b.numel();
  const int64_t cols = a.dim() == 0 ? 1 : a.size(-1);
  EMBER_CHECK(nb == n || nb == 1 || nb == cols, "binary: cannot broadcast " << b.describe() << " to "
                                                                           << a.describe());
  EMBER_FLOAT_SWITCH(a.dtype(), T, {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
_Pragma("omp parallel for schedule(static) if (n > 32768)")
    for (int64_t i = 0; i < n; ++i) {
      const T bv = nb == n ? pb[i] : (nb == 1 ? pb[0] : pb[i % cols]);
      po[i] = math::binary(op, pa[i], bv);
    }
  });
}

void axpby(double alpha, const Tensor& x, double beta, Tensor& y) {
  const int64_t n = x.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
_Pragma("omp parallel for schedule(static) if (n > 32768)")
    for (int64_t i = 0; i < n; ++i) py[i] = beta == 0.0 ? al * px[i] : al * px[i] + be * py[i];
  });
}

void unary(UnaryOp op, double param, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
_Pragma("omp parallel for schedule(static) if (n > 32768)")
    for (int64_t i = 0; i < n; ++i) py[i] = math::unary(op, px[i], static_cast<T>(param));
  });
}

void unary_backward(UnaryOp op, double param, const Tensor& x, const Tensor& gy, Tensor& gx) {
  const int64_t n = x.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* px = x.data<T>();
    const T* pg = gy.data<T>();
    T* po = gx.data<T>();
_Pragma("omp parallel for schedule(static) if (n > 32768)")
    for (int64_t i = 0; i < n; ++i) po[i] = math::unary_grad(op, px[i], pg[i], static_cast<T>(param));
  });
}

void dropout(double p, uint64_t seed, uint64_t stream, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t blocks = (n + math::kDropoutPerBlock - 1) / math::kDropoutPerBlock;
_Pragma("omp parallel for schedule(static) if (n > 32768)")
    for (int64_t b = 0; b < blocks; ++b) math::dropout8(px, py, n, b, p, seed, stream);
  });
}

}  // namespace cpu
}  // namespace ember
