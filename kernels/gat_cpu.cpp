// CPU reference for kernels/gat.h (sparse GAT attention).
//
// Forward: OpenMP over destination rows; per row the scores, the softmax
// statistics (in double) and the weighted sum of the in-neighbours' rows.
// Backward: pass 1 over destination rows (d alpha per edge -> the [E, H]
// buffer, the score gradient of the destination), pass 2 over source rows of
// the transposed CSR (gradient of Wh through the aggregation, score gradient
// of the source), pass 3 the attention-vector gradients (fixed node chunks,
// summed in order). Every output element is computed by one thread in a fixed
// order: deterministic, independent of the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gat.h"

namespace ember {
namespace cpu {

namespace {

// Fills scale[h] with the dropout multiplier of every head of edge e.
template <class T>
inline void dropout_scales(const GatParams& p, int64_t e, T* scale) {
  const int64_t H = p.heads;
  if (p.dropout <= 0.0) {
    for (int64_t h = 0; h < H; ++h) scale[h] = T(1);
    return;
  }
  const T keep = static_cast<T>(1.0 / (1.0 - p.dropout));
  philox::U4 r{};
  for (int64_t h = 0; h < H; ++h) {
    if ((h & 3) == 0) r = gat_math::dropout_bits(p.seed, p.stream, e, H, h >> 2);
    scale[h] = gat_math::dropout_keep(gat_math::dropout_uniform(r, h), p.dropout) ? keep : T(0);
  }
}

// Software prefetch of a neighbour's row a few edges ahead: the rows are
// gathered at random, and the hardware prefetchers do not cross into them.
constexpr int64_t kPrefetchDistance = 4;
template <class T>
inline void prefetch_row(const T* row, int64_t n) {
#ifdef GAT_NO_PREFETCH
  return;
#endif
  const char* p = reinterpret_cast<const char*>(row);
  for (int64_t b = 0; b < n * static_cast<int64_t>(sizeof(T)); b += 64) __builtin_prefetch(p + b);
}

template <class T>
inline T dot(const T* a, const T* b, int64_t n) {
  T acc = T(0);
#pragma omp simd reduction(+ : acc)
  for (int64_t f = 0; f < n; ++f) acc += a[f] * b[f];
  return acc;
}

template <class T>
inline void axpy(T a, const T* x, T* y, int64_t n) {
#pragma omp simd
  for (int64_t f = 0; f < n; ++f) y[f] += a * x[f];
}

template <class T>
void scores(const Tensor& wh, const Tensor& as, const Tensor& ad, const GatParams& p, Tensor& s, Tensor& d) {
  const int64_t N = wh.size(0), H = p.heads, F = p.features, HF = H * F;
  const T* w = wh.data<T>();
  const T* pa = as.data<T>();
  const T* pd = ad.data<T>();
  T* ps = s.data<T>();
  T* pdd = d.data<T>();
#pragma omp parallel for schedule(static) if (N * HF > 65536)
  for (int64_t i = 0; i < N; ++i)
    for (int64_t h = 0; h < H; ++h) {
      double a = 0.0, b = 0.0;
      const T* wr = w + i * HF + h * F;
      for (int64_t f = 0; f < F; ++f) {
        a += static_cast<double>(wr[f]) * pa[h * F + f];
        b += static_cast<double>(wr[f]) * pd[h * F + f];
      }
      ps[i * H + h] = static_cast<T>(a);
      pdd[i * H + h] = static_cast<T>(b);
    }
}

template <class T>
void forward(const GatGraphView& g, const Tensor& wh, const Tensor& s, const Tensor& d, const GatParams& p,
             Tensor& out, Tensor& lse) {
  const int64_t N = g.num_nodes, H = p.heads, F = p.features, HF = H * F, O = p.out_cols();
  const int64_t* rp = g.row_ptr.data<int64_t>();
  const int32_t* col = g.col.data<int32_t>();
  const T* w = wh.data<T>();
  const T* ps = s.data<T>();
  const T* pd = d.data<T>();
  T* po = out.data<T>();
  T* pl = lse.data<T>();
  const T slope = static_cast<T>(p.negative_slope);
  const T inv_heads = T(1) / static_cast<T>(H);
#pragma omp parallel if (g.col.numel() * HF > 65536)
  {
    std::vector<T> ev, acc(static_cast<size_t>(O)), scale(static_cast<size_t>(H));
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < N; ++i) {
      const int64_t beg = rp[i], deg = rp[i + 1] - beg;
      T* orow = po + i * O;
      if (deg == 0) {
        std::fill(orow, orow + O, T(0));
        for (int64_t h = 0; h < H; ++h) pl[i * H + h] = static_cast<T>(-INFINITY);
        continue;
      }
      ev.resize(static_cast<size_t>(deg * H));
      // Scores and their log-sum-exp per head.
      for (int64_t h = 0; h < H; ++h) {
        const T di = pd[i * H + h];
        double m = -INFINITY;
        for (int64_t k = 0; k < deg; ++k) {
          const T e = gat_math::leaky_relu(ps[static_cast<int64_t>(col[beg + k]) * H + h] + di, slope);
          ev[static_cast<size_t>(k * H + h)] = e;
          m = std::max(m, static_cast<double>(e));
        }
        double l = 0.0;
        for (int64_t k = 0; k < deg; ++k) l += std::exp(static_cast<double>(ev[static_cast<size_t>(k * H + h)]) - m);
        pl[i * H + h] = static_cast<T>(m + std::log(l));
      }
      // Weighted aggregation of the neighbours' rows.
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t k = 0; k < deg; ++k) {
        const int64_t e = beg + k;
        if (k + kPrefetchDistance < deg) prefetch_row(w + static_cast<int64_t>(col[e + kPrefetchDistance]) * HF, HF);
        const T* wj = w + static_cast<int64_t>(col[e]) * HF;
        dropout_scales(p, e, scale.data());
        for (int64_t h = 0; h < H; ++h) {
          const T a = std::exp(ev[static_cast<size_t>(k * H + h)] - pl[i * H + h]) * scale[static_cast<size_t>(h)];
          if (a == T(0)) continue;
          axpy(a, wj + h * F, acc.data() + (p.concat ? h * F : 0), F);
        }
      }
      if (p.concat) {
        std::copy(acc.begin(), acc.end(), orow);
      } else {
        for (int64_t f = 0; f < O; ++f) orow[f] = acc[static_cast<size_t>(f)] * inv_heads;
      }
    }
  }
}

template <class T>
void backward(const GatGraphView& g, const Tensor& wh, const Tensor& as, const Tensor& ad, const Tensor& s,
              const Tensor& d, const Tensor& lse, const Tensor& gout, const GatParams& p, Tensor& gwh, Tensor& gas,
              Tensor& gad) {
  const int64_t N = g.num_nodes, H = p.heads, F = p.features, HF = H * F, O = p.out_cols();
  const int64_t E = g.col.numel();
  const int64_t* rp = g.row_ptr.data<int64_t>();
  const int32_t* col = g.col.data<int32_t>();
  const int64_t* trp = g.t_row_ptr.data<int64_t>();
  const int32_t* tdst = g.t_dst.data<int32_t>();
  const int32_t* teid = g.t_eid.data<int32_t>();
  const T* w = wh.data<T>();
  const T* pas = as.data<T>();
  const T* pad = ad.data<T>();
  const T* ps = s.data<T>();
  const T* pd = d.data<T>();
  const T* pl = lse.data<T>();
  const T* go = gout.data<T>();
  const T slope = static_cast<T>(p.negative_slope);
  const T inv_heads = p.concat ? T(1) : T(1) / static_cast<T>(H);
  // buf[e, h]: first d(out)/d(alpha~) = <g_ih, Wh_jh>, then the gradient of the pre-activation score.
  // Scratch as tensors, so the allocator's peak counts it.
  Tensor buf_t = Tensor::empty({E * H}, wh.dtype(), Device::CPU);
  Tensor dd_t = Tensor::empty({N * H}, wh.dtype(), Device::CPU), ds_t = Tensor::empty({N * H}, wh.dtype(), Device::CPU);
  T* buf = buf_t.data<T>();
  T* dd = dd_t.data<T>();
  T* ds = ds_t.data<T>();
  const bool par = E * HF > 65536;

  // Pass 1: destination rows.
#pragma omp parallel if (par)
  {
    std::vector<T> gi(static_cast<size_t>(HF)), xv, av, scale(static_cast<size_t>(H));
    std::vector<double> c(static_cast<size_t>(H));
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < N; ++i) {
      const int64_t beg = rp[i], deg = rp[i + 1] - beg;
      for (int64_t h = 0; h < H; ++h) dd[static_cast<size_t>(i * H + h)] = T(0);
      if (deg == 0) continue;
      for (int64_t cc = 0; cc < HF; ++cc) gi[static_cast<size_t>(cc)] = go[i * O + (p.concat ? cc : cc % F)] * inv_heads;
      xv.resize(static_cast<size_t>(deg * H));
      av.resize(static_cast<size_t>(deg * H));
      std::fill(c.begin(), c.end(), 0.0);
      for (int64_t k = 0; k < deg; ++k) {
        const int64_t e = beg + k;
        if (k + kPrefetchDistance < deg) prefetch_row(w + static_cast<int64_t>(col[e + kPrefetchDistance]) * HF, HF);
        const int64_t j = col[e];
        const T* wj = w + j * HF;
        dropout_scales(p, e, scale.data());
        for (int64_t h = 0; h < H; ++h) {
          const T x = ps[j * H + h] + pd[i * H + h];
          const T a = std::exp(gat_math::leaky_relu(x, slope) - pl[i * H + h]);
          const T dat = dot(gi.data() + h * F, wj + h * F, F);  // d out / d alpha~
          const T da = dat * scale[static_cast<size_t>(h)];       // d out / d alpha
          xv[static_cast<size_t>(k * H + h)] = x;
          av[static_cast<size_t>(k * H + h)] = a;
          buf[static_cast<size_t>(e * H + h)] = da;
          c[static_cast<size_t>(h)] += static_cast<double>(a) * da;
        }
      }
      for (int64_t h = 0; h < H; ++h) {
        const T ch = static_cast<T>(c[static_cast<size_t>(h)]);
        double acc = 0.0;
        for (int64_t k = 0; k < deg; ++k) {
          const size_t kh = static_cast<size_t>(k * H + h);
          T& b = buf[static_cast<size_t>((beg + k) * H + h)];
          b = av[kh] * (b - ch) * gat_math::leaky_relu_grad(xv[kh], slope);
          acc += b;
        }
        dd[static_cast<size_t>(i * H + h)] = static_cast<T>(acc);
      }
    }
  }

