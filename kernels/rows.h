// Row-wise kernels on 2-D tensors [m, n]: L2 normalisation and log-softmax.
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // y_i = x_i / max(||x_i||, eps); norms [m] receives max(||x_i||, eps).
    void l2_normalize_rows(const Tensor& x, double eps, Tensor& y, Tensor& norms);
    // gx_i = (gy_i - y_i * <y_i, gy_i>) / norm_i   (for ||x_i|| >= eps)
    //      = gy_i / eps                             (for ||x_i|| <  eps)
    void l2_normalize_rows_backward(const Tensor& y, const Tensor& norms, double eps,
                                    const Tensor& gy, Tensor& gx);
    // y_i = x_i - logsumexp(x_i), stable (max subtracted).
    void log_softmax_rows(const Tensor& x, Tensor& y);
    // gx_i = gy_i - exp(y_i) * sum(gy_i)
    void log_softmax_rows_backward(const Tensor& y, const Tensor& gy, Tensor& gx);)
