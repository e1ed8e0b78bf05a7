// exact_topk on Device::CUDA / Device::EMU: the items go to the device once;
// per block of B queries, each item tile is scored (kernels/topk.h:
// topk_score_tile, cuBLAS on a GPU) and merged into the running top-k lists by
// the selection kernel (topk_merge_rows). Device memory O(N*d + B*T + B*k).
#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "engine/eval_topk.h"
#include "kernels/topk.h"

namespace ember {

Rankings exact_topk_device(const float* items, int64_t n, int64_t d, const std::vector<int32_t>& queries,
                           const Graph* exclude, const TopKConfig& cfg) {
  const Device dev = cfg.device;
  EMBER_CHECK(dev == Device::CUDA || dev == Device::EMU, "exact_topk_device: device must be cuda or emu");
  EMBER_CHECK(cfg.k >= 1 && cfg.k <= kTopKMaxK, "exact_topk: k = " << cfg.k << " on " << device_name(dev)
                                                                     << ", expected 1.." << kTopKMaxK);
  const int64_t Q = static_cast<int64_t>(queries.size());
  const int32_t k = cfg.k;
  Rankings out;
  out.queries = queries;
  out.resize(queries.size(), k);
  if (Q == 0 || n == 0) return out;
  Tensor all = Tensor::from_vector(std::vector<float>(items, items + n * d), {n, d}, dev);
  const int64_t B = std::max<int64_t>(1, std::min<int64_t>(cfg.query_block, Q));
  const int64_t T = std::max<int64_t>(1, std::min<int64_t>(cfg.item_block, n));
  for (int64_t q0 = 0; q0 < Q; q0 += B) {
    const int64_t nb = std::min(B, Q - q0);
    std::vector<float> qh(static_cast<size_t>(nb * d));
    std::vector<int64_t> eo(static_cast<size_t>(nb) + 1, 0);
    std::vector<int32_t> ei;
    for (int64_t i = 0; i < nb; ++i) {
      const int32_t q = queries[q0 + i];
      std::copy(items + q * d, items + (q + 1) * d, qh.begin() + i * d);
      // exclusion list: the query and its neighbours, sorted
      size_t start = ei.size();
      ei.push_back(q);
      if (exclude)
        for (int32_t v : exclude->neighbors_of(q)) ei.push_back(v);
      std::sort(ei.begin() + static_cast<std::ptrdiff_t>(start), ei.end());
      eo[i + 1] = static_cast<int64_t>(ei.size());
    }
    Tensor qt = Tensor::from_vector(qh, {nb, d}, dev);
    Tensor eot = Tensor::from_vector(eo, {nb + 1}, dev);
    Tensor eit = Tensor::from_vector(ei, {static_cast<int64_t>(ei.size())}, dev);
    Tensor best_s = Tensor::full({nb, k}, -INFINITY, DType::F32, dev);
    Tensor best_i = Tensor::full({nb, k}, -1, DType::I32, dev);
    Tensor scores;
    for (int64_t t0 = 0; t0 < n; t0 += T) {
      const int64_t nt = std::min(T, n - t0);
      if (!scores.defined() || scores.size(1) != nt) scores = Tensor::empty({nb, nt}, DType::F32, dev);
      Tensor tile = all.slice_rows(t0, t0 + nt);
      EMBER_DISPATCH(dev, topk_score_tile, qt, tile, scores);
      EMBER_DISPATCH(dev, topk_merge_rows, scores, t0, eot, eit, best_s, best_i);
    }
    std::vector<float> hs = best_s.to_vector<float>();
    std::vector<int32_t> hi = best_i.to_vector<int32_t>();
    std::copy(hs.begin(), hs.end(), out.scores.begin() + q0 * k);
    std::copy(hi.begin(), hi.end(), out.ids.begin() + q0 * k);
  }
  return out;
}

}  // namespace ember
