#include "engine/data/load_estimate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/data/graph.h"
#include "engine/data/loaders.h"
#include "engine/io/binary_io.h"

namespace ember {

namespace fs = std::filesystem;

namespace {

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

// Dense feature CSV: the text, then the nonzeros as CSR twice (raw + aligned);
// about one nonzero per 4 bytes of text at most.
uint64_t dense_features_peak(const std::string& path) {
  const int64_t size = file_size(path);
  if (size <= 0) return 0;
  const double S = static_cast<double>(size);
  return bytes_of(S + 2.0 * 8.0 * (S / 4.0));
}

bool is_json(const std::string& path) { return has_suffix(path, ".json"); }

// The files of the graph `d` names: a dataset folder's layout (as the loader
// sees it) or a single edge-list file, plus data.features.
struct SourceFiles {
  std::string edges;
  bool csv = false;
  std::vector<std::string> json_features, dense_features, other;
};
SourceFiles source_files(const DataConfig& d) {
  SourceFiles f;
  std::error_code ec;
  if (fs::is_directory(d.graph, ec)) {
    const DatasetLayout L = detect_dataset(d.graph);
    if (L.kind == DatasetLayout::None) return f;  // the loader reports it
    f.edges = L.edges;
    f.csv = L.csv_edges();
    if (!L.features.empty()) f.json_features.push_back(L.features);
    for (const std::string& s : L.sources())
      if (s != L.edges && s != L.features) f.other.push_back(s);  // labels, ego features
  } else {
    f.edges = d.graph;
    f.csv = has_suffix(d.graph, ".csv");
  }
  if (!d.features.empty()) (is_json(d.features) ? f.json_features : f.dense_features).push_back(d.features);
  return f;
}

}  // namespace

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
    const SyntheticConfig& c = d.synthetic;
    s.nodes = c.num_users;
    s.edges = static_cast<int64_t>(std::min(9e18, static_cast<double>(u(c.num_users)) * c.avg_degree / 2.0));
    s.feature_cols = c.feature_dim;
    s.feature_nnz = static_cast<int64_t>(std::min(9e18, static_cast<double>(u(c.num_users)) * static_cast<double>(u(c.features_per_user))));
    s.labels = true;
    return s;
  }
  const SourceFiles f = source_files(d);
  if (!f.edges.empty()) {
    const EdgeFileModel m = edge_file_model(f.edges, f.csv);
    s.edges = static_cast<int64_t>(m.rows);
    s.nodes = static_cast<int64_t>(m.nodes);
  }
  for (const std::string& j : f.json_features) {
    s.feature_nnz += std::max<int64_t>(0, file_size(j)) / 5;
    s.feature_cols = std::max<int64_t>(s.feature_cols, 1);
  }
  for (const std::string& c : f.dense_features) {
    s.feature_nnz += std::max<int64_t>(0, file_size(c)) / 4;
    s.feature_cols = std::max<int64_t>(s.feature_cols, 1);
  }
  s.identity_ids = false;
  return s;
}

MemoryEstimate estimate_graph_load(const DataConfig& d) {
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
  const SourceFiles f = source_files(d);
  if (!f.edges.empty()) e.add("edge list and graph build", edge_file_model(f.edges, f.csv).peak);
  uint64_t features = 0, other = 0;
  for (const std::string& j : f.json_features) features = saturating_add(features, json_features_peak(j));
  for (const std::string& c : f.dense_features) features = saturating_add(features, dense_features_peak(c));
  for (const std::string& o : f.other) other = saturating_add(other, u(file_size(o)) * 2);  // text + parsed
  if (features) e.add("feature file", features);
  if (other) e.add("other dataset files", other);
  return e;
}

}  // namespace ember
