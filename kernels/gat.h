// Sparse GAT attention (paper eq. 2 / Velickovic et al.), kernel level.
//
// For every head h, with Wh [N, H*F] (row j, head h: Wh_jh), over the
// in-neighbours j of each destination i (CSR by destination):
//   s_jh = <a_src_h, Wh_jh>,  d_ih = <a_dst_h, Wh_ih>
//   e_ijh = LeakyReLU(s_jh + d_ih)
//   alpha_ijh = softmax_j(e_ijh) = exp(e_ijh - lse_ih)
//   out_ih = sum_j alpha_ijh * drop_ijh * Wh_jh   (drop: 0 or 1/(1-p), gat_math.h)
// concatenated over heads ([N, H*F]) or averaged ([N, F]). Rows without
// in-edges give 0 (lse = -inf).
//
// Memory: nothing of size [E, H, F] is ever formed. The forward stores only
// lse [N, H] (plus s, d [N, H]); the backward uses one [E, H] buffer.
//
// Backends (same algorithm everywhere, all deterministic: fixed summation
// order, no floating-point atomics):
//   cpu   OpenMP over destination rows (forward, backward pass 1) and over
//         source rows of the transposed CSR (backward pass 2).
//   cuda  one warp per row, lanes over feature columns, 32-edge chunks staged
//   emu   in shared memory; rows with degree > kGatHeavyDegree get a whole
//         block (kGatHeavyWarps warps over slices of the row, partials merged
//         in warp order). The gradient to the source nodes is gathered over
//         the transposed CSR (no atomics), so backward is deterministic too.
#pragma once
#include "kernels/backend.h"
#include "kernels/gat_math.h"

namespace ember {

// Rows with more edges than this are processed by one thread block each
// (kernel backends); lighter rows by one warp each.
constexpr int64_t kGatHeavyDegree = 2048;

// The sparse structure the GAT kernels read (built by ops/message_graph.h).
struct GatGraphView {
  int64_t num_nodes = 0;
  Tensor row_ptr;    // int64 [N+1], CSR by destination
  Tensor col;        // int32 [E], source node of each in-edge
  Tensor heavy;      // int32 [k], rows with in-degree > kGatHeavyDegree (kernel backends only)
  // The transpose (CSR by source), needed by gat_backward only:
  Tensor t_row_ptr;  // int64 [N+1]
  Tensor t_dst;      // int32 [E], destination of each out-edge
  Tensor t_eid;      // int32 [E], position of that edge in `col`
  Tensor t_heavy;    // int32 [k], rows with out-degree > kGatHeavyDegree (kernel backends only)
};

}  // namespace ember

EMBER_DECLARE_BACKENDS(
    // s, d [N, H]: per-node source / destination attention scores.
    void gat_scores(const Tensor& wh, const Tensor& att_src, const Tensor& att_dst,
                    const GatParams& p, Tensor& s, Tensor& d);
    // out [N, O] and lse [N, H] (log-sum-exp of each row's scores, for the backward).
    void gat_forward(const GatGraphView& g, const Tensor& wh, const Tensor& s, const Tensor& d,
                     const GatParams& p, Tensor& out, Tensor& lse);
    // Given gout = dL/dout [N, O]: gwh = dL/dWh [N, H*F] (through the
    // aggregation and through both scores), gatt_src / gatt_dst [H, F].
    // All three outputs are overwritten.
    void gat_backward(const GatGraphView& g, const Tensor& wh, const Tensor& att_src,
                      const Tensor& att_dst, const Tensor& s, const Tensor& d, const Tensor& lse,
                      const Tensor& gout, const GatParams& p, Tensor& gwh, Tensor& gatt_src,
                      Tensor& gatt_dst);)
