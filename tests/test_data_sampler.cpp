// k-hop sampler and the prefetching loader.
#include <omp.h>

#include <catch2/catch.hpp>
#include <set>

#include "engine/data/split.h"
#include "engine/sampling/sampler.h"
#include "engine/data/synthetic.h"

using namespace ember;

namespace {
SyntheticGraph make_graph() {
  SyntheticConfig c;
  c.num_users = 5000;
  c.num_communities = 25;
  c.avg_degree = 20;
  c.feature_dim = 512;
  c.seed = 21;
  return generate_synthetic(c, false);
}
bool same(const Subgraph& a, const Subgraph& b) {
  return a.global_ids == b.global_ids && a.num_queries == b.num_queries && a.edge_src == b.edge_src &&
         a.edge_dst == b.edge_dst && a.batch_index == b.batch_index && a.features.col == b.features.col;
}
}  // namespace

TEST_CASE("sampler: fanout respected, relabelling, full neighbourhoods", "[data]") {
  SyntheticGraph sg = make_graph();
  const Graph& g = sg.graph;
  // Queries: an independent set, so 1-hop edges at a query come only from its own expansion.
  std::vector<int32_t> queries;
  std::vector<uint8_t> blocked(static_cast<size_t>(g.num_nodes()), 0);
  for (int32_t u = 0; u < g.num_nodes() && queries.size() < 200; ++u) {
    if (blocked[u]) continue;
    queries.push_back(u);
    blocked[u] = 1;
    for (int32_t v : g.neighbors_of(u)) blocked[v] = 1;
  }
  for (int32_t fan : {3, 10, -1}) {
    SamplerConfig sc;
    sc.fanouts = {fan};
    sc.seed = 4;
    NeighborSampler sampler(g, sc);
    Subgraph s = sampler.sample(queries, 0);
    REQUIRE(s.num_queries == static_cast<int32_t>(queries.size()));
    for (size_t i = 0; i < queries.size(); ++i) REQUIRE(s.global_ids[i] == queries[i]);
    std::vector<int64_t> indeg(static_cast<size_t>(s.num_nodes()), 0);
    for (int64_t e = 0; e < s.num_edges(); ++e) indeg[s.edge_dst[e]]++;
    for (size_t i = 0; i < queries.size(); ++i) {
      int64_t want = fan < 0 ? g.degree(queries[i]) : std::min<int64_t>(fan, g.degree(queries[i]));
      REQUIRE(indeg[i] == want);
    }
  }
  SamplerConfig sc;
  sc.fanouts = {15, 10};
  NeighborSampler sampler(g, sc);
  std::vector<int32_t> q2(queries.begin(), queries.begin() + 64);
  Subgraph s = sampler.sample(q2, 3);
  REQUIRE(s.num_nodes() <= 64 * (1 + 15 + 150));
  std::set<int64_t> ids(s.global_ids.begin(), s.global_ids.end());
  REQUIRE(ids.size() == s.global_ids.size());  // each node once
  // edges sorted by (dst, src), both directions present, no duplicates
  std::set<std::pair<int32_t, int32_t>> es;
  for (int64_t e = 0; e < s.num_edges(); ++e) {
    REQUIRE(es.insert({s.edge_src[e], s.edge_dst[e]}).second);
    if (e > 0) REQUIRE(std::make_pair(s.edge_dst[e - 1], s.edge_src[e - 1]) < std::make_pair(s.edge_dst[e], s.edge_src[e]));
  }
  for (auto& p : es) REQUIRE(es.count({p.second, p.first}) == 1);
  SparseFeatures f = subgraph_features(g.features, s);
  REQUIRE(f.num_rows == s.num_nodes());
  REQUIRE(f.row_nnz(5) == g.features.row_nnz(s.global_ids[5]));
  REQUIRE_THROWS_WITH(sampler.sample(std::vector<int32_t>{1, 1}, 0), Catch::Contains("appears twice"));
  REQUIRE_THROWS_WITH(sampler.sample(std::vector<int32_t>{-1}, 0), Catch::Contains("out of range"));
  Subgraph after = sampler.sample(q2, 3);  // scratch map was reset after the errors
  REQUIRE(same(after, s));
}

