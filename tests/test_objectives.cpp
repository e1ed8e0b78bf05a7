// SSMTL objectives (ops/objectives.h): CCA (eq. 3), scaled cosine error
// (eq. 4), streamed retrieval softmax cross-entropy (eq. 5).
//   * float64 finite-difference gradchecks of every differentiable input
//     (several seeds and shapes, rel. error < 1e-6);
//   * forward values against independent dense double references written here;
//   * CPU reference vs the CUDA kernels under the emulator (and a real GPU when
//     present), losses and gradients. Tolerances (rtol / atol):
//       float64: 1e-10 / 1e-12;  float32: 2e-4 / 1e-5 (the kernels sum in
//       float in another order than the CPU's double / Eigen accumulators);
//   * numerical stress (finite outputs), validation errors, and the retrieval
//     kernel's peak device memory (no [B, M] buffer).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "backend_harness.h"
#include "backend_registry.h"
#include "core/context.h"
#include "gradcheck.h"
#include "ops/objectives.h"

using namespace ember;
using testing::gradcheck;
using testing::random_f64;
using testing::require_close;

namespace {

constexpr double kGradTol = 1e-6;

Tensor rand_t(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng r(seed);
  return random_f64(s, r, lo, hi);
}

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType dt) { return dt == DType::F32 ? Tol{2e-4, 1e-5} : Tol{1e-10, 1e-12}; }

// Loss and gradients of an objective evaluated on `dev` in dtype `dt` (inputs
// given as float64 CPU tensors).
struct Eval {
  Tensor loss;
  std::vector<Tensor> grads;
};
using Objective = std::function<Variable(const std::vector<Variable>&)>;

Eval evaluate(const Objective& f, const std::vector<Tensor>& inputs, Device dev, DType dt,
              std::vector<bool> needs = {}) {
  if (needs.empty()) needs.assign(inputs.size(), true);
  std::vector<Variable> vs;
  for (size_t i = 0; i < inputs.size(); ++i) vs.emplace_back(inputs[i].to_dtype(dt).to(dev), needs[i]);
  Variable y = f(vs);
  REQUIRE(y.device() == dev);
  REQUIRE(y.value().numel() == 1);
  y.backward();
  Eval e;
  e.loss = y.value().to(Device::CPU);
  for (size_t i = 0; i < inputs.size(); ++i)
    e.grads.push_back(needs[i] ? vs[i].grad().to(Device::CPU) : Tensor());
  return e;
}

// CPU vs every accelerator device, float32 and float64.
void compare_backends(const Objective& f, const std::vector<Tensor>& inputs, const std::string& name,
                      std::vector<bool> needs = {}) {
  for (DType dt : {DType::F32, DType::F64}) {
    const Eval ref = evaluate(f, inputs, Device::CPU, dt, needs);
    for (Device d : testing::accelerator_devices()) {
      const Eval got = evaluate(f, inputs, d, dt, needs);
      const Tol t = tol_for(dt);
      const std::string where = name + " " + dtype_name(dt) + " on " + device_name(d);
      require_close(got.loss, ref.loss, t.rtol, t.atol, where + ": loss");
      for (size_t i = 0; i < inputs.size(); ++i)
        if (ref.grads[i].defined())
          require_close(got.grads[i], ref.grads[i], t.rtol, t.atol, where + ": grad of input " + std::to_string(i));
    }
  }
}

void require_finite(const Eval& e, const std::string& what) {
  INFO(what);
  REQUIRE(tensor::all_finite(e.loss));
  for (const Tensor& g : e.grads)
    if (g.defined()) REQUIRE(tensor::all_finite(g));
}

void check_grad(const testing::OpFn& f, const std::vector<Tensor>& in, const std::string& name,
                std::vector<bool> needs = {}) {
  auto res = gradcheck(f, in, needs);
  INFO(name << "\n" << res.report);
  REQUIRE(res.max_rel_error < kGradTol);
}

// ---- independent dense references (double) ---------------------------------------------

