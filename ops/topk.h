// Exact inner-product top-k: the validated front of kernels/topk.h, the one
// top-K implementation of every backend (CPU reference, CUDA, emulator).
//
// The queries are scored against tiles of `item_block` items
// (topk_score_tile: a GEMM) and each tile is merged into running per-query
// lists (topk_merge_rows), so memory is O(Q*k + Q*item_block), never [Q, n].
// Lists are best first: higher score, ties to the smaller id; NaN scores and
// each query's excluded ids never enter; unused slots are (-inf, -1).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ember {

struct TopKLists {
  Tensor scores;  // float32 [Q, k]
  Tensor ids;     // int32 [Q, k]: item row, -1 in unused slots
};

// queries float32 [Q, d], items float32 [n, d] (n < 2^31), on one device.
// Exclusions as CSR over the queries: excl_offsets int64 [Q + 1], excl_ids
// int32, sorted within each query's range. 1 <= k <= kTopKMaxK (4096).
// Throws ember::Error naming the argument on bad shapes, dtypes or devices.
TopKLists topk_inner_product(const Tensor& queries, const Tensor& items, const Tensor& excl_offsets,
                             const Tensor& excl_ids, int64_t k, int64_t item_block = 1024);

}  // namespace ember
