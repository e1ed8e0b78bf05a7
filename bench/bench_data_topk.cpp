// Exact top-K (GEMM tiles + sorted top-k merge, ops/topk.h) vs HNSW on n users x d dims:
// queries/s, HNSW build time, recall@K of HNSW against exact.
//   bench_data_topk --users 100000 --dim 64 --queries 5000 --k 100
#include <CLI/CLI.hpp>
#include <random>

#include "bench_data_util.h"
#include "core/philox.h"
#include "engine/retrieval/exact_topk.h"
#include "engine/retrieval/hnsw_index.h"

using namespace ember;
using namespace ember_bench;

int main(int argc, char** argv) {
  CLI::App app{"ember data path: exact top-K and HNSW"};
  int64_t n = 100000, d = 64, nq = 5000;
  int32_t k = 100, reps = 3, clusters = 200;
  HnswConfig hc;
  std::vector<int32_t> efs{100, 200, 400};
  app.add_option("--users", n);
  app.add_option("--dim", d);
  app.add_option("--queries", nq);
  app.add_option("--k", k);
  app.add_option("--reps", reps);
  app.add_option("--clusters", clusters, "Gaussian mixture components (0 = isotropic random)");
  app.add_option("--M", hc.M);
  app.add_option("--ef-construction", hc.ef_construction);
  app.add_option("--ef", efs, "search beams to try");
  CLI11_PARSE(app, argc, argv);

  // Embeddings: a mixture of `clusters` Gaussians (like learned user
  // embeddings with community structure), deterministic.
  std::vector<float> x(static_cast<size_t>(n * d));
  {
    std::vector<float> centers(static_cast<size_t>(std::max(1, clusters) * d));
    Rng rc(5, 0);
    for (auto& c : centers) c = static_cast<float>(rc.normal());
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      Rng r(5, 1 + static_cast<uint64_t>(i));
      int64_t c = clusters > 0 ? static_cast<int64_t>(r.below(static_cast<uint64_t>(clusters))) : 0;
      for (int64_t j = 0; j < d; ++j)
        x[i * d + j] = (clusters > 0 ? centers[c * d + j] : 0.0f) + static_cast<float>(r.normal()) * (clusters > 0 ? 0.7f : 1.0f);
    }
  }
  std::vector<int32_t> queries;
  for (int64_t i = 0; i < nq; ++i) queries.push_back(static_cast<int32_t>((i * 7919) % n));
  std::printf("work: %lld users x %lld dims (%d-cluster mixture), %lld queries, K = %d\n", static_cast<long long>(n),
              static_cast<long long>(d), clusters, static_cast<long long>(nq), k);
  TopKConfig tk;
  tk.k = k;
  Rankings exact;
  Timing te = time_reps(reps, [&] { exact = exact_topk(x.data(), n, d, queries, nullptr, tk); });
  print_timing("exact top-K (CPU, GEMM tiles + top-k merge)", te, static_cast<double>(nq), "queries/s");

  HnswIndex index;
  hc.ef = efs.front();
  Timing tb = time_reps(1, [&] { index.build(x.data(), n, d, hc); });
  char what[96];
  std::snprintf(what, sizeof what, "HNSW build (M=%d, ef_construction=%d)", hc.M, hc.ef_construction);
  print_timing(what, tb, static_cast<double>(n), "vectors/s");
  for (int32_t ef : efs) {
    index.set_ef(ef);
    Rankings approx;
    Timing ts = time_reps(reps, [&] { approx = index.search_users(queries, k, nullptr); });
    std::snprintf(what, sizeof what, "HNSW search ef=%d", ef);
    print_timing(what, ts, static_cast<double>(nq), "queries/s");
    std::printf("    recall@%d vs exact: %.4f\n", k, rankings_recall(approx, exact));
  }
  return 0;
}
