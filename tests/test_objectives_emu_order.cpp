// The objective kernels are deterministic by construction (no atomics, fixed
// reduction orders): under the emulator's seeded random block order and
// thread interleaving (what EMBER_EMU_SEED does) they must give bit-identical
// losses and gradients to the default in-order run.
#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "core/context.h"
#include "gradcheck.h"
#include "ops/objectives.h"
#include "ops/sparse_linear.h"

#if defined(EMBER_WITH_EMU)
#include "kernels/emu/emu.h"  // emu::Options / set_options (after the other headers: it defines CUDA macros)

using namespace ember;

namespace {

std::vector<std::vector<float>> run_all() {
  const Device dev = Device::EMU;
  auto rnd = [](const Shape& s, uint64_t seed) {
    Rng r(seed);
    return testing::random_f64(s, r).to_dtype(DType::F32).to(Device::EMU);
  };
  std::vector<std::vector<float>> out;
  auto keep = [&](Variable loss, std::vector<Variable> inputs) {
    loss.backward();
    out.push_back(loss.value().to_vector<float>());
    for (const Variable& v : inputs) out.push_back(v.grad().to_vector<float>());
  };
  {
    Variable a(rnd({300, 33}, 1), true), b(rnd({300, 33}, 2), true);
    keep(cca_loss(a, b, 0.1), {a, b});
  }
  {
    Variable x(rnd({80, 40}, 3), true), z(rnd({80, 40}, 4), true);
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < 80; i += 2) rows.push_back(i);
    keep(scaled_cosine_error(x, z, Tensor::from_vector(rows, {40})), {x, z});
  }
  {
    Variable q(rnd({70, 20}, 5), true), c(rnd({300, 20}, 6), true);
    std::vector<int64_t> pos;
    for (int64_t b = 0; b < 70; ++b) pos.insert(pos.end(), {(b * 7) % 300, b % 3 == 0 ? -1 : (b * 11) % 300});
    Tensor mask = Tensor::full({70, 300}, 1.0, DType::F32).to_dtype(DType::I32);
    for (int64_t b = 0; b < 70; ++b) mask.data<int32_t>()[b * 300 + (b * 13) % 300] = 0;
    Tensor mask_dev = mask.to(dev);
    RetrievalOptions o;
    o.temperature = 0.3;
    o.mask = &mask_dev;
    keep(retrieval_softmax_ce(q, c, Tensor::from_vector(pos, {70, 2}), o), {q, c});
  }
  {
    std::vector<int64_t> rp{0};
    std::vector<int32_t> ci;
    std::vector<float> v;
    for (int64_t i = 0; i < 100; ++i) {
      for (int64_t e = 0; e < 1 + i % 40; ++e) {
        ci.push_back(static_cast<int32_t>((i * 17 + e * 5) % 60));
        v.push_back(1.0f);
      }
      rp.push_back(static_cast<int64_t>(ci.size()));
    }
    SparseCsr x = SparseCsr::from_host(100, 60, rp, ci, v, dev);
    Variable w(rnd({60, 50}, 7), true);
    Variable y = sparse_linear(x, w);
    y.backward(rnd({100, 50}, 8));
    out.push_back(y.value().to_vector<float>());
    out.push_back(w.grad().to_vector<float>());
  }
  return out;
}

}  // namespace

TEST_CASE("objective kernels: bit-identical under shuffled block and thread order", "[objectives][emu]") {
  const emu::Options saved = emu::options();
  emu::set_options(emu::Options{});
  const auto ref = run_all();
  for (uint64_t seed : {1, 2}) {
    emu::Options o;
    o.shuffle_blocks = true;
    o.shuffle_warps = true;
    o.seed = seed;
    emu::set_options(o);
    const auto got = run_all();
    emu::set_options(saved);
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      INFO("result " << i << ", seed " << seed);
      REQUIRE(got[i] == ref[i]);
    }
  }
  emu::set_options(saved);
}
#endif