double cca_reference(const Tensor& a_in, const Tensor& b_in, double lambda, double eps) {
  const int64_t n = a_in.size(0), k = a_in.size(1);
  auto standardize = [&](const Tensor& t) {
    std::vector<double> v = t.to_dtype(DType::F64).to_vector<double>();
    for (int64_t j = 0; j < k; ++j) {
      double mu = 0.0, var = 0.0;
      for (int64_t i = 0; i < n; ++i) mu += v[i * k + j];
      mu /= n;
      for (int64_t i = 0; i < n; ++i) var += (v[i * k + j] - mu) * (v[i * k + j] - mu);
      var /= n;
      for (int64_t i = 0; i < n; ++i) v[i * k + j] = (v[i * k + j] - mu) / (std::sqrt(var + eps) * std::sqrt(double(n)));
    }
    return v;
  };
  const std::vector<double> a = standardize(a_in), b = standardize(b_in);
  double l = 0.0;
  for (size_t e = 0; e < a.size(); ++e) l += (a[e] - b[e]) * (a[e] - b[e]);
  for (const auto* z : {&a, &b})
    for (int64_t p = 0; p < k; ++p)
      for (int64_t q = 0; q < k; ++q) {
        double c = 0.0;
        for (int64_t i = 0; i < n; ++i) c += (*z)[i * k + p] * (*z)[i * k + q];
        l += lambda * (c - (p == q)) * (c - (p == q));
      }
  return l;
}

double sce_reference(const Tensor& x_in, const Tensor& z_in, const std::vector<int64_t>& rows, double y,
                     double eps) {
  const int64_t d = x_in.size(1);
  const std::vector<double> x = x_in.to_dtype(DType::F64).to_vector<double>();
  const std::vector<double> z = z_in.to_dtype(DType::F64).to_vector<double>();
  double s = 0.0;
  for (int64_t i : rows) {
    double dot = 0.0, xx = 0.0, zz = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      dot += x[i * d + j] * z[i * d + j];
      xx += x[i * d + j] * x[i * d + j];
      zz += z[i * d + j] * z[i * d + j];
    }
    const double c = dot / (std::max(std::sqrt(xx), eps) * std::max(std::sqrt(zz), eps));
    s += std::pow(std::max(1.0 - c, 0.0), y);
  }
  return s / static_cast<double>(rows.size());
}

double retrieval_reference(const Tensor& q_in, const Tensor& c_in, const std::vector<int64_t>& pos, int64_t P,
                           const std::vector<int32_t>& mask, const std::vector<double>& logq, double tau) {
  const int64_t B = q_in.size(0), M = c_in.size(0), d = q_in.size(1);
  const std::vector<double> q = q_in.to_dtype(DType::F64).to_vector<double>();
  const std::vector<double> c = c_in.to_dtype(DType::F64).to_vector<double>();
  double total = 0.0;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> l(static_cast<size_t>(M));
    std::vector<bool> inc(static_cast<size_t>(M), true);
    double mx = -INFINITY;
    for (int64_t j = 0; j < M; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < d; ++k) s += q[b * d + k] * c[j * d + k];
      l[j] = s / tau - (logq.empty() ? 0.0 : logq[j]);
      if (!mask.empty() && mask[b * M + j] == 0) {
        inc[j] = false;
        for (int64_t p = 0; p < P; ++p) inc[j] = inc[j] || pos[b * P + p] == j;
      }
      if (inc[j]) mx = std::max(mx, l[j]);
    }
    double se = 0.0;
    for (int64_t j = 0; j < M; ++j)
      if (inc[j]) se += std::exp(l[j] - mx);
    const double lse = mx + std::log(se);
    double ps = 0.0;
    int cnt = 0;
    for (int64_t p = 0; p < P; ++p)
      if (pos[b * P + p] >= 0) {
        ps += l[pos[b * P + p]];
        ++cnt;
      }
    total += lse - ps / cnt;
  }
  return total / static_cast<double>(B);
}

std::vector<int64_t> random_positives(int64_t B, int64_t M, int64_t P, uint64_t seed) {
  Rng r(seed);
  std::vector<int64_t> pos(static_cast<size_t>(B * P), -1);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t cnt = 1 + static_cast<int64_t>(r.below(P));  // 1..P, rest padding
    for (int64_t p = 0; p < cnt; ++p) pos[b * P + p] = static_cast<int64_t>(r.below(M));
  }
  return pos;
}

std::vector<int32_t> random_mask(int64_t B, int64_t M, uint64_t seed, double keep = 0.8) {
  Rng r(seed);
  std::vector<int32_t> m(static_cast<size_t>(B * M));
  for (auto& v : m) v = r.uniform() < keep ? 1 : 0;
  return m;
}

}  // namespace

// ===========================================================================================
// CCA
// ===========================================================================================

TEST_CASE("cca_loss: value matches a dense reference", "[objectives]") {
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {6, 4}, {50, 7}, {5000, 3}}) {
    Tensor a = rand_t({n, k}, 1), b = rand_t({n, k}, 2);
    for (double lambda : {0.0, 1e-3, 0.7}) {
      Variable va(a), vb(b);
      const double got = tensor::scalar(cca_loss(va, vb, lambda).value());
      REQUIRE(got == Approx(cca_reference(a, b, lambda, 1e-8)).epsilon(1e-10));
    }
  }
}

