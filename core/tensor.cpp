#include "core/tensor.h"

#include <cstring>
#include <sstream>

#include "core/context.h"
#include "core/cuda_api.h"

namespace ember {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

static Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

static bool is_host(Device d) { return d == Device::CPU || d == Device::EMU; }

// Byte copy between any two devices.
static void copy_bytes(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  if (bytes == 0) return;
  if (sd == Device::CPU && dd != Device::CPU) Context::get().count_transfer(true, bytes);
  if (sd != Device::CPU && dd == Device::CPU) Context::get().count_transfer(false, bytes);
  if (is_host(dd) && is_host(sd)) {
    std::memcpy(dst, src, bytes);
  } else {
    cuda_api::copy(dst, src, bytes);
  }
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  ptr_ = Context::get().allocator(device).allocate(bytes);
}

Storage::~Storage() {
  if (ptr_) Context::get().allocator(device_).deallocate(ptr_, bytes_);
}

Storage::Storage(Storage&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_), device_(o.device_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}

Storage& Storage::operator=(Storage&& o) noexcept {
  if (this != &o) {
    if (ptr_) Context::get().allocator(device_).deallocate(ptr_, bytes_);
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    device_ = o.device_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) EMBER_CHECK(d >= 0, "negative dimension in shape " << shape_str(shape));
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(value);
  return t;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  return from_values(values.data(), values.size(), shape, device);
}

template <typename T>
Tensor Tensor::from_values(const T* values, size_t n, const Shape& shape, Device device) {
  EMBER_CHECK(static_cast<int64_t>(n) == shape_numel(shape),
              "from_vector: " << n << " values do not fill shape " << shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>::value, device);
  if (n) copy_bytes(t.raw_data(), device, values, Device::CPU, n * sizeof(T));
  return t;
}

int64_t Tensor::size(int64_t axis) const {
  int64_t a = axis < 0 ? axis + dim() : axis;
  EMBER_CHECK(a >= 0 && a < dim(), "axis " << axis << " out of range for " << describe());
  return shape_[a];
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

void* Tensor::raw_data() const {
  EMBER_CHECK(defined(), "raw_data() on an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

// Packs a strided tensor into contiguous host memory (used for host-side copies).
template <typename T>
static void pack_strided(const Tensor& src, T* out) {
  const T* base = static_cast<const T*>(src.raw_data());
  const Shape& sh = src.shape();
  const Shape& st = src.strides();
  int64_t n = src.numel();
  std::vector<int64_t> idx(sh.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < sh.size(); ++d) off += idx[d] * st[d];
    out[i] = base[off];
    for (int64_t d = static_cast<int64_t>(sh.size()) - 1; d >= 0; --d) {
      if (++idx[d] < sh[d]) break;
      idx[d] = 0;
    }
  }
}

static void pack_any(const Tensor& src, void* out) {
  switch (src.dtype()) {
    case DType::F32: pack_strided(src, static_cast<float*>(out)); break;
    case DType::F64: pack_strided(src, static_cast<double*>(out)); break;
    case DType::I32: pack_strided(src, static_cast<int32_t*>(out)); break;
    case DType::I64: pack_strided(src, static_cast<int64_t*>(out)); break;
  }
}

Tensor Tensor::to(Device device) const {
  EMBER_CHECK(defined(), "to() on an undefined tensor");
  Tensor out = empty(shape_, dtype_, device);
  if (is_contiguous()) {
    copy_bytes(out.raw_data(), device, raw_data(), device_, nbytes());
  } else if (is_host(device_)) {
    if (is_host(device)) {
      pack_any(*this, out.raw_data());
    } else {
      Tensor tmp = empty(shape_, dtype_, Device::CPU);
      pack_any(*this, tmp.raw_data());
      copy_bytes(out.raw_data(), device, tmp.raw_data(), Device::CPU, nbytes());
    }
  } else {
    // Strided device tensor: bring the whole storage to the host, pack there.
    Tensor host = *this;
    auto st = std::make_shared<Storage>(storage_->bytes(), Device::CPU);
    copy_bytes(st->data(), Device::CPU, storage_->data(), device_, storage_->bytes());
    host.storage_ = st;
    host.device_ = Device::CPU;
    return host.to(device);
  }
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : to(device_); }

template <typename S, typename D>
static void convert(const S* s, D* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
}

template <typename S>
static void convert_from(const S* s, Tensor& out) {
  int64_t n = out.numel();
  switch (out.dtype()) {
    case DType::F32: convert(s, out.data<float>(), n); break;
    case DType::F64: convert(s, out.data<double>(), n); break;
    case DType::I32: convert(s, out.data<int32_t>(), n); break;
    case DType::I64: convert(s, out.data<int64_t>(), n); break;
  }
}

Tensor Tensor::to_dtype(DType dtype) const {
  Tensor host = to(Device::CPU);
  if (dtype == dtype_) return host.to(device_);
  Tensor out = empty(shape_, dtype, Device::CPU);
  switch (dtype_) {
    case DType::F32: convert_from(host.data<float>(), out); break;
    case DType::F64: convert_from(host.data<double>(), out); break;
    case DType::I32: convert_from(host.data<int32_t>(), out); break;
    case DType::I64: convert_from(host.data<int64_t>(), out); break;
  }
  return device_ == Device::CPU ? out : out.to(device_);
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  EMBER_CHECK(dtype_of<T>::value == dtype_, "to_vector: tensor is " << dtype_name(dtype_));
  Tensor host = to(Device::CPU);
  const T* p = host.data<T>();
  return std::vector<T>(p, p + numel());
}

template <typename T>
T Tensor::item(std::initializer_list<int64_t> index) const {
  EMBER_CHECK(static_cast<int64_t>(index.size()) == dim(),
              "item: " << index.size() << " indices for " << describe());
  int64_t off = 0, d = 0;
  for (int64_t i : index) {
    EMBER_CHECK(i >= 0 && i < shape_[d], "item: index " << i << " out of range for axis " << d
                                                        << " of " << describe());
    off += i * strides_[d++];
  }
  T value;
  const char* src = static_cast<const char*>(storage_->data()) + (offset_ + off) * sizeof(T);
  EMBER_CHECK(dtype_of<T>::value == dtype_, "item: tensor is " << dtype_name(dtype_));
  copy_bytes(&value, Device::CPU, src, device_, sizeof(T));
  return value;
}

Tensor Tensor::reshape(const Shape& shape) const {
  EMBER_CHECK(is_contiguous(), "reshape of a non-contiguous tensor " << describe());
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      EMBER_CHECK(infer < 0, "reshape: more than one -1 in " << shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      EMBER_CHECK(s[i] >= 0, "reshape: negative dimension in " << shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    EMBER_CHECK(known > 0 && numel() % known == 0,
                "reshape: cannot infer -1 in " << shape_str(shape) << " from " << describe());
    s[infer] = numel() / known;
  }
  EMBER_CHECK(shape_numel(s) == numel(), "reshape: " << describe() << " cannot become " << shape_str(s));
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  EMBER_CHECK(dim() >= 1, "slice_rows on a 0-d tensor");
  EMBER_CHECK(0 <= begin && begin <= end && end <= shape_[0],
              "slice_rows [" << begin << ", " << end << ") out of range for " << describe());
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.offset_ += begin * strides_[0];
  return t;
}

Tensor Tensor::transpose2d() const {
  EMBER_CHECK(dim() == 2, "transpose2d needs a 2-D tensor, got " << describe());
  Tensor t = *this;
  std::swap(t.shape_[0], t.shape_[1]);
  std::swap(t.strides_[0], t.strides_[1]);
  return t;
}

template <typename T>
static void fill_host(void* p, int64_t n, double v) {
  T* d = static_cast<T*>(p);
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(v);
}

void Tensor::fill(double value) {
  EMBER_CHECK(is_contiguous(), "fill on a non-contiguous tensor " << describe());
  Tensor host = is_host(device_) ? *this : empty(shape_, dtype_, Device::CPU);
  switch (dtype_) {
    case DType::F32: fill_host<float>(host.raw_data(), numel(), value); break;
    case DType::F64: fill_host<double>(host.raw_data(), numel(), value); break;
    case DType::I32: fill_host<int32_t>(host.raw_data(), numel(), value); break;
    case DType::I64: fill_host<int64_t>(host.raw_data(), numel(), value); break;
  }
  if (!is_host(device_)) copy_bytes(raw_data(), device_, host.raw_data(), Device::CPU, nbytes());
}

void Tensor::zero_() {
  EMBER_CHECK(is_contiguous(), "zero_ on a non-contiguous tensor " << describe());
  if (is_host(device_)) {
    std::memset(raw_data(), 0, nbytes());
  } else {
    cuda_api::memset_device(raw_data(), 0, nbytes());
  }
}

void Tensor::copy_from(const Tensor& src) {
  EMBER_CHECK(shape_ == src.shape_ && dtype_ == src.dtype_,
              "copy_from: " << src.describe() << " into " << describe());
  EMBER_CHECK(is_contiguous(), "copy_from into a non-contiguous tensor " << describe());
  Tensor s = src.contiguous();
  copy_bytes(raw_data(), device_, s.raw_data(), s.device_, nbytes());
}

void Tensor::check_shape(const Shape& expected, const char* what) const {
  EMBER_CHECK(defined(), what << ": tensor is undefined");
  EMBER_CHECK(shape_ == expected, what << ": expected shape " << shape_str(expected) << ", got "
                                       << shape_str(shape_));
}

void Tensor::check_dtype(DType expected, const char* what) const {
  EMBER_CHECK(defined(), what << ": tensor is undefined");
  EMBER_CHECK(dtype_ == expected, what << ": expected dtype " << dtype_name(expected) << ", got "
                                       << dtype_name(dtype_));
}

void Tensor::check_device(Device expected, const char* what) const {
  EMBER_CHECK(defined(), what << ": tensor is undefined");
  EMBER_CHECK(device_ == expected, what << ": expected device " << device_name(expected) << ", got "
                                        << device_name(device_));
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  std::ostringstream os;
  os << dtype_name(dtype_) << shape_str(shape_) << " on " << device_name(device_);
  return os.str();
}

void check_same(const Tensor& a, const Tensor& b, const char* what) {
  EMBER_CHECK(a.defined() && b.defined(), what << ": undefined tensor");
  EMBER_CHECK(a.device() == b.device(), what << ": device mismatch, " << a.describe() << " vs "
                                             << b.describe());
  EMBER_CHECK(a.dtype() == b.dtype(), what << ": dtype mismatch, " << a.describe() << " vs "
                                           << b.describe());
  EMBER_CHECK(a.shape() == b.shape(), what << ": shape mismatch, " << a.describe() << " vs "
                                           << b.describe());
}

void check_same_device(const Tensor& a, const Tensor& b, const char* what) {
  EMBER_CHECK(a.device() == b.device(), what << ": device mismatch, " << a.describe() << " vs "
                                             << b.describe());
}

#define EMBER_TENSOR_INST(T)                                                                \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&, Device);      \
  template Tensor Tensor::from_values<T>(const T*, size_t, const Shape&, Device);           \
  template std::vector<T> Tensor::to_vector<T>() const;                                     \
  template T Tensor::item<T>(std::initializer_list<int64_t>) const;
EMBER_TENSOR_INST(float)
EMBER_TENSOR_INST(double)
EMBER_TENSOR_INST(int32_t)
EMBER_TENSOR_INST(int64_t)

}  // namespace ember
