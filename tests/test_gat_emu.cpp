// GAT kernels under shuffled emulator schedules: the forward and the
// backward use no floating-point atomics and merge partials in a fixed order,
// so the results must be bitwise identical for any block / warp order.
#include <catch2/catch.hpp>

#if defined(EMBER_WITH_EMU)
#include <cstring>

#include "core/context.h"
#include "kernels/emu/emu.h"
#include "ops/gat.h"
#include "test_gat_util.h"

using namespace ember;

namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

struct OptionsGuard {
  emu::Options saved = emu::options();
  ~OptionsGuard() { emu::set_options(saved); }
};

}  // namespace

TEST_CASE("gat: emulated kernels are bitwise deterministic under shuffled schedules", "[gat][emu]") {
  OptionsGuard guard;
  const int64_t n = 120;
  testing::EdgeList el = testing::power_law_edges(n, 500, 3, 0.9, 4);
  Rng r(2);
  for (int k = 0; k < 2100; ++k) el.add(static_cast<int32_t>(r.below(n - 4)), 7);  // a heavy row (block kernels)
  for (int k = 0; k < 2100; ++k) el.add(9, static_cast<int32_t>(r.below(n - 4)));  // a heavy source
  MessageGraph g = build_message_graph(el.src, el.dst, n);
  GatOptions o;
  o.heads = 2;
  o.out_features = 8;
  o.attn_dropout = 0.2;
  o.dropout_seed = 4;
  testing::GatParamsT p = testing::random_layer(n, 5, o, DType::F32, 3);
  Tensor rr = testing::rand_tensor({n, 16}, DType::F32, r);
  emu::set_options(emu::Options{});
  testing::LayerRun ref = testing::run_layer(p, g, o, Device::EMU, rr);
  for (uint64_t seed : {1, 2}) {
    emu::Options eo;
    eo.shuffle_blocks = true;
    eo.shuffle_warps = true;
    eo.seed = seed;
    emu::set_options(eo);
    testing::LayerRun got = testing::run_layer(p, g, o, Device::EMU, rr);
    INFO("schedule seed " << seed);
    CHECK(bitwise_equal(got.out, ref.out));
    CHECK(bitwise_equal(got.gx, ref.gx));
    CHECK(bitwise_equal(got.gw, ref.gw));
    CHECK(bitwise_equal(got.gas, ref.gas));
    CHECK(bitwise_equal(got.gad, ref.gad));
    CHECK(bitwise_equal(got.gbias, ref.gbias));
  }
}

#endif
