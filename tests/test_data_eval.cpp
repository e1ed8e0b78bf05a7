// Exact retrieval, metrics and baselines on hand-made graphs with known answers.
#include <omp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <cmath>
#include <random>
#include <set>

#include "engine/retrieval/baselines.h"
#include "engine/retrieval/metrics.h"
#include "kernels/topk.h"

using namespace ember;

namespace {
GraphBuildOptions quiet() {
  GraphBuildOptions o;
  o.print_summary = false;
  return o;
}
Graph dense_graph(int64_t n, std::vector<std::pair<int, int>> edges) {
  std::vector<int32_t> s, d;
  for (auto& e : edges) { s.push_back(e.first); d.push_back(e.second); }
  return build_graph_dense(n, s, d, quiet());
}
// n x d standard normal points, then `edges` random friendships (self-loops
// and repeats dropped by the builder), all from one mt19937 seeded `seed`.
void random_points_and_friends(int64_t n, int64_t d, int edges, unsigned seed, std::vector<float>& x, Graph& g) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> N01;
  x.resize(static_cast<size_t>(n * d));
  for (auto& v : x) v = N01(rng);
  std::vector<std::pair<int, int>> e;
  for (int i = 0; i < edges; ++i) e.emplace_back(rng() % n, rng() % n);
  g = dense_graph(n, e);
}
// Brute-force reference: sort all candidates.
std::vector<int32_t> brute_topk(const std::vector<float>& x, int64_t n, int64_t d, int32_t q, const Graph* ex, int k) {
  std::vector<float> xn = l2_normalized(x.data(), n, d);
  std::vector<std::pair<float, int32_t>> all;
  for (int32_t j = 0; j < n; ++j) {
    if (j == q || (ex && ex->has_edge(q, j))) continue;
    float s = 0;
    for (int64_t t = 0; t < d; ++t) s += xn[q * d + t] * xn[j * d + t];
    all.emplace_back(s, j);
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return topk_better(a.first, a.second, b.first, b.second); });
  std::vector<int32_t> out;
  for (int i = 0; i < k && i < static_cast<int>(all.size()); ++i) out.push_back(all[i].second);
  return out;
}
}  // namespace

TEST_CASE("top-k merge (CPU reference) keeps the k best over several tiles with id tie-break", "[data]") {
  std::mt19937 rng(1);
  for (int k : {1, 3, 10, 250}) {
    // 200 candidates with many ties, merged in tiles of 7 (the last one partial).
    std::vector<std::pair<float, int32_t>> all;
    std::vector<float> sc(200);
    for (int i = 0; i < 200; ++i) all.emplace_back(sc[i] = static_cast<float>(rng() % 20), i);
    Tensor best_s = Tensor::full({1, k}, -INFINITY, DType::F32), best_i = Tensor::full({1, k}, -1, DType::I32);
    Tensor eo = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2}), ei = Tensor::from_vector(std::vector<int32_t>{5, 17}, {2});
    for (int t0 = 0; t0 < 200; t0 += 7) {
      const int nt = std::min(7, 200 - t0);
      Tensor tile = Tensor::from_vector(std::vector<float>(sc.begin() + t0, sc.begin() + t0 + nt), {1, nt});
      cpu::topk_merge_rows(tile, t0, eo, ei, best_s, best_i);
    }
    all.erase(std::remove_if(all.begin(), all.end(), [](auto& p) { return p.second == 5 || p.second == 17; }), all.end());
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return topk_better(a.first, a.second, b.first, b.second); });
    const auto ids = best_i.to_vector<int32_t>();
    const auto scores = best_s.to_vector<float>();
    for (int j = 0; j < k; ++j) {
      const bool have = j < static_cast<int>(all.size());
      REQUIRE(ids[j] == (have ? all[j].second : -1));
      if (have) REQUIRE(scores[j] == all[j].first);
      else REQUIRE(scores[j] == -INFINITY);
    }
  }
}

TEST_CASE("exact_topk: known answer with exclusions", "[data]") {
  // 2-D unit vectors at angles 0, 10, 20, 30, 90 degrees (+ a zero vector).
  std::vector<float> e;
  for (double deg : {0.0, 10.0, 20.0, 30.0, 90.0}) {
    e.push_back(static_cast<float>(3 * std::cos(deg * M_PI / 180)));  // unnormalised on purpose
    e.push_back(static_cast<float>(3 * std::sin(deg * M_PI / 180)));
  }
  e.push_back(0);
  e.push_back(0);
  Graph friends = dense_graph(6, {{0, 1}});
  TopKConfig cfg;
  cfg.k = 3;
  Rankings r = exact_topk(e.data(), 6, 2, {0, 4}, &friends, cfg);
  // user 0: itself and friend 1 excluded -> 2, 3, then 4 (cos 90 = 0) vs 5 (zero vector, 0): tie -> smaller id 4
  REQUIRE(std::vector<int32_t>(r.row(0), r.row(0) + 3) == std::vector<int32_t>{2, 3, 4});
  REQUIRE(r.row_scores(0)[0] == Approx(std::cos(20 * M_PI / 180)));
  REQUIRE(std::vector<int32_t>(r.row(1), r.row(1) + 3) == std::vector<int32_t>{3, 2, 1});
  cfg.k = 10;  // more than available: padded with -1
  Rankings p = exact_topk(e.data(), 6, 2, {0}, &friends, cfg);
  REQUIRE(p.row(0)[3] == 5);
  REQUIRE(p.row(0)[4] == -1);
  REQUIRE_THROWS_WITH(exact_topk(e.data(), 6, 2, {6}, nullptr, cfg), Catch::Contains("query id 6 out of range"));
}

