// Tensor, storage, devices, RNG and error paths.
#include <catch2/catch.hpp>

#include "core/context.h"
#include "core/philox.h"
#include "core/tensor.h"

using namespace ember;

TEST_CASE("tensor: creation, shape, strides, values", "[core]") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(t.shape() == Shape{2, 3});
  REQUIRE(t.strides() == Shape{3, 1});
  REQUIRE(t.numel() == 6);
  REQUIRE(t.is_contiguous());
  REQUIRE(t.item<float>({1, 2}) == 6.0f);
  Tensor z = Tensor::zeros({4}, DType::F64);
  REQUIRE(z.to_vector<double>() == std::vector<double>(4, 0.0));
  Tensor f = Tensor::full({2, 2}, 2.5, DType::F32);
  REQUIRE(f.to_vector<float>() == std::vector<float>(4, 2.5f));
  REQUIRE(t.describe() == "float32[2, 3] on cpu");
}

TEST_CASE("tensor: views share storage; copies do not", "[core]") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor rows = t.slice_rows(1, 3);
  REQUIRE(rows.shape() == Shape{2, 2});
  REQUIRE(rows.item<float>({0, 0}) == 3.0f);
  Tensor tt = t.transpose2d();
  REQUIRE_FALSE(tt.is_contiguous());
  REQUIRE(tt.contiguous().to_vector<float>() == std::vector<float>{1, 3, 5, 2, 4, 6});
  Tensor c = t.clone();
  c.fill(0.0);
  REQUIRE(t.item<float>({0, 0}) == 1.0f);
  Tensor r = t.reshape({-1});
  REQUIRE(r.shape() == Shape{6});
  REQUIRE(t.to_dtype(DType::F64).to_vector<double>()[5] == 6.0);
}

TEST_CASE("tensor: explicit device copies round-trip (emu, cuda when present)", "[core]") {
  Tensor t = Tensor::from_vector<double>({1.5, -2.0, 3.25}, {3});
  if (Context::get().emu_available()) {
    Tensor e = t.to(Device::EMU);
    REQUIRE(e.device() == Device::EMU);
    REQUIRE(e.to(Device::CPU).to_vector<double>() == t.to_vector<double>());
  }
  if (Context::get().cuda_available()) {
    Tensor g = t.to(Device::CUDA);
    REQUIRE(g.to(Device::CPU).to_vector<double>() == t.to_vector<double>());
    Tensor gt = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}, Device::CUDA).transpose2d();
    REQUIRE(gt.to(Device::CPU).to_vector<float>() == std::vector<float>{1, 3, 2, 4});
  } else {
    WARN("CUDA round trip skipped: " << Context::get().cuda_unavailable_reason());
  }
}

TEST_CASE("tensor: misuse raises ember::Error with a helpful message", "[core][errors]") {
  Tensor t = Tensor::zeros({2, 3});
  REQUIRE_THROWS_WITH(t.data<double>(), Catch::Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(t.item<float>({2, 0}), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(t.item<float>({0}), Catch::Contains("indices for"));
  REQUIRE_THROWS_WITH(t.reshape({4, 2}), Catch::Contains("cannot become"));
  REQUIRE_THROWS_WITH(t.slice_rows(1, 5), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(t.check_shape({3, 2}, "weights"), Catch::Contains("weights: expected shape [3, 2]"));
  REQUIRE_THROWS_WITH(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), Catch::Contains("do not fill"));
  REQUIRE_THROWS_WITH(Tensor::empty({-1, 2}), Catch::Contains("negative dimension"));
  REQUIRE_THROWS_AS(check_same(t, Tensor::zeros({3, 2}), "op"), Error);
  REQUIRE_THROWS_WITH(check_same(t, Tensor::zeros({2, 3}, DType::F64), "op"), Catch::Contains("dtype mismatch"));
  if (!Context::get().cuda_available()) {
    REQUIRE_THROWS_WITH(Tensor::zeros({2}, DType::F32, Device::CUDA), Catch::Contains("no GPU is usable"));
  }
}

TEST_CASE("allocator: counts current and peak bytes", "[core]") {
  Allocator& a = Context::get().allocator(Device::CPU);
  const size_t before = a.stats().current_bytes;
  a.reset_peak();
  {
    Tensor t = Tensor::empty({1000}, DType::F64);
    REQUIRE(a.stats().current_bytes == before + 8000);
  }
  REQUIRE(a.stats().current_bytes == before);
  REQUIRE(a.stats().peak_bytes >= before + 8000);
}

TEST_CASE("philox: Random123 known-answer vectors", "[core][rng]") {
  using philox::philox4x32;
  auto r0 = philox4x32(0, 0, 0);
  REQUIRE(r0.x == 0x6627e8d5u);
  REQUIRE(r0.y == 0xe169c58du);
  REQUIRE(r0.z == 0xbc57ac4cu);
  REQUIRE(r0.w == 0x9b00dbd8u);
  auto r1 = philox4x32(~0ull, ~0ull, ~0ull);
  REQUIRE(r1.x == 0x408f276du);
  REQUIRE(r1.y == 0x41c83b0eu);
  REQUIRE(r1.z == 0xa20bc7c6u);
  REQUIRE(r1.w == 0x6d5451fdu);
  auto r2 = philox4x32(0x85a308d3243f6a88ull, 0x0370734413198a2eull, 0x299f31d0a4093822ull);
  REQUIRE(r2.x == 0xd16cfe09u);
  REQUIRE(r2.y == 0x94fdccebu);
  REQUIRE(r2.z == 0x5001e420u);
  REQUIRE(r2.w == 0x24126ea1u);
}

TEST_CASE("rng: seeded, reproducible, roughly uniform", "[core][rng]") {
  Rng a(42), b(42), c(43);
  double mean = 0.0;
  bool differs = false;
  for (int i = 0; i < 10000; ++i) {
    const double u = a.uniform();
    REQUIRE(u == b.uniform());
    differs = differs || (u != c.uniform());
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    mean += u;
  }
  REQUIRE(differs);
  REQUIRE(mean / 10000 == Approx(0.5).margin(0.02));
  Rng d(42);
  d.set_state(a.seed(), a.stream(), a.counter());
  REQUIRE(d.next_u64() == a.next_u64());
}
