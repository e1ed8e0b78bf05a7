#include "engine/retrieval/baselines.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/philox.h"

namespace ember {

namespace {
bool is_friend(const Graph& g, int32_t u, int32_t v) {
  auto nb = g.neighbors_of(u);
  return std::binary_search(nb.begin(), nb.end(), v);
}
}  // namespace

Rankings fof_rankings(const Graph& train, const std::vector<int32_t>& queries, int32_t k, FofScore score) {
  const int64_t n = train.num_nodes();
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), k);
  const int64_t Q = static_cast<int64_t>(queries.size());
#pragma omp parallel
  {
    std::vector<float> acc(static_cast<size_t>(n), 0.0f);
    std::vector<int32_t> touched, cand;
#pragma omp for schedule(dynamic, 16)
    for (int64_t qi = 0; qi < Q; ++qi) {
      const int32_t u = queries[qi];
      touched.clear();
      for (int32_t v : train.neighbors_of(u)) {
        int64_t dv = train.degree(v);
        if (dv < 2) continue;  // only u
        float w = score == FofScore::CommonNeighbours ? 1.0f : static_cast<float>(1.0 / std::log(static_cast<double>(dv)));
        for (int32_t x : train.neighbors_of(v)) {
          if (x == u) continue;
          if (acc[x] == 0.0f) touched.push_back(x);
          acc[x] += w;
        }
      }
      cand.clear();
      for (int32_t x : touched)
        if (!is_friend(train, u, x)) cand.push_back(x);
      auto better = [&](int32_t a, int32_t b) {
        if (acc[a] != acc[b]) return acc[a] > acc[b];
        if (train.degree(a) != train.degree(b)) return train.degree(a) > train.degree(b);
        return a < b;
      };
      size_t m = std::min<size_t>(cand.size(), static_cast<size_t>(k));
      std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m), cand.end(), better);
      for (size_t j = 0; j < m; ++j) {
        out.ids[qi * k + static_cast<int64_t>(j)] = cand[j];
        out.scores[qi * k + static_cast<int64_t>(j)] = acc[cand[j]];
      }
      for (int32_t x : touched) acc[x] = 0.0f;
    }
  }
  return out;
}

Rankings popularity_rankings(const Graph& train, const std::vector<int32_t>& queries, int32_t k) {
  const int64_t n = train.num_nodes();
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return train.degree(a) > train.degree(b); });
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), k);
  const int64_t Q = static_cast<int64_t>(queries.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t qi = 0; qi < Q; ++qi) {
    const int32_t u = queries[qi];
    int32_t j = 0;
    for (int64_t i = 0; i < n && j < k; ++i) {
      int32_t x = order[i];
      if (x == u || is_friend(train, u, x)) continue;
      out.ids[qi * k + j] = x;
      out.scores[qi * k + j] = static_cast<float>(train.degree(x));
      ++j;
    }
  }
  return out;
}

Rankings random_rankings(const Graph& train, const std::vector<int32_t>& queries, int32_t k, uint64_t seed) {
  const int64_t n = train.num_nodes();
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), k);
  const int64_t Q = static_cast<int64_t>(queries.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t qi = 0; qi < Q; ++qi) {
    const int32_t u = queries[qi];
    Rng r(seed, static_cast<uint64_t>(u));
    const int64_t avail = n - 1 - train.degree(u);
    std::vector<int32_t> pick;
    if (avail <= 4LL * k) {  // small graph: shuffle all candidates
      for (int64_t x = 0; x < n; ++x)
        if (x != u && !is_friend(train, u, static_cast<int32_t>(x))) pick.push_back(static_cast<int32_t>(x));
      for (size_t i = 0; i + 1 < pick.size(); ++i) std::swap(pick[i], pick[i + r.below(pick.size() - i)]);
      if (pick.size() > static_cast<size_t>(k)) pick.resize(static_cast<size_t>(k));
    } else {  // rejection sampling, distinct
      while (pick.size() < static_cast<size_t>(k)) {
        int32_t x = static_cast<int32_t>(r.below(static_cast<uint64_t>(n)));
        if (x == u || is_friend(train, u, x) || std::find(pick.begin(), pick.end(), x) != pick.end()) continue;
        pick.push_back(x);
      }
    }
    for (size_t j = 0; j < pick.size(); ++j) {
      out.ids[qi * k + static_cast<int64_t>(j)] = pick[j];
      out.scores[qi * k + static_cast<int64_t>(j)] = 0.0f;
    }
  }
  return out;
}

std::vector<float> feature_embeddings(const SparseFeatures& f, int32_t dim, uint64_t seed, bool tfidf) {
  EMBER_CHECK(dim > 0, "feature_embeddings: dim must be > 0");
  const int64_t n = f.num_rows, C = f.num_cols;
  std::vector<float> idf(static_cast<size_t>(C), 1.0f);
  if (tfidf) {
    std::vector<int64_t> df(static_cast<size_t>(C), 0);
    for (int32_t c : f.col) df[c]++;
    for (int64_t c = 0; c < C; ++c) idf[c] = static_cast<float>(std::log((1.0 + n) / (1.0 + df[c])) + 1.0);
  }
  // Projection matrix C x dim, N(0, 1) via Philox (independent of threads).
  std::vector<float> proj(static_cast<size_t>(C * dim));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    Rng r(seed, static_cast<uint64_t>(c));
    for (int32_t j = 0; j < dim; ++j) proj[c * dim + j] = static_cast<float>(r.normal());
  }
  std::vector<float> out(static_cast<size_t>(n * dim), 0.0f);
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t u = 0; u < n; ++u) {
    float* o = out.data() + u * dim;
    for (int64_t e = f.row_ptr[u]; e < f.row_ptr[u + 1]; ++e) {
      float w = f.val[e] * idf[f.col[e]];
      const float* p = proj.data() + static_cast<int64_t>(f.col[e]) * dim;
      for (int32_t j = 0; j < dim; ++j) o[j] += w * p[j];
    }
  }
  return out;
}

std::vector<float> propagate_embeddings(const Graph& g, const std::vector<float>& emb, int32_t dim, int32_t hops) {
  const int64_t n = g.num_nodes();
  EMBER_CHECK(static_cast<int64_t>(emb.size()) == n * dim, "propagate_embeddings: " << emb.size() << " values for "
                                                                                    << n << " x " << dim);
  std::vector<float> cur = emb, next(emb.size());
  for (int32_t h = 0; h < hops; ++h) {
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t u = 0; u < n; ++u) {
      float* o = next.data() + u * dim;
      const float* self = cur.data() + u * dim;
      for (int32_t j = 0; j < dim; ++j) o[j] = self[j];
      for (int32_t v : g.neighbors_of(u)) {
        const float* p = cur.data() + static_cast<int64_t>(v) * dim;
        for (int32_t j = 0; j < dim; ++j) o[j] += p[j];
      }
      float inv = 1.0f / static_cast<float>(1 + g.degree(u));
      for (int32_t j = 0; j < dim; ++j) o[j] *= inv;
    }
    std::swap(cur, next);
  }
  return cur;
}

}  // namespace ember
