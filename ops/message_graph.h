// The message-passing graph of the GNN layers (ops/gat.h): CSR by
// DESTINATION, on any device.
//
//   in-neighbours of node i = col[row_ptr[i] .. row_ptr[i+1])
//   row_ptr int64 [N+1], col int32 [E] (the source node of each in-edge)
//
// Builders sort every row by source id (duplicates adjacent), so the same
// edge list gives the same arrays on every device, and the position of an
// edge in `col` (its edge index) is stable: attention dropout is keyed by it.
// Treat a built graph as immutable: copies share `cache`, which holds
// structures derived lazily from it (the transposed CSR used by the
// deterministic backward of the GAT layer, the lists of very-high-degree rows
// used by the GPU kernels).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor.h"

namespace ember {

struct MessageGraphOptions {
  // Add the self-loop (i, i) to every node that has none, so that no node
  // has in-degree 0 (e.g. after edge dropout). Existing self-loops are kept
  // as they are (not doubled).
  bool add_self_loops = true;
  // Keep one copy of repeated (src, dst) pairs (otherwise every copy is an
  // edge of its own, with its own attention weight).
  bool merge_duplicates = false;
};

// Lazily built structures derived from a MessageGraph (thread-safe).
struct MessageGraphCache {
  std::mutex mu;
  bool has_transpose = false;
  Tensor t_row_ptr;  // int64 [N+1], CSR by source
  Tensor t_dst;      // int32 [E], destination of each out-edge
  Tensor t_eid;      // int32 [E], position of that edge in col
  bool has_heavy = false, has_t_heavy = false;
  Tensor heavy, t_heavy;  // int32 rows of in- / out-degree > kGatHeavyDegree
};

struct MessageGraph {
  int64_t num_nodes = 0;
  Tensor row_ptr;  // int64 [N+1]
  Tensor col;      // int32 [E], source node of each in-edge
  std::shared_ptr<MessageGraphCache> cache = std::make_shared<MessageGraphCache>();

  int64_t num_edges() const { return col.defined() ? col.numel() : 0; }
  Device device() const { return row_ptr.device(); }
  // A copy on `device`, with the derived structures already in the cache.
  MessageGraph to(Device device) const;
  // Cheap structural checks (dtypes, shapes, devices); throws ember::Error.
  void check() const;
  // check() plus the contents (row_ptr starts at 0, is non-decreasing and
  // ends at E; every id in [0, N)). Copies to the host.
  void validate() const;
};

// Builds the graph of edges src[e] -> dst[e] on `device`.
// Throws ember::Error for an id outside [0, num_nodes) (naming the edge index
// and the value), src / dst of different sizes, or a negative num_nodes.
MessageGraph build_message_graph(const std::vector<int32_t>& src, const std::vector<int32_t>& dst,
                                 int64_t num_nodes, MessageGraphOptions options = {},
                                 Device device = Device::CPU);

// The same from edge tensors (int32 or int64 [E], on one device); the graph
// is built on that device (GPU: CUB radix sort + scan; emulator: the CPU
// builder on the EMU tensors).
MessageGraph build_message_graph(const Tensor& src, const Tensor& dst, int64_t num_nodes,
                                 MessageGraphOptions options = {});

// Wraps existing CSR arrays (row_ptr int64 [N+1], col int32 [E], same
// device) after MessageGraph::validate().
MessageGraph message_graph_from_csr(const Tensor& row_ptr, const Tensor& col, int64_t num_nodes);

// The transposed CSR (by source) of g, built on g's device on first use and
// cached in g.cache: out-edges of j are dst[row_ptr[j] .. row_ptr[j+1]) in
// increasing edge index, eid their positions in g.col.
struct MessageGraphTranspose {
  Tensor row_ptr;  // int64 [N+1]
  Tensor dst;      // int32 [E]
  Tensor eid;      // int32 [E]
};
MessageGraphTranspose message_graph_transpose(const MessageGraph& g);

// Rows of in-degree (in) and out-degree (out) above kGatHeavyDegree
// (kernels/gat.h), int32 tensors on g's device, cached in g.cache. The out
// list builds the transpose.
struct MessageGraphHeavyRows {
  Tensor in, out;
};
MessageGraphHeavyRows message_graph_heavy_rows(const MessageGraph& g, bool with_out);

}  // namespace ember