TEST_CASE("cca_loss: float64 gradcheck", "[objectives][gradcheck]") {
  for (uint64_t seed : {1, 2, 3}) {
    Rng r(seed);
    const int64_t n = 2 + static_cast<int64_t>(r.below(9)), k = 1 + static_cast<int64_t>(r.below(5));
    Tensor a = random_f64({n, k}, r), b = random_f64({n, k}, r);
    for (double lambda : {0.0, 1e-3, 0.5}) {
      check_grad([lambda](const std::vector<Variable>& v) { return cca_loss(v[0], v[1], lambda); }, {a, b},
                 "cca_loss n=" + std::to_string(n) + " k=" + std::to_string(k));
      check_grad([lambda](const std::vector<Variable>& v) { return cca_loss(v[0], v[1], lambda); }, {a, b},
                 "cca_loss (only zb)", {false, true});
    }
  }
  // Same view twice: the gradient reaches the one leaf through both arguments.
  Tensor a = rand_t({5, 3}, 9);
  check_grad([](const std::vector<Variable>& v) { return cca_loss(v[0], v[0], 0.3); }, {a}, "cca_loss(z, z)");
}

EMBER_BACKEND_TEST("cca", "cca_loss: CPU vs CUDA kernels", "[objectives][emu]") {
  // n = 1 and > 64 rows per GPU chunk, > 4096 rows per CPU chunk, k across column tiles.
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 5}, {300, 33}, {5000, 3}}) {
    Tensor a = rand_t({n, k}, 3, -2.0, 3.0), b = rand_t({n, k}, 4);
    compare_backends([](const std::vector<Variable>& v) { return cca_loss(v[0], v[1], 0.05); }, {a, b},
                     "cca_loss [" + std::to_string(n) + ", " + std::to_string(k) + "]");
  }
}

TEST_CASE("cca_loss: degenerate columns and n = 1 stay finite", "[objectives][emu]") {
  const int64_t n = 40, k = 4;
  Tensor a = rand_t({n, k}, 5), b = rand_t({n, k}, 6);
  double* pa = a.data<double>();
  Rng r(7);
  for (int64_t i = 0; i < n; ++i) {
    pa[i * k + 0] = 3.0;                      // constant column (zero variance)
    pa[i * k + 1] = 1.0 + 1e-6 * r.normal();  // variance ~ 1e-12
  }
  b.slice_rows(0, n).data<double>()[2] = 0.0;
  std::vector<Device> devs{Device::CPU};
  for (Device d : testing::accelerator_devices()) devs.push_back(d);
  for (Device d : devs)
    for (DType dt : {DType::F32, DType::F64}) {
      const Eval e = evaluate([](const std::vector<Variable>& v) { return cca_loss(v[0], v[1], 1e-2); }, {a, b}, d, dt);
      require_finite(e, std::string("degenerate columns on ") + device_name(d));
      // n = 1: every column is constant: zt = 0, L = 2 * lambda * k, zero gradient.
      const Eval one = evaluate([](const std::vector<Variable>& v) { return cca_loss(v[0], v[1], 0.25); },
                                {rand_t({1, 3}, 8), rand_t({1, 3}, 9)}, d, dt);
      require_finite(one, std::string("n = 1 on ") + device_name(d));
      REQUIRE(tensor::scalar(one.loss) == Approx(2 * 0.25 * 3));
      for (double g : one.grads[0].to_dtype(DType::F64).to_vector<double>()) REQUIRE(g == 0.0);
      // All rows equal (in both views): the same as n = 1, for any n.
      Tensor row = rand_t({1, 3}, 10);
      Tensor same = tensor::concat({row, row, row, row, row, row, row}, 0);
      const Eval eq = evaluate([](const std::vector<Variable>& v) { return cca_loss(v[0], v[1], 0.25); }, {same, same},
                               d, dt);
      require_finite(eq, std::string("all-equal rows on ") + device_name(d));
      REQUIRE(tensor::scalar(eq.loss) == Approx(2 * 0.25 * 3).epsilon(1e-5));
    }
  // The constant column standardises to exactly 0 (eps inside the sqrt, no NaN).
  Variable va(a), vb(b);
  const double l = tensor::scalar(cca_loss(va, vb, 0.0).value());
  REQUIRE(std::isfinite(l));
}

