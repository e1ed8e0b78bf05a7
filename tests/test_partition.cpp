// METIS partitions of the training graph (engine/data/partition.h) and the
// partitioned batches of a data-parallel rank (distributed.partition "metis").
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "engine/data/partition.h"
#include "engine/data/prepare.h"
#include "engine/io/binary_io.h"
#include "engine/sampling/batch.h"
#include "test_data_util.h"
#include "train_test_configs.h"

using namespace ember;

namespace {
struct Prepared {
  TrainConfig c;
  PreparedData d;
  std::vector<int32_t> users;
};
Prepared prepared(int64_t users = 1500) {
  Prepared p{ember_test::tiny_train_config(), {}, {}};
  p.c.data.synthetic.num_users = users;
  p.c.data.synthetic.num_communities = 15;
  p.c.sampler.batch_size = 64;
  p.d = prepare_data(p.c.data, p.c.seed, "", false);
  for (int64_t u = 0; u < p.d.split.train.num_nodes(); ++u)
    if (p.d.split.train.degree(u) > 0) p.users.push_back(static_cast<int32_t>(u));
  return p;
}
}  // namespace

TEST_CASE("METIS partition: balanced parts, a smaller edge cut than a random assignment, stored and reused",
          "[data][partition]") {
  if (!metis_available()) {
    WARN("skipped: ember was built without METIS (libmetis-dev)");
    return;
  }
  const Prepared p = prepared();
  const Graph& g = p.d.split.train;
  const std::vector<int32_t> part = partition_graph(g, 4, 1);
  REQUIRE(static_cast<int64_t>(part.size()) == g.num_nodes());
  const std::vector<int64_t> sizes = part_sizes(part, 4);
  for (int64_t s : sizes) REQUIRE(std::abs(s - g.num_nodes() / 4) <= g.num_nodes() / 4 / 10);  // within 10 %
  std::vector<int32_t> random(part.size());
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<int32_t>((i * 2654435761u) % 4);
  const int64_t cut = edge_cut(g, part), random_cut = edge_cut(g, random);
  INFO("METIS cut " << cut << ", random cut " << random_cut);
  REQUIRE(cut < random_cut / 2);
  // Stored, then loaded; another part count or graph is recomputed.
  ember_test::TempDir dir("partition");
  std::string note;
  REQUIRE(load_or_compute_partition(dir / "p.part", g, 4, 1, &note) == part);
  REQUIRE_THAT(note, Catch::Contains("computed and saved"));
  REQUIRE(load_or_compute_partition(dir / "p.part", g, 4, 1, &note) == part);
  REQUIRE_THAT(note, Catch::Contains("loaded"));
  load_or_compute_partition(dir / "p.part", g, 3, 1, &note);
  REQUIRE_THAT(note, Catch::Contains("another graph or part count"));
  // A corrupt file is not trusted.
  std::vector<uint8_t> bytes = read_file_bytes(dir / "p.part");
  bytes[bytes.size() - 3] ^= 0x40;
  write_file_atomic(dir / "p.part", bytes);
  REQUIRE(load_or_compute_partition(dir / "p.part", g, 3, 1, &note).size() == part.size());
  REQUIRE_THAT(note, Catch::Contains("not used"));
}

TEST_CASE("partitioned batches: each rank's queries come from its part, no user twice per epoch",
          "[sampling][partition]") {
  if (!metis_available()) {
    WARN("skipped: ember was built without METIS (libmetis-dev)");
    return;
  }
  const Prepared p = prepared();
  const int R = 3;
  auto part = std::make_shared<std::vector<int32_t>>(partition_graph(p.d.split.train, R, 1));
  std::set<int32_t> seen;
  int64_t steps = -1;
  for (int r = 0; r < R; ++r) {
    BatchShard sh{r, R, false, part};
    BatchBuilder b(p.d.split.train, p.c, p.users, sh);
    if (steps < 0) steps = b.batches_per_epoch();
    REQUIRE(b.batches_per_epoch() == steps);  // every rank takes the same number of steps
    for (int64_t i = 0; i < steps; ++i) {
      const TrainBatch tb = b.build(0, i);
      REQUIRE(tb.num_queries == p.c.sampler.batch_size / R);
      REQUIRE(tb.global_queries == tb.num_queries * R);
      for (int32_t q = 0; q < tb.num_queries; ++q) {
        const int64_t u = tb.global_ids[q];
        REQUIRE((*part)[u] == r);
        REQUIRE(seen.insert(static_cast<int32_t>(u)).second);
      }
    }
  }
  // The epoch covers most users (a part's surplus over the smallest part waits).
  REQUIRE(seen.size() >= p.users.size() * 8 / 10);
  // Without a partition the ranks' slices of a global batch are disjoint and cover it.
  std::set<int64_t> slice_union;
  int64_t total = 0;
  for (int r = 0; r < R; ++r) {
    BatchBuilder b(p.d.split.train, p.c, p.users, BatchShard{r, R, false, nullptr});
    const TrainBatch tb = b.build(0, 0);
    total += tb.num_queries;
    REQUIRE(tb.global_queries == p.c.sampler.batch_size);
    for (int32_t q = 0; q < tb.num_queries; ++q) slice_union.insert(tb.global_ids[q]);
  }
  REQUIRE(total == p.c.sampler.batch_size);
  REQUIRE(static_cast<int64_t>(slice_union.size()) == total);
}

TEST_CASE("distributed config keys are validated", "[config][partition]") {
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"distributed": {"batches": "all"}})"),
                      Catch::Contains("distributed.batches"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"distributed": {"partition": "random"}})"),
                      Catch::Contains("distributed.partition"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"distributed": {"batches": "replicate", "partition": "metis"}})"),
                      Catch::Contains("metis needs distributed.batches shard"));
}
