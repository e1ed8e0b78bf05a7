// Element-wise kernels: binary ops with row broadcast, axpby, activations,
// dropout. Declared once for the cpu/cuda/emu backends (kernels/backend.h).
// All tensors are contiguous, on the same device, of the same float dtype;
// shapes are validated by the caller (ops/) and re-checked cheaply here.
#pragma once
#include <cstdint>

#include "kernels/backend.h"
#include "kernels/elementwise_math.h"

EMBER_DECLARE_BACKENDS(
    // out = a (op) b. b has a's shape, or is a row vector of a's last
    // dimension (broadcast over rows), or has one element (a scalar).
    void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
    // y = alpha * x + beta * y (beta == 0 ignores y's old contents, NaN included).
    void axpby(double alpha, const Tensor& x, double beta, Tensor& y);
    // y = f(x)
    void unary(UnaryOp op, double param, const Tensor& x, Tensor& y);
    // gx = f'(x) * gy
    void unary_backward(UnaryOp op, double param, const Tensor& x, const Tensor& gy, Tensor& gx);
    // y = inverted-dropout(x) with the Philox mask of (seed, stream); the same
    // call on the upstream gradient is the backward pass.
    void dropout(double p, uint64_t seed, uint64_t stream, const Tensor& x, Tensor& y);)
