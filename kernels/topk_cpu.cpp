// CPU reference for kernels/topk.h.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/topk.h"

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
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t B = queries.size(0), d = queries.size(1), T = items.size(0);
  EMBER_CHECK(items.size(1) == d && out.size(0) == B && out.size(1) == T,
              "topk_score_tile: shapes " << queries.describe() << ", " << items.describe() << " -> " << out.describe());
  Eigen::Map<const RowMat> q(queries.data<float>(), B, d), it(items.data<float>(), T, d);
  Eigen::Map<RowMat> o(out.data<float>(), B, T);
  o.noalias() = q * it.transpose();
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
#pragma omp parallel for schedule(dynamic, 4) if (B * T > (1 << 16))
  for (int64_t r = 0; r < B; ++r) {
    std::vector<std::pair<float, int32_t>> c;
    for (int64_t j = 0; j < k; ++j)
      if (bi[r * k + j] >= 0) c.emplace_back(bs[r * k + j], bi[r * k + j]);
    for (int64_t j = 0; j < T; ++j) {
      float v = s[r * T + j];
      if (std::isnan(v)) continue;
      int32_t id = static_cast<int32_t>(id_offset + j);
      if (std::binary_search(ei + eo[r], ei + eo[r + 1], id)) continue;
      c.emplace_back(v, id);
    }
    size_t m = std::min<size_t>(c.size(), static_cast<size_t>(k));
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(m), c.end(),
                      [&](const auto& a, const auto& b) { return better(a.first, a.second, b.first, b.second); });
    for (int64_t j = 0; j < k; ++j) {
      bool have = static_cast<size_t>(j) < m;
      bs[r * k + j] = have ? c[j].first : -INFINITY;
      bi[r * k + j] = have ? c[j].second : -1;
    }
  }
}

}  // namespace cpu
}  // namespace ember
