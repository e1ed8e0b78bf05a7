// Reductions and their adjoint (broadcast) for 1-D / 2-D tensors.
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // out[0] = sum of all elements (out has one element).
    void sum_all(const Tensor& x, Tensor& out);
    // 2-D x [m, n]: axis 0 -> out [n] (column sums), axis 1 -> out [m] (row sums).
    void sum_axis(const Tensor& x, int axis, Tensor& out);
    // Adjoint of sum_axis: out [m, n] = g broadcast along `axis`, times scale.
    void broadcast_axis(const Tensor& g, int axis, double scale, Tensor& out);
    // out[0] = sum of squares of all elements (for gradient-norm clipping).
    void sum_squares(const Tensor& x, Tensor& out);)
