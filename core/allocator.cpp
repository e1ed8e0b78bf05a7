#include "core/allocator.h"

#include <cstdlib>
#include <string>
#include <new>

#include "core/error.h"

namespace ember {

void* Allocator::allocate(size_t bytes) {
  void* p = raw_allocate(bytes == 0 ? 1 : bytes);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.current_bytes += bytes;
  stats_.allocations += 1;
  if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
  return p;
}

void Allocator::deallocate(void* ptr, size_t bytes) {
  if (!ptr) return;
  raw_deallocate(ptr);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.current_bytes -= bytes;
}

MemoryStats Allocator::stats() const {
  MemoryStats s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = stats_;
  }
  cache_stats(s);
  return s;
}

void Allocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes = stats_.current_bytes;
}

namespace {
constexpr size_t kMinCached = 4096;
bool sanitized() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}
void* aligned_new(size_t bytes, Device d) {
  void* p = ::operator new(bytes, std::align_val_t(64), std::nothrow);
  EMBER_CHECK(p != nullptr, "out of host memory allocating " << bytes << " bytes on " << device_name(d));
  return p;
}
}  // namespace

HostAllocator::HostAllocator(Device d, bool caching) : device_(d) {
  const char* env = std::getenv("EMBER_HOST_CACHE");
  caching_ = caching && !sanitized() && !(env && std::string(env) == "0");
  const char* mb = std::getenv("EMBER_HOST_CACHE_MB");
  cache_limit_ = (mb ? static_cast<size_t>(std::strtoull(mb, nullptr, 10)) : size_t(2048)) << 20;
}

HostAllocator::~HostAllocator() { release_cache(); }

// 4 classes per power of two: 4096, 5120, 6144, 7168, 8192, 10240, ...
size_t HostAllocator::size_class(size_t bytes) {
  size_t p = kMinCached;
  while (p * 2 <= bytes) p *= 2;
  const size_t step = p / 4;
  return (bytes + step - 1) / step * step;
}

// Exactly `bytes` when not caching (64-byte aligned, no padding), so
// AddressSanitizer reports an access one element past the end of any tensor.
void* HostAllocator::raw_allocate(size_t bytes) {
  if (!caching_ || bytes < kMinCached) return aligned_new(bytes, device_);
  const size_t cls = size_class(bytes);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    for (auto it = free_.lower_bound(cls); it != free_.end() && it->first <= 2 * cls; ++it) {
      if (it->second.empty()) continue;
      void* p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= it->first;
      ++hits_;
      return p;
    }
  }
  void* p = aligned_new(cls, device_);
  std::lock_guard<std::mutex> lock(cache_mu_);
  block_size_[p] = cls;
  return p;
}

void HostAllocator::raw_deallocate(void* ptr) {
  if (caching_) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = block_size_.find(ptr);
    if (it != block_size_.end()) {
      if (cached_bytes_ + it->second <= cache_limit_) {
        free_[it->second].push_back(ptr);
        cached_bytes_ += it->second;
        return;
      }
      block_size_.erase(it);
    }
  }
  ::operator delete(ptr, std::align_val_t(64));
}

void HostAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(cache_mu_);
  for (auto& [cls, blocks] : free_)
    for (void* p : blocks) {
      block_size_.erase(p);
      ::operator delete(p, std::align_val_t(64));
    }
  free_.clear();
  cached_bytes_ = 0;
}

void HostAllocator::cache_stats(MemoryStats& s) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  s.cached_bytes = cached_bytes_;
  s.cache_hits = hits_;
}

}  // namespace ember
