#include "ops/topk.h"

#include <algorithm>
#include <cmath>

#include "kernels/topk.h"

namespace ember {

TopKLists topk_inner_product(const Tensor& queries, const Tensor& items, const Tensor& excl_offsets,
                             const Tensor& excl_ids, int64_t k, int64_t item_block) {
  EMBER_CHECK(queries.defined() && items.defined(), "topk: undefined queries or items");
  queries.check_dtype(DType::F32, "topk queries");
  items.check_dtype(DType::F32, "topk items");
  EMBER_CHECK(queries.dim() == 2 && items.dim() == 2 && queries.size(1) == items.size(1),
              "topk: queries [Q, d] and items [n, d] must share d, got " << queries.describe() << " and "
                                                                         << items.describe());
  EMBER_CHECK(items.size(0) < (int64_t(1) << 31), "topk: " << items.size(0) << " items, at most 2^31 - 1");
  EMBER_CHECK(queries.device() == items.device(), "topk: queries on " << device_name(queries.device())
                                                                       << ", items on " << device_name(items.device()));
  EMBER_CHECK(k >= 1 && k <= kTopKMaxK, "topk: k = " << k << ", expected 1.." << kTopKMaxK);
  EMBER_CHECK(item_block >= 1, "topk: item_block = " << item_block << ", expected >= 1");
  const Device dev = queries.device();
  const int64_t Q = queries.size(0), n = items.size(0);
  TopKLists out{Tensor::full({Q, k}, -INFINITY, DType::F32, dev), Tensor::full({Q, k}, -1, DType::I32, dev)};
  Tensor q = queries.contiguous(), it = items.contiguous();
  check_topk_merge_args(Tensor::empty({Q, 0}, DType::F32, dev), excl_offsets, excl_ids, out.scores, out.ids);
  if (Q == 0 || n == 0) return out;
  const int64_t T = std::min(item_block, n);
  Tensor scores;
  for (int64_t t0 = 0; t0 < n; t0 += T) {
    const int64_t nt = std::min(T, n - t0);
    if (!scores.defined() || scores.size(1) != nt) scores = Tensor::empty({Q, nt}, DType::F32, dev);
    Tensor tile = it.slice_rows(t0, t0 + nt);
    EMBER_DISPATCH(dev, topk_score_tile, q, tile, scores);
    EMBER_DISPATCH(dev, topk_merge_rows, scores, t0, excl_offsets, excl_ids, out.scores, out.ids);
  }
  return out;
}

}  // namespace ember
