// CPU reference for kernels/spmm.h: OpenMP over output rows, each row summed
// in CSR order (deterministic).
#include "kernels/spmm.h"

namespace ember {
namespace cpu {

void spmm_csr(const Tensor& row_ptr, const Tensor& col, const Tensor& val, const Tensor& w, const Tensor& bias,
              Tensor& y) {
  const int64_t rows = y.size(0), n = y.size(1);
  const int64_t* rp = row_ptr.data<int64_t>();
  const int32_t* ci = col.data<int32_t>();
  EMBER_FLOAT_SWITCH(w.dtype(), T, {
    const T* pv = val.data<T>();
    const T* pw = w.data<T>();
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    T* py = y.data<T>();
_Pragma("omp parallel for schedule(dynamic, 64) if (rows * n > 32768)")
    for (int64_t i = 0; i < rows; ++i) {
      T* yr = py + i * n;
      for (int64_t j = 0; j < n; ++j) yr[j] = pb ? pb[j] : T(0);
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
        const T v = pv[e];
        const T* wr = pw + static_cast<int64_t>(ci[e]) * n;
        for (int64_t j = 0; j < n; ++j) yr[j] += v * wr[j];
      }
    }
  });
}

}  // namespace cpu
}  // namespace ember
