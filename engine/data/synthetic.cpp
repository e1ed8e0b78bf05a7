#include "engine/data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>

#include "core/philox.h"

namespace ember {

namespace {

// Philox stream ids: purpose in the high bits, user / community in the low bits.
enum Purpose : uint64_t { kCommunityWeight = 1, kCommunity, kTheta, kCold, kBaseEdges, kFeatures, kClosure = 16 };
inline Rng stream(uint64_t seed, uint64_t purpose, uint64_t id) { return Rng(seed, (purpose << 40) | id); }

constexpr int64_t kBlock = 1 << 14;  // users per work block (fixed: results do not depend on threads)

int64_t poisson(Rng& r, double lambda) {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    double limit = std::exp(-lambda), p = 1.0;
    int64_t k = 0;
    do { ++k; p *= r.uniform(); } while (p > limit);
    return k - 1;
  }
  double x = std::round(lambda + std::sqrt(lambda) * r.normal());
  return x < 0 ? 0 : static_cast<int64_t>(x);
}

// Index in [lo, hi) drawn proportionally to weights given as an inclusive
// prefix sum P; -1 when the range has no weight.
int64_t sample_prefix(const std::vector<double>& P, int64_t lo, int64_t hi, Rng& r) {
  double base = lo > 0 ? P[lo - 1] : 0.0, total = P[hi - 1] - base;
  if (!(total > 0)) return -1;
  for (int attempt = 0; attempt < 4; ++attempt) {
    double x = base + r.uniform() * total;
    int64_t i = std::upper_bound(P.begin() + lo, P.begin() + hi, x) - P.begin();
    if (i < hi) return i;
  }
  return hi - 1;
}

std::vector<double> zipf_prefix(int64_t n, double s) {
  std::vector<double> P(static_cast<size_t>(n));
  double run = 0;
  for (int64_t k = 0; k < n; ++k) P[k] = run += 1.0 / std::pow(static_cast<double>(k + 1), s);
  return P;
}

template <typename F> void for_blocks(int64_t n, F&& f) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < nb; ++b) f(b, b * kBlock, std::min(n, (b + 1) * kBlock));
}

struct EdgeBlocks {
  std::vector<std::vector<int32_t>> src, dst;
  explicit EdgeBlocks(int64_t n) : src(static_cast<size_t>((n + kBlock - 1) / kBlock)), dst(src.size()) {}
  void append_to(std::vector<int32_t>& s, std::vector<int32_t>& d) {
    size_t total = s.size();
    for (auto& v : src) total += v.size();
    s.reserve(total);
    d.reserve(total);
    for (size_t b = 0; b < src.size(); ++b) {
      s.insert(s.end(), src[b].begin(), src[b].end());
      d.insert(d.end(), dst[b].begin(), dst[b].end());
      std::vector<int32_t>().swap(src[b]);
      std::vector<int32_t>().swap(dst[b]);
    }
  }
};

}  // namespace

void SyntheticConfig::validate() const {
  EMBER_CHECK(num_users >= 2 && num_users <= std::numeric_limits<int32_t>::max(),
              "synthetic: num_users = " << num_users << ", expected 2 .. 2^31 - 1");
  EMBER_CHECK(num_communities >= 0 && num_communities <= num_users,
              "synthetic: num_communities = " << num_communities << ", expected 0 (auto) .. num_users");
  EMBER_CHECK(avg_degree > 0 && avg_degree < static_cast<double>(num_users) / 2,
              "synthetic: avg_degree = " << avg_degree << ", expected 0 < avg_degree < num_users / 2");
  EMBER_CHECK(feature_dim >= 1, "synthetic: feature_dim = " << feature_dim << ", expected >= 1");
  EMBER_CHECK(features_per_user >= 0, "synthetic: features_per_user = " << features_per_user << ", expected >= 0");
  EMBER_CHECK(community_vocab >= 1, "synthetic: community_vocab = " << community_vocab << ", expected >= 1");
  auto unit = [](double x) { return x >= 0 && x <= 1; };
  EMBER_CHECK(unit(homophily), "synthetic: homophily = " << homophily << ", expected 0..1");
  EMBER_CHECK(unit(feature_homophily), "synthetic: feature_homophily = " << feature_homophily << ", expected 0..1");
  EMBER_CHECK(triadic_closure >= 0 && triadic_closure < 1,
              "synthetic: triadic_closure = " << triadic_closure << ", expected 0 <= x < 1");
  EMBER_CHECK(closure_passes >= 1, "synthetic: closure_passes = " << closure_passes << ", expected >= 1");
  EMBER_CHECK(cold_start_fraction >= 0 && cold_start_fraction < 1,
              "synthetic: cold_start_fraction = " << cold_start_fraction << ", expected 0 <= x < 1");
  EMBER_CHECK(power_law_exponent > 2 && power_law_exponent < 10,
              "synthetic: power_law_exponent = " << power_law_exponent << ", expected 2 < x < 10 (finite mean degree)");
}

