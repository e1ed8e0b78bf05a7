#include "ops/objectives.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cca.h"
#include "kernels/cosine_error.h"
#include "kernels/retrieval_ce.h"
#include "kernels/tensor_ops.h"

namespace ember {

namespace {

void check_matrix(const Tensor& x, const char* op, const char* name) {
  EMBER_CHECK(x.defined(), op << ": " << name << " is undefined");
  EMBER_CHECK(is_float(x.dtype()) && x.dim() == 2,
              op << ": " << name << " must be a 2-D float tensor, got " << x.describe());
}

void check_pair(const Tensor& a, const Tensor& b, const char* op, const char* na, const char* nb) {
  EMBER_CHECK(a.dtype() == b.dtype(), op << ": dtype mismatch, " << na << " " << a.describe() << " vs " << nb << " "
                                         << b.describe());
  EMBER_CHECK(a.device() == b.device(), op << ": device mismatch, " << na << " " << a.describe() << " vs " << nb
                                           << " " << b.describe());
}

// Host copy of an int32/int64 tensor as int64 values.
std::vector<int64_t> host_indices(const Tensor& t, const char* op, const char* name) {
  EMBER_CHECK(t.defined(), op << ": " << name << " is undefined");
  EMBER_CHECK(t.dtype() == DType::I32 || t.dtype() == DType::I64,
              op << ": " << name << " must be int32 or int64, got " << t.describe());
  if (t.dtype() == DType::I64) return t.contiguous().to_vector<int64_t>();
  std::vector<int32_t> v = t.contiguous().to_vector<int32_t>();
  return std::vector<int64_t>(v.begin(), v.end());
}

Tensor zeros_like(const Tensor& x) { return Tensor::zeros(x.shape(), x.dtype(), x.device()); }

}  // namespace

// ---- CCA (eq. 3) ------------------------------------------------------------------------

Variable cca_loss(const Variable& za, const Variable& zb, double lambda, double eps) {
  const char* op = "cca_loss";
  check_matrix(za.value(), op, "za");
  check_matrix(zb.value(), op, "zb");
  check_pair(za.value(), zb.value(), op, "za", "zb");
  EMBER_CHECK(za.shape() == zb.shape(), op << ": shape mismatch, za " << za.value().describe() << " vs zb "
                                           << zb.value().describe());
  EMBER_CHECK(za.size(0) >= 1 && za.size(1) >= 1, op << ": need at least one row and one column, got "
                                                     << za.value().describe());
  EMBER_CHECK(std::isfinite(lambda) && lambda >= 0.0, op << ": lambda must be >= 0, got " << lambda);
  EMBER_CHECK(std::isfinite(eps) && eps > 0.0, op << ": eps must be > 0, got " << eps);
  const Tensor a = za.value().contiguous(), b = zb.value().contiguous();
  const int64_t k = a.size(1);
  const Device dev = a.device();
  Tensor zta = Tensor::empty(a.shape(), a.dtype(), dev), ztb = Tensor::empty(a.shape(), a.dtype(), dev);
  Tensor inva = Tensor::empty({k}, a.dtype(), dev), invb = Tensor::empty({k}, a.dtype(), dev);
  EMBER_DISPATCH(dev, cca_standardize, a, eps, zta, inva);
  EMBER_DISPATCH(dev, cca_standardize, b, eps, ztb, invb);
  Tensor ca = Tensor::empty({k, k}, a.dtype(), dev), cb = Tensor::empty({k, k}, a.dtype(), dev);
  EMBER_DISPATCH(dev, cca_gram, zta, ca);
  EMBER_DISPATCH(dev, cca_gram, ztb, cb);
  Tensor loss = Tensor::empty({1}, a.dtype(), dev);
  EMBER_DISPATCH(dev, cca_loss_forward, zta, ztb, ca, cb, lambda, loss);
  return Variable::make(loss, {za, zb},
                        [zta, ztb, inva, invb, ca, cb, lambda](const Tensor& g_in, std::vector<Variable>& in) {
                          Tensor g = g_in.contiguous();
                          const Tensor* zt[2] = {&zta, &ztb};
                          const Tensor* inv[2] = {&inva, &invb};
                          const Tensor* gram[2] = {&ca, &cb};
                          for (int v = 0; v < 2; ++v) {
                            if (!in[v].requires_grad()) continue;
                            Tensor p = tensor::matmul(*zt[v], *gram[v]);
                            Tensor dz = Tensor::empty(zt[v]->shape(), zt[v]->dtype(), zt[v]->device());
                            EMBER_DISPATCH(dz.device(), cca_view_backward, *zt[v], *zt[1 - v], p, *inv[v], lambda, g,
                                           dz);
                            in[v].accumulate_grad(dz);
                          }
                        },
                        "cca_loss");
}

// ---- scaled cosine error (eq. 4) ------------------------------------------------------------

Variable scaled_cosine_error(const Variable& x, const Variable& z, const Tensor& rows, double y, double eps) {
  const char* op = "scaled_cosine_error";
  check_matrix(x.value(), op, "x");
  check_matrix(z.value(), op, "z");
  check_pair(x.value(), z.value(), op, "x", "z");
  EMBER_CHECK(x.shape() == z.shape(), op << ": shape mismatch, x " << x.value().describe() << " vs z "
                                         << z.value().describe());
  EMBER_CHECK(std::isfinite(y) && y >= 1.0, op << ": the exponent y must be >= 1 (eq. 4), got " << y);
  EMBER_CHECK(std::isfinite(eps) && eps > 0.0, op << ": eps must be > 0, got " << eps);
  EMBER_CHECK(rows.defined() && rows.dim() == 1, op << ": rows must be a 1-D index tensor, got "
                                                    << (rows.defined() ? rows.describe() : std::string("undefined")));
  EMBER_CHECK(rows.device() == Device::CPU || rows.device() == x.device(),
              op << ": rows " << rows.describe() << " must be on the CPU or on " << device_name(x.device()));
  const std::vector<int64_t> idx = host_indices(rows, op, "rows");
  EMBER_CHECK(!idx.empty(), op << ": the row set V is empty");
  const int64_t n = x.size(0);
  std::vector<char> seen(static_cast<size_t>(n), 0);
  bool unique = true;
  for (size_t r = 0; r < idx.size(); ++r) {
    EMBER_CHECK(idx[r] >= 0 && idx[r] < n, op << ": rows[" << r << "] = " << idx[r] << " is out of range [0, " << n
                                              << ")");
    unique = unique && !seen[idx[r]];
    seen[idx[r]] = 1;
  }
  const Tensor xv = x.value().contiguous(), zv = z.value().contiguous();
  const Tensor rv = rows.contiguous().to(xv.device());
  Tensor loss = Tensor::empty({1}, xv.dtype(), xv.device());
  EMBER_DISPATCH(xv.device(), scaled_cosine_error_forward, xv, zv, rv, y, eps, loss);
  return Variable::make(loss, {x, z},
                        [xv, zv, rv, y, eps, unique](const Tensor& g_in, std::vector<Variable>& in) {
                          Tensor g = g_in.contiguous();
                          Tensor dx = in[0].requires_grad() ? zeros_like(xv) : Tensor();
                          Tensor dz = in[1].requires_grad() ? zeros_like(zv) : Tensor();
                          EMBER_DISPATCH(xv.device(), scaled_cosine_error_backward, xv, zv, rv, y, eps, g, unique, dx,
                                         dz);
                          if (dx.defined()) in[0].accumulate_grad(dx);
                          if (dz.defined()) in[1].accumulate_grad(dz);
                        },
                        "scaled_cosine_error");
}

// ---- retrieval softmax cross-entropy (eq. 5) ----------------------------------------------------

namespace {

RetrievalPairsByCandidate group_by_candidate(const std::vector<int64_t>& pos, int64_t B, int64_t P, Device dev) {
  struct Pair {
    int64_t cand, query;
    double w;
  };
  std::vector<Pair> pairs;
  for (int64_t b = 0; b < B; ++b) {
    int64_t cnt = 0;
    for (int64_t p = 0; p < P; ++p) cnt += pos[b * P + p] >= 0;
    for (int64_t p = 0; p < P; ++p)
      if (pos[b * P + p] >= 0) pairs.push_back({pos[b * P + p], b, 1.0 / static_cast<double>(cnt)});
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.cand < b.cand; });
  std::vector<int64_t> ptr{0}, cand, query;
  std::vector<double> w;
  for (size_t e = 0; e < pairs.size(); ++e) {
    if (e > 0 && pairs[e].cand != pairs[e - 1].cand) ptr.push_back(static_cast<int64_t>(e));
    if (e == 0 || pairs[e].cand != pairs[e - 1].cand) cand.push_back(pairs[e].cand);
    query.push_back(pairs[e].query);
    w.push_back(pairs[e].w);
  }
  ptr.push_back(static_cast<int64_t>(pairs.size()));
  if (pairs.empty()) ptr = {0};
  RetrievalPairsByCandidate out;
  const int64_t ns = static_cast<int64_t>(cand.size()), nz = static_cast<int64_t>(query.size());
  out.seg_ptr = Tensor::from_vector(ptr, {ns + 1}, dev);
  out.seg_cand = Tensor::from_vector(cand, {ns}, dev);
  out.seg_query = Tensor::from_vector(query, {nz}, dev);
  out.seg_weight = Tensor::from_vector(w, {nz}, dev);
  return out;
}

}  // namespace

