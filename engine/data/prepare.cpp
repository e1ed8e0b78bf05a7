#include "engine/data/prepare.h"

#include <cstdio>
#include <filesystem>

#include "core/memory_budget.h"
#include "engine/data/graph_cache.h"
#include "engine/data/load_estimate.h"
#include "engine/data/loaders.h"
#include "engine/data/split_cache.h"

namespace ember {

namespace fs = std::filesystem;

// Structural fallback features for graphs without any: a one-hot id column
// (a learnable id embedding through the input projection) and a one-hot
// log2 bucket of the TRAINING degree (so held-out edges never leak in).
SparseFeatures structural_features(const Graph& train) {
  const int64_t n = train.num_nodes();
  const int32_t buckets = kStructuralDegreeBuckets;
  SparseFeatures f;
  f.num_rows = n;
  f.num_cols = static_cast<int32_t>(structural_feature_columns(n));
  f.row_ptr.assign(1, 0);
  for (int64_t u = 0; u < n; ++u) {
    const int64_t deg = train.degree(u);
    int32_t b = 0;
    while (b + 1 < buckets && (int64_t(1) << b) <= deg) ++b;
    f.col.push_back(static_cast<int32_t>(u));
    f.val.push_back(1.0f);
    f.col.push_back(static_cast<int32_t>(n) + b);
    f.val.push_back(1.0f);
    f.row_ptr.push_back(static_cast<int64_t>(f.col.size()));
  }
  return f;
}

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// data.features: MUSAE JSON ({"id": [feature ids]}) or a dense CSV with a header.
RawFeatures read_feature_file(const std::string& path) {
  EMBER_CHECK(fs::is_regular_file(path), "data.features: '" << path << "' does not exist or is not a file");
  if (ends_with(path, ".json")) return read_musae_features(path);
  return read_dense_features(path);
}

// The edge-list file (SNAP text, or CSV with a header when the name ends in
// .csv) with the optional feature file; ids only in the feature file become
// users without friends (as load_dataset does for a folder).
Graph load_edge_file(const DataConfig& d, const std::string& name, bool verbose) {
  const bool csv = fs::path(d.graph).extension() == ".csv";
  EdgeList edges = csv ? read_csv_edges(d.graph) : read_snap_edges(d.graph);
  RawFeatures raw;
  if (!d.features.empty()) raw = read_feature_file(d.features);
  GraphBuildOptions bo;
  bo.name = name;
  bo.print_summary = verbose;
  Graph g = build_graph(edges, raw.ids, bo);
  if (d.features.empty()) return g;
  // A feature file for another graph shares no id with the edge list.
  std::vector<uint8_t> in_edges(static_cast<size_t>(g.num_nodes()), 0);
  for (size_t i = 0; i < edges.size(); ++i) {
    in_edges[static_cast<size_t>(g.ids.dense(edges.src[i]))] = 1;
    in_edges[static_cast<size_t>(g.ids.dense(edges.dst[i]))] = 1;
  }
  int64_t covered = 0, edge_nodes = 0;
  for (int64_t u = 0; u < g.num_nodes(); ++u) edge_nodes += in_edges[static_cast<size_t>(u)];
  for (int64_t id : raw.ids) covered += in_edges[static_cast<size_t>(g.ids.dense(id))];
  EMBER_CHECK(covered > 0, "data.features: '" << d.features << "' has " << raw.ids.size()
                                              << " rows but none for a user of the edge list " << d.graph
                                              << " (ids must be the edge list's node ids)");
  g.features = align_features(raw, g.ids, d.features);
  if (verbose)
    std::printf("features: %s: %lld columns, rows for %lld of the %lld users with friends%s\n", d.features.c_str(),
                (long long)g.features.num_cols, (long long)covered, (long long)edge_nodes,
                raw.ids.size() > static_cast<size_t>(covered)
                    ? (", " + std::to_string(raw.ids.size() - static_cast<size_t>(covered)) + " more users only in the feature file").c_str()
                    : "");
  return g;
}

Graph read_graph_source(const DataConfig& d, std::string& name, bool verbose) {
  EMBER_CHECK(fs::exists(d.graph), "data.graph: '" << d.graph << "' does not exist (use \"synthetic\", a dataset folder"
                                                   << " or an edge-list file)");
  if (fs::is_directory(d.graph)) {
    DatasetOptions opt;
    opt.verbose = verbose;
    Dataset ds = load_dataset(d.graph, opt);
    name = ds.name;
    if (!d.features.empty()) {
      EMBER_CHECK(!ds.graph.has_features(), "data.features: the dataset folder " << d.graph << " has features of its own ("
                                               << ds.graph.features.num_cols << " columns); data.features is for a graph "
                                               << "without them (an edge-list file or a folder with only edges)");
      RawFeatures raw = read_feature_file(d.features);
      ds.graph.features = align_features(raw, ds.graph.ids, d.features);
    }
    return std::move(ds.graph);
  }
  name = fs::path(d.graph).stem().string();
  return load_edge_file(d, name, verbose);
}

// Where data.cache_dir keeps the graph of `d`, and the key of its source
// files (the graph, data.features, the loader version).
struct CacheSlot {
  std::string path;
  uint64_t key = 0;
};
CacheSlot cache_slot(const DataConfig& d) {
  std::vector<std::string> sources;
  std::string name = fs::path(d.graph).stem().string();
  if (fs::is_directory(d.graph)) {
    DatasetLayout L = detect_dataset(d.graph);
    if (L.kind != DatasetLayout::None) name = L.name, sources = L.sources();
  } else {
    sources.push_back(d.graph);
  }
  if (!d.features.empty()) sources.push_back(d.features);
  // The folder, not only its files: two folders with the same file names are different graphs.
  sources.push_back(fs::absolute(d.graph).lexically_normal().string());
  return CacheSlot{d.cache_dir + "/" + name + ".egraph", source_files_key(sources, std::string(kLoaderVersion) + ":prepare")};
}

// The graph that data.graph names: generated, read from its source files, or
// (data.cache_dir set) mapped from a cache of them, built on the first use.
// announce_hit: print the cache status line on a hit too (not only when it is
// built). *cache_key: the graph cache's key, 0 when the graph is not cached.
Graph load_graph(const DataConfig& d, uint64_t seed, std::string& name, bool verbose, bool announce_hit,
                 uint64_t* cache_key) {
  *cache_key = 0;
  if (d.graph == "synthetic") {
    SyntheticConfig sc = d.synthetic;
    sc.seed = seed;
    name = "synthetic";
    return generate_synthetic(sc, verbose).graph;
  }
  if (d.cache_dir.empty() || !fs::exists(d.graph)) return read_graph_source(d, name, verbose);
  const CacheSlot slot = cache_slot(d);
  std::error_code ec;
  fs::create_directories(d.cache_dir, ec);
  EMBER_CHECK(fs::is_directory(d.cache_dir), "data.cache_dir: cannot create the folder '" << d.cache_dir << "'"
                                                 << (ec ? ": " + ec.message() : std::string()));
  std::string read_name;
  auto build = [&] {
    if (verbose && !announce_hit) std::printf("graph cache %s: building it from the source files\n", slot.path.c_str());
    return read_graph_source(d, read_name, verbose);
  };
  Graph g = load_or_build_graph(slot.path, slot.key, build, nullptr, verbose && announce_hit);
  name = fs::path(slot.path).stem().string();
  *cache_key = slot.key;
  return g;
}

SplitConfig split_config(const DataConfig& data, uint64_t seed) {
  SplitConfig sc;
  sc.val_fraction = data.val_fraction;
  sc.test_fraction = data.test_fraction;
  sc.cold_user_fraction = data.cold_start_users;
  sc.seed = seed;
  return sc;
}

// The split of `full`; mapped from data.cache_dir (made and saved on first
// use) when the graph came from the cache (graph_key != 0).
Split split_graph(const DataConfig& data, const std::string& name, uint64_t graph_key, const Graph& full,
                  uint64_t seed, bool verbose) {
  const SplitConfig sc = split_config(data, seed);
  if (graph_key == 0) return make_split(full, sc);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)split_cache_key(graph_key, sc));
  return load_or_make_split(data.cache_dir + "/" + name + ".split-" + hex + ".esplit", graph_key, full, sc, verbose);
}

}  // namespace

