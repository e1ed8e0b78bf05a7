#include "autograd/variable.h"

#include <unordered_set>

#include "kernels/elementwise.h"

namespace ember {

namespace {
thread_local bool g_grad_enabled = true;
}

bool GradMode::enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool on) { g_grad_enabled = on; }

struct Variable::Node {
  Tensor value;
  Tensor grad;
  bool requires_grad = false;
  std::vector<Variable> inputs;
  BackwardFn backward;
  const char* op_name = "leaf";
};

Variable::Variable(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  EMBER_CHECK(value.defined(), "Variable from an undefined tensor");
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

Variable Variable::make(Tensor value, std::vector<Variable> inputs, BackwardFn fn, const char* op_name) {
  Variable out(std::move(value), false);
  out.node_->op_name = op_name;
  if (!GradMode::enabled()) return out;
  bool any = false;
  for (const Variable& v : inputs) any = any || (v.defined() && v.requires_grad());
  if (!any) return out;
  out.node_->requires_grad = true;
  out.node_->inputs = std::move(inputs);
  out.node_->backward = std::move(fn);
  return out;
}

const Tensor& Variable::value() const {
  EMBER_CHECK(defined(), "use of an undefined Variable");
  return node_->value;
}

Tensor& Variable::mutable_value() {
  EMBER_CHECK(defined(), "use of an undefined Variable");
  return node_->value;
}

const Tensor& Variable::grad() const {
  EMBER_CHECK(defined(), "use of an undefined Variable");
  return node_->grad;
}

bool Variable::has_grad() const { return defined() && node_->grad.defined(); }
bool Variable::requires_grad() const { return defined() && node_->requires_grad; }
void Variable::set_requires_grad(bool on) {
  EMBER_CHECK(defined(), "use of an undefined Variable");
  node_->requires_grad = on;
}
const char* Variable::op_name() const { return defined() ? node_->op_name : "undefined"; }

void Variable::accumulate_grad(const Tensor& g) {
  EMBER_CHECK(defined(), "accumulate_grad on an undefined Variable");
  if (!node_->requires_grad) return;
  EMBER_CHECK(g.shape() == node_->value.shape(),
              "gradient shape " << shape_str(g.shape()) << " does not match value "
                                << node_->value.describe() << " (op " << node_->op_name << ")");
  check_same_device(g, node_->value, "accumulate_grad");
  if (!node_->grad.defined()) {
    node_->grad = g.contiguous();
    return;
  }
  Tensor sum = Tensor::empty(g.shape(), g.dtype(), g.device());
  Tensor gc = g.contiguous();
  EMBER_DISPATCH(g.device(), binary, BinaryOp::Add, node_->grad, gc, sum);
  node_->grad = sum;
}

void Variable::zero_grad() {
  if (defined()) node_->grad = Tensor();
}

Variable Variable::detach() const { return Variable(value(), false); }

void Variable::backward() {
  EMBER_CHECK(value().numel() == 1, "backward() without a gradient needs a one-element value, got "
                                        << value().describe());
  backward(Tensor::full(value().shape(), 1.0, value().dtype(), value().device()));
}

void Variable::backward(const Tensor& grad_output) {
  EMBER_CHECK(defined(), "backward on an undefined Variable");
  EMBER_CHECK(requires_grad(), "backward on a Variable that does not require a gradient");
  // The tape: nodes in depth-first post-order (inputs before their users).
  // The tape holds owning pointers: replaying it frees each node's history,
  // which must not free nodes still waiting on the tape.
  std::vector<std::shared_ptr<Node>> tape;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
  seen.insert(node_.get());
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      std::shared_ptr<Node> child = n->inputs[next++].node_;
      if (child && child->requires_grad && !seen.count(child.get())) {
        seen.insert(child.get());
        stack.push_back({child, 0});
      }
    } else {
      tape.push_back(n);
      stack.pop_back();
    }
  }
  accumulate_grad(grad_output);
  // Replay in reverse: every user of a node runs before the node itself.
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    Node* n = it->get();
    if (!n->backward || !n->grad.defined()) continue;
    n->backward(n->grad, n->inputs);
    // Free the history of intermediate results (the graph is used once).
    n->backward = nullptr;
    n->inputs.clear();
  }
}

}  // namespace ember
