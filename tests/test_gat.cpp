// GAT attention layer (ops/gat.h, kernels/gat.h) and the message graph
// (ops/message_graph.h).
//
// Tolerances of the backend comparisons (CPU reference vs emulated / real
// CUDA kernels), relative to the largest magnitude of the compared tensor:
//   float64: 1e-10        float32: 2e-5
// (the kernels sum in a different order than the CPU, and the CPU keeps the
// softmax statistics in double).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "backend_harness.h"
#include "backend_registry.h"
#include "core/context.h"
#include "gradcheck.h"
#include "ops/gat.h"
#include "ops/message_graph.h"
#include "test_gat_util.h"

using namespace ember;
using testing::EdgeList;
using testing::GatParamsT;
using testing::LayerRun;

namespace {

GatOptions opts(int64_t heads, int64_t f, bool concat, double drop = 0.0, uint64_t seed = 5) {
  GatOptions o;
  o.heads = heads;
  o.out_features = f;
  o.concat = concat;
  o.attn_dropout = drop;
  o.dropout_seed = seed;
  o.dropout_stream = 2;
  o.training = true;
  return o;
}

// Largest |t| (>= 1e-30), for tolerances relative to a tensor's scale.
double max_abs(const Tensor& t) {
  Tensor c = t.to_dtype(DType::F64).to(Device::CPU);
  double m = 1e-30;
  for (double v : c.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

void require_close_scaled(const Tensor& got, const Tensor& ref, double tol, const std::string& what) {
  testing::require_close(got, ref, tol, tol * max_abs(ref), what);
}

// Dense masked attention with plain loops in double: A[i][j] = number of
// edges j -> i (self-loops added / duplicates merged like the builder).
Tensor dense_reference(const GatParamsT& p, const EdgeList& el, int64_t n, const MessageGraphOptions& mo,
                       const GatOptions& o) {
  const int64_t H = o.heads, F = o.out_features, HF = H * F, fin = p.x.size(1);
  std::vector<std::vector<int>> A(static_cast<size_t>(n), std::vector<int>(static_cast<size_t>(n), 0));
  for (size_t k = 0; k < el.src.size(); ++k) A[el.dst[k]][el.src[k]]++;
  for (int64_t i = 0; i < n; ++i) {
    if (mo.add_self_loops && A[i][i] == 0) A[i][i] = 1;
    if (mo.merge_duplicates)
      for (int64_t j = 0; j < n; ++j) A[i][j] = std::min(A[i][j], 1);
  }
  const auto x = p.x.to_vector<double>(), w = p.w.to_vector<double>();
  const auto as = p.as.to_vector<double>(), ad = p.ad.to_vector<double>();
  std::vector<double> wh(static_cast<size_t>(n * HF), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < HF; ++c)
      for (int64_t k = 0; k < fin; ++k) wh[i * HF + c] += x[i * fin + k] * w[k * HF + c];
  const int64_t out_cols = o.concat ? HF : F;
  std::vector<double> out(static_cast<size_t>(n * out_cols), 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < n; ++i) {
      double di = 0.0;
      for (int64_t f = 0; f < F; ++f) di += ad[h * F + f] * wh[i * HF + h * F + f];
      std::vector<double> e(static_cast<size_t>(n), 0.0);
      double m = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        if (!A[i][j]) continue;
        double sj = 0.0;
        for (int64_t f = 0; f < F; ++f) sj += as[h * F + f] * wh[j * HF + h * F + f];
        const double z = sj + di;
        e[j] = z > 0 ? z : o.negative_slope * z;
        m = std::max(m, e[j]);
      }
      double Z = 0.0;
      for (int64_t j = 0; j < n; ++j)
        if (A[i][j]) Z += A[i][j] * std::exp(e[j] - m);
      for (int64_t j = 0; j < n; ++j) {
        if (!A[i][j]) continue;
        const double a = A[i][j] * std::exp(e[j] - m) / Z;
        for (int64_t f = 0; f < F; ++f) {
          const int64_t oc = o.concat ? h * F + f : f;
          out[i * out_cols + oc] += a * wh[j * HF + h * F + f] / (o.concat ? 1.0 : static_cast<double>(H));
        }
      }
    }
  if (p.bias.defined()) {
    const auto b = p.bias.to_vector<double>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < out_cols; ++c) out[i * out_cols + c] += b[c];
  }
  return Tensor::from_vector(out, {n, out_cols});
}

}  // namespace