TEST_CASE("exact_topk equals brute force for any tiling and thread count", "[data]") {
  const int64_t n = 700, d = 16;
  std::vector<float> x;
  Graph g;
  random_points_and_friends(n, d, 2000, 7, x, g);
  std::vector<int32_t> queries;
  for (int32_t q = 0; q < n; q += 3) queries.push_back(q);
  TopKConfig cfg;
  cfg.k = 20;
  Rankings ref = exact_topk(x.data(), n, d, queries, &g, cfg);
  for (size_t i = 0; i < queries.size(); i += 17) {
    auto want = brute_topk(x, n, d, queries[i], &g, 20);
    REQUIRE(std::vector<int32_t>(ref.row(i), ref.row(i) + 20) == want);
  }
  for (auto tiles : {std::make_pair(1, 1), std::make_pair(7, 50), std::make_pair(64, 4096)}) {
    cfg.query_block = tiles.first;
    cfg.item_block = tiles.second;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    Rankings a = exact_topk(x.data(), n, d, queries, &g, cfg);
    omp_set_num_threads(saved);
    REQUIRE(a.ids == ref.ids);
  }
}

TEST_CASE("exact_topk_block over row blocks, merged, equals exact_topk (ids, scores, ties, exclusions)", "[data]") {
  const int64_t n = 900, d = 12;
  std::vector<float> x;
  Graph g;
  random_points_and_friends(n, d, 2500, 11, x, g);
  // Ties across blocks: rows 700..719 repeat rows 100..119.
  for (int64_t i = 0; i < 20; ++i) std::copy(x.begin() + (100 + i) * d, x.begin() + (101 + i) * d, x.begin() + (700 + i) * d);
  std::vector<int32_t> queries;
  for (int32_t q = 0; q < n; q += 5) queries.push_back(q);
  queries.push_back(105);  // its twin, 705, ties it in another block
  std::sort(queries.begin(), queries.end());
  TopKConfig cfg;
  cfg.k = 25;
  const Rankings ref = exact_topk(x.data(), n, d, queries, &g, cfg);
  const std::vector<float> xn = l2_normalized(x.data(), n, d);
  std::vector<float> qv;
  for (int32_t q : queries) qv.insert(qv.end(), xn.begin() + q * d, xn.begin() + (q + 1) * d);
  for (const std::vector<int64_t>& cuts : {std::vector<int64_t>{0, 512, 900}, std::vector<int64_t>{0, 300, 300, 650, 900},
                                           std::vector<int64_t>{0, 1, 899, 900}}) {
    std::vector<Rankings> parts;
    for (size_t b = 0; b + 1 < cuts.size(); ++b)
      parts.push_back(exact_topk_block(x.data() + cuts[b] * d, cuts[b], cuts[b + 1] - cuts[b], n, d, queries, qv.data(), &g, cfg));
    const Rankings merged = merge_rankings(parts, cfg.k);
    INFO("blocks " << cuts.size() - 1);
    REQUIRE(merged.ids == ref.ids);
    // A dot product may round differently in a tile at another offset.
    float worst = 0;
    for (size_t i = 0; i < ref.scores.size(); ++i) worst = std::max(worst, std::fabs(merged.scores[i] - ref.scores[i]));
    INFO("largest score difference " << worst);
    REQUIRE(worst <= 1e-6f);
  }
  REQUIRE_THROWS_WITH(exact_topk_block(x.data(), 800, 200, n, d, queries, qv.data(), &g, cfg), Catch::Contains("outside"));
}

