// Differentiable matrix products.
#pragma once
#include "autograd/variable.h"

namespace ember {

// op(a) @ op(b) for 2-D variables.
Variable matmul(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);
// x [n, in] @ w [in, out] (+ bias [out], broadcast over rows; pass an
// undefined Variable for no bias).
Variable linear(const Variable& x, const Variable& w, const Variable& bias = Variable());

}  // namespace ember
