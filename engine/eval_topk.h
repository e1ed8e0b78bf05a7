// Exact top-K retrieval by inner product, with per-query exclusions (the user
// and its training friends). CPU: blocked GEMM (Eigen) over tiles of queries x
// items, a bounded heap per query, OpenMP over query blocks; memory
// O(N*d + threads * (B*T + B*K)). The GPU path (kernels/topk.h) computes the
// same lists.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "engine/graph.h"

namespace ember {

// Ranked lists for a set of query users: row q holds up to k item ids (dense)
// best first, -1 in unused slots, with their scores.
struct Rankings {
  int32_t k = 0;
  std::vector<int32_t> queries;
  std::vector<int32_t> ids;     // queries.size() * k
  std::vector<float> scores;    // queries.size() * k
  const int32_t* row(size_t q) const { return ids.data() + q * static_cast<size_t>(k); }
  const float* row_scores(size_t q) const { return scores.data() + q * static_cast<size_t>(k); }
  void resize(size_t num_queries, int32_t k_);
};

struct TopKConfig {
  int32_t k = 100;
  int64_t query_block = 128;   // B: queries per GEMM tile
  int64_t item_block = 1024;   // T: items per GEMM tile (B x T floats stay in L2)
  bool normalize = true;       // L2-normalise rows first (cosine); zero rows stay zero
  Device device = Device::CPU; // CUDA / EMU: kernels/topk.h (GEMM tile + selection kernel)
};

// Order used everywhere: higher score first, ties -> smaller id first.
inline bool topk_better(float s1, int32_t i1, float s2, int32_t i2) { return s1 > s2 || (s1 == s2 && i1 < i2); }

// Top-k items for each query over all n items of `emb` (n x d row-major),
// skipping the query itself and, when `exclude` is given, its neighbours in
// that graph. Deterministic for any thread count.
Rankings exact_topk(const float* emb, int64_t n, int64_t d, const std::vector<int32_t>& queries, const Graph* exclude,
                    const TopKConfig& cfg = {});

// The same on Device::CUDA / Device::EMU (engine/eval_topk_device.cpp): items
// already normalised, GEMM tile on the device + the top-k selection kernel.
Rankings exact_topk_device(const float* items, int64_t n, int64_t d, const std::vector<int32_t>& queries,
                           const Graph* exclude, const TopKConfig& cfg);

// Copy of emb with every row scaled to unit L2 norm (zero rows unchanged).
std::vector<float> l2_normalized(const float* emb, int64_t n, int64_t d);

// Bounded top-k accumulator (min-heap on the worst kept element).
class TopKHeap {
 public:
  explicit TopKHeap(int32_t k = 0) { reset(k); }
  void reset(int32_t k) { k_ = k; size_ = 0; s_.resize(static_cast<size_t>(k)); id_.resize(static_cast<size_t>(k)); }
  // True when (score, id) would enter the heap.
  bool admits(float score, int32_t id) const {
    return size_ < k_ ? true : topk_better(score, id, s_[0], id_[0]);
  }
  // Score a candidate must reach to have a chance (-inf until k are kept).
  float threshold() const { return size_ < k_ ? -INFINITY : s_[0]; }
  void push(float score, int32_t id);
  // Writes the kept items best-first into ids/scores (k slots, -1 padded) and empties the heap.
  void drain_sorted(int32_t* ids, float* scores);
  int32_t size() const { return size_; }

 private:
  void sift_down(int32_t i);
  int32_t k_ = 0, size_ = 0;
  std::vector<float> s_;
  std::vector<int32_t> id_;
};

}  // namespace ember
