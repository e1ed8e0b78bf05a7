// Readers for the graph and feature files of the shared datasets (and
// anything in the same formats). Every reader throws ember::Error naming the
// file and line (JSON: node key and line) and what was expected, on: missing
// file, empty file, truncated line, non-numeric id, id beyond int64, negative
// id, bad JSON, feature id out of range. See docs/data.md.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/data/graph.h"

namespace ember {

// ---- edges ------------------------------------------------------------------------
// SNAP edge list: whitespace separated "u v" per line; '#' comment lines and
// blank lines skipped; extra columns (weights, timestamps) ignored.
EdgeList read_snap_edges(const std::string& path);

struct CsvEdgeOptions {
  char sep = ',';
  bool header = true;  // first non-blank line is a header (MUSAE: "node_1,node_2", "from,to")
  int src_col = 0, dst_col = 1;
};
// CSV edge list with a header line.
EdgeList read_csv_edges(const std::string& path, const CsvEdgeOptions& opts = {});

// ---- features -----------------------------------------------------------------------
// How a feature id repeated within one node's list is stored.
enum class RepeatedFeature {
  Binary,  // value 1 (multi-hot), repeats collapse
  Count,   // value = number of occurrences
};

struct FeatureReadOptions {
  RepeatedFeature repeated = RepeatedFeature::Binary;
  // Vocabulary size. -1: max feature id + 1. Otherwise ids >= num_cols are
  // "out of range" errors.
  int64_t num_cols = -1;
};

// Feature rows keyed by original node id (file order), before alignment to a graph.
struct RawFeatures {
  std::vector<int64_t> ids;  // original node id of each row (unique)
  SparseFeatures rows;       // rows.num_rows == ids.size()
};

// MUSAE JSON: {"<node id>": [feature id, ...], ...}. Duplicate node keys,
// non-integer feature ids, nested values are errors.
RawFeatures read_musae_features(const std::string& path, const FeatureReadOptions& opts = {});

struct DenseFeatureOptions {
  char sep = ',';      // 0: any whitespace
  bool header = true;  // skip the first non-blank line
};
// Numeric table "id, x_1, ..., x_d" (every row the same d); nonzeros kept as CSR.
RawFeatures read_dense_features(const std::string& path, const DenseFeatureOptions& opts = {});

// SNAP ego-Facebook: ego/<e>.feat, <e>.egofeat, <e>.featnames. Local feature
// indices are mapped to the global "anonymized feature K" ids and a node seen
// in several ego nets gets the union of its features (value 1).
RawFeatures read_ego_facebook_features(const std::string& ego_dir);

// Feature rows in the graph's dense order; nodes without a row get an empty
// row. Rows for ids that are not graph nodes throw (naming `source`) unless
// allow_unknown, in which case they are dropped.
SparseFeatures align_features(const RawFeatures& raw, const IdMap& ids, const std::string& source,
                              bool allow_unknown = false);

// ---- labels -------------------------------------------------------------------------
// (node id, label) pairs from a CSV with a header, columns chosen by name.
// Labels are integers or True/False (1/0). A repeated node id keeps its first
// row (Twitch FR has two such ids).
std::vector<std::pair<int64_t, int64_t>> read_csv_labels(const std::string& path, const std::string& id_column,
                                                         const std::string& label_column);
// Per dense node, -1 when unknown.
std::vector<int64_t> align_labels(const std::vector<std::pair<int64_t, int64_t>>& labels, const IdMap& ids);

// ---- whole dataset folders --------------------------------------------------------------
// Part of every graph cache key: change it when a loader's output changes.
constexpr const char* kLoaderVersion = "ember-loaders-1";

struct DatasetOptions {
  std::string cache_dir;  // "" = no cache; else <cache_dir>/<name>.egraph (see graph_cache.h)
  RepeatedFeature repeated = RepeatedFeature::Binary;
  bool verbose = true;    // print the build summary / cache status lines
};

struct Dataset {
  std::string name;  // "ego_facebook", "lastfm_asia", "deezer_europe", "DE", ...
  std::string dir;
  Graph graph;       // features / labels filled when the folder has them
  bool from_cache = false;
  std::vector<std::string> sources;  // files read (or whose cache was used)
};

// The files of a dataset folder, as the loader recognises them:
//   facebook_combined.txt (+ ego/)           -> SNAP edges + ego features
//   <P>_edges.csv (+ <P>.json | <P>_features.json, <P>_target.csv) -> MUSAE
//   exactly one *.txt / *.edges             -> SNAP edges
// Twitch node ids are the `new_id` column (the ids used in edges and JSON);
// the Twitch label is `mature`, FEATHER labels are `target`. The one place
// that knows the layouts: the loader and the memory estimate
// (engine/data/load_estimate.h) both ask it.
struct DatasetLayout {
  enum Kind { None, EgoFacebook, Musae, Snap } kind = None;
  std::string name;                   // "ego_facebook", "lastfm_asia", "DE", ...
  std::string edges;                  // edge file (SNAP text or MUSAE CSV)
  std::string features;               // MUSAE JSON features ("" when none)
  std::string ego_dir;                // ego-Facebook feature folder ("" when none)
  std::string target, id_col, label_col;  // labels CSV and its columns ("" when none)
  bool csv_edges() const { return kind == Musae; }
  // Every file the loader reads, in a fixed order (edges, features, target,
  // the ego folder's files sorted).
  std::vector<std::string> sources() const;
};
// kind == None when `dir` is not a directory or not a recognised layout.
DatasetLayout detect_dataset(const std::string& dir);

Dataset load_dataset(const std::string& dir, const DatasetOptions& opts = {});

// Dataset folders under root (e.g. shared/data): each directory that
// load_dataset recognises, sorted.
std::vector<std::string> find_dataset_dirs(const std::string& root);

}  // namespace ember
