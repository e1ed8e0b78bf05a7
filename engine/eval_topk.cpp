#include "engine/eval_topk.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <omp.h>


namespace ember {

void Rankings::resize(size_t num_queries, int32_t k_) {
  k = k_;
  ids.assign(num_queries * static_cast<size_t>(k_), -1);
  scores.assign(num_queries * static_cast<size_t>(k_), -INFINITY);
}

// ---- heap ----------------------------------------------------------------------------------
void TopKHeap::sift_down(int32_t i) {
  for (;;) {
    int32_t l = 2 * i + 1, r = l + 1, w = i;
    // root holds the WORST element: pick the worse child
    if (l < size_ && topk_better(s_[w], id_[w], s_[l], id_[l])) w = l;
    if (r < size_ && topk_better(s_[w], id_[w], s_[r], id_[r])) w = r;
    if (w == i) return;
    std::swap(s_[i], s_[w]);
    std::swap(id_[i], id_[w]);
    i = w;
  }
}

void TopKHeap::push(float score, int32_t id) {
  if (k_ == 0) return;
  if (size_ < k_) {
    int32_t i = size_++;
    s_[i] = score;
    id_[i] = id;
    while (i > 0) {  // sift up while the parent is better than the new element
      int32_t p = (i - 1) / 2;
      if (!topk_better(s_[p], id_[p], s_[i], id_[i])) break;
      std::swap(s_[p], s_[i]);
      std::swap(id_[p], id_[i]);
      i = p;
    }
    return;
  }
  if (!topk_better(score, id, s_[0], id_[0])) return;
  s_[0] = score;
  id_[0] = id;
  sift_down(0);
}

void TopKHeap::drain_sorted(int32_t* ids, float* scores) {
  std::vector<int32_t> order(static_cast<size_t>(size_));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return topk_better(s_[a], id_[a], s_[b], id_[b]); });
  for (int32_t j = 0; j < k_; ++j) {
    ids[j] = j < size_ ? id_[order[j]] : -1;
    if (scores) scores[j] = j < size_ ? s_[order[j]] : -INFINITY;
  }
  size_ = 0;
}

// ---- exact top-k ----------------------------------------------------------------------------
std::vector<float> l2_normalized(const float* emb, int64_t n, int64_t d) {
  std::vector<float> out(emb, emb + n * d);
#pragma omp parallel for schedule(static) if (n * d > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    float* r = out.data() + i * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(r[j]) * r[j];
    if (s > 0) {
      float inv = static_cast<float>(1.0 / std::sqrt(s));
      for (int64_t j = 0; j < d; ++j) r[j] *= inv;
    }
  }
  return out;
}

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// True when `item` must be skipped for query user q.
inline bool excluded(int32_t q, int32_t item, const Graph* ex) {
  if (item == q) return true;
  if (!ex) return false;
  auto nb = ex->neighbors_of(q);
  return std::binary_search(nb.begin(), nb.end(), item);
}

Rankings exact_topk_cpu(const float* items, int64_t n, int64_t d, const std::vector<int32_t>& queries,
                        const Graph* exclude, const TopKConfig& cfg) {
  const int64_t Q = static_cast<int64_t>(queries.size());
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), cfg.k);
  if (Q == 0 || cfg.k == 0) return out;
  const int threads = omp_get_max_threads();
  const int64_t B = std::max<int64_t>(1, std::min<int64_t>(cfg.query_block, (Q + threads - 1) / threads));
  const int64_t T = std::max<int64_t>(1, std::min<int64_t>(cfg.item_block, n));
  const int64_t nblocks = (Q + B - 1) / B;
  Eigen::Map<const RowMat> all(items, n, d);
#pragma omp parallel
  {
    RowMat qm(B, d), scores(B, T);
    std::vector<TopKHeap> heaps(static_cast<size_t>(B), TopKHeap(cfg.k));
#pragma omp for schedule(dynamic, 1)
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t q0 = blk * B, nb = std::min(B, Q - q0);
      for (int64_t i = 0; i < nb; ++i) qm.row(i) = all.row(queries[q0 + i]);
      for (int64_t t0 = 0; t0 < n; t0 += T) {
        const int64_t nt = std::min(T, n - t0);
        scores.topLeftCorner(nb, nt).noalias() = qm.topRows(nb) * all.middleRows(t0, nt).transpose();
        for (int64_t i = 0; i < nb; ++i) {
          TopKHeap& h = heaps[i];
          const int32_t q = queries[q0 + i];
          const float* s = scores.data() + i * T;
          // Cheap filter against the current k-th best; NaN never passes.
          float thr = h.threshold();
          for (int64_t j = 0; j < nt; ++j) {
            if (!(s[j] >= thr)) continue;
            const int32_t id = static_cast<int32_t>(t0 + j);
            if (!h.admits(s[j], id) || excluded(q, id, exclude)) continue;
            h.push(s[j], id);
            thr = h.threshold();
          }
        }
      }
      for (int64_t i = 0; i < nb; ++i)
        heaps[i].drain_sorted(out.ids.data() + (q0 + i) * cfg.k, out.scores.data() + (q0 + i) * cfg.k);
    }
  }
  return out;
}

}  // namespace

Rankings exact_topk(const float* emb, int64_t n, int64_t d, const std::vector<int32_t>& queries, const Graph* exclude,
                    const TopKConfig& cfg) {
  EMBER_CHECK(n >= 0 && d > 0, "exact_topk: bad embedding shape " << n << " x " << d);
  EMBER_CHECK(cfg.k >= 0, "exact_topk: k = " << cfg.k << ", expected >= 0");
  EMBER_CHECK(!exclude || exclude->num_nodes() == n,
              "exact_topk: exclusion graph has " << exclude->num_nodes() << " nodes, embeddings " << n);
  for (int32_t q : queries) EMBER_CHECK(q >= 0 && q < n, "exact_topk: query id " << q << " out of range 0.." << n - 1);
  std::vector<float> normed;
  const float* items = emb;
  if (cfg.normalize) {
    normed = l2_normalized(emb, n, d);
    items = normed.data();
  }
  if (cfg.device == Device::CPU) return exact_topk_cpu(items, n, d, queries, exclude, cfg);
  return exact_topk_device(items, n, d, queries, exclude, cfg);
}

}  // namespace ember
