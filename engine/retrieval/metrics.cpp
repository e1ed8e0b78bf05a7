#include "engine/retrieval/metrics.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ember {

namespace {
std::string bucket_name(const std::vector<int64_t>& e, size_t b) {
  if (b + 1 == e.size()) return ">" + std::to_string(e[b] - 1);
  if (e[b + 1] - 1 == e[b]) return std::to_string(e[b]);
  return std::to_string(e[b]) + "-" + std::to_string(e[b + 1] - 1);
}
}  // namespace

EvalReport evaluate_rankings(const Rankings& r, const Graph& train, const HeldOut& truth, const std::string& method,
                             const MetricsConfig& cfg) {
  EMBER_CHECK(truth.num_nodes() == train.num_nodes(),
              "evaluate: held-out set has " << truth.num_nodes() << " nodes, training graph " << train.num_nodes());
  EMBER_CHECK(!cfg.bucket_edges.empty() && cfg.bucket_edges[0] == 0, "evaluate: bucket edges must start at 0");
  const size_t nk = cfg.ks.size();
  const size_t nbk = cfg.bucket_edges.size();
  EvalReport rep;
  rep.method = method;
  rep.ks = cfg.ks;
  rep.mrr_depth = cfg.mrr_depth;
  rep.mrr_exact = !r.best_rank.empty();
  EMBER_CHECK(!rep.mrr_exact || r.best_rank.size() == r.queries.size(),
              "evaluate: best_rank has " << r.best_rank.size() << " entries for " << r.queries.size() << " queries");
  rep.buckets.resize(1 + nbk);
  rep.buckets[0].name = "all";
  for (size_t b = 0; b < nbk; ++b) rep.buckets[1 + b].name = bucket_name(cfg.bucket_edges, b);
  for (auto& b : rep.buckets) { b.recall.assign(nk, 0.0); b.hit_rate.assign(nk, 0.0); }

  const int32_t depth = r.k;
  for (size_t q = 0; q < r.queries.size(); ++q) {
    const int32_t u = r.queries[q];
    const int64_t npos = truth.count(u);
    if (npos == 0) continue;  // nothing to find: not a query of this evaluation
    const int32_t* pos = truth.items.data() + truth.offsets[u];
    const int32_t* list = r.row(q);
    // rank (1-based) of every hit, in order
    std::vector<int32_t> hit_ranks;
    for (int32_t j = 0; j < depth; ++j)
      if (list[j] >= 0 && std::binary_search(pos, pos + npos, list[j])) hit_ranks.push_back(j + 1);
    int64_t deg = train.degree(u);
    size_t b = static_cast<size_t>(std::upper_bound(cfg.bucket_edges.begin(), cfg.bucket_edges.end(), deg) -
                                   cfg.bucket_edges.begin()) - 1;
    for (BucketMetrics* m : {&rep.buckets[0], &rep.buckets[1 + b]}) {
      m->num_queries++;
      for (size_t i = 0; i < nk; ++i) {
        int64_t hits = std::upper_bound(hit_ranks.begin(), hit_ranks.end(), cfg.ks[i]) - hit_ranks.begin();
        m->recall[i] += static_cast<double>(hits) / static_cast<double>(npos);
        m->hit_rate[i] += hits > 0 ? 1.0 : 0.0;
      }
      if (rep.mrr_exact) {
        if (r.best_rank[q] > 0) m->mrr += 1.0 / static_cast<double>(r.best_rank[q]);
      } else if (!hit_ranks.empty() && hit_ranks[0] <= cfg.mrr_depth) {
        m->mrr += 1.0 / hit_ranks[0];
      }
    }
  }
  for (auto& m : rep.buckets) {
    if (m.num_queries == 0) continue;
    double inv = 1.0 / static_cast<double>(m.num_queries);
    for (size_t i = 0; i < nk; ++i) { m.recall[i] *= inv; m.hit_rate[i] *= inv; }
    m.mrr *= inv;
  }
  return rep;
}

double EvalReport::recall(const std::string& bucket, int32_t k) const {
  for (const auto& b : buckets) {
    if (b.name != bucket) continue;
    for (size_t i = 0; i < ks.size(); ++i)
      if (ks[i] == k) return b.recall[i];
  }
  EMBER_FAIL("EvalReport: no recall@" << k << " for bucket '" << bucket << "'");
}

nlohmann::json EvalReport::to_json() const {
  nlohmann::json j;
  j["method"] = method;
  j["mrr_depth"] = mrr_depth;
  j["mrr_exact"] = mrr_exact;
  j["ks"] = ks;
  nlohmann::json bs = nlohmann::json::array();
  for (const auto& b : buckets) {
    nlohmann::json x;
    x["bucket"] = b.name;
    x["queries"] = b.num_queries;
    for (size_t i = 0; i < ks.size(); ++i) {
      x["recall@" + std::to_string(ks[i])] = b.recall[i];
      x["hit_rate@" + std::to_string(ks[i])] = b.hit_rate[i];
    }
    x["mrr"] = b.mrr;
    bs.push_back(x);
  }
  j["buckets"] = bs;
  return j;
}

std::string EvalReport::table() const {
  std::ostringstream os;
  char buf[64];
  os << method << (mrr_exact ? "" : "  (MRR from the list, to depth " + std::to_string(mrr_depth) + ")") << "\n";
  os << "  bucket    queries";
  for (int32_t k : ks) { std::snprintf(buf, sizeof buf, "  R@%-4d", k); os << buf; }
  for (int32_t k : ks) { std::snprintf(buf, sizeof buf, " HR@%-4d", k); os << buf; }
  os << "    MRR\n";
  for (const auto& b : buckets) {
    std::snprintf(buf, sizeof buf, "  %-7s %9lld", b.name.c_str(), static_cast<long long>(b.num_queries));
    os << buf;
    for (double v : b.recall) { std::snprintf(buf, sizeof buf, "  %.4f", v); os << buf; }
    for (double v : b.hit_rate) { std::snprintf(buf, sizeof buf, "  %.4f", v); os << buf; }
    std::snprintf(buf, sizeof buf, "  %.4f\n", b.mrr);
    os << buf;
  }
  return os.str();
}

EvalReport evaluate_embeddings(const float* emb, int64_t n, int64_t d, const Graph& train, const Graph& exclude,
                               const HeldOut& truth, const std::string& method, const TopKConfig& topk,
                               const MetricsConfig& cfg, const ExpansionConfig* expansion) {
  TopKConfig t = topk;
  for (int32_t k : cfg.ks) t.k = std::max(t.k, k);
  const std::vector<int32_t> users = truth.users();
  if (expansion && expansion->enabled()) {
    EMBER_CHECK(t.normalize, "evaluate_embeddings: query expansion needs normalised (cosine) retrieval");
    Rankings r = exact_expanded_rankings(emb, n, d, train, exclude, users, t.k, *expansion, &truth);
    return evaluate_rankings(r, train, truth, method, cfg);
  }
  Rankings r = exact_topk(emb, n, d, users, &exclude, t);
  fill_exact_best_ranks(r, emb, n, d, &exclude, truth, t);
  return evaluate_rankings(r, train, truth, method, cfg);
}

}  // namespace ember
