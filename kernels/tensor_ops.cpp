#include "kernels/tensor_ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/indexing.h"
#include "kernels/matmul.h"
#include "kernels/optim.h"
#include "kernels/reduce.h"
#include "kernels/rows.h"

namespace ember {
namespace tensor {

namespace {
void check_float(const Tensor& x, const char* what) {
  EMBER_CHECK(x.defined(), what << ": undefined tensor");
  EMBER_CHECK(is_float(x.dtype()), what << ": expected a float tensor, got " << x.describe());
}
void check_2d(const Tensor& x, const char* what) {
  check_float(x, what);
  EMBER_CHECK(x.dim() == 2, what << ": expected a 2-D tensor, got " << x.describe());
}
Tensor like(const Tensor& x) { return Tensor::empty(x.shape(), x.dtype(), x.device()); }
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  check_float(a_in, "binary");
  check_float(b_in, "binary");
  check_same_device(a_in, b_in, "binary");
  EMBER_CHECK(a_in.dtype() == b_in.dtype(), "binary: dtype mismatch, " << a_in.describe() << " vs "
                                                                      << b_in.describe());
  const bool same = a_in.shape() == b_in.shape();
  const bool scalar_b = b_in.numel() == 1;
  const bool row_b = a_in.dim() >= 1 && b_in.dim() == 1 && b_in.size(0) == a_in.size(-1);
  EMBER_CHECK(same || scalar_b || row_b, "binary: shape mismatch, cannot combine "
                                             << a_in.describe() << " with " << b_in.describe());
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor out = like(a);
  EMBER_DISPATCH(a.device(), binary, op, a, b, out);
  return out;
}

Tensor scale(const Tensor& x_in, double alpha) {
  check_float(x_in, "scale");
  Tensor x = x_in.contiguous();
  Tensor y = like(x);
  EMBER_DISPATCH(x.device(), axpby, alpha, x, 0.0, y);
  return y;
}

void axpby_(double alpha, const Tensor& x_in, double beta, Tensor& y) {
  check_float(x_in, "axpby");
  check_same(x_in, y, "axpby");
  EMBER_CHECK(y.is_contiguous(), "axpby: output must be contiguous");
  Tensor x = x_in.contiguous();
  EMBER_DISPATCH(x.device(), axpby, alpha, x, beta, y);
}

Tensor unary(UnaryOp op, const Tensor& x_in, double param) {
  check_float(x_in, "unary");
  Tensor x = x_in.contiguous();
  Tensor y = like(x);
  EMBER_DISPATCH(x.device(), unary, op, param, x, y);
  return y;
}

Tensor unary_backward(UnaryOp op, const Tensor& x_in, const Tensor& gy_in, double param) {
  check_same(x_in, gy_in, "unary_backward");
  Tensor x = x_in.contiguous(), gy = gy_in.contiguous();
  Tensor gx = like(x);
  EMBER_DISPATCH(x.device(), unary_backward, op, param, x, gy, gx);
  return gx;
}

Tensor dropout(const Tensor& x_in, double p, uint64_t seed, uint64_t stream) {
  check_float(x_in, "dropout");
  EMBER_CHECK(p >= 0.0 && p < 1.0, "dropout: rate must be in [0, 1), got " << p);
  Tensor x = x_in.contiguous();
  Tensor y = like(x);
  EMBER_DISPATCH(x.device(), dropout, p, seed, stream, x, y);
  return y;
}

Tensor matmul(const Tensor& a_in, const Tensor& b_in, bool ta, bool tb) {
  check_2d(a_in, "matmul (a)");
  check_2d(b_in, "matmul (b)");
  check_same_device(a_in, b_in, "matmul");
  EMBER_CHECK(a_in.dtype() == b_in.dtype(), "matmul: dtype mismatch, " << a_in.describe() << " vs "
                                                                      << b_in.describe());
  const int64_t m = ta ? a_in.size(1) : a_in.size(0);
  const int64_t k = ta ? a_in.size(0) : a_in.size(1);
  const int64_t kb = tb ? b_in.size(1) : b_in.size(0);
  const int64_t n = tb ? b_in.size(0) : b_in.size(1);
  EMBER_CHECK(k == kb, "matmul: inner dimensions differ: " << a_in.describe() << (ta ? "^T" : "")
                                                          << " @ " << b_in.describe() << (tb ? "^T" : ""));
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor c = Tensor::empty({m, n}, a.dtype(), a.device());
  if (k == 0) {
    c.zero_();
    return c;
  }
  EMBER_DISPATCH(a.device(), matmul, a, ta, b, tb, 1.0, 0.0, c);
  return c;
}

Tensor sum_all(const Tensor& x_in) {
  check_float(x_in, "sum_all");
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::zeros({1}, x.dtype(), x.device());
  if (x.numel() == 0) return out;
  EMBER_DISPATCH(x.device(), sum_all, x, out);
  return out;
}

Tensor sum_axis(const Tensor& x_in, int axis) {
  check_2d(x_in, "sum_axis");
  EMBER_CHECK(axis == 0 || axis == 1, "sum_axis: axis must be 0 or 1, got " << axis);
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::zeros({x.size(axis == 0 ? 1 : 0)}, x.dtype(), x.device());
  if (x.numel() == 0) return out;
  EMBER_DISPATCH(x.device(), sum_axis, x, axis, out);
  return out;
}

Tensor broadcast_axis(const Tensor& g_in, int axis, int64_t m, int64_t n, double scale) {
  check_float(g_in, "broadcast_axis");
  EMBER_CHECK(axis == 0 || axis == 1, "broadcast_axis: axis must be 0 or 1, got " << axis);
  EMBER_CHECK(g_in.numel() == (axis == 0 ? n : m),
              "broadcast_axis: " << g_in.describe() << " does not match [" << m << ", " << n
                                 << "] along axis " << axis);
  Tensor g = g_in.contiguous();
  Tensor out = Tensor::empty({m, n}, g.dtype(), g.device());
  if (m * n == 0) return out;
  EMBER_DISPATCH(g.device(), broadcast_axis, g, axis, scale, out);
  return out;
}

double sum_squares(const Tensor& x_in) {
  check_float(x_in, "sum_squares");
  if (x_in.numel() == 0) return 0.0;
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::zeros({1}, x.dtype(), x.device());
  EMBER_DISPATCH(x.device(), sum_squares, x, out);
  return scalar(out);
}

Tensor l2_normalize_rows(const Tensor& x_in, double eps, Tensor* norms) {
  check_2d(x_in, "l2_normalize_rows");
  EMBER_CHECK(eps > 0.0, "l2_normalize_rows: eps must be > 0, got " << eps);
  Tensor x = x_in.contiguous();
  Tensor y = like(x);
  Tensor nr = Tensor::empty({x.size(0)}, x.dtype(), x.device());
  EMBER_DISPATCH(x.device(), l2_normalize_rows, x, eps, y, nr);
  if (norms) *norms = nr;
  return y;
}

Tensor log_softmax_rows(const Tensor& x_in) {
  check_2d(x_in, "log_softmax_rows");
  EMBER_CHECK(x_in.size(1) > 0, "log_softmax_rows: rows are empty in " << x_in.describe());
  Tensor x = x_in.contiguous();
  Tensor y = like(x);
  EMBER_DISPATCH(x.device(), log_softmax_rows, x, y);
  return y;
}

// Row indices for data on a device may come from the host (the batch
// builder makes them there): they are range-checked here and uploaded, so
// the kernel need not read an error flag back (no synchronisation inside a
// training step). Indices already on the data's device are checked by the
// kernel. *device_check says which.
static Tensor host_checked_indices(const Tensor& idx_in, const Tensor& data, int64_t limit, const char* what,
                                   bool* device_check) {
  *device_check = true;
  if (idx_in.device() == data.device() || idx_in.device() != Device::CPU) {
    check_same_device(data, idx_in, what);
    return idx_in.contiguous();
  }
  Tensor idx = idx_in.contiguous();
  EMBER_INDEX_SWITCH(idx.dtype(), I, check_row_indices(idx.data<I>(), idx.numel(), limit, what));
  *device_check = false;
  return idx.to(data.device());
}

Tensor gather_rows(const Tensor& x_in, const Tensor& idx_in) {
  check_float(x_in, "gather_rows");
  EMBER_CHECK(x_in.dim() >= 1, "gather_rows: x must have at least one dimension");
  EMBER_CHECK(idx_in.dim() == 1, "gather_rows: indices must be 1-D, got " << idx_in.describe());
  EMBER_CHECK(!is_float(idx_in.dtype()), "gather_rows: indices must be int32/int64, got "
                                             << idx_in.describe());
  bool device_check;
  Tensor x = x_in.contiguous(), idx = host_checked_indices(idx_in, x_in, x_in.size(0), "gather_rows", &device_check);
  Shape shape = x.shape();
  shape[0] = idx.numel();
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  EMBER_DISPATCH(x.device(), gather_rows, x, idx, out, device_check);
  return out;
}

Tensor scatter_add_rows(const Tensor& src_in, const Tensor& idx_in, int64_t num_rows) {
  check_float(src_in, "scatter_add_rows");
  EMBER_CHECK(idx_in.dim() == 1 && src_in.dim() >= 1 && idx_in.numel() == src_in.size(0),
              "scatter_add_rows: need one index per source row, got " << idx_in.describe() << " for "
                                                                       << src_in.describe());
  EMBER_CHECK(!is_float(idx_in.dtype()), "scatter_add_rows: indices must be int32/int64");
  EMBER_CHECK(num_rows >= 0, "scatter_add_rows: negative row count");
  bool device_check;
  Tensor src = src_in.contiguous(), idx = host_checked_indices(idx_in, src_in, num_rows, "scatter_add_rows", &device_check);
  Shape shape = src.shape();
  shape[0] = num_rows;
  Tensor out = Tensor::zeros(shape, src.dtype(), src.device());
  EMBER_DISPATCH(src.device(), scatter_add_rows, src, idx, out, device_check);
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, int axis) {
  EMBER_CHECK(!parts.empty(), "concat: no tensors");
  EMBER_CHECK(axis == 0 || axis == 1, "concat: axis must be 0 or 1, got " << axis);
  const Tensor& first = parts[0];
  check_2d(first, "concat");
  int64_t total = 0;
  for (const Tensor& p : parts) {
    check_2d(p, "concat");
    check_same_device(first, p, "concat");
    EMBER_CHECK(p.dtype() == first.dtype(), "concat: dtype mismatch " << p.describe());
    EMBER_CHECK(p.size(1 - axis) == first.size(1 - axis),
                "concat: " << p.describe() << " does not match " << first.describe() << " off axis "
                           << axis);
    total += p.size(axis);
  }
  Shape shape = first.shape();
  shape[axis] = total;
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  int64_t off = 0;
  for (const Tensor& p : parts) {
    if (axis == 0) {
      Tensor rows = out.slice_rows(off, off + p.size(0));
      rows.copy_from(p);
    } else {
      Tensor pc = p.contiguous();
      EMBER_DISPATCH(first.device(), copy_columns, pc, 0, out, off, p.size(1));
    }
    off += p.size(axis);
  }
  return out;
}

Tensor slice_columns(const Tensor& x_in, int64_t begin, int64_t end) {
  check_2d(x_in, "slice_columns");
  EMBER_CHECK(0 <= begin && begin <= end && end <= x_in.size(1),
              "slice_columns [" << begin << ", " << end << ") out of range for " << x_in.describe());
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty({x.size(0), end - begin}, x.dtype(), x.device());
  EMBER_DISPATCH(x.device(), copy_columns, x, begin, out, 0, end - begin);
  return out;
}

Tensor sum_squares_all_tensor(const std::vector<Tensor>& xs) {
  bool device = false;
  for (const Tensor& x : xs) device = device || (x.defined() && x.device() != Device::CPU);
  if (!device) {  // the host: every tensor in double, in order
    double s = 0.0;
    for (const Tensor& x : xs)
      if (x.defined()) s += sum_squares(x);
    return Tensor::from_vector(std::vector<double>{s}, {1});
  }
  Tensor sum;
  for (const Tensor& x_in : xs) {
    if (!x_in.defined() || x_in.numel() == 0) continue;
    check_float(x_in, "sum_squares_all");
    if (sum.defined())
      EMBER_CHECK(x_in.device() == sum.device() && x_in.dtype() == sum.dtype(),
                  "sum_squares_all: tensors on different devices or of different dtypes (" << x_in.describe()
                                                                                            << " after " << sum.describe() << ")");
    Tensor x = x_in.contiguous();
    Tensor s = Tensor::zeros({1}, x.dtype(), x.device());
    EMBER_DISPATCH(x.device(), sum_squares, x, s);  // each tensor's sum in its dtype (double inside the kernel)
    sum = sum.defined() ? add(sum, s) : s;
  }
  return sum.defined() ? sum : Tensor::zeros({1}, DType::F32);
}

std::vector<double> read_scalars(const std::vector<Tensor>& xs) {
  std::vector<double> out(xs.size(), 0.0);
  std::vector<Tensor> parts;  // the one-element device tensors of one dtype, read in one copy
  std::vector<size_t> where;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    if (!x.defined()) continue;
    EMBER_CHECK(x.numel() == 1, "read_scalars: expected one element, got " << x.describe());
    if (x.device() == Device::CPU || !is_float(x.dtype()) ||
        (!parts.empty() && (parts[0].device() != x.device() || parts[0].dtype() != x.dtype()))) {
      out[i] = scalar(x);
      continue;
    }
    parts.push_back(x.contiguous().reshape({1, 1}));
    where.push_back(i);
  }
  if (parts.empty()) return out;
  const Tensor host = concat(parts, 1).to(Device::CPU);
  EMBER_FLOAT_SWITCH(host.dtype(), T, {
    for (size_t j = 0; j < where.size(); ++j) out[where[j]] = static_cast<double>(host.data<T>()[j]);
  });
  return out;
}

double scalar(const Tensor& x) {
  EMBER_CHECK(x.numel() == 1, "scalar: expected one element, got " << x.describe());
  Tensor c = x.contiguous();
  switch (c.dtype()) {
    case DType::F32: return c.reshape({1}).item<float>({0});
    case DType::F64: return c.reshape({1}).item<double>({0});
    case DType::I32: return c.reshape({1}).item<int32_t>({0});
    case DType::I64: return static_cast<double>(c.reshape({1}).item<int64_t>({0}));
  }
  return 0.0;
}

bool all_finite(const Tensor& x) {
  if (!is_float(x.dtype())) return true;
  Tensor h = x.to(Device::CPU);
  EMBER_FLOAT_SWITCH(h.dtype(), T, {
    const T* p = h.data<T>();
    for (int64_t i = 0; i < h.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
  });
  return true;
}

namespace {
void check_update_state(const Tensor& param, const Tensor& other, const char* op, const char* what) {
  EMBER_CHECK(other.defined() && other.shape() == param.shape() && other.dtype() == param.dtype() &&
                  other.device() == param.device() && other.is_contiguous(),
              op << ": " << what << " " << (other.defined() ? other.describe() : std::string("undefined"))
                 << " does not match the parameter " << param.describe());
}
}  // namespace

void adam_update_(Tensor& param, const Tensor& grad_in, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
                  double eps, double weight_decay, bool decoupled, int64_t step) {
  check_float(param, "adam_update");
  EMBER_CHECK(param.is_contiguous(), "adam_update: the parameter must be contiguous, got " << param.describe());
  EMBER_CHECK(step >= 1, "adam_update: step is 1-based, got " << step);
  Tensor grad = grad_in.contiguous();
  check_update_state(param, grad, "adam_update", "gradient");
  check_update_state(param, m, "adam_update", "first moment");
  check_update_state(param, v, "adam_update", "second moment");
  EMBER_DISPATCH(param.device(), adam_update, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled,
                 step);
}

void sparse_adam_rows_(Tensor& param, const Tensor& rows, const Tensor& grad_in, Tensor& m, Tensor& v, double lr,
                       double beta1, double beta2, double eps, double weight_decay, bool decoupled, int64_t step) {
  check_2d(param, "sparse_adam_rows");
  EMBER_CHECK(param.is_contiguous(), "sparse_adam_rows: the table must be contiguous, got " << param.describe());
  EMBER_CHECK(step >= 1, "sparse_adam_rows: step is 1-based, got " << step);
  check_update_state(param, m, "sparse_adam_rows", "first moment");
  check_update_state(param, v, "sparse_adam_rows", "second moment");
  rows.check_dtype(DType::I64, "sparse_adam_rows rows");
  EMBER_CHECK(rows.dim() == 1 && rows.device() == param.device() && rows.is_contiguous(),
              "sparse_adam_rows: rows must be a contiguous int64 [K] on " << device_name(param.device()) << ", got "
                                                                          << rows.describe());
  const int64_t K = rows.size(0), N = param.size(0), D = param.size(1);
  Tensor grad = grad_in.contiguous();
  EMBER_CHECK(grad.dtype() == param.dtype() && grad.device() == param.device() && grad.dim() == 2 &&
                  grad.size(0) == K && grad.size(1) == D,
              "sparse_adam_rows: grad must be [" << K << ", " << D << "] " << dtype_name(param.dtype()) << " on "
                                                  << device_name(param.device()) << ", got " << grad.describe());
  // Distinct, in-range rows: a duplicate would race on the GPU, an id out of range write anywhere.
  std::vector<int64_t> r = rows.to_vector<int64_t>();
  std::sort(r.begin(), r.end());
  for (size_t i = 0; i < r.size(); ++i) {
    EMBER_CHECK(r[i] >= 0 && r[i] < N, "sparse_adam_rows: row " << r[i] << " out of range [0, " << N << ")");
    EMBER_CHECK(i == 0 || r[i] != r[i - 1], "sparse_adam_rows: row " << r[i] << " listed twice");
  }
  EMBER_DISPATCH(param.device(), sparse_adam_rows, param, rows, grad, m, v, lr, beta1, beta2, eps, weight_decay,
                 decoupled, step);
}

void sgd_update_(Tensor& param, const Tensor& grad_in, Tensor& buf, double lr, double momentum, double weight_decay) {
  check_float(param, "sgd_update");
  EMBER_CHECK(param.is_contiguous(), "sgd_update: the parameter must be contiguous, got " << param.describe());
  Tensor grad = grad_in.contiguous();
  check_update_state(param, grad, "sgd_update", "gradient");
  check_update_state(param, buf, "sgd_update", "momentum buffer");
  EMBER_DISPATCH(param.device(), sgd_update, param, grad, buf, lr, momentum, weight_decay);
}

}  // namespace tensor
}  // namespace ember
