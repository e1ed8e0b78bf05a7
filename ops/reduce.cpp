#include "ops/reduce.h"

#include "kernels/tensor_ops.h"

namespace ember {

namespace {
Variable sum_scaled(const Variable& x, double s, const char* name) {
  Tensor y = tensor::sum_all(x.value());
  if (s != 1.0) y = tensor::scale(y, s);
  Shape shape = x.shape();
  return Variable::make(y, {x},
                        [shape, s](const Tensor& g, std::vector<Variable>& in) {
                          Tensor full = Tensor::empty(shape, g.dtype(), g.device());
                          if (full.numel() == 0) return in[0].accumulate_grad(full);
                          // g has one element: broadcast it, times s.
                          Tensor flat = tensor::broadcast_axis(g, 0, full.numel(), 1, s);
                          in[0].accumulate_grad(flat.reshape(shape));
                        },
                        name);
}

Variable sum_axis_scaled(const Variable& x, int axis, double s, const char* name) {
  Tensor y = tensor::sum_axis(x.value(), axis);
  if (s != 1.0) y = tensor::scale(y, s);
  const int64_t m = x.size(0), n = x.size(1);
  return Variable::make(y, {x},
                        [axis, m, n, s](const Tensor& g, std::vector<Variable>& in) {
                          // sum over axis 0 gives [n]: broadcast back along rows.
                          in[0].accumulate_grad(tensor::broadcast_axis(g, axis, m, n, s));
                        },
                        name);
}
}  // namespace

Variable sum(const Variable& x) { return sum_scaled(x, 1.0, "sum"); }

Variable mean(const Variable& x) {
  EMBER_CHECK(x.value().numel() > 0, "mean of an empty tensor " << x.value().describe());
  return sum_scaled(x, 1.0 / static_cast<double>(x.value().numel()), "mean");
}

Variable sum(const Variable& x, int axis) { return sum_axis_scaled(x, axis, 1.0, "sum_axis"); }

Variable mean(const Variable& x, int axis) {
  EMBER_CHECK(x.value().dim() == 2, "mean(axis): expected a 2-D tensor, got " << x.value().describe());
  const int64_t count = x.size(axis);
  EMBER_CHECK(count > 0, "mean over an empty axis of " << x.value().describe());
  return sum_axis_scaled(x, axis, 1.0 / static_cast<double>(count), "mean_axis");
}

}  // namespace ember