TEST_CASE("cca_loss: invalid arguments", "[objectives][errors]") {
  Variable a(rand_t({4, 3}, 1), true), b(rand_t({4, 3}, 2), true);
  REQUIRE_THROWS_WITH(cca_loss(a, b, -1e-3), Catch::Contains("lambda must be >= 0"));
  REQUIRE_THROWS_WITH(cca_loss(a, b, 1e-3, 0.0), Catch::Contains("eps must be > 0"));
  REQUIRE_THROWS_WITH(cca_loss(a, Variable(rand_t({4, 2}, 3))), Catch::Contains("shape mismatch"));
  REQUIRE_THROWS_WITH(cca_loss(a, Variable(rand_t({4, 3}, 3).to_dtype(DType::F32))),
                      Catch::Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(cca_loss(Variable(rand_t({12}, 4)), b), Catch::Contains("must be a 2-D float tensor"));
  REQUIRE_THROWS_WITH(cca_loss(Variable(Tensor::zeros({0, 3}, DType::F64)), Variable(Tensor::zeros({0, 3}, DType::F64))),
                      Catch::Contains("at least one row"));
}

// ===========================================================================================
// Scaled cosine error
// ===========================================================================================

TEST_CASE("scaled_cosine_error: value matches a dense reference", "[objectives]") {
  Tensor x = rand_t({20, 9}, 1), z = rand_t({20, 9}, 2);
  std::vector<int64_t> rows{0, 3, 19, 7, 3};  // a duplicate counts twice
  for (double y : {1.0, 2.0, 3.5}) {
    Variable vx(x), vz(z);
    const double got = tensor::scalar(scaled_cosine_error(vx, vz, Tensor::from_vector(rows, {5}), y).value());
    REQUIRE(got == Approx(sce_reference(x, z, rows, y, 1e-8)).epsilon(1e-12));
  }
}

TEST_CASE("scaled_cosine_error: float64 gradcheck", "[objectives][gradcheck]") {
  for (uint64_t seed : {1, 2, 3}) {
    Rng r(seed);
    const int64_t n = 3 + static_cast<int64_t>(r.below(8)), d = 1 + static_cast<int64_t>(r.below(6));
    Tensor x = random_f64({n, d}, r), z = random_f64({n, d}, r);
    std::vector<int32_t> rows;
    for (int64_t i = 0; i < n; i += 2) rows.push_back(static_cast<int32_t>(i));
    rows.push_back(static_cast<int32_t>(n - 1));
    rows.push_back(0);  // duplicate
    Tensor rt = Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())});
    for (double y : {1.0, 2.0, 2.7}) {
      auto f = [rt, y](const std::vector<Variable>& v) { return scaled_cosine_error(v[0], v[1], rt, y); };
      check_grad(f, {x, z}, "sce (x and z)");
      check_grad(f, {x, z}, "sce (z only)", {false, true});
    }
  }
}

EMBER_BACKEND_TEST("cosine_error", "scaled_cosine_error: CPU vs CUDA kernels", "[objectives][emu]") {
  const int64_t n = 60;
  for (int64_t d : {1, 37, 100}) {
    Tensor x = rand_t({n, d}, 10 + d), z = rand_t({n, d}, 20 + d);
    std::vector<int64_t> uniq, dup;
    for (int64_t i = 0; i < n; i += 3) uniq.push_back((i * 7) % n);
    dup = uniq;
    dup.insert(dup.end(), {0, 0, 5, 0});
    for (const auto& rows : {std::vector<int64_t>{17}, uniq, dup}) {
      Tensor rt = Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())});
      for (double y : {1.0, 2.0}) {
        // rows stay on the CPU: the op moves them to the device.
        compare_backends([rt, y](const std::vector<Variable>& v) { return scaled_cosine_error(v[0], v[1], rt, y); },
                         {x, z}, "sce d=" + std::to_string(d) + " |V|=" + std::to_string(rows.size()));
      }
    }
  }
}

TEST_CASE("scaled_cosine_error: zero and equal rows stay finite", "[objectives][emu]") {
  const int64_t n = 6, d = 5;
  Tensor x = rand_t({n, d}, 1), z = rand_t({n, d}, 2);
  double* px = x.data<double>();
  double* pz = z.data<double>();
  for (int64_t j = 0; j < d; ++j) {
    px[0 * d + j] = 0.0;                 // zero original row
    pz[1 * d + j] = 0.0;                 // zero reconstruction
    px[2 * d + j] = pz[2 * d + j] = 0.0;  // both zero
    pz[3 * d + j] = px[3 * d + j];        // identical: cos = 1, loss 0
  }
  Tensor rows = Tensor::from_vector<int64_t>({0, 1, 2, 3}, {4});
  std::vector<Device> devs{Device::CPU};
  for (Device dv : testing::accelerator_devices()) devs.push_back(dv);
  for (Device dv : devs)
    for (DType dt : {DType::F32, DType::F64}) {
      const Eval e = evaluate([rows](const std::vector<Variable>& v) { return scaled_cosine_error(v[0], v[1], rows); },
                              {x, z}, dv, dt);
      require_finite(e, std::string("sce stress on ") + device_name(dv));
      // rows 0, 1, 2: cos = 0 -> loss 1 each; row 3: loss 0.
      REQUIRE(tensor::scalar(e.loss) == Approx(0.75).epsilon(1e-5));
    }
  // Only row 3 (identical rows): loss exactly 0 up to rounding, gradient finite.
  Variable vx(x), vz(z, true);
  Variable l = scaled_cosine_error(vx, vz, Tensor::from_vector<int64_t>({3}, {1}), 2.0);
  REQUIRE(tensor::scalar(l.value()) == Approx(0.0).margin(1e-14));
  l.backward();
  REQUIRE(tensor::all_finite(vz.grad()));
}

