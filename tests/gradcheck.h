// Float64 finite-difference gradient check for differentiable ops.
//
// For f(inputs) -> Variable y, checks the autograd gradient of
// L = sum(y * R) (R a fixed random tensor, so every output element matters)
// against central differences with step h, for every input that requires a
// gradient. The error measure is the norm-wise relative error
//   ||g_autograd - g_numeric||_2 / max(||g_autograd||_2, ||g_numeric||_2, 1e-12).
#pragma once
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "core/philox.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace testing {

using OpFn = std::function<Variable(const std::vector<Variable>&)>;

// Random float64 tensor on the CPU with entries in [lo, hi).
inline Tensor random_f64(const Shape& shape, Rng& rng, double lo = -1.0, double hi = 1.0) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = lo + (hi - lo) * rng.uniform();
  return Tensor::from_vector(v, shape);
}

struct GradcheckResult {
  double max_rel_error = 0.0;
  std::string report;
};

inline double weighted_sum(const Tensor& y, const Tensor& r) {
  Tensor yc = y.to(Device::CPU);
  const double* py = yc.data<double>();
  const double* pr = r.data<double>();
  double s = 0.0;
  for (int64_t i = 0; i < yc.numel(); ++i) s += py[i] * pr[i];
  return s;
}

// inputs: float64 CPU tensors; needs_grad[i] selects which ones are checked.
inline GradcheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs,
                                 std::vector<bool> needs_grad = {}, double h = 1e-6,
                                 uint64_t seed = 7) {
  if (needs_grad.empty()) needs_grad.assign(inputs.size(), true);
  std::vector<Variable> vars;
  for (size_t i = 0; i < inputs.size(); ++i) vars.emplace_back(inputs[i].clone(), needs_grad[i]);
  Variable y = f(vars);
  Rng rng(seed, 99);
  Tensor r = random_f64(y.shape(), rng);
  y.backward(r.to(y.device()));

  GradcheckResult res;
  std::ostringstream os;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!needs_grad[i]) continue;
    Tensor analytic = vars[i].has_grad() ? vars[i].grad().to(Device::CPU)
                                         : Tensor::zeros(inputs[i].shape(), DType::F64);
    Tensor x = inputs[i].clone();
    double* px = x.data<double>();
    double num2 = 0.0, ana2 = 0.0, diff2 = 0.0;
    const double* pa = analytic.data<double>();
    for (int64_t k = 0; k < x.numel(); ++k) {
      const double orig = px[k];
      auto eval = [&](double v) {
        px[k] = v;
        std::vector<Variable> vs;
        for (size_t j = 0; j < inputs.size(); ++j)
          vs.emplace_back(j == i ? x.clone() : inputs[j].clone(), false);
        NoGradGuard ng;
        return weighted_sum(f(vs).value(), r);
      };
      const double numeric = (eval(orig + h) - eval(orig - h)) / (2.0 * h);
      px[k] = orig;
      num2 += numeric * numeric;
      ana2 += pa[k] * pa[k];
      diff2 += (numeric - pa[k]) * (numeric - pa[k]);
    }
    const double denom = std::max({std::sqrt(num2), std::sqrt(ana2), 1e-12});
    const double rel = std::sqrt(diff2) / denom;
    os << "input " << i << " " << inputs[i].describe() << ": rel error " << rel
       << " (|grad| " << std::sqrt(ana2) << ")\n";
    res.max_rel_error = std::max(res.max_rel_error, rel);
  }
  res.report = os.str();
  return res;
}

}  // namespace testing
}  // namespace ember
