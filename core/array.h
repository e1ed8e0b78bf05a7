// Array<T>: a contiguous array that either owns its elements (a std::vector)
// or views elements that live elsewhere, kept alive by a shared handle: a
// memory-mapped file (engine/io/mapped_file.h) that the ranks of a machine
// share through the page cache instead of each holding a copy.
//
// It has the vector interface the graph code uses. Reading is the same for
// both kinds (one pointer, no branch). Copying a view shares it (cheap);
// copying an owning array copies the elements. An operation that changes the
// size of a view (push_back, resize, insert, ...) first copies the elements
// into an owned vector, so a view never grows in place. Writing an element of
// a view is allowed: the mappings ember makes are private, so the kernel
// copies that one page for this process and the file is never modified.
#pragma once
#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace ember {

template <typename T>
class Array {
 public:
  using value_type = T;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;

  Array() = default;
  Array(std::initializer_list<T> values) : vec_(values) { sync(); }
  Array(std::vector<T> values) : vec_(std::move(values)) { sync(); }  // NOLINT: implicit, as a vector
  explicit Array(size_t n, const T& value = T()) : vec_(n, value) { sync(); }
  template <typename It, typename = std::enable_if_t<!std::is_integral<It>::value>>
  Array(It first, It last) : vec_(first, last) { sync(); }

  // `n` elements at `data`, valid while `keep` lives.
  static Array view(T* data, size_t n, std::shared_ptr<const void> keep) {
    Array a;
    a.data_ = data;
    a.size_ = n;
    a.keep_ = std::move(keep);
    return a;
  }

  Array(const Array& o) : keep_(o.keep_), vec_(o.keep_ ? std::vector<T>() : o.vec_) {
    if (keep_) data_ = o.data_, size_ = o.size_;
    else sync();
  }
  Array(Array&& o) noexcept : data_(o.data_), size_(o.size_), keep_(std::move(o.keep_)), vec_(std::move(o.vec_)) {
    if (!keep_) sync();
    o.reset_empty();
  }
  Array& operator=(const Array& o) {
    if (this != &o) *this = Array(o);
    return *this;
  }
  Array& operator=(Array&& o) noexcept {
    if (this == &o) return *this;
    keep_ = std::move(o.keep_);
    vec_ = std::move(o.vec_);
    data_ = o.data_;
    size_ = o.size_;
    if (!keep_) sync();
    o.reset_empty();
    return *this;
  }
  Array& operator=(std::initializer_list<T> values) { return *this = std::vector<T>(values); }
  Array& operator=(std::vector<T> values) {
    keep_.reset();
    vec_ = std::move(values);
    sync();
    return *this;
  }

  // True when the elements live outside this object (a mapped file).
  bool is_view() const { return static_cast<bool>(keep_); }
  // The handle that keeps a view's memory alive (null for an owning array).
  const std::shared_ptr<const void>& keeper() const { return keep_; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T* cbegin() const { return data_; }
  const T* cend() const { return data_ + size_; }
  T& front() { return data_[0]; }
  T& back() { return data_[size_ - 1]; }
  const T& front() const { return data_[0]; }
  const T& back() const { return data_[size_ - 1]; }

  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

  // ---- size-changing operations (a view is copied into an owned vector first)
  void push_back(const T& v) { own().push_back(v); sync(); }
  template <typename... A> T& emplace_back(A&&... a) {
    own().emplace_back(std::forward<A>(a)...);
    sync();
    return back();
  }
  void pop_back() { own().pop_back(); sync(); }
  void resize(size_t n) { own().resize(n); sync(); }
  void resize(size_t n, const T& v) { own().resize(n, v); sync(); }
  void reserve(size_t n) { own().reserve(n); sync(); }
  void clear() { keep_.reset(); vec_.clear(); sync(); }
  void shrink_to_fit() { own().shrink_to_fit(); sync(); }
  void assign(size_t n, const T& v) { keep_.reset(); vec_.assign(n, v); sync(); }
  template <typename It, typename = std::enable_if_t<!std::is_integral<It>::value>>
  void assign(It first, It last) {
    std::vector<T> v(first, last);  // the range may be this array's own elements
    keep_.reset();
    vec_ = std::move(v);
    sync();
  }
  template <typename It>
  T* insert(const T* pos, It first, It last) {
    const size_t at = static_cast<size_t>(pos - data_);
    std::vector<T>& v = own();
    v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), first, last);
    sync();
    return data_ + at;
  }
  T* insert(const T* pos, const T& value) {
    const size_t at = static_cast<size_t>(pos - data_);
    std::vector<T>& v = own();
    v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), value);
    sync();
    return data_ + at;
  }
  T* erase(const T* first, const T* last) {
    const size_t a = static_cast<size_t>(first - data_), b = static_cast<size_t>(last - data_);
    std::vector<T>& v = own();
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(a), v.begin() + static_cast<std::ptrdiff_t>(b));
    sync();
    return data_ + a;
  }
  void swap(Array& o) noexcept { std::swap(*this, o); }

  friend bool operator==(const Array& a, const Array& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Array& a, const Array& b) { return !(a == b); }
  friend bool operator==(const Array& a, const std::vector<T>& b) {
    return a.size_ == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator==(const std::vector<T>& b, const Array& a) { return a == b; }
  friend bool operator!=(const Array& a, const std::vector<T>& b) { return !(a == b); }
  friend bool operator!=(const std::vector<T>& b, const Array& a) { return !(a == b); }

 private:
  std::vector<T>& own() {
    if (keep_) {
      vec_.assign(data_, data_ + size_);
      keep_.reset();
    }
    return vec_;
  }
  void sync() {
    data_ = vec_.data();
    size_ = vec_.size();
  }
  void reset_empty() {
    keep_.reset();
    vec_.clear();
    sync();
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<const void> keep_;  // set for a view
  std::vector<T> vec_;                // the elements of an owning array
};

}  // namespace ember
