// Non-learned retrieval baselines, scored by the same evaluator.
//   fof_rankings          friends-of-friends: common neighbours or Adamic-Adar
//                         (ties: higher degree, then smaller id). Users with no
//                         training friends get an empty list (cold start).
//   popularity_rankings   highest training degree first
//   random_rankings       uniform, seeded per query
// Embedding baselines (inputs for exact_topk / evaluate_embeddings):
//   feature_embeddings    feature-only: TF-IDF weighted sparse features,
//                         Gaussian random projection to `dim` (cosine-preserving)
//   propagate_embeddings  structure+features: mean over {u} ∪ N(u), `hops` times
#pragma once
#include <cstdint>
#include <vector>

#include "engine/retrieval/exact_topk.h"

namespace ember {

enum class FofScore { CommonNeighbours, AdamicAdar };

Rankings fof_rankings(const Graph& train, const std::vector<int32_t>& queries, int32_t k, FofScore score);
Rankings popularity_rankings(const Graph& train, const std::vector<int32_t>& queries, int32_t k);
Rankings random_rankings(const Graph& train, const std::vector<int32_t>& queries, int32_t k, uint64_t seed);

// n x dim row-major.
std::vector<float> feature_embeddings(const SparseFeatures& f, int32_t dim, uint64_t seed, bool tfidf = true);
std::vector<float> propagate_embeddings(const Graph& g, const std::vector<float>& emb, int32_t dim, int32_t hops);

}  // namespace ember
