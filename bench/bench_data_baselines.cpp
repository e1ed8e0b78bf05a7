// Baselines on a synthetic social graph (or a shared dataset): how hard is the
// retrieval task, and do features and structure both matter?
//   bench_data_baselines --users 100000 --seed 1
//   bench_data_baselines --dataset ../shared/data/twitch/DE
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/retrieval/baselines.h"
#include "engine/retrieval/exact_topk.h"
#include "engine/retrieval/metrics.h"
#include "engine/data/loaders.h"
#include "engine/data/split.h"
#include "engine/data/synthetic.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"ember data-path baselines"};
  SyntheticConfig sc;
  sc.num_users = 100000;
  SplitConfig sp;
  sp.cold_user_fraction = 0.05;
  std::string dataset, json_out;
  int32_t dim = 128;
  app.add_option("--dataset", dataset, "dataset folder instead of the synthetic graph");
  app.add_option("--users", sc.num_users, "synthetic users");
  app.add_option("--communities", sc.num_communities, "0 = users / 250");
  app.add_option("--avg-degree", sc.avg_degree);
  app.add_option("--feature-dim", sc.feature_dim);
  app.add_option("--features-per-user", sc.features_per_user);
  app.add_option("--homophily", sc.homophily);
  app.add_option("--feature-homophily", sc.feature_homophily);
  app.add_option("--community-vocab", sc.community_vocab);
  app.add_option("--triadic-closure", sc.triadic_closure);
  app.add_option("--cold-start", sc.cold_start_fraction);
  app.add_option("--exponent", sc.power_law_exponent);
  app.add_option("--seed", sc.seed);
  app.add_option("--test-fraction", sp.test_fraction);
  app.add_option("--cold-users", sp.cold_user_fraction, "cold-start split share of users");
  app.add_option("--dim", dim, "random projection size of the feature baselines");
  app.add_option("--json", json_out, "write all reports as JSON here");
  CLI11_PARSE(app, argc, argv);

  auto t0 = std::chrono::steady_clock::now();
  Graph full;
  if (!dataset.empty()) full = load_dataset(dataset).graph;
  else full = generate_synthetic(sc).graph;
  sp.seed = sc.seed;
  Split s = make_split(full, sp);
  HeldOut truth = make_heldout(full.num_nodes(), s.test);
  const Graph known = known_at_test(s);  // training + validation friends: never candidates
  std::vector<int32_t> queries = truth.users();
  std::printf("split: %lld train edges, %zu val, %zu test, %zu cold users; %zu query users\n",
              static_cast<long long>(s.train.num_edges()), s.val.size(), s.test.size(), s.cold_users.size(),
              queries.size());
  nlohmann::json all = nlohmann::json::array();
  // Finer buckets for the summary: degree 0 (no training friend) apart from 1-2.
  MetricsConfig fine;
  fine.bucket_edges = {0, 1, 3, 11, 51};
  std::vector<EvalReport> summary;
  auto report = [&](const Rankings& r, const std::string& name) {
    EvalReport rep = evaluate_rankings(r, s.train, truth, name);
    std::printf("%s\n", rep.table().c_str());
    all.push_back(rep.to_json());
    summary.push_back(evaluate_rankings(r, s.train, truth, name, fine));
  };
  const int32_t K = 100;
  HeuristicOptions ho;
  ho.k = K;
  ho.seed = sc.seed;
  ho.truth = &truth;
  report(fof_rankings(s.train, known, queries, FofScore::CommonNeighbours, ho), "fof-common-neighbours");
  report(fof_rankings(s.train, known, queries, FofScore::AdamicAdar, ho), "fof-adamic-adar");
  report(popularity_rankings(s.train, known, queries, ho), "popularity");
  report(random_rankings(known, queries, ho), "random");
  if (full.has_features()) {
    TopKConfig tk;
    tk.k = K;
    std::vector<float> fe = feature_embeddings(full.features, dim, 11);
    Rankings fr = exact_topk(fe.data(), full.num_nodes(), dim, queries, &known, tk);
    fill_exact_best_ranks(fr, fe.data(), full.num_nodes(), dim, &known, truth, tk);
    report(fr, "features-only (tfidf projection)");
    std::vector<float> fn = l2_normalized(fe.data(), full.num_nodes(), dim);
    std::vector<float> pe = propagate_embeddings(s.train, fn, dim, 2);
    Rankings pr = exact_topk(pe.data(), full.num_nodes(), dim, queries, &known, tk);
    fill_exact_best_ranks(pr, pe.data(), full.num_nodes(), dim, &known, truth, tk);
    report(pr, "features+structure (2-hop mean)");
  }
  std::printf("Recall@50 by training degree\n  %-34s", "method");
  for (const auto& b : summary.front().buckets) std::printf(" %8s", b.name.c_str());
  std::printf("\n  %-34s", "(queries)");
  for (const auto& b : summary.front().buckets) std::printf(" %8lld", static_cast<long long>(b.num_queries));
  std::printf("\n");
  for (const auto& rep : summary) {
    std::printf("  %-34s", rep.method.c_str());
    for (const auto& b : rep.buckets) std::printf(" %8.4f", rep.recall(b.name, 50));
    std::printf("\n");
  }
  std::printf("total %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!json_out.empty()) std::ofstream(json_out) << all.dump(2) << "\n";
  return 0;
}