// A NaN in a scored row (original or reconstruction) must give a NaN loss, so
// the trainer's step guard names the MAE objective; clamping the norm or 1 - cos
// would silently turn it into a finite value (docs/reliability.md, finding 11).
TEST_CASE("scaled_cosine_error: a NaN row makes the loss NaN on every backend", "[objectives][emu]") {
  const int64_t n = 4, d = 3;
  std::vector<Device> devs{Device::CPU};
  for (Device dv : testing::accelerator_devices()) devs.push_back(dv);
  for (int which : {0, 1})
    for (Device dv : devs)
      for (DType dt : {DType::F32, DType::F64}) {
        Tensor x = rand_t({n, d}, 1), z = rand_t({n, d}, 2);
        Tensor& bad = which == 0 ? x : z;
        for (int64_t j = 0; j < d; ++j) bad.data<double>()[2 * d + j] = std::nan("");
        Tensor rows = Tensor::from_vector<int64_t>({0, 2}, {2});
        const Eval e = evaluate(
            [rows](const std::vector<Variable>& v) { return scaled_cosine_error(v[0], v[1], rows); }, {x, z}, dv, dt);
        INFO("NaN in " << (which == 0 ? "x" : "z") << " on " << device_name(dv));
        REQUIRE(std::isnan(tensor::scalar(e.loss)));
        // A row without NaN stays finite.
        const Eval ok = evaluate(
            [](const std::vector<Variable>& v) {
              return scaled_cosine_error(v[0], v[1], Tensor::from_vector<int64_t>({0, 1}, {2}));
            },
            {x, z}, dv, dt);
        REQUIRE(std::isfinite(tensor::scalar(ok.loss)));
      }
}

TEST_CASE("scaled_cosine_error: invalid arguments", "[objectives][errors]") {
  Variable x(rand_t({5, 3}, 1)), z(rand_t({5, 3}, 2), true);
  Tensor rows = Tensor::from_vector<int64_t>({0, 4}, {2});
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, z, rows, 0.5), Catch::Contains("must be >= 1"));
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, z, Tensor::from_vector<int64_t>({0, 5}, {2})),
                      Catch::Contains("rows[1] = 5 is out of range [0, 5)"));
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, z, Tensor::from_vector<int32_t>({-1}, {1})),
                      Catch::Contains("rows[0] = -1 is out of range"));
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, z, Tensor::zeros({0}, DType::I64)), Catch::Contains("is empty"));
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, Variable(rand_t({5, 4}, 3)), rows), Catch::Contains("shape mismatch"));
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, z, Tensor::zeros({2}, DType::F32)), Catch::Contains("int32 or int64"));
  REQUIRE_THROWS_WITH(scaled_cosine_error(x, z, rows, 2.0, 0.0), Catch::Contains("eps must be > 0"));
}

// ===========================================================================================
// Retrieval softmax cross-entropy
// ===========================================================================================

namespace {

struct RetrievalCase {
  int64_t B, M, d, P;
  bool mask, logq;
  double tau;
};

}  // namespace

