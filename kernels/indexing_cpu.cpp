// CPU reference for kernels/indexing.h.
#include <algorithm>
#include <cstring>

#include "kernels/indexing.h"

namespace ember {
namespace cpu {


void gather_rows(const Tensor& x, const Tensor& idx, Tensor& out, bool /*check_range: always checked here*/) {
  const int64_t rows = idx.numel(), cols = x.numel() / std::max<int64_t>(1, x.size(0));
  EMBER_INDEX_SWITCH(idx.dtype(), I, {
    const I* pi = idx.data<I>();
    check_row_indices(pi, rows, x.size(0), "gather_rows");
    EMBER_FLOAT_SWITCH(x.dtype(), T, {
      const T* px = x.data<T>();
      T* po = out.data<T>();
_Pragma("omp parallel for schedule(static) if (rows * cols > 32768)")
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(po + r * cols, px + static_cast<int64_t>(pi[r]) * cols, cols * sizeof(T));
    });
  });
}

void scatter_add_rows(const Tensor& src, const Tensor& idx, Tensor& out, bool /*check_range: always checked here*/) {
  const int64_t rows = idx.numel(), cols = out.numel() / std::max<int64_t>(1, out.size(0));
  EMBER_INDEX_SWITCH(idx.dtype(), I, {
    const I* pi = idx.data<I>();
    check_row_indices(pi, rows, out.size(0), "scatter_add_rows");
    EMBER_FLOAT_SWITCH(src.dtype(), T, {
      const T* ps = src.data<T>();
      T* po = out.data<T>();
      // Sequential over rows (duplicates accumulate in a fixed order:
      // deterministic); parallel over columns for wide rows.
      for (int64_t r = 0; r < rows; ++r) {
        T* dst = po + static_cast<int64_t>(pi[r]) * cols;
        const T* s = ps + r * cols;
        for (int64_t j = 0; j < cols; ++j) dst[j] += s[j];
      }
    });
  });
}

void copy_columns(const Tensor& src, int64_t src_col, Tensor& dst, int64_t dst_col, int64_t ncols) {
  const int64_t m = src.size(0), sn = src.size(1), dn = dst.size(1);
  EMBER_FLOAT_SWITCH(src.dtype(), T, {
    const T* ps = src.data<T>();
    T* pd = dst.data<T>();
    for (int64_t i = 0; i < m; ++i)
      std::memcpy(pd + i * dn + dst_col, ps + i * sn + src_col, ncols * sizeof(T));
  });
}

}  // namespace cpu
}  // namespace ember
