// CPU reference vs the CUDA kernels: on the emulator (always) and on a real
// GPU (when present). Tolerances (rtol / atol), per op and dtype:
//   element-wise, dropout, gather, copies, optimizers: exact up to 1e-6 / 1e-7 (f32), 1e-12 (f64)
//   reductions, row ops, matmul, scatter-add:          1e-4 / 1e-5 (f32), 1e-10 (f64)
// (float32 reductions sum in a different order and precision than the CPU's double accumulators).
#include <catch2/catch.hpp>

#include "backend_harness.h"
#include "core/context.h"
#include "backend_registry.h"
#include "kernels/elementwise.h"
#include "kernels/optim.h"
#include "kernels/rows.h"
#include "kernels/tensor_ops.h"

using namespace ember;
using testing::require_close;

namespace {

Tensor rand_t(const Shape& s, DType dt, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Rng r(seed);
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (double& x : v) x = lo + (hi - lo) * r.uniform();
  return Tensor::from_vector(v, s).to_dtype(dt);
}

struct Tol {
  double rtol, atol;
};
Tol exact(DType dt) { return dt == DType::F32 ? Tol{1e-6, 1e-7} : Tol{1e-12, 1e-12}; }
Tol summed(DType dt) { return dt == DType::F32 ? Tol{1e-4, 1e-5} : Tol{1e-10, 1e-10}; }

// Runs fn on the CPU and on each accelerator device (inputs copied there) and compares.
void compare_all(const std::vector<Tensor>& inputs, const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                 Tol tol, const std::string& name) {
  Tensor ref = fn(inputs);
  for (Device d : testing::accelerator_devices()) {
    std::vector<Tensor> on;
    for (const Tensor& t : inputs) on.push_back(t.to(d));
    Tensor got = fn(on);
    REQUIRE(got.device() == d);
    require_close(got, ref, tol.rtol, tol.atol, name + " on " + device_name(d));
  }
}

}  // namespace

EMBER_BACKEND_TEST("elementwise", "backends: element-wise ops", "[kernels][emu]") {
  for (DType dt : {DType::F32, DType::F64}) {
    // Odd sizes exercise the grid-stride tails; 70000 elements span several blocks.
    for (Shape s : {Shape{1, 1}, Shape{7, 13}, Shape{70, 1000}}) {
      Tensor a = rand_t(s, dt, 1), b = rand_t(s, dt, 2, 0.5, 2.0);
      Tensor row = rand_t({s[1]}, dt, 3, 0.5, 2.0), one = rand_t({1}, dt, 4, 0.5, 2.0);
      for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div})
        for (const Tensor& rhs : {b, row, one})
          compare_all({a, rhs}, [op](const std::vector<Tensor>& v) { return tensor::binary(op, v[0], v[1]); },
                      exact(dt), "binary");
      compare_all({a, b}, [](const std::vector<Tensor>& v) {
        Tensor y = v[1].clone();
        tensor::axpby_(0.5, v[0], -1.5, y);
        return y;
      }, exact(dt), "axpby");
      for (UnaryOp op : {UnaryOp::Relu, UnaryOp::LeakyRelu, UnaryOp::Elu, UnaryOp::Exp, UnaryOp::Square}) {
        compare_all({a}, [op](const std::vector<Tensor>& v) { return tensor::unary(op, v[0], 0.3); },
                    exact(dt), "unary");
        compare_all({a, b}, [op](const std::vector<Tensor>& v) {
          return tensor::unary_backward(op, v[0], v[1], 0.3);
        }, exact(dt), "unary_backward");
      }
      compare_all({a}, [](const std::vector<Tensor>& v) { return tensor::dropout(v[0], 0.3, 11, 2); },
                  exact(dt), "dropout");
    }
  }
}

TEST_CASE("backends: dropout keeps about 1-p of the elements, scaled", "[kernels]") {
  Tensor x = Tensor::full({100000}, 1.0, DType::F32);
  Tensor y = tensor::dropout(x, 0.25, 5, 0);
  auto v = y.to_vector<float>();
  int64_t kept = 0;
  for (float f : v) {
    REQUIRE((f == 0.0f || f == Approx(1.0f / 0.75f)));
    kept += f != 0.0f;
  }
  REQUIRE(kept / 100000.0 == Approx(0.75).margin(0.01));
}

