// A batch view in the form the encoder takes, built on the batch's worker
// thread (engine/sampling/prefetch.h) so that the training thread only
// uploads: the CSR message graph (by destination, self-loops added) with its
// transpose, and the sparse input features with theirs (the GAT and
// sparse_linear backward passes need both transposes). CPU tensors.
#pragma once
#include "engine/data/graph.h"
#include "ops/message_graph.h"
#include "ops/sparse_linear.h"

namespace ember {

struct GraphView;

struct ReadyView {
  MessageGraph graph;  // transpose in graph.cache
  SparseCsr x;         // x.transposed filled
  bool built() const { return graph.row_ptr.defined(); }
};

// Engine-side sparse features as a SparseCsr of float32 tensors on `device`.
SparseCsr to_sparse_csr(const SparseFeatures& f, Device device);

// The view's message graph and input, with both transposes (CPU).
ReadyView make_ready(const GraphView& v);

// The view on `device`: as it is on the CPU, otherwise copied with its
// transposes (host-to-device copies only).
ReadyView on_device(const ReadyView& v, Device device);

}  // namespace ember
