// SSMTL weights that work without a sweep (objectives.weighting):
//
//   "fixed"     L = alpha L_ret + beta L_CCA + gamma L_MAE with the configured
//               weights (paper eq. 6).
//   "gradnorm"  every objectives.weighting_every steps the unweighted
//               encoder-gradient norm of each objective is measured on the
//               batch (a separate backward pass each, the mechanism of
//               train.grad_diagnostics) and the auxiliary weights are set so
//               that each auxiliary gradient is the configured fraction of the
//               retrieval gradient: beta_eff = beta * |g_ret| / |g_CCA|,
//               gamma_eff = gamma * |g_ret| / |g_MAE|; beta and gamma then
//               mean "fraction of the retrieval gradient" (alpha stays as is).
//   "mgda"      multiple-gradient descent (Sener & Koltun, NeurIPS 2018; used
//               for multi-task graph self-supervision by Ju et al., ICLR 2023,
//               the paper's reference [19]): every step each objective's
//               gradient on the shared encoder (and the id rows) is computed
//               separately, the shared gradient is the min-norm point of their
//               convex hull (weights >= 0 summing to 1, found by
//               min_norm_weights), and each head keeps its own objective's
//               gradient. Objectives with weight 0 in the config are left out.
#pragma once
#include <cstdint>
#include <vector>

namespace ember {

// The weights w (w_i >= 0, sum w_i = 1) minimising || sum_i w_i g_i ||^2,
// given the Gram matrix gram[i][j] = <g_i, g_j> of K vectors. Exact for K <= 2;
// Frank-Wolfe (Jaggi 2013, as in MGDA) otherwise, to a duality gap of `tol`.
std::vector<double> min_norm_weights(const std::vector<std::vector<double>>& gram, int max_iter = 250,
                                     double tol = 1e-10);

// The gradnorm rule: the weight that makes `aux_norm` * weight equal to
// fraction * retrieval_norm (fraction itself when a norm is 0 or not finite).
double gradnorm_weight(double fraction, double retrieval_norm, double aux_norm);

}  // namespace ember
