// Memory estimates of the data path: what a graph of a given size holds, and
// the peak host bytes of reading or generating the graph a DataConfig names.
// The dataset layouts come from the loader (detect_dataset in
// engine/data/loaders.h); the check against the available memory is
// core/memory_budget.h. Estimates are models, not measurements: they aim to
// be within a factor of ~2 of the real peak (tests/test_reliability_memory.cpp).
#pragma once
#include <cstdint>

#include "core/memory_budget.h"
#include "engine/data/data_config.h"

namespace ember {

struct Graph;

// What the engine holds for a graph.
struct GraphSize {
  int64_t nodes = 0;
  int64_t edges = 0;         // undirected
  int64_t feature_nnz = 0;
  int64_t feature_cols = 0;  // 0: no features (training adds structural ones)
  bool labels = false;
  bool identity_ids = true;
};
GraphSize graph_size(const Graph& g);
// Bytes of a Graph of that size (CSR, id map, features, labels).
uint64_t graph_bytes(const GraphSize& s);

// Host bytes to load or generate the graph named by `data` (peak, including
// the file text and the builder's temporaries). Reads at most 64 KiB of each
// source file to measure its bytes per line; a file that does not exist gives
// an estimate of 0 for that file (the loader reports it).
MemoryEstimate estimate_graph_load(const DataConfig& data);
// Expected size of the graph `data` describes (from the same model).
GraphSize expected_graph_size(const DataConfig& data);

}  // namespace ember
