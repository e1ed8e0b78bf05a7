// Seeded parameter initialisation.
#pragma once
#include "autograd/variable.h"
#include "core/philox.h"

namespace ember {

// Glorot/Xavier uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)),
// for a [fan_in, fan_out] matrix (or [fan_out] vector: fan_in = 1).
Tensor glorot_uniform(const Shape& shape, Rng& rng, DType dtype = DType::F32,
                      Device device = Device::CPU, double gain = 1.0);
// A trainable parameter (leaf Variable with requires_grad = true).
Variable parameter(Tensor value);

}  // namespace ember
