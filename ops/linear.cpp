#include "ops/linear.h"

#include "ops/elementwise.h"
#include "kernels/tensor_ops.h"

namespace ember {

Variable matmul(const Variable& a, const Variable& b, bool ta, bool tb) {
  Tensor av = a.value(), bv = b.value();
  Tensor c = tensor::matmul(av, bv, ta, tb);
  return Variable::make(c, {a, b},
                        [av, bv, ta, tb](const Tensor& g, std::vector<Variable>& in) {
                          // C = op(A) op(B):  dA = g op(B)^T (transposed back if ta),
                          //                   dB = op(A)^T g (transposed back if tb).
                          if (in[0].requires_grad()) {
                            Tensor ga = ta ? tensor::matmul(bv, g, tb, true)
                                           : tensor::matmul(g, bv, false, !tb);
                            in[0].accumulate_grad(ga);
                          }
                          if (in[1].requires_grad()) {
                            Tensor gb = tb ? tensor::matmul(g, av, true, ta)
                                           : tensor::matmul(av, g, !ta, false);
                            in[1].accumulate_grad(gb);
                          }
                        },
                        "matmul");
}

Variable linear(const Variable& x, const Variable& w, const Variable& bias) {
  Variable y = matmul(x, w);
  if (!bias.defined()) return y;
  EMBER_CHECK(bias.value().dim() == 1 && bias.size(0) == w.size(1),
              "linear: bias " << bias.value().describe() << " does not match weight "
                              << w.value().describe());
  return add(y, bias);
}

}  // namespace ember
