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
                    double weight_decay);)
