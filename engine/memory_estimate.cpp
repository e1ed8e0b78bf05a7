#include "engine/memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/cuda_api.h"
#include "core/error.h"
#include "engine/binary_io.h"
#include "engine/graph.h"

namespace ember {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// Saturating arithmetic: an absurd config must give a huge estimate, not a wrapped one.
uint64_t sat_add(uint64_t a, uint64_t b) { return a > kMaxU64 - b ? kMaxU64 : a + b; }
uint64_t bytes_of(double x) {
  if (!(x > 0)) return 0;
  if (x >= 1.8e19) return kMaxU64;
  return static_cast<uint64_t>(x);
}

// Bytes per line of a text file, measured on its first 64 KiB (>= 4).
double bytes_per_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 16.0;
  std::string buf(1 << 16, '\0');
  in.read(&buf[0], static_cast<std::streamsize>(buf.size()));
  const size_t got = static_cast<size_t>(in.gcount());
  const size_t lines = static_cast<size_t>(std::count(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(got), '\n'));
  if (got == 0) return 16.0;
  if (lines == 0) return std::max<double>(4.0, static_cast<double>(got));
  return std::max(4.0, static_cast<double>(got) / static_cast<double>(lines));
}

bool has_suffix(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// Peak host bytes of reading an edge-list text file and building the graph
// (graph.cpp: the text, the EdgeList's int64 pairs with vector growth, then
// int32 copies, the id table / sorted originals, the raw adjacency and the
// final CSR).
struct EdgeFileModel {
  double rows = 0, nodes = 0;
  uint64_t peak = 0;
};
EdgeFileModel edge_file_model(const std::string& path, bool csv) {
  EdgeFileModel m;
  const int64_t size = file_size(path);
  if (size <= 0) return m;
  const double S = static_cast<double>(size);
  m.rows = S / bytes_per_line(path) - (csv ? 1 : 0);
  if (m.rows < 0) m.rows = 0;
  m.nodes = std::max(1.0, m.rows / 4.0);  // typical social graphs: mean degree ~8
  const double reading = S + 32.0 * m.rows;                 // text + EdgeList (capacity up to 2x)
  const double building = 16.0 * m.rows                     // EdgeList
                          + 8.0 * m.rows                    // int32 copies
                          + 16.0 * m.rows                   // originals (two per row) / id table
                          + 8.0 * m.rows + 24.0 * m.nodes   // raw adjacency, offsets
                          + 8.0 * m.rows + 8.0 * m.nodes    // final CSR
                          + 24.0 * m.nodes;                 // IdMap
  m.peak = bytes_of(std::max(reading, building));
  return m;
}

// MUSAE JSON: the text, then two CSR copies (raw + aligned) of ~1 feature id per 5 bytes.
uint64_t json_features_peak(const std::string& path) {
  const int64_t size = file_size(path);
  if (size <= 0) return 0;
  const double S = static_cast<double>(size);
  return bytes_of(S + 2.0 * 8.0 * (S / 5.0) * 1.5);
}

uint64_t u(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

// Parameter count of SsmtlModel (engine/model.cpp).
double model_parameters(const TrainConfig& cfg, double F) {
  const ModelConfig& m = cfg.model;
  double p = F * m.hidden + 2.0 * m.hidden;  // W_in, b_in, mask token
  double in = static_cast<double>(m.hidden);
  for (int64_t l = 0; l < m.layers; ++l) {
    const bool last = l + 1 == m.layers;
    const double oph = last ? static_cast<double>(m.embedding_dim) : static_cast<double>(m.hidden / std::max<int64_t>(1, m.heads));
    const double out = last ? oph : m.heads * oph;
    p += in * m.heads * oph + 2.0 * m.heads * oph + out;
    if (m.residual && in != out) p += in * out;
    in = out;
  }
  const double d = static_cast<double>(m.embedding_dim);
  const auto& c = cfg.objectives.cca;
  p += d * c.head_hidden + c.head_hidden + static_cast<double>(c.head_hidden) * c.head_out + c.head_out;  // CCA head
  p += d * d + d + d * F + 3.0 * F;                                                                   // MAE head
  return p;
}

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

// ---- MemoryEstimate ------------------------------------------------------------------

void MemoryEstimate::add(const std::string& name, uint64_t host, uint64_t device) {
  parts.push_back(Part{name, host, device});
}

uint64_t MemoryEstimate::host_bytes() const {
  uint64_t s = 0;
  for (const Part& p : parts) s = sat_add(s, p.host);
  return s;
}

uint64_t MemoryEstimate::device_bytes() const {
  uint64_t s = 0;
  for (const Part& p : parts) s = sat_add(s, p.device);
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

// ---- graph sizes --------------------------------------------------------------------------

GraphSize graph_size(const Graph& g) {
  GraphSize s;
  s.nodes = g.num_nodes();
  s.edges = g.num_edges();
  s.feature_nnz = g.features.nnz();
  s.feature_cols = g.has_features() ? g.features.num_cols : 0;
  s.labels = !g.labels.empty();
  s.identity_ids = g.ids.is_identity();
  return s;
}

uint64_t graph_bytes(const GraphSize& s) {
  const double n = static_cast<double>(u(s.nodes)), E = static_cast<double>(u(s.edges));
  double b = 8.0 * (n + 1) + 8.0 * E;                            // offsets, both directions of every edge
  if (!s.identity_ids) b += 24.0 * n;                            // dense -> original, sorted copy, order
  if (s.feature_cols > 0) b += 8.0 * (n + 1) + 8.0 * static_cast<double>(u(s.feature_nnz));
  if (s.labels) b += 8.0 * n;
  return bytes_of(b);
}

GraphSize expected_graph_size(const DataConfig& d) {
  GraphSize s;
  if (d.graph == "synthetic") {
    const auto& c = d.synthetic;
    s.nodes = c.num_users;
    s.edges = static_cast<int64_t>(std::min(9e18, static_cast<double>(u(c.num_users)) * c.avg_degree / 2.0));
    s.feature_cols = c.feature_dim;
    s.feature_nnz = static_cast<int64_t>(std::min(9e18, static_cast<double>(u(c.num_users)) * static_cast<double>(u(c.features_per_user))));
    s.labels = true;
    return s;
  }
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(d.graph, ec)) {
    for (const auto& ent : fs::recursive_directory_iterator(d.graph, fs::directory_options::skip_permission_denied, ec))
      if (ent.is_regular_file(ec)) files.push_back(ent.path().string());
  } else {
    files.push_back(d.graph);
  }
  for (const std::string& f : files) {
    if (has_suffix(f, ".json")) {
      const int64_t size = std::max<int64_t>(0, file_size(f));
      s.feature_nnz += size / 5;
      s.feature_cols = std::max<int64_t>(s.feature_cols, 1);
    } else if (has_suffix(f, "_edges.csv") || has_suffix(f, ".txt") || has_suffix(f, ".edges") ||
               (f == d.graph && !fs::is_directory(d.graph, ec))) {
      EdgeFileModel m = edge_file_model(f, has_suffix(f, ".csv"));
      s.edges += static_cast<int64_t>(m.rows);
      s.nodes += static_cast<int64_t>(m.nodes);
    }
  }
  s.identity_ids = false;
  return s;
}

MemoryEstimate estimate_graph_load(const DataConfig& d, uint64_t seed) {
  (void)seed;
  MemoryEstimate e;
  if (d.graph == "synthetic") {
    GraphSize s = expected_graph_size(d);
    const uint64_t g = graph_bytes(s);
    // The generator's edge arrays (int32 pairs with growth, triadic-closure
    // candidates) and per-user propensities / communities.
    const double E = static_cast<double>(u(s.edges)), n = static_cast<double>(u(s.nodes));
    e.add("graph", g);
    e.add("generator temporaries", bytes_of(32.0 * E + 32.0 * n + 8.0 * static_cast<double>(u(s.feature_nnz))));
    return e;
  }
  std::error_code ec;
  if (!fs::exists(d.graph, ec)) return e;  // the loader reports the missing path
  std::vector<std::string> files;
  if (fs::is_directory(d.graph, ec)) {
    for (const auto& ent : fs::recursive_directory_iterator(d.graph, fs::directory_options::skip_permission_denied, ec))
      if (ent.is_regular_file(ec)) files.push_back(ent.path().string());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(d.graph);
  }
  uint64_t edges_peak = 0, features = 0, other = 0;
  for (const std::string& f : files) {
    if (has_suffix(f, ".json")) features = sat_add(features, json_features_peak(f));
    else if (has_suffix(f, "_edges.csv") || has_suffix(f, ".txt") || has_suffix(f, ".edges") || files.size() == 1)
      edges_peak = std::max(edges_peak, edge_file_model(f, has_suffix(f, ".csv")).peak);
    else other = sat_add(other, u(file_size(f)) * 2);  // labels, ego features: text + parsed
  }
  e.add("edge list and graph build", edges_peak);
  if (features) e.add("feature file", features);
  if (other) e.add("other dataset files", other);
  if (!d.features.empty()) e.add("feature file", json_features_peak(d.features));
  return e;
}

MemoryEstimate estimate_training(const TrainConfig& cfg, const GraphSize& train_in) {
  MemoryEstimate e;
  GraphSize train = train_in;
  const double n = static_cast<double>(u(train.nodes));
  if (train.feature_cols <= 0) {  // the structural fallback of prepare_data
    train.feature_cols = train.nodes + 16;
    train.feature_nnz = 2 * train.nodes;
  }
  const double F = static_cast<double>(u(train.feature_cols));
  const double nnz_row = n > 0 ? static_cast<double>(u(train.feature_nnz)) / n : 0.0;
  const double held = cfg.data.val_fraction + cfg.data.test_fraction;
  const double E_train = static_cast<double>(u(train.edges));
  const double E_full = held < 1.0 ? E_train / (1.0 - held) : E_train;

  // Prepared data: the full graph and the training graph (features shared in
  // content but stored twice), held-out edge lists and their CSR.
  GraphSize full = train;
  full.edges = static_cast<int64_t>(E_full);
  e.add("graphs", sat_add(graph_bytes(full), graph_bytes(train)));
  e.add("held-out edges", bytes_of((E_full - E_train) * (8.0 + 8.0) + 16.0 * (n + 1)));

  // Model: parameters, gradients, Adam moments (or SGD momentum), best copy,
  // checkpoint staging.
  const double P = model_parameters(cfg, F);
  const double opt_copies = cfg.optim.optimizer == "sgd" ? 1.0 : 2.0;
  const bool gpu = cfg.device == "cuda";
  const double on_device = 4.0 * P * (2.0 + opt_copies);  // params + grads + optimizer state
  const double on_host_model = 4.0 * P * 2.0;              // best parameters + checkpoint copies
  e.add("model, gradients, optimizer", gpu ? bytes_of(on_host_model) : bytes_of(on_device + on_host_model),
        gpu ? bytes_of(on_device) : 0);

  // One batch (engine/batch.cpp): seeds = queries + positives + random
  // negatives; each hop expands every new node by its fanout (sampled nodes
  // are mostly well connected, so the full fanout is taken), capped at the graph.
  const double B = static_cast<double>(u(cfg.sampler.batch_size));
  const double R = static_cast<double>(u(cfg.objectives.random_negatives));
  double nodes = 2.0 * B + R, frontier = nodes, edges = 0;
  const double mean_deg = n > 0 ? 2.0 * E_train / n : 0.0;
  for (int64_t f : cfg.sampler.fanouts) {
    const double take = f < 0 ? 2.0 * mean_deg : static_cast<double>(f);
    edges += frontier * take;
    frontier *= take;
    nodes += frontier;
  }
  nodes = std::min(nodes, n);
  edges = std::min(2.0 * edges, 2.0 * E_train);  // both directions
  const double views = 1.0 + (cfg.objectives.beta > 0 ? 2.0 : 0.0) + (cfg.objectives.gamma > 0 ? 1.0 : 0.0);
  const double C = B + R;
  const double batch = views * (8.0 * edges + 8.0 * (nodes + 1) + 8.0 * nodes * nnz_row) + 8.0 * nodes +
                       4.0 * B * C * 2.0 + (cfg.objectives.gamma > 0 ? 4.0 * B * F : 0.0);
  const double in_flight = static_cast<double>(u(cfg.sampler.prefetch) + u(cfg.sampler.threads) + 1);
  e.add("prefetched batches", bytes_of(in_flight * batch));

  // One step: per view the message graph (CSR + transpose) and sparse input,
  // and ~5 float tensors per node and layer width kept for the backward
  // (measured: 4.6 with the allocator's peak counter, 27k-141k-node batches);
  // widths: the input projection (hidden), hidden layers (heads * hidden /
  // heads), the last layer (heads * embedding_dim before the head mean). Plus
  // the MAE reconstruction [B, F] with its gradient and the retrieval workspace.
  const ModelConfig& m = cfg.model;
  double widths = static_cast<double>(m.hidden), widest = static_cast<double>(m.hidden);
  for (int64_t l = 0; l < m.layers; ++l) {
    const double w = l + 1 == m.layers ? static_cast<double>(m.heads * m.embedding_dim)
                                       : static_cast<double>(m.heads * (m.hidden / std::max<int64_t>(1, m.heads)));
    widths += w;
    widest = std::max(widest, w);
  }
  const double per_view = (8.0 * (nodes + 1) + 4.0 * (edges + nodes) + 8.0 * (nodes + 1) + 8.0 * (edges + nodes)) +
                          (8.0 * (nodes + 1) + 8.0 * nodes * nnz_row) * 2.0 + 5.0 * 4.0 * nodes * widths +
                          4.0 * static_cast<double>(m.heads) * (edges + nodes);
  const double step = views * per_view + (cfg.objectives.gamma > 0 ? 3.0 * 4.0 * B * F : 0.0) +
                      4.0 * std::min(67584.0 + B, 1056.0 * B) * static_cast<double>(m.embedding_dim) +
                      4.0 * B * C * 3.0;
  // Validation: embed_all over the whole training graph (no gradients: about
  // 2 tensors of the widest layer alive, the full message graph and input),
  // then exact top-K on the host (normalised copy + tiles).
  const double infer = 8.0 * (n + 1) + 4.0 * (2.0 * E_train + n) + 8.0 * (n + 1) + 8.0 * static_cast<double>(u(train.feature_nnz)) +
                       2.0 * 4.0 * n * widest;
  const double topk_host = 2.0 * 4.0 * n * static_cast<double>(m.embedding_dim) + 8.0 * 1024 * 1024;  // + score tiles, top-k lists
  // The process itself: code, libraries (the CUDA ones are large), thread stacks, allocator slack.
  e.add("runtime", uint64_t(96) << 20);
  const double device_phase = std::max(step, infer);
  if (gpu) {
    e.add("step / inference working set", bytes_of(topk_host), bytes_of(device_phase));
  } else {
    e.add("step / inference working set", bytes_of(device_phase + topk_host));
  }
  return e;
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