TEST_CASE("metrics: recall, hit rate and MRR on a hand-made ranking", "[data]") {
  // 10 users. Training: 0-1 (user 0 has degree 1), users 2..9 no training edges except 5-6,5-7,5-8.
  Graph train = dense_graph(10, {{0, 1}, {5, 6}, {5, 7}, {5, 8}});
  // Held-out: 0-2, 0-3 ; 4-9
  HeldOut truth = make_heldout(10, {{0, 2}, {0, 3}, {4, 9}});
  Rankings r;
  r.queries = {0, 4};
  r.resize(2, 5);
  int32_t row0[5] = {7, 3, 8, 2, -1};  // hits at ranks 2 and 4
  int32_t row1[5] = {1, 2, 3, 5, 6};   // no hit
  std::copy(row0, row0 + 5, r.ids.begin());
  std::copy(row1, row1 + 5, r.ids.begin() + 5);
  MetricsConfig mc;
  mc.ks = {1, 2, 5};
  mc.mrr_depth = 5;
  EvalReport rep = evaluate_rankings(r, train, truth, "hand", mc);
  const BucketMetrics& all = rep.all();
  REQUIRE(all.num_queries == 2);
  REQUIRE(all.recall[0] == Approx(0.0));
  REQUIRE(all.recall[1] == Approx(0.25));  // user 0: 1/2, user 4: 0
  REQUIRE(all.recall[2] == Approx(0.5));
  REQUIRE(all.hit_rate[1] == Approx(0.5));
  REQUIRE(all.mrr == Approx(0.25));  // (1/2 + 0) / 2
  REQUIRE(rep.recall("0-2", 5) == Approx(0.5));
  REQUIRE(rep.buckets[1].num_queries == 2);  // both have training degree 0..2
  nlohmann::json j = rep.to_json();
  REQUIRE(j["buckets"][0]["recall@5"].get<double>() == Approx(0.5));
  REQUIRE(j["buckets"][0]["queries"].get<int64_t>() == 2);
  REQUIRE(rep.table().find("MRR") != std::string::npos);
  REQUIRE_THROWS_WITH(rep.recall("all", 7), Catch::Contains("no recall@7"));
}

TEST_CASE("baselines: friends-of-friends, popularity, random", "[data]") {
  // 0 - 1, 0 - 2, 1 - 3, 2 - 3, 2 - 4, 4 - 5, 6 - 5, 7 isolated
  Graph g = dense_graph(8, {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {2, 4}, {4, 5}, {6, 5}});
  HeuristicOptions ho;
  ho.k = 3;
  Rankings cn = fof_rankings(g, g, {0, 7}, FofScore::CommonNeighbours, ho);
  // user 0: 3 via 1 and 2 (CN 2), 4 via 2 (CN 1), then the rest (score 0) in random order
  REQUIRE(cn.row(0)[0] == 3);
  REQUIRE(cn.row(0)[1] == 4);
  REQUIRE(cn.row_scores(0)[0] == 2.0f);
  REQUIRE(cn.row_scores(0)[2] == 0.0f);
  REQUIRE(cn.row(0)[2] >= 5);  // filled past the 2-hop candidates (5, 6 or 7)
  // isolated user: no 2-hop candidate, the list is filled at random, never with itself
  for (int j = 0; j < 3; ++j) {
    REQUIRE(cn.row(1)[j] >= 0);
    REQUIRE(cn.row(1)[j] != 7);
    REQUIRE(cn.row_scores(1)[j] == 0.0f);
  }
  ho.k = 1;
  Rankings aa = fof_rankings(g, g, {4}, FofScore::AdamicAdar, ho);
  // user 4 (friends 2, 5): via 2 (deg 3) -> 0, 3 ; via 5 (deg 2) -> 6. 1/log 2 > 1/log 3
  REQUIRE(aa.row(0)[0] == 6);
  REQUIRE(aa.row_scores(0)[0] == Approx(1.0 / std::log(2.0)));
  ho.k = 3;
  Rankings pop = popularity_rankings(g, g, {2}, ho);
  // degrees: 0:2 1:2 2:3 3:2 4:2 5:2 6:1 7:0; user 2 excludes itself and 0, 3, 4 -> 1 and 5 (deg 2, in a
  // seeded random order), then 6
  REQUIRE(std::set<int32_t>{pop.row(0)[0], pop.row(0)[1]} == std::set<int32_t>{1, 5});
  REQUIRE(pop.row(0)[2] == 6);
  ho.k = 10;
  Rankings rnd = random_rankings(g, {0, 2}, ho);
  for (size_t q = 0; q < 2; ++q)
    for (int j = 0; j < 10; ++j) {
      int32_t x = rnd.row(q)[j];
      if (x < 0) continue;
      REQUIRE(x != rnd.queries[q]);
      REQUIRE_FALSE(g.has_edge(rnd.queries[q], x));
    }
  REQUIRE(rnd.ids == random_rankings(g, {0, 2}, ho).ids);
  // propagate + feature embeddings have the right shape
  SparseFeatures f;
  f.num_rows = 8;
  f.num_cols = 4;
  f.row_ptr = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  f.col = {0, 1, 2, 3, 0, 1, 2, 3};
  f.val.assign(8, 1.0f);
  auto fe = feature_embeddings(f, 16, 1);
  REQUIRE(fe.size() == 8 * 16);
  auto pe = propagate_embeddings(g, fe, 16, 2);
  REQUIRE(pe.size() == fe.size());
}
