// CPU reference for kernels/topk.h.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/topk.h"
#include "kernels/matmul.h"

namespace ember {

void check_topk_merge_args(const Tensor& scores, const Tensor& excl_offsets, const Tensor& excl_ids,
                           const Tensor& best_scores, const Tensor& best_ids) {
  EMBER_CHECK(scores.dim() == 2, "topk_merge_rows: scores must be 2-D, got " << scores.describe());
  const int64_t B = scores.size(0);
  scores.check_dtype(DType::F32, "topk_merge_rows scores");
  best_scores.check_dtype(DType::F32, "topk_merge_rows best_scores");
  best_ids.check_dtype(DType::I32, "topk_merge_rows best_ids");
  excl_offsets.check_dtype(DType::I64, "topk_merge_rows excl_offsets");
  excl_ids.check_dtype(DType::I32, "topk_merge_rows excl_ids");
  EMBER_CHECK(best_scores.dim() == 2 && best_scores.size(0) == B && best_ids.shape() == best_scores.shape(),
              "topk_merge_rows: best lists must be [" << B << ", k], got " << best_scores.describe() << " and "
                                                      << best_ids.describe());
  EMBER_CHECK(best_scores.size(1) >= 1 && best_scores.size(1) <= kTopKMaxK,
              "topk_merge_rows: k = " << best_scores.size(1) << ", expected 1.." << kTopKMaxK);
  EMBER_CHECK(excl_offsets.dim() == 1 && excl_offsets.size(0) == B + 1,
              "topk_merge_rows: excl_offsets must have B + 1 = " << B + 1 << " entries, got " << excl_offsets.describe());
  for (const Tensor* t : {&scores, &excl_offsets, &excl_ids, &best_scores, &best_ids})
    EMBER_CHECK(t->is_contiguous() && t->device() == scores.device(),
                "topk_merge_rows: all tensors must be contiguous and on " << device_name(scores.device()));
}

namespace cpu {

void topk_score_tile(const Tensor& queries, const Tensor& items, Tensor& out) {
  const int64_t B = queries.size(0), d = queries.size(1), T = items.size(0);
  EMBER_CHECK(items.size(1) == d && out.size(0) == B && out.size(1) == T,
              "topk_score_tile: shapes " << queries.describe() << ", " << items.describe() << " -> " << out.describe());
  matmul(queries, false, items, true, 1.0, 0.0, out);  // the CPU GEMM, partitioned over OpenMP threads
}

void topk_merge_rows(const Tensor& scores, int64_t id_offset, const Tensor& excl_offsets, const Tensor& excl_ids,
                     Tensor& best_scores, Tensor& best_ids) {
  check_topk_merge_args(scores, excl_offsets, excl_ids, best_scores, best_ids);
  const int64_t B = scores.size(0), T = scores.size(1), k = best_scores.size(1);
  const float* s = scores.data<float>();
  const int64_t* eo = excl_offsets.data<int64_t>();
  const int32_t* ei = excl_ids.data<int32_t>();
  float* bs = best_scores.data<float>();
  int32_t* bi = best_ids.data<int32_t>();
  auto better = [](float s1, int32_t i1, float s2, int32_t i2) { return s1 > s2 || (s1 == s2 && i1 < i2); };
  // Each row's list is kept sorted best first (valid entries, then (-inf, -1)
  // padding). A candidate is compared with the worst kept entry first (most
  // scores fail there once the list is full), then checked against the
  // exclusions and inserted by shifting the worse entries down: O(T + hits * k)
  // per row instead of sorting all T candidates.
#pragma omp parallel for schedule(dynamic, 4) if (B * T > (1 << 16))
  for (int64_t r = 0; r < B; ++r) {
    float* rs = bs + r * k;
    int32_t* ri = bi + r * k;
    int64_t count = 0;
    while (count < k && ri[count] >= 0) ++count;
    const float* row = s + r * T;
    // Score a candidate must reach (NaN never does): -inf until k are kept.
    float thr = count < k ? -INFINITY : rs[k - 1];
    for (int64_t j = 0; j < T; ++j) {
      if ((j & 15) == 0 && j + 16 <= T) {
        // Skip 16 candidates at once when none reaches the threshold (NaN never counts).
        float m = row[j];
        for (int t = 1; t < 16; ++t) m = std::max(m, row[j + t]);
        if (!(m >= thr)) {
          j += 15;
          continue;
        }
      }
      const float v = row[j];
      if (!(v >= thr)) continue;
      const int32_t id = static_cast<int32_t>(id_offset + j);
      if (count == k && !better(v, id, rs[k - 1], ri[k - 1])) continue;
      if (std::binary_search(ei + eo[r], ei + eo[r + 1], id)) continue;
      int64_t pos = count < k ? count : k - 1;  // the slot freed at the end
      while (pos > 0 && better(v, id, rs[pos - 1], ri[pos - 1])) {
        rs[pos] = rs[pos - 1];
        ri[pos] = ri[pos - 1];
        --pos;
      }
      rs[pos] = v;
      ri[pos] = id;
      if (count < k) ++count;
      if (count == k) thr = rs[k - 1];
    }
  }
}

}  // namespace cpu
}  // namespace ember
