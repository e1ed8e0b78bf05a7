#include "engine/train/weighting.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ember {

namespace {
// min over t in [0, 1] of || t a + (1 - t) b ||^2 from <a,a>, <a,b>, <b,b>.
double line_min(double aa, double ab, double bb) {
  const double denom = aa - 2 * ab + bb;
  if (!(denom > 0)) return 0.5;
  return std::clamp((bb - ab) / denom, 0.0, 1.0);
}
}  // namespace

std::vector<double> min_norm_weights(const std::vector<std::vector<double>>& G, int max_iter, double tol) {
  const size_t K = G.size();
  EMBER_CHECK(K >= 1, "min_norm_weights: no vectors");
  for (const auto& row : G) EMBER_CHECK(row.size() == K, "min_norm_weights: the Gram matrix must be square");
  for (size_t i = 0; i < K; ++i)
    for (size_t j = 0; j < K; ++j)
      EMBER_CHECK(std::isfinite(G[i][j]), "min_norm_weights: the Gram matrix has a non-finite entry");
  if (K == 1) return {1.0};
  if (K == 2) {
    const double t = line_min(G[0][0], G[0][1], G[1][1]);
    return {t, 1.0 - t};
  }
  // Frank-Wolfe on the simplex: start at the vertex of the smallest norm.
  std::vector<double> w(K, 0.0);
  size_t best = 0;
  for (size_t i = 1; i < K; ++i)
    if (G[i][i] < G[best][best]) best = i;
  w[best] = 1.0;
  for (int it = 0; it < max_iter; ++it) {
    // Gradient of |sum w g|^2 / 2 along vertex i is <g_i, v> with v = sum w g.
    std::vector<double> gv(K, 0.0);
    for (size_t i = 0; i < K; ++i)
      for (size_t j = 0; j < K; ++j) gv[i] += G[i][j] * w[j];
    const size_t s = static_cast<size_t>(std::min_element(gv.begin(), gv.end()) - gv.begin());
    double vv = 0;
    for (size_t i = 0; i < K; ++i) vv += w[i] * gv[i];
    if (vv - gv[s] <= tol) break;  // duality gap
    // Line search between v and g_s.
    const double t = line_min(vv, gv[s], G[s][s]);  // weight on v
    for (size_t i = 0; i < K; ++i) w[i] *= t;
    w[s] += 1.0 - t;
  }
  return w;
}

double gradnorm_weight(double fraction, double retrieval_norm, double aux_norm) {
  if (!(retrieval_norm > 0) || !(aux_norm > 0) || !std::isfinite(retrieval_norm) || !std::isfinite(aux_norm))
    return fraction;
  return fraction * retrieval_norm / aux_norm;
}

}  // namespace ember
