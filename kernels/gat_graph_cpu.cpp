// CPU reference for kernels/gat_graph.h: message-graph CSR construction by
// counting sort. Also serves the emulated backend (EMU tensors are host
// memory); outputs are allocated on the inputs' device.
#include <algorithm>
#include <climits>
#include <vector>

#include "kernels/gat_graph.h"

namespace ember {
namespace cpu {

namespace {

template <class I>
void build_csr(const I* src, const I* dst, int64_t E, int64_t N, bool add_self_loops, bool merge,
               int64_t* row_ptr_out, std::vector<int32_t>& col_out) {
  // Validation: report the first offending edge.
  for (int64_t e = 0; e < E; ++e) {
    const int64_t s = static_cast<int64_t>(src[e]), d = static_cast<int64_t>(dst[e]);
    EMBER_CHECK(s >= 0 && s < N, "build_message_graph: edge " << e << " has source id " << s
                                                              << " outside [0, " << N << ")");
    EMBER_CHECK(d >= 0 && d < N, "build_message_graph: edge " << e << " has destination id " << d
                                                              << " outside [0, " << N << ")");
  }
  std::vector<int64_t> rp(static_cast<size_t>(N) + 1, 0);
  std::vector<char> has_self(static_cast<size_t>(N), 0);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t d = static_cast<int64_t>(dst[e]);
    rp[static_cast<size_t>(d) + 1]++;
    if (static_cast<int64_t>(src[e]) == d) has_self[static_cast<size_t>(d)] = 1;
  }
  for (int64_t i = 0; i < N; ++i) {
    if (add_self_loops && !has_self[static_cast<size_t>(i)]) rp[static_cast<size_t>(i) + 1]++;
    rp[static_cast<size_t>(i) + 1] += rp[static_cast<size_t>(i)];
  }
  const int64_t total = rp[static_cast<size_t>(N)];
  std::vector<int32_t> tmp(static_cast<size_t>(total));
  std::vector<int64_t> cur(rp.begin(), rp.end() - 1);
  for (int64_t e = 0; e < E; ++e) {
    const size_t d = static_cast<size_t>(dst[e]);
    tmp[static_cast<size_t>(cur[d]++)] = static_cast<int32_t>(src[e]);
  }
  if (add_self_loops)
    for (int64_t i = 0; i < N; ++i)
      if (!has_self[static_cast<size_t>(i)]) tmp[static_cast<size_t>(cur[static_cast<size_t>(i)]++)] = static_cast<int32_t>(i);
  // Sort every row by source; optionally drop repeated sources.
  std::vector<int64_t> len(static_cast<size_t>(N));
#pragma omp parallel for schedule(dynamic, 256) if (total > 65536)
  for (int64_t i = 0; i < N; ++i) {
    int32_t* b = tmp.data() + rp[static_cast<size_t>(i)];
    int32_t* e = tmp.data() + rp[static_cast<size_t>(i) + 1];
    std::sort(b, e);
    len[static_cast<size_t>(i)] = merge ? (std::unique(b, e) - b) : (e - b);
  }
  row_ptr_out[0] = 0;
  for (int64_t i = 0; i < N; ++i) row_ptr_out[i + 1] = row_ptr_out[i] + len[static_cast<size_t>(i)];
  col_out.resize(static_cast<size_t>(row_ptr_out[N]));
#pragma omp parallel for schedule(dynamic, 256) if (total > 65536)
  for (int64_t i = 0; i < N; ++i)
    std::copy(tmp.data() + rp[static_cast<size_t>(i)], tmp.data() + rp[static_cast<size_t>(i)] + len[static_cast<size_t>(i)],
              col_out.data() + row_ptr_out[i]);
}

}  // namespace

void build_message_csr(const Tensor& src, const Tensor& dst, int64_t num_nodes, bool add_self_loops,
                       bool merge_duplicates, Tensor& row_ptr, Tensor& col) {
  EMBER_CHECK(num_nodes >= 0, "build_message_graph: negative node count " << num_nodes);
  EMBER_CHECK(num_nodes < INT32_MAX, "build_message_graph: " << num_nodes
                                                             << " nodes do not fit int32 ids");
  EMBER_CHECK(src.dim() == 1 && dst.dim() == 1,
              "build_message_graph: src and dst must be 1-D, got " << src.describe() << " and " << dst.describe());
  EMBER_CHECK(src.numel() == dst.numel(), "build_message_graph: inconsistent sizes: " << src.numel()
                                              << " sources but " << dst.numel() << " destinations");
  EMBER_CHECK(src.dtype() == dst.dtype(), "build_message_graph: src and dst dtypes differ ("
                                              << dtype_name(src.dtype()) << " vs " << dtype_name(dst.dtype()) << ")");
  const int64_t E = src.numel();
  EMBER_CHECK(E + num_nodes < INT32_MAX, "build_message_graph: " << E << " edges + " << num_nodes
                                                                 << " self-loops exceed the int32 edge index");
  const Device dev = src.device();
  Tensor s = src.contiguous(), d = dst.contiguous();
  row_ptr = Tensor::empty({num_nodes + 1}, DType::I64, dev);
  std::vector<int32_t> c;
  EMBER_INDEX_SWITCH(s.dtype(), I, {
    build_csr<I>(s.data<I>(), d.data<I>(), E, num_nodes, add_self_loops, merge_duplicates,
                 row_ptr.data<int64_t>(), c);
  });
  col = Tensor::empty({static_cast<int64_t>(c.size())}, DType::I32, dev);
  if (!c.empty()) std::copy(c.begin(), c.end(), col.data<int32_t>());
}

void transpose_message_csr(const Tensor& row_ptr, const Tensor& col, int64_t num_nodes,
                           Tensor& t_row_ptr, Tensor& t_dst, Tensor& t_eid) {
  const Device dev = row_ptr.device();
  const int64_t N = num_nodes, E = col.numel();
  const int64_t* rp = row_ptr.data<int64_t>();
  const int32_t* c = col.data<int32_t>();
  t_row_ptr = Tensor::zeros({N + 1}, DType::I64, dev);
  t_dst = Tensor::empty({E}, DType::I32, dev);
  t_eid = Tensor::empty({E}, DType::I32, dev);
  int64_t* trp = t_row_ptr.data<int64_t>();
  int32_t* td = t_dst.data<int32_t>();
  int32_t* te = t_eid.data<int32_t>();
  for (int64_t e = 0; e < E; ++e) trp[c[e] + 1]++;
  for (int64_t j = 0; j < N; ++j) trp[j + 1] += trp[j];
  std::vector<int64_t> cur(trp, trp + N);
  // Rows in increasing order, so each source's out-edges come in edge order.
  for (int64_t i = 0; i < N; ++i)
    for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
      const int64_t pos = cur[static_cast<size_t>(c[e])]++;
      td[pos] = static_cast<int32_t>(i);
      te[pos] = static_cast<int32_t>(e);
    }
}

}  // namespace cpu
}  // namespace ember
