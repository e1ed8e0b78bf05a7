// Resource limits (engine/train/memory_estimate.h): the estimates follow the real
// sizes, check_memory refuses with the estimate and what is available, and
// prepare_data / the Trainer refuse a job that does not fit before they
// allocate it (tested with an artificially small "available" value).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "engine/data/prepare.h"
#include "engine/sampling/batch.h"
#include "engine/train/memory_estimate.h"
#include "engine/data/synthetic.h"
#include "engine/train/trainer.h"
#include "test_data_util.h"
#include "train_test_configs.h"

using namespace ember;

namespace {

TrainConfig tiny_config() { return ember_test::tiny_train_config(); }

struct EnvVar {
  std::string name;
  EnvVar(const std::string& n, const std::string& v) : name(n) { ::setenv(n.c_str(), v.c_str(), 1); }
  ~EnvVar() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("memory: check_memory names the estimate and what is available", "[reliability][memory]") {
  MemoryEstimate e;
  e.add("graph", uint64_t(3) << 30);
  e.add("model", uint64_t(512) << 20, uint64_t(2) << 30);
  REQUIRE(e.host_bytes() == (uint64_t(3) << 30) + (uint64_t(512) << 20));
  REQUIRE(e.device_bytes() == uint64_t(2) << 30);
  REQUIRE(format_bytes(1536) == "2 KiB");
  REQUIRE(format_bytes(uint64_t(3) << 30) == "3.00 GiB");
  REQUIRE_NOTHROW(check_memory(e, uint64_t(8) << 30, uint64_t(8) << 30, "job"));
  REQUIRE_NOTHROW(check_memory(e, 0, 0, "job"));  // unknown: never refused
  REQUIRE_THROWS_WITH(check_memory(e, uint64_t(1) << 30, 0, "job"),
                      Catch::Contains("job: needs about 3.50 GiB host (graph 3.00 GiB, model 512 MiB)") &&
                          Catch::Contains("only 1.00 GiB of host memory is available"));
  REQUIRE_THROWS_WITH(check_memory(e, uint64_t(8) << 30, uint64_t(1) << 30, "job"),
                      Catch::Contains("2.00 GiB device") && Catch::Contains("only 1.00 GiB of device memory"));
  // Saturating sums: an absurd part does not wrap around to a small total.
  MemoryEstimate huge;
  huge.add("a", ~uint64_t(0));
  huge.add("b", 5);
  REQUIRE(huge.host_bytes() == ~uint64_t(0));
  REQUIRE_THROWS(check_memory(huge, uint64_t(1) << 40, 0, "absurd"));
}

TEST_CASE("memory: available host memory honours EMBER_MEMORY_LIMIT", "[reliability][memory]") {
  std::string src;
  const uint64_t sys = available_host_memory(&src);
  INFO("available " << format_bytes(sys) << " from " << src);
  REQUIRE(sys > (uint64_t(64) << 20));  // /proc/meminfo is readable here
  EnvVar lim("EMBER_MEMORY_LIMIT", "2m");
  REQUIRE(available_host_memory(&src) == uint64_t(2) << 20);
  REQUIRE(src == "EMBER_MEMORY_LIMIT=2m");
  // Without a GPU the device side is unknown (0) unless limited explicitly.
  EnvVar dlim("EMBER_DEVICE_MEMORY_LIMIT", "1.5G");
  REQUIRE(available_device_memory() <= (uint64_t(3) << 29));
}

TEST_CASE("memory: estimates follow the real graph sizes", "[reliability][memory]") {
  TrainConfig c = tiny_config();
  c.data.synthetic.num_users = 20000;
  const GraphSize want = expected_graph_size(c.data);
  const Graph g = generate_synthetic(c.data.synthetic, false).graph;
  const GraphSize got = graph_size(g);
  INFO("expected " << want.edges << " edges, " << want.feature_nnz << " nnz; got " << got.edges << ", " << got.feature_nnz);
  REQUIRE(want.nodes == got.nodes);
  REQUIRE(want.edges >= got.edges / 2);
  REQUIRE(want.edges <= got.edges * 2);
  REQUIRE(graph_bytes(want) >= graph_bytes(got) / 2);
  REQUIRE(graph_bytes(want) <= graph_bytes(got) * 2);
  const uint64_t load = estimate_graph_load(c.data).host_bytes();
  REQUIRE(load >= graph_bytes(got));
  REQUIRE(load <= graph_bytes(got) * 8);

  // An edge-list file: rows from the measured bytes per line.
  ember_test::TempDir dir("memest");
  {
    std::ofstream f(dir / "edges.txt");
    f << "# a comment\n";
    for (int64_t i = 0; i < 30000; ++i) f << (i * 7919) % 100000 << "\t" << (i * 104729) % 100000 << "\n";
  }
  DataConfig d;
  d.graph = dir / "edges.txt";
  const GraphSize fs = expected_graph_size(d);
  REQUIRE(fs.edges > 27000);
  REQUIRE(fs.edges < 33000);
  const uint64_t peak = estimate_graph_load(d).host_bytes();
  REQUIRE(peak >= 30000 * 16);  // at least the parsed int64 pairs
  REQUIRE(peak < uint64_t(64) << 20);

  // Training grows with the batch size and the graph, and has a device part
  // only on a GPU.
  GraphSize ts = got;
  const uint64_t base = estimate_training(c, ts).host_bytes();
  TrainConfig big_batch = c;
  big_batch.sampler.batch_size = 1024;
  REQUIRE(estimate_training(big_batch, ts).host_bytes() > base);
  GraphSize bigger = ts;
  bigger.nodes *= 10;
  bigger.edges *= 10;
  bigger.feature_nnz *= 10;
  const uint64_t runtime = uint64_t(96) << 20;  // the constant "runtime" part
  REQUIRE(estimate_training(c, bigger).host_bytes() - runtime > 5 * (base - runtime) / 2);
  REQUIRE(estimate_training(c, ts).device_bytes() == 0);
  TrainConfig gpu = c;
  gpu.device = "cuda";
  const MemoryEstimate ge = estimate_training(gpu, ts);
  REQUIRE(ge.device_bytes() > 0);
  REQUIRE(ge.host_bytes() < base);
  // A featureless graph trains on nodes + 16 structural columns: the input
  // projection and the MAE decoder grow with the node count.
  GraphSize featureless = ts;
  featureless.feature_cols = 0;
  featureless.feature_nnz = 0;
  REQUIRE(estimate_training(c, featureless).host_bytes() > base);
}

TEST_CASE("memory: prepare_data and the Trainer refuse jobs that do not fit", "[reliability][memory]") {
  TrainConfig c = tiny_config();
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  {
    EnvVar lim("EMBER_MEMORY_LIMIT", "64k");
    REQUIRE_THROWS_WITH(prepare_data(c.data, c.seed, "", false),
                        Catch::Contains("loading the graph 'synthetic': needs about") &&
                            Catch::Contains("only 64 KiB of host memory is available") &&
                            Catch::Contains("EMBER_MEMORY_LIMIT=64k"));
    REQUIRE_THROWS_WITH(Trainer(c, d.split.train, d.val, RunDir{""}),
                        Catch::Contains("training: needs about") && Catch::Contains("model, gradients, optimizer"));
    EnvVar off("EMBER_MEMORY_CHECK", "0");  // the escape hatch: a warning only
    REQUIRE_NOTHROW(Trainer(c, d.split.train, d.val, RunDir{""}));
  }
  // 10^9 synthetic users: refused from the config alone, before generating anything.
  TrainConfig huge = c;
  huge.data.synthetic.num_users = 1000000000;
  huge.data.synthetic.num_communities = 1000;
  if (available_host_memory() < (uint64_t(200) << 30))
    REQUIRE_THROWS_WITH(prepare_data(huge.data, huge.seed, "", false), Catch::Contains("needs about") && Catch::Contains("GiB host"));
  // A GPU job with too little device memory is refused in the Trainer.
  TrainConfig gpu = c;
  gpu.device = "cuda";
  EnvVar dlim("EMBER_DEVICE_MEMORY_LIMIT", "1k");
  REQUIRE_THROWS_WITH(Trainer(gpu, d.split.train, d.val, RunDir{""}), Catch::Contains("of device memory is available"));
}

// Regression (docs/reliability.md, finding 11): BatchBuilder used to append
// sampler.fanouts to SamplerConfig's default {15, 10}, so training sampled
// hops {15, 10, <configured>...}: subgraphs several times larger than the
// config says, and the memory estimate (which follows the config) low by that
// factor.
TEST_CASE("memory: a training batch respects the configured fanouts", "[reliability][memory]") {
  TrainConfig c = tiny_config();
  c.sampler.fanouts = {2};
  c.sampler.batch_size = 8;
  c.objectives.random_negatives = 0;
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  std::vector<int32_t> users;
  for (int64_t u = 0; u < d.split.train.num_nodes(); ++u)
    if (d.split.train.degree(u) > 0) users.push_back(static_cast<int32_t>(u));
  BatchBuilder bb(d.split.train, c, users);
  const TrainBatch b = bb.build(0, 0);
  INFO("subgraph of " << b.retrieval.num_nodes << " nodes for 16 seeds and one hop of fanout 2");
  CHECK(b.retrieval.num_nodes <= 16 * (1 + 2));
}
