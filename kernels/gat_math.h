// Per-element math of the GAT attention layer (kernels/gat.h), shared by the
// CPU reference (kernels/gat_cpu.cpp) and the CUDA kernels
// (kernels/gat_cuda.cu, also run under the kernel emulator): LeakyReLU and its
// derivative, the attention-dropout keep test, and the combination of
// online-softmax partials. One source of truth, so the backends agree.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/hd.h"
#include "core/philox.h"

namespace ember {

// Geometry and hyper-parameters of one GAT attention call (kernel level).
//   Wh  [N, H*F]  projected node features, head-major within a row
//   out [N, O]    O = H*F (concat) or F (mean over heads)
struct GatParams {
  int64_t heads = 1;     // H
  int64_t features = 1;  // F, per head
  bool concat = true;    // false: mean over heads
  double negative_slope = 0.2;
  double dropout = 0.0;  // attention-dropout rate in [0, 1); 0 = off
  uint64_t seed = 0, stream = 0;

  int64_t in_cols() const { return heads * features; }
  int64_t out_cols() const { return concat ? heads * features : features; }
};

namespace gat_math {

template <class T>
EMBER_HD T leaky_relu(T x, T slope) {
  return x > T(0) ? x : slope * x;
}

// d leaky_relu / dx (the kink at 0 takes the negative side, as in the
// element-wise LeakyReLU of kernels/elementwise_math.h).
template <class T>
EMBER_HD T leaky_relu_grad(T x, T slope) {
  return x > T(0) ? T(1) : slope;
}

// Attention dropout. The decision for (edge e, head h) is a pure function of
// (seed, stream, e, h): one Philox4x32 call serves four heads, counter
// e * ceil(H / 4) + h / 4, word h % 4. `e` is the edge's position in the
// CSR by destination (MessageGraph::col), so the CPU, the GPU and the
// emulator drop the same edges, and the backward recomputes the mask.
EMBER_HD philox::U4 dropout_bits(uint64_t seed, uint64_t stream, int64_t edge, int64_t heads,
                                 int64_t head_group) {
  const uint64_t groups = static_cast<uint64_t>((heads + 3) / 4);
  return philox::philox4x32(static_cast<uint64_t>(edge) * groups + static_cast<uint64_t>(head_group),
                            stream, seed);
}

// The uniform [0, 1) number of head h (word h % 4 of the group's bits).
EMBER_HD float dropout_uniform(const philox::U4& r, int64_t h) {
  const int w = static_cast<int>(h & 3);
  const uint32_t bits = w == 0 ? r.x : (w == 1 ? r.y : (w == 2 ? r.z : r.w));
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// Keep test: kept with probability 1 - p (u >= p).
EMBER_HD bool dropout_keep(float u, double p) { return u >= static_cast<float>(p); }

// Multiplier of alpha for (edge, head): 1 without dropout, else 0 or 1/(1-p).
template <class T>
EMBER_HD T dropout_scale(uint64_t seed, uint64_t stream, int64_t edge, int64_t heads, int64_t h,
                         double p) {
  if (p <= 0.0) return T(1);
  const philox::U4 r = dropout_bits(seed, stream, edge, heads, h >> 2);
  return dropout_keep(dropout_uniform(r, h), p) ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
}

// Merges the online-softmax partial (m2, l2) into (m, l): afterwards
// l * exp(m) = l_old * exp(m_old) + l2 * exp(m2). An empty partial has
// m = -inf, l = 0.
template <class T>
EMBER_HD void softmax_merge(T& m, T& l, T m2, T l2) {
  if (!(m2 > -INFINITY)) return;
  if (!(m > -INFINITY)) {
    m = m2;
    l = l2;
    return;
  }
  const T mn = m > m2 ? m : m2;
  l = l * exp(m - mn) + l2 * exp(m2 - mn);
  m = mn;
}

// Adds one score x to the partial (m, l).
template <class T>
EMBER_HD void softmax_push(T& m, T& l, T x) {
  if (x > m) {
    l = l * exp(m - x) + T(1);  // exp(-inf) = 0 for the first element
    m = x;
  } else {
    l += exp(x - m);
  }
}

// log-sum-exp of a partial; -inf for an empty one (a row without in-edges).
template <class T>
EMBER_HD T softmax_lse(T m, T l) {
  return m > -INFINITY ? m + log(l) : T(-INFINITY);
}

}  // namespace gat_math
}  // namespace ember
