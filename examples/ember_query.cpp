// ember_query: friend candidates for one user from a run's HNSW index,
// excluding the user and their existing (training) friends.
//   ember_query --run runs/ssmtl --user 42 [--k 10]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "engine/data/prepare.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Answer a friend-candidate query from the HNSW index"};
  std::string run_path;
  int64_t user = 0;
  int32_t k = 10;
  app.add_option("--run", run_path, "run directory with index.hnsw")->required()->check(CLI::ExistingDirectory);
  app.add_option("--user", user, "original id of the query user")->required();
  app.add_option("--k", k, "number of candidates")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  try {
    RunDir run{run_path};
    TrainConfig cfg = run.load_config();
    PreparedData data = prepare_data(cfg.data, cfg.seed, "", false);
    const int64_t dense = data.full.ids.dense(user);
    EMBER_CHECK(dense >= 0, "--user " << user << " is not a user of this graph (" << data.full.num_nodes() << " users)");
    HnswIndex index = HnswIndex::load(run.index());
    EMBER_CHECK(index.size() == data.full.num_nodes(), run.index() << " has " << index.size()
                                                                   << " vectors, the graph has " << data.full.num_nodes());
    Rankings r = index.search_users({static_cast<int32_t>(dense)}, k, &data.split.train);
    std::printf("user %lld (%lld training friends): top %d friend candidates\n", (long long)user,
                (long long)data.split.train.degree(dense), k);
    std::printf("%5s %12s %10s %s\n", "rank", "user", "score", "");
    for (int32_t i = 0; i < k; ++i) {
      const int32_t c = r.row(0)[i];
      if (c < 0) break;
      const bool held_out = data.full.has_edge(dense, c);
      std::printf("%5d %12lld %10.4f %s\n", i + 1, (long long)data.full.ids.original(c), r.row_scores(0)[i],
                  held_out ? "(a held-out friendship: a hit)" : "");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember_query: error: %s\n", e.what());
    return 1;
  }
}
