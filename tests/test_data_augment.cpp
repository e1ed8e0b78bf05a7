// Augmentations: rates, seeding, purity.
#include <catch2/catch.hpp>
#include <set>

#include "engine/sampling/augment.h"
#include "engine/data/synthetic.h"

using namespace ember;

TEST_CASE("edge drop: rate, both directions together, seeded", "[data]") {
  SyntheticConfig c;
  c.num_users = 3000;
  c.num_communities = 10;
  c.feature_dim = 256;
  SyntheticGraph sg = generate_synthetic(c, false);
  LoaderConfig lc;
  std::vector<int32_t> q;
  for (int32_t u = 0; u < 300; ++u) q.push_back(u);
  NeighborSampler sampler(sg.graph, lc.sampler);
  Subgraph s = sampler.sample(q, 0);
  s.features = subgraph_features(sg.graph.features, s);
  Subgraph d = drop_edges(s, 0.3, 5);
  double kept = static_cast<double>(d.num_edges()) / static_cast<double>(s.num_edges());
  REQUIRE(std::abs(kept - 0.7) < 0.03);
  std::set<std::pair<int32_t, int32_t>> es;
  for (int64_t e = 0; e < d.num_edges(); ++e) es.insert({d.edge_src[e], d.edge_dst[e]});
  for (auto& p : es) REQUIRE(es.count({p.second, p.first}) == 1);
  REQUIRE(drop_edges(s, 0.3, 5).edge_src == d.edge_src);
  REQUIRE(drop_edges(s, 0.3, 6).edge_src != d.edge_src);
  REQUIRE(drop_edges(s, 0.0, 5).edge_src == s.edge_src);
  REQUIRE(drop_edges(s, 1.0, 5).num_edges() == 0);
  REQUIRE(d.global_ids == s.global_ids);
  REQUIRE_THROWS_WITH(drop_edges(s, 1.5, 5), Catch::Contains("rate 1.5"));

  std::vector<uint8_t> cols;
  SparseFeatures f = drop_feature_columns(s.features, 0.25, 9, &cols);
  f.validate();
  int64_t dropped_cols = 0;
  for (uint8_t x : cols) dropped_cols += x;
  REQUIRE(std::abs(dropped_cols / 256.0 - 0.25) < 0.08);
  for (int32_t col : f.col) REQUIRE(cols[col] == 0);
  REQUIRE(f.num_rows == s.features.num_rows);
  REQUIRE(drop_feature_columns(s.features, 0.25, 9).col == f.col);

  MaskedFeatures all = mask_query_features(s.features, s.num_queries, 1.0, 1);
  REQUIRE(all.masked_rows.size() == static_cast<size_t>(s.num_queries));
  for (int32_t r = 0; r < s.num_queries; ++r) REQUIRE(all.features.row_nnz(r) == 0);
  for (int64_t r = s.num_queries; r < s.num_nodes(); ++r) REQUIRE(all.features.row_nnz(r) == s.features.row_nnz(r));
  MaskedFeatures half = mask_query_features(s.features, s.num_queries, 0.5, 1);
  REQUIRE(std::abs(half.masked_rows.size() / 300.0 - 0.5) < 0.1);
  REQUIRE(mask_query_features(s.features, s.num_queries, 0.5, 1).masked_rows == half.masked_rows);
  REQUIRE(mask_query_features(s.features, s.num_queries, 0.5, 2).masked_rows != half.masked_rows);
}
