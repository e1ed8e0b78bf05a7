// Tape-based reverse-mode autograd (flashlight style).
//
// A Variable is a shared handle to a Node: the value, the accumulated
// gradient, and - for results of differentiable ops - the inputs and a
// backward closure. backward() orders the graph reachable from the root
// (depth-first topological order: the tape) and replays it in reverse,
// calling each node's closure once its gradient is complete. A value used
// twice receives the sum of both gradients.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ember {

class Variable;

// Per-thread switch for recording the tape. Part of the documented context:
// it is thread_local, so worker threads never see another thread's setting.
class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool on);
};

// RAII scope in which ops record nothing (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Backward closure: receives the node's complete output gradient and adds
// the input gradients with Variable::accumulate_grad (inputs passed in order).
using BackwardFn = std::function<void(const Tensor& grad_out, std::vector<Variable>& inputs)>;

class Variable {
 public:
  Variable() = default;  // undefined
  explicit Variable(Tensor value, bool requires_grad = false);

  // Result of a differentiable op. Records `inputs` and `fn` only when grad
  // mode is on and some input requires a gradient.
  static Variable make(Tensor value, std::vector<Variable> inputs, BackwardFn fn,
                       const char* op_name);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  Tensor& mutable_value();  // for optimizers (in-place parameter updates)
  const Tensor& grad() const;  // undefined tensor when no gradient has arrived
  bool has_grad() const;
  bool requires_grad() const;
  void set_requires_grad(bool on);
  const char* op_name() const;

  // Shorthands.
  const Shape& shape() const { return value().shape(); }
  int64_t size(int64_t axis) const { return value().size(axis); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }

  // Reverse pass from this scalar (one-element) variable, seeded with 1.
  void backward();
  // Reverse pass seeded with `grad_output` (same shape as the value).
  void backward(const Tensor& grad_output);

  // Adds g to this variable's gradient (out of place: earlier gradient
  // tensors are never modified, so closures may pass tensors they share).
  void accumulate_grad(const Tensor& g);
  void zero_grad();
  // Cuts this variable from its history (a leaf with the same value).
  Variable detach() const;

  // Identity of the underlying node (for maps / sets).
  const void* id() const { return node_.get(); }

 private:
  struct Node;
  std::shared_ptr<Node> node_;
};

}  // namespace ember
