// CPU reference for kernels/optim.h.
#include <cmath>

#include "kernels/optim.h"

namespace ember {
namespace cpu {

void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled, int64_t step) {
  const int64_t n = param.numel();
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  EMBER_FLOAT_SWITCH(param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
_Pragma("omp parallel for schedule(static) if (n > 65536)")
    for (int64_t i = 0; i < n; ++i)
      math::adam(p[i], g[i], pm[i], pv[i], lr, beta1, beta2, eps, weight_decay, decoupled, bc1, bc2);
  });
}

void sgd_update(Tensor& param, const Tensor& grad, Tensor& buf, double lr, double momentum,
                double weight_decay) {
  const int64_t n = param.numel();
  EMBER_FLOAT_SWITCH(param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* b = buf.data<T>();
_Pragma("omp parallel for schedule(static) if (n > 65536)")
    for (int64_t i = 0; i < n; ++i) math::sgd(p[i], g[i], b[i], lr, momentum, weight_decay);
  });
}

void sparse_adam_rows(Tensor& param, const Tensor& rows, const Tensor& grad, Tensor& m, Tensor& v, double lr,
                      double beta1, double beta2, double eps, double weight_decay, bool decoupled, int64_t step) {
  const int64_t K = rows.numel(), D = param.size(1);
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const int64_t* r = rows.data<int64_t>();
  EMBER_FLOAT_SWITCH(param.dtype(), T, {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
_Pragma("omp parallel for schedule(static) if (K * D > 65536)")
    for (int64_t k = 0; k < K; ++k) {
      const int64_t base = r[k] * D;
      for (int64_t j = 0; j < D; ++j)
        math::adam(p[base + j], g[k * D + j], pm[base + j], pv[base + j], lr, beta1, beta2, eps, weight_decay,
                   decoupled, bc1, bc2);
    }
  });
}

}  // namespace cpu
}  // namespace ember
