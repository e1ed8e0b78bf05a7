// The candidates ember serves for a user: from the embeddings (searched
// exactly, or through the HNSW index), optionally with query expansion over
// the user's friends (engine/retrieval/expansion.h), optionally blended with
// friends-of-friends (Adamic-Adar) by reciprocal-rank fusion:
//
//   fused(c) = (1 - w) / (rrf_k + rank_ember(c)) + w / (rrf_k + rank_fof(c)),
//
// each source contributing its first `depth` candidates (a candidate absent
// from a list gets nothing from it); ties by the smaller id. The user and its
// known friends (`exclude`) are never candidates. Used by ember_query,
// ember_evaluate and the batch candidate generation, so what is measured is
// what is served.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/data/graph.h"
#include "engine/data/split.h"
#include "engine/retrieval/exact_topk.h"

namespace ember {

class HnswIndex;

// Reciprocal-rank fusion of two rankings of the same queries (weight w for b).
Rankings fuse_rankings(const Rankings& a, const Rankings& b, double w, double rrf_k, int32_t k);

class CandidateGenerator {
 public:
  // emb: n x d (any norm; cosine is used). friends: the graph whose friends
  // expand a query and feed friends-of-friends (the training graph). exclude:
  // the friends never recommended. index: the run's HNSW index, or null for
  // exact search. seed: FoF tie keys.
  CandidateGenerator(const float* emb, int64_t n, int64_t d, const Graph& friends, const Graph& exclude,
                     const RetrievalConfig& cfg, const HnswIndex* index = nullptr, uint64_t seed = 1);

  // The served lists (depth k). With `truth` and exact search without the
  // blend, Rankings::best_rank holds exact ranks (MRR over all users).
  Rankings generate(const std::vector<int32_t>& users, int32_t k, const HeldOut* truth = nullptr) const;
  // The embedding source alone (expansion applied, no blend).
  Rankings from_embeddings(const std::vector<int32_t>& users, int32_t k, const HeldOut* truth = nullptr) const;
  // The friends-of-friends source alone (Adamic-Adar, random ties).
  Rankings from_fof(const std::vector<int32_t>& users, int32_t k, const HeldOut* truth = nullptr) const;
  // Users of the last call without friends, searched with their own embedding.
  int64_t expansion_fallbacks() const { return fallbacks_.load(); }
  const RetrievalConfig& config() const { return cfg_; }

 private:
  Rankings index_expanded(const std::vector<int32_t>& users, int32_t k) const;
  const float* emb_;
  int64_t n_, d_;
  const Graph& friends_;
  const Graph& exclude_;
  RetrievalConfig cfg_;
  const HnswIndex* index_;
  uint64_t seed_;
  std::vector<float> unit_;  // normalised embeddings
  mutable std::atomic<int64_t> fallbacks_{0};  // of the last call (reporting only; calls may run concurrently)
};

}  // namespace ember
