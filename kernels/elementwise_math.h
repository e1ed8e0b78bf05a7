// Per-element math shared by the CPU reference and the CUDA kernels
// (kernels/elementwise_cpu.cpp and kernels/elementwise_cuda.cu): one source
// of truth for every activation, its derivative and the dropout mask.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/hd.h"
#include "core/philox.h"

namespace ember {

enum class BinaryOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3 };
enum class UnaryOp : int { Relu = 0, LeakyRelu = 1, Elu = 2, Exp = 3, Square = 4 };

namespace math {

template <class T>
EMBER_HD T binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

// y = f(x); `p` is LeakyReLU's negative slope or ELU's alpha.
template <class T>
EMBER_HD T unary(UnaryOp op, T x, T p) {
  switch (op) {
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? x : p * x;
    case UnaryOp::Elu: return x > T(0) ? x : p * (exp(x) - T(1));
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Square: return x * x;
  }
  return x;
}

// dL/dx given x and dL/dy.
template <class T>
EMBER_HD T unary_grad(UnaryOp op, T x, T gy, T p) {
  switch (op) {
    case UnaryOp::Relu: return x > T(0) ? gy : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? gy : p * gy;
    case UnaryOp::Elu: return x > T(0) ? gy : gy * p * exp(x);
    case UnaryOp::Exp: return gy * exp(x);
    case UnaryOp::Square: return gy * T(2) * x;
  }
  return gy;
}

// Inverted dropout: element `i` is kept with probability 1-p and scaled by
// 1/(1-p). The mask is a pure function of (seed, stream, i), so backward
// recomputes it instead of storing it: element i uses the 16-bit half
// i % 8 of the Philox block of counter i / 8 (one Philox call serves eight
// elements; the keep probability is exact to 2^-16).
EMBER_HD float dropout_uniform16(uint32_t half) { return static_cast<float>(half) * (1.0f / 65536.0f); }

constexpr int64_t kDropoutPerBlock = 8;

// Elements [8 b, 8 b + 8) of x (n elements) into y: one Philox block.
template <class T>
EMBER_HD void dropout8(const T* x, T* y, int64_t n, int64_t b, double p, uint64_t seed, uint64_t stream) {
  const int64_t i0 = kDropoutPerBlock * b;
  if (p <= 0.0) {
    for (int64_t i = i0; i < i0 + kDropoutPerBlock && i < n; ++i) y[i] = x[i];
    return;
  }
  const philox::U4 r = philox::philox4x32(static_cast<uint64_t>(b), stream, seed);
  const uint32_t w[4] = {r.x, r.y, r.z, r.w};
  const float pf = static_cast<float>(p);
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  for (int64_t k = 0; k < kDropoutPerBlock && i0 + k < n; ++k) {
    const uint32_t half = (w[k >> 1] >> ((k & 1) * 16)) & 0xffffu;
    y[i0 + k] = dropout_uniform16(half) >= pf ? x[i0 + k] * scale : T(0);
  }
}

// One Adam/AdamW update of one parameter element (bias-corrected).
// decoupled = true is AdamW (weight decay applied to the parameter directly).
template <class T>
EMBER_HD void adam(T& param, T grad, T& m, T& v, double lr, double b1, double b2, double eps,
                   double wd, bool decoupled, double bc1, double bc2) {
  double g = static_cast<double>(grad);
  if (!decoupled && wd != 0.0) g += wd * static_cast<double>(param);
  double mm = b1 * static_cast<double>(m) + (1.0 - b1) * g;
  double vv = b2 * static_cast<double>(v) + (1.0 - b2) * g * g;
  m = static_cast<T>(mm);
  v = static_cast<T>(vv);
  double update = (mm / bc1) / (sqrt(vv / bc2) + eps);
  double pnew = static_cast<double>(param);
  if (decoupled && wd != 0.0) pnew -= lr * wd * pnew;
  param = static_cast<T>(pnew - lr * update);
}

// SGD with momentum and L2 weight decay.
template <class T>
EMBER_HD void sgd(T& param, T grad, T& buf, double lr, double momentum, double wd) {
  double g = static_cast<double>(grad) + wd * static_cast<double>(param);
  double b = momentum * static_cast<double>(buf) + g;
  buf = static_cast<T>(b);
  param = static_cast<T>(static_cast<double>(param) - lr * (momentum != 0.0 ? b : g));
}

}  // namespace math
}  // namespace ember
