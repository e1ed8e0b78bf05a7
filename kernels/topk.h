// Exact top-K retrieval building blocks; the validated front is ops/topk.h.
//
// A query block of B rows is scored against item tiles of T rows; each tile's
// scores are merged into running per-row top-k lists:
//   topk_score_tile   out[B, T] = queries[B, d] * items[T, d]^T   (float32)
//                     CPU: Eigen; CUDA: cuBLAS; EMU: the CPU GEMM (cuBLAS is
//                     not emulated).
//   topk_merge_rows   for every row i, merges candidates (scores[i, j], id =
//                     id_offset + j) into best_scores / best_ids [B, k] (kept
//                     sorted best first; empty slots are (-inf, -1)). Skips NaN
//                     scores and the ids listed for row i in the exclusion CSR
//                     (excl_offsets int64 [B + 1], excl_ids int32, sorted per
//                     row). Order: higher score first, ties -> smaller id, so
//                     every backend returns identical lists for identical scores.
//                     CUDA / EMU: one block per row; threshold filter, shared-
//                     memory candidate buffer, bitonic sort (kernels/topk_cuda.cu).
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    void topk_score_tile(const Tensor& queries, const Tensor& items, Tensor& out);
    void topk_merge_rows(const Tensor& scores, int64_t id_offset, const Tensor& excl_offsets,
                         const Tensor& excl_ids, Tensor& best_scores, Tensor& best_ids);)

namespace ember {
// Largest k the merge kernel supports.
constexpr int64_t kTopKMaxK = 4096;
// Shape / dtype / device checks shared by all backends (throws ember::Error).
void check_topk_merge_args(const Tensor& scores, const Tensor& excl_offsets, const Tensor& excl_ids,
                           const Tensor& best_scores, const Tensor& best_ids);
}  // namespace ember
