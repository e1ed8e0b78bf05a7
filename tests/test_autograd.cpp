// Tape autograd: mechanics, and a float64 finite-difference gradient check of
// every differentiable dense op (random shapes, several seeds, rel. error < 1e-6).
#include <catch2/catch.hpp>

#include "autograd/variable.h"
#include "gradcheck.h"
#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "ops/rows.h"

using namespace ember;
using testing::gradcheck;
using testing::random_f64;

namespace {
constexpr double kTol = 1e-6;

void check(const testing::OpFn& f, const std::vector<Tensor>& in, const char* name,
           std::vector<bool> needs = {}) {
  auto res = gradcheck(f, in, needs);
  INFO(name << "\n" << res.report);
  REQUIRE(res.max_rel_error < kTol);
}

int64_t dim_in(Rng& r, int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(r.below(hi - lo + 1)); }
}  // namespace

TEST_CASE("autograd: a value used twice accumulates both gradients", "[autograd]") {
  Variable x(Tensor::from_vector<double>({2.0, -3.0}, {2}), true);
  Variable y = sum(add(mul(x, x), x));  // sum(x^2 + x): grad 2x + 1
  y.backward();
  REQUIRE(x.grad().to_vector<double>() == std::vector<double>{5.0, -5.0});
  // A second backward through a new graph accumulates into the leaf.
  sum(x).backward();
  REQUIRE(x.grad().to_vector<double>() == std::vector<double>{6.0, -4.0});
  x.zero_grad();
  REQUIRE_FALSE(x.has_grad());
}

TEST_CASE("autograd: no-grad scope records nothing; detach cuts history", "[autograd]") {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  {
    NoGradGuard ng;
    Variable y = mul(x, x);
    REQUIRE_FALSE(y.requires_grad());
  }
  REQUIRE(GradMode::enabled());
  Variable d = x.detach();
  REQUIRE_FALSE(d.requires_grad());
  Variable z = sum(mul(d, x));  // gradient only through the second factor
  z.backward();
  REQUIRE(x.grad().to_vector<double>() == std::vector<double>{1.0, 2.0});
}

