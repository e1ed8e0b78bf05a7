// k-hop neighbourhood sampling around batches of query users, and a
// multithreaded loader with a bounded prefetch queue.
//
// Sampling: hop h expands every node first reached at hop h (queries are hop
// 0) by choosing min(fanout[h], degree) of its training neighbours without
// replacement (fanout -1 = all). The choice for node v in batch b uses its
// own Philox stream keyed by (seed, b, v), so a batch is a pure function of
// (graph, seeds, fanouts, seed, b): identical for any thread count. Nodes are
// relabelled to local ids: queries 0..num_queries-1, then nodes in order of
// discovery. Held-out edges never appear because they are not in the
// training graph that is sampled.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/data/graph.h"

namespace ember {

struct Subgraph {
  std::vector<int64_t> global_ids;   // dense ids in the sampled graph, local id = position
  int32_t num_queries = 0;           // queries are local ids 0..num_queries-1
  // Directed message edges src -> dst (local ids), both directions of each
  // sampled undirected edge, sorted by (dst, src), no duplicates.
  std::vector<int32_t> edge_src, edge_dst;
  uint64_t batch_index = 0;
  SparseFeatures features;           // rows = global_ids when the loader was asked for them

  int64_t num_nodes() const { return static_cast<int64_t>(global_ids.size()); }
  int64_t num_edges() const { return static_cast<int64_t>(edge_src.size()); }
};

// The subgraph's rows of the node feature CSR (row i = global_ids[i]).
SparseFeatures subgraph_features(const SparseFeatures& f, const Subgraph& s);

struct SamplerConfig {
  std::vector<int32_t> fanouts{15, 10};  // per hop; -1 = all neighbours
  uint64_t seed = 1;
};

// Reusable sampler (keeps an O(num_nodes) scratch map; not thread-safe: one
// per thread). The graph must outlive the sampler.
class NeighborSampler {
 public:
  NeighborSampler(const Graph& g, SamplerConfig cfg);
  // seeds: distinct dense ids. batch_index keys the random streams.
  Subgraph sample(const int32_t* seeds, size_t n, uint64_t batch_index);
  Subgraph sample(const std::vector<int32_t>& seeds, uint64_t batch_index) {
    return sample(seeds.data(), seeds.size(), batch_index);
  }

 private:
  const Graph& g_;
  SamplerConfig cfg_;
  std::vector<int32_t> local_;  // global -> local id, -1 when absent
  std::vector<int32_t> pick_;
};

struct LoaderConfig {
  SamplerConfig sampler;
  int32_t batch_size = 1024;
  int32_t num_threads = 2;     // producer threads
  int32_t prefetch = 4;        // batches ready ahead of the consumer (bounded queue)
  bool shuffle = true;         // per-epoch permutation, seeded by (seed, epoch)
  bool with_features = true;   // fill Subgraph::features
  int64_t num_epochs = 1;      // -1 = endless
};

// Produces batches 0, 1, 2, ... (batch b = epoch b / B, position b % B) on
// producer threads; next() returns them in order. Producers stay at most
// `prefetch` batches ahead. A producer exception is rethrown by next(). The
// destructor stops and joins the producers (also when batches are pending).
// The graph must outlive the loader.
class SubgraphLoader {
 public:
  SubgraphLoader(const Graph& g, std::vector<int32_t> query_users, LoaderConfig cfg);
  ~SubgraphLoader();
  SubgraphLoader(const SubgraphLoader&) = delete;
  SubgraphLoader& operator=(const SubgraphLoader&) = delete;

  // False when all epochs are done.
  bool next(Subgraph& out);
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // The query users of batch b (what next() will return for it).
  std::vector<int32_t> batch_queries(uint64_t b) const;

 private:
  void produce();
  const Graph& g_;
  std::vector<int32_t> users_;
  LoaderConfig cfg_;
  int64_t batches_per_epoch_ = 0, total_batches_ = 0;  // total -1 = endless

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Subgraph> ready_;
  uint64_t next_to_produce_ = 0, next_to_consume_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  uint64_t error_batch_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace ember
