// The micro-benchmark runner shared by every bench/bench_*.cpp.
//
//   auto r = ember::bench::run(device, [&] { op(); }, {.warmup = 3, .reps = 20});
//   r.print_row(...) / r.json(...)
//
// Timing: CUDA events on a real GPU (work synchronised before and after),
// std::chrono::steady_clock on the CPU. Every figure is reported as min and
// median over `reps` repetitions after `warmup` untimed runs, with the work
// size and the device, and optionally bytes moved / flops for GB/s, GFLOP/s.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.h"
#include "core/cuda_api.h"
#include "core/dtype.h"
#include "core/error.h"

namespace ember {
namespace bench {

struct Options {
  int warmup = 2;
  int reps = 10;
};

struct Result {
  std::vector<double> ms;  // one per repetition
  double min_ms() const { return *std::min_element(ms.begin(), ms.end()); }
  double median_ms() const {
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    const size_t n = s.size();
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  }
  // Throughputs from the median time.
  double gbps(double bytes) const { return bytes / (median_ms() * 1e-3) / 1e9; }
  double gflops(double flops) const { return flops / (median_ms() * 1e-3) / 1e9; }
};

inline Result run(Device device, const std::function<void()>& fn, Options opt = {}) {
  for (int i = 0; i < opt.warmup; ++i) fn();
  if (device == Device::CUDA) cuda_api::synchronize();
  Result r;
  for (int i = 0; i < opt.reps; ++i) {
    if (device == Device::CUDA) {
      r.ms.push_back(cuda_api::time_ms_events(fn));
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      const auto t1 = std::chrono::steady_clock::now();
      r.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  return r;
}

// A human-readable description of where a benchmark runs.
inline std::string device_description(Device device) {
  if (device == Device::CUDA) return "cuda: " + cuda_api::device_name();
  if (device == Device::EMU) return "emu (kernel emulator on the CPU: logic only, not speed)";
  return "cpu: " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
}

// Parses "cpu" / "cuda" / "emu" (for --device flags).
inline Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::CPU;
  if (s == "cuda") return Device::CUDA;
  if (s == "emu") return Device::EMU;
  throw Error("unknown device '" + s + "' (expected cpu, cuda or emu)");
}

// Peak bytes of the device's allocator since the last reset (ember-allocated memory).
inline size_t peak_bytes(Device device) { return Context::get().allocator(device).stats().peak_bytes; }
inline void reset_peak(Device device) { Context::get().allocator(device).reset_peak(); }

}  // namespace bench
}  // namespace ember
