// ember_index: build an HNSW index (inner product on L2-normalised vectors)
// over a run's embeddings and report its recall against exact search.
//   ember_index --run runs/ssmtl [--M 16] [--ef-construction 200] [--ef 128]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "engine/retrieval/exact_topk.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/io/npy.h"
#include "engine/train/run_dir.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Build the HNSW index of a run's embeddings"};
  std::string run_path;
  int32_t M = 16, efc = 200, ef = 128, check_queries = 500;
  app.add_option("--run", run_path, "run directory")->required()->check(CLI::ExistingDirectory);
  app.add_option("--M", M, "HNSW graph degree")->check(CLI::Range(2, 256));
  app.add_option("--ef-construction", efc, "build beam width")->check(CLI::PositiveNumber);
  app.add_option("--ef", ef, "search beam width (raised to k when smaller)")->check(CLI::PositiveNumber);
  app.add_option("--check-queries", check_queries, "users whose top-10 is compared with exact search")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    RunDir run{run_path};
    Tensor emb = load_npy(run.embeddings());
    const int64_t n = emb.size(0), d = emb.size(1);
    HnswConfig hc;
    hc.M = M;
    hc.ef_construction = efc;
    hc.ef = ef;
    HnswIndex index;
    const auto t0 = std::chrono::steady_clock::now();
    index.build(emb.data<float>(), n, d, hc);
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    index.save(run.index());
    std::printf("indexed %lld vectors of dimension %lld in %.2f s (M %d, ef_construction %d) -> %s\n", (long long)n,
                (long long)d, build_s, M, efc, run.index().c_str());
    if (check_queries > 0) {
      std::vector<int32_t> users;
      for (int64_t u = 0; u < n && static_cast<int32_t>(users.size()) < check_queries; u += std::max<int64_t>(1, n / check_queries))
        users.push_back(static_cast<int32_t>(u));
      HnswIndex loaded = HnswIndex::load(run.index(), d);
      TopKConfig tk;
      tk.k = 10;
      Rankings exact = exact_topk(emb.data<float>(), n, d, users, nullptr, tk);
      Rankings approx = loaded.search_users(users, 10, nullptr);
      std::printf("HNSW recall@10 vs exact search (after save + load, %zu queries): %.4f\n", users.size(),
                  rankings_recall(approx, exact));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember_index: error: %s\n", e.what());
    return 1;
  }
}
