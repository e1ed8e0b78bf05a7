// Sampling throughput: subgraphs/s for batches of 1024 query users with
// fanouts [15, 10] on a synthetic graph (1M users by default), for one
// sampler on the calling thread and for the prefetching loader.
//   bench_data_sampler --users 1000000 --batches 40
#include <CLI/CLI.hpp>

#include "bench_data_util.h"
#include "engine/sampling/sampler.h"
#include "engine/data/synthetic.h"

using namespace ember;
using namespace ember_bench;

int main(int argc, char** argv) {
  CLI::App app{"ember data path: k-hop sampling throughput"};
  SyntheticConfig sc;
  sc.num_users = 1000000;
  int32_t batch = 1024, batches = 40, threads = 2, reps = 3;
  std::vector<int32_t> fanouts{15, 10};
  bool features = true;
  app.add_option("--users", sc.num_users);
  app.add_option("--avg-degree", sc.avg_degree);
  app.add_option("--batch", batch);
  app.add_option("--batches", batches, "batches per repetition");
  app.add_option("--threads", threads, "loader producer threads");
  app.add_option("--fanouts", fanouts);
  app.add_option("--reps", reps);
  app.add_option("--features", features, "slice the feature CSR too");
  CLI11_PARSE(app, argc, argv);

  SyntheticGraph g = generate_synthetic(sc);
  std::vector<int32_t> users(static_cast<size_t>(g.graph.num_nodes()));
  for (size_t i = 0; i < users.size(); ++i) users[i] = static_cast<int32_t>(i);
  SamplerConfig smp;
  smp.fanouts = fanouts;
  NeighborSampler sampler(g.graph, smp);
  int64_t nodes = 0, edges = 0, count = 0;
  Timing t1 = time_reps(reps, [&] {
    for (int32_t b = 0; b < batches; ++b) {
      Subgraph s = sampler.sample(users.data() + static_cast<size_t>(b) * batch, static_cast<size_t>(batch), b);
      if (features) s.features = subgraph_features(g.graph.features, s);
      nodes += s.num_nodes();
      edges += s.num_edges();
      ++count;
    }
  });
  std::printf("work: %d seeds/subgraph, fanouts", batch);
  for (int32_t f : fanouts) std::printf(" %d", f);
  std::printf("; mean %.0f nodes, %.0f directed edges per subgraph\n", double(nodes) / count, double(edges) / count);
  print_timing("one sampler, calling thread", t1, batches, "subgraphs/s");
  LoaderConfig lc;
  lc.sampler = smp;
  lc.batch_size = batch;
  lc.num_threads = threads;
  lc.prefetch = 2 * threads;
  lc.with_features = features;
  lc.num_epochs = -1;
  Timing t2 = time_reps(reps, [&] {
    SubgraphLoader loader(g.graph, users, lc);
    Subgraph s;
    for (int32_t b = 0; b < batches; ++b) loader.next(s);
  });
  char what[80];
  std::snprintf(what, sizeof what, "loader, %d producer threads (incl. start)", threads);
  print_timing(what, t2, batches, "subgraphs/s");
  return 0;
}
