// ember_evaluate: offline retrieval quality of one or more runs' embeddings on
// the held-out friendships (Recall/HitRate@K, MRR, overall and by training
// degree), optionally next to the heuristic baselines.
//   ember_evaluate --run runs/ssmtl [--run runs/baseline ...] [--split test|val] [--baselines]
// Prints the tables and writes eval.json (test) or eval_val.json (val) into
// each run directory, and with --baselines the heuristics' tables into the
// first run's baselines.json / baselines_val.json. All runs must share the
// graph and split (same data config and seed).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "retrieval_cli.h"

#include "engine/data/prepare.h"
#include "engine/io/binary_io.h"
#include "engine/retrieval/baselines.h"
#include "engine/retrieval/metrics.h"
#include "engine/io/npy.h"
#include "engine/retrieval/candidates.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Evaluate embeddings on held-out friendships"};
  std::vector<std::string> runs;
  std::string split = "test";
  bool baselines = false;
  ember_cli::RetrievalOptions served;
  app.add_option("--run", runs, "run directories (repeatable)")->required()->check(CLI::ExistingDirectory);
  app.add_option("--split", split, "held-out edges to score")->check(CLI::IsMember({"test", "val"}));
  app.add_flag("--baselines", baselines, "also score friends-of-friends, popularity and random");
  served.add_to(app);
  CLI11_PARSE(app, argc, argv);
  try {
    TrainConfig cfg0 = RunDir{runs[0]}.load_config();
    PreparedData data = prepare_data(cfg0.data, cfg0.seed, "", false);
    const HeldOut& truth = data.truth(split);
    const Graph& train = data.split.train;
    const Graph& excluded = data.excluded(split);  // test: training + validation friends
    std::vector<int32_t> queries = truth.users();
    std::printf("evaluating on %zu %s users of %s (%lld users)\n", queries.size(), split.c_str(), data.name.c_str(),
                (long long)data.full.num_nodes());
    std::vector<EvalReport> reports;
    // Same seed and the whole data section (graph, features, fractions,
    // cold-start share, synthetic parameters) = the same split.
    const auto data_of = [](const TrainConfig& c) { return nlohmann::json::parse(c.to_json_text())["data"]; };
    const nlohmann::json data0 = data_of(cfg0);
    for (const std::string& path : runs) {
      RunDir run{path};
      TrainConfig cfg = run.load_config();
      const nlohmann::json run_data = data_of(cfg);
      EMBER_CHECK(cfg.seed == cfg0.seed && run_data == data0,
                  path << " was trained on a different graph or split than " << runs[0] << " (seed " << cfg.seed
                       << " vs " << cfg0.seed << "; data " << run_data.dump() << " vs " << data0.dump() << ")");
      Tensor emb = load_npy(run.embeddings());
      EMBER_CHECK(emb.size(0) == data.full.num_nodes(),
                  run.embeddings() << " has " << emb.size(0) << " rows, the graph has " << data.full.num_nodes());
      char name[128];
      std::snprintf(name, sizeof name, "GAT a=%g b=%g g=%g", cfg.objectives.alpha, cfg.objectives.beta,
                    cfg.objectives.gamma);
      EvalReport rep = evaluate_embeddings(emb.data<float>(), emb.size(0), emb.size(1), train, excluded, truth, name);
      nlohmann::json j = rep.to_json();
      j["split"] = split;
      reports.push_back(std::move(rep));
      // The candidates as served (the run's retrieval section and the options
      // given here): with query expansion and / or the friends-of-friends blend.
      const RetrievalConfig rc = served.apply(cfg.retrieval);
      if (rc.expansion.enabled() || rc.blend.enabled()) {
        CandidateGenerator gen(emb.data<float>(), emb.size(0), emb.size(1), train, excluded, rc, nullptr, cfg.seed);
        MetricsConfig mc;
        int32_t depth = 0;
        for (int32_t k : mc.ks) depth = std::max(depth, k);
        if (rc.expansion.enabled()) {
          const Rankings r = gen.from_embeddings(queries, depth, &truth);
          reports.push_back(evaluate_rankings(r, train, truth, std::string(name) + " +expansion", mc));
          std::printf("query expansion: %lld of %zu users have no friend to expand with (their own embedding)\n",
                      (long long)gen.expansion_fallbacks(), queries.size());
        }
        if (rc.blend.enabled())
          reports.push_back(evaluate_rankings(gen.generate(queries, depth), train, truth,
                                              std::string(name) + (rc.expansion.enabled() ? " +exp" : "") + " +FoF blend", mc));
        nlohmann::json served_json = nlohmann::json::array();
        for (size_t i = reports.size() - (rc.expansion.enabled() + rc.blend.enabled()); i < reports.size(); ++i)
          served_json.push_back(reports[i].to_json());
        j["served"] = served_json;
        const ExpansionConfig& e = rc.expansion;
        const BlendConfig& bl = rc.blend;
        j["retrieval"] = {{"expansion", {{"friends", e.friends}, {"select", e.select}, {"merge", e.merge},
                                         {"weight", e.weight}, {"self_weight", e.self_weight},
                                         {"temperature", e.temperature}}},
                          {"blend", {{"mode", bl.mode}, {"weight", bl.weight}, {"rrf_k", bl.rrf_k}, {"depth", bl.depth}}}};
      }
      const std::string text = j.dump(2) + "\n";
      write_file_atomic(run.eval(split), text.data(), text.size());
    }
    if (baselines) {
      MetricsConfig mc;
      HeuristicOptions ho;
      ho.k = 100;
      ho.seed = cfg0.seed;
      ho.truth = &truth;
      reports.push_back(evaluate_rankings(fof_rankings(train, excluded, queries, FofScore::CommonNeighbours, ho), train,
                                          truth, "FoF common neighbours", mc));
      reports.push_back(evaluate_rankings(fof_rankings(train, excluded, queries, FofScore::AdamicAdar, ho), train, truth,
                                          "FoF Adamic-Adar", mc));
      reports.push_back(evaluate_rankings(popularity_rankings(train, excluded, queries, ho), train, truth, "popularity", mc));
      reports.push_back(evaluate_rankings(random_rankings(excluded, queries, ho), train, truth, "random", mc));
      nlohmann::json j = nlohmann::json::object();
      for (size_t i = reports.size() - 4; i < reports.size(); ++i) j[reports[i].method] = reports[i].to_json();
      j["split"] = split;
      const std::string text = j.dump(2) + "\n";
      write_file_atomic(RunDir{runs[0]}.baselines(split), text.data(), text.size());
    }
    for (const EvalReport& r : reports) std::printf("\n%s", r.table().c_str());
    // Summary: Recall@50 by training-degree bucket.
    std::printf("\nRecall@50 by training degree (%s split)\n%-28s", split.c_str(), "method");
    for (const auto& b : reports[0].buckets) std::printf(" %10s", b.name.c_str());
    std::printf("\n");
    for (const EvalReport& r : reports) {
      std::printf("%-28s", r.method.c_str());
      for (const auto& b : r.buckets) std::printf(" %10.4f", b.num_queries ? r.recall(b.name, 50) : 0.0);
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember_evaluate: error: %s\n", e.what());
    return 1;
  }
}
