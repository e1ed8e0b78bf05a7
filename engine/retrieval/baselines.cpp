#include "engine/retrieval/baselines.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/philox.h"

namespace ember {

uint64_t tie_key(uint64_t seed, int32_t query, int32_t item) {
  return philox::bits64(seed, 0x7fe0000000000000ULL + static_cast<uint64_t>(static_cast<uint32_t>(query)),
                        static_cast<uint64_t>(static_cast<uint32_t>(item)));
}

namespace {

struct Scored {
  float score;
  uint64_t key;
  int32_t id;
};
// Higher score first; ties by the random key, then the id.
inline bool better(const Scored& a, const Scored& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.key != b.key) return a.key < b.key;
  return a.id < b.id;
}

// Ranks every item of query u (all n users but u and its neighbours in
// `exclude`) by (score_of(item) desc, tie key asc) into row qi of `out`, and,
// with a truth set, the exact rank of u's best held-out friend.
template <class ScoreOf>
void rank_all_items(int32_t u, size_t qi, int64_t n, const Graph& exclude, const ScoreOf& score_of,
                    const HeuristicOptions& opt, std::vector<Scored>& heap, Rankings& out) {
  const int32_t k = out.k;
  const auto ex = exclude.neighbors_of(u);
  auto worse_on_top = [](const Scored& a, const Scored& b) { return better(a, b); };  // max-heap of the worst
  heap.clear();
  size_t e = 0;
  for (int32_t x = 0; x < n; ++x) {
    while (e < static_cast<size_t>(ex.size()) && ex[static_cast<int64_t>(e)] < x) ++e;
    if (x == u || (e < static_cast<size_t>(ex.size()) && ex[static_cast<int64_t>(e)] == x)) continue;
    const float s = score_of(x);
    if (static_cast<int32_t>(heap.size()) == k) {
      const Scored& w = heap.front();
      if (s < w.score) continue;  // cheap reject before hashing
      Scored c{s, tie_key(opt.seed, u, x), x};
      if (!better(c, w)) continue;
      std::pop_heap(heap.begin(), heap.end(), worse_on_top);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), worse_on_top);
    } else {
      heap.push_back(Scored{s, tie_key(opt.seed, u, x), x});
      std::push_heap(heap.begin(), heap.end(), worse_on_top);
    }
  }
  std::sort(heap.begin(), heap.end(), better);
  for (size_t j = 0; j < heap.size(); ++j) {
    out.ids[qi * k + j] = heap[j].id;
    out.scores[qi * k + j] = heap[j].score;
  }
  if (!opt.truth || opt.truth->count(u) == 0) return;
  // The best held-out friend, then every candidate that ranks above it.
  const int32_t* pos = opt.truth->items.data() + opt.truth->offsets[u];
  const int64_t npos = opt.truth->count(u);
  bool have = false;
  Scored best{0, 0, 0};
  for (int64_t i = 0; i < npos; ++i) {
    const int32_t p = pos[i];
    if (p == u || std::binary_search(ex.begin(), ex.end(), p)) continue;
    const Scored c{score_of(p), tie_key(opt.seed, u, p), p};
    if (!have || better(c, best)) best = c;
    have = true;
  }
  if (!have) return;
  int64_t above = 0;
  e = 0;
  for (int32_t x = 0; x < n; ++x) {
    while (e < static_cast<size_t>(ex.size()) && ex[static_cast<int64_t>(e)] < x) ++e;
    if (x == u || (e < static_cast<size_t>(ex.size()) && ex[static_cast<int64_t>(e)] == x)) continue;
    const float s = score_of(x);
    if (s < best.score) continue;
    if (better(Scored{s, s > best.score ? 0 : tie_key(opt.seed, u, x), x}, best)) ++above;
  }
  out.best_rank[qi] = above + 1;
}

Rankings empty_rankings(const std::vector<int32_t>& queries, const HeuristicOptions& opt) {
  EMBER_CHECK(opt.k >= 1, "heuristic rankings: k = " << opt.k << ", expected >= 1");
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), opt.k);
  if (opt.truth) out.best_rank.assign(queries.size(), 0);
  return out;
}

void check_queries(const std::vector<int32_t>& queries, int64_t n, const char* what) {
  for (int32_t q : queries) EMBER_CHECK(q >= 0 && q < n, what << ": query " << q << " out of range 0.." << n - 1);
}

}  // namespace

Rankings fof_rankings(const Graph& train, const Graph& exclude, const std::vector<int32_t>& queries, FofScore score,
                      const HeuristicOptions& opt) {
  const int64_t n = train.num_nodes();
  EMBER_CHECK(exclude.num_nodes() == n, "fof_rankings: exclusion graph has " << exclude.num_nodes() << " nodes, "
                                                                             << "training graph " << n);
  check_queries(queries, n, "fof_rankings");
  Rankings out = empty_rankings(queries, opt);
  const int64_t Q = static_cast<int64_t>(queries.size());
#pragma omp parallel if (Q > 16)
  {
    std::vector<float> acc(static_cast<size_t>(n), 0.0f);
    std::vector<int32_t> touched;
    std::vector<Scored> heap;
#pragma omp for schedule(dynamic, 16)
    for (int64_t qi = 0; qi < Q; ++qi) {
      const int32_t u = queries[qi];
      touched.clear();
      for (int32_t v : train.neighbors_of(u)) {
        const int64_t dv = train.degree(v);
        if (dv < 2) continue;  // only u
        const float w = score == FofScore::CommonNeighbours ? 1.0f : static_cast<float>(1.0 / std::log(static_cast<double>(dv)));
        for (int32_t x : train.neighbors_of(v)) {
          if (x == u) continue;
          if (acc[x] == 0.0f) touched.push_back(x);
          acc[x] += w;
        }
      }
      rank_all_items(u, static_cast<size_t>(qi), n, exclude, [&acc](int32_t x) { return acc[x]; }, opt, heap, out);
      for (int32_t x : touched) acc[x] = 0.0f;
    }
  }
  return out;
}

Rankings popularity_rankings(const Graph& train, const Graph& exclude, const std::vector<int32_t>& queries,
                             const HeuristicOptions& opt) {
  const int64_t n = train.num_nodes();
  EMBER_CHECK(exclude.num_nodes() == n, "popularity_rankings: exclusion graph has " << exclude.num_nodes()
                                                                                    << " nodes, training graph " << n);
  check_queries(queries, n, "popularity_rankings");
  Rankings out = empty_rankings(queries, opt);
  const int64_t Q = static_cast<int64_t>(queries.size());
#pragma omp parallel if (Q > 16)
  {
    std::vector<Scored> heap;
#pragma omp for schedule(dynamic, 16)
    for (int64_t qi = 0; qi < Q; ++qi)
      rank_all_items(queries[qi], static_cast<size_t>(qi), n, exclude,
                     [&train](int32_t x) { return static_cast<float>(train.degree(x)); }, opt, heap, out);
  }
  return out;
}

Rankings random_rankings(const Graph& exclude, const std::vector<int32_t>& queries, const HeuristicOptions& opt) {
  const int64_t n = exclude.num_nodes();
  check_queries(queries, n, "random_rankings");
  Rankings out = empty_rankings(queries, opt);
  const int64_t Q = static_cast<int64_t>(queries.size());
#pragma omp parallel if (Q > 16)
  {
    std::vector<Scored> heap;
#pragma omp for schedule(dynamic, 16)
    for (int64_t qi = 0; qi < Q; ++qi)
      rank_all_items(queries[qi], static_cast<size_t>(qi), n, exclude, [](int32_t) { return 0.0f; }, opt, heap, out);
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
