// Differentiable row indexing and concatenation.
#pragma once
#include <vector>

#include "autograd/variable.h"

namespace ember {

// out[r] = x[idx[r]] (index_select on axis 0). idx: int32/int64 tensor on x's device.
Variable gather_rows(const Variable& x, const Tensor& idx);
// out [num_rows, ...] with out[idx[r]] += src[r] (index_add on axis 0).
Variable scatter_add_rows(const Variable& src, const Tensor& idx, int64_t num_rows);
// Concatenation of 2-D variables along axis 0 or 1.
Variable concat(const std::vector<Variable>& parts, int axis);

}  // namespace ember
