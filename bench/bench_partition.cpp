// What a METIS partition of the query users buys a data-parallel job
// (distributed.partition, docs/distributed.md): the overlap of one rank's
// sampled subgraphs. For R ranks (simulated in one process: the batches are
// pure functions of graph, config, rank, epoch and index), each rank's first
// `steps` batches are built with the default sharding (slices of global
// batches over all users) and with METIS parts; reported per setting: the
// distinct nodes (= feature rows) a rank touched over its steps divided by the
// sum of its subgraphs' sizes (lower = more reuse: rows warm in cache, fewer
// distinct rows fetched), those distinct nodes as a share of all users (the
// rank's working set), the mean subgraph size, the edge cut and the
// partition's time. --steps 0 covers each rank's whole epoch.
//
//   bench_partition --users 200000 --communities 2000 --batch 1024 --fanouts 10,5 --steps 20 --ranks 2,4,8
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "engine/data/partition.h"
#include "engine/data/prepare.h"
#include "engine/sampling/batch.h"

using namespace ember;

namespace {
std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) out.push_back(std::stoll(x));
  return out;
}

struct Overlap {
  double unique_fraction = 0;  // distinct nodes / node visits, mean over ranks
  double mean_subgraph = 0;
  double share_of_users = 0;  // distinct nodes / all users, mean over ranks
};

Overlap measure(const Graph& g, const TrainConfig& c, const std::vector<int32_t>& users, BatchShard shard_base,
                int ranks, int64_t steps) {
  Overlap o;
  for (int r = 0; r < ranks; ++r) {
    BatchShard sh = shard_base;
    sh.rank = r;
    sh.ranks = ranks;
    BatchBuilder b(g, c, users, sh);
    const int64_t n = steps > 0 ? std::min(steps, b.batches_per_epoch()) : b.batches_per_epoch();
    std::unordered_set<int64_t> seen;
    int64_t visits = 0;
    for (int64_t i = 0; i < n; ++i) {
      const TrainBatch tb = b.build(0, i);
      visits += static_cast<int64_t>(tb.global_ids.size());
      seen.insert(tb.global_ids.begin(), tb.global_ids.end());
    }
    o.unique_fraction += static_cast<double>(seen.size()) / static_cast<double>(visits) / ranks;
    o.mean_subgraph += static_cast<double>(visits) / static_cast<double>(n) / ranks;
    o.share_of_users += static_cast<double>(seen.size()) / static_cast<double>(g.num_nodes()) / ranks;
  }
  return o;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Subgraph overlap per rank: default sharding vs METIS parts"};
  int64_t users = 200000, communities = 2000, batch = 1024, steps = 20, negatives = -1;
  std::string fanouts = "10,5", ranks_s = "2,4,8";
  app.add_option("--users", users, "synthetic users")->check(CLI::Range(int64_t(100), int64_t(1) << 31));
  app.add_option("--communities", communities, "synthetic communities");
  app.add_option("--batch", batch, "global batch (queries per step over all ranks)")->check(CLI::PositiveNumber);
  app.add_option("--fanouts", fanouts, "neighbours per hop");
  app.add_option("--steps", steps, "batches per rank (0 = the whole epoch)")->check(CLI::NonNegativeNumber);
  app.add_option("--ranks", ranks_s, "rank counts, e.g. 2,4,8");
  app.add_option("--negatives", negatives, "objectives.random_negatives (uniform over all users; default: the config's)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    EMBER_CHECK(metis_available(), "bench_partition: built without METIS (libmetis-dev)");
    TrainConfig c;
    c.data.synthetic.num_users = users;
    c.data.synthetic.num_communities = static_cast<int32_t>(std::min(communities, users));
    c.sampler.batch_size = batch;
    c.sampler.fanouts = parse_list(fanouts);
    c.objectives.beta = c.objectives.gamma = 0.0;
    if (negatives >= 0) c.objectives.random_negatives = negatives;
    c.validate();
    const PreparedData d = prepare_data(c.data, c.seed, "", false);
    const Graph& g = d.split.train;
    std::vector<int32_t> qs;
    for (int64_t u = 0; u < g.num_nodes(); ++u)
      if (g.degree(u) > 0) qs.push_back(static_cast<int32_t>(u));
    std::printf("work: synthetic graph of %lld users, %lld training edges; global batch %lld, fanouts %s, first %lld "
                "batches of each rank (0 = the whole epoch 0), %lld uniform random negatives per batch; CPU, one thread\n",
                (long long)users, (long long)g.num_edges(), (long long)batch, fanouts.c_str(), (long long)steps,
                (long long)c.objectives.random_negatives);
    std::printf("%6s %10s %16s %16s %16s %14s %10s %14s %10s\n", "ranks", "sharding", "distinct/visits",
                "distinct/users", "mean subgraph", "edge cut", "cut share", "parts", "METIS s");
    for (int64_t R : parse_list(ranks_s)) {
      const Overlap plain = measure(g, c, qs, BatchShard{}, static_cast<int>(R), steps);
      const auto t0 = std::chrono::steady_clock::now();
      auto part = std::make_shared<std::vector<int32_t>>(partition_graph(g, static_cast<int>(R), c.seed));
      const double metis_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      BatchShard with;
      with.partition = part;
      const Overlap metis = measure(g, c, qs, with, static_cast<int>(R), steps);
      const int64_t cut = edge_cut(g, *part);
      const std::vector<int64_t> sizes = part_sizes(*part, static_cast<int>(R));
      char parts[64];
      std::snprintf(parts, sizeof parts, "%lld..%lld", (long long)*std::min_element(sizes.begin(), sizes.end()),
                    (long long)*std::max_element(sizes.begin(), sizes.end()));
      std::printf("%6lld %10s %16.3f %16.3f %16.0f %14s %10s %14s %10s\n", (long long)R, "global",
                  plain.unique_fraction, plain.share_of_users, plain.mean_subgraph, "-", "-", "-", "-");
      std::printf("%6lld %10s %16.3f %16.3f %16.0f %14lld %9.1f%% %14s %10.2f\n", (long long)R, "METIS",
                  metis.unique_fraction, metis.share_of_users, metis.mean_subgraph, (long long)cut,
                  100.0 * cut / g.num_edges(), parts, metis_s);
      nlohmann::json j{{"bench", "partition"}, {"users", users}, {"batch", batch}, {"fanouts", fanouts},
                       {"steps", steps}, {"ranks", R}, {"global_unique_fraction", plain.unique_fraction},
                       {"metis_unique_fraction", metis.unique_fraction},
                       {"global_share_of_users", plain.share_of_users}, {"metis_share_of_users", metis.share_of_users}, {"edge_cut", cut}, {"metis_s", metis_s}};
      std::printf("%s\n", j.dump().c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_partition: error: %s\n", e.what());
    return 1;
  }
}