std::string SyntheticConfig::describe() const {
  std::ostringstream os;
  os << "users=" << num_users << " communities=" << num_communities << " avg_degree=" << avg_degree
     << " feature_dim=" << feature_dim << " features_per_user=" << features_per_user << " homophily=" << homophily
     << " feature_homophily=" << feature_homophily << " community_vocab=" << community_vocab
     << " triadic_closure=" << triadic_closure << " closure_passes=" << closure_passes
     << " cold_start_fraction=" << cold_start_fraction << " power_law_exponent=" << power_law_exponent
     << " seed=" << seed;
  return os.str();
}

SyntheticGraph generate_synthetic(const SyntheticConfig& cfg_in, bool verbose) {
  SyntheticConfig cfg = cfg_in;
  if (cfg.num_communities == 0) cfg.num_communities = static_cast<int32_t>(std::max<int64_t>(1, cfg.num_users / 250));
  cfg.validate();
  const int64_t n = cfg.num_users;
  const int64_t C = cfg.num_communities;
  const uint64_t seed = cfg.seed;
  SyntheticGraph out;
  out.config = cfg;

  // -- communities: log-normal sizes ------------------------------------------------------
  std::vector<double> cw(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    Rng r = stream(seed, kCommunityWeight, static_cast<uint64_t>(c));
    cw[c] = std::exp(0.5 * r.normal());
  }
  std::partial_sum(cw.begin(), cw.end(), cw.begin());
  out.community.resize(static_cast<size_t>(n));
  out.cold.resize(static_cast<size_t>(n));
  std::vector<double> theta(static_cast<size_t>(n));
  const double gamma = cfg.power_law_exponent;
  const double xmin = cfg.avg_degree * (gamma - 2) / (gamma - 1);
  const double cap = std::min(std::sqrt(static_cast<double>(n) * cfg.avg_degree), static_cast<double>(n) / 4);
  for_blocks(n, [&](int64_t, int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      Rng rc = stream(seed, kCommunity, static_cast<uint64_t>(u));
      double x = rc.uniform() * cw.back();
      out.community[u] = static_cast<int32_t>(std::min<int64_t>(C - 1, std::upper_bound(cw.begin(), cw.end(), x) - cw.begin()));
      Rng rt = stream(seed, kTheta, static_cast<uint64_t>(u));
      theta[u] = std::min(cap, xmin * std::pow(1.0 - rt.uniform(), -1.0 / (gamma - 1)));
      Rng rd = stream(seed, kCold, static_cast<uint64_t>(u));
      out.cold[u] = rd.uniform() < cfg.cold_start_fraction ? 1 : 0;
      if (out.cold[u]) theta[u] = 0;
    }
  });
  // Rescale warm thetas to mean avg_degree (block sums combined in block order).
  {
    const int64_t nb = (n + kBlock - 1) / kBlock;
    std::vector<double> bsum(static_cast<size_t>(nb), 0.0);
    std::vector<int64_t> bcnt(static_cast<size_t>(nb), 0);
    for_blocks(n, [&](int64_t blk, int64_t b, int64_t e) {
      for (int64_t u = b; u < e; ++u) { bsum[blk] += theta[u]; bcnt[blk] += out.cold[u] ? 0 : 1; }
    });
    double s = 0;
    int64_t warm = 0;
    for (int64_t i = 0; i < nb; ++i) { s += bsum[i]; warm += bcnt[i]; }
    double scale = (warm > 0 && s > 0) ? cfg.avg_degree * static_cast<double>(warm) / s : 1.0;
    for_blocks(n, [&](int64_t, int64_t b, int64_t e) { for (int64_t u = b; u < e; ++u) theta[u] *= scale; });
  }
  // Members sorted by community (counting sort, stable by user id) and the
  // inclusive prefix of theta in that order: partner sampling by binary search.
  std::vector<int64_t> cbegin(static_cast<size_t>(C) + 1, 0);
  for (int64_t u = 0; u < n; ++u) cbegin[out.community[u] + 1]++;
  for (int64_t c = 0; c < C; ++c) cbegin[c + 1] += cbegin[c];
  std::vector<int32_t> members(static_cast<size_t>(n));
  {
    std::vector<int64_t> fill(cbegin.begin(), cbegin.end() - 1);
    for (int64_t u = 0; u < n; ++u) members[fill[out.community[u]]++] = static_cast<int32_t>(u);
  }
  std::vector<double> P(static_cast<size_t>(n));
  {
    double run = 0;
    for (int64_t i = 0; i < n; ++i) P[i] = run += theta[members[i]];
  }

  // -- base edges ---------------------------------------------------------------------------
  const double tc = cfg.triadic_closure;
  std::vector<int32_t> src, dst;
  {
    EdgeBlocks blocks(n);
    for_blocks(n, [&](int64_t blk, int64_t b, int64_t e) {
      auto& S = blocks.src[blk];
      auto& D = blocks.dst[blk];
      for (int64_t u = b; u < e; ++u) {
        Rng r = stream(seed, kBaseEdges, static_cast<uint64_t>(u));
        int64_t k = out.cold[u] ? 1 + static_cast<int64_t>(r.below(2)) : poisson(r, theta[u] * (1 - tc) / 2);
        const int32_t c = out.community[u];
        for (int64_t j = 0; j < k; ++j) {
          int64_t i = -1;
          if (r.uniform() < cfg.homophily) i = sample_prefix(P, cbegin[c], cbegin[c + 1], r);
          if (i < 0) i = sample_prefix(P, 0, n, r);
          if (i < 0) break;
          S.push_back(static_cast<int32_t>(u));
          D.push_back(members[i]);
        }
      }
    });
    blocks.append_to(src, dst);
  }

  // -- triadic closure passes ------------------------------------------------------------------
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  for (int pass = 0; pass < cfg.closure_passes && tc > 0; ++pass) {
    Graph g = build_graph_dense(n, src, dst, quiet);
    EdgeBlocks blocks(n);
    for_blocks(n, [&](int64_t blk, int64_t b, int64_t e) {
      auto& S = blocks.src[blk];
      auto& D = blocks.dst[blk];
      for (int64_t u = b; u < e; ++u) {
        if (out.cold[u] || g.degree(u) == 0) continue;
        Rng r = stream(seed, kClosure + static_cast<uint64_t>(pass), static_cast<uint64_t>(u));
        int64_t k = poisson(r, theta[u] * tc / (2.0 * cfg.closure_passes));
        auto nu = g.neighbors_of(u);
        for (int64_t j = 0; j < k; ++j) {
          int32_t v = nu[static_cast<int64_t>(r.below(static_cast<uint64_t>(nu.size())))];
          auto nv = g.neighbors_of(v);
          int32_t w = nv[static_cast<int64_t>(r.below(static_cast<uint64_t>(nv.size())))];
          if (w == u || out.cold[w]) continue;
          S.push_back(static_cast<int32_t>(u));
          D.push_back(w);
        }
      }
    });
    blocks.append_to(src, dst);
  }
  GraphBuildStats stats;
  out.graph = build_graph_dense(n, src, dst, quiet, &stats);
  std::vector<int32_t>().swap(src);
  std::vector<int32_t>().swap(dst);

  // -- features --------------------------------------------------------------------------------
  SparseFeatures& F = out.graph.features;
  F.num_rows = n;
  F.num_cols = cfg.feature_dim;
  if (cfg.features_per_user > 0) {
    const int64_t dim = cfg.feature_dim;
    std::vector<double> zipf_global = zipf_prefix(dim, 1.0);
    std::vector<double> zipf_comm = zipf_prefix(cfg.community_vocab, 0.7);
    uint64_t mult = 0x9E3779B97F4A7C15ULL % static_cast<uint64_t>(dim);
    while (std::gcd<uint64_t, uint64_t>(mult, static_cast<uint64_t>(dim)) != 1) ++mult;  // rank -> id bijection
    const int64_t nb = (n + kBlock - 1) / kBlock;
    std::vector<std::vector<int32_t>> bcol(static_cast<size_t>(nb));
    std::vector<std::vector<int32_t>> bcount(static_cast<size_t>(nb));
    for_blocks(n, [&](int64_t blk, int64_t b, int64_t e) {
      std::vector<int32_t> tmp;
      for (int64_t u = b; u < e; ++u) {
        Rng r = stream(seed, kFeatures, static_cast<uint64_t>(u));
        int64_t k = 1 + poisson(r, cfg.features_per_user - 1.0);
        tmp.clear();
        for (int64_t j = 0; j < k; ++j) {
          uint64_t id;
          if (r.uniform() < cfg.feature_homophily) {
            int64_t slot = sample_prefix(zipf_comm, 0, cfg.community_vocab, r);
            id = philox::bits64(seed ^ 0x5eed, static_cast<uint64_t>(out.community[u]), static_cast<uint64_t>(slot)) %
                 static_cast<uint64_t>(dim);
          } else {
            uint64_t rank = static_cast<uint64_t>(sample_prefix(zipf_global, 0, dim, r));
            id = (rank * mult + 12345) % static_cast<uint64_t>(dim);
          }
          tmp.push_back(static_cast<int32_t>(id));
        }
        std::sort(tmp.begin(), tmp.end());
        tmp.erase(std::unique(tmp.begin(), tmp.end()), tmp.end());
        bcol[blk].insert(bcol[blk].end(), tmp.begin(), tmp.end());
        bcount[blk].push_back(static_cast<int32_t>(tmp.size()));
      }
    });
    F.row_ptr.assign(static_cast<size_t>(n) + 1, 0);
    int64_t u = 0;
    for (int64_t blk = 0; blk < nb; ++blk) {
      for (int32_t c : bcount[blk]) { F.row_ptr[u + 1] = F.row_ptr[u] + c; ++u; }
      F.col.insert(F.col.end(), bcol[blk].begin(), bcol[blk].end());
      std::vector<int32_t>().swap(bcol[blk]);
    }
    F.val.assign(F.col.size(), 1.0f);
  } else {
    F.row_ptr.assign(static_cast<size_t>(n) + 1, 0);
  }
  out.graph.labels.assign(out.community.begin(), out.community.end());

  if (verbose) {
    int64_t cold = 0;
    for (uint8_t c : out.cold) cold += c;
    std::printf("synthetic: %lld users, %lld edges (mean degree %.2f), %lld communities, %lld cold-start users, "
                "%lld feature nonzeros (seed %llu; %lld self-loops, %lld duplicates removed)\n",
                static_cast<long long>(n), static_cast<long long>(out.graph.num_edges()),
                2.0 * static_cast<double>(out.graph.num_edges()) / static_cast<double>(n), static_cast<long long>(C),
                static_cast<long long>(cold), static_cast<long long>(F.nnz()), static_cast<unsigned long long>(seed),
                static_cast<long long>(stats.self_loops), static_cast<long long>(stats.duplicates));
    std::fflush(stdout);
  }
  return out;
}

}  // namespace ember
