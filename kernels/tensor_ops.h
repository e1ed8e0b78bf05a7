// The kernel layer's validated front: Tensor-level functions that check their
// arguments (shapes, dtypes, devices), allocate the result on the inputs'
// device and dispatch to the cpu / cuda / emu kernels. No autograd here (the
// Variable ops are in ops/*.h); used by autograd (backward closures,
// optimizers), the ops and inference code. Code above this layer calls these
// functions (or an op family's own validated front in ops/), never
// EMBER_DISPATCH on a raw kernel.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/elementwise_math.h"

namespace ember {
namespace tensor {

// a (op) b with b of a's shape, a row vector of a's last dim, or one element.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
Tensor scale(const Tensor& x, double alpha);
// y = alpha * x + beta * y, in place on y.
void axpby_(double alpha, const Tensor& x, double beta, Tensor& y);
Tensor unary(UnaryOp op, const Tensor& x, double param = 0.0);
Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& gy, double param = 0.0);
Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t stream);

// op(a) @ op(b) for 2-D tensors.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

Tensor sum_all(const Tensor& x);                  // shape [1]
Tensor sum_axis(const Tensor& x, int axis);       // 2-D: axis 0 -> [n], axis 1 -> [m]
Tensor broadcast_axis(const Tensor& g, int axis, int64_t m, int64_t n, double scale = 1.0);
double sum_squares(const Tensor& x);              // host scalar
// Sum of the squares of every element of every tensor (undefined ones
// skipped), as a [1] tensor where the tensors are: on the host an F64 sum in
// double; on a device accumulated there (each tensor's sum in double inside
// the kernel, the sums in the tensors' dtype; all on one device, one dtype).
Tensor sum_squares_all_tensor(const std::vector<Tensor>& xs);
// The values of one-element tensors (undefined ones read as 0); those on a
// device come back in a single copy.
std::vector<double> read_scalars(const std::vector<Tensor>& xs);

// Row L2-normalisation; norms [m] receives max(||x_i||, eps).
Tensor l2_normalize_rows(const Tensor& x, double eps, Tensor* norms);
Tensor log_softmax_rows(const Tensor& x);

Tensor gather_rows(const Tensor& x, const Tensor& idx);
// out [num_rows, ...] zero-initialised, out[idx[r]] += src[r].
Tensor scatter_add_rows(const Tensor& src, const Tensor& idx, int64_t num_rows);
// Concatenation of 2-D tensors along axis 0 or 1.
Tensor concat(const std::vector<Tensor>& parts, int axis);
// Columns [begin, end) of a 2-D tensor, as a new contiguous tensor.
Tensor slice_columns(const Tensor& x, int64_t begin, int64_t end);

// Fused optimizer updates in place (kernels/optim.h), after checking that the
// parameter, gradient and state tensors agree in shape, dtype and device.
// Adam / AdamW: `step` is 1-based (bias correction).
void adam_update_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
                  double eps, double weight_decay, bool decoupled, int64_t step);
// Row-sparse Adam / AdamW (kernels/optim.h sparse_adam_rows): rows int64 [K]
// distinct ids in [0, N), grad [K, D] for a table param [N, D] with moments m, v.
void sparse_adam_rows_(Tensor& param, const Tensor& rows, const Tensor& grad, Tensor& m, Tensor& v, double lr,
                       double beta1, double beta2, double eps, double weight_decay, bool decoupled, int64_t step);
// SGD with momentum (buf unused when momentum == 0) and L2 weight decay.
void sgd_update_(Tensor& param, const Tensor& grad, Tensor& buf, double lr, double momentum, double weight_decay);

// Host value of a one-element tensor, as double.
double scalar(const Tensor& x);
// True when every element is finite (copies to the host for device tensors).
bool all_finite(const Tensor& x);

}  // namespace tensor
}  // namespace ember
