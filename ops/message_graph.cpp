#include "ops/message_graph.h"

#include <string>

#include "kernels/backend.h"
#include "kernels/gat.h"
#include "kernels/gat_graph.h"

namespace ember {

void MessageGraph::check() const {
  EMBER_CHECK(num_nodes >= 0, "MessageGraph: negative node count " << num_nodes);
  EMBER_CHECK(row_ptr.defined() && col.defined(), "MessageGraph: row_ptr and col must be defined");
  EMBER_CHECK(row_ptr.dtype() == DType::I64 && row_ptr.dim() == 1,
              "MessageGraph: row_ptr must be a 1-D int64 tensor, got " << row_ptr.describe());
  EMBER_CHECK(row_ptr.numel() == num_nodes + 1, "MessageGraph: row_ptr has " << row_ptr.numel()
                                                    << " entries, expected num_nodes + 1 = " << num_nodes + 1);
  EMBER_CHECK(col.dtype() == DType::I32 && col.dim() == 1,
              "MessageGraph: col must be a 1-D int32 tensor, got " << col.describe());
  EMBER_CHECK(row_ptr.device() == col.device(), "MessageGraph: row_ptr is on " << device_name(row_ptr.device())
                                                    << " but col on " << device_name(col.device()));
  EMBER_CHECK(row_ptr.is_contiguous() && col.is_contiguous(), "MessageGraph: row_ptr and col must be contiguous");
  EMBER_CHECK(cache != nullptr, "MessageGraph: cache must not be null");
}

void MessageGraph::validate() const {
  check();
  const std::vector<int64_t> rp = row_ptr.to_vector<int64_t>();
  const std::vector<int32_t> c = col.to_vector<int32_t>();
  const int64_t E = static_cast<int64_t>(c.size());
  EMBER_CHECK(rp[0] == 0, "MessageGraph: row_ptr[0] is " << rp[0] << ", expected 0");
  for (int64_t i = 0; i < num_nodes; ++i)
    EMBER_CHECK(rp[i + 1] >= rp[i], "MessageGraph: row_ptr decreases at node " << i << " (" << rp[i] << " -> "
                                                                                << rp[i + 1] << ")");
  EMBER_CHECK(rp[num_nodes] == E, "MessageGraph: row_ptr[N] is " << rp[num_nodes] << " but col has " << E
                                                                  << " entries");
  for (int64_t e = 0; e < E; ++e)
    EMBER_CHECK(c[e] >= 0 && c[e] < num_nodes, "MessageGraph: edge " << e << " has source id " << c[e]
                                                                     << " outside [0, " << num_nodes << ")");
}

MessageGraph MessageGraph::to(Device device) const {
  MessageGraph g;
  g.num_nodes = num_nodes;
  g.row_ptr = row_ptr.to(device);
  g.col = col.to(device);
  // What was already derived travels along (a batch's transpose is built on
  // the worker that builds the batch, not on the training thread).
  std::lock_guard<std::mutex> lock(cache->mu);
  if (cache->has_transpose) {
    g.cache->t_row_ptr = cache->t_row_ptr.to(device);
    g.cache->t_dst = cache->t_dst.to(device);
    g.cache->t_eid = cache->t_eid.to(device);
    g.cache->has_transpose = true;
  }
  if (cache->has_heavy) {
    g.cache->heavy = cache->heavy.to(device);
    g.cache->has_heavy = true;
  }
  if (cache->has_t_heavy) {
    g.cache->t_heavy = cache->t_heavy.to(device);
    g.cache->has_t_heavy = true;
  }
  return g;
}

MessageGraph build_message_graph(const std::vector<int32_t>& src, const std::vector<int32_t>& dst,
                                 int64_t num_nodes, MessageGraphOptions options, Device device) {
  EMBER_CHECK(src.size() == dst.size(), "build_message_graph: inconsistent sizes: " << src.size()
                                            << " sources but " << dst.size() << " destinations");
  const int64_t E = static_cast<int64_t>(src.size());
  Tensor s = Tensor::from_vector(src, {E}), d = Tensor::from_vector(dst, {E});
  MessageGraph g;
  g.num_nodes = num_nodes;
  cpu::build_message_csr(s, d, num_nodes, options.add_self_loops, options.merge_duplicates, g.row_ptr, g.col);
  if (device != Device::CPU) {
    g.row_ptr = g.row_ptr.to(device);
    g.col = g.col.to(device);
  }
  return g;
}

MessageGraph build_message_graph(const Tensor& src, const Tensor& dst, int64_t num_nodes,
                                 MessageGraphOptions options) {
  EMBER_CHECK(src.defined() && dst.defined(), "build_message_graph: undefined edge tensor");
  check_same_device(src, dst, "build_message_graph");
  MessageGraph g;
  g.num_nodes = num_nodes;
  EMBER_DISPATCH(src.device(), build_message_csr, src, dst, num_nodes, options.add_self_loops,
                 options.merge_duplicates, g.row_ptr, g.col);
  return g;
}

MessageGraph message_graph_from_csr(const Tensor& row_ptr, const Tensor& col, int64_t num_nodes) {
  MessageGraph g;
  g.num_nodes = num_nodes;
  g.row_ptr = row_ptr.contiguous();
  g.col = col.contiguous();
  g.validate();
  return g;
}

MessageGraphTranspose message_graph_transpose(const MessageGraph& g) {
  g.check();
  MessageGraphCache& c = *g.cache;
  std::lock_guard<std::mutex> lock(c.mu);
  if (!c.has_transpose) {
    EMBER_DISPATCH(g.device(), transpose_message_csr, g.row_ptr, g.col, g.num_nodes, c.t_row_ptr, c.t_dst, c.t_eid);
    c.has_transpose = true;
  }
  return MessageGraphTranspose{c.t_row_ptr, c.t_dst, c.t_eid};
}

namespace {
Tensor heavy_list(const Tensor& row_ptr, int64_t n) {
  const std::vector<int64_t> rp = row_ptr.to_vector<int64_t>();
  std::vector<int32_t> rows;
  for (int64_t i = 0; i < n; ++i)
    if (rp[static_cast<size_t>(i) + 1] - rp[static_cast<size_t>(i)] > kGatHeavyDegree) rows.push_back(static_cast<int32_t>(i));
  return Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}, row_ptr.device());
}
}  // namespace

MessageGraphHeavyRows message_graph_heavy_rows(const MessageGraph& g, bool with_out) {
  Tensor t_row_ptr;
  if (with_out) t_row_ptr = message_graph_transpose(g).row_ptr;
  MessageGraphCache& c = *g.cache;
  std::lock_guard<std::mutex> lock(c.mu);
  if (!c.has_heavy) {
    c.heavy = heavy_list(g.row_ptr, g.num_nodes);
    c.has_heavy = true;
  }
  if (with_out && !c.has_t_heavy) {
    c.t_heavy = heavy_list(t_row_ptr, g.num_nodes);
    c.has_t_heavy = true;
  }
  return MessageGraphHeavyRows{c.heavy, with_out ? c.t_heavy : Tensor()};
}

}  // namespace ember
