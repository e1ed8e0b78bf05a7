// Progress output for long work: a one-line bar redrawn in place on a
// terminal (epoch, step, loss terms, samples/s, ETA); plain lines every few
// seconds when stdout is not a terminal (CI logs, pipes).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ember {

class Progress {
 public:
  // total: number of steps in this phase (0 = unknown); label e.g. "epoch 3/10".
  Progress(std::string label, int64_t total, bool enabled = true);
  // Reports step `done` (1-based) with named values and the samples processed so far.
  void update(int64_t done, const std::vector<std::pair<std::string, double>>& values, int64_t samples);
  // Ends the line (terminal mode) and prints a final summary.
  void finish(const std::string& summary = "");

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  std::string last_line_;
};

}  // namespace ember
