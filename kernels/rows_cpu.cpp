// CPU reference for kernels/rows.h (row L2 normalisation, log-softmax).
#include <algorithm>
#include <cmath>

#include "kernels/rows.h"

namespace ember {
namespace cpu {

void l2_normalize_rows(const Tensor& x, double eps, Tensor& y, Tensor& norms) {
  const int64_t m = x.size(0), n = x.size(1);
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pn = norms.data<T>();
_Pragma("omp parallel for schedule(static) if (m * n > 32768)")
    for (int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += static_cast<double>(px[i * n + j]) * px[i * n + j];
      const double nr = std::max(std::sqrt(s), eps);
      pn[i] = static_cast<T>(nr);
      for (int64_t j = 0; j < n; ++j) py[i * n + j] = static_cast<T>(px[i * n + j] / nr);
    }
  });
}

void l2_normalize_rows_backward(const Tensor& y, const Tensor& norms, double eps, const Tensor& gy,
                                Tensor& gx) {
  const int64_t m = y.size(0), n = y.size(1);
  EMBER_FLOAT_SWITCH(y.dtype(), T, {
    const T* py = y.data<T>();
    const T* pn = norms.data<T>();
    const T* pg = gy.data<T>();
    T* po = gx.data<T>();
_Pragma("omp parallel for schedule(static) if (m * n > 32768)")
    for (int64_t i = 0; i < m; ++i) {
      const double nr = static_cast<double>(pn[i]);
      // When the norm was clamped to eps, y = x / eps is linear in x.
      const bool clamped = nr <= eps;
      double dot = 0.0;
      if (!clamped)
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(py[i * n + j]) * pg[i * n + j];
      for (int64_t j = 0; j < n; ++j)
        po[i * n + j] = static_cast<T>((pg[i * n + j] - py[i * n + j] * dot) / nr);
    }
  });
}

void log_softmax_rows(const Tensor& x, Tensor& y) {
  const int64_t m = x.size(0), n = x.size(1);
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* px = x.data<T>();
    T* py = y.data<T>();
_Pragma("omp parallel for schedule(static) if (m * n > 32768)")
    for (int64_t i = 0; i < m; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(px[i * n + j]));
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(px[i * n + j]) - mx);
      const double lse = mx + std::log(s);
      for (int64_t j = 0; j < n; ++j) py[i * n + j] = static_cast<T>(px[i * n + j] - lse);
    }
  });
}

void log_softmax_rows_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  const int64_t m = y.size(0), n = y.size(1);
  EMBER_FLOAT_SWITCH(y.dtype(), T, {
    const T* py = y.data<T>();
    const T* pg = gy.data<T>();
    T* po = gx.data<T>();
_Pragma("omp parallel for schedule(static) if (m * n > 32768)")
    for (int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += static_cast<double>(pg[i * n + j]);
      for (int64_t j = 0; j < n; ++j)
        po[i * n + j] = static_cast<T>(pg[i * n + j] - std::exp(static_cast<double>(py[i * n + j])) * s);
    }
  });
}

}  // namespace cpu
}  // namespace ember