TEST_CASE("gat: hand-computed 3-node graph", "[gat]") {
  // Edges 0->2, 1->2, 2->0, 0->1, plus the added self-loops: in-neighbours
  // (sorted) 0: {0, 2}, 1: {0, 1}, 2: {0, 1, 2}.
  // x = [1, -2, 3] (F_in = 1), W = [1, 1]: two heads of one feature, Wh = [x, x].
  // Head 0: a_src = a_dst = 1, so s_j = x_j, d_i = x_i, e_ij = LeakyReLU_0.2(x_j + x_i):
  //   node 0: e = (2, 4)          alpha = (0.1192029220, 0.8807970780)
  //           out = 0.1192.. * 1 + 0.8808.. * 3             = 2.7615941560
  //   node 1: e = (-0.2, -0.8)    alpha = (0.6456563062, 0.3543436938)
  //           out = 0.6457.. * 1 + 0.3543.. * (-2)          = -0.0630310813
  //   node 2: e = (4, 1, 6)       alpha = (0.1184996545, 0.0058997504, 0.8756005951)
  //           out = 0.1185 * 1 + 0.0059 * (-2) + 0.8756 * 3  = 2.7335019389
  // Head 1: a_src = a_dst = 0: uniform attention, the neighbours' mean:
  //   node 0: (1 + 3) / 2 = 2, node 1: (1 - 2) / 2 = -0.5, node 2: (1 - 2 + 3) / 3 = 2/3.
  MessageGraph g = build_message_graph({0, 1, 2, 0}, {2, 2, 0, 1}, 3);
  REQUIRE(g.row_ptr.to_vector<int64_t>() == std::vector<int64_t>{0, 2, 4, 7});
  REQUIRE(g.col.to_vector<int32_t>() == std::vector<int32_t>{0, 2, 0, 1, 0, 1, 2});
  Variable x(Tensor::from_vector<double>({1, -2, 3}, {3, 1}));
  Variable w(Tensor::from_vector<double>({1, 1}, {1, 2}));
  Variable as(Tensor::from_vector<double>({1, 0}, {2, 1})), ad(Tensor::from_vector<double>({1, 0}, {2, 1}));
  const std::vector<double> head0{2.7615941560, -0.0630310813, 2.7335019389}, head1{2.0, -0.5, 2.0 / 3.0};
  for (Device dev : {Device::CPU, Device::EMU}) {
    if (dev == Device::EMU && !Context::get().emu_available()) continue;
    MessageGraph gd = g.to(dev);
    auto on = [dev](const Variable& v) { return Variable(v.value().to(dev)); };
    Variable y = gat_conv(on(x), gd, on(w), on(as), on(ad), Variable(), opts(2, 1, true));
    auto v = y.value().to_vector<double>();
    for (int i = 0; i < 3; ++i) {
      CHECK(v[i * 2] == Approx(head0[i]).epsilon(1e-9));
      CHECK(v[i * 2 + 1] == Approx(head1[i]).epsilon(1e-9));
    }
    Variable ym = gat_conv(on(x), gd, on(w), on(as), on(ad), Variable(), opts(2, 1, false));
    auto vm = ym.value().to_vector<double>();
    for (int i = 0; i < 3; ++i) CHECK(vm[i] == Approx(0.5 * (head0[i] + head1[i])).epsilon(1e-9));
  }
}

