// The SSMTL training objectives of the paper (robust-training-objectives-ebr,
// eqs. 3, 4, 5) as differentiable ops. Kernels: kernels/cca.h,
// kernels/cosine_error.h, kernels/retrieval_ce.h (CPU, CUDA, emulator).
// Every op returns a one-element Variable [1] of the inputs' dtype, on their
// device, and throws ember::Error for invalid arguments.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace ember {

// CCA loss, eq. (3), for two views za, zb [n, k] (same shape, dtype, device):
//   zt = (z - mu) / (sigma * sqrt(n)) per column, mu the column mean and
//   sigma = sqrt(var + eps) with var the BIASED (population, / n) column
//   variance and eps added inside the sqrt;
//   L = ||zta - ztb||_F^2 + lambda (||zta^T zta - I||_F^2 + ||ztb^T ztb - I||_F^2).
// Gradients flow through mu and sigma (they depend on every row).
// Degenerate input: a constant column (or n = 1) standardises to 0 (no NaN),
// its Gram diagonal is 0 (contributing lambda to the loss per view) and its
// gradient is the finite eps-limited value (1 / sqrt(eps) scale).
// Requires n >= 1, k >= 1, lambda >= 0, eps > 0.
Variable cca_loss(const Variable& za, const Variable& zb, double lambda = 1e-3, double eps = 1e-8);

// Scaled cosine error, eq. (4):
//   L = (1/|V|) sum_{r} (1 - cos(x_i, z_i))^y,  i = rows[r],
// x [N, d] the original features (usually a constant), z [N, d] the
// reconstruction; rows int32/int64 [|V|] on the CPU or the device of x.
// Norms are max(||.||, eps) (a zero row gives cos = 0, never NaN); 1 - cos is
// clamped at 0 against rounding. Requires y >= 1, eps > 0, |V| >= 1, every
// index in [0, N) (checked on the host: the error names the offending index).
// Duplicate indices count once per occurrence (their gradients add; on a GPU
// through atomicAdd, otherwise deterministic).
Variable scaled_cosine_error(const Variable& x, const Variable& z, const Tensor& rows, double y = 2.0,
                             double eps = 1e-8);

struct RetrievalOptions {
  double temperature = 1.0;       // tau > 0: logits are <q, c> / tau
  const Tensor* mask = nullptr;   // optional int32 [B, M] on the device of q: 0 excludes candidate j from
                                  // query b's softmax (accidental hits); a query's own positives are always
                                  // kept. (ember has no uint8 dtype: use int32.)
  Tensor log_q;                   // optional [M] (dtype / device of c): logQ correction subtracted from the logits
};

// Retrieval softmax cross-entropy, eq. (5), over a shared candidate set:
//   logit[b, j] = <q_b, c_j> / tau - log_q[j],
//   L = -(1/B) sum_b (1/|P_b|) sum_{p in P_b} log softmax_{j included}(logit[b, :])[p]
// q [B, d], c [M, d]; positives int32/int64 [B, P] (CPU or the device of q):
// candidate index per query, -1 = padding, at least one per query, several
// allowed. Streamed (never a [B, M] buffer): the forward stores lse [B]; the
// backward recomputes logit tiles (no atomics, deterministic). The positives
// are copied to the host for validation (and, when c needs a gradient, to
// group them by candidate).
Variable retrieval_softmax_ce(const Variable& q, const Variable& c, const Tensor& positives,
                              const RetrievalOptions& options = {});

// Helpers for the engine (CPU builders; the sampling itself lives in the engine).
// positives int64 [B, P] from (query, candidate) pairs, P = the largest count
// of a query (at least 1), padded with -1; pairs of one query keep their order.
// Throws when a query is out of [0, B) or a candidate negative.
Tensor retrieval_positives(int64_t num_queries, const std::vector<std::pair<int64_t, int64_t>>& pairs,
                           Device device = Device::CPU);
// Accidental-hit mask int32 [B, M]: 1 everywhere, 0 at the given (query,
// candidate) pairs (e.g. every known link of the query among the candidates;
// the query's positives may be included: they are never masked by the op).
Tensor retrieval_hit_mask(int64_t num_queries, int64_t num_candidates,
                          const std::vector<std::pair<int64_t, int64_t>>& hits, Device device = Device::CPU);

}  // namespace ember
