// ember_query: friend candidates for one user from a run's HNSW index,
// excluding the user and their existing (training) friends; with the run's
// retrieval settings (query expansion over the user's friends, blending with
// friends-of-friends), overridable on the command line.
//   ember_query --run runs/ssmtl --user 42 [--k 10] [--expand S ...] [--blend rrf ...] [--verbose]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/retrieval/candidates.h"
#include "engine/retrieval/expansion.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/train/run_dir.h"
#include "retrieval_cli.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Answer a friend-candidate query from the HNSW index"};
  std::string run_path;
  int64_t user = 0;
  int32_t k = 10;
  bool verbose = false;
  ember_cli::RetrievalOptions served;
  app.add_option("--run", run_path, "run directory with index.hnsw")->required()->check(CLI::ExistingDirectory);
  app.add_option("--user", user, "original id of the query user")->required();
  app.add_option("--k", k, "number of candidates")->check(CLI::Range(1, 1000));
  app.add_flag("--verbose,-v", verbose, "say how the candidates were generated");
  served.add_to(app);
  CLI11_PARSE(app, argc, argv);
  try {
    RunDir run{run_path};
    TrainConfig cfg = run.load_config();
    const RetrievalConfig rc = served.apply(cfg.retrieval);
    PreparedData data = prepare_data(cfg.data, cfg.seed, "", false);
    const int64_t dense = data.full.ids.dense(user);
    EMBER_CHECK(dense >= 0, "--user " << user << " is not a user of this graph (" << data.full.num_nodes() << " users)");
    HnswIndex index = HnswIndex::load(run.index());
    EMBER_CHECK(index.size() == data.full.num_nodes(), run.index() << " has " << index.size()
                                                                   << " vectors, the graph has " << data.full.num_nodes());
    const Tensor emb = load_npy(run.embeddings());
    EMBER_CHECK(emb.size(0) == index.size() && emb.size(1) == index.dim(),
                run.embeddings() << " is " << emb.size(0) << " x " << emb.size(1) << ", the index " << index.size()
                                 << " x " << index.dim());
    const Graph& friends = data.split.train;
    CandidateGenerator gen(emb.data<float>(), emb.size(0), emb.size(1), friends, friends, rc, &index, cfg.seed);
    const Rankings r = gen.generate({static_cast<int32_t>(dense)}, k);
    if (verbose) {
      const ExpansionConfig& e = rc.expansion;
      if (!e.enabled()) {
        std::printf("candidates: the user's own embedding (no query expansion)\n");
      } else if (gen.expansion_fallbacks() > 0) {
        std::printf("query expansion: the user has no friends; searched with its own embedding\n");
      } else {
        const std::vector<float> unit = l2_normalized(emb.data<float>(), emb.size(0), emb.size(1));
        const auto fr = expansion_friends(unit.data(), emb.size(1), friends, static_cast<int32_t>(dense), e);
        std::printf("query expansion: %zu of %lld friends (select %s, merge %s, weights %s, own weight %.2f)\n",
                    fr.size(), (long long)friends.degree(dense), e.select.c_str(), e.merge.c_str(), e.weight.c_str(),
                    e.self_weight);
      }
      if (rc.blend.enabled())
        std::printf("blend: reciprocal-rank fusion with friends-of-friends (Adamic-Adar), its weight %.2f, depth %lld\n",
                    rc.blend.weight, (long long)rc.blend.depth);
    }
    std::printf("user %lld (%lld training friends): top %d friend candidates\n", (long long)user,
                (long long)friends.degree(dense), k);
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
