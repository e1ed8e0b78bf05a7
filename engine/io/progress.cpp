#include "engine/io/progress.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>

namespace ember {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(isatty(fileno(stdout)) != 0) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t done, const std::vector<std::pair<std::string, double>>& values, int64_t samples) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  const bool last = total_ > 0 && done >= total_;
  if (!last && since < (tty_ ? 0.2 : 5.0)) return;
  last_print_ = now;
  std::ostringstream os;
  os << label_ << " ";
  if (total_ > 0) {
    const int width = 20;
    const int filled = static_cast<int>(width * std::min<double>(1.0, double(done) / total_));
    if (tty_) os << "[" << std::string(filled, '#') << std::string(width - filled, '.') << "] ";
    os << "step " << done << "/" << total_;
  } else {
    os << "step " << done;
  }
  char buf[64];
  for (const auto& [k, v] : values) {
    std::snprintf(buf, sizeof buf, " %s %.4g", k.c_str(), v);
    os << buf;
  }
  const double rate = elapsed > 0 ? samples / elapsed : 0.0;
  std::snprintf(buf, sizeof buf, " | %.0f samples/s", rate);
  os << buf;
  if (total_ > 0 && done > 0) {
    const double eta = elapsed * (total_ - done) / done;
    std::snprintf(buf, sizeof buf, " | ETA %.0fs", eta);
    os << buf;
  }
  last_line_ = os.str();
  if (tty_) {
    std::printf("\r%-120s", last_line_.c_str());
  } else {
    std::printf("%s\n", last_line_.c_str());
  }
  std::fflush(stdout);
}

void Progress::finish(const std::string& summary) {
  if (!enabled_) return;
  if (tty_ && !last_line_.empty()) std::printf("\n");
  if (!summary.empty()) std::printf("%s %s\n", label_.c_str(), summary.c_str());
  std::fflush(stdout);
}

}  // namespace ember
