#include "core/allocator.h"

#include <cstdlib>
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
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Allocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes = stats_.current_bytes;
}

// Exactly `bytes` (64-byte aligned, no padding), so AddressSanitizer reports
// an access one element past the end of any tensor.
void* HostAllocator::raw_allocate(size_t bytes) {
  void* p = ::operator new(bytes, std::align_val_t(64), std::nothrow);
  EMBER_CHECK(p != nullptr, "out of host memory allocating " << bytes << " bytes on "
                                << device_name(device_));
  return p;
}

void HostAllocator::raw_deallocate(void* ptr) { ::operator delete(ptr, std::align_val_t(64)); }

}  // namespace ember
