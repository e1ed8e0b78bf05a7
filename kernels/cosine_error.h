// Scaled cosine error (paper eq. 4, the masked-autoencoder loss):
//   L = (1/|V|) sum_{r < |V|} (1 - cos(x_i, z_i))^y,   i = rows[r],
// with the per-row math of kernels/cosine_error_math.h (zero-norm rows use
// eps in the norm). x, z [N, d] contiguous, same dtype; rows int32/int64 [|V|]
// on the same device, |V| >= 1, every index in [0, N) (checked by the caller,
// ops/objectives.cpp). GPU: one warp per row, forward and backward each one
// fused kernel (+ a one-block final sum in the forward, fixed order: the loss
// is deterministic).
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // out [1] = L.
    void scaled_cosine_error_forward(const Tensor& x, const Tensor& z, const Tensor& rows, double y,
                                     double eps, Tensor& out);
    // Adds g * dL/dx and g * dL/dz (g = gout[0], a one-element tensor on the
    // device) into dx / dz [N, d]; either may be undefined (not computed).
    // Rows outside V are left unchanged (the caller zero-fills). With
    // unique_rows = false (V has duplicates) the GPU adds with atomicAdd
    // (summation order of duplicates not fixed); with true, plain stores.
    void scaled_cosine_error_backward(const Tensor& x, const Tensor& z, const Tensor& rows, double y,
                                      double eps, const Tensor& gout, bool unique_rows, Tensor& dx,
                                      Tensor& dz);)
