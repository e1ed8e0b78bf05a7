// Tensor: a typed, shaped, row-major view of device memory.
//
// Storage is RAII and move-only; a Tensor is a cheap handle that shares its
// Storage (copying a Tensor never copies data). Data moves between devices
// only through the explicit to(Device) / clone() calls.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace ember {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

// Owns one allocation on one device. Not copyable; freed by its destructor.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Storage(Storage&& o) noexcept;
  Storage& operator=(Storage&& o) noexcept;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  Device device_ = Device::CPU;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() == false

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::CPU);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::CPU);
  // `n` values at `values` (host memory): from_vector of any contiguous array.
  template <typename T>
  static Tensor from_values(const T* values, size_t n, const Shape& shape, Device device = Device::CPU);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t axis) const;  // negative axis counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_contiguous() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  // Typed pointer to the first element; checks the dtype.
  template <typename T> T* data() const {
    EMBER_CHECK(defined(), "data() on an undefined tensor");
    EMBER_CHECK(dtype_of<T>::value == dtype_, "dtype mismatch: tensor is " << dtype_name(dtype_)
                                                  << ", accessed as " << dtype_name(dtype_of<T>::value));
    return reinterpret_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // Copies (explicit data movement).
  Tensor to(Device device) const;             // contiguous copy on `device` (always copies)
  Tensor clone() const { return to(device_); }
  Tensor contiguous() const;                   // self if contiguous, else a packed copy
  Tensor to_dtype(DType dtype) const;          // converting copy (host-side for CUDA)
  template <typename T> std::vector<T> to_vector() const;  // host copy of all elements
  template <typename T> T item(std::initializer_list<int64_t> index) const;  // one element

  // Views sharing storage.
  Tensor reshape(const Shape& shape) const;   // contiguous tensors only; one -1 allowed
  Tensor slice_rows(int64_t begin, int64_t end) const;  // rows [begin, end) of axis 0
  Tensor transpose2d() const;                  // strided view of a 2-D tensor

  // In-place fills.
  void fill(double value);
  void zero_();
  // Copies src (same shape and dtype, any device) into this tensor.
  void copy_from(const Tensor& src);

  // Checks with clear messages.
  void check_shape(const Shape& expected, const char* what) const;
  void check_dtype(DType expected, const char* what) const;
  void check_device(Device expected, const char* what) const;

  std::string describe() const;  // "float32[3, 4] on cpu"

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_, strides_;
  int64_t offset_ = 0;  // in elements
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
};

// Throws unless a and b have the same shape, dtype and device.
void check_same(const Tensor& a, const Tensor& b, const char* what);
// Throws unless a and b are on the same device.
void check_same_device(const Tensor& a, const Tensor& b, const char* what);

}  // namespace ember
