// Timing helpers for the data-path benchmarks: run a body `reps` times and
// report min / median wall-clock seconds.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace ember_bench {

struct Timing {
  double min_s = 0, median_s = 0;
};

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline Timing time_reps(int reps, const std::function<void()>& body) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    double t0 = now_s();
    body();
    t.push_back(now_s() - t0);
  }
  std::sort(t.begin(), t.end());
  return Timing{t.front(), t[t.size() / 2]};
}

inline void print_timing(const char* what, const Timing& t, double work = 0, const char* unit = nullptr) {
  if (work > 0 && unit)
    std::printf("%-44s min %9.4f s  median %9.4f s  (%.4g %s at median)\n", what, t.min_s, t.median_s, work / t.median_s, unit);
  else
    std::printf("%-44s min %9.4f s  median %9.4f s\n", what, t.min_s, t.median_s);
  std::fflush(stdout);
}

}  // namespace ember_bench
