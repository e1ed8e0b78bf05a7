// Differentiable reductions.
#pragma once
#include "autograd/variable.h"

namespace ember {

Variable sum(const Variable& x);             // all elements -> [1]
Variable mean(const Variable& x);            // all elements -> [1]
Variable sum(const Variable& x, int axis);   // 2-D: axis 0 -> [n], axis 1 -> [m]
Variable mean(const Variable& x, int axis);

}  // namespace ember