EMBER_BACKEND_TEST("gat_graph", "gat: message graph builder (self-loops, duplicates, row order)", "[gat]") {
  // Edges 0->1 (twice), 1->1, 2->0; node 3 has no edges.
  const std::vector<int32_t> src{0, 0, 1, 2}, dst{1, 1, 1, 0};
  struct Case {
    MessageGraphOptions o;
    std::vector<int64_t> rp;
    std::vector<int32_t> col;
  };
  const std::vector<Case> cases{
      {{true, false}, {0, 2, 5, 6, 7}, {0, 2, 0, 0, 1, 2, 3}},  // existing self-loop of 1 not doubled
      {{true, true}, {0, 2, 4, 5, 6}, {0, 2, 0, 1, 2, 3}},
      {{false, false}, {0, 1, 4, 4, 4}, {2, 0, 0, 1}},
      {{false, true}, {0, 1, 3, 3, 3}, {2, 0, 1}},
  };
  for (const Case& c : cases) {
    MessageGraph g = build_message_graph(src, dst, 4, c.o);
    CHECK(g.row_ptr.to_vector<int64_t>() == c.rp);
    CHECK(g.col.to_vector<int32_t>() == c.col);
    // The device-side builder gives the same arrays (int32 and int64 edges).
    std::vector<Device> devs{Device::CPU};
    for (Device d : testing::accelerator_devices()) devs.push_back(d);
    for (Device d : devs)
      for (DType it : {DType::I32, DType::I64}) {
        Tensor ts = Tensor::from_vector(src, {4}).to_dtype(it).to(d), td = Tensor::from_vector(dst, {4}).to_dtype(it).to(d);
        MessageGraph gd = build_message_graph(ts, td, 4, c.o);
        REQUIRE(gd.device() == d);
        CHECK(gd.row_ptr.to_vector<int64_t>() == c.rp);
        CHECK(gd.col.to_vector<int32_t>() == c.col);
      }
  }
  // The transpose lists every node's out-edges in edge order.
  MessageGraph g = build_message_graph(src, dst, 4);
  MessageGraphTranspose t = message_graph_transpose(g);
  CHECK(t.row_ptr.to_vector<int64_t>() == std::vector<int64_t>{0, 3, 4, 6, 7});
  CHECK(t.dst.to_vector<int32_t>() == std::vector<int32_t>{0, 1, 1, 1, 0, 2, 3});
  CHECK(t.eid.to_vector<int32_t>() == std::vector<int32_t>{0, 2, 3, 4, 1, 5, 6});
  // Larger random graph: device-side builders agree with the CPU one.
  EdgeList el = testing::power_law_edges(500, 5000, 9, 0.9, 20);
  for (Device d : testing::accelerator_devices())
    for (MessageGraphOptions o : {MessageGraphOptions{true, false}, MessageGraphOptions{true, true}}) {
      MessageGraph ref = build_message_graph(el.src, el.dst, 500, o);
      MessageGraph gd = build_message_graph(Tensor::from_vector(el.src, {5000}).to(d),
                                            Tensor::from_vector(el.dst, {5000}).to(d), 500, o);
      CHECK(gd.row_ptr.to_vector<int64_t>() == ref.row_ptr.to_vector<int64_t>());
      CHECK(gd.col.to_vector<int32_t>() == ref.col.to_vector<int32_t>());
      MessageGraphTranspose tr = message_graph_transpose(ref), td = message_graph_transpose(gd);
      CHECK(td.row_ptr.to_vector<int64_t>() == tr.row_ptr.to_vector<int64_t>());
      CHECK(td.dst.to_vector<int32_t>() == tr.dst.to_vector<int32_t>());
      CHECK(td.eid.to_vector<int32_t>() == tr.eid.to_vector<int32_t>());
    }
}