  // Pass 2: source rows of the transpose.
  T* gw = gwh.data<T>();
#pragma omp parallel if (par)
  {
    std::vector<T> acc(static_cast<size_t>(HF)), scale(static_cast<size_t>(H));
    std::vector<double> dsum(static_cast<size_t>(H));
#pragma omp for schedule(dynamic, 64)
    for (int64_t j = 0; j < N; ++j) {
      const int64_t beg = trp[j], end = trp[j + 1];
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(dsum.begin(), dsum.end(), 0.0);
      for (int64_t k = beg; k < end; ++k) {
        if (k + 2 * kPrefetchDistance < end) __builtin_prefetch(buf + static_cast<int64_t>(teid[k + 2 * kPrefetchDistance]) * H);
        const T* bk = buf + static_cast<int64_t>(teid[k]) * H;
        for (int64_t h = 0; h < H; ++h) dsum[static_cast<size_t>(h)] += bk[h];
      }
      for (int64_t h = 0; h < H; ++h) ds[j * H + h] = static_cast<T>(dsum[static_cast<size_t>(h)]);
      for (int64_t k = beg; k < end; ++k) {
        if (k + kPrefetchDistance < end) {
          const int64_t ip = tdst[k + kPrefetchDistance];
          prefetch_row(go + ip * O, O);
          __builtin_prefetch(pd + ip * H);
          __builtin_prefetch(pl + ip * H);
        }
        const int64_t i = tdst[k], e = teid[k];
        dropout_scales(p, e, scale.data());
        const T* gr = go + i * O;
        for (int64_t h = 0; h < H; ++h) {
          const T x = ps[j * H + h] + pd[i * H + h];
          const T a = std::exp(gat_math::leaky_relu(x, slope) - pl[i * H + h]) * scale[static_cast<size_t>(h)];
          if (a == T(0)) continue;
          axpy(a * inv_heads, gr + (p.concat ? h * F : 0), acc.data() + h * F, F);
        }
      }
      for (int64_t h = 0; h < H; ++h) {
        const T dsh = ds[static_cast<size_t>(j * H + h)], ddh = dd[static_cast<size_t>(j * H + h)];
        for (int64_t f = 0; f < F; ++f) {
          const int64_t cc = h * F + f;
          gw[j * HF + cc] = acc[static_cast<size_t>(cc)] + dsh * pas[cc] + ddh * pad[cc];
        }
      }
    }
  }

