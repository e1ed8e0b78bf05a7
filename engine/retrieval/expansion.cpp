#include "engine/retrieval/expansion.h"

#include <algorithm>
#include <exception>
#include <cmath>
#include <numeric>

#include "engine/data/split.h"
#include "engine/retrieval/exact_topk.h"
#include "kernels/tensor_ops.h"

namespace ember {

namespace {
double dot(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(a[j]) * b[j];
  return s;
}
int64_t common_friends(const Graph& g, int32_t a, int32_t b) {
  const auto x = g.neighbors_of(a), y = g.neighbors_of(b);
  int64_t i = 0, j = 0, c = 0;
  while (i < x.size() && j < y.size()) {
    if (x[i] < y[j]) ++i;
    else if (y[j] < x[i]) ++j;
    else { ++c; ++i; ++j; }
  }
  return c;
}
}  // namespace

std::vector<int32_t> expansion_friends(const float* normalized, int64_t d, const Graph& friends, int32_t q,
                                       const ExpansionConfig& cfg) {
  const auto nb = friends.neighbors_of(q);
  std::vector<int32_t> out(nb.begin(), nb.end());
  if (cfg.select == "all" || static_cast<int64_t>(out.size()) <= cfg.friends) return out;
  std::vector<double> key(out.size());
  for (size_t i = 0; i < out.size(); ++i)
    key[i] = cfg.select == "similar" ? dot(normalized + static_cast<int64_t>(q) * d, normalized + static_cast<int64_t>(out[i]) * d, d)
                                     : static_cast<double>(common_friends(friends, q, out[i]));
  std::vector<size_t> order(out.size());
  std::iota(order.begin(), order.end(), 0);
  // Higher key first, ties to the smaller id (deterministic).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] > key[b]; });
  std::vector<int32_t> chosen;
  for (int64_t i = 0; i < cfg.friends; ++i) chosen.push_back(out[order[static_cast<size_t>(i)]]);
  return chosen;
}

std::vector<double> expansion_weights(const Graph& friends, const std::vector<int32_t>& chosen,
                                       const ExpansionConfig& cfg) {
  std::vector<double> a(chosen.size(), 1.0);
  if (cfg.weight == "inverse_log_degree")
    for (size_t i = 0; i < chosen.size(); ++i) a[i] = 1.0 / std::log(1.0 + static_cast<double>(friends.degree(chosen[i])));
  return a;
}

void merge_expansion_scores(const float* own, const std::vector<const float*>& per_friend,
                            const std::vector<double>& a, int64_t n, const ExpansionConfig& cfg, float* out) {
  const double w = per_friend.empty() ? 1.0 : cfg.self_weight;
  double total = 0;
  for (double x : a) total += x;
  const double inv_tau = 1.0 / cfg.temperature;
  for (int64_t c = 0; c < n; ++c) {
    double f = 0;
    if (cfg.merge == "max") {
      f = -INFINITY;
      for (const float* s : per_friend) f = std::max(f, static_cast<double>(s[c]));
      if (per_friend.empty()) f = 0;
      out[c] = static_cast<float>(w * own[c] + (1.0 - w) * f);
    } else if (cfg.merge == "softcount") {
      for (size_t i = 0; i < per_friend.size(); ++i) f += a[i] * std::exp((per_friend[i][c] - 1.0) * inv_tau);
      out[c] = static_cast<float>(w * std::exp((own[c] - 1.0) * inv_tau) + (1.0 - w) * (total > 0 ? f / total : 0.0));
    } else {
      for (size_t i = 0; i < per_friend.size(); ++i) f += a[i] * per_friend[i][c];
      out[c] = static_cast<float>(w * own[c] + (1.0 - w) * (total > 0 ? f / total : 0.0));
    }
  }
}

std::vector<float> expanded_query_vectors(const float* normalized, int64_t n, int64_t d, const Graph& friends,
                                          const std::vector<int32_t>& users, const ExpansionConfig& cfg,
                                          int64_t* fallbacks) {
  cfg.validate();
  EMBER_CHECK(friends.num_nodes() == n, "query expansion: the friendship graph has " << friends.num_nodes()
                                                                                     << " users, the embeddings " << n);
  const int64_t Q = static_cast<int64_t>(users.size());
  std::vector<float> out(static_cast<size_t>(Q * d));
  int64_t lonely = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : lonely) if (Q > 64)
  for (int64_t i = 0; i < Q; ++i) {
    const int32_t q = users[i];
    EMBER_CHECK(q >= 0 && q < n, "query expansion: user " << q << " out of range 0.." << n - 1);
    const float* eq = normalized + static_cast<int64_t>(q) * d;
    float* v = out.data() + i * d;
    const std::vector<int32_t> fr = expansion_friends(normalized, d, friends, q, cfg);
    if (fr.empty()) {
      std::copy(eq, eq + d, v);
      ++lonely;
      continue;
    }
    std::vector<double> acc(static_cast<size_t>(d), 0.0);
    double total = 0;
    for (int32_t f : fr) {
      const double a = cfg.weight == "uniform" ? 1.0 : 1.0 / std::log(1.0 + static_cast<double>(friends.degree(f)));
      const float* ef = normalized + static_cast<int64_t>(f) * d;
      for (int64_t j = 0; j < d; ++j) acc[j] += a * ef[j];
      total += a;
    }
    const double w = cfg.self_weight;
    for (int64_t j = 0; j < d; ++j) v[j] = static_cast<float>(w * eq[j] + (1.0 - w) * acc[j] / total);
  }
  if (fallbacks) *fallbacks = lonely;
  return out;
}

