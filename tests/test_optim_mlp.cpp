// Optimizers, initialisation, and an end-to-end MLP trained through the tape.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/init.h"
#include "autograd/optimizer.h"
#include "core/context.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "ops/rows.h"
#include "kernels/tensor_ops.h"

using namespace ember;

TEST_CASE("adam: first steps match the formula", "[optim]") {
  Variable p = parameter(Tensor::from_vector<double>({1.0, -2.0}, {2}));
  Adam opt({p}, AdamOptions{0.1, 0.9, 0.999, 1e-8, 0.0, false});
  p.accumulate_grad(Tensor::from_vector<double>({0.5, -4.0}, {2}));
  opt.step();
  // Step 1: m_hat = g, v_hat = g^2, update = lr * sign(g) (up to eps).
  auto v = p.value().to_vector<double>();
  REQUIRE(v[0] == Approx(0.9).epsilon(1e-7));
  REQUIRE(v[1] == Approx(-1.9).epsilon(1e-7));
  REQUIRE(opt.steps() == 1);
}

TEST_CASE("adamw: decoupled weight decay shrinks the parameter", "[optim]") {
  Variable p = parameter(Tensor::from_vector<double>({2.0}, {1}));
  Adam opt({p}, AdamOptions{0.1, 0.9, 0.999, 1e-8, 0.5, true});
  p.accumulate_grad(Tensor::from_vector<double>({0.0}, {1}));
  opt.step();
  // g = 0: only the decay acts: p - lr * wd * p.
  REQUIRE(p.value().to_vector<double>()[0] == Approx(2.0 - 0.1 * 0.5 * 2.0));
}

TEST_CASE("sgd with momentum and gradient clipping", "[optim]") {
  Variable p = parameter(Tensor::from_vector<double>({1.0, 1.0}, {2}));
  Sgd opt({p}, SgdOptions{0.1, 0.5, 0.0});
  p.accumulate_grad(Tensor::from_vector<double>({3.0, 4.0}, {2}));
  REQUIRE(opt.clip_grad_norm(1.0) == Approx(5.0));
  REQUIRE(opt.grad_norm() == Approx(1.0).epsilon(1e-9));
  opt.step();
  auto v = p.value().to_vector<double>();
  REQUIRE(v[0] == Approx(1.0 - 0.1 * 0.6));
  REQUIRE(v[1] == Approx(1.0 - 0.1 * 0.8));
  opt.zero_grad();
  REQUIRE_FALSE(p.has_grad());
  REQUIRE_THROWS_WITH(Sgd({p}, SgdOptions{-1.0}), Catch::Contains("learning rate"));
  REQUIRE_THROWS_WITH(Adam({Variable(Tensor::zeros({1}))}), Catch::Contains("does not require a gradient"));
}

TEST_CASE("glorot init is seeded and bounded", "[optim]") {
  Rng a(1), b(1);
  Tensor x = glorot_uniform({30, 20}, a), y = glorot_uniform({30, 20}, b);
  REQUIRE(x.to_vector<float>() == y.to_vector<float>());
  const double bound = std::sqrt(6.0 / 50.0);
  for (float f : x.to_vector<float>()) REQUIRE(std::fabs(f) <= bound);
}

namespace {
// Two-layer MLP classifying points by which of 3 centers they are nearest to;
// returns the loss after each epoch. Runs on `device` (cpu or emu).
std::vector<double> train_mlp(Device device, int epochs) {
  Rng rng(2024);
  const int64_t n = 256, d = 2, h = 32, k = 3;
  std::vector<float> xs, ys;
  const double cx[3] = {0.0, 2.0, -2.0}, cy[3] = {2.0, -1.0, -1.0};
  std::vector<float> onehot(n * k, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % k);
    xs.push_back(static_cast<float>(cx[c] + 0.7 * rng.normal()));
    xs.push_back(static_cast<float>(cy[c] + 0.7 * rng.normal()));
    onehot[i * k + c] = 1.0f;
  }
  Tensor X = Tensor::from_vector(xs, {n, d}, device), Y = Tensor::from_vector(onehot, {n, k}, device);
  Variable w1 = parameter(glorot_uniform({d, h}, rng, DType::F32, device));
  Variable b1 = parameter(Tensor::zeros({h}, DType::F32, device));
  Variable w2 = parameter(glorot_uniform({h, k}, rng, DType::F32, device));
  Variable b2 = parameter(Tensor::zeros({k}, DType::F32, device));
  Adam opt({w1, b1, w2, b2}, AdamOptions{0.02});
  std::vector<double> losses;
  for (int e = 0; e < epochs; ++e) {
    opt.zero_grad();
    Variable hid = relu(linear(Variable(X), w1, b1));
    Variable logp = log_softmax_rows(linear(hid, w2, b2));
    // Cross-entropy: -mean over rows of sum_j y_ij log p_ij.
    Variable loss = scale(sum(mul(logp, Variable(Y))), -1.0 / n);
    loss.backward();
    opt.clip_grad_norm(5.0);
    opt.step();
    losses.push_back(tensor::scalar(loss.value()));
  }
  return losses;
}
}  // namespace

TEST_CASE("end to end: an MLP trained with Adam through the tape reaches the loss threshold", "[optim][e2e]") {
  auto losses = train_mlp(Device::CPU, 150);
  INFO("first loss " << losses.front() << ", last loss " << losses.back());
  REQUIRE(losses.front() > 0.5);
  REQUIRE(losses.back() < 0.15);
  if (Context::get().emu_available()) {
    // The same training on the emulated CUDA kernels follows the CPU closely.
    auto emu = train_mlp(Device::EMU, 20);
    auto cpu20 = train_mlp(Device::CPU, 20);
    REQUIRE(emu.back() == Approx(cpu20.back()).epsilon(1e-3));
  }
}
