// Memory estimate of training (checked before a run starts, see
// core/memory_budget.h for the check and the available memory): graphs,
// features, model, gradients, optimizer state, best copy, prefetched
// batches, one step's activations, full-graph inference. The parameters are
// counted from the model's own list (SsmtlModel::param_specs); the graph load
// is estimated by engine/data/load_estimate.h. A model, not a measurement:
// within a factor of ~2 of the real peak (tests/test_reliability_memory.cpp,
// bench/bench_memory_estimate.cpp).
#pragma once
#include "core/memory_budget.h"
#include "engine/config/config.h"
#include "engine/data/load_estimate.h"

namespace ember {

// Training on the training graph `train` (features as they will be trained
// on: a graph without features gets the structural fallback of nodes + 16
// columns, 2 per row). Device bytes are filled when cfg.device is "cuda";
// for "emu" (device memory is host memory) they count as host bytes.
// ranks > 1: one rank of a data-parallel job (docs/distributed.md): its share
// of the global batch, the sharded inference's working set (its block's
// in-edges and activations, the gathered projection of every node) and, on
// rank 0, the gathered embeddings. The graph and features are one copy per
// rank, except with data.cache_dir: then the full graph, the features read
// from files and the training graph's CSR are the part "graph and split
// caches, mapped (once per machine)", shared by the ranks of a machine.
MemoryEstimate estimate_training(const TrainConfig& cfg, const GraphSize& train, int ranks = 1);

}  // namespace ember
