// CCA loss pieces (paper eq. 3). The Gram matrices C = Zt^T Zt are symmetric
// rank updates (cca_gram: Eigen / cuBLAS syrk); the backward product zt @ C is
// tensor::matmul (cuBLAS on a GPU); these kernels do the rest.
//
// Standardisation, for each column j of z [n, k] (n >= 1):
//   mu_j   = (1/n) sum_i z_ij
//   var_j  = (1/n) sum_i (z_ij - mu_j)^2            (biased / population variance)
//   s_j    = sqrt(var_j + eps)                       (eps > 0 inside the sqrt)
//   zt_ij  = (z_ij - mu_j) / (s_j sqrt(n))           (column mean 0, std ~ 1/sqrt(n))
// so a constant column (or n = 1) gives zt = 0, never NaN.
//
// Loss: L = ||zta - ztb||_F^2 + lambda (||ca - I||_F^2 + ||cb - I||_F^2).
//
// Backward of one view (the loss is symmetric in the views):
//   G      = g * (2 (zt - zt_other) + 4 lambda (zt C - zt))       dL/dzt, C = zt^T zt
//   a_j    = sum_i G_ij,  b_j = sum_i G_ij zt_ij
//   dz_ij  = (G_ij - a_j / n - zt_ij b_j) * inv_std_j / sqrt(n)   (through mu and s)
// Column statistics and the a/b sums use double accumulators, combined in a
// fixed order of row chunks, so every result is deterministic.
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // c [k, k] = zt^T zt, a symmetric rank-n update (half the flops of a GEMM):
    // CPU Eigen rankUpdate over fixed row chunks (OpenMP, partial Grams summed
    // in chunk order), GPU cuBLAS syrk + a mirror kernel (the emulated build
    // runs the CPU code).
    void cca_gram(const Tensor& zt, Tensor& c);
    // zt [n, k] and inv_std [k] = 1 / s_j (dtype of z).
    void cca_standardize(const Tensor& z, double eps, Tensor& zt, Tensor& inv_std);
    // out [1] = L; ca, cb [k, k] are the Gram matrices of zta, ztb.
    void cca_loss_forward(const Tensor& zta, const Tensor& ztb, const Tensor& ca, const Tensor& cb,
                          double lambda, Tensor& out);
    // dz [n, k] = dL/dz of one view; p = zt @ C of that view; gout [1] = g.
    void cca_view_backward(const Tensor& zt, const Tensor& zt_other, const Tensor& p, const Tensor& inv_std,
                           double lambda, const Tensor& gout, Tensor& dz);)
