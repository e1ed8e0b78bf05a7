// Retrieval metrics from ranked lists against held-out friendships.
//
// For a query user u with held-out positives P_u (|P_u| > 0) and its ranked
// list R_u (training friends and u itself already excluded):
//   Recall@K   = |R_u[0..K) ∩ P_u| / |P_u|
//   HitRate@K  = 1 if R_u[0..K) ∩ P_u is non-empty, else 0
//   MRR        = 1 / (rank of the best held-out friend), ranks start at 1:
//                the exact rank over every candidate when the rankings carry
//                it (Rankings::best_rank: exact embeddings, heuristics),
//                otherwise the rank in the list, 0 beyond `mrr_depth`
//                (EvalReport::mrr_exact says which)
// Each is averaged over query users, overall and per training-degree bucket
// (0-2, 3-10, 11-50, >50 by default).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engine/retrieval/exact_topk.h"
#include "engine/retrieval/expansion.h"
#include "engine/data/split.h"

namespace ember {

struct MetricsConfig {
  std::vector<int32_t> ks{1, 5, 10, 50, 100};
  int32_t mrr_depth = 100;  // list-based MRR only (rankings without best_rank)
  // Bucket b holds training degrees in [edges[b], edges[b+1]); last is open.
  std::vector<int64_t> bucket_edges{0, 3, 11, 51};
};

struct BucketMetrics {
  std::string name;           // "all", "0-2", "3-10", "11-50", ">50"
  int64_t num_queries = 0;
  std::vector<double> recall, hit_rate;  // per MetricsConfig::ks
  double mrr = 0;
};

struct EvalReport {
  std::string method;
  std::vector<int32_t> ks;
  int32_t mrr_depth = 100;
  bool mrr_exact = false;  // MRR from exact ranks over all candidates (else from the list, to mrr_depth)
  std::vector<BucketMetrics> buckets;  // [0] = all queries
  const BucketMetrics& all() const { return buckets.at(0); }
  // Recall@k of bucket `name` ("all", "0-2", ...); throws when absent.
  double recall(const std::string& bucket, int32_t k) const;
  nlohmann::json to_json() const;
  // Printed table, one row per bucket.
  std::string table() const;
};

// Scores rankings (queries = the rankings' queries). The rankings must be at
// least max(ks) and mrr_depth long or the missing depth counts as misses.
EvalReport evaluate_rankings(const Rankings& r, const Graph& train, const HeldOut& truth, const std::string& method,
                             const MetricsConfig& cfg = {});

// exact_topk over all users with held-out edges (excluding each user's
// neighbours in `exclude`: the training friends, plus the validation friends
// when `truth` is the test split), the exact rank of each best held-out friend
// (fill_exact_best_ranks), then evaluate_rankings. `train` gives the degree buckets.
// With `expansion` (enabled, merge "mean"), each user is searched with its
// expanded query vector over its friends in `train` (engine/retrieval/expansion.h).
EvalReport evaluate_embeddings(const float* emb, int64_t n, int64_t d, const Graph& train, const Graph& exclude,
                               const HeldOut& truth, const std::string& method, const TopKConfig& topk = {},
                               const MetricsConfig& cfg = {}, const ExpansionConfig* expansion = nullptr);

}  // namespace ember