TEST_CASE("gat: matches a dense masked-attention reference", "[gat]") {
  for (uint64_t seed : {1, 2, 3}) {
    const int64_t n = 40 + static_cast<int64_t>(seed) * 8;
    EdgeList el = testing::power_law_edges(n, 6 * n, seed, 0.8, 3);
    el.add(5, 5);  // explicit self-loop
    el.add(5, 5);  // ... duplicated
    el.add(7, 3);  // duplicate edge
    el.add(7, 3);
    for (MessageGraphOptions mo : {MessageGraphOptions{true, false}, MessageGraphOptions{true, true},
                                   MessageGraphOptions{false, false}}) {
      MessageGraph g = build_message_graph(el.src, el.dst, n, mo);
      for (bool concat : {true, false}) {
        GatOptions o = opts(3, 4, concat);
        o.negative_slope = 0.1 + 0.05 * static_cast<double>(seed);
        GatParamsT p = testing::random_layer(n, 5, o, DType::F64, seed * 10 + concat);
        Tensor ref = dense_reference(p, el, n, mo, o);
        LayerRun r = testing::run_layer(p, g, o, Device::CPU, Tensor(), false);
        testing::require_close(r.out, ref, 1e-12, 1e-12, "dense reference");
      }
    }
  }
}

TEST_CASE("gat: float64 gradcheck of x, W, a_src, a_dst, bias, residual", "[gat][gradcheck]") {
  EdgeList el = testing::power_law_edges(7, 14, 4, 0.7);
  el.add(2, 2);
  el.add(3, 1);
  el.add(3, 1);  // duplicate
  MessageGraph g = build_message_graph(el.src, el.dst, 7);
  for (bool concat : {true, false})
    for (double drop : {0.0, 0.4})
      for (bool residual : {false, true}) {
        GatOptions o = opts(2, 3, concat, drop, 11);
        o.residual = residual;
        GatParamsT p = testing::random_layer(7, 3, o, DType::F64, 21 + concat + 2 * residual, true, residual);
        std::vector<Tensor> in{p.x, p.w, p.as, p.ad, p.bias};
        if (residual) in.push_back(p.res);
        auto f = [&g, o, residual](const std::vector<Variable>& v) {
          return gat_conv(v[0], g, v[1], v[2], v[3], v[4], o, residual ? v[5] : Variable());
        };
        auto res = testing::gradcheck(f, in);
        INFO("concat " << concat << " dropout " << drop << " residual " << residual << "\n" << res.report);
        CHECK(res.max_rel_error < 1e-6);
      }
  // Identity residual (F_in == output width) and a graph with a row of in-degree 0.
  MessageGraph g0 = build_message_graph(el.src, el.dst, 8, {false, false});  // node 7: no edges at all
  GatOptions o = opts(2, 2, true);
  o.residual = true;
  GatParamsT p = testing::random_layer(8, 4, o, DType::F64, 99);
  auto f = [&g0, o](const std::vector<Variable>& v) { return gat_conv(v[0], g0, v[1], v[2], v[3], v[4], o); };
  auto res = testing::gradcheck(f, {p.x, p.w, p.as, p.ad, p.bias});
  INFO(res.report);
  CHECK(res.max_rel_error < 1e-6);
}

namespace {

// A power-law graph with isolated nodes, explicit and duplicated self-loops,
// duplicate edges, node 0 with in-degree 10,000 and node 1 with out-degree
// 3,000 (both above kGatHeavyDegree: the block-per-row kernels).
EdgeList stress_edges(int64_t n, uint64_t seed) {
  EdgeList el = testing::power_law_edges(n, 4 * n, seed, 0.9, 10);
  Rng r(seed, 5);
  for (int k = 0; k < 10000; ++k) el.add(static_cast<int32_t>(r.below(static_cast<uint64_t>(n - 10))), 0);
  for (int k = 0; k < 3000; ++k) el.add(1, static_cast<int32_t>(2 + r.below(static_cast<uint64_t>(n - 12))));
  for (int k = 0; k < 5; ++k) el.add(3, 3);
  for (int k = 0; k < 4; ++k) el.add(4, 5);
  return el;
}

void compare_runs(const LayerRun& got, const LayerRun& ref, double tol, const std::string& what) {
  require_close_scaled(got.out, ref.out, tol, what + ": output");
  require_close_scaled(got.gx, ref.gx, tol, what + ": dL/dx");
  require_close_scaled(got.gw, ref.gw, tol, what + ": dL/dW");
  require_close_scaled(got.gas, ref.gas, tol, what + ": dL/da_src");
  require_close_scaled(got.gad, ref.gad, tol, what + ": dL/da_dst");
  if (ref.gbias.defined()) require_close_scaled(got.gbias, ref.gbias, tol, what + ": dL/dbias");
}

}  // namespace

