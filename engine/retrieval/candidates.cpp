#include "engine/retrieval/candidates.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "engine/retrieval/baselines.h"
#include "engine/retrieval/expansion.h"
#include "engine/retrieval/hnsw_index.h"

namespace ember {

Rankings fuse_rankings(const Rankings& a, const Rankings& b, double w, double rrf_k, int32_t k) {
  EMBER_CHECK(a.queries == b.queries, "fuse_rankings: the two rankings are for different queries");
  EMBER_CHECK(k >= 1, "fuse_rankings: k = " << k);
  Rankings out;
  out.queries = a.queries;
  out.resize(a.queries.size(), k);
  const int64_t Q = static_cast<int64_t>(a.queries.size());
#pragma omp parallel for schedule(dynamic, 64) if (Q > 64)
  for (int64_t q = 0; q < Q; ++q) {
    std::unordered_map<int32_t, double> score;
    for (int32_t j = 0; j < a.k; ++j)
      if (a.row(q)[j] >= 0) score[a.row(q)[j]] += (1.0 - w) / (rrf_k + j + 1);
    for (int32_t j = 0; j < b.k; ++j)
      if (b.row(q)[j] >= 0) score[b.row(q)[j]] += w / (rrf_k + j + 1);
    std::vector<std::pair<double, int32_t>> all;
    all.reserve(score.size());
    for (const auto& [id, s] : score) all.emplace_back(s, id);
    const size_t m = std::min(all.size(), static_cast<size_t>(k));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m), all.end(),
                      [](const auto& x, const auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
    for (size_t j = 0; j < m; ++j) {
      out.ids[static_cast<size_t>(q) * k + j] = all[j].second;
      out.scores[static_cast<size_t>(q) * k + j] = static_cast<float>(all[j].first);
    }
  }
  return out;
}

CandidateGenerator::CandidateGenerator(const float* emb, int64_t n, int64_t d, const Graph& friends,
                                       const Graph& exclude, const RetrievalConfig& cfg, const HnswIndex* index,
                                       uint64_t seed)
    : emb_(emb), n_(n), d_(d), friends_(friends), exclude_(exclude), cfg_(cfg), index_(index), seed_(seed),
      unit_(l2_normalized(emb, n, d)) {
  cfg_.expansion.validate();
  cfg_.blend.validate();
  EMBER_CHECK(friends.num_nodes() == n && exclude.num_nodes() == n,
              "candidates: graphs of " << friends.num_nodes() << " / " << exclude.num_nodes() << " users for " << n
                                       << " embeddings");
  EMBER_CHECK(!index || (index->size() == n && index->dim() == d),
              "candidates: the index holds " << index->size() << " x " << index->dim() << " vectors, the embeddings are "
                                             << n << " x " << d);
}

Rankings CandidateGenerator::from_fof(const std::vector<int32_t>& users, int32_t k, const HeldOut* truth) const {
  HeuristicOptions ho;
  ho.k = k;
  ho.seed = seed_;
  ho.truth = truth;
  return fof_rankings(friends_, exclude_, users, FofScore::AdamicAdar, ho);
}

Rankings CandidateGenerator::from_embeddings(const std::vector<int32_t>& users, int32_t k, const HeldOut* truth) const {
  const ExpansionConfig& e = cfg_.expansion;
  fallbacks_ = 0;
  if (!index_) {  // exact
    if (!e.enabled()) {
      TopKConfig t;
      t.k = k;
      Rankings r = exact_topk(emb_, n_, d_, users, &exclude_, t);
      if (truth) fill_exact_best_ranks(r, emb_, n_, d_, &exclude_, *truth, t);
      return r;
    }
    int64_t lonely = 0;
    Rankings r = exact_expanded_rankings(emb_, n_, d_, friends_, exclude_, users, k, e, truth, &lonely);
    fallbacks_ = lonely;
    return r;
  }
  if (!e.enabled()) return index_->search_users(users, k, &exclude_);
  if (e.merge == "mean") {
    int64_t lonely = 0;
    const std::vector<float> qv = expanded_query_vectors(unit_.data(), n_, d_, friends_, users, e, &lonely);
    fallbacks_ = lonely;
    return index_->search(qv.data(), users, k, &exclude_);
  }
  return index_expanded(users, k);
}

// merge "max" / "softcount" through the index: the user's and each expansion
// friend's own search (depth = blend depth or k), the union rescored exactly.
Rankings CandidateGenerator::index_expanded(const std::vector<int32_t>& users, int32_t k) const {
  const ExpansionConfig& e = cfg_.expansion;
  const int32_t fetch = std::max<int32_t>(k, static_cast<int32_t>(cfg_.blend.depth));
  Rankings out;
  out.queries = users;
  out.resize(users.size(), k);
  int64_t lonely = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    const int32_t q = users[i];
    EMBER_CHECK(q >= 0 && q < n_, "candidates: user " << q << " out of range 0.." << n_ - 1);
    const std::vector<int32_t> fr = expansion_friends(unit_.data(), d_, friends_, q, e);
    lonely += fr.empty();
    std::vector<int32_t> ids{q};
    ids.insert(ids.end(), fr.begin(), fr.end());
    std::vector<float> vecs(ids.size() * static_cast<size_t>(d_));
    for (size_t j = 0; j < ids.size(); ++j)
      std::copy(unit_.begin() + static_cast<int64_t>(ids[j]) * d_, unit_.begin() + static_cast<int64_t>(ids[j] + 1) * d_,
                vecs.begin() + static_cast<int64_t>(j) * d_);
    // Every list excludes the user's known friends (and the user).
    const std::vector<int32_t> owner(ids.size(), q);
    const Rankings lists = index_->search(vecs.data(), owner, fetch, &exclude_);
    std::vector<int32_t> cand;
    for (size_t j = 0; j < ids.size(); ++j)
      for (int32_t t = 0; t < fetch; ++t)
        if (lists.row(j)[t] >= 0) cand.push_back(lists.row(j)[t]);
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    // Exact scores of the union from each vector, merged by the rule.
    const int64_t m = static_cast<int64_t>(cand.size());
    std::vector<std::vector<float>> s(ids.size(), std::vector<float>(static_cast<size_t>(m)));
    for (size_t j = 0; j < ids.size(); ++j)
      for (int64_t c = 0; c < m; ++c) {
        double acc = 0;
        const float* a = vecs.data() + static_cast<int64_t>(j) * d_;
        const float* b = unit_.data() + static_cast<int64_t>(cand[c]) * d_;
        for (int64_t t = 0; t < d_; ++t) acc += static_cast<double>(a[t]) * b[t];
        s[j][static_cast<size_t>(c)] = static_cast<float>(acc);
      }
    std::vector<const float*> per_friend;
    for (size_t j = 1; j < ids.size(); ++j) per_friend.push_back(s[j].data());
    std::vector<float> merged(static_cast<size_t>(m));
    merge_expansion_scores(s[0].data(), per_friend, expansion_weights(friends_, fr, e), m, e, merged.data());
    std::vector<int64_t> order(static_cast<size_t>(m));
    for (int64_t c = 0; c < m; ++c) order[c] = c;
    const size_t keep = std::min(order.size(), static_cast<size_t>(k));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                      [&](int64_t a, int64_t b) { return topk_better(merged[a], cand[a], merged[b], cand[b]); });
    for (size_t j = 0; j < keep; ++j) {
      out.ids[i * k + j] = cand[order[j]];
      out.scores[i * k + j] = merged[order[j]];
    }
  }
  fallbacks_ = lonely;
  return out;
}

Rankings CandidateGenerator::generate(const std::vector<int32_t>& users, int32_t k, const HeldOut* truth) const {
  if (!cfg_.blend.enabled()) return from_embeddings(users, k, truth);
  const int32_t depth = static_cast<int32_t>(std::max<int64_t>(cfg_.blend.depth, k));
  const Rankings a = from_embeddings(users, depth, nullptr);
  const Rankings b = from_fof(users, depth, nullptr);
  return fuse_rankings(a, b, cfg_.blend.weight, cfg_.blend.rrf_k, k);
}

}  // namespace ember