TEST_CASE("sampler: only training edges, never held-out ones", "[data]") {
  SyntheticGraph sg = make_graph();
  SplitConfig cfg;
  cfg.val_fraction = 0.1;
  cfg.test_fraction = 0.2;
  cfg.cold_user_fraction = 0.05;
  Split split = make_split(sg.graph, cfg);
  std::set<std::pair<int64_t, int64_t>> held;
  for (const auto* v : {&split.val, &split.test})
    for (const Edge& e : *v) { held.insert({e.u, e.v}); held.insert({e.v, e.u}); }
  HeldOut t = make_heldout(sg.graph.num_nodes(), split.test);
  std::vector<int32_t> queries = t.users();
  LoaderConfig lc;
  lc.batch_size = 256;
  lc.sampler.fanouts = {15, 10};
  SubgraphLoader loader(split.train, queries, lc);
  Subgraph s;
  int64_t batches = 0, edges = 0;
  while (loader.next(s)) {
    ++batches;
    for (int64_t e = 0; e < s.num_edges(); ++e) {
      int64_t a = s.global_ids[s.edge_src[e]], b = s.global_ids[s.edge_dst[e]];
      REQUIRE(split.train.has_edge(a, b));
      REQUIRE(held.count({a, b}) == 0);
      ++edges;
    }
  }
  REQUIRE(batches == loader.batches_per_epoch());
  REQUIRE(edges > 0);
}

TEST_CASE("loader: identical batches for any thread count, clean shutdown, errors rethrown", "[data]") {
  SyntheticGraph sg = make_graph();
  const Graph& g = sg.graph;
  std::vector<int32_t> users;
  for (int32_t u = 0; u < 3000; ++u) users.push_back(u);
  LoaderConfig lc;
  lc.batch_size = 200;
  lc.num_epochs = 2;
  lc.sampler.seed = 77;
  auto collect = [&](int threads, int prefetch) {
    LoaderConfig c = lc;
    c.num_threads = threads;
    c.prefetch = prefetch;
    SubgraphLoader l(g, users, c);
    std::vector<Subgraph> out;
    Subgraph s;
    while (l.next(s)) out.push_back(std::move(s));
    return out;
  };
  auto a = collect(1, 1), b = collect(3, 5);
  REQUIRE(a.size() == 30);
  REQUIRE(b.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].batch_index == i);
    REQUIRE(same(a[i], b[i]));
  }
  // Epochs are shuffled differently; every user appears once per epoch.
  std::multiset<int64_t> seen;
  for (size_t i = 0; i < 15; ++i)
    for (int32_t q = 0; q < a[i].num_queries; ++q) seen.insert(a[i].global_ids[q]);
  REQUIRE(seen.size() == users.size());
  REQUIRE(std::set<int64_t>(seen.begin(), seen.end()).size() == users.size());
  REQUIRE(a[0].global_ids[0] != a[15].global_ids[0]);
  {
    LoaderConfig endless = lc;
    endless.num_epochs = -1;
    SubgraphLoader l(g, users, endless);
    Subgraph s;
    for (int i = 0; i < 3; ++i) REQUIRE(l.next(s));
  }  // destructor stops producers that are blocked on a full queue
  // A producer exception reaches the consumer.
  Graph broken = g;
  broken.features.num_rows = 10;  // rows beyond 10 now fail to slice
  broken.features.row_ptr.resize(11);
  SubgraphLoader bad(broken, users, lc);
  Subgraph s;
  REQUIRE_THROWS_WITH(bad.next(s), Catch::Contains("slice_rows"));
}