TEST_CASE("retrieval_softmax_ce: value matches a dense reference (mask, logQ, several positives)",
          "[objectives]") {
  for (const RetrievalCase& rc : {RetrievalCase{1, 1, 1, 1, false, false, 1.0}, RetrievalCase{4, 9, 3, 3, true, true, 0.5},
                                  RetrievalCase{70, 1100, 5, 2, true, false, 0.1},
                                  RetrievalCase{3, 50, 4, 1, false, true, 2.0}}) {
    Tensor q = rand_t({rc.B, rc.d}, 1), c = rand_t({rc.M, rc.d}, 2);
    const std::vector<int64_t> pos = random_positives(rc.B, rc.M, rc.P, 3);
    std::vector<int32_t> mask = rc.mask ? random_mask(rc.B, rc.M, 4) : std::vector<int32_t>{};
    // Mask some positives too: they must stay in the softmax.
    if (rc.mask)
      for (int64_t b = 0; b < rc.B; ++b) mask[b * rc.M + pos[b * rc.P]] = 0;
    std::vector<double> logq;
    if (rc.logq) {
      Tensor lq = rand_t({rc.M}, 5, -3.0, 0.0);
      logq = lq.to_vector<double>();
    }
    Tensor mt = rc.mask ? Tensor::from_vector(mask, {rc.B, rc.M}) : Tensor();
    RetrievalOptions opt;
    opt.temperature = rc.tau;
    if (rc.mask) opt.mask = &mt;
    if (rc.logq) opt.log_q = Tensor::from_vector(logq, {rc.M});
    Variable vq(q), vc(c);
    const double got = tensor::scalar(retrieval_softmax_ce(vq, vc, Tensor::from_vector(pos, {rc.B, rc.P}), opt).value());
    REQUIRE(got == Approx(retrieval_reference(q, c, pos, rc.P, mask, logq, rc.tau)).epsilon(1e-10));
  }
}

TEST_CASE("retrieval_softmax_ce: float64 gradcheck", "[objectives][gradcheck]") {
  for (uint64_t seed : {1, 2, 3}) {
    Rng r(seed);
    const int64_t B = 1 + static_cast<int64_t>(r.below(5)), M = 2 + static_cast<int64_t>(r.below(8));
    const int64_t d = 1 + static_cast<int64_t>(r.below(5)), P = 1 + static_cast<int64_t>(r.below(3));
    Tensor q = random_f64({B, d}, r), c = random_f64({M, d}, r);
    Tensor pos = Tensor::from_vector(random_positives(B, M, P, seed + 10), {B, P});
    auto mask = std::make_shared<Tensor>(Tensor::from_vector(random_mask(B, M, seed + 20, 0.6), {B, M}));
    Tensor logq = random_f64({M}, r, -2.0, 0.0);
    for (int variant = 0; variant < 3; ++variant) {
      auto f = [=](const std::vector<Variable>& v) {
        RetrievalOptions o;
        o.temperature = variant == 0 ? 1.0 : 0.3;
        if (variant >= 1) o.log_q = logq;
        if (variant == 2) o.mask = mask.get();
        return retrieval_softmax_ce(v[0], v[1], pos, o);
      };
      check_grad(f, {q, c}, "retrieval variant " + std::to_string(variant));
      check_grad(f, {q, c}, "retrieval (c only)", {false, true});
    }
  }
}

EMBER_BACKEND_TEST("retrieval_ce", "retrieval_softmax_ce: CPU vs CUDA kernels", "[objectives][emu]") {
  // Tile edges (64), several candidate splits, d across the 32-chunks and above
  // the 128-column backward chunk, masks, logQ, padding.
  for (const RetrievalCase& rc : {RetrievalCase{1, 1, 1, 1, false, false, 1.0}, RetrievalCase{5, 70, 3, 2, true, true, 0.5},
                                  RetrievalCase{70, 130, 33, 3, false, true, 0.2},
                                  RetrievalCase{65, 200, 130, 1, true, false, 1.0}}) {
    Tensor q = rand_t({rc.B, rc.d}, 7), c = rand_t({rc.M, rc.d}, 8);
    const std::vector<int64_t> pos = random_positives(rc.B, rc.M, rc.P, 9);
    Tensor pos_t = Tensor::from_vector(pos, {rc.B, rc.P}).to_dtype(DType::I32);
    const Tensor mask_cpu = Tensor::from_vector(random_mask(rc.B, rc.M, 10), {rc.B, rc.M});
    const Tensor logq_cpu = rand_t({rc.M}, 11, -4.0, 0.0);
    for (DType dt : {DType::F32, DType::F64}) {
      auto run = [&](Device dev) {
        Tensor mask = mask_cpu.to(dev);
        RetrievalOptions o;
        o.temperature = rc.tau;
        if (rc.mask) o.mask = &mask;
        if (rc.logq) o.log_q = logq_cpu.to_dtype(dt).to(dev);
        return evaluate([&](const std::vector<Variable>& v) { return retrieval_softmax_ce(v[0], v[1], pos_t, o); },
                        {q, c}, dev, dt);
      };
      const Eval ref = run(Device::CPU);
      for (Device dev : testing::accelerator_devices()) {
        const Eval got = run(dev);
        const Tol t = tol_for(dt);
        const std::string where = "retrieval B=" + std::to_string(rc.B) + " M=" + std::to_string(rc.M) + " d=" +
                                  std::to_string(rc.d) + " " + dtype_name(dt) + " on " + device_name(dev);
        require_close(got.loss, ref.loss, t.rtol, t.atol, where + ": loss");
        require_close(got.grads[0], ref.grads[0], t.rtol, t.atol, where + ": dq");
        require_close(got.grads[1], ref.grads[1], t.rtol, t.atol, where + ": dc");
      }
    }
  }
}

