// CPU reference for kernels/cca.h. Rows are processed in fixed chunks of
// kChunk rows (OpenMP over chunks); per-chunk double partials are combined
// in chunk order, so results do not depend on the thread count.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cca.h"
#include "kernels/cca_math.h"

namespace ember {
namespace cpu {

namespace {
constexpr int64_t kChunk = 4096;
int64_t chunks(int64_t n) { return (n + kChunk - 1) / kChunk; }
}  // namespace

void cca_gram(const Tensor& zt, Tensor& c) {
  const int64_t n = zt.size(0), k = zt.size(1);
  constexpr int64_t kGramChunk = 16384;  // rows per partial Gram (fixed: results independent of threads)
  const int64_t nch = std::max<int64_t>(1, (n + kGramChunk - 1) / kGramChunk);
  EMBER_FLOAT_SWITCH(zt.dtype(), T, {
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    std::vector<Mat> part(static_cast<size_t>(nch));
_Pragma("omp parallel for schedule(dynamic, 1) if (nch > 1)")
    for (int64_t ch = 0; ch < nch; ++ch) {
      const int64_t r0 = ch * kGramChunk, r1 = std::min(n, r0 + kGramChunk);
      Eigen::Map<const Mat> Z(zt.data<T>() + r0 * k, r1 - r0, k);
      part[ch].setZero(k, k);
      part[ch].template selfadjointView<Eigen::Lower>().rankUpdate(Z.transpose());
    }
    T* pc = c.data<T>();
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        T s = T(0);
        for (int64_t ch = 0; ch < nch; ++ch) s += part[ch](i, j);  // lower triangle, chunk order
        pc[i * k + j] = pc[j * k + i] = s;
      }
  });
}

void cca_standardize(const Tensor& z, double eps, Tensor& zt, Tensor& inv_std) {
  const int64_t n = z.size(0), k = z.size(1), nch = chunks(n);
  // Per chunk and column: count, mean, M2 (two passes inside the chunk).
  std::vector<double> mean_c(static_cast<size_t>(nch * k)), m2_c(static_cast<size_t>(nch * k));
  EMBER_FLOAT_SWITCH(z.dtype(), T, {
    const T* pz = z.data<T>();
_Pragma("omp parallel for schedule(static) if (nch > 1)")
    for (int64_t c = 0; c < nch; ++c) {
      const int64_t r0 = c * kChunk, r1 = std::min(n, r0 + kChunk);
      double* mu = &mean_c[c * k];
      double* m2 = &m2_c[c * k];
      for (int64_t j = 0; j < k; ++j) mu[j] = m2[j] = 0.0;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = 0; j < k; ++j) mu[j] += pz[i * k + j];
      for (int64_t j = 0; j < k; ++j) mu[j] /= static_cast<double>(r1 - r0);
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const double dv = pz[i * k + j] - mu[j];
          m2[j] += dv * dv;
        }
    }
    std::vector<double> mu(static_cast<size_t>(k)), scale(static_cast<size_t>(k));
    T* pinv = inv_std.data<T>();
    const double rsn = 1.0 / std::sqrt(static_cast<double>(n));
    for (int64_t j = 0; j < k; ++j) {
      double cnt = 0.0, m = 0.0, q = 0.0;
      for (int64_t c = 0; c < nch; ++c) {
        const double cn = static_cast<double>(std::min(n, (c + 1) * kChunk) - c * kChunk);
        math::chan_merge(cnt, m, q, cn, mean_c[c * k + j], m2_c[c * k + j]);
      }
      const double inv = 1.0 / std::sqrt(q / static_cast<double>(n) + eps);
      mu[j] = m;
      scale[j] = inv * rsn;
      pinv[j] = static_cast<T>(inv);
    }
    T* pt = zt.data<T>();
_Pragma("omp parallel for schedule(static) if (n * k > 32768)")
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) pt[i * k + j] = static_cast<T>((pz[i * k + j] - mu[j]) * scale[j]);
  });
}

void cca_loss_forward(const Tensor& zta, const Tensor& ztb, const Tensor& ca, const Tensor& cb, double lambda,
                      Tensor& out) {
  const int64_t n = zta.size(0), k = zta.size(1), nch = chunks(n);
  std::vector<double> part(static_cast<size_t>(nch), 0.0);
  EMBER_FLOAT_SWITCH(zta.dtype(), T, {
    const T* pa = zta.data<T>();
    const T* pb = ztb.data<T>();
_Pragma("omp parallel for schedule(static) if (nch > 1)")
    for (int64_t c = 0; c < nch; ++c) {
      double s = 0.0;
      for (int64_t e = c * kChunk * k; e < std::min(n, (c + 1) * kChunk) * k; ++e) {
        const double dv = static_cast<double>(pa[e]) - pb[e];
        s += dv * dv;
      }
      part[c] = s;
    }
    double total = 0.0;
    for (double v : part) total += v;
    double reg = 0.0;
    for (const Tensor* cm : {&ca, &cb}) {
      const T* pc = cm->data<T>();
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const double dv = static_cast<double>(pc[i * k + j]) - (i == j ? 1.0 : 0.0);
          reg += dv * dv;
        }
    }
    out.data<T>()[0] = static_cast<T>(total + lambda * reg);
  });
}

void cca_view_backward(const Tensor& zt, const Tensor& zt_other, const Tensor& p, const Tensor& inv_std,
                       double lambda, const Tensor& gout, Tensor& dz) {
  const int64_t n = zt.size(0), k = zt.size(1), nch = chunks(n);
  std::vector<double> a_c(static_cast<size_t>(nch * k)), b_c(static_cast<size_t>(nch * k));
  EMBER_FLOAT_SWITCH(zt.dtype(), T, {
    const T* pt = zt.data<T>();
    const T* po = zt_other.data<T>();
    const T* pp = p.data<T>();
    const T* pinv = inv_std.data<T>();
    const double g = static_cast<double>(gout.data<T>()[0]);
    auto grad = [&](int64_t e) {
      return math::cca_grad_zt<double>(g, pt[e], po[e], pp[e], lambda);
    };
_Pragma("omp parallel for schedule(static) if (nch > 1)")
    for (int64_t c = 0; c < nch; ++c) {
      double* a = &a_c[c * k];
      double* b = &b_c[c * k];
      for (int64_t j = 0; j < k; ++j) a[j] = b[j] = 0.0;
      for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i)
        for (int64_t j = 0; j < k; ++j) {
          const double gv = grad(i * k + j);
          a[j] += gv;
          b[j] += gv * pt[i * k + j];
        }
    }
    std::vector<double> a(static_cast<size_t>(k), 0.0), b(static_cast<size_t>(k), 0.0), sc(static_cast<size_t>(k));
    for (int64_t c = 0; c < nch; ++c)
      for (int64_t j = 0; j < k; ++j) {
        a[j] += a_c[c * k + j];
        b[j] += b_c[c * k + j];
      }
    const double rsn = 1.0 / std::sqrt(static_cast<double>(n));
    for (int64_t j = 0; j < k; ++j) {
      a[j] /= static_cast<double>(n);
      sc[j] = static_cast<double>(pinv[j]) * rsn;
    }
    T* pd = dz.data<T>();
_Pragma("omp parallel for schedule(static) if (n * k > 32768)")
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t e = i * k + j;
        pd[e] = static_cast<T>((grad(e) - a[j] - pt[e] * b[j]) * sc[j]);
      }
  });
}

}  // namespace cpu
}  // namespace ember
