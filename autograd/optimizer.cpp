#include "autograd/optimizer.h"

#include <cmath>

#include "kernels/tensor_ops.h"

namespace ember {

Optimizer::Optimizer(std::vector<Variable> params) : params_(std::move(params)) {
  for (const Variable& p : params_) {
    EMBER_CHECK(p.defined(), "optimizer: undefined parameter");
    EMBER_CHECK(p.requires_grad(), "optimizer: parameter does not require a gradient");
    EMBER_CHECK(is_float(p.dtype()), "optimizer: parameter must be float, got " << p.value().describe());
  }
}

void Optimizer::zero_grad() {
  for (Variable& p : params_) p.zero_grad();
}

Tensor Optimizer::grad_sq_norm_tensor() const {
  std::vector<Tensor> grads;
  for (const Variable& p : params_)
    if (p.has_grad()) grads.push_back(p.grad());
  return tensor::sum_squares_all_tensor(grads);
}

double Optimizer::grad_norm() const {
  return std::sqrt(tensor::scalar(grad_sq_norm_tensor()));  // one device-to-host read on a device
}

double Optimizer::clip_grad_norm(double max_norm) {
  EMBER_CHECK(max_norm > 0.0, "clip_grad_norm: max_norm must be > 0, got " << max_norm);
  const double norm = grad_norm();
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  scale_gradients(max_norm / (norm + 1e-12));
  return norm;
}

void Optimizer::scale_gradients(double s) {
  for (Variable& p : params_) {
    if (!p.has_grad()) continue;
    Tensor g = tensor::scale(p.grad(), s);
    p.zero_grad();
    p.accumulate_grad(g);
  }
}

Sgd::Sgd(std::vector<Variable> params, SgdOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  EMBER_CHECK(opt.lr > 0.0, "SGD: learning rate must be > 0, got " << opt.lr);
  EMBER_CHECK(opt.momentum >= 0.0 && opt.momentum < 1.0, "SGD: momentum must be in [0, 1)");
  EMBER_CHECK(opt.weight_decay >= 0.0, "SGD: weight_decay must be >= 0");
  lr_ = opt.lr;
  for (const Variable& p : params_) buf_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
}

void Sgd::step() {
  NoGradGuard ng;
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].has_grad()) continue;
    tensor::sgd_update_(params_[i].mutable_value(), params_[i].grad(), buf_[i], lr_, opt_.momentum,
                        opt_.weight_decay);
  }
}

void Sgd::load_state(const std::vector<Tensor>& state) {
  EMBER_CHECK(state.size() == buf_.size(), "SGD state: expected " << buf_.size() << " tensors, got "
                                                                  << state.size());
  for (size_t i = 0; i < buf_.size(); ++i) buf_[i].copy_from(state[i]);
}

Adam::Adam(std::vector<Variable> params, AdamOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  EMBER_CHECK(opt.lr > 0.0, "Adam: learning rate must be > 0, got " << opt.lr);
  EMBER_CHECK(opt.beta1 >= 0.0 && opt.beta1 < 1.0 && opt.beta2 >= 0.0 && opt.beta2 < 1.0,
              "Adam: betas must be in [0, 1)");
  EMBER_CHECK(opt.eps > 0.0, "Adam: eps must be > 0");
  EMBER_CHECK(opt.weight_decay >= 0.0, "Adam: weight_decay must be >= 0");
  lr_ = opt.lr;
  for (const Variable& p : params_) {
    m_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    v_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  }
}

void Adam::step() {
  NoGradGuard ng;
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].has_grad()) continue;
    tensor::adam_update_(params_[i].mutable_value(), params_[i].grad(), m_[i], v_[i], lr_, opt_.beta1, opt_.beta2,
                         opt_.eps, opt_.weight_decay, opt_.decoupled, step_);
  }
}

std::vector<Tensor> Adam::state() const {
  std::vector<Tensor> s;
  for (size_t i = 0; i < m_.size(); ++i) {
    s.push_back(m_[i]);
    s.push_back(v_[i]);
  }
  return s;
}

void Adam::load_state(const std::vector<Tensor>& state) {
  EMBER_CHECK(state.size() == 2 * m_.size(), "Adam state: expected " << 2 * m_.size()
                                                                     << " tensors, got " << state.size());
  for (size_t i = 0; i < m_.size(); ++i) {
    m_[i].copy_from(state[2 * i]);
    v_[i].copy_from(state[2 * i + 1]);
  }
}

}  // namespace ember
