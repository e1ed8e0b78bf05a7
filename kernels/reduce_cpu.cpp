// CPU reference for kernels/reduce.h. Sums accumulate in double.
#include <algorithm>

#include "kernels/reduce.h"

namespace ember {
namespace cpu {

void sum_all(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* p = x.data<T>();
    double s = 0.0;
_Pragma("omp parallel for reduction(+ : s) schedule(static) if (n > 65536)")
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]);
    out.data<T>()[0] = static_cast<T>(s);
  });
}

void sum_squares(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* p = x.data<T>();
    double s = 0.0;
_Pragma("omp parallel for reduction(+ : s) schedule(static) if (n > 65536)")
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]) * static_cast<double>(p[i]);
    out.data<T>()[0] = static_cast<T>(s);
  });
}

void sum_axis(const Tensor& x, int axis, Tensor& out) {
  const int64_t m = x.size(0), n = x.size(1);
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    const T* p = x.data<T>();
    T* o = out.data<T>();
    if (axis == 0) {
      // Row-major friendly: walk rows, accumulate column blocks in double.
      const int64_t block = 256;
      _Pragma("omp parallel for schedule(static) if (m * n > 65536)")
      for (int64_t jb = 0; jb < n; jb += block) {
        const int64_t je = std::min(n, jb + block);
        double acc[256] = {0.0};
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = jb; j < je; ++j) acc[j - jb] += static_cast<double>(p[i * n + j]);
        for (int64_t j = jb; j < je; ++j) o[j] = static_cast<T>(acc[j - jb]);
      }
    } else {
_Pragma("omp parallel for schedule(static) if (m * n > 65536)")
      for (int64_t i = 0; i < m; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < n; ++j) s += static_cast<double>(p[i * n + j]);
        o[i] = static_cast<T>(s);
      }
    }
  });
}

void broadcast_axis(const Tensor& g, int axis, double scale, Tensor& out) {
  const int64_t m = out.size(0), n = out.size(1);
  EMBER_FLOAT_SWITCH(g.dtype(), T, {
    const T* pg = g.data<T>();
    T* o = out.data<T>();
    const T s = static_cast<T>(scale);
_Pragma("omp parallel for schedule(static) if (m * n > 65536)")
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) o[i * n + j] = s * (axis == 0 ? pg[j] : pg[i]);
  });
}

}  // namespace cpu
}  // namespace ember
