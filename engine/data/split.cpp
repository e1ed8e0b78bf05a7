#include "engine/data/split.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/philox.h"
#include "engine/io/binary_io.h"
#include "engine/data/loaders_text.h"

namespace ember {

namespace {
constexpr uint64_t kEdgeStream = 0x45444745;  // "EDGE"
constexpr uint64_t kColdStream = 0x434f4c44;  // "COLD"

inline double edge_uniform(uint64_t seed, int32_t u, int32_t v) {
  uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(u)) << 32) | static_cast<uint32_t>(v);
  return static_cast<double>(philox::bits64(seed, kEdgeStream, key) >> 11) * (1.0 / 9007199254740992.0);
}
}  // namespace

void SplitConfig::validate() const {
  EMBER_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
              "split: val_fraction " << val_fraction << " + test_fraction " << test_fraction << " must be in [0, 1)");
  EMBER_CHECK(cold_user_fraction >= 0 && cold_user_fraction < 1,
              "split: cold_user_fraction " << cold_user_fraction << ", expected 0 <= x < 1");
  EMBER_CHECK(cold_max_train_edges >= 0, "split: cold_max_train_edges must be >= 0");
  EMBER_CHECK(cold_min_degree >= 1, "split: cold_min_degree must be >= 1");
}

Split make_split(const Graph& full, const SplitConfig& cfg) {
  cfg.validate();
  const int64_t n = full.num_nodes();
  Split s;
  // Cold users and, for each, the neighbours it keeps for training.
  std::vector<uint8_t> is_cold(static_cast<size_t>(n), 0);
  if (cfg.cold_user_fraction > 0) {
    for (int64_t u = 0; u < n; ++u) {
      if (full.degree(u) < cfg.cold_min_degree) continue;
      if (philox::uniform(cfg.seed, kColdStream, static_cast<uint64_t>(u)) < cfg.cold_user_fraction) {
        is_cold[u] = 1;
        s.cold_users.push_back(static_cast<int32_t>(u));
      }
    }
  }
  // keep[u] = sorted neighbours a cold user keeps.
  std::vector<std::vector<int32_t>> keep(s.cold_users.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < static_cast<int64_t>(s.cold_users.size()); ++i) {
    int32_t u = s.cold_users[i];
    Rng r(cfg.seed, (kColdStream << 32) | static_cast<uint32_t>(u));
    auto nb = full.neighbors_of(u);
    std::vector<int32_t> v(nb.begin(), nb.end());
    int64_t k = std::min<int64_t>(static_cast<int64_t>(r.below(static_cast<uint64_t>(cfg.cold_max_train_edges) + 1)),
                                  static_cast<int64_t>(v.size()));
    for (int64_t j = 0; j < k; ++j) std::swap(v[j], v[j + static_cast<int64_t>(r.below(v.size() - j))]);
    v.resize(static_cast<size_t>(k));
    std::sort(v.begin(), v.end());
    keep[i] = std::move(v);
  }
  auto cold_keeps = [&](int32_t u, int32_t v) {
    auto it = std::lower_bound(s.cold_users.begin(), s.cold_users.end(), u);
    const auto& k = keep[static_cast<size_t>(it - s.cold_users.begin())];
    return std::binary_search(k.begin(), k.end(), v);
  };
  std::vector<int32_t> ts, td;
  ts.reserve(static_cast<size_t>(full.num_edges()));
  td.reserve(static_cast<size_t>(full.num_edges()));
  for (int64_t u = 0; u < n; ++u) {
    for (int32_t v : full.neighbors_of(u)) {
      if (v <= u) continue;
      Edge e{static_cast<int32_t>(u), v};
      if (is_cold[u] || is_cold[v]) {  // a cold user's kept edges always train, the others test
        bool kept = (!is_cold[u] || cold_keeps(e.u, v)) && (!is_cold[v] || cold_keeps(v, e.u));
        if (kept) { ts.push_back(e.u); td.push_back(e.v); }
        else s.test.push_back(e);
        continue;
      }
      double x = edge_uniform(cfg.seed, e.u, e.v);
      if (x < cfg.test_fraction) s.test.push_back(e);
      else if (x < cfg.test_fraction + cfg.val_fraction) s.val.push_back(e);
      else { ts.push_back(e.u); td.push_back(e.v); }
    }
  }
  s.train = graph_with_edges(full, ts, td);
  return s;
}

