// Per-row math of the scaled cosine error (paper eq. 4), shared by the CPU
// reference (kernels/cosine_error_cpu.cpp) and the CUDA kernels
// (kernels/cosine_error_cuda.cu).
//
// For one row pair (x, z) with dot = <x, z>, xx = ||x||^2, zz = ||z||^2:
//   nx = max(||x||, eps), nz = max(||z||, eps)      (zero rows: divided by eps; a NaN input stays NaN)
//   c  = dot / (nx * nz)
//   u  = max(1 - c, 0)                              (c may round above 1)
//   loss = u^y,  dloss/dc = -y * u^(y-1)            (y >= 1, so u^(y-1) is finite; 0^0 = 1)
//   dc/dz = x / (nx nz) - c z / nz^2   (the second term is 0 when ||z|| <= eps: nz is the constant eps)
//   dc/dx = z / (nx nz) - c x / nx^2   (likewise for ||x|| <= eps)
#pragma once
#include <cmath>

#include "core/hd.h"

namespace ember {
namespace math {

template <class T>
struct SceRow {
  T cos;     // clamped-norm cosine
  T dldc;    // d loss / d cos
  T a;       // 1 / (nx nz)
  T bx;      // -c / nx^2, or 0 when ||x|| <= eps
  T bz;      // -c / nz^2, or 0 when ||z|| <= eps
};

template <class T>
EMBER_HD T sce_norm(T sq, T eps) {
  const T n = sqrt(sq);
  return (n > eps || n != n) ? n : eps;  // NaN propagates (n != n), it is not clamped to eps
}

template <class T>
EMBER_HD T sce_loss_from_cos(T c, T y) {
  T u = T(1) - c;
  u = (u > T(0) || u != u) ? u : T(0);
  return pow(u, y);
}

// Everything a row needs, from its three dot products.
template <class T>
EMBER_HD SceRow<T> sce_row(T dot, T xx, T zz, T y, T eps) {
  SceRow<T> r;
  const T nx = sce_norm(xx, eps), nz = sce_norm(zz, eps);
  r.a = T(1) / (nx * nz);
  r.cos = dot * r.a;
  T u = T(1) - r.cos;
  u = (u > T(0) || u != u) ? u : T(0);
  r.dldc = -y * pow(u, y - T(1));
  r.bx = sqrt(xx) > eps ? -r.cos / (nx * nx) : T(0);
  r.bz = sqrt(zz) > eps ? -r.cos / (nz * nz) : T(0);
  return r;
}

}  // namespace math
}  // namespace ember
