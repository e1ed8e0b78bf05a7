// Seeded augmentations for the self-supervised views (pure functions: the
// inputs are not modified; the same seed gives the same view on any machine
// and thread count, since every decision is one Philox draw keyed by the
// seed and the element).
//   drop_edges            each undirected edge (both directions together,
//                         keyed by its global endpoint ids) dropped with
//                         probability `rate`
//   drop_feature_columns  each feature column dropped (in every row) with
//                         probability `rate` (the CCA view's feature drop)
//   mask_query_features   each query row (local ids < num_queries) emptied
//                         with probability `rate` (1 = all); returns the masked
//                         rows; the learnable mask token lives in the model
#pragma once
#include <cstdint>
#include <vector>

#include "engine/sampling/sampler.h"

namespace ember {

Subgraph drop_edges(const Subgraph& s, double rate, uint64_t seed);

SparseFeatures drop_feature_columns(const SparseFeatures& f, double rate, uint64_t seed,
                                    std::vector<uint8_t>* dropped_columns = nullptr);

struct MaskedFeatures {
  SparseFeatures features;           // masked rows have no entries
  std::vector<int32_t> masked_rows;  // increasing local row ids
};
MaskedFeatures mask_query_features(const SparseFeatures& f, int32_t num_queries, double rate, uint64_t seed);

}  // namespace ember
