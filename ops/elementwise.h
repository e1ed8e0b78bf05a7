// Differentiable element-wise ops on Variables (autograd/variable.h).
#pragma once
#include <cstdint>

#include "autograd/variable.h"

namespace ember {

// b has a's shape, is a row vector of a's last dimension (broadcast over
// rows; its gradient is the column sum), or has one element.
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable scale(const Variable& x, double alpha);

Variable relu(const Variable& x);
Variable leaky_relu(const Variable& x, double negative_slope = 0.2);
Variable elu(const Variable& x, double alpha = 1.0);
Variable exp(const Variable& x);
Variable square(const Variable& x);

// Inverted dropout with the Philox mask of (seed, stream): identity when
// p == 0 or !training. Same seed and stream give the same mask on every device.
Variable dropout(const Variable& x, double p, uint64_t seed, uint64_t stream, bool training = true);

}  // namespace ember
