// Non-learned retrieval baselines, scored by the same evaluator and under the
// same protocol as the embeddings (docs/results.md, "Protocol"):
//   fof_rankings          friends-of-friends on the training graph: common
//                         neighbours or Adamic-Adar (sum of 1 / log deg(v) over
//                         the common friends v)
//   popularity_rankings   highest training degree first
//   random_rankings       uniform
// Every method ranks EVERY user that is not excluded (the query itself and its
// neighbours in `exclude`: the training friends, plus the validation friends
// when scoring the test split) by (score desc, tie key asc), where the tie
// key is a seeded random draw per (query, item): ties are broken at random,
// never by degree (which would mix popularity into the heuristics), and the
// lists are filled past the 2-hop candidates (score 0) in that random order,
// as every method's list is full. With `truth`, best_rank gets the exact rank
// of each query's best held-out friend over all users (for MRR).
// Embedding baselines (inputs for exact_topk / evaluate_embeddings):
//   feature_embeddings    feature-only: TF-IDF weighted sparse features,
//                         Gaussian random projection to `dim` (cosine-preserving)
//   propagate_embeddings  structure+features: mean over {u} ∪ N(u), `hops` times
#pragma once
#include <cstdint>
#include <vector>

#include "engine/data/split.h"
#include "engine/retrieval/exact_topk.h"

namespace ember {

enum class FofScore { CommonNeighbours, AdamicAdar };

struct HeuristicOptions {
  int32_t k = 100;                // list length
  uint64_t seed = 1;              // tie keys
  const HeldOut* truth = nullptr; // when set: Rankings::best_rank
};

// The seeded tie key of `item` for `query` (lower wins a tie).
uint64_t tie_key(uint64_t seed, int32_t query, int32_t item);

Rankings fof_rankings(const Graph& train, const Graph& exclude, const std::vector<int32_t>& queries, FofScore score,
                      const HeuristicOptions& opt = {});
Rankings popularity_rankings(const Graph& train, const Graph& exclude, const std::vector<int32_t>& queries,
                             const HeuristicOptions& opt = {});
Rankings random_rankings(const Graph& exclude, const std::vector<int32_t>& queries, const HeuristicOptions& opt = {});

// n x dim row-major.
std::vector<float> feature_embeddings(const SparseFeatures& f, int32_t dim, uint64_t seed, bool tfidf = true);
std::vector<float> propagate_embeddings(const Graph& g, const std::vector<float>& emb, int32_t dim, int32_t hops);

}  // namespace ember
