// Graph attention layer (GAT, paper eq. 2), differentiable.
//
// Per head h (H heads, F features each), with Wh = x W:
//   s_j = <a_src_h, Wh_jh>, d_i = <a_dst_h, Wh_ih>
//   e_ij = LeakyReLU(s_j + d_i), alpha_ij = softmax over in-neighbours j of i
//   out_ih = sum_j dropout(alpha_ij) Wh_jh
// out = concat_h out_ih ([N, H*F]) or mean_h out_ih ([N, F]), + bias,
// + residual (x R, or x itself).
//
// The sparse part (gat_attention) is one fused kernel family
// (kernels/gat.h): it never forms an [E, H, F] tensor; the forward keeps only
// per-(node, head) statistics, the backward one [E, H] buffer. Attention
// dropout uses a Philox mask keyed by (edge index in g.col, head), identical
// on CPU, GPU and emulator and recomputed in the backward. Forward and
// backward are deterministic on every backend (no floating-point atomics; the
// gradient to source nodes goes through the transposed CSR, built once per
// graph and cached in g.cache).
#pragma once
#include <cstdint>

#include "autograd/variable.h"
#include "ops/message_graph.h"

namespace ember {

struct GatOptions {
  int64_t heads = 1;
  int64_t out_features = 1;  // F, per head
  bool concat = true;        // false: mean over heads
  double negative_slope = 0.2;
  double attn_dropout = 0.0;  // dropout rate on the attention weights
  uint64_t dropout_seed = 0, dropout_stream = 0;
  bool training = true;  // attention dropout only when training
  bool residual = false;  // add x R (residual_weight given) or x (identity)
};

// The sparse attention part: wh [N, H*F] (already projected), att_src /
// att_dst [H, F] -> [N, H*F] (concat) or [N, F] (mean). No bias.
Variable gat_attention(const Variable& wh, const MessageGraph& g, const Variable& att_src,
                       const Variable& att_dst, const GatOptions& options);

// The full layer. x [N, F_in] on g's device; weight [F_in, H*F];
// att_src / att_dst [H, F]; bias [H*F] (concat) or [F] (mean), or undefined;
// residual_weight [F_in, out] when options.residual and a projection is
// wanted; with options.residual and no residual_weight, x is added as is
// (F_in must equal the output width).
Variable gat_conv(const Variable& x, const MessageGraph& g, const Variable& weight,
                  const Variable& att_src, const Variable& att_dst, const Variable& bias,
                  const GatOptions& options, const Variable& residual_weight = {});

}  // namespace ember
