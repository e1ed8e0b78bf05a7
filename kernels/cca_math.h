// Per-element math of the CCA loss (kernels/cca.h), shared by the CPU
// reference and the CUDA kernels.
#pragma once
#include "core/hd.h"

namespace ember {
namespace math {

// dL/dzt of one view at one element (before the standardisation backward):
//   g * (2 (zt - zo) + 4 lambda (p - zt)),  p = (zt C)_ij.
template <class T>
EMBER_HD T cca_grad_zt(T g, T zt, T zo, T p, T lambda) {
  return g * (T(2) * (zt - zo) + T(4) * lambda * (p - zt));
}

// Chan et al. merge of two (count, mean, M2) column summaries.
EMBER_HD void chan_merge(double& n, double& mean, double& m2, double nb, double meanb, double m2b) {
  if (nb <= 0.0) return;
  if (n <= 0.0) {
    n = nb;
    mean = meanb;
    m2 = m2b;
    return;
  }
  const double tot = n + nb;
  const double delta = meanb - mean;
  mean += delta * (nb / tot);
  m2 += m2b + delta * delta * (n * nb / tot);
  n = tot;
}

}  // namespace math
}  // namespace ember