EMBER_BACKEND_TEST("matmul", "backends: matmul", "[kernels][emu]") {
  for (DType dt : {DType::F32, DType::F64})
    // The last two take the CPU's partitioned paths (kernels/matmul_cpu.cpp):
    // row blocks of C, and partial products over chunks of a long K.
    for (Shape mkn : {Shape{1, 1, 1}, Shape{5, 3, 7}, Shape{33, 64, 17}, Shape{1100, 24, 40}, Shape{40, 9000, 30}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          const int64_t m = mkn[0], k = mkn[1], n = mkn[2];
          Tensor a = rand_t(ta ? Shape{k, m} : Shape{m, k}, dt, 5);
          Tensor b = rand_t(tb ? Shape{n, k} : Shape{k, n}, dt, 6);
          compare_all({a, b}, [ta, tb](const std::vector<Tensor>& v) { return tensor::matmul(v[0], v[1], ta, tb); },
                      summed(dt), "matmul");
        }
}

EMBER_BACKEND_TEST("reduce", "backends: reductions", "[kernels][emu]") {
  for (DType dt : {DType::F32, DType::F64})
    for (Shape s : {Shape{1, 1}, Shape{3, 300}, Shape{257, 5}, Shape{40, 2000}}) {
      Tensor a = rand_t(s, dt, 7);
      compare_all({a}, [](const std::vector<Tensor>& v) { return tensor::sum_all(v[0]); }, summed(dt), "sum_all");
      for (int axis : {0, 1}) {
        compare_all({a}, [axis](const std::vector<Tensor>& v) { return tensor::sum_axis(v[0], axis); },
                    summed(dt), "sum_axis");
        Tensor g = rand_t({s[axis == 0 ? 1 : 0]}, dt, 8);
        compare_all({g}, [axis, s](const std::vector<Tensor>& v) {
          return tensor::broadcast_axis(v[0], axis, s[0], s[1], 0.5);
        }, exact(dt), "broadcast_axis");
      }
      compare_all({a}, [](const std::vector<Tensor>& v) {
        return Tensor::full({1}, tensor::sum_squares(v[0]), DType::F64, v[0].device());
      }, summed(DType::F32), "sum_squares");
    }
}

EMBER_BACKEND_TEST("rows", "backends: row L2 normalisation and log-softmax, forward and backward", "[kernels][emu]") {
  for (DType dt : {DType::F32, DType::F64})
    for (Shape s : {Shape{1, 1}, Shape{9, 31}, Shape{300, 64}, Shape{3, 1000}}) {
      Tensor a = rand_t(s, dt, 9), g = rand_t(s, dt, 10);
      a.slice_rows(0, 1).fill(0.0);  // a zero row takes the eps branch
      compare_all({a}, [](const std::vector<Tensor>& v) { return tensor::l2_normalize_rows(v[0], 1e-6, nullptr); },
                  summed(dt), "l2_normalize_rows");
      compare_all({a, g}, [](const std::vector<Tensor>& v) {
        Tensor norms;
        Tensor y = tensor::l2_normalize_rows(v[0], 1e-6, &norms);
        Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
        EMBER_DISPATCH(y.device(), l2_normalize_rows_backward, y, norms, 1e-6, v[1], gx);
        return gx;
      }, summed(dt), "l2_normalize_rows_backward");
      compare_all({a}, [](const std::vector<Tensor>& v) { return tensor::log_softmax_rows(v[0]); }, summed(dt),
                  "log_softmax_rows");
      compare_all({a, g}, [](const std::vector<Tensor>& v) {
        Tensor y = tensor::log_softmax_rows(v[0]);
        Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
        EMBER_DISPATCH(y.device(), log_softmax_rows_backward, y, v[1], gx);
        return gx;
      }, summed(dt), "log_softmax_rows_backward");
    }
}

EMBER_BACKEND_TEST("indexing", "backends: gather, scatter-add, concat, column slices", "[kernels][emu]") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = rand_t({50, 7}, dt, 11);
    std::vector<int64_t> idx;
    Rng r(3);
    for (int i = 0; i < 300; ++i) idx.push_back(static_cast<int64_t>(r.below(50)));
    for (DType it : {DType::I32, DType::I64}) {
      Tensor ti = Tensor::from_vector(idx, {300}).to_dtype(it);
      compare_all({x, ti}, [](const std::vector<Tensor>& v) { return tensor::gather_rows(v[0], v[1]); }, exact(dt),
                  "gather_rows");
      Tensor src = rand_t({300, 7}, dt, 12);
      compare_all({src, ti}, [](const std::vector<Tensor>& v) { return tensor::scatter_add_rows(v[0], v[1], 50); },
                  summed(dt), "scatter_add_rows");
    }
    Tensor y = rand_t({50, 3}, dt, 13);
    compare_all({x, y}, [](const std::vector<Tensor>& v) { return tensor::concat({v[0], v[1]}, 1); }, exact(dt),
                "concat axis 1");
    compare_all({x, x}, [](const std::vector<Tensor>& v) { return tensor::concat({v[0], v[1]}, 0); }, exact(dt),
                "concat axis 0");
    compare_all({x}, [](const std::vector<Tensor>& v) { return tensor::slice_columns(v[0], 2, 6); }, exact(dt),
                "slice_columns");
  }
  // Out-of-range indices are an error on every backend, never a wild write.
  Tensor x = rand_t({4, 2}, DType::F32, 1);
  Tensor bad = Tensor::from_vector<int32_t>({0, 4}, {2});
  REQUIRE_THROWS_WITH(tensor::gather_rows(x, bad), Catch::Contains("out of range"));
  for (Device d : testing::accelerator_devices()) {
    REQUIRE_THROWS_WITH(tensor::gather_rows(x.to(d), bad.to(d)), Catch::Contains("out of range"));
    Tensor src = rand_t({2, 2}, DType::F32, 2);
    REQUIRE_THROWS_WITH(tensor::scatter_add_rows(src.to(d), bad.to(d), 4), Catch::Contains("out of range"));
    // Host indices for device data: checked on the host (naming the position),
    // uploaded, and the same rows as with device indices, with no read-back.
    REQUIRE_THROWS_WITH(tensor::gather_rows(x.to(d), bad), Catch::Contains("index 4 at position 1"));
    REQUIRE_THROWS_WITH(tensor::scatter_add_rows(src.to(d), bad, 4), Catch::Contains("index 4 at position 1"));
    Tensor good = Tensor::from_vector<int64_t>({3, 0, 3}, {3});
    Tensor src3 = rand_t({3, 2}, DType::F32, 3);
    Context::get().reset_transfers();
    const Tensor a = tensor::gather_rows(x.to(d), good), s = tensor::scatter_add_rows(src3.to(d), good, 4);
    CHECK(Context::get().transfers().to_host == 0);
    CHECK(a.to(Device::CPU).to_vector<float>() == tensor::gather_rows(x, good).to_vector<float>());
    const std::vector<float> s_dev = s.to(Device::CPU).to_vector<float>(), s_cpu = tensor::scatter_add_rows(src3, good, 4).to_vector<float>();
    for (size_t i = 0; i < s_cpu.size(); ++i) CHECK(s_dev[i] == Approx(s_cpu[i]).margin(1e-6));
  }
}

EMBER_BACKEND_TEST("optim", "backends: optimizer updates", "[kernels][emu]") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor p = rand_t({1000}, dt, 14), g = rand_t({1000}, dt, 15);
    compare_all({p, g}, [](const std::vector<Tensor>& v) {
      Tensor p2 = v[0].clone(), m = Tensor::zeros(v[0].shape(), v[0].dtype(), v[0].device());
      Tensor vv = m.clone();
      for (int64_t step = 1; step <= 3; ++step)
        EMBER_DISPATCH(p2.device(), adam_update, p2, v[1], m, vv, 1e-2, 0.9, 0.999, 1e-8, 0.01, step == 2, step);
      return p2;
    }, Tol{1e-5, 1e-6}, "adam_update");
    compare_all({p, g}, [](const std::vector<Tensor>& v) {
      Tensor p2 = v[0].clone(), buf = Tensor::zeros(v[0].shape(), v[0].dtype(), v[0].device());
      for (int i = 0; i < 3; ++i) EMBER_DISPATCH(p2.device(), sgd_update, p2, v[1], buf, 0.1, 0.9, 0.01);
      return p2;
    }, exact(dt), "sgd_update");
  }
}
