// load_dataset: recognise a dataset folder, read it (or its cache).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "engine/io/binary_io.h"
#include "engine/data/graph_cache.h"
#include "engine/data/loaders.h"
#include "engine/data/loaders_text.h"

namespace ember {

namespace fs = std::filesystem;

namespace {

std::string header_of(const std::string& path) {
  text::LineReader in(path);
  std::string_view line;
  while (in.next(line))
    if (!text::is_blank_or_comment(line, 0)) return std::string(line);
  return "";
}

}  // namespace

DatasetLayout detect_dataset(const std::string& dir) {
  DatasetLayout L;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return L;
  std::vector<std::string> csv_edges, txt;
  fs::directory_iterator it(dir, ec);
  EMBER_CHECK(!ec, "cannot list " << dir << ": " << ec.message());
  for (const auto& ent : it) {
    if (!ent.is_regular_file()) continue;
    std::string f = ent.path().filename().string();
    auto ends = [&](const std::string& s) { return f.size() > s.size() && f.compare(f.size() - s.size(), s.size(), s) == 0; };
    if (ends("_edges.csv")) csv_edges.push_back(f);
    else if (ends(".edges") || (ends(".txt") && f != "README.txt")) txt.push_back(f);
  }
  std::sort(csv_edges.begin(), csv_edges.end());
  std::sort(txt.begin(), txt.end());
  if (fs::exists(dir + "/facebook_combined.txt")) {
    L.kind = DatasetLayout::EgoFacebook;
    L.name = "ego_facebook";
    L.edges = dir + "/facebook_combined.txt";
    if (fs::is_directory(dir + "/ego")) L.ego_dir = dir + "/ego";
    return L;
  }
  if (csv_edges.size() == 1) {
    L.kind = DatasetLayout::Musae;
    std::string prefix = csv_edges[0].substr(0, csv_edges[0].size() - std::string("_edges.csv").size());
    L.name = prefix;
    L.edges = dir + "/" + csv_edges[0];
    for (const std::string& cand : {prefix + ".json", prefix + "_features.json"})
      if (file_exists(dir + "/" + cand)) { L.features = dir + "/" + cand; break; }
    if (file_exists(dir + "/" + prefix + "_target.csv")) {
      L.target = dir + "/" + prefix + "_target.csv";
      std::string h = header_of(L.target);
      std::vector<std::string_view> cols;
      text::split_char(h, ',', cols);
      bool has_new_id = std::find(cols.begin(), cols.end(), "new_id") != cols.end();
      bool has_mature = std::find(cols.begin(), cols.end(), "mature") != cols.end();
      bool has_target = std::find(cols.begin(), cols.end(), "target") != cols.end();
      if (has_new_id && has_mature) { L.id_col = "new_id"; L.label_col = "mature"; }  // Twitch
      else if (has_target) { L.id_col = "id"; L.label_col = "target"; }              // FEATHER
      else L.target.clear();
    }
    return L;
  }
  if (csv_edges.empty() && txt.size() == 1) {
    L.kind = DatasetLayout::Snap;
    L.name = fs::path(txt[0]).stem().string();
    L.edges = dir + "/" + txt[0];
  }
  return L;
}

namespace {
Graph read_layout(const DatasetLayout& L, const DatasetOptions& opts) {
  GraphBuildOptions bopt;
  bopt.print_summary = opts.verbose;
  bopt.name = L.name;
  EdgeList edges = L.kind == DatasetLayout::Musae ? read_csv_edges(L.edges) : read_snap_edges(L.edges);
  RawFeatures raw;
  std::string feat_source;
  if (!L.features.empty()) {
    FeatureReadOptions fo;
    fo.repeated = opts.repeated;
    raw = read_musae_features(L.features, fo);
    feat_source = L.features;
  } else if (!L.ego_dir.empty()) {
    raw = read_ego_facebook_features(L.ego_dir);
    feat_source = L.ego_dir;
  }
  // Nodes that only have features still become (isolated) nodes.
  Graph g = build_graph(edges, raw.ids, bopt);
  if (!feat_source.empty()) g.features = align_features(raw, g.ids, feat_source);
  if (!L.target.empty()) g.labels = align_labels(read_csv_labels(L.target, L.id_col, L.label_col), g.ids);
  return g;
}

}  // namespace

std::vector<std::string> DatasetLayout::sources() const {
  const DatasetLayout& L = *this;
  std::vector<std::string> s{L.edges};
  if (!L.features.empty()) s.push_back(L.features);
  if (!L.target.empty()) s.push_back(L.target);
  if (!L.ego_dir.empty()) {
    std::vector<std::string> ego;
    for (const auto& ent : fs::directory_iterator(L.ego_dir)) ego.push_back(ent.path().string());
    std::sort(ego.begin(), ego.end());
    s.insert(s.end(), ego.begin(), ego.end());
  }
  return s;
}

Dataset load_dataset(const std::string& dir, const DatasetOptions& opts) {
  EMBER_CHECK(fs::is_directory(dir), "load_dataset: " << dir << " is not a directory");
  DatasetLayout L = detect_dataset(dir);
  EMBER_CHECK(L.kind != DatasetLayout::None,
              "load_dataset: " << dir << " is not a recognised dataset folder, expected facebook_combined.txt, "
                               << "exactly one <name>_edges.csv, or exactly one *.txt / *.edges edge list"
                               << (fs::is_directory(dir + "/DE") ? " (for Twitch pass a language folder such as twitch/DE)" : ""));
  Dataset ds;
  ds.name = L.name;
  ds.dir = dir;
  ds.sources = L.sources();
  if (opts.cache_dir.empty()) {
    ds.graph = read_layout(L, opts);
    return ds;
  }
  fs::create_directories(opts.cache_dir);
  std::string salt = std::string(kLoaderVersion) + (opts.repeated == RepeatedFeature::Count ? ":count" : ":binary");
  uint64_t key = source_files_key(ds.sources, salt);
  CacheStatus st;
  ds.graph = load_or_build_graph(opts.cache_dir + "/" + L.name + ".egraph", key, [&] { return read_layout(L, opts); }, &st,
                                 opts.verbose);
  ds.from_cache = st.hit;
  return ds;
}

std::vector<std::string> find_dataset_dirs(const std::string& root) {
  std::vector<std::string> out;
  if (!fs::is_directory(root)) return out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  EMBER_CHECK(!ec, "cannot list " << root << ": " << ec.message());
  for (const auto& ent : it) {
    if (!ent.is_directory(ec)) continue;
    if (detect_dataset(ent.path().string()).kind != DatasetLayout::None) out.push_back(ent.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ember
