#include "ops/rows.h"

#include "kernels/rows.h"
#include "kernels/tensor_ops.h"

namespace ember {

Variable l2_normalize_rows(const Variable& x, double eps) {
  Tensor norms;
  Tensor y = tensor::l2_normalize_rows(x.value(), eps, &norms);
  return Variable::make(y, {x},
                        [y, norms, eps](const Tensor& g_in, std::vector<Variable>& in) {
                          Tensor g = g_in.contiguous();
                          Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
                          EMBER_DISPATCH(y.device(), l2_normalize_rows_backward, y, norms, eps, g, gx);
                          in[0].accumulate_grad(gx);
                        },
                        "l2_normalize_rows");
}

Variable log_softmax_rows(const Variable& x) {
  Tensor y = tensor::log_softmax_rows(x.value());
  return Variable::make(y, {x},
                        [y](const Tensor& g_in, std::vector<Variable>& in) {
                          Tensor g = g_in.contiguous();
                          Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
                          EMBER_DISPATCH(y.device(), log_softmax_rows_backward, y, g, gx);
                          in[0].accumulate_grad(gx);
                        },
                        "log_softmax_rows");
}

}  // namespace ember
