// Concurrency: HNSW searches from many threads at once give the
// single-threaded results; OrderedPrefetcher and SubgraphLoader deliver a
// producer's exception in order, and shut down cleanly when destroyed early
// (workers blocked on a full queue or inside make()). Run under ASan in CI.
#include <catch2/catch.hpp>

#include <omp.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/philox.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/sampling/prefetch.h"
#include "engine/sampling/sampler.h"
#include "engine/data/synthetic.h"

using namespace ember;

namespace {

struct OmpThreads {
  int old;
  explicit OmpThreads(int n) : old(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(old); }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("concurrency: HNSW search from 8 threads equals the single-threaded results", "[reliability][concurrency]") {
  const int64_t n = 1500, d = 16;
  std::vector<float> emb(static_cast<size_t>(n * d));
  Rng rng(7, 1);
  for (float& v : emb) v = static_cast<float>(rng.uniform() - 0.5);
  HnswIndex idx;
  HnswConfig hc;
  hc.M = 8;
  hc.ef_construction = 64;
  hc.ef = 32;
  hc.build_threads = 1;
  idx.build(emb.data(), n, d, hc);
  std::vector<int32_t> users;
  for (int32_t u = 0; u < n; u += 3) users.push_back(u);
  Rankings ref_users, ref_vecs;
  std::vector<float> queries;
  std::vector<int32_t> no_ids;
  for (int32_t i = 0; i < 200; ++i) {
    for (int64_t j = 0; j < d; ++j) queries.push_back(emb[static_cast<size_t>(((i * 7) % n) * d + j)] + 0.01f);
    no_ids.push_back(-1);
  }
  {
    OmpThreads one(1);
    ref_users = idx.search_users(users, 10, nullptr);
    ref_vecs = idx.search(queries.data(), no_ids, 10, nullptr);
  }
  std::atomic<int> mismatches{0}, errors{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int rep = 0; rep < 3; ++rep) {
          if ((t + rep) % 2 == 0) {
            Rankings r = idx.search_users(users, 10, nullptr);
            if (r.ids != ref_users.ids || r.scores != ref_users.scores) ++mismatches;
          } else {
            Rankings r = idx.search(queries.data(), no_ids, 10, nullptr);
            if (r.ids != ref_vecs.ids || r.scores != ref_vecs.scores) ++mismatches;
          }
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  // A reader polling the index's metadata meanwhile.
  std::thread reader([&] {
    int64_t sum = 0;
    while (!done) sum += idx.size() + idx.dim() + idx.config().ef;
    if (sum < 0) ++errors;
  });
  for (auto& th : threads) th.join();
  done = true;
  reader.join();
  REQUIRE(errors == 0);
  REQUIRE(mismatches == 0);
}

TEST_CASE("concurrency: OrderedPrefetcher rethrows the first failing item in order", "[reliability][concurrency]") {
  for (int threads : {1, 2, 4}) {
    for (int depth : {1, 3, 8}) {
      INFO("threads " << threads << ", depth " << depth);
      OrderedPrefetcher<int> p(0, 20, threads, depth, [](uint64_t i) -> int {
        if (i == 9 || i == 6) throw std::runtime_error("item " + std::to_string(i));
        return static_cast<int>(i * i);
      });
      int v = -1;
      for (int i = 0; i < 6; ++i) {
        REQUIRE(p.next(v));
        REQUIRE(v == i * i);
      }
      REQUIRE_THROWS_WITH(p.next(v), "item 6");
      REQUIRE_THROWS_WITH(p.next(v), "item 6");  // asking again does not hang
    }
  }
}

TEST_CASE("concurrency: OrderedPrefetcher destroyed early, also with workers inside make()",
          "[reliability][concurrency]") {
  SECTION("workers blocked on a full queue") {
    const auto t0 = std::chrono::steady_clock::now();
    {
      OrderedPrefetcher<std::vector<int>> p(0, 1000000, 4, 2, [](uint64_t i) { return std::vector<int>(100, int(i)); });
      std::vector<int> v;
      REQUIRE(p.next(v));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(seconds_since(t0) < 5.0);
  }
  SECTION("workers inside a slow make()") {
    std::atomic<int> started{0}, finished{0};
    {
      OrderedPrefetcher<int> p(0, 100, 3, 4, [&](uint64_t i) {
        ++started;
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        ++finished;
        return static_cast<int>(i);
      });
      while (started < 3) std::this_thread::yield();
    }  // the destructor waits for the running make() calls, then joins
    REQUIRE(started == finished);
    REQUIRE(started <= 3 + 4);
  }
  SECTION("destroyed before consuming anything, after an exception") {
    for (int rep = 0; rep < 50; ++rep) {
      OrderedPrefetcher<int> p(0, 10, 2, 2, [](uint64_t i) -> int {
        if (i == 1) throw std::runtime_error("boom");
        return 0;
      });
      if (rep % 2) {
        int v;
        p.next(v);
        REQUIRE_THROWS(p.next(v));
      }
    }
  }
  SECTION("stop() then destruction, and an empty range") {
    OrderedPrefetcher<int> p(5, 50, 2, 3, [](uint64_t i) { return static_cast<int>(i); });
    int v;
    REQUIRE(p.next(v));
    REQUIRE(v == 5);
    p.stop();
    p.stop();
    OrderedPrefetcher<int> empty(4, 4, 2, 3, [](uint64_t) -> int { throw std::runtime_error("never called"); });
    REQUIRE_FALSE(empty.next(v));
  }
}

TEST_CASE("concurrency: SubgraphLoader construct / consume / destroy cycles and producer failures",
          "[reliability][concurrency]") {
  SyntheticConfig sc;
  sc.num_users = 2000;
  sc.num_communities = 8;
  sc.feature_dim = 64;
  const Graph g = generate_synthetic(sc, false).graph;
  std::vector<int32_t> users;
  for (int32_t u = 0; u < 2000; u += 2) users.push_back(u);
  LoaderConfig lc;
  lc.batch_size = 64;
  lc.num_threads = 4;
  lc.prefetch = 2;
  lc.num_epochs = -1;
  lc.sampler.fanouts = {5, 3};
  const auto t0 = std::chrono::steady_clock::now();
  for (int rep = 0; rep < 40; ++rep) {
    SubgraphLoader l(g, users, lc);
    Subgraph s;
    for (int i = 0; i < rep % 5; ++i) REQUIRE(l.next(s));
  }
  INFO("40 cycles took " << seconds_since(t0) << " s");
  REQUIRE(seconds_since(t0) < 60.0);
  // Every producer fails (features shorter than the graph): the consumer sees
  // the error of batch 0, again on a second call, and destruction is clean.
  Graph broken = g;
  broken.features.num_rows = 3;
  broken.features.row_ptr.resize(4);
  LoaderConfig bad = lc;
  bad.num_epochs = 1;
  for (int rep = 0; rep < 10; ++rep) {
    SubgraphLoader l(broken, users, bad);
    Subgraph s;
    REQUIRE_THROWS(l.next(s));
    REQUIRE_THROWS(l.next(s));
  }
}
