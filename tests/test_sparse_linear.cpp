// Sparse input projection (ops/sparse_linear.h): CSR x dense, never densified.
//   * value vs a dense product (to_dense() @ W, small shapes);
//   * float64 gradcheck of W and bias;
//   * CPU vs the warp-per-row SpMM kernel under the emulator (and a real GPU
//     when present), forward and dW / db. Tolerances: float64 1e-12 / 1e-12,
//     float32 1e-5 / 1e-6 (each output row sums its nonzeros in CSR order on
//     every backend; only FMA contraction may differ);
//   * CSR helpers (validate, transpose, to(Device)) and validation errors.
#include <catch2/catch.hpp>

#include <vector>

#include "backend_harness.h"
#include "backend_registry.h"
#include "gradcheck.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "ops/sparse_linear.h"

using namespace ember;
using testing::require_close;

namespace {

// Random multi-hot CSR [rows, cols]: row i has a random count in [0, max_nnz]
// (row 0 empty, row 1 with max_nnz entries), values in [0.5, 1.5) (or all 1).
SparseCsr random_csr(int64_t rows, int64_t cols, int64_t max_nnz, uint64_t seed, bool binary = false) {
  Rng r(seed);
  std::vector<int64_t> rp{0};
  std::vector<int32_t> ci;
  std::vector<double> v;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t cnt = i == 0 ? 0 : (i == 1 ? max_nnz : static_cast<int64_t>(r.below(max_nnz + 1)));
    for (int64_t e = 0; e < cnt; ++e) {
      ci.push_back(static_cast<int32_t>(r.below(cols)));  // duplicates within a row are allowed (they add)
      v.push_back(binary ? 1.0 : 0.5 + r.uniform());
    }
    rp.push_back(static_cast<int64_t>(ci.size()));
  }
  return SparseCsr::from_host(rows, cols, rp, ci, v);
}

SparseCsr csr_as(const SparseCsr& x, DType dt, Device dev) {
  SparseCsr y = x;
  y.val = x.val.to_dtype(dt);
  return y.to(dev);
}

}  // namespace

TEST_CASE("sparse_linear: equals the dense product", "[objectives]") {
  SparseCsr x = random_csr(9, 40, 6, 1);
  Rng r(2);
  Tensor w = testing::random_f64({40, 7}, r), b = testing::random_f64({7}, r);
  Variable y = sparse_linear(x, Variable(w), Variable(b));
  Variable ref = linear(Variable(x.to_dense()), Variable(w), Variable(b));
  require_close(y.value(), ref.value(), 1e-12, 1e-12, "sparse_linear vs dense");
  Variable y0 = sparse_linear(x, Variable(w));
  require_close(y0.value(), matmul(Variable(x.to_dense()), Variable(w)).value(), 1e-12, 1e-12, "no bias");
}

TEST_CASE("sparse_linear: float64 gradcheck of W and bias", "[objectives][gradcheck]") {
  for (uint64_t seed : {1, 2, 3}) {
    Rng r(seed);
    const int64_t rows = 2 + static_cast<int64_t>(r.below(6)), cols = 3 + static_cast<int64_t>(r.below(10));
    const int64_t out = 1 + static_cast<int64_t>(r.below(5));
    SparseCsr x = random_csr(rows, cols, 4, seed + 7);
    if (seed == 2) x = x.with_transpose();  // cached transpose and built-on-demand give the same gradient
    Tensor w = testing::random_f64({cols, out}, r), b = testing::random_f64({out}, r);
    auto res = testing::gradcheck([x](const std::vector<Variable>& v) { return sparse_linear(x, v[0], v[1]); }, {w, b});
    INFO(res.report);
    REQUIRE(res.max_rel_error < 1e-6);
  }
}

EMBER_BACKEND_TEST("spmm", "sparse_linear: CPU vs CUDA kernel (forward, dW, db)", "[objectives][emu]") {
  // out spans the 128-column passes; row 1 has more than 32 nonzeros (two
  // 32-pair loads per warp); row 0 is empty; 300 features with few hits each.
  for (int64_t out : {1, 33, 130, 260}) {
    SparseCsr x = random_csr(100, 300, 70, 3 + out);
    Rng r(4);
    Tensor w = testing::random_f64({300, out}, r), b = testing::random_f64({out}, r);
    Tensor g = testing::random_f64({100, out}, r);
    for (DType dt : {DType::F32, DType::F64}) {
      auto run = [&](Device dev, bool cached) {
        SparseCsr xd = csr_as(x, dt, dev);
        if (cached) xd = xd.with_transpose();
        Variable vw(w.to_dtype(dt).to(dev), true), vb(b.to_dtype(dt).to(dev), true);
        Variable y = sparse_linear(xd, vw, vb);
        y.backward(g.to_dtype(dt).to(dev));
        return std::vector<Tensor>{y.value().to(Device::CPU), vw.grad().to(Device::CPU), vb.grad().to(Device::CPU)};
      };
      const auto ref = run(Device::CPU, false);
      const double rtol = dt == DType::F32 ? 1e-5 : 1e-12, atol = dt == DType::F32 ? 1e-6 : 1e-12;
      for (Device dev : testing::accelerator_devices())
        for (bool cached : {false, true}) {
          const auto got = run(dev, cached);
          const std::string where = std::string("sparse_linear out=") + std::to_string(out) + " " + dtype_name(dt) +
                                    " on " + device_name(dev) + (cached ? " (cached transpose)" : "");
          require_close(got[0], ref[0], rtol, atol, where + ": y");
          require_close(got[1], ref[1], rtol, atol, where + ": dW");
          require_close(got[2], ref[2], 1e-4, 1e-5, where + ": db");
        }
    }
  }
}

