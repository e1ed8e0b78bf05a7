// Row indexing: gather (index_select) and scatter-add (index_add), and
// column-block copies (concat along columns and its adjoint).
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // out[r, :] = x[idx[r], :]; idx int32 or int64, values in [0, x.rows).
    // check_range: the kernel verifies the indices and throws on one out of
    // range (on a device: an error flag read back after the launch, which
    // synchronises); false: the caller has verified them on the host. Rows
    // with an out-of-range index are never read or written either way.
    void gather_rows(const Tensor& x, const Tensor& idx, Tensor& out, bool check_range);
    // out[idx[r], :] += src[r, :]; duplicates accumulate. check_range as above.
    void scatter_add_rows(const Tensor& src, const Tensor& idx, Tensor& out, bool check_range);
    // dst[:, dst_col + j] = src[:, src_col + j] for j < ncols (same row count).
    void copy_columns(const Tensor& src, int64_t src_col, Tensor& dst, int64_t dst_col,
                      int64_t ncols);)

namespace ember {
// Host-side range check of row indices (the CPU backend, and the front for
// host indices of device data): throws naming the position and the value.
template <class I>
inline void check_row_indices(const I* idx, int64_t n, int64_t limit, const char* what) {
  for (int64_t r = 0; r < n; ++r)
    EMBER_CHECK(idx[r] >= 0 && static_cast<int64_t>(idx[r]) < limit,
                what << ": index " << static_cast<int64_t>(idx[r]) << " at position " << r
                     << " is out of range [0, " << limit << ")");
}
}  // namespace ember
