// Fused optimizer updates, one thread per parameter element.
#pragma once
#include "kernels/backend.h"
#include "kernels/elementwise_math.h"

EMBER_DECLARE_BACKENDS(
    // Adam (decoupled = false, L2 added to the gradient) or AdamW
    // (decoupled = true). `step` is 1-based, for bias correction.
    void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr,
                     double beta1, double beta2, double eps, double weight_decay, bool decoupled,
                     int64_t step);
    // SGD with momentum (buf ignored when momentum == 0) and L2 weight decay.
    void sgd_update(Tensor& param, const Tensor& grad, Tensor& buf, double lr, double momentum,
                    double weight_decay);
    // Row-sparse ("lazy") Adam / AdamW on a table param [N, D]: only the rows
    // listed in `rows` (int64 [K], distinct) are updated, with grad [K, D]
    // (row k's gradient) and their moments m, v [N, D]; other rows and their
    // moments are untouched. Bias correction uses the global `step` (1-based),
    // as TensorFlow's LazyAdam does. The per-element rule is math::adam.
    void sparse_adam_rows(Tensor& param, const Tensor& rows, const Tensor& grad, Tensor& m, Tensor& v,
                          double lr, double beta1, double beta2, double eps, double weight_decay,
                          bool decoupled, int64_t step);)
