// Exact top-K retrieval by inner product, with per-query exclusions (the user
// and its training friends), on any device: blocks of B queries go through
// ops/topk.h (GEMM tiles of T items merged into running top-k lists; the one
// top-K implementation, CPU reference and kernels alike); memory
// O(N*d + B*T + B*K).
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "engine/data/graph.h"
#include "engine/data/split.h"

namespace ember {

// Ranked lists for a set of query users: row q holds up to k item ids (dense)
// best first, -1 in unused slots, with their scores.
struct Rankings {
  int32_t k = 0;
  std::vector<int32_t> queries;
  std::vector<int32_t> ids;     // queries.size() * k
  std::vector<float> scores;    // queries.size() * k
  // Optional, per query: the exact rank (1-based, over every candidate item,
  // not only the first k) of the query's best held-out friend; 0 when it has
  // none. Filled by the methods that can rank every item (exact embeddings,
  // the heuristics); the evaluator's MRR uses it when present.
  std::vector<int64_t> best_rank;
  const int32_t* row(size_t q) const { return ids.data() + q * static_cast<size_t>(k); }
  const float* row_scores(size_t q) const { return scores.data() + q * static_cast<size_t>(k); }
  void resize(size_t num_queries, int32_t k_);
};

struct TopKConfig {
  int32_t k = 100;
  int64_t query_block = 128;   // B: queries per GEMM tile
  int64_t item_block = 1024;   // T: items per GEMM tile (B x T floats stay in L2)
  bool normalize = true;       // L2-normalise rows first (cosine); zero rows stay zero
  Device device = Device::CPU; // where the tiles are scored and merged (cpu, cuda, emu)
};

// Order used everywhere: higher score first, ties -> smaller id first.
inline bool topk_better(float s1, int32_t i1, float s2, int32_t i2) { return s1 > s2 || (s1 == s2 && i1 < i2); }

// Top-k items for each query over all n items of `emb` (n x d row-major),
// skipping the query itself and, when `exclude` is given, its neighbours in
// that graph. Deterministic for any thread count. By default query i is
// scored with its own (normalised) row; `query_vectors` (Q x d, used as
// given) replaces it, e.g. by an expanded query (engine/retrieval/expansion.h).
Rankings exact_topk(const float* emb, int64_t n, int64_t d, const std::vector<int32_t>& queries, const Graph* exclude,
                    const TopKConfig& cfg = {}, const float* query_vectors = nullptr);

// exact_topk restricted to the items [item_begin, item_begin + n) of a set of
// `total` (one rank's block of a sharded job): `emb` holds those n rows,
// `query_vectors` (Q x d, used as given: pass normalised rows for cosine)
// the queries; ids, the query itself and the exclusions are global. The
// blocks' lists merged by merge_rankings equal exact_topk over all items.
Rankings exact_topk_block(const float* emb, int64_t item_begin, int64_t n, int64_t total, int64_t d,
                          const std::vector<int32_t>& queries, const float* query_vectors, const Graph* exclude,
                          const TopKConfig& cfg = {});
// The k best (topk_better order) of several rankings of the same queries.
Rankings merge_rankings(const std::vector<Rankings>& parts, int32_t k);

// Fills r.best_rank: per query of r, the exact rank (1-based) of its best
// held-out friend in `truth` among all n items but the query and its
// neighbours in `exclude`, in exact_topk's order (same cfg). Read off the list
// when the friend is in it, otherwise counted over every item (one GEMM row
// per such query). 0 for a query without held-out friends.
void fill_exact_best_ranks(Rankings& r, const float* emb, int64_t n, int64_t d, const Graph* exclude,
                           const HeldOut& truth, const TopKConfig& cfg = {}, const float* query_vectors = nullptr);

// Copy of emb with every row scaled to unit L2 norm (zero rows unchanged).
std::vector<float> l2_normalized(const float* emb, int64_t n, int64_t d);

}  // namespace ember
