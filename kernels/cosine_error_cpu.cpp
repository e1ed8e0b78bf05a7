// CPU reference for kernels/cosine_error.h: one row per iteration (OpenMP),
// double accumulators, loss summed in row order (deterministic).
#include <vector>

#include "kernels/cosine_error.h"
#include "kernels/cosine_error_math.h"

namespace ember {
namespace cpu {

namespace {

template <class T, class I>
math::SceRow<double> row_terms(const T* x, const T* z, int64_t d, I i, double y, double eps) {
  const T* xr = x + static_cast<int64_t>(i) * d;
  const T* zr = z + static_cast<int64_t>(i) * d;
  double dot = 0.0, xx = 0.0, zz = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    dot += static_cast<double>(xr[j]) * zr[j];
    xx += static_cast<double>(xr[j]) * xr[j];
    zz += static_cast<double>(zr[j]) * zr[j];
  }
  return math::sce_row<double>(dot, xx, zz, y, eps);
}

}  // namespace

void scaled_cosine_error_forward(const Tensor& x, const Tensor& z, const Tensor& rows, double y, double eps,
                                 Tensor& out) {
  const int64_t d = x.size(1), nv = rows.numel();
  std::vector<double> per_row(static_cast<size_t>(nv));
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_INDEX_SWITCH(rows.dtype(), I, {
      const T* px = x.data<T>();
      const T* pz = z.data<T>();
      const I* pr = rows.data<I>();
_Pragma("omp parallel for schedule(static) if (nv * d > 32768)")
      for (int64_t r = 0; r < nv; ++r)
        per_row[r] = math::sce_loss_from_cos(row_terms(px, pz, d, pr[r], y, eps).cos, y);
    });
    double s = 0.0;
    for (double v : per_row) s += v;
    out.data<T>()[0] = static_cast<T>(s / static_cast<double>(nv));
  });
}

void scaled_cosine_error_backward(const Tensor& x, const Tensor& z, const Tensor& rows, double y, double eps,
                                  const Tensor& gout, bool unique_rows, Tensor& dx, Tensor& dz) {
  const int64_t d = x.size(1), nv = rows.numel();
  EMBER_FLOAT_SWITCH(x.dtype(), T, {
    EMBER_INDEX_SWITCH(rows.dtype(), I, {
      const T* px = x.data<T>();
      const T* pz = z.data<T>();
      const I* pr = rows.data<I>();
      T* pdx = dx.defined() ? dx.data<T>() : nullptr;
      T* pdz = dz.defined() ? dz.data<T>() : nullptr;
      const double scale = static_cast<double>(gout.data<T>()[0]) / static_cast<double>(nv);
      // Duplicate rows would race: run those serially (same order every time).
_Pragma("omp parallel for schedule(static) if (unique_rows && nv * d > 32768)")
      for (int64_t r = 0; r < nv; ++r) {
        const int64_t i = static_cast<int64_t>(pr[r]);
        const math::SceRow<double> t = row_terms(px, pz, d, pr[r], y, eps);
        const double s = scale * t.dldc;
        const T* xr = px + i * d;
        const T* zr = pz + i * d;
        if (pdz)
          for (int64_t j = 0; j < d; ++j)
            pdz[i * d + j] += static_cast<T>(s * (t.a * xr[j] + t.bz * zr[j]));
        if (pdx)
          for (int64_t j = 0; j < d; ++j)
            pdx[i * d + j] += static_cast<T>(s * (t.a * zr[j] + t.bx * xr[j]));
      }
    });
  });
}

}  // namespace cpu
}  // namespace ember