void prepare_graph_cache(const DataConfig& data, uint64_t seed, bool verbose) {
  if (data.cache_dir.empty() || data.graph == "synthetic") return;
  std::string name;
  uint64_t key = 0;
  const Graph full = load_graph(data, seed, name, verbose, /*announce_hit=*/false, &key);  // prepare_data says it next
  split_graph(data, name, key, full, seed, verbose);
}

const HeldOut& PreparedData::truth(const std::string& s) const {
  EMBER_CHECK(s == "test" || s == "val", "split '" << s << "': expected test or val");
  return s == "test" ? test : val;
}

const Graph& PreparedData::excluded(const std::string& s) const {
  EMBER_CHECK(s == "test" || s == "val", "split '" << s << "': expected test or val");
  return s == "test" ? known_at_test : split.train;
}

PreparedData prepare_data(const DataConfig& data, uint64_t seed, const std::string& out_dir, bool verbose) {
  check_memory(estimate_graph_load(data), "loading the graph '" + data.graph + "'");
  PreparedData d;
  uint64_t graph_key = 0;
  d.full = load_graph(data, seed, d.name, verbose, true, &graph_key);
  d.split = split_graph(data, d.name, graph_key, d.full, seed, verbose);
  if (!d.full.has_features()) {
    d.split.train.features = structural_features(d.split.train);
    d.full.features = d.split.train.features;
    d.features_note = "structural fallback: one-hot id + log2 training-degree bucket";
    if (verbose)
      std::printf("note: %s has no node features: training on structural ones (one-hot id + training-degree bucket); "
                  "supply features with data.features = <file> (MUSAE JSON or a dense CSV \"id, x_1, ..., x_d\")\n",
                  d.name.c_str());
  } else {
    d.features_note = std::to_string(d.full.features.num_cols) + " sparse feature columns";
  }
  d.known_at_test = known_at_test(d.split);
  d.val = make_heldout(d.full.num_nodes(), d.split.val);
  d.test = make_heldout(d.full.num_nodes(), d.split.test);
  if (!out_dir.empty()) write_split(out_dir + "/split", d.full, d.split);
  if (verbose)
    std::printf("data: %s, %lld users, %lld training / %zu validation / %zu test edges, features: %s\n",
                d.name.c_str(), (long long)d.full.num_nodes(), (long long)d.split.train.num_edges(),
                d.split.val.size(), d.split.test.size(), d.features_note.c_str());
  return d;
}

}  // namespace ember