// ---- files ------------------------------------------------------------------------------------
namespace {
void write_edges(const std::string& path, const Graph& g, const std::vector<Edge>& edges, const char* what) {
  std::ostringstream os;
  os << "# " << what << " edges, original ids: u<TAB>v\n";
  for (const Edge& e : edges) os << g.ids.original(e.u) << '\t' << g.ids.original(e.v) << '\n';
  std::string s = os.str();
  write_file_atomic(path, s.data(), s.size());
}

int32_t to_dense(const Graph& g, int64_t orig, const text::LineReader& in) {
  int64_t d = g.ids.dense(orig);
  if (d < 0) in.fail("node id " + std::to_string(orig) + " is not a node of the graph");
  return static_cast<int32_t>(d);
}

std::vector<Edge> read_edges(const std::string& path, const Graph& g) {
  text::LineReader in(path);
  std::vector<Edge> out;
  std::string_view line;
  std::vector<std::string_view> f;
  while (in.next(line)) {
    if (text::is_blank_or_comment(line, '#')) continue;
    text::split_ws(line, f);
    if (f.size() != 2) in.fail("truncated line " + text::quote(line) + ": expected 'u<TAB>v'");
    int32_t u = to_dense(g, text::parse_id(f[0], in, "node id"), in);
    int32_t v = to_dense(g, text::parse_id(f[1], in, "node id"), in);
    if (u == v) in.fail("self-loop " + std::to_string(g.ids.original(u)) + ", expected two different users");
    out.push_back(u < v ? Edge{u, v} : Edge{v, u});
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

Graph known_at_test(const Split& split) {
  const Graph& t = split.train;
  std::vector<int32_t> src, dst;
  src.reserve(t.neighbors.size() / 2 + split.val.size());
  dst.reserve(src.capacity());
  for (int64_t u = 0; u < t.num_nodes(); ++u)
    for (int32_t v : t.neighbors_of(u))
      if (u < v) {
        src.push_back(static_cast<int32_t>(u));
        dst.push_back(v);
      }
  for (const Edge& e : split.val) {
    src.push_back(e.u);
    dst.push_back(e.v);
  }
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  return build_graph_dense(t.num_nodes(), src, dst, quiet);
}

void write_split(const std::string& dir, const Graph& full, const Split& split) {
  std::filesystem::create_directories(dir);
  std::vector<Edge> train;
  train.reserve(static_cast<size_t>(split.train.num_edges()));
  for (int64_t u = 0; u < split.train.num_nodes(); ++u)
    for (int32_t v : split.train.neighbors_of(u))
      if (v > u) train.push_back(Edge{static_cast<int32_t>(u), v});
  write_edges(dir + "/train.tsv", full, train, "training");
  write_edges(dir + "/val.tsv", full, split.val, "validation");
  write_edges(dir + "/test.tsv", full, split.test, "test");
  std::ostringstream os;
  os << "# cold-start users, original ids\n";
  for (int32_t u : split.cold_users) os << full.ids.original(u) << '\n';
  std::string s = os.str();
  write_file_atomic(dir + "/cold_users.tsv", s.data(), s.size());
}

Split read_split(const std::string& dir, const Graph& full) {
  Split s;
  std::vector<Edge> train = read_edges(dir + "/train.tsv", full);
  s.val = read_edges(dir + "/val.tsv", full);
  s.test = read_edges(dir + "/test.tsv", full);
  std::vector<int32_t> a, b;
  for (const Edge& e : train) { a.push_back(e.u); b.push_back(e.v); }
  s.train = graph_with_edges(full, a, b);
  std::string cold = dir + "/cold_users.tsv";
  if (file_exists(cold) && file_size(cold) > 0) {
    text::LineReader in(cold);
    std::string_view line;
    while (in.next(line)) {
      if (text::is_blank_or_comment(line, '#')) continue;
      s.cold_users.push_back(to_dense(full, text::parse_id(text::trim(line), in, "node id"), in));
    }
    std::sort(s.cold_users.begin(), s.cold_users.end());
  }
  return s;
}

// ---- held-out CSR -------------------------------------------------------------------------------
HeldOut make_heldout(int64_t num_nodes, const std::vector<Edge>& edges) {
  HeldOut h;
  h.offsets.assign(static_cast<size_t>(num_nodes) + 1, 0);
  for (const Edge& e : edges) {
    EMBER_CHECK(e.u >= 0 && e.u < num_nodes && e.v >= 0 && e.v < num_nodes && e.u != e.v,
                "make_heldout: bad edge (" << e.u << ", " << e.v << ") for " << num_nodes << " nodes");
    h.offsets[e.u + 1]++;
    h.offsets[e.v + 1]++;
  }
  for (int64_t u = 0; u < num_nodes; ++u) h.offsets[u + 1] += h.offsets[u];
  h.items.resize(static_cast<size_t>(h.offsets[num_nodes]));
  std::vector<int64_t> pos(h.offsets.begin(), h.offsets.end() - 1);
  for (const Edge& e : edges) {
    h.items[pos[e.u]++] = e.v;
    h.items[pos[e.v]++] = e.u;
  }
  for (int64_t u = 0; u < num_nodes; ++u) {
    auto b = h.items.begin() + h.offsets[u], e = h.items.begin() + h.offsets[u + 1];
    std::sort(b, e);
  }
  return h;
}

std::vector<int32_t> HeldOut::users() const {
  std::vector<int32_t> out;
  for (int64_t u = 0; u < num_nodes(); ++u)
    if (count(u) > 0) out.push_back(static_cast<int32_t>(u));
  return out;
}

}  // namespace ember