Variable retrieval_softmax_ce(const Variable& q, const Variable& c, const Tensor& positives,
                              const RetrievalOptions& options) {
  const char* op = "retrieval_softmax_ce";
  check_matrix(q.value(), op, "q");
  check_matrix(c.value(), op, "c");
  check_pair(q.value(), c.value(), op, "q", "c");
  EMBER_CHECK(q.size(1) == c.size(1), op << ": embedding sizes differ, q " << q.value().describe() << " vs c "
                                         << c.value().describe());
  const int64_t B = q.size(0), M = c.size(0);
  EMBER_CHECK(B >= 1 && M >= 1 && q.size(1) >= 1,
              op << ": need at least one query, one candidate and one embedding column, got q "
                 << q.value().describe() << ", c " << c.value().describe());
  const double tau = options.temperature;
  EMBER_CHECK(std::isfinite(tau) && tau > 0.0, op << ": temperature must be > 0, got " << tau);
  const Device dev = q.device();
  EMBER_CHECK(positives.defined() && positives.dim() == 2 && positives.size(0) == B && positives.size(1) >= 1,
              op << ": positives must be [" << B << ", P >= 1], got "
                 << (positives.defined() ? positives.describe() : std::string("undefined")));
  EMBER_CHECK(positives.device() == Device::CPU || positives.device() == dev,
              op << ": positives " << positives.describe() << " must be on the CPU or on " << device_name(dev));
  const int64_t P = positives.size(1);
  const std::vector<int64_t> pos = host_indices(positives, op, "positives");
  for (int64_t b = 0; b < B; ++b) {
    int64_t cnt = 0;
    for (int64_t p = 0; p < P; ++p) {
      const int64_t j = pos[b * P + p];
      EMBER_CHECK(j >= -1 && j < M, op << ": positives[" << b << ", " << p << "] = " << j
                                       << " is out of range [0, " << M << ") (-1 = padding)");
      cnt += j >= 0;
    }
    EMBER_CHECK(cnt > 0, op << ": query " << b << " has no positive (row " << b << " of positives is all -1)");
  }
  Tensor mask;
  if (options.mask) {
    mask = options.mask->contiguous();
    EMBER_CHECK(mask.dtype() == DType::I32 && mask.dim() == 2 && mask.size(0) == B && mask.size(1) == M,
                op << ": mask must be int32 [" << B << ", " << M << "], got " << mask.describe());
    EMBER_CHECK(mask.device() == dev, op << ": mask " << mask.describe() << " must be on " << device_name(dev));
  }
  Tensor log_q;
  if (options.log_q.defined()) {
    log_q = options.log_q.contiguous();
    EMBER_CHECK(log_q.dim() == 1 && log_q.size(0) == M && log_q.dtype() == q.dtype() && log_q.device() == dev,
                op << ": log_q must be " << dtype_name(q.dtype()) << " [" << M << "] on " << device_name(dev)
                   << ", got " << log_q.describe());
  }
  const Tensor qv = q.value().contiguous(), cv = c.value().contiguous();
  const Tensor pos_dev = Tensor::from_vector(pos, {B, P}, dev);
  const double inv_tau = 1.0 / tau;
  Tensor lse = Tensor::empty({B}, qv.dtype(), dev);
  Tensor loss = Tensor::empty({1}, qv.dtype(), dev);
  EMBER_DISPATCH(dev, retrieval_ce_forward, qv, cv, pos_dev, mask, log_q, inv_tau, lse, loss);
  return Variable::make(
      loss, {q, c},
      [qv, cv, pos, pos_dev, mask, log_q, inv_tau, lse, B, P](const Tensor& g_in, std::vector<Variable>& in) {
        Tensor g = g_in.contiguous();
        Tensor dq = in[0].requires_grad() ? Tensor::empty(qv.shape(), qv.dtype(), qv.device()) : Tensor();
        Tensor dc = in[1].requires_grad() ? Tensor::empty(cv.shape(), cv.dtype(), cv.device()) : Tensor();
        RetrievalPairsByCandidate pairs;
        if (dc.defined()) pairs = group_by_candidate(pos, B, P, qv.device());
        EMBER_DISPATCH(qv.device(), retrieval_ce_backward, qv, cv, pos_dev, mask, log_q, inv_tau, lse, g, pairs, dq,
                       dc);
        if (dq.defined()) in[0].accumulate_grad(dq);
        if (dc.defined()) in[1].accumulate_grad(dc);
      },
      "retrieval_softmax_ce");
}

