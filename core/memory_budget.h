// Memory budgets: how much host and device memory a job may use, and the
// check that refuses a job before it starts when the machine cannot hold it
// (instead of being killed by the OOM killer or a cudaMalloc failure hours
// later). The estimates themselves are made where the facts live:
// engine/data/load_estimate.h (reading a graph) and
// engine/train/memory_estimate.h (training).
//
// Available memory: host = min(MemAvailable from /proc/meminfo, the cgroup v2
// limit minus usage, $EMBER_MEMORY_LIMIT); device = free bytes of the current
// GPU (cudaMemGetInfo), or $EMBER_DEVICE_MEMORY_LIMIT. 0 means "unknown" and
// is never refused. EMBER_MEMORY_CHECK=0 turns the checks into warnings.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember {

// An estimate: named parts, each with host and device bytes.
struct MemoryEstimate {
  struct Part {
    std::string name;
    uint64_t host = 0, device = 0;
  };
  std::vector<Part> parts;

  void add(const std::string& name, uint64_t host, uint64_t device = 0);
  uint64_t host_bytes() const;
  uint64_t device_bytes() const;
  // "1.23 GiB host (graph 600 MiB, features 400 MiB, ...)" and the device part when non-zero.
  std::string describe() const;
};

// Available memory as described above; *source (optional) says where the
// number came from. 0 = unknown.
uint64_t available_host_memory(std::string* source = nullptr);
uint64_t available_device_memory(std::string* source = nullptr);

// This process's resident memory, from /proc/self/smaps_rollup (known =
// false where that file does not exist). `file` is the resident pages of
// mapped files (the graph cache, the program): the page cache shares them
// with every other process that maps the same files; `anonymous` is the
// memory private to this process.
struct ProcessMemory {
  bool known = false;
  uint64_t resident = 0, anonymous = 0, file = 0, proportional = 0;  // Rss, Anonymous, Rss - Anonymous, Pss
};
ProcessMemory current_process_memory();

// Throws ember::Error "<what>: needs about X of host memory (...), only Y
// available (...)" when the estimate exceeds what is available (0 = unknown,
// never refused). The second form reads the available memory itself and
// checks the device only when est.device_bytes() > 0.
void check_memory(const MemoryEstimate& est, uint64_t host_available, uint64_t device_available,
                  const std::string& what);
void check_memory(const MemoryEstimate& est, const std::string& what);

// "1.5 GiB", "300 MiB", "12 KiB", "17 B".
std::string format_bytes(uint64_t bytes);

// Saturating helpers for estimates: an absurd configuration must give a huge
// estimate, not a wrapped one.
uint64_t saturating_add(uint64_t a, uint64_t b);
// Bytes of a (possibly huge or negative) double: 0 for x <= 0 or NaN, UINT64_MAX beyond.
uint64_t bytes_of(double x);

}  // namespace ember
