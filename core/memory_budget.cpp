#include "core/memory_budget.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/cuda_api.h"
#include "core/error.h"

namespace ember {

namespace {
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Parses "123", "4096k", "2g", "1.5G", "512MiB"... (binary units). 0 on error.
uint64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !(v >= 0)) return 0;
  std::string unit(end);
  unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
  double mul = 1;
  if (!unit.empty()) {
    switch (unit[0]) {
      case 'k': case 'K': mul = 1024.0; break;
      case 'm': case 'M': mul = 1024.0 * 1024; break;
      case 'g': case 'G': mul = 1024.0 * 1024 * 1024; break;
      case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; break;
      case 'b': case 'B': break;
      default: return 0;
    }
  }
  return bytes_of(v * mul);
}

uint64_t read_u64_file(const std::string& path, bool* ok) {
  std::ifstream in(path);
  std::string s;
  *ok = false;
  if (!(in >> s) || s == "max") return 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str()) return 0;
  *ok = true;
  return v;
}

bool checks_enabled() {
  const std::string v = env_or_empty("EMBER_MEMORY_CHECK");
  return !(v == "0" || v == "off" || v == "OFF" || v == "false");
}

}  // namespace

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > kMaxU64 - b ? kMaxU64 : a + b; }
uint64_t bytes_of(double x) {
  if (!(x > 0)) return 0;
  if (x >= 1.8e19) return kMaxU64;
  return static_cast<uint64_t>(x);
}

// ---- MemoryEstimate ------------------------------------------------------------------

void MemoryEstimate::add(const std::string& name, uint64_t host, uint64_t device) {
  parts.push_back(Part{name, host, device});
}

uint64_t MemoryEstimate::host_bytes() const {
  uint64_t s = 0;
  for (const Part& p : parts) s = saturating_add(s, p.host);
  return s;
}

uint64_t MemoryEstimate::device_bytes() const {
  uint64_t s = 0;
  for (const Part& p : parts) s = saturating_add(s, p.device);
  return s;
}

std::string format_bytes(uint64_t b) {
  char buf[64];
  const double x = static_cast<double>(b);
  if (b >= (uint64_t(1) << 40)) std::snprintf(buf, sizeof buf, "%.1f TiB", x / double(uint64_t(1) << 40));
  else if (b >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", x / double(1 << 30));
  else if (b >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.0f MiB", x / double(1 << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.0f KiB", x / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

namespace {
std::string describe_side(const MemoryEstimate& e, bool device) {
  std::vector<MemoryEstimate::Part> ps = e.parts;
  std::stable_sort(ps.begin(), ps.end(), [device](const auto& a, const auto& b) {
    return (device ? a.device : a.host) > (device ? b.device : b.host);
  });
  std::ostringstream os;
  os << format_bytes(device ? e.device_bytes() : e.host_bytes()) << (device ? " device" : " host") << " (";
  int shown = 0;
  for (const auto& p : ps) {
    const uint64_t v = device ? p.device : p.host;
    if (v == 0 || shown == 4) continue;
    os << (shown++ ? ", " : "") << p.name << " " << format_bytes(v);
  }
  os << ")";
  return os.str();
}
}  // namespace

std::string MemoryEstimate::describe() const {
  std::string s = describe_side(*this, false);
  if (device_bytes() > 0) s += ", " + describe_side(*this, true);
  return s;
}

// ---- available memory ------------------------------------------------------------------------

uint64_t available_host_memory(std::string* source) {
  uint64_t best = 0;
  std::string src;
  auto consider = [&](uint64_t v, const std::string& what) {
    if (v == 0) return;
    if (best == 0 || v < best) { best = v; src = what; }
  };
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    unsigned long long kb = 0;
    std::string unit;
    while (in >> key >> kb) {
      std::getline(in, unit);
      if (key == "MemAvailable:") { consider(static_cast<uint64_t>(kb) * 1024, "MemAvailable in /proc/meminfo"); break; }
    }
  }
  {
    // cgroup v2: the container's limit minus its current usage.
    bool ok_max = false, ok_cur = false;
    const uint64_t mx = read_u64_file("/sys/fs/cgroup/memory.max", &ok_max);
    const uint64_t cur = read_u64_file("/sys/fs/cgroup/memory.current", &ok_cur);
    if (ok_max && ok_cur && mx > cur) consider(mx - cur, "the cgroup limit (memory.max - memory.current)");
  }
  const std::string lim = env_or_empty("EMBER_MEMORY_LIMIT");
  if (!lim.empty()) consider(parse_size(lim), "EMBER_MEMORY_LIMIT=" + lim);
  if (source) *source = src.empty() ? "unknown" : src;
  return best;
}

ProcessMemory current_process_memory() {
  ProcessMemory m;
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  unsigned long long kb = 0;
  std::string unit;
  bool rss = false, anon = false;
  while (in >> key) {
    if (!(in >> kb)) {
      in.clear();
      std::getline(in, unit);  // the first line: the address range and "[rollup]"
      continue;
    }
    std::getline(in, unit);
    if (key == "Rss:") m.resident = static_cast<uint64_t>(kb) * 1024, rss = true;
    else if (key == "Pss:") m.proportional = static_cast<uint64_t>(kb) * 1024;
    else if (key == "Anonymous:") m.anonymous = static_cast<uint64_t>(kb) * 1024, anon = true;
  }
  m.known = rss && anon;
  m.file = m.resident > m.anonymous ? m.resident - m.anonymous : 0;
  return m;
}

uint64_t available_device_memory(std::string* source) {
  uint64_t best = 0;
  std::string src;
  size_t free_b = 0, total_b = 0;
  if (cuda_api::memory_info(&free_b, &total_b)) {
    best = free_b;
    src = "free memory of " + cuda_api::device_name();
  }
  const std::string lim = env_or_empty("EMBER_DEVICE_MEMORY_LIMIT");
  const uint64_t l = parse_size(lim);
  if (l > 0 && (best == 0 || l < best)) {
    best = l;
    src = "EMBER_DEVICE_MEMORY_LIMIT=" + lim;
  }
  if (source) *source = src.empty() ? "unknown (no GPU)" : src;
  return best;
}

void check_memory(const MemoryEstimate& est, uint64_t host_available, uint64_t device_available,
                  const std::string& what) {
  const uint64_t h = est.host_bytes(), d = est.device_bytes();
  const bool host_bad = host_available > 0 && h > host_available;
  const bool dev_bad = device_available > 0 && d > device_available;
  if (!host_bad && !dev_bad) return;
  std::ostringstream os;
  os << what << ": needs about " << est.describe() << ", but only ";
  if (host_bad) os << format_bytes(host_available) << " of host memory";
  if (host_bad && dev_bad) os << " and ";
  if (dev_bad) os << format_bytes(device_available) << " of device memory";
  os << " is available; use a smaller graph / batch / model or a machine with more memory"
     << " (EMBER_MEMORY_CHECK=0 skips this check)";
  throw Error(os.str());
}

void check_memory(const MemoryEstimate& est, const std::string& what) {
  std::string hs, ds;
  const uint64_t host = available_host_memory(&hs);
  const uint64_t dev = est.device_bytes() > 0 ? available_device_memory(&ds) : 0;
  try {
    check_memory(est, host, dev, what);
  } catch (const Error& e) {
    std::string msg = std::string(e.what()) + " [available: host from " + hs +
                      (est.device_bytes() > 0 ? ", device from " + ds : std::string()) + "]";
    if (!checks_enabled()) {
      std::fprintf(stderr, "warning: %s\n", msg.c_str());
      return;
    }
    throw Error(msg);
  }
}

}  // namespace ember