EMBER_BACKEND_TEST("gat", "gat: CPU reference vs kernels on power-law graphs (forward and all gradients)", "[gat][emu]") {
  const int64_t n = 300;
  EdgeList el = stress_edges(n, 8);
  struct Case {
    MessageGraphOptions mo;
    int64_t heads, f, fin;
    bool concat;
    double drop;
    DType dt;
  };
  const std::vector<Case> cases{
      {{true, false}, 2, 8, 6, true, 0.0, DType::F32},
      {{true, false}, 3, 5, 4, false, 0.3, DType::F32},
      {{false, false}, 2, 8, 6, true, 0.25, DType::F64},  // rows of in-degree 0
      {{true, true}, 1, 40, 3, false, 0.0, DType::F64},    // F > 32: lanes over several slots
  };
  for (const Case& c : cases) {
    MessageGraph g = build_message_graph(el.src, el.dst, n, c.mo);
    GatOptions o = opts(c.heads, c.f, c.concat, c.drop, 3);
    GatParamsT p = testing::random_layer(n, c.fin, o, c.dt, 5);
    Rng rr(6);
    Tensor r = testing::rand_tensor({n, c.concat ? c.heads * c.f : c.f}, c.dt, rr);
    LayerRun ref = testing::run_layer(p, g, o, Device::CPU, r);
    const double tol = c.dt == DType::F32 ? 2e-5 : 1e-10;
    for (Device d : testing::accelerator_devices())
      compare_runs(testing::run_layer(p, g, o, d, r), ref, tol,
                   std::string(device_name(d)) + " H=" + std::to_string(c.heads) + " F=" + std::to_string(c.f) +
                       (c.concat ? " concat" : " mean") + " dropout " + std::to_string(c.drop));
  }
}

EMBER_BACKEND_TEST("gat", "gat: kernels with several column tiles (H*F > 256)", "[gat][emu]") {
  // H*F = 300: the kernels walk the columns in two tiles of 256 and the last
  // head straddles the tile boundary.
  const int64_t n = 60;
  EdgeList el = testing::power_law_edges(n, 200, 12, 0.8, 2);
  MessageGraph g = build_message_graph(el.src, el.dst, n);
  for (bool concat : {true, false}) {
    GatOptions o = opts(3, 100, concat, 0.2, 4);
    GatParamsT p = testing::random_layer(n, 3, o, DType::F64, 8);
    Rng rr(6);
    Tensor r = testing::rand_tensor({n, concat ? 300 : 100}, DType::F64, rr);
    LayerRun ref = testing::run_layer(p, g, o, Device::CPU, r);
    for (Device d : testing::accelerator_devices())
      compare_runs(testing::run_layer(p, g, o, d, r), ref, 1e-10, std::string(device_name(d)) + " two tiles");
  }
}

