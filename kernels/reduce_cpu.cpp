// CPU reference for kernels/reduce.h. Sums accumulate in double.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/reduce.h"

namespace ember {
namespace cpu {

// Deterministic for a given thread count: per-thread partial sums over static
// chunks, combined in thread order (an OpenMP reduction clause may combine in
// any order).
template <class T, class F>
static double ordered_sum(const T* p, int64_t n, F f) {
  const int nt = n > 65536 ? omp_get_max_threads() : 1;
  std::vector<double> part(static_cast<size_t>(nt), 0.0);
  _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1)")
  for (int t = 0; t < nt; ++t) {
    const int64_t b = n * t / nt, e = n * (t + 1) / nt;
    double s = 0.0;
    for (int64_t i = b; i < e; ++i) s += f(static_cast<double>(p[i]));
    part[t] = s;
  }
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

void sum_all(const Tensor& x, Tensor& out) {
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    out.data<T>()[0] = static_cast<T>(ordered_sum(x.data<T>(), x.numel(), [](double v) { return v; }));
  });
}

void sum_squares(const Tensor& x, Tensor& out) {
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    out.data<T>()[0] = static_cast<T>(ordered_sum(x.data<T>(), x.numel(), [](double v) { return v * v; }));
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
