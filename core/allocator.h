// Memory allocators, one per device, with byte counters (current / peak).
// Ownership rule: an Allocator is owned by the Context and lives for the
// whole process; Storage objects borrow it and return their bytes to it.
#pragma once
#include <atomic>
#include <cstddef>
#include <mutex>
#include <map>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"

namespace ember {

struct MemoryStats {
  size_t current_bytes = 0;   // bytes allocated now
  size_t peak_bytes = 0;      // highest current_bytes since the last reset_peak()
  size_t allocations = 0;     // number of allocate() calls since start
  size_t cached_bytes = 0;    // freed blocks kept for reuse (caching allocators)
  size_t cache_hits = 0;      // allocations served from the cache
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
  // Caching allocators report their cache in the stats.
  virtual void cache_stats(MemoryStats&) const {}

 private:
  mutable std::mutex mu_;
  MemoryStats stats_;
};

// Host memory, 64-byte aligned. Used for Device::CPU and Device::EMU (the
// emulator's "device" memory is host memory so AddressSanitizer sees it).
//
// With `caching` (Device::CPU; off under AddressSanitizer and when
// EMBER_HOST_CACHE=0), blocks of 4 KiB and more are not returned to the
// system when freed but kept, by size class (4 classes per power of two, so
// at most 25 % is wasted), and reused: a training step allocates the same
// tensors every step, and fresh large blocks cost page faults and zeroing by
// the kernel (20 % of a CPU step before this cache). A request takes a free
// block of its class, or else of the next larger classes up to twice its
// size (batch-dependent sizes vary from step to step). At most
// EMBER_HOST_CACHE_MB (default 2048) MiB of free blocks are kept; beyond that
// they are freed. Without caching every block is exactly the requested size,
// so AddressSanitizer reports an access one past the end of any tensor.
class HostAllocator final : public Allocator {
 public:
  HostAllocator(Device d, bool caching);
  ~HostAllocator() override;
  Device device() const override { return device_; }
  bool caching() const { return caching_; }
  // Returns the cached free blocks to the system.
  void release_cache();

 protected:
  void* raw_allocate(size_t bytes) override;
  void raw_deallocate(void* ptr) override;
  void cache_stats(MemoryStats& s) const override;

 private:
  static size_t size_class(size_t bytes);
  Device device_;
  bool caching_;
  size_t cache_limit_;
  mutable std::mutex cache_mu_;
  std::unordered_map<void*, size_t> block_size_;       // live or cached blocks of the cache's classes
  std::map<size_t, std::vector<void*>> free_;             // size class -> free blocks
  size_t cached_bytes_ = 0, hits_ = 0;
};

}  // namespace ember
