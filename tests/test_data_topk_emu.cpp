// The GPU top-K path (kernels/topk_cuda.cu) under the kernel emulator, and on
// a real GPU when one is present, against the CPU reference.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "backend_harness.h"
#include "backend_registry.h"
#include "engine/retrieval/exact_topk.h"
#include "kernels/topk.h"

using namespace ember;

namespace {
struct MergeCase {
  int64_t B, T, k;
};
}  // namespace

EMBER_BACKEND_TEST("topk", "top-k selection kernel equals the CPU reference", "[data][emu]") {
  const auto devices = testing::accelerator_devices();
  std::mt19937 rng(3);
  for (MergeCase c : {MergeCase{3, 50, 1}, MergeCase{5, 2500, 7}, MergeCase{4, 1500, 100}, MergeCase{2, 300, 1000}}) {
    INFO("B " << c.B << " T " << c.T << " k " << c.k);
    // Quantised scores: many ties, so the id tie-break is exercised; a few NaNs.
    std::vector<float> s(static_cast<size_t>(c.B * c.T));
    for (auto& v : s) v = static_cast<float>(rng() % 64) / 8.0f;
    for (int i = 0; i < 10; ++i) s[rng() % s.size()] = NAN;
    std::vector<int64_t> eo{0};
    std::vector<int32_t> ei;
    for (int64_t r = 0; r < c.B; ++r) {
      std::vector<int32_t> ex;
      for (int i = 0; i < 40; ++i) ex.push_back(static_cast<int32_t>(1000 + rng() % c.T));
      std::sort(ex.begin(), ex.end());
      ex.erase(std::unique(ex.begin(), ex.end()), ex.end());
      ei.insert(ei.end(), ex.begin(), ex.end());
      eo.push_back(static_cast<int64_t>(ei.size()));
    }
    Tensor scores = Tensor::from_vector(s, {c.B, c.T});
    Tensor eot = Tensor::from_vector(eo, {c.B + 1}), eit = Tensor::from_vector(ei, {static_cast<int64_t>(ei.size())});
    // Two merges: into empty lists (id offset 1000), then a second tile into the partly filled lists.
    Tensor ref_s = Tensor::full({c.B, c.k}, -INFINITY, DType::F32), ref_i = Tensor::full({c.B, c.k}, -1, DType::I32);
    cpu::topk_merge_rows(scores, 1000, eot, eit, ref_s, ref_i);
    cpu::topk_merge_rows(scores, 1000 + c.T, eot, eit, ref_s, ref_i);
    for (Device d : devices) {
      Tensor bs = Tensor::full({c.B, c.k}, -INFINITY, DType::F32, d), bi = Tensor::full({c.B, c.k}, -1, DType::I32, d);
      Tensor sd = scores.to(d), eod = eot.to(d), eid = eit.to(d);
      EMBER_DISPATCH(d, topk_merge_rows, sd, 1000, eod, eid, bs, bi);
      EMBER_DISPATCH(d, topk_merge_rows, sd, 1000 + c.T, eod, eid, bs, bi);
      REQUIRE(bi.to_vector<int32_t>() == ref_i.to_vector<int32_t>());
      REQUIRE(bs.to_vector<float>() == ref_s.to_vector<float>());
    }
  }
  // Bad arguments are reported, not crashed on.
  Tensor s = Tensor::zeros({2, 5}), eo = Tensor::zeros({2}, DType::I64), ei = Tensor::zeros({1}, DType::I32);
  Tensor bs = Tensor::zeros({2, 3}), bi = Tensor::zeros({2, 3}, DType::I32);
  REQUIRE_THROWS_WITH(cpu::topk_merge_rows(s, 0, eo, ei, bs, bi), Catch::Contains("excl_offsets must have B + 1"));
}

EMBER_BACKEND_TEST("topk", "exact_topk on the device path matches the CPU path", "[data][emu]") {
  const auto devices = testing::accelerator_devices();
  const int64_t n = 900, d = 16;
  std::mt19937 rng(5);
  std::normal_distribution<float> N01;
  std::vector<float> x(static_cast<size_t>(n * d));
  for (auto& v : x) v = N01(rng);
  std::vector<int32_t> src, dst;
  for (int i = 0; i < 3000; ++i) { src.push_back(rng() % n); dst.push_back(rng() % n); }
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  Graph g = build_graph_dense(n, src, dst, quiet);
  std::vector<int32_t> queries;
  for (int32_t q = 0; q < n; q += 37) queries.push_back(q);
  TopKConfig cfg;
  cfg.k = 25;
  cfg.query_block = 8;
  cfg.item_block = 400;  // three tiles, the last one partial
  Rankings ref = exact_topk(x.data(), n, d, queries, &g, cfg);
  for (Device dev : devices) {
    cfg.device = dev;
    Rankings got = exact_topk(x.data(), n, d, queries, &g, cfg);
    REQUIRE(got.queries == ref.queries);
    // GEMMs may round differently: scores agree to 1e-5 and lists are equal
    // up to swaps of near-equal scores.
    int64_t same = 0;
    for (size_t i = 0; i < ref.ids.size(); ++i) {
      REQUIRE(got.scores[i] == Approx(ref.scores[i]).margin(1e-5));
      same += got.ids[i] == ref.ids[i];
    }
    REQUIRE(static_cast<double>(same) >= 0.99 * static_cast<double>(ref.ids.size()));
  }
}
