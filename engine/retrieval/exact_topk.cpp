#include "engine/retrieval/exact_topk.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <omp.h>

#include "kernels/tensor_ops.h"
#include "ops/topk.h"

namespace ember {

void Rankings::resize(size_t num_queries, int32_t k_) {
  k = k_;
  ids.assign(num_queries * static_cast<size_t>(k_), -1);
  scores.assign(num_queries * static_cast<size_t>(k_), -INFINITY);
}

namespace {
// out = emb with every row scaled to unit L2 norm (zero rows stay zero).
void l2_normalize_into(const float* emb, int64_t n, int64_t d, float* out) {
#pragma omp parallel for schedule(static) if (n * d > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float* x = emb + i * d;
    float* r = out + i * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * x[j];
    const float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 1.0f;
    for (int64_t j = 0; j < d; ++j) r[j] = x[j] * inv;
  }
}
}  // namespace

std::vector<float> l2_normalized(const float* emb, int64_t n, int64_t d) {
  std::vector<float> out(static_cast<size_t>(n * d));
  l2_normalize_into(emb, n, d, out.data());
  return out;
}

namespace {
// exact_topk over the items [item_begin, item_begin + n) of `total` (ids
// global; `emb` holds those n rows). Queries come from query_vectors, or, for
// the whole set (item_begin 0, n == total), from their own rows.
Rankings topk_over_items(const float* emb, int64_t item_begin, int64_t n, int64_t total, int64_t d,
                         const std::vector<int32_t>& queries, const Graph* exclude, const TopKConfig& cfg,
                         const float* query_vectors) {
  EMBER_CHECK(n >= 0 && d > 0, "exact_topk: bad embedding shape " << n << " x " << d);
  EMBER_CHECK(item_begin >= 0 && item_begin + n <= total,
              "exact_topk: items [" << item_begin << ", " << item_begin + n << ") outside 0.." << total);
  EMBER_CHECK(cfg.k >= 0, "exact_topk: k = " << cfg.k << ", expected >= 0");
  EMBER_CHECK(cfg.query_block >= 1 && cfg.item_block >= 1,
              "exact_topk: query_block and item_block must be >= 1, got " << cfg.query_block << ", " << cfg.item_block);
  EMBER_CHECK(!exclude || exclude->num_nodes() == total,
              "exact_topk: exclusion graph has " << exclude->num_nodes() << " nodes, embeddings " << total);
  EMBER_CHECK(query_vectors || n == total, "exact_topk: a block of items needs query vectors");
  for (int32_t q : queries) EMBER_CHECK(q >= 0 && q < total, "exact_topk: query id " << q << " out of range 0.." << total - 1);
  const int64_t item_end = item_begin + n;
  const int64_t Q = static_cast<int64_t>(queries.size());
  const int32_t k = cfg.k;
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), k);
  if (Q == 0 || n == 0 || k == 0) return out;
  const Device dev = cfg.device;
  // The items once, normalised (cosine) or as given, on the device.
  Tensor host_items = Tensor::empty({n, d}, DType::F32);
  float* hp = host_items.data<float>();
  if (cfg.normalize) {
    l2_normalize_into(emb, n, d, hp);
  } else {
    std::copy(emb, emb + n * d, hp);
  }
  const float* items = hp;
  const Tensor all = dev == Device::CPU ? host_items : host_items.to(dev);
  auto run_block = [&](int64_t q0, int64_t nb) {
    std::vector<float> qh(static_cast<size_t>(nb * d));
    std::vector<int64_t> eo(static_cast<size_t>(nb) + 1, 0);
    std::vector<int32_t> ei;
    for (int64_t i = 0; i < nb; ++i) {
      const int32_t q = queries[q0 + i];
      const float* qv = query_vectors ? query_vectors + (q0 + i) * d : items + q * d;
      std::copy(qv, qv + d, qh.begin() + i * d);
      // Exclusions: the query and its neighbours, sorted, as rows of this block.
      const size_t start = ei.size();
      if (q >= item_begin && q < item_end) ei.push_back(static_cast<int32_t>(q - item_begin));
      if (exclude)
        for (int32_t v : exclude->neighbors_of(q))
          if (v >= item_begin && v < item_end) ei.push_back(static_cast<int32_t>(v - item_begin));
      std::sort(ei.begin() + static_cast<std::ptrdiff_t>(start), ei.end());
      eo[i + 1] = static_cast<int64_t>(ei.size());
    }
    TopKLists best = topk_inner_product(Tensor::from_vector(qh, {nb, d}, dev), all,
                                        Tensor::from_vector(eo, {nb + 1}, dev),
                                        Tensor::from_vector(ei, {static_cast<int64_t>(ei.size())}, dev), k,
                                        cfg.item_block);
    const std::vector<float> hs = best.scores.to_vector<float>();
    const std::vector<int32_t> hi = best.ids.to_vector<int32_t>();
    std::copy(hs.begin(), hs.end(), out.scores.begin() + q0 * k);
    for (size_t j = 0; j < hi.size(); ++j)
      out.ids[static_cast<size_t>(q0 * k) + j] = hi[j] < 0 ? -1 : static_cast<int32_t>(hi[j] + item_begin);
  };
  if (dev == Device::CPU) {
    // One query block per thread at a time (the kernels run single-threaded
    // inside the parallel region); the lists do not depend on the thread count.
    const int threads = omp_get_max_threads();
    const int64_t B = std::max<int64_t>(1, std::min<int64_t>(cfg.query_block, (Q + threads - 1) / threads));
    const int64_t nblocks = (Q + B - 1) / B;
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      try {
        run_block(blk * B, std::min(B, Q - blk * B));
      } catch (...) {
#pragma omp critical(ember_exact_topk_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  } else {
    const int64_t B = std::min<int64_t>(cfg.query_block, Q);
    for (int64_t q0 = 0; q0 < Q; q0 += B) run_block(q0, std::min(B, Q - q0));
  }
  return out;
}
}  // namespace

