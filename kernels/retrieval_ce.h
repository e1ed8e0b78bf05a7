// Retrieval softmax cross-entropy (paper eq. 5) over a large candidate set,
// streamed: no [B, M] logit or probability buffer is ever allocated.
//
//   logit[b, j] = <q_b, c_j> * inv_tau - log_q[j]          (log_q optional)
//   included(b, j) = mask[b, j] != 0  or  j is a positive of b   (no mask: all)
//   lse[b]  = log sum_{j included} exp(logit[b, j])          (max-subtracted)
//   loss    = (1/B) sum_b ( lse[b] - (1/|P_b|) sum_{p in P_b} logit[b, p] )
// Gradients (g = incoming scalar gradient, w = g * inv_tau / B):
//   dq_b = w ( sum_{j included} softmax[b, j] c_j - (1/|P_b|) sum_{p in P_b} c_p )
//   dc_j = w ( sum_{b: j included} softmax[b, j] q_b - sum_{(b, p): p = j} q_b / |P_b| )
//
// Arguments (validated by ops/objectives.cpp): q [B, d], c [M, d] contiguous,
// same float dtype and device; positives int64 [B, P] with -1 padding, values
// in [0, M), at least one per row; mask int32 [B, M] or undefined; log_q [M]
// (dtype of q) or undefined.
//
// GPU (kernels/retrieval_ce_cuda.cu), flash-attention style:
//   forward   grid (query tiles of 64, candidate splits): each block streams
//             64x64 logit tiles (shared-memory tiled dot products), keeps an
//             online (max, sum) per query and thread, merges them with warp
//             shuffles and writes one (max, sum) per query and split; a
//             finalize kernel merges the splits (fixed order), adds the
//             positive logits and the one-block mean gives the loss. Stores
//             only lse [B].
//   backward  recomputes the logit tiles twice, without atomics:
//             dq: grid (query tiles, candidate splits, d chunks of 128), each
//                 block accumulates P_tile @ C_tile into registers, per-split
//                 partials [S, B, d] summed in split order (+ positive term);
//             dc: grid (candidate tiles, 1, d chunks), each block loops over
//                 all query tiles accumulating P_tile^T @ Q_tile, then one
//                 warp per distinct positive candidate subtracts the positive
//                 term (pairs grouped by candidate on the host, fixed order).
//   Everything is deterministic (no atomics, fixed reduction orders).
// CPU (kernels/retrieval_ce_cpu.cpp): the same streaming over blocks of
// queries x candidates with Eigen GEMM tiles, OpenMP over query blocks
// (forward, dq) or candidate blocks (dc); deterministic.
#pragma once
#include "kernels/backend.h"

namespace ember {

// The positive pairs grouped by candidate, for the dc positive term (built on
// the host by ops/objectives.cpp, on the device of q):
//   segment s covers pairs [seg_ptr[s], seg_ptr[s+1]) of candidate seg_cand[s];
//   pair e is query seg_query[e] with weight seg_weight[e] = 1 / |P_b|.
struct RetrievalPairsByCandidate {
  Tensor seg_ptr;     // int64 [S + 1]
  Tensor seg_cand;    // int64 [S]
  Tensor seg_query;   // int64 [nnz]
  Tensor seg_weight;  // float64 [nnz]
};

}  // namespace ember

EMBER_DECLARE_BACKENDS(
    // lse [B] and out [1] = loss (dtype of q).
    void retrieval_ce_forward(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                              const Tensor& log_q, double inv_tau, Tensor& lse, Tensor& out);
    // dq [B, d] and / or dc [M, d] (an undefined one is not computed);
    // lse from the forward, gout [1] = g on the device.
    void retrieval_ce_backward(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                               const Tensor& log_q, double inv_tau, const Tensor& lse, const Tensor& gout,
                               const RetrievalPairsByCandidate& pairs, Tensor& dq, Tensor& dc);)
