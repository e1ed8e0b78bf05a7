// ember_index: build an HNSW index (inner product on L2-normalised vectors)
// over a run's embeddings and report its recall against exact search.
//   ember_index --run runs/ssmtl [--M 16] [--ef-construction 200] [--ef 128] [--shards S]
// --shards S: S HNSW graphs over contiguous blocks of users, searched together
// (per-shard top-k merged by score). Under `mpirun -np R` the ranks build the
// shards in parallel (shard s on rank s mod R) and rank 0 writes the index.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "engine/dist/communicator.h"
#include "engine/retrieval/exact_topk.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/io/npy.h"
#include "engine/train/run_dir.h"

using namespace ember;

int main(int argc, char** argv) {
  return run_job("ember_index", &argc, &argv, [&](DistJob& job) -> int {
  Communicator& comm = job.comm();
  CLI::App app{"Build the HNSW index of a run's embeddings"};
  std::string run_path;
  int32_t M = 16, efc = 200, ef = 128, check_queries = 500, shards = 1;
  app.add_option("--run", run_path, "run directory")->required()->check(CLI::ExistingDirectory);
  app.add_option("--M", M, "HNSW graph degree")->check(CLI::Range(2, 256));
  app.add_option("--ef-construction", efc, "build beam width")->check(CLI::PositiveNumber);
  app.add_option("--ef", ef, "search beam width (raised to k when smaller)")->check(CLI::PositiveNumber);
  app.add_option("--check-queries", check_queries, "users whose top-10 is compared with exact search")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--shards", shards, "HNSW shards over contiguous blocks of users (searched together)")
      ->check(CLI::Range(1, 1 << 16));
  CLI11_PARSE(app, argc, argv);
  {
    RunDir run{run_path};
    Tensor emb = load_npy(run.embeddings());
    const int64_t n = emb.size(0), d = emb.size(1);
    HnswConfig hc;
    hc.M = M;
    hc.ef_construction = efc;
    hc.ef = ef;
    hc.shards = shards;
    EMBER_CHECK(shards <= n, "--shards " << shards << " for " << n << " vectors");
    HnswIndex index;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> mine;  // this rank's shards (all of them in one process)
    for (int32_t s = comm.rank(); s < shards; s += comm.size()) mine.push_back(s);
    if (!mine.empty()) index.build(emb.data<float>(), n, d, hc, mine);  // (an empty list would build them all)
    if (comm.distributed()) {
      // Every rank's shards to rank 0: [u32 count][per shard: i32 id, u64 bytes, bytes].
      std::vector<char> out;
      auto put = [&out](const void* p, size_t k) { out.insert(out.end(), (const char*)p, (const char*)p + k); };
      const uint32_t count = static_cast<uint32_t>(mine.size());
      put(&count, 4);
      for (uint32_t i = 0; i < count; ++i) {
        const std::vector<uint8_t> b = index.shard_bytes(mine[i]);
        const uint64_t bytes = b.size();
        put(&mine[i], 4);
        put(&bytes, 8);
        put(b.data(), b.size());
      }
      const std::vector<std::vector<char>> parts = comm.gather(out, 0);
      if (!comm.is_root()) return 0;
      for (int r = 1; r < comm.size(); ++r) {
        const std::vector<char>& p = parts[r];
        size_t at = 0;
        auto take = [&](void* dst, size_t k) {
          EMBER_CHECK(at + k <= p.size(), "rank " << r << " sent a truncated shard list");
          std::memcpy(dst, p.data() + at, k);
          at += k;
        };
        uint32_t c = 0;
        take(&c, 4);
        for (uint32_t i = 0; i < c; ++i) {
          int32_t id = 0;
          uint64_t bytes = 0;
          take(&id, 4);
          take(&bytes, 8);
          std::vector<uint8_t> b(bytes);
          take(b.data(), bytes);
          index.set_shard_bytes(id, b);
        }
      }
    }
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    index.save(run.index());
    std::printf("indexed %lld vectors of dimension %lld in %.2f s (M %d, ef_construction %d, %d shard(s)%s) -> %s\n",
                (long long)n, (long long)d, build_s, M, efc, shards,
                comm.distributed() ? (", built on " + std::to_string(comm.size()) + " ranks").c_str() : "",
                run.index().c_str());
    if (check_queries > 0) {
      std::vector<int32_t> users;
      for (int64_t u = 0; u < n && static_cast<int32_t>(users.size()) < check_queries; u += std::max<int64_t>(1, n / check_queries))
        users.push_back(static_cast<int32_t>(u));
      HnswIndex loaded = HnswIndex::load(run.index(), d);
      TopKConfig tk;
      tk.k = 10;
      Rankings exact = exact_topk(emb.data<float>(), n, d, users, nullptr, tk);
      Rankings approx = loaded.search_users(users, 10, nullptr);
      std::printf("HNSW recall@10 vs exact search (after save + load%s, %zu queries): %.4f\n",
                  shards > 1 ? ", shards merged" : "", users.size(), rankings_recall(approx, exact));
    }
    return 0;
  }
  });
}
