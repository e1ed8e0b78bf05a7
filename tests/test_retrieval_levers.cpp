// The retrieval-quality levers: hard negatives in the batch, reciprocal-rank
// fusion, and the candidate generator serving expansion and the blend from
// the HNSW index the same way the exact evaluator measures them.
#include <catch2/catch.hpp>

#include <set>

#include "engine/data/prepare.h"
#include "engine/retrieval/baselines.h"
#include "engine/retrieval/candidates.h"
#include "engine/retrieval/expansion.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/sampling/batch.h"
#include "train_test_configs.h"

using namespace ember;

TEST_CASE("hard negatives: friends of friends that are not friends, masked consistently", "[retrieval][batch]") {
  TrainConfig c = ember_test::tiny_train_config();
  c.objectives.hard_negatives = 6;
  c.objectives.logq_correction = true;
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  const Graph& g = d.split.train;
  std::vector<int32_t> users;
  for (int64_t u = 0; u < g.num_nodes(); ++u)
    if (g.degree(u) > 0) users.push_back(static_cast<int32_t>(u));
  BatchBuilder builder(g, c, users);
  const TrainBatch b = builder.build(0, 1);
  const int64_t B = b.num_queries, R = c.objectives.random_negatives;
  const int64_t C = static_cast<int64_t>(b.candidates.size());
  REQUIRE(C > B + R);  // hard negatives were added
  REQUIRE(static_cast<int64_t>(b.log_q.size()) == C);
  std::set<int64_t> distinct(b.candidates.begin() + B + R, b.candidates.end());
  REQUIRE(static_cast<int64_t>(distinct.size()) == C - B - R);  // each hard negative once
  for (int64_t j = B + R; j < C; ++j) {
    const int32_t x = static_cast<int32_t>(b.global_ids[b.candidates[j]]);
    // A friend of a friend of some query, not that query's friend.
    bool fof_of_some_query = false;
    for (int64_t q = 0; q < B && !fof_of_some_query; ++q) {
      const int32_t u = static_cast<int32_t>(b.global_ids[q]);
      if (u == x || g.has_edge(u, x)) continue;
      for (int32_t v : g.neighbors_of(u))
        if (g.has_edge(v, x)) { fof_of_some_query = true; break; }
    }
    REQUIRE(fof_of_some_query);
  }
  // The mask: 0 exactly for the query itself, its positive again, or a training friend.
  for (int64_t q = 0; q < B; ++q) {
    const int32_t u = static_cast<int32_t>(b.global_ids[q]);
    const int32_t pos = static_cast<int32_t>(b.global_ids[b.candidates[q]]);
    for (int64_t j = 0; j < C; ++j) {
      if (j == q) continue;
      const int32_t x = static_cast<int32_t>(b.global_ids[b.candidates[j]]);
      const bool excluded = x == u || x == pos || g.has_edge(u, x);
      REQUIRE(b.mask[q * C + j] == (excluded ? 0 : 1));
    }
  }
  // Deterministic.
  REQUIRE(builder.build(0, 1).candidates == b.candidates);
}

TEST_CASE("reciprocal-rank fusion of two lists", "[retrieval][blend]") {
  Rankings a, b;
  a.queries = b.queries = {0};
  a.resize(1, 3);
  b.resize(1, 3);
  const int32_t la[3] = {5, 6, 7}, lb[3] = {7, 8, 5};
  std::copy(la, la + 3, a.ids.begin());
  std::copy(lb, lb + 3, b.ids.begin());
  // w = 0.5, k0 = 0: 5: 1/1 + 1/3, 7: 1/3 + 1/1 (tie -> smaller id 5 first), 6: 1/2, 8: 1/2.
  Rankings f = fuse_rankings(a, b, 0.5, 0.0, 4);
  REQUIRE(std::vector<int32_t>(f.row(0), f.row(0) + 4) == std::vector<int32_t>{5, 7, 6, 8});
  // w = 1: only the second list counts.
  f = fuse_rankings(a, b, 1.0, 60.0, 2);
  REQUIRE(std::vector<int32_t>(f.row(0), f.row(0) + 2) == std::vector<int32_t>{7, 8});
}

TEST_CASE("candidate generator: served from the index as measured exactly", "[retrieval][blend][hnsw]") {
  // Embeddings with community structure: the synthetic graph's features through a random projection.
  TrainConfig c = ember_test::small_train_config(1);
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  const int32_t dim = 16;
  const int64_t n = d.full.num_nodes();
  const std::vector<float> emb = feature_embeddings(d.full.features, dim, 3);
  const Graph& train = d.split.train;
  const Graph& excl = d.excluded("test");
  std::vector<int32_t> users = d.test.users();
  users.resize(std::min<size_t>(users.size(), 80));
  HnswIndex index;
  HnswConfig hc;
  hc.build_threads = 1;
  hc.ef = 400;
  index.build(emb.data(), n, dim, hc);
  for (const char* merge : {"mean", "softcount"}) {
    RetrievalConfig rc;
    rc.expansion.friends = 5;
    rc.expansion.merge = merge;
    rc.blend.mode = "rrf";
    rc.blend.depth = 50;
    CandidateGenerator exact(emb.data(), n, dim, train, excl, rc);
    CandidateGenerator served(emb.data(), n, dim, train, excl, rc, &index);
    const Rankings e = exact.from_embeddings(users, 20), s = served.from_embeddings(users, 20);
    const Rankings be = exact.generate(users, 20), bs = served.generate(users, 20);
    INFO(merge);
    REQUIRE(rankings_recall(s, e) > 0.9);
    REQUIRE(rankings_recall(bs, be) > 0.9);
    // Never the user or a known friend.
    for (size_t q = 0; q < users.size(); ++q)
      for (int j = 0; j < 20; ++j) {
        const int32_t x = bs.row(q)[j];
        if (x < 0) continue;
        REQUIRE(x != users[q]);
        REQUIRE_FALSE(excl.has_edge(users[q], x));
      }
    // The blend takes candidates from both sources.
    const Rankings fof = exact.from_fof(users, 50);
    int64_t from_fof = 0, from_emb = 0;
    for (size_t q = 0; q < users.size(); ++q) {
      const std::set<int32_t> fs(fof.row(q), fof.row(q) + 50);
      Rankings ed = exact.from_embeddings({users[q]}, 50);
      const std::set<int32_t> es(ed.row(0), ed.row(0) + 50);
      for (int j = 0; j < 20; ++j) {
        from_fof += fs.count(be.row(q)[j]);
        from_emb += es.count(be.row(q)[j]);
      }
    }
    REQUIRE(from_fof > 0);
    REQUIRE(from_emb > 0);
  }
  // Expansion "mean" exactly equals the single search with the expanded vector.
  RetrievalConfig rc;
  rc.expansion.friends = 3;
  CandidateGenerator exact(emb.data(), n, dim, train, excl, rc);
  const Rankings a = exact.from_embeddings(users, 10);
  const std::vector<float> unit = l2_normalized(emb.data(), n, dim);
  const std::vector<float> qv = expanded_query_vectors(unit.data(), n, dim, train, users, rc.expansion);
  TopKConfig tk;
  tk.k = 10;
  const Rankings b = exact_topk(emb.data(), n, dim, users, &excl, tk, qv.data());
  REQUIRE(rankings_recall(a, b) > 0.99);
}
