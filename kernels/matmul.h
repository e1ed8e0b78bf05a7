// Dense matrix product: c = alpha * op(a) * op(b) + beta * c, 2-D contiguous
// row-major tensors, op = transpose when the flag is set. CPU: Eigen (OpenMP);
// CUDA: cuBLAS (the emulated build uses the CPU path: cuBLAS is not emulated).
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, double alpha,
                double beta, Tensor& c);)
