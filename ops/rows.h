// Differentiable row-wise ops on 2-D variables.
#pragma once
#include "autograd/variable.h"

namespace ember {

// x_i / max(||x_i||, eps): rows of (near) zero norm are divided by eps, never NaN.
Variable l2_normalize_rows(const Variable& x, double eps = 1e-12);
// x_i - logsumexp(x_i), numerically stable.
Variable log_softmax_rows(const Variable& x);

}  // namespace ember