TEST_CASE("retrieval_softmax_ce: logits of +-1e4 and equal candidates stay finite", "[objectives][emu]") {
  const int64_t B = 3, M = 70, d = 4;
  std::vector<double> qv(B * d, 0.0), cv(M * d, 0.0);
  for (int64_t b = 0; b < B; ++b) qv[b * d] = 100.0;
  for (int64_t j = 0; j < M; ++j) cv[j * d] = (j == 5) ? 100.0 : -100.0;  // logits +1e4 (j = 5) / -1e4
  Tensor q = Tensor::from_vector(qv, {B, d}), c = Tensor::from_vector(cv, {M, d});
  // Query 0: the +1e4 candidate (loss ~ 0); query 1: a -1e4 one (loss ~ 2e4); query 2: both.
  Tensor pos = Tensor::from_vector<int64_t>({5, -1, 6, -1, 5, 6}, {B, 2});
  std::vector<Device> devs{Device::CPU};
  for (Device dv : testing::accelerator_devices()) devs.push_back(dv);
  for (Device dv : devs)
    for (DType dt : {DType::F32, DType::F64}) {
      const Eval e = evaluate([pos](const std::vector<Variable>& v) { return retrieval_softmax_ce(v[0], v[1], pos); },
                              {q, c}, dv, dt);
      require_finite(e, std::string("retrieval +-1e4 on ") + device_name(dv));
      REQUIRE(tensor::scalar(e.loss) == Approx((0.0 + 2e4 + 1e4) / 3.0).epsilon(1e-6));
      // All candidates equal: loss = log M exactly, gradients finite.
      const Eval eq = evaluate([pos](const std::vector<Variable>& v) { return retrieval_softmax_ce(v[0], v[1], pos); },
                               {q, Tensor::full({M, d}, 0.25, DType::F64)}, dv, dt);
      require_finite(eq, std::string("retrieval equal candidates on ") + device_name(dv));
      REQUIRE(tensor::scalar(eq.loss) == Approx(std::log(double(M))).epsilon(1e-5));
    }
}

TEST_CASE("retrieval_softmax_ce: the streamed kernels never hold a [B, M] buffer", "[objectives][emu]") {
  if (!Context::get().emu_available()) return;
  // B * M * 4 bytes (8 MiB) dominates everything else (q, c, gradients, partials < 1.5 MiB).
  const int64_t B = 256, M = 8192, d = 8;
  const Device dev = Device::EMU;
  Variable q(rand_t({B, d}, 1).to_dtype(DType::F32).to(dev), true);
  Variable c(rand_t({M, d}, 2).to_dtype(DType::F32).to(dev), true);
  std::vector<int64_t> pos(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) pos[b] = (b * 31) % M;
  Tensor pt = Tensor::from_vector(pos, {B, 1});
  Allocator& alloc = Context::get().allocator(dev);
  const size_t before = alloc.stats().current_bytes;
  alloc.reset_peak();
  Variable loss = retrieval_softmax_ce(q, c, pt);
  const size_t fwd_peak = alloc.stats().peak_bytes - before;
  alloc.reset_peak();
  loss.backward();
  const size_t total_peak = alloc.stats().peak_bytes - before;
  const size_t bm = static_cast<size_t>(B * M) * sizeof(float);
  INFO("forward peak " << fwd_peak << " B, forward+backward peak " << total_peak << " B, one B x M float buffer "
                       << bm << " B");
  WARN("retrieval peak EMU bytes (B=256, M=8192, d=8): forward " << fwd_peak << ", backward " << total_peak
                                                                 << ", B*M*4 = " << bm);
  REQUIRE(fwd_peak < bm / 4);
  REQUIRE(total_peak < bm / 4);
  REQUIRE(tensor::all_finite(q.grad()));
  REQUIRE(tensor::all_finite(c.grad()));
  // Sanity: the loss agrees with the CPU reference.
  Variable qc(q.value().to(Device::CPU)), cc(c.value().to(Device::CPU));
  REQUIRE(tensor::scalar(loss.value()) ==
          Approx(tensor::scalar(retrieval_softmax_ce(qc, cc, pt).value())).epsilon(1e-5));
}