Rankings exact_topk(const float* emb, int64_t n, int64_t d, const std::vector<int32_t>& queries, const Graph* exclude,
                    const TopKConfig& cfg, const float* query_vectors) {
  return topk_over_items(emb, 0, n, n, d, queries, exclude, cfg, query_vectors);
}

Rankings exact_topk_block(const float* emb, int64_t item_begin, int64_t n, int64_t total, int64_t d,
                          const std::vector<int32_t>& queries, const float* query_vectors, const Graph* exclude,
                          const TopKConfig& cfg) {
  EMBER_CHECK(query_vectors != nullptr || queries.empty(), "exact_topk_block: query vectors are required");
  return topk_over_items(emb, item_begin, n, total, d, queries, exclude, cfg, query_vectors);
}

Rankings merge_rankings(const std::vector<Rankings>& parts, int32_t k) {
  EMBER_CHECK(!parts.empty(), "merge_rankings: no parts");
  Rankings out;
  out.queries = parts[0].queries;
  out.resize(out.queries.size(), k);
  for (const Rankings& p : parts)
    EMBER_CHECK(p.queries == out.queries, "merge_rankings: the parts rank different queries");
  std::vector<std::pair<float, int32_t>> all;
  for (size_t q = 0; q < out.queries.size(); ++q) {
    all.clear();
    for (const Rankings& p : parts)
      for (int32_t j = 0; j < p.k; ++j)
        if (p.row(q)[j] >= 0) all.emplace_back(p.row_scores(q)[j], p.row(q)[j]);
    const size_t keep = std::min(all.size(), static_cast<size_t>(k));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                      [](const auto& a, const auto& b) { return topk_better(a.first, a.second, b.first, b.second); });
    for (size_t j = 0; j < keep; ++j) {
      out.ids[q * static_cast<size_t>(k) + j] = all[j].second;
      out.scores[q * static_cast<size_t>(k) + j] = all[j].first;
    }
  }
  return out;
}

void fill_exact_best_ranks(Rankings& r, const float* emb, int64_t n, int64_t d, const Graph* exclude,
                           const HeldOut& truth, const TopKConfig& cfg, const float* query_vectors) {
  EMBER_CHECK(truth.num_nodes() == n, "exact ranks: held-out set has " << truth.num_nodes() << " nodes, embeddings " << n);
  EMBER_CHECK(!exclude || exclude->num_nodes() == n,
              "exact ranks: exclusion graph has " << exclude->num_nodes() << " nodes, embeddings " << n);
  const size_t Q = r.queries.size();
  r.best_rank.assign(Q, 0);
  std::vector<int32_t> todo;  // positions in r.queries whose best friend is not in the list
  for (size_t q = 0; q < Q; ++q) {
    const int32_t u = r.queries[q];
    const int64_t npos = truth.count(u);
    if (npos == 0) continue;
    const int32_t* pos = truth.items.data() + truth.offsets[u];
    for (int32_t j = 0; j < r.k; ++j) {
      const int32_t x = r.row(q)[j];
      if (x >= 0 && std::binary_search(pos, pos + npos, x)) {
        r.best_rank[q] = j + 1;
        break;
      }
    }
    if (r.best_rank[q] == 0) todo.push_back(static_cast<int32_t>(q));
  }
  if (todo.empty()) return;
  Tensor items = Tensor::empty({n, d}, DType::F32);
  if (cfg.normalize) l2_normalize_into(emb, n, d, items.data<float>());
  else std::copy(emb, emb + n * d, items.data<float>());
  const Device dev = cfg.device;
  const Tensor all = dev == Device::CPU ? items : items.to(dev);
  const float* hp = items.data<float>();
  const int64_t B = std::max<int64_t>(1, cfg.query_block);
  for (size_t t0 = 0; t0 < todo.size(); t0 += static_cast<size_t>(B)) {
    const int64_t nb = std::min<int64_t>(B, static_cast<int64_t>(todo.size() - t0));
    std::vector<float> qh(static_cast<size_t>(nb * d));
    for (int64_t i = 0; i < nb; ++i) {
      const int32_t u = r.queries[todo[t0 + i]];
      const float* qv = query_vectors ? query_vectors + static_cast<int64_t>(todo[t0 + i]) * d : hp + u * d;
      std::copy(qv, qv + d, qh.begin() + i * d);
    }
    const Tensor scores = tensor::matmul(Tensor::from_vector(qh, {nb, d}, dev), all, false, true).to(Device::CPU);
    const float* sc = scores.data<float>();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < nb; ++i) {
      const size_t q = static_cast<size_t>(todo[t0 + i]);
      const int32_t u = r.queries[q];
      const float* s = sc + i * n;
      const int32_t* pos = truth.items.data() + truth.offsets[u];
      const int64_t npos = truth.count(u);
      auto excluded = [&](int32_t x) {
        if (x == u) return true;
        if (!exclude) return false;
        const auto nb_u = exclude->neighbors_of(u);
        return std::binary_search(nb_u.begin(), nb_u.end(), x);
      };
      int32_t best = -1;
      for (int64_t j = 0; j < npos; ++j) {
        const int32_t p = pos[j];
        if (excluded(p) || std::isnan(s[p])) continue;
        if (best < 0 || topk_better(s[p], p, s[best], best)) best = p;
      }
      if (best < 0) continue;
      int64_t above = 0;
      for (int32_t x = 0; x < n; ++x)
        if (topk_better(s[x], x, s[best], best) && !excluded(x)) ++above;
      r.best_rank[q] = above + 1;
    }
  }
}

}  // namespace ember
