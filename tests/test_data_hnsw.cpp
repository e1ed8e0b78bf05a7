// HNSW index: recall against brute force, exclusions, save/load, bad files.
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "engine/io/binary_io.h"
#include "engine/retrieval/hnsw_index.h"
#include "test_data_util.h"

using namespace ember;

namespace {
// n Gaussian vectors of dimension d, 2n random friendships, every step-th
// user as a query, and the queries' exact top-K (friends excluded).
struct SearchCase {
  int64_t n, d;
  std::vector<float> x;
  Graph friends;
  std::vector<int32_t> queries;
  Rankings exact;
};
SearchCase search_case(int64_t n, int64_t d, uint32_t seed, int32_t step, int32_t K) {
  SearchCase c{n, d, std::vector<float>(n * d), Graph{}, {}, Rankings{}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> N01;
  for (auto& v : c.x) v = N01(rng);
  std::vector<int32_t> s, t;
  for (int64_t i = 0; i < 2 * n; ++i) { s.push_back(rng() % n); t.push_back(rng() % n); }
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  c.friends = build_graph_dense(n, s, t, quiet);
  for (int32_t q = 0; q < n; q += step) c.queries.push_back(q);
  TopKConfig tk;
  tk.k = K;
  c.exact = exact_topk(c.x.data(), n, d, c.queries, &c.friends, tk);
  return c;
}
}  // namespace

TEST_CASE("HNSW recall >= 0.95 vs exact top-K, also after save/load", "[data]") {
  const int64_t n = 4000, d = 32;
  const int32_t K = 10;
  const SearchCase c = search_case(n, d, 11, 10, K);
  const std::vector<float>& x = c.x;
  const Graph& friends = c.friends;
  const std::vector<int32_t>& queries = c.queries;
  const Rankings& exact = c.exact;

  HnswConfig cfg;
  cfg.M = 16;
  cfg.ef_construction = 100;
  cfg.ef = 64;
  HnswIndex index;
  index.build(x.data(), n, d, cfg);
  REQUIRE(index.size() == n);
  Rankings approx = index.search_users(queries, K, &friends);
  double recall = rankings_recall(approx, exact);
  INFO("recall " << recall);
  REQUIRE(recall >= 0.95);
  for (size_t q = 0; q < queries.size(); ++q)
    for (int j = 0; j < K; ++j) {
      int32_t id = approx.row(q)[j];
      REQUIRE(id >= 0);
      REQUIRE(id != queries[q]);
      REQUIRE_FALSE(friends.has_edge(queries[q], id));
    }
  // ef below k is raised to k (search still returns k)
  index.set_ef(2);
  Rankings low = index.search_users(queries, K, &friends);
  REQUIRE(low.row(0)[K - 1] >= 0);
  index.set_ef(64);

  ember_test::TempDir dir("hnsw");
  std::string p = dir / "index.hnsw";
  index.save(p);
  HnswIndex loaded = HnswIndex::load(p, d);
  REQUIRE(loaded.size() == n);
  REQUIRE(loaded.dim() == d);
  REQUIRE(loaded.config().M == 16);
  Rankings again = loaded.search_users(queries, K, &friends);
  REQUIRE(rankings_recall(again, exact) >= 0.95);
  REQUIRE(again.ids == approx.ids);

  REQUIRE_THROWS_WITH(HnswIndex::load(p, 64), Catch::Contains("dimension 32, expected 64"));
  auto bytes = read_file_bytes(p);
  auto bad = bytes;
  bad[bad.size() / 2] ^= 0x20;
  write_file_atomic(p, bad);
  REQUIRE_THROWS_WITH(HnswIndex::load(p), Catch::Contains("checksum"));
  write_file_atomic(p, std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100));
  REQUIRE_THROWS_WITH(HnswIndex::load(p), Catch::Contains("truncated"));
  REQUIRE_THROWS_WITH(HnswIndex::load(dir / "missing.hnsw"), Catch::Contains("missing.hnsw"));
  HnswIndex empty;
  REQUIRE_THROWS_WITH(empty.search_users({0}, 1, nullptr), Catch::Contains("empty index"));
}

// Shards (docs/distributed.md): S graphs over contiguous row blocks, the
// per-shard top-k merged by score; recall against exact search, after save +
// load too, and a shard built elsewhere (set_shard_bytes) answers the same.
TEST_CASE("HNSW shards: merged top-K recall >= 0.95 vs exact, after save/load and shard transfer", "[data]") {
  const int64_t n = 3000, d = 24;
  const int32_t K = 10;
  const SearchCase c = search_case(n, d, 5, 7, K);
  const std::vector<float>& x = c.x;
  const Graph& friends = c.friends;
  const std::vector<int32_t>& queries = c.queries;
  const Rankings& exact = c.exact;
  HnswConfig cfg;
  cfg.ef_construction = 100;
  cfg.ef = 64;
  cfg.shards = 3;
  HnswIndex index;
  index.build(x.data(), n, d, cfg);
  REQUIRE(index.shards() == 3);
  const Rankings approx = index.search_users(queries, K, &friends);
  const double recall = rankings_recall(approx, exact);
  INFO("merged recall " << recall);
  REQUIRE(recall >= 0.95);
  // Every shard contributes: the answers come from more than one row block.
  std::set<int64_t> blocks;
  for (int32_t id : approx.ids)
    if (id >= 0) blocks.insert(id * 3 / n);
  REQUIRE(blocks.size() == 3);
  ember_test::TempDir dir("hnsw_shards");
  index.save(dir / "s.hnsw");
  const HnswIndex loaded = HnswIndex::load(dir / "s.hnsw", d);
  REQUIRE(loaded.shards() == 3);
  REQUIRE(loaded.search_users(queries, K, &friends).ids == approx.ids);
  // A build split over ranks: shard 1 built elsewhere and handed over.
  HnswIndex part, other;
  part.build(x.data(), n, d, cfg, {0, 2});
  REQUIRE_THROWS_WITH(part.search_users(queries, K, &friends), Catch::Contains("was never built"));
  other.build(x.data(), n, d, cfg, {1});
  part.set_shard_bytes(1, other.shard_bytes(1));
  REQUIRE(part.search_users(queries, K, &friends).ids == approx.ids);
  REQUIRE_THROWS_WITH(part.set_shard_bytes(0, other.shard_bytes(1)), Catch::Contains("label"));
}
