#include "ops/elementwise.h"

#include "kernels/tensor_ops.h"

namespace ember {

namespace {

// Reduces a gradient of a's shape to b's shape (undoing the broadcast).
Tensor reduce_to(const Tensor& g, const Tensor& b) {
  if (g.shape() == b.shape()) return g;
  if (b.numel() == 1) return tensor::sum_all(g).reshape(b.shape());
  Tensor g2 = g.reshape({-1, b.numel()});
  return tensor::sum_axis(g2, 0).reshape(b.shape());
}

// Broadcasts b to a's shape (for products in the backward of mul/div).
Tensor expand_to(const Tensor& b, const Tensor& a) {
  if (b.shape() == a.shape()) return b;
  Tensor zeros = Tensor::zeros(a.shape(), a.dtype(), a.device());
  return tensor::add(zeros, b);
}

Variable unary_op(UnaryOp op, const Variable& x, double param, const char* name) {
  Tensor y = tensor::unary(op, x.value(), param);
  Tensor xv = x.value();
  return Variable::make(y, {x},
                        [op, param, xv](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(tensor::unary_backward(op, xv, g, param));
                        },
                        name);
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  Tensor bv = b.value();
  return Variable::make(tensor::add(a.value(), b.value()), {a, b},
                        [bv](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(g);
                          if (in[1].requires_grad()) in[1].accumulate_grad(reduce_to(g, bv));
                        },
                        "add");
}

Variable sub(const Variable& a, const Variable& b) {
  Tensor bv = b.value();
  return Variable::make(tensor::sub(a.value(), b.value()), {a, b},
                        [bv](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(g);
                          if (in[1].requires_grad())
                            in[1].accumulate_grad(tensor::scale(reduce_to(g, bv), -1.0));
                        },
                        "sub");
}

Variable mul(const Variable& a, const Variable& b) {
  Tensor av = a.value(), bv = b.value();
  return Variable::make(tensor::mul(av, bv), {a, b},
                        [av, bv](const Tensor& g, std::vector<Variable>& in) {
                          if (in[0].requires_grad()) in[0].accumulate_grad(tensor::mul(g, bv));
                          if (in[1].requires_grad())
                            in[1].accumulate_grad(reduce_to(tensor::mul(g, av), bv));
                        },
                        "mul");
}

Variable div(const Variable& a, const Variable& b) {
  Tensor av = a.value(), bv = b.value();
  Tensor out = tensor::div(av, bv);
  return Variable::make(out, {a, b},
                        [av, bv, out](const Tensor& g, std::vector<Variable>& in) {
                          if (in[0].requires_grad()) in[0].accumulate_grad(tensor::div(g, bv));
                          if (in[1].requires_grad()) {
                            // d(a/b)/db = -(a/b) / b
                            Tensor t = tensor::div(tensor::mul(g, out), expand_to(bv, av));
                            in[1].accumulate_grad(tensor::scale(reduce_to(t, bv), -1.0));
                          }
                        },
                        "div");
}

Variable scale(const Variable& x, double alpha) {
  return Variable::make(tensor::scale(x.value(), alpha), {x},
                        [alpha](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(tensor::scale(g, alpha));
                        },
                        "scale");
}

Variable relu(const Variable& x) { return unary_op(UnaryOp::Relu, x, 0.0, "relu"); }
Variable leaky_relu(const Variable& x, double slope) {
  return unary_op(UnaryOp::LeakyRelu, x, slope, "leaky_relu");
}
Variable elu(const Variable& x, double alpha) { return unary_op(UnaryOp::Elu, x, alpha, "elu"); }
Variable exp(const Variable& x) { return unary_op(UnaryOp::Exp, x, 0.0, "exp"); }
Variable square(const Variable& x) { return unary_op(UnaryOp::Square, x, 0.0, "square"); }

Variable dropout(const Variable& x, double p, uint64_t seed, uint64_t stream, bool training) {
  EMBER_CHECK(p >= 0.0 && p < 1.0, "dropout: rate must be in [0, 1), got " << p);
  if (!training || p == 0.0) return x;
  return Variable::make(tensor::dropout(x.value(), p, seed, stream), {x},
                        [p, seed, stream](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(tensor::dropout(g, p, seed, stream));
                        },
                        "dropout");
}

}  // namespace ember
