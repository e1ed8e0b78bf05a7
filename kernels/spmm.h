// Sparse (CSR) x dense product for the multi-hot input projection
// (ops/sparse_linear.h): y [rows, n] = X @ W (+ bias), X given as CSR arrays
//   row_ptr int64 [rows + 1], col int32 [nnz] in [0, W.rows), val [nnz] (dtype of W).
// The same kernel computes the weight gradient dW = X^T G from the transposed
// CSR (the transpose is built on the host, stable), so both directions are
// deterministic: every output row is summed by one thread / warp in CSR order.
// CPU: OpenMP over rows. GPU: one warp per output row; the warp loads 32
// (col, val) pairs at a time (coalesced) and broadcasts them with shuffles;
// each lane accumulates 4 output columns (lane + 32 u) per pass of 128.
// cuSPARSE is not used: the hand-written kernel is the one that runs (and is
// tested) on the emulator and on a GPU.
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // y[i, :] = bias + sum_{e in row i} val[e] * w[col[e], :]; bias [n] or undefined.
    void spmm_csr(const Tensor& row_ptr, const Tensor& col, const Tensor& val, const Tensor& w, const Tensor& bias,
                  Tensor& y);)