Tensor retrieval_positives(int64_t num_queries, const std::vector<std::pair<int64_t, int64_t>>& pairs,
                           Device device) {
  EMBER_CHECK(num_queries >= 1, "retrieval_positives: need at least one query, got " << num_queries);
  std::vector<std::vector<int64_t>> per(static_cast<size_t>(num_queries));
  for (const auto& [b, j] : pairs) {
    EMBER_CHECK(b >= 0 && b < num_queries, "retrieval_positives: query " << b << " is out of range [0, "
                                                                         << num_queries << ")");
    EMBER_CHECK(j >= 0, "retrieval_positives: candidate " << j << " of query " << b << " is negative");
    per[b].push_back(j);
  }
  size_t P = 1;
  for (const auto& v : per) P = std::max(P, v.size());
  std::vector<int64_t> out(static_cast<size_t>(num_queries) * P, -1);
  for (int64_t b = 0; b < num_queries; ++b)
    std::copy(per[b].begin(), per[b].end(), out.begin() + b * static_cast<int64_t>(P));
  return Tensor::from_vector(out, {num_queries, static_cast<int64_t>(P)}, device);
}

Tensor retrieval_hit_mask(int64_t num_queries, int64_t num_candidates,
                          const std::vector<std::pair<int64_t, int64_t>>& hits, Device device) {
  EMBER_CHECK(num_queries >= 1 && num_candidates >= 1,
              "retrieval_hit_mask: need a non-empty [" << num_queries << ", " << num_candidates << "] mask");
  std::vector<int32_t> m(static_cast<size_t>(num_queries * num_candidates), 1);
  for (const auto& [b, j] : hits) {
    EMBER_CHECK(b >= 0 && b < num_queries && j >= 0 && j < num_candidates,
                "retrieval_hit_mask: pair (" << b << ", " << j << ") is out of range [0, " << num_queries
                                             << ") x [0, " << num_candidates << ")");
    m[b * num_candidates + j] = 0;
  }
  return Tensor::from_vector(m, {num_queries, num_candidates}, device);
}

}  // namespace ember