  // Pass 3: attention vectors, fixed node chunks summed in order.
  const int64_t chunk = 4096, nchunks = std::max<int64_t>(1, (N + chunk - 1) / chunk);
  std::vector<double> part(static_cast<size_t>(nchunks * 2 * HF), 0.0);
#pragma omp parallel for schedule(static) if (N * HF > 65536)
  for (int64_t b = 0; b < nchunks; ++b) {
    double* ps_ = part.data() + b * 2 * HF;
    double* pd_ = ps_ + HF;
    for (int64_t i = b * chunk; i < std::min(N, (b + 1) * chunk); ++i)
      for (int64_t h = 0; h < H; ++h) {
        const double sv = ds[i * H + h], dv = dd[i * H + h];
        const T* wr = w + i * HF + h * F;
        double* as_ = ps_ + h * F;
        double* ad_ = pd_ + h * F;
#pragma omp simd
        for (int64_t f = 0; f < F; ++f) {
          as_[f] += sv * static_cast<double>(wr[f]);
          ad_[f] += dv * static_cast<double>(wr[f]);
        }
      }
  }
  T* pgs = gas.data<T>();
  T* pgd = gad.data<T>();
  for (int64_t cc = 0; cc < HF; ++cc) {
    double a = 0.0, b = 0.0;
    for (int64_t k = 0; k < nchunks; ++k) {
      a += part[static_cast<size_t>(k * 2 * HF + cc)];
      b += part[static_cast<size_t>(k * 2 * HF + HF + cc)];
    }
    pgs[cc] = static_cast<T>(a);
    pgd[cc] = static_cast<T>(b);
  }
}

}  // namespace

void gat_scores(const Tensor& wh, const Tensor& att_src, const Tensor& att_dst, const GatParams& p, Tensor& s,
                Tensor& d) {
  EMBER_FLOAT_SWITCH(wh.dtype(), T, scores<T>(wh, att_src, att_dst, p, s, d));
}

void gat_forward(const GatGraphView& g, const Tensor& wh, const Tensor& s, const Tensor& d, const GatParams& p,
                 Tensor& out, Tensor& lse) {
  EMBER_FLOAT_SWITCH(wh.dtype(), T, forward<T>(g, wh, s, d, p, out, lse));
}

void gat_backward(const GatGraphView& g, const Tensor& wh, const Tensor& att_src, const Tensor& att_dst,
                  const Tensor& s, const Tensor& d, const Tensor& lse, const Tensor& gout, const GatParams& p,
                  Tensor& gwh, Tensor& gatt_src, Tensor& gatt_dst) {
  EMBER_FLOAT_SWITCH(wh.dtype(), T, backward<T>(g, wh, att_src, att_dst, s, d, lse, gout, p, gwh, gatt_src, gatt_dst));
}

}  // namespace cpu
}  // namespace ember