TEST_CASE("sparse_linear: dW is bitwise deterministic on every backend", "[objectives][emu]") {
  SparseCsr x = random_csr(200, 50, 20, 9, /*binary=*/true);  // popular features: many rows per column
  Rng r(5);
  Tensor w = testing::random_f64({50, 40}, r), g = testing::random_f64({200, 40}, r);
  std::vector<Device> devs{Device::CPU};
  for (Device d : testing::accelerator_devices()) devs.push_back(d);
  for (Device dev : devs) {
    auto run = [&] {
      Variable vw(w.to_dtype(DType::F32).to(dev), true);
      sparse_linear(csr_as(x, DType::F32, dev), vw).backward(g.to_dtype(DType::F32).to(dev));
      return vw.grad().to_vector<float>();
    };
    REQUIRE(run() == run());
  }
}

TEST_CASE("SparseCsr helpers: transpose, to(Device), validation", "[objectives][errors]") {
  SparseCsr x = random_csr(6, 5, 4, 11);
  SparseCsr t = x.transpose();
  REQUIRE(t.rows == 5);
  REQUIRE(t.cols == 6);
  t.validate();
  Tensor dx = x.to_dense(), dt = t.to_dense();
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 5; ++j) REQUIRE(dx.item<double>({i, j}) == dt.item<double>({j, i}));
  for (Device dev : testing::accelerator_devices()) {
    SparseCsr xd = x.with_transpose().to(dev);
    REQUIRE(xd.device() == dev);
    REQUIRE(xd.transposed);
    REQUIRE(xd.transposed->device() == dev);
    require_close(xd.to_dense(), dx.to(dev), 0.0, 1e-300, "round trip");
  }

  REQUIRE_THROWS_WITH(SparseCsr::from_host<double>(2, 3, {0, 1, 2}, {0, 3}, {1.0, 1.0}),
                      Catch::Contains("col[1] = 3 is out of range [0, 3)"));
  REQUIRE_THROWS_WITH(SparseCsr::from_host<double>(2, 3, {0, 2, 1}, {0, 1}, {1.0, 1.0}),
                      Catch::Contains("row_ptr decreases at row 1"));
  REQUIRE_THROWS_WITH(SparseCsr::from_host<double>(2, 3, {0, 1, 3}, {0, 1}, {1.0, 1.0}),
                      Catch::Contains("but there are 2 nonzeros"));
  REQUIRE_THROWS_WITH(SparseCsr::from_host<double>(2, 3, {0, 1}, {0}, {1.0}), Catch::Contains("expected 3"));
  // A CPU matrix corrupted after construction is caught by the op and by to().
  SparseCsr bad = random_csr(3, 4, 2, 12);
  bad.col = bad.col.clone();
  if (bad.nnz() > 0) bad.col.data<int32_t>()[0] = 7;
  Variable w(Tensor::zeros({4, 2}, DType::F64), true);
  if (bad.nnz() > 0) {
    REQUIRE_THROWS_WITH(sparse_linear(bad, w), Catch::Contains("is out of range [0, 4)"));
    if (Context::get().emu_available()) REQUIRE_THROWS_WITH(bad.to(Device::EMU), Catch::Contains("out of range"));
  }
  REQUIRE_THROWS_WITH(sparse_linear(x, Variable(Tensor::zeros({4, 2}, DType::F64))),
                      Catch::Contains("x has 5 columns"));
  REQUIRE_THROWS_WITH(sparse_linear(x, Variable(Tensor::zeros({5, 2}, DType::F32))),
                      Catch::Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(sparse_linear(x, Variable(Tensor::zeros({5, 2}, DType::F64)), Variable(Tensor::zeros({3}, DType::F64))),
                      Catch::Contains("does not match weight"));
  SparseCsr wrong = x;
  wrong.row_ptr = Tensor::zeros({6}, DType::I64);
  REQUIRE_THROWS_WITH(sparse_linear(wrong, Variable(Tensor::zeros({5, 2}, DType::F64))),
                      Catch::Contains("row_ptr must be int64 [7]"));
}