Rankings exact_expanded_rankings(const float* emb, int64_t n, int64_t d, const Graph& friends, const Graph& exclude,
                                 const std::vector<int32_t>& users, int32_t k, const ExpansionConfig& cfg,
                                 const HeldOut* truth, int64_t* fallbacks) {
  cfg.validate();
  EMBER_CHECK(k >= 1, "query expansion: k = " << k << ", expected >= 1");
  EMBER_CHECK(friends.num_nodes() == n && exclude.num_nodes() == n,
              "query expansion: graphs of " << friends.num_nodes() << " / " << exclude.num_nodes()
                                            << " users for " << n << " embeddings");
  EMBER_CHECK(!truth || truth->num_nodes() == n, "query expansion: held-out set of " << truth->num_nodes() << " users");
  const std::vector<float> unit = l2_normalized(emb, n, d);
  const Tensor items = Tensor::from_vector(unit, {n, d});
  Rankings out;
  out.queries = users;
  out.resize(users.size(), k);
  if (truth) out.best_rank.assign(users.size(), 0);
  const int64_t Q = static_cast<int64_t>(users.size());
  int64_t lonely = 0;
  std::exception_ptr error;
#pragma omp parallel reduction(+ : lonely)
  {
    std::vector<float> merged(static_cast<size_t>(n));
    std::vector<int32_t> cand;
#pragma omp for schedule(dynamic, 8)
    for (int64_t i = 0; i < Q; ++i) {
      try {
        const int32_t q = users[i];
        EMBER_CHECK(q >= 0 && q < n, "query expansion: user " << q << " out of range 0.." << n - 1);
        const std::vector<int32_t> fr = cfg.enabled() ? expansion_friends(unit.data(), d, friends, q, cfg)
                                                      : std::vector<int32_t>{};
        lonely += fr.empty();
        std::vector<float> rows(static_cast<size_t>((1 + fr.size()) * d));
        std::copy(unit.begin() + static_cast<int64_t>(q) * d, unit.begin() + static_cast<int64_t>(q + 1) * d, rows.begin());
        for (size_t j = 0; j < fr.size(); ++j)
          std::copy(unit.begin() + static_cast<int64_t>(fr[j]) * d, unit.begin() + static_cast<int64_t>(fr[j] + 1) * d,
                    rows.begin() + static_cast<int64_t>(j + 1) * d);
        const Tensor s = tensor::matmul(Tensor::from_vector(rows, {static_cast<int64_t>(1 + fr.size()), d}), items,
                                        false, true);
        const float* sp = s.data<float>();
        std::vector<const float*> per_friend;
        for (size_t j = 0; j < fr.size(); ++j) per_friend.push_back(sp + static_cast<int64_t>(j + 1) * n);
        merge_expansion_scores(sp, per_friend, expansion_weights(friends, fr, cfg), n, cfg, merged.data());
        // Candidates: everyone but q and its excluded friends.
        const auto ex = exclude.neighbors_of(q);
        cand.clear();
        size_t e = 0;
        for (int32_t c = 0; c < n; ++c) {
          while (e < static_cast<size_t>(ex.size()) && ex[static_cast<int64_t>(e)] < c) ++e;
          if (c == q || (e < static_cast<size_t>(ex.size()) && ex[static_cast<int64_t>(e)] == c) || std::isnan(merged[c]))
            continue;
          cand.push_back(c);
        }
        auto better = [&](int32_t a, int32_t b) { return topk_better(merged[a], a, merged[b], b); };
        const size_t m = std::min(cand.size(), static_cast<size_t>(k));
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m), cand.end(), better);
        for (size_t j = 0; j < m; ++j) {
          out.ids[static_cast<size_t>(i) * k + j] = cand[j];
          out.scores[static_cast<size_t>(i) * k + j] = merged[cand[j]];
        }
        if (truth && truth->count(q) > 0) {
          const int32_t* pos = truth->items.data() + truth->offsets[q];
          int32_t best = -1;
          for (int64_t j = 0; j < truth->count(q); ++j) {
            const int32_t p = pos[j];
            if (p == q || std::binary_search(ex.begin(), ex.end(), p) || std::isnan(merged[p])) continue;
            if (best < 0 || better(p, best)) best = p;
          }
          if (best >= 0) {
            int64_t above = 0;
            for (int32_t c : cand) above += better(c, best);
            out.best_rank[static_cast<size_t>(i)] = above + 1;
          }
        }
      } catch (...) {
#pragma omp critical(ember_expansion_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  if (fallbacks) *fallbacks = lonely;
  return out;
}

}  // namespace ember