TEST_CASE("autograd: misuse raises ember::Error", "[autograd][errors]") {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  REQUIRE_THROWS_WITH(mul(x, x).backward(), Catch::Contains("one-element"));
  Variable c(Tensor::from_vector<double>({1.0}, {1}), false);
  REQUIRE_THROWS_WITH(c.backward(), Catch::Contains("does not require a gradient"));
  Variable y = sum(x);
  REQUIRE_THROWS_WITH(y.backward(Tensor::zeros({3}, DType::F64)), Catch::Contains("does not match"));
  Variable a(Tensor::zeros({2, 3}, DType::F64), true), b(Tensor::zeros({2, 3}, DType::F64), true);
  REQUIRE_THROWS_WITH(matmul(a, b), Catch::Contains("inner dimensions differ"));
  Variable f32(Tensor::zeros({2, 3}, DType::F32), true);
  REQUIRE_THROWS_WITH(add(a, f32), Catch::Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(add(a, Variable(Tensor::zeros({2}, DType::F64))), Catch::Contains("shape mismatch"));
  Tensor bad_idx = Tensor::from_vector<int64_t>({0, 5}, {2});
  REQUIRE_THROWS_WITH(gather_rows(a, bad_idx), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(dropout(a, 1.5, 1, 2), Catch::Contains("rate must be in [0, 1)"));
}

TEST_CASE("gradcheck: element-wise ops and broadcasting", "[autograd][gradcheck]") {
  for (uint64_t seed : {1, 2, 3}) {
    Rng r(seed);
    const int64_t m = dim_in(r, 1, 5), n = dim_in(r, 1, 6);
    Tensor a = random_f64({m, n}, r), b = random_f64({m, n}, r, 0.5, 2.0);
    Tensor row = random_f64({n}, r, 0.5, 2.0), one = random_f64({1}, r, 0.5, 2.0);
    auto bin = [](Variable (*op)(const Variable&, const Variable&)) {
      return [op](const std::vector<Variable>& v) { return op(v[0], v[1]); };
    };
    for (const Tensor& rhs : {b, row, one}) {
      check(bin(add), {a, rhs}, "add");
      check(bin(sub), {a, rhs}, "sub");
      check(bin(mul), {a, rhs}, "mul");
      check(bin(div), {a, rhs}, "div");
    }
    check([](const std::vector<Variable>& v) { return scale(v[0], -1.7); }, {a}, "scale");
    check([](const std::vector<Variable>& v) { return relu(v[0]); }, {a}, "relu");
    check([](const std::vector<Variable>& v) { return leaky_relu(v[0], 0.2); }, {a}, "leaky_relu");
    check([](const std::vector<Variable>& v) { return elu(v[0], 1.3); }, {a}, "elu");
    check([](const std::vector<Variable>& v) { return exp(v[0]); }, {a}, "exp");
    check([](const std::vector<Variable>& v) { return square(v[0]); }, {a}, "square");
    check([seed](const std::vector<Variable>& v) { return dropout(v[0], 0.4, seed, 5); }, {a}, "dropout");
  }
}

TEST_CASE("gradcheck: matmul (all transposes) and linear", "[autograd][gradcheck]") {
  for (uint64_t seed : {4, 5, 6}) {
    Rng r(seed);
    const int64_t m = dim_in(r, 1, 5), k = dim_in(r, 1, 5), n = dim_in(r, 1, 5);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = ta ? random_f64({k, m}, r) : random_f64({m, k}, r);
        Tensor b = tb ? random_f64({n, k}, r) : random_f64({k, n}, r);
        check([ta, tb](const std::vector<Variable>& v) { return matmul(v[0], v[1], ta, tb); }, {a, b},
              "matmul");
      }
    Tensor x = random_f64({m, k}, r), w = random_f64({k, n}, r), bias = random_f64({n}, r);
    check([](const std::vector<Variable>& v) { return linear(v[0], v[1], v[2]); }, {x, w, bias}, "linear");
  }
}

TEST_CASE("gradcheck: reductions", "[autograd][gradcheck]") {
  for (uint64_t seed : {7, 8}) {
    Rng r(seed);
    Tensor a = random_f64({dim_in(r, 1, 5), dim_in(r, 1, 5)}, r);
    check([](const std::vector<Variable>& v) { return sum(v[0]); }, {a}, "sum");
    check([](const std::vector<Variable>& v) { return mean(v[0]); }, {a}, "mean");
    for (int axis : {0, 1}) {
      check([axis](const std::vector<Variable>& v) { return sum(v[0], axis); }, {a}, "sum_axis");
      check([axis](const std::vector<Variable>& v) { return mean(v[0], axis); }, {a}, "mean_axis");
    }
  }
}

TEST_CASE("gradcheck: row L2 normalisation and log-softmax", "[autograd][gradcheck]") {
  for (uint64_t seed : {9, 10, 11}) {
    Rng r(seed);
    Tensor a = random_f64({dim_in(r, 1, 6), dim_in(r, 1, 7)}, r);
    check([](const std::vector<Variable>& v) { return l2_normalize_rows(v[0]); }, {a}, "l2_normalize_rows");
    check([](const std::vector<Variable>& v) { return log_softmax_rows(v[0]); }, {a}, "log_softmax_rows");
  }
  // A zero row stays finite and has the linear gradient 1/eps.
  Variable z(Tensor::zeros({1, 3}, DType::F64), true);
  Variable y = l2_normalize_rows(z, 1e-6);
  REQUIRE(y.value().to_vector<double>() == std::vector<double>(3, 0.0));
  sum(y).backward();
  REQUIRE(z.grad().to_vector<double>()[0] == Approx(1e6));
}

TEST_CASE("gradcheck: gather, scatter-add (with duplicates) and concat", "[autograd][gradcheck]") {
  for (uint64_t seed : {12, 13}) {
    Rng r(seed);
    const int64_t rows = dim_in(r, 2, 6), cols = dim_in(r, 1, 4);
    Tensor x = random_f64({rows, cols}, r);
    std::vector<int64_t> idx{0, rows - 1, 0, 1};  // duplicates accumulate
    Tensor it = Tensor::from_vector(idx, {4});
    check([it](const std::vector<Variable>& v) { return gather_rows(v[0], it); }, {x}, "gather_rows");
    Tensor src = random_f64({4, cols}, r);
    check([it, rows](const std::vector<Variable>& v) { return scatter_add_rows(v[0], it, rows); }, {src},
          "scatter_add_rows");
    Tensor y = random_f64({rows, 2}, r), z = random_f64({3, cols}, r);
    check([](const std::vector<Variable>& v) { return concat({v[0], v[1]}, 1); }, {x, y}, "concat axis 1");
    check([](const std::vector<Variable>& v) { return concat({v[0], v[1]}, 0); }, {x, z}, "concat axis 0");
  }
}
