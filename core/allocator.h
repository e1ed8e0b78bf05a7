// Memory allocators, one per device, with byte counters (current / peak).
// Ownership rule: an Allocator is owned by the Context and lives for the
// whole process; Storage objects borrow it and return their bytes to it.
#pragma once
#include <atomic>
#include <cstddef>
#include <mutex>

#include "core/dtype.h"

namespace ember {

struct MemoryStats {
  size_t current_bytes = 0;   // bytes allocated now
  size_t peak_bytes = 0;      // highest current_bytes since the last reset_peak()
  size_t allocations = 0;     // number of allocate() calls since start
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Device device() const = 0;
  // Returns memory for `bytes` bytes (never nullptr; throws ember::Error).
  void* allocate(size_t bytes);
  void deallocate(void* ptr, size_t bytes);
  MemoryStats stats() const;
  // Sets peak to the current value, so an op's own peak can be read after it.
  void reset_peak();

 protected:
  virtual void* raw_allocate(size_t bytes) = 0;
  virtual void raw_deallocate(void* ptr) = 0;

 private:
  mutable std::mutex mu_;
  MemoryStats stats_;
};

// Host memory, 64-byte aligned. Used for Device::CPU and Device::EMU (the
// emulator's "device" memory is host memory so AddressSanitizer sees it).
class HostAllocator final : public Allocator {
 public:
  explicit HostAllocator(Device d) : device_(d) {}
  Device device() const override { return device_; }

 protected:
  void* raw_allocate(size_t bytes) override;
  void raw_deallocate(void* ptr) override;

 private:
  Device device_;
};

}  // namespace ember
