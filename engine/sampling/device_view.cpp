#include "engine/sampling/device_view.h"

#include "engine/sampling/batch.h"

namespace ember {

SparseCsr to_sparse_csr(const SparseFeatures& f, Device device) {
  SparseCsr x;
  x.rows = f.num_rows;
  x.cols = f.num_cols;
  x.row_ptr = Tensor::from_values(f.row_ptr.data(), f.row_ptr.size(), {static_cast<int64_t>(f.row_ptr.size())}, device);
  x.col = Tensor::from_values(f.col.data(), f.col.size(), {static_cast<int64_t>(f.col.size())}, device);
  x.val = Tensor::from_values(f.val.data(), f.val.size(), {static_cast<int64_t>(f.val.size())}, device);
  return x;
}

ReadyView make_ready(const GraphView& v) {
  ReadyView r;
  r.graph = build_message_graph(v.src, v.dst, v.num_nodes, MessageGraphOptions{}, Device::CPU);
  message_graph_transpose(r.graph);           // fills the cache: the transpose ...
  message_graph_heavy_rows(r.graph, true);    // ... and the very-high-degree rows of both directions
  r.x = to_sparse_csr(v.features, Device::CPU).with_transpose();
  return r;
}

ReadyView on_device(const ReadyView& v, Device device) {
  if (device == Device::CPU) return v;
  return ReadyView{v.graph.to(device), v.x.to(device)};
}

}  // namespace ember
