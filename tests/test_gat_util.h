// Helpers shared by the GAT tests (tests/test_gat*.cpp): power-law edge
// lists and a layer with random parameters run forward + backward on one
// device.
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "core/philox.h"
#include "ops/gat.h"

namespace ember {
namespace testing {

struct EdgeList {
  std::vector<int32_t> src, dst;
  void add(int32_t s, int32_t d) {
    src.push_back(s);
    dst.push_back(d);
  }
};

// Chung-Lu style: both endpoints drawn with probability ~ (rank + 1)^-alpha,
// so a few nodes have high in- and out-degree and many have none. Nodes
// [n - isolated, n) get no edges at all.
inline EdgeList power_law_edges(int64_t n, int64_t e, uint64_t seed, double alpha = 0.9, int64_t isolated = 0) {
  const int64_t m = n - isolated;
  std::vector<double> cdf(static_cast<size_t>(m));
  double acc = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    acc += std::pow(static_cast<double>(i + 1), -alpha);
    cdf[static_cast<size_t>(i)] = acc;
  }
  Rng rng(seed, 17);
  auto draw = [&]() {
    const double u = rng.uniform() * acc;
    int64_t lo = 0, hi = m - 1;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (cdf[static_cast<size_t>(mid)] < u) lo = mid + 1;
      else hi = mid;
    }
    // Scatter the ranks over the ids so hubs are not all at the front.
    return static_cast<int32_t>((lo * 7919) % m);
  };
  EdgeList el;
  for (int64_t k = 0; k < e; ++k) el.add(draw(), draw());
  return el;
}

inline Tensor rand_tensor(const Shape& s, DType dt, Rng& r, double lo = -1.0, double hi = 1.0) {
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (double& x : v) x = lo + (hi - lo) * r.uniform();
  return Tensor::from_vector(v, s).to_dtype(dt);
}

// Parameters of one layer (CPU tensors).
struct GatParamsT {
  Tensor x, w, as, ad, bias, res;
};

inline GatParamsT random_layer(int64_t n, int64_t fin, const GatOptions& o, DType dt, uint64_t seed,
                               bool with_bias = true, bool with_res = false) {
  Rng r(seed, 3);
  const int64_t hf = o.heads * o.out_features, out = o.concat ? hf : o.out_features;
  GatParamsT p;
  p.x = rand_tensor({n, fin}, dt, r);
  p.w = rand_tensor({fin, hf}, dt, r, -0.7, 0.7);
  p.as = rand_tensor({o.heads, o.out_features}, dt, r);
  p.ad = rand_tensor({o.heads, o.out_features}, dt, r);
  if (with_bias) p.bias = rand_tensor({out}, dt, r);
  if (with_res) p.res = rand_tensor({fin, out}, dt, r, -0.5, 0.5);
  return p;
}

// Output and gradients of L = sum(out * R), all copied to the CPU.
struct LayerRun {
  Tensor out, gx, gw, gas, gad, gbias, gres;
};

inline LayerRun run_layer(const GatParamsT& p, const MessageGraph& g_cpu, const GatOptions& o, Device dev,
                          const Tensor& r_cpu, bool backward = true) {
  MessageGraph g = dev == Device::CPU ? g_cpu : g_cpu.to(dev);
  Variable x(p.x.to(dev), true), w(p.w.to(dev), true), as(p.as.to(dev), true), ad(p.ad.to(dev), true);
  Variable bias = p.bias.defined() ? Variable(p.bias.to(dev), true) : Variable();
  Variable res = p.res.defined() ? Variable(p.res.to(dev), true) : Variable();
  Variable y = gat_conv(x, g, w, as, ad, bias, o, res);
  LayerRun out;
  out.out = y.value().to(Device::CPU);
  if (backward) {
    y.backward(r_cpu.to(dev));
    out.gx = x.grad().to(Device::CPU);
    out.gw = w.grad().to(Device::CPU);
    out.gas = as.grad().to(Device::CPU);
    out.gad = ad.grad().to(Device::CPU);
    if (bias.defined()) out.gbias = bias.grad().to(Device::CPU);
    if (res.defined()) out.gres = res.grad().to(Device::CPU);
  }
  return out;
}

}  // namespace testing
}  // namespace ember
