// Query expansion at retrieval time (Snap's friend recommendation serves
// candidates this way: Kung et al., SIGIR 2024). The candidates of user q are
// retrieved with q's own embedding AND the embeddings of up to S of q's
// friends, still from one index of one vector per user:
//
//   merge "mean": one search with the expanded query vector
//       v_q = w e_q + (1 - w) sum_f a_f e_f / sum_f a_f
//     over the normalised embeddings e. Its inner product with a candidate c
//     is w s(q, c) + (1 - w) (the a-weighted mean over friends of s(f, c)),
//     i.e. the weighted-sum merge of the S + 1 lists, computed exactly by one
//     search. Friend weights a_f: "uniform" (1) or "inverse_log_degree"
//     (1 / log(1 + deg f), Adamic-Adar's weight: a friend with few friends says
//     more about q).
//   merge "max": S + 1 searches (q and each friend), candidates merged by
//     w s(q, c) + (1 - w) max_f s(f, c), rescored exactly.
//   merge "softcount": S + 1 searches, candidates merged by
//     w g(s(q, c)) + (1 - w) sum_f a_f g(s(f, c)) / sum_f a_f with
//     g(s) = exp((s - 1) / tau): a soft count of q's friends close to c, the
//     embedding-space analogue of friends-of-friends counting (Adamic-Adar
//     with the inverse-log-degree weights).
//
// Which friends (when q has more than S): "similar" (highest cosine to q's
// own embedding), "embedded" (most common friends with q: the strongest ties),
// or "all" (every friend, S ignored). A user without friends is searched with
// its own embedding. The user and its known friends are never candidates.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/data/graph.h"

namespace ember {

// The friends whose embeddings expand user q's query (at most S, or all), in
// decreasing order of preference. `normalized` is n x d with unit rows.
std::vector<int32_t> expansion_friends(const float* normalized, int64_t d, const Graph& friends, int32_t q,
                                       const ExpansionConfig& cfg);

// The merged score of every item (n) for user q from the scores of q's own
// vector (own, n) and of each expansion friend (per_friend[i], n), weighted by
// friend_weights: the rule of cfg.merge above.
void merge_expansion_scores(const float* own, const std::vector<const float*>& per_friend,
                            const std::vector<double>& friend_weights, int64_t n, const ExpansionConfig& cfg, float* out);
// Friend weights a_f of cfg.weight.
std::vector<double> expansion_weights(const Graph& friends, const std::vector<int32_t>& chosen, const ExpansionConfig& cfg);

// Expanded query vectors (merge "mean") for `users`, Q x d, from the
// normalised embeddings; *fallbacks (optional) counts users without friends.
std::vector<float> expanded_query_vectors(const float* normalized, int64_t n, int64_t d, const Graph& friends,
                                          const std::vector<int32_t>& users, const ExpansionConfig& cfg,
                                          int64_t* fallbacks = nullptr);

}  // namespace ember

namespace ember {

struct Rankings;
struct HeldOut;

// Exact candidate lists under query expansion with any merge rule: per user,
// the scores of every item from its own and its expansion friends' normalised
// embeddings (one GEMM per user), merged (merge_expansion_scores), the user
// and its neighbours in `exclude` skipped, top-k by (score desc, id asc).
// With `truth`, Rankings::best_rank gets the exact rank of each user's best
// held-out friend. `friends` is the graph whose friends expand a query (the
// training graph). *fallbacks (optional) counts users without friends.
Rankings exact_expanded_rankings(const float* emb, int64_t n, int64_t d, const Graph& friends, const Graph& exclude,
                                 const std::vector<int32_t>& users, int32_t k, const ExpansionConfig& cfg,
                                 const HeldOut* truth = nullptr, int64_t* fallbacks = nullptr);

}  // namespace ember
