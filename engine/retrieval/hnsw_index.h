// Approximate top-K retrieval: hnswlib (InnerProductSpace on L2-normalised
// vectors, i.e. cosine) behind an ember interface.
//  - ef >= k is enforced; each query fetches k + 1 + |friends| candidates
//    (hnswlib searches with max(ef, fetch)) and drops the query user and its
//    training friends, so the result matches exact_topk's contract;
//  - batches of queries run in parallel (OpenMP);
//  - save()/load() use a container file (engine/binary_io.h, magic
//    "EMBHNSW", version, metric, dim, count, build parameters, checksum),
//    written atomically; a wrong dimension or a corrupted file is a clear error.
// The build is multithreaded (not bit-reproducible across thread counts);
// build_threads = 1 makes it deterministic for a given seed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/retrieval/exact_topk.h"

namespace ember {

struct HnswConfig {
  int32_t M = 16;
  int32_t ef_construction = 200;
  int32_t ef = 128;          // search beam; raised to k when smaller
  uint64_t seed = 100;
  int32_t build_threads = 0; // 0 = all OpenMP threads
  // Shards (docs/distributed.md): shard s indexes rows [n s / S, n (s + 1) / S)
  // in a graph of its own; a search queries every shard and merges the
  // per-shard top-k by score.
  int32_t shards = 1;
};

class HnswIndex {
 public:
  HnswIndex();
  ~HnswIndex();
  HnswIndex(HnswIndex&&) noexcept;
  HnswIndex& operator=(HnswIndex&&) noexcept;

  // Indexes the n rows of emb (n x dim, row-major); row i gets label i (the
  // dense user id). Rows are L2-normalised internally. `only` (optional):
  // build just these shards, the others stay empty until set_shard_bytes
  // (a build split over the ranks of a job).
  void build(const float* emb, int64_t n, int64_t dim, const HnswConfig& cfg = {},
             const std::vector<int32_t>& only = {});
  int32_t shards() const;
  // Shard s serialised (hnswlib's format), and a shard built elsewhere taken
  // in (checked like a loaded file).
  std::vector<uint8_t> shard_bytes(int32_t s) const;
  void set_shard_bytes(int32_t s, const std::vector<uint8_t>& blob);
  // Rows [first, end) of shard s.
  static int64_t shard_first(int64_t n, int32_t shards, int32_t s) { return n * s / shards; }

  int64_t size() const;
  int64_t dim() const;
  const HnswConfig& config() const;
  void set_ef(int32_t ef);

  // Top-k for each query vector (rows of `queries`, query_ids.size() x dim).
  // query_ids[i] (a dense user id, or -1 for none) is excluded with its
  // neighbours in `exclude` (may be null).
  Rankings search(const float* queries, const std::vector<int32_t>& query_ids, int32_t k,
                  const Graph* exclude) const;
  // Queries are users of the index, searched with their own stored vectors.
  Rankings search_users(const std::vector<int32_t>& users, int32_t k, const Graph* exclude) const;

  void save(const std::string& path) const;
  // expected_dim = -1 accepts any dimension.
  static HnswIndex load(const std::string& path, int64_t expected_dim = -1);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Mean over queries of |approx ∩ exact| / (valid entries of exact): the
// recall@k of an approximate search against exact top-k (same queries, same k).
double rankings_recall(const Rankings& approx, const Rankings& exact);

}  // namespace ember
