#include "ops/sparse_linear.h"

#include "kernels/spmm.h"
#include "kernels/tensor_ops.h"

namespace ember {

void SparseCsr::check_layout(const char* what) const {
  EMBER_CHECK(rows >= 0 && cols >= 0, what << ": negative CSR shape [" << rows << ", " << cols << "]");
  EMBER_CHECK(row_ptr.defined() && col.defined() && val.defined(), what << ": CSR arrays are not all defined");
  EMBER_CHECK(row_ptr.dtype() == DType::I64 && row_ptr.dim() == 1 && row_ptr.numel() == rows + 1,
              what << ": row_ptr must be int64 [" << rows + 1 << "], got " << row_ptr.describe());
  EMBER_CHECK(col.dtype() == DType::I32 && col.dim() == 1,
              what << ": col must be a 1-D int32 tensor, got " << col.describe());
  EMBER_CHECK(is_float(val.dtype()) && val.dim() == 1 && val.numel() == col.numel(),
              what << ": val must be a float tensor [" << col.numel() << "], got " << val.describe());
  EMBER_CHECK(cols <= INT32_MAX, what << ": " << cols << " columns do not fit int32 column ids");
  EMBER_CHECK(row_ptr.is_contiguous() && col.is_contiguous() && val.is_contiguous(),
              what << ": CSR arrays must be contiguous");
  check_same_device(row_ptr, col, what);
  check_same_device(row_ptr, val, what);
}

void SparseCsr::validate() const {
  check_layout("SparseCsr::validate");
  const std::vector<int64_t> rp = row_ptr.to_vector<int64_t>();
  const std::vector<int32_t> ci = col.to_vector<int32_t>();
  const int64_t nz = static_cast<int64_t>(ci.size());
  EMBER_CHECK(rp[0] == 0, "SparseCsr: row_ptr[0] = " << rp[0] << ", expected 0");
  for (int64_t i = 0; i < rows; ++i)
    EMBER_CHECK(rp[i + 1] >= rp[i], "SparseCsr: row_ptr decreases at row " << i << " (" << rp[i] << " -> "
                                                                            << rp[i + 1] << ")");
  EMBER_CHECK(rp[rows] == nz, "SparseCsr: row_ptr[" << rows << "] = " << rp[rows] << " but there are " << nz
                                                    << " nonzeros");
  for (int64_t e = 0; e < nz; ++e)
    EMBER_CHECK(ci[e] >= 0 && ci[e] < cols, "SparseCsr: col[" << e << "] = " << ci[e] << " is out of range [0, "
                                                              << cols << ")");
}

SparseCsr SparseCsr::to(Device device) const {
  check_layout("SparseCsr::to");
  if (this->device() == Device::CPU && device != Device::CPU) validate();
  SparseCsr out;
  out.rows = rows;
  out.cols = cols;
  out.row_ptr = row_ptr.to(device);
  out.col = col.to(device);
  out.val = val.to(device);
  if (transposed) out.transposed = std::make_shared<const SparseCsr>(transposed->to(device));
  return out;
}

SparseCsr SparseCsr::transpose() const {
  check_layout("SparseCsr::transpose");
  const std::vector<int64_t> rp = row_ptr.to_vector<int64_t>();
  const std::vector<int32_t> ci = col.to_vector<int32_t>();
  const Tensor hv = val.to(Device::CPU);
  const int64_t nz = static_cast<int64_t>(ci.size());
  std::vector<int64_t> tp(static_cast<size_t>(cols + 1), 0);
  for (int64_t e = 0; e < nz; ++e) {
    EMBER_CHECK(ci[e] >= 0 && ci[e] < cols, "SparseCsr::transpose: col[" << e << "] = " << ci[e]
                                                                         << " is out of range [0, " << cols << ")");
    ++tp[ci[e] + 1];
  }
  for (int64_t j = 0; j < cols; ++j) tp[j + 1] += tp[j];
  std::vector<int64_t> next(tp.begin(), tp.end() - 1);
  std::vector<int32_t> tc(static_cast<size_t>(nz));
  Tensor tv = Tensor::empty({nz}, val.dtype(), Device::CPU);
  EMBER_CHECK(rows <= INT32_MAX, "SparseCsr::transpose: " << rows << " rows do not fit int32 column ids");
  EMBER_FLOAT_SWITCH(val.dtype(), T, {
    const T* pv = hv.data<T>();
    T* pt = tv.data<T>();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
        const int64_t dst = next[ci[e]]++;
        tc[dst] = static_cast<int32_t>(i);
        pt[dst] = pv[e];
      }
  });
  SparseCsr t;
  t.rows = cols;
  t.cols = rows;
  t.row_ptr = Tensor::from_vector(tp, {cols + 1}, device());
  t.col = Tensor::from_vector(tc, {nz}, device());
  t.val = tv.to(device());
  return t;
}

