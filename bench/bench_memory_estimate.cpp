// Memory-estimate calibration: one training step plus one validation pass on
// a synthetic graph, the process's measured peak RSS and the engine's tensor
// peak against estimate_training() (engine/train/memory_estimate.h). Peak RSS is per
// process, so run one configuration per invocation:
//
//   build/bench/bench_memory_estimate --users 30000 --objectives all
//
// Prints one table row (docs/reliability.md, "Memory limits").
//
// --paper-scale: no training; the estimate per rank of a data-parallel job on
// a graph of the given size (docs/distributed.md, "Memory per rank"):
//   build/bench/bench_memory_estimate --paper-scale --nodes 100000000 --edges 700000000 \
//       --feature-cols 10000 --feature-nnz-per-user 64 --ranks 1,8,64,512 [--mapped]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

#include "core/context.h"
#include "engine/data/prepare.h"
#include "engine/sampling/batch.h"
#include "engine/train/memory_estimate.h"
#include "engine/train/model.h"
#include "engine/train/trainer.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"ember memory-estimate calibration (one training step + validation, CPU)"};
  int64_t users = 30000, communities = 0;
  std::string objectives = "all";
  app.add_option("--users", users, "synthetic users")->check(CLI::Range(int64_t(100), int64_t(50000000)));
  app.add_option("--communities", communities, "synthetic communities (default users / 100)");
  app.add_option("--objectives", objectives, "retrieval | all")->check(CLI::IsMember({"retrieval", "all"}));
  bool paper = false;
  int64_t nodes = 100000000, edges = 700000000, fcols = 10000, fnnz = 64;
  std::string ranks_s = "1,8,64,512";
  app.add_flag("--paper-scale", paper, "only print the per-rank estimate for --nodes/--edges/... and --ranks");
  app.add_option("--nodes", nodes, "users (--paper-scale)");
  app.add_option("--edges", edges, "undirected training edges (--paper-scale)");
  app.add_option("--feature-cols", fcols, "feature columns (--paper-scale)");
  app.add_option("--feature-nnz-per-user", fnnz, "feature nonzeros per user (--paper-scale)");
  app.add_option("--ranks", ranks_s, "rank counts (--paper-scale)");
  bool mapped = false;
  app.add_flag("--mapped", mapped, "the graph read from files and mapped through data.cache_dir (--paper-scale)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (paper) {
      TrainConfig c;  // the defaults (docs/config.md) with CCA + MAE on
      c.objectives.beta = 0.01;
      c.objectives.gamma = 0.01;
      if (mapped) {  // a graph read from files, mapped from a cache (only the key's presence matters here)
        c.data.graph = "graph-folder";
        c.data.cache_dir = "cache";
      }
      GraphSize g;
      g.nodes = nodes;
      g.edges = edges;
      g.feature_cols = fcols;
      g.feature_nnz = fnnz * nodes;
      std::printf("graph: %lld users, %lld training edges, %lld feature columns, %lld nonzeros per user; default "
                  "config (batch %lld global, fanouts", (long long)nodes, (long long)edges, (long long)fcols,
                  (long long)fnnz, (long long)c.sampler.batch_size);
      for (int64_t f : c.sampler.fanouts) std::printf(" %lld", (long long)f);
      std::printf(", hidden %lld, d %lld), CPU%s\n", (long long)c.model.hidden, (long long)c.model.embedding_dim,
                  mapped ? "; graph cache mapped (data.cache_dir)" : "");
      double params = 0;
      for (const ParamSpec& p : SsmtlModel::param_specs(c, fcols, nodes)) {
        if (p.name == "encoder.id_table") continue;  // row-sparse, not in the dense all-reduce
        params += p.numel_estimate();
      }
      std::printf("dense parameters: %.0f (all-reduce of %.2f MiB of float32 gradients per step)\n", params,
                  params * 4 / (1 << 20));
      std::stringstream ss(ranks_s);
      std::string x;
      while (std::getline(ss, x, ',')) {
        const int R = std::stoi(x);
        std::printf("ranks %4d: per rank %s\n", R, estimate_training(c, g, R).describe().c_str());
      }
      return 0;
    }
    TrainConfig c;
    c.device = "cpu";
    c.data.graph = "synthetic";
    c.data.synthetic.num_users = users;
    c.data.synthetic.num_communities = communities > 0 ? communities : std::max<int64_t>(users / 100, 2);
    c.objectives.alpha = 1.0;
    c.objectives.beta = objectives == "all" ? 0.01 : 0.0;
    c.objectives.gamma = objectives == "all" ? 0.01 : 0.0;
    c.train.epochs = 1;
    c.train.steps_per_epoch = 1;
    c.train.val_queries = 1;
    c.train.progress = false;
    PreparedData d = prepare_data(c.data, c.seed, "", false);
    const MemoryEstimate est = estimate_training(c, graph_size(d.split.train));
    int64_t sampled = 0;
    {
      std::vector<int32_t> seeds;
      for (int64_t u = 0; u < d.split.train.num_nodes(); ++u)
        if (d.split.train.degree(u) > 0) seeds.push_back(static_cast<int32_t>(u));
      BatchBuilder bb(d.split.train, c, seeds);
      sampled = bb.build(0, 0).retrieval.num_nodes;
    }
    Context::get().allocator(Device::CPU).reset_peak();
    {
      Trainer t(c, d.split.train, d.val, RunDir{""});
      t.fit(false, 1);
      (void)t.embed_all();
    }
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    const uint64_t rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
    const uint64_t tensors = Context::get().allocator(Device::CPU).stats().peak_bytes;
    std::printf("| users | objectives | sampled subgraph (batch %lld, fanouts", (long long)c.sampler.batch_size);
    for (int64_t f : c.sampler.fanouts) std::printf(" %lld", (long long)f);
    std::printf(") | measured peak RSS | tensor peak | estimate | estimate / RSS |\n|---:|---|---:|---:|---:|---:|---:|\n");
    std::printf("| %lld | %s | %lld nodes | %s | %s | %s | %.2fx |\n", (long long)users, objectives.c_str(),
                (long long)sampled, format_bytes(rss).c_str(), format_bytes(tensors).c_str(),
                format_bytes(est.host_bytes()).c_str(), static_cast<double>(est.host_bytes()) / static_cast<double>(rss));
    std::printf("estimate: %s\n", est.describe().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
