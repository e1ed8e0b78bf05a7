// Synthetic social graph generator.
#include <omp.h>

#include <catch2/catch.hpp>
#include <set>

#include "engine/data/synthetic.h"

using namespace ember;

namespace {
SyntheticConfig small(uint64_t seed = 3) {
  SyntheticConfig c;
  c.num_users = 6000;
  c.num_communities = 30;
  c.avg_degree = 16;
  c.feature_dim = 1024;
  c.features_per_user = 10;
  c.cold_start_fraction = 0.05;
  c.seed = seed;
  return c;
}
}  // namespace

TEST_CASE("synthetic graph is valid, seeded and identical for any thread count", "[data]") {
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  SyntheticGraph a = generate_synthetic(small(), false);
  omp_set_num_threads(std::max(2, saved));
  SyntheticGraph b = generate_synthetic(small(), false);
  omp_set_num_threads(saved);
  a.graph.validate();
  REQUIRE(a.graph.offsets == b.graph.offsets);
  REQUIRE(a.graph.neighbors == b.graph.neighbors);
  REQUIRE(a.graph.features.row_ptr == b.graph.features.row_ptr);
  REQUIRE(a.graph.features.col == b.graph.features.col);
  REQUIRE(a.community == b.community);
  SyntheticGraph c = generate_synthetic(small(4), false);
  REQUIRE(c.graph.neighbors != a.graph.neighbors);
}

TEST_CASE("synthetic graph has the configured structure", "[data]") {
  SyntheticGraph s = generate_synthetic(small(), false);
  const Graph& g = s.graph;
  const int64_t n = g.num_nodes();
  int64_t cold = 0, warm = 0, warm_deg = 0, in_comm = 0, maxdeg = 0;
  for (int64_t u = 0; u < n; ++u) {
    if (s.cold[u]) {
      ++cold;
      REQUIRE(g.degree(u) >= 1);
      REQUIRE(g.degree(u) <= 2);
    } else {
      ++warm;
      warm_deg += g.degree(u);
    }
    maxdeg = std::max(maxdeg, g.degree(u));
    for (int32_t v : g.neighbors_of(u)) in_comm += s.community[u] == s.community[v];
    REQUIRE(g.features.row_nnz(u) >= 1);
  }
  double mean = static_cast<double>(warm_deg) / static_cast<double>(warm);
  INFO("cold " << cold << " mean warm degree " << mean << " max degree " << maxdeg);
  REQUIRE(cold > 200);
  REQUIRE(cold < 400);
  REQUIRE(mean > 16 * 0.7);
  REQUIRE(mean < 16 * 1.3);
  REQUIRE(maxdeg > 5 * 16);  // heavy tail
  double homophily = static_cast<double>(in_comm) / static_cast<double>(g.neighbors.size());
  REQUIRE(homophily > 0.7);
  // Same-community users share more features than random pairs.
  auto overlap = [&](int64_t a, int64_t b) {
    std::set<int32_t> fa(g.features.col.begin() + g.features.row_ptr[a], g.features.col.begin() + g.features.row_ptr[a + 1]);
    int k = 0;
    for (int64_t e = g.features.row_ptr[b]; e < g.features.row_ptr[b + 1]; ++e) k += fa.count(g.features.col[e]);
    return k;
  };
  double same = 0, diff = 0;
  int ns = 0, nd = 0;
  for (int64_t u = 0; u + 1 < n; u += 3) {
    for (int64_t v = u + 1; v < std::min(n, u + 200); v += 7) {
      if (s.community[u] == s.community[v]) { same += overlap(u, v); ++ns; }
      else { diff += overlap(u, v); ++nd; }
    }
  }
  REQUIRE(ns > 100);
  REQUIRE(same / ns > 2 * (diff / nd));
  REQUIRE(g.labels.size() == static_cast<size_t>(n));
}

TEST_CASE("synthetic config errors are clear", "[data]") {
  SyntheticConfig c = small();
  c.homophily = 1.5;
  REQUIRE_THROWS_WITH(generate_synthetic(c, false), Catch::Contains("homophily = 1.5"));
  c = small();
  c.power_law_exponent = 1.5;
  REQUIRE_THROWS_WITH(generate_synthetic(c, false), Catch::Contains("power_law_exponent"));
  c = small();
  c.num_users = 1;
  REQUIRE_THROWS_WITH(generate_synthetic(c, false), Catch::Contains("num_users"));
}
