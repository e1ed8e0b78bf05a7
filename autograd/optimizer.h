// Optimizers over parameter Variables (leaves with requires_grad = true).
// Updates run in a no-grad scope through the fused kernels of kernels/optim.h.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/variable.h"

namespace ember {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Variable> params);
  virtual ~Optimizer() = default;
  // One update from the parameters' current gradients (parameters without a
  // gradient are skipped).
  virtual void step() = 0;
  void zero_grad();
  // Scales all gradients so that their global L2 norm is at most max_norm.
  // Returns the norm before clipping (NaN/Inf if a gradient is not finite).
  double clip_grad_norm(double max_norm);
  // Global L2 norm of the current gradients.
  double grad_norm() const;
  // Its square as a [1] tensor where the gradients are (F64 on the host):
  // read it together with other values in one copy (tensor::read_scalars).
  Tensor grad_sq_norm_tensor() const;
  // Multiplies every gradient by s (clipping with a norm computed elsewhere).
  void scale_gradients(double s);

  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  const std::vector<Variable>& params() const { return params_; }
  // Optimizer state for checkpoints: a flat list of tensors plus a step count.
  virtual std::vector<Tensor> state() const = 0;
  virtual void load_state(const std::vector<Tensor>& state) = 0;
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }

 protected:
  std::vector<Variable> params_;
  double lr_ = 1e-3;
  int64_t step_ = 0;
};

struct SgdOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double weight_decay = 0.0;
};

class Sgd final : public Optimizer {
 public:
  Sgd(std::vector<Variable> params, SgdOptions opt = {});
  void step() override;
  std::vector<Tensor> state() const override { return buf_; }
  void load_state(const std::vector<Tensor>& state) override;

 private:
  SgdOptions opt_;
  std::vector<Tensor> buf_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // true: AdamW
};

class Adam final : public Optimizer {
 public:
  Adam(std::vector<Variable> params, AdamOptions opt = {});
  void step() override;
  std::vector<Tensor> state() const override;  // m_0, v_0, m_1, v_1, ...
  void load_state(const std::vector<Tensor>& state) override;

 private:
  AdamOptions opt_;
  std::vector<Tensor> m_, v_;
};

}  // namespace ember
