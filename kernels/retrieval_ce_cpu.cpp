// CPU reference for kernels/retrieval_ce.h: streamed over blocks of queries x
// candidates (Eigen GEMM per block, one per-thread block buffer), never a
// [B, M] buffer. Row statistics in double. OpenMP over query blocks (forward,
// dq) or candidate blocks (dc); every output element is produced by one
// thread in a fixed order, so results are deterministic.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/retrieval_ce.h"

namespace ember {
namespace cpu {

namespace {

constexpr int64_t kQBlock = 64;     // queries per block
constexpr int64_t kCBlock = 1024;   // candidates per block

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using CMap = Eigen::Map<const Mat<T>>;

struct Problem {
  int64_t B, M, d, P;
  const int64_t* pos;
  const int32_t* mask;  // nullptr: no mask
  double inv_tau;
};

inline bool included(const Problem& pr, int64_t b, int64_t j) {
  if (!pr.mask || pr.mask[b * pr.M + j] != 0) return true;
  for (int64_t p = 0; p < pr.P; ++p)
    if (pr.pos[b * pr.P + p] == j) return true;
  return false;
}

// L[i, jj] = logit[b0 + i, j0 + jj] for the block (T, as on the GPU).
template <class T>
void logit_block(const T* q, const T* c, const T* logq, const Problem& pr, int64_t b0, int64_t nb, int64_t j0,
                 int64_t nc, Mat<T>& L) {
  CMap<T> Q(q + b0 * pr.d, nb, pr.d);
  CMap<T> C(c + j0 * pr.d, nc, pr.d);
  L.resize(nb, nc);
  L.noalias() = Q * C.transpose();
  const T it = static_cast<T>(pr.inv_tau);
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t jj = 0; jj < nc; ++jj) L(i, jj) = L(i, jj) * it - (logq ? logq[j0 + jj] : T(0));
}

template <class T>
double dot(const T* a, const T* b, int64_t d) {
  double s = 0.0;
  for (int64_t k = 0; k < d; ++k) s += static_cast<double>(a[k]) * b[k];
  return s;
}

template <class T>
void forward_impl(const Tensor& q, const Tensor& c, const Problem& pr, const Tensor& log_q, Tensor& lse,
                  Tensor& out) {
  const T* pq = q.data<T>();
  const T* pc = c.data<T>();
  const T* pl = log_q.defined() ? log_q.data<T>() : nullptr;
  T* plse = lse.data<T>();
  const int64_t nqb = (pr.B + kQBlock - 1) / kQBlock;
  std::vector<double> loss_rows(static_cast<size_t>(pr.B));
#pragma omp parallel if (nqb > 1)
  {
    Mat<T> L;
    std::vector<double> m(kQBlock), s(kQBlock);
#pragma omp for schedule(dynamic, 1)
    for (int64_t qb = 0; qb < nqb; ++qb) {
      const int64_t b0 = qb * kQBlock, nb = std::min(kQBlock, pr.B - b0);
      std::fill(m.begin(), m.end(), -INFINITY);
      std::fill(s.begin(), s.end(), 0.0);
      for (int64_t j0 = 0; j0 < pr.M; j0 += kCBlock) {
        const int64_t nc = std::min(kCBlock, pr.M - j0);
        logit_block(pq, pc, pl, pr, b0, nb, j0, nc, L);
        for (int64_t i = 0; i < nb; ++i) {
          double bm = -INFINITY;
          for (int64_t jj = 0; jj < nc; ++jj)
            if (included(pr, b0 + i, j0 + jj)) bm = std::max(bm, static_cast<double>(L(i, jj)));
          if (bm == -INFINITY) continue;
          const double mn = std::max(m[i], bm);
          double acc = s[i] * std::exp(m[i] - mn);
          for (int64_t jj = 0; jj < nc; ++jj)
            if (included(pr, b0 + i, j0 + jj)) acc += std::exp(static_cast<double>(L(i, jj)) - mn);
          m[i] = mn;
          s[i] = acc;
        }
      }
      for (int64_t i = 0; i < nb; ++i) {
        const int64_t b = b0 + i;
        const double l = m[i] + std::log(s[i]);
        plse[b] = static_cast<T>(l);
        double pos_sum = 0.0;
        int64_t cnt = 0;
        for (int64_t p = 0; p < pr.P; ++p) {
          const int64_t j = pr.pos[b * pr.P + p];
          if (j < 0) continue;
          pos_sum += dot(pq + b * pr.d, pc + j * pr.d, pr.d) * pr.inv_tau - (pl ? static_cast<double>(pl[j]) : 0.0);
          ++cnt;
        }
        loss_rows[b] = l - pos_sum / static_cast<double>(cnt);
      }
    }
  }
  double total = 0.0;
  for (double v : loss_rows) total += v;
  out.data<T>()[0] = static_cast<T>(total / static_cast<double>(pr.B));
}

template <class T>
void backward_impl(const Tensor& q, const Tensor& c, const Problem& pr, const Tensor& log_q, const Tensor& lse,
                   const Tensor& gout, const RetrievalPairsByCandidate& pairs, Tensor& dq, Tensor& dc) {
  const T* pq = q.data<T>();
  const T* pc = c.data<T>();
  const T* pl = log_q.defined() ? log_q.data<T>() : nullptr;
  const T* plse = lse.data<T>();
  const double w = static_cast<double>(gout.data<T>()[0]) * pr.inv_tau / static_cast<double>(pr.B);
  const int64_t d = pr.d;
  if (dq.defined()) {
    T* pdq = dq.data<T>();
    const int64_t nqb = (pr.B + kQBlock - 1) / kQBlock;
#pragma omp parallel if (nqb > 1)
    {
      Mat<T> L, acc;
#pragma omp for schedule(dynamic, 1)
      for (int64_t qb = 0; qb < nqb; ++qb) {
        const int64_t b0 = qb * kQBlock, nb = std::min(kQBlock, pr.B - b0);
        acc.setZero(nb, d);
        for (int64_t j0 = 0; j0 < pr.M; j0 += kCBlock) {
          const int64_t nc = std::min(kCBlock, pr.M - j0);
          logit_block(pq, pc, pl, pr, b0, nb, j0, nc, L);
          for (int64_t i = 0; i < nb; ++i)
            for (int64_t jj = 0; jj < nc; ++jj)
              L(i, jj) = included(pr, b0 + i, j0 + jj) ? static_cast<T>(std::exp(L(i, jj) - plse[b0 + i])) : T(0);
          acc.noalias() += L * CMap<T>(pc + j0 * d, nc, d);
        }
        for (int64_t i = 0; i < nb; ++i) {
          const int64_t b = b0 + i;
          int64_t cnt = 0;
          for (int64_t p = 0; p < pr.P; ++p) cnt += pr.pos[b * pr.P + p] >= 0;
          for (int64_t k = 0; k < d; ++k) {
            double ps = 0.0;
            for (int64_t p = 0; p < pr.P; ++p) {
              const int64_t j = pr.pos[b * pr.P + p];
              if (j >= 0) ps += pc[j * d + k];
            }
            pdq[b * d + k] = static_cast<T>(w * (static_cast<double>(acc(i, k)) - ps / static_cast<double>(cnt)));
          }
        }
      }
    }
  }
  if (dc.defined()) {
    T* pdc = dc.data<T>();
    constexpr int64_t kCB = 256, kQB = 1024;
    const int64_t ncb = (pr.M + kCB - 1) / kCB;
#pragma omp parallel if (ncb > 1)
    {
      Mat<T> L, acc;
#pragma omp for schedule(dynamic, 1)
      for (int64_t cb = 0; cb < ncb; ++cb) {
        const int64_t j0 = cb * kCB, nc = std::min(kCB, pr.M - j0);
        acc.setZero(nc, d);
        for (int64_t b0 = 0; b0 < pr.B; b0 += kQB) {
          const int64_t nb = std::min(kQB, pr.B - b0);
          logit_block(pq, pc, pl, pr, b0, nb, j0, nc, L);  // [nb, nc]
          for (int64_t i = 0; i < nb; ++i)
            for (int64_t jj = 0; jj < nc; ++jj)
              L(i, jj) = included(pr, b0 + i, j0 + jj) ? static_cast<T>(std::exp(L(i, jj) - plse[b0 + i])) : T(0);
          acc.noalias() += L.transpose() * CMap<T>(pq + b0 * d, nb, d);
        }
        for (int64_t jj = 0; jj < nc; ++jj)
          for (int64_t k = 0; k < d; ++k) pdc[(j0 + jj) * d + k] = static_cast<T>(w * static_cast<double>(acc(jj, k)));
      }
    }
    // Positive term, grouped by candidate (fixed order).
    const int64_t nseg = pairs.seg_cand.numel();
    const int64_t* sp = pairs.seg_ptr.data<int64_t>();
    const int64_t* sc = pairs.seg_cand.data<int64_t>();
    const int64_t* sq = pairs.seg_query.data<int64_t>();
    const double* sw = pairs.seg_weight.data<double>();
#pragma omp parallel for schedule(static) if (nseg * d > 32768)
    for (int64_t s = 0; s < nseg; ++s) {
      const int64_t j = sc[s];
      for (int64_t k = 0; k < d; ++k) {
        double acc = 0.0;
        for (int64_t e = sp[s]; e < sp[s + 1]; ++e) acc += sw[e] * pq[sq[e] * d + k];
        pdc[j * d + k] = static_cast<T>(static_cast<double>(pdc[j * d + k]) - w * acc);
      }
    }
  }
}

Problem make_problem(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                     double inv_tau) {
  return Problem{q.size(0), c.size(0), q.size(1), positives.size(1), positives.data<int64_t>(),
                 mask.defined() ? mask.data<int32_t>() : nullptr, inv_tau};
}

}  // namespace

void retrieval_ce_forward(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                          const Tensor& log_q, double inv_tau, Tensor& lse, Tensor& out) {
  const Problem pr = make_problem(q, c, positives, mask, inv_tau);
  EMBER_FLOAT_SWITCH(q.dtype(), T, forward_impl<T>(q, c, pr, log_q, lse, out));
}

void retrieval_ce_backward(const Tensor& q, const Tensor& c, const Tensor& positives, const Tensor& mask,
                           const Tensor& log_q, double inv_tau, const Tensor& lse, const Tensor& gout,
                           const RetrievalPairsByCandidate& pairs, Tensor& dq, Tensor& dc) {
  const Problem pr = make_problem(q, c, positives, mask, inv_tau);
  EMBER_FLOAT_SWITCH(q.dtype(), T, backward_impl<T>(q, c, pr, log_q, lse, gout, pairs, dq, dc));
}

}  // namespace cpu
}  // namespace ember
