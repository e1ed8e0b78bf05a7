// Sparse input projection for multi-hot features: y = X W (+ b) with X a CSR
// matrix that is never densified (tens of thousands of feature ids).
#pragma once
#include <memory>
#include <vector>

#include "autograd/variable.h"

namespace ember {

// A [rows, cols] CSR matrix. All three arrays live on one device.
struct SparseCsr {
  int64_t rows = 0, cols = 0;
  Tensor row_ptr;  // int64 [rows + 1], row_ptr[0] = 0, non-decreasing, row_ptr[rows] = nnz
  Tensor col;      // int32 [nnz], each in [0, cols)
  Tensor val;      // float32 or float64 [nnz]
  // Optional cache of the transpose (a [cols, rows] CSR on the same device),
  // used by sparse_linear's backward (dW = X^T G). Filled by with_transpose();
  // without it every backward builds the transpose on the host (a device
  // round trip for device matrices).
  std::shared_ptr<const SparseCsr> transposed;

  int64_t nnz() const { return col.defined() ? col.numel() : 0; }
  Device device() const { return row_ptr.device(); }
  DType dtype() const { return val.dtype(); }

  // Shapes, dtypes and devices of the arrays (cheap, no data read).
  void check_layout(const char* what) const;
  // check_layout + the contents: row_ptr[0] = 0, non-decreasing, ends at
  // nnz; every column in [0, cols). Reads the arrays on the host (copies
  // device arrays there). Throws ember::Error naming the offending entry.
  void validate() const;
  // Deep copy on `device` (the cached transpose too). A CPU source is
  // validated first, so a malformed matrix never reaches a GPU kernel.
  SparseCsr to(Device device) const;
  // The transpose as a CSR [cols, rows] on the same device, built on the host
  // with a stable counting sort (entries of a column in row order).
  SparseCsr transpose() const;
  // This matrix with `transposed` filled (no-op when it already is).
  SparseCsr with_transpose() const;
  // Dense copy [rows, cols] (tests and small matrices only).
  Tensor to_dense() const;

  // From host arrays (validated); val must be float or double.
  template <class T>
  static SparseCsr from_host(int64_t rows, int64_t cols, const std::vector<int64_t>& row_ptr,
                             const std::vector<int32_t>& col, const std::vector<T>& val,
                             Device device = Device::CPU);
};

// y [rows, out] = X @ W (+ bias), W [cols, out], bias [out] or undefined.
// Backward: dW = X^T G (via the transpose CSR, deterministic), db = column
// sums of G; X gets no gradient. Device / dtype of X must match W. A CPU X is
// validated on every call (O(nnz)); a device X is trusted (validate it once,
// e.g. through SparseCsr::to).
Variable sparse_linear(const SparseCsr& x, const Variable& w, const Variable& bias = {});

}  // namespace ember