TEST_CASE("gat: attention dropout drops about p of the weights, same mask everywhere", "[gat]") {
  // One destination with 4000 in-edges from nodes with Wh = 1: out = sum of
  // the kept alphas / (1 - p), about 1.
  const int64_t n = 4001;
  std::vector<int32_t> src, dst;
  for (int32_t j = 1; j < n; ++j) {
    src.push_back(j);
    dst.push_back(0);
  }
  MessageGraph g = build_message_graph(src, dst, n, {false, false});
  Variable wh(Tensor::full({n, 1}, 1.0, DType::F64));
  Variable a(Tensor::zeros({1, 1}, DType::F64));
  GatOptions o = opts(1, 1, true, 0.25, 77);
  const double v = gat_attention(wh, g, a, a, o).value().item<double>({0, 0});
  // Each alpha is 1/4000, kept with p = 0.75 and scaled by 4/3.
  CHECK(v == Approx(1.0).margin(0.05));
  CHECK(v != 1.0);
  o.training = false;  // evaluation: no dropout
  CHECK(gat_attention(wh, g, a, a, o).value().item<double>({0, 0}) == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("gat: invalid graphs and shapes raise ember::Error", "[gat][errors]") {
  using Catch::Contains;
  // Builder: ids out of range name the edge and the value; sizes; counts.
  REQUIRE_THROWS_WITH(build_message_graph({0, 1, 5}, {1, 2, 0}, 3), Contains("edge 2 has source id 5"));
  REQUIRE_THROWS_WITH(build_message_graph({0, 1}, {1, -1}, 3), Contains("edge 1 has destination id -1"));
  REQUIRE_THROWS_WITH(build_message_graph({0, 1}, {1}, 3), Contains("inconsistent sizes"));
  REQUIRE_THROWS_WITH(build_message_graph({0}, {0}, -2), Contains("negative node count"));
  for (Device d : testing::accelerator_devices()) {
    Tensor s = Tensor::from_vector<int64_t>({0, 7, 1}, {3}).to(d), t = Tensor::from_vector<int64_t>({1, 2, 0}, {3}).to(d);
    REQUIRE_THROWS_WITH(build_message_graph(s, t, 3), Contains("edge 1 has source id 7"));
    REQUIRE_THROWS_WITH(build_message_graph(s, Tensor::from_vector<int64_t>({1, 2}, {2}).to(d), 8),
                        Contains("inconsistent sizes"));
  }
  // Wrapping CSR arrays: row_ptr size, monotonicity, end, ids.
  Tensor col = Tensor::from_vector<int32_t>({0, 1, 2}, {3});
  REQUIRE_THROWS_WITH(message_graph_from_csr(Tensor::from_vector<int64_t>({0, 1, 3}, {3}), col, 3),
                      Contains("row_ptr has 3 entries, expected num_nodes + 1 = 4"));
  REQUIRE_THROWS_WITH(message_graph_from_csr(Tensor::from_vector<int64_t>({0, 2, 1, 3}, {4}), col, 3),
                      Contains("decreases"));
  REQUIRE_THROWS_WITH(message_graph_from_csr(Tensor::from_vector<int64_t>({0, 1, 2, 2}, {4}), col, 3),
                      Contains("col has 3 entries"));
  REQUIRE_THROWS_WITH(message_graph_from_csr(Tensor::from_vector<int64_t>({0, 1, 2, 3}, {4}),
                                             Tensor::from_vector<int32_t>({0, 3, 1}, {3}), 3),
                      Contains("edge 1 has source id 3"));
  REQUIRE_THROWS_WITH(message_graph_from_csr(Tensor::from_vector<int32_t>({0, 1, 2, 3}, {4}), col, 3),
                      Contains("int64"));
  // Layer shapes.
  MessageGraph g = build_message_graph({0, 1}, {1, 2}, 3);
  GatOptions o = opts(2, 4, true);
  GatParamsT p = testing::random_layer(3, 5, o, DType::F32, 1);
  auto conv = [&](const Tensor& x, const Tensor& w, const Tensor& as, const Tensor& ad, const Tensor& b,
                  const GatOptions& oo) {
    return gat_conv(Variable(x), g, Variable(w), Variable(as), Variable(ad), b.defined() ? Variable(b) : Variable(),
                    oo);
  };
  REQUIRE_NOTHROW(conv(p.x, p.w, p.as, p.ad, p.bias, o));
  REQUIRE_THROWS_WITH(conv(Tensor::zeros({4, 5}), p.w, p.as, p.ad, p.bias, o), Contains("graph has 3 nodes"));
  REQUIRE_THROWS_WITH(conv(p.x, Tensor::zeros({4, 8}), p.as, p.ad, p.bias, o), Contains("weight"));
  REQUIRE_THROWS_WITH(conv(p.x, Tensor::zeros({5, 6}), p.as, p.ad, p.bias, o), Contains("expected shape [5, 8]"));
  REQUIRE_THROWS_WITH(conv(p.x, p.w, Tensor::zeros({4, 2}), p.ad, p.bias, o), Contains("att_src"));
  REQUIRE_THROWS_WITH(conv(p.x, p.w, p.as, Tensor::zeros({2, 3}), p.bias, o), Contains("att_dst"));
  REQUIRE_THROWS_WITH(conv(p.x, p.w, p.as, p.ad, Tensor::zeros({4}), o), Contains("bias"));
  REQUIRE_THROWS_WITH(conv(p.x, p.w, p.as, p.ad.to_dtype(DType::F64), p.bias, o), Contains("dtype"));
  GatOptions bad = o;
  bad.attn_dropout = 1.0;
  REQUIRE_THROWS_WITH(conv(p.x, p.w, p.as, p.ad, p.bias, bad), Contains("dropout rate"));
  bad = o;
  bad.heads = 0;
  REQUIRE_THROWS_WITH(conv(p.x, p.w, p.as, p.ad, p.bias, bad), Contains("heads"));
  bad = o;
  bad.residual = true;  // identity residual: 5 input features vs 8 outputs
  REQUIRE_THROWS_WITH(conv(p.x, p.w, p.as, p.ad, p.bias, bad), Contains("identity residual"));
  MessageGraph broken = g;
  broken.row_ptr = Tensor::from_vector<int64_t>({0, 1, 2}, {3});
  REQUIRE_THROWS_WITH(gat_conv(Variable(p.x), broken, Variable(p.w), Variable(p.as), Variable(p.ad), Variable(), o),
                      Contains("row_ptr has 3 entries"));
  for (Device d : testing::accelerator_devices())
    REQUIRE_THROWS_WITH(conv(p.x.to(d), p.w.to(d), p.as.to(d), p.ad.to(d), p.bias.to(d), o),
                        Contains("graph on cpu"));
}

TEST_CASE("gat: emulated device memory stays below one [E, H, F] buffer", "[gat][emu]") {
  if (!Context::get().emu_available()) return;
  // E*H*F large relative to everything else: N = 64 nodes, ~4,100 edges,
  // H = 4 heads of F = 16 features: an [E, H, F] float buffer is ~1 MB, while
  // x, Wh, the output and the per-node statistics are a few KB, and the
  // [E, H] backward buffer and the transposed CSR ~100 KB.
  const int64_t n = 64;
  EdgeList el = testing::power_law_edges(n, 4096, 31, 0.5);
  MessageGraph g = build_message_graph(el.src, el.dst, n, {}, Device::EMU);
  const int64_t E = g.num_edges();
  GatOptions o = opts(4, 16, true, 0.1);
  GatParamsT p = testing::random_layer(n, 8, o, DType::F32, 2);
  const size_t ehf_bytes = static_cast<size_t>(E) * 4 * 16 * sizeof(float);
  Allocator& alloc = Context::get().allocator(Device::EMU);
  Variable x(p.x.to(Device::EMU), true), w(p.w.to(Device::EMU), true);
  Variable as(p.as.to(Device::EMU), true), ad(p.ad.to(Device::EMU), true), b(p.bias.to(Device::EMU), true);
  alloc.reset_peak();
  const size_t base = alloc.stats().current_bytes;
  size_t fwd_peak = 0, total_peak = 0;
  {
    Variable y = gat_conv(x, g, w, as, ad, b, o);
    fwd_peak = alloc.stats().peak_bytes - base;
    y.backward(Tensor::full(y.shape(), 1.0, DType::F32, Device::EMU));
    total_peak = alloc.stats().peak_bytes - base;
  }
  INFO("E = " << E << ", [E,H,F] float buffer " << ehf_bytes << " bytes; forward peak " << fwd_peak
              << ", forward+backward peak " << total_peak);
  REQUIRE(fwd_peak > 0);
  REQUIRE(fwd_peak < ehf_bytes / 8);
  REQUIRE(total_peak < ehf_bytes / 4);
}