TEST_CASE("retrieval_softmax_ce: backward is bitwise deterministic", "[objectives][emu]") {
  std::vector<Device> devs{Device::CPU};
  for (Device dv : testing::accelerator_devices()) devs.push_back(dv);
  const int64_t B = 70, M = 300, d = 20;
  Tensor q = rand_t({B, d}, 3), c = rand_t({M, d}, 4);
  Tensor pos = Tensor::from_vector(random_positives(B, M, 2, 5), {B, 2});
  for (Device dv : devs) {
    auto run = [&] {
      return evaluate([pos](const std::vector<Variable>& v) { return retrieval_softmax_ce(v[0], v[1], pos); }, {q, c},
                      dv, DType::F32);
    };
    const Eval a = run(), b = run();
    REQUIRE(a.loss.to_vector<float>() == b.loss.to_vector<float>());
    REQUIRE(a.grads[0].to_vector<float>() == b.grads[0].to_vector<float>());
    REQUIRE(a.grads[1].to_vector<float>() == b.grads[1].to_vector<float>());
  }
}

TEST_CASE("retrieval_softmax_ce: invalid arguments", "[objectives][errors]") {
  Variable q(rand_t({3, 4}, 1), true), c(rand_t({10, 4}, 2), true);
  Tensor pos = Tensor::from_vector<int64_t>({1, 2, 3}, {3, 1});
  RetrievalOptions o;
  o.temperature = 0.0;
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, pos, o), Catch::Contains("temperature must be > 0"));
  o.temperature = -1.0;
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, pos, o), Catch::Contains("temperature must be > 0"));
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, Tensor::from_vector<int64_t>({1, 10, 3}, {3, 1})),
                      Catch::Contains("positives[1, 0] = 10 is out of range [0, 10)"));
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, Tensor::from_vector<int32_t>({1, -1, -2, -1, 0, -1}, {3, 2})),
                      Catch::Contains("positives[1, 0] = -2 is out of range"));
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, Tensor::from_vector<int64_t>({1, -1, 3}, {3, 1})),
                      Catch::Contains("query 1 has no positive"));
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, Tensor::from_vector<int64_t>({1, 2}, {2, 1})),
                      Catch::Contains("positives must be [3, P >= 1]"));
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, Variable(rand_t({10, 5}, 3)), pos),
                      Catch::Contains("embedding sizes differ"));
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(Variable(Tensor::zeros({3, 0}, DType::F64)),
                                           Variable(Tensor::zeros({10, 0}, DType::F64)), pos),
                      Catch::Contains("one embedding column"));
  Tensor bad_mask = Tensor::zeros({3, 9}, DType::I32);
  RetrievalOptions om;
  om.mask = &bad_mask;
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, pos, om), Catch::Contains("mask must be int32 [3, 10]"));
  RetrievalOptions ol;
  ol.log_q = Tensor::zeros({9}, DType::F64);
  REQUIRE_THROWS_WITH(retrieval_softmax_ce(q, c, pos, ol), Catch::Contains("log_q must be float64 [10]"));
}

TEST_CASE("retrieval helpers: positives and accidental-hit mask from pairs", "[objectives]") {
  Tensor pos = retrieval_positives(3, {{0, 4}, {2, 1}, {0, 7}, {1, 2}});
  REQUIRE(pos.shape() == Shape{3, 2});
  REQUIRE(pos.to_vector<int64_t>() == std::vector<int64_t>{4, 7, 2, -1, 1, -1});
  Tensor mask = retrieval_hit_mask(2, 3, {{0, 1}, {1, 2}});
  REQUIRE(mask.to_vector<int32_t>() == std::vector<int32_t>{1, 0, 1, 1, 1, 0});
  REQUIRE_THROWS_WITH(retrieval_positives(2, {{2, 0}}), Catch::Contains("query 2 is out of range"));
  REQUIRE_THROWS_WITH(retrieval_hit_mask(2, 3, {{0, 3}}), Catch::Contains("out of range"));
  // Masking a query's own positive changes nothing (positives are always kept);
  // masking another candidate equals dropping it from the candidate set.
  Tensor q = rand_t({2, 3}, 1), c = rand_t({3, 3}, 2);
  Tensor p = Tensor::from_vector<int64_t>({0, 2}, {2, 1});
  Variable vq(q), vc(c);
  const double plain = tensor::scalar(retrieval_softmax_ce(vq, vc, p).value());
  Tensor own = retrieval_hit_mask(2, 3, {{0, 0}, {1, 2}});
  RetrievalOptions o;
  o.mask = &own;
  REQUIRE(tensor::scalar(retrieval_softmax_ce(vq, vc, p, o).value()) == Approx(plain).epsilon(1e-12));
}