SparseCsr SparseCsr::with_transpose() const {
  if (transposed) return *this;
  SparseCsr out = *this;
  out.transposed = std::make_shared<const SparseCsr>(transpose());
  return out;
}

Tensor SparseCsr::to_dense() const {
  check_layout("SparseCsr::to_dense");
  const std::vector<int64_t> rp = row_ptr.to_vector<int64_t>();
  const std::vector<int32_t> ci = col.to_vector<int32_t>();
  const Tensor hv = val.to(Device::CPU);
  Tensor out = Tensor::zeros({rows, cols}, val.dtype(), Device::CPU);
  EMBER_FLOAT_SWITCH(val.dtype(), T, {
    const T* pv = hv.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) po[i * cols + ci[e]] += pv[e];
  });
  return out.to(device());
}

template <class T>
SparseCsr SparseCsr::from_host(int64_t rows, int64_t cols, const std::vector<int64_t>& row_ptr,
                               const std::vector<int32_t>& col, const std::vector<T>& val, Device device) {
  SparseCsr x;
  x.rows = rows;
  x.cols = cols;
  EMBER_CHECK(static_cast<int64_t>(row_ptr.size()) == rows + 1,
              "SparseCsr::from_host: row_ptr has " << row_ptr.size() << " entries, expected " << rows + 1);
  EMBER_CHECK(col.size() == val.size(),
              "SparseCsr::from_host: " << col.size() << " columns but " << val.size() << " values");
  const int64_t nz = static_cast<int64_t>(col.size());
  x.row_ptr = Tensor::from_vector(row_ptr, {rows + 1});
  x.col = Tensor::from_vector(col, {nz});
  x.val = Tensor::from_vector(val, {nz});
  x.validate();
  return device == Device::CPU ? x : x.to(device);
}
template SparseCsr SparseCsr::from_host<float>(int64_t, int64_t, const std::vector<int64_t>&,
                                               const std::vector<int32_t>&, const std::vector<float>&, Device);
template SparseCsr SparseCsr::from_host<double>(int64_t, int64_t, const std::vector<int64_t>&,
                                                const std::vector<int32_t>&, const std::vector<double>&, Device);

namespace {

Tensor spmm(const SparseCsr& x, const Tensor& w, const Tensor& bias) {
  Tensor y = Tensor::empty({x.rows, w.size(1)}, w.dtype(), w.device());
  EMBER_DISPATCH(w.device(), spmm_csr, x.row_ptr, x.col, x.val, w, bias, y);
  return y;
}

}  // namespace

Variable sparse_linear(const SparseCsr& x, const Variable& w, const Variable& bias) {
  x.check_layout("sparse_linear");
  const Tensor& wv = w.value();
  EMBER_CHECK(wv.dim() == 2 && is_float(wv.dtype()), "sparse_linear: weight must be a 2-D float tensor, got "
                                                         << wv.describe());
  EMBER_CHECK(wv.size(0) == x.cols, "sparse_linear: x has " << x.cols << " columns but the weight is "
                                                            << wv.describe());
  EMBER_CHECK(x.dtype() == wv.dtype(), "sparse_linear: dtype mismatch, x values are "
                                           << dtype_name(x.dtype()) << ", weight " << wv.describe());
  EMBER_CHECK(x.device() == wv.device(), "sparse_linear: x is on " << device_name(x.device())
                                                                   << ", the weight on " << device_name(wv.device()));
  Tensor bv;
  if (bias.defined()) {
    bv = bias.value().contiguous();
    EMBER_CHECK(bv.dim() == 1 && bv.size(0) == wv.size(1) && bv.dtype() == wv.dtype(),
                "sparse_linear: bias " << bv.describe() << " does not match weight " << wv.describe());
    check_same_device(bv, wv, "sparse_linear (bias)");
  }
  if (x.device() == Device::CPU) x.validate();
  Tensor wc = wv.contiguous();
  Tensor y = spmm(x, wc, bv);
  std::vector<Variable> inputs{w};
  if (bias.defined()) inputs.push_back(bias);
  return Variable::make(y, inputs,
                        [x](const Tensor& g_in, std::vector<Variable>& in) {
                          Tensor g = g_in.contiguous();
                          if (in[0].requires_grad()) {
                            const SparseCsr t = x.transposed ? *x.transposed : x.transpose();
                            in[0].accumulate_grad(spmm(t, g, Tensor()));
                          }
                          if (in.size() > 1 && in[1].requires_grad()) in[1].accumulate_grad(tensor::sum_axis(g, 0));
                        },
                        "sparse_linear");
}

}  // namespace ember
