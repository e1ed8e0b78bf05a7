// Data preparation of a run: the graph that `data` names (generated,
// loaded from a dataset folder, or read from an edge-list file plus an
// optional feature file), its seeded train / validation / test split, the
// held-out edges to score, and node features for every graph (structural
// ones when the graph has none).
#pragma once
#include <cstdint>
#include <string>

#include "engine/data/data_config.h"
#include "engine/data/graph.h"
#include "engine/data/split.h"

namespace ember {

// The graph of a run with its split and the held-out edges to score.
struct PreparedData {
  std::string name;
  Graph full;
  Split split;
  HeldOut val, test;
  // Training + validation friendships (structure only): the friends that are
  // never candidates when the test split is scored (the protocol of
  // docs/results.md); validation is scored excluding the training friends.
  Graph known_at_test;
  std::string features_note;  // how node features were obtained
  // The held-out friendships of "test" or "val", and the friends excluded when scoring them.
  const HeldOut& truth(const std::string& split_name) const;
  const Graph& excluded(const std::string& split_name) const;
};

// Loads or generates the graph named by `data` (synthetic graphs use `seed`),
// attaches data.features when given (MUSAE JSON, or a dense CSV "id, x_1, ...,
// x_d" with a header; rows aligned to the graph's original ids, ids only in the
// feature file become users without friends; a missing file, a file that shares
// no id with the graph, or a dataset folder that has features of its own is
// refused naming the file), maps it from data.cache_dir when that is set
// (building the cache on first use), splits it (seeded; with data.cache_dir
// the training graph is mapped from a split cache made on first use too), gives featureless graphs the
// structural fallback features (one-hot id + log2 training-degree bucket, said
// once on stdout when verbose), and writes the split files to out_dir/split
// when out_dir is not empty. The memory the load needs is checked first.
PreparedData prepare_data(const DataConfig& data, uint64_t seed, const std::string& out_dir, bool verbose = true);

// With data.cache_dir set: makes sure the caches of data.graph (with
// data.features) and of its split under `seed` exist and are current,
// building them when not. Run by one rank of each machine before the others
// call prepare_data, so that every rank maps the same files (ranks that each
// built them would each map their own copy) and none builds the training CSR.
// Does nothing without data.cache_dir or for the synthetic graph.
void prepare_graph_cache(const DataConfig& data, uint64_t seed, bool verbose);

// The structural fallback features of a training graph (see prepare_data):
// one column per user plus kStructuralDegreeBuckets, two entries per row.
constexpr int32_t kStructuralDegreeBuckets = 16;
SparseFeatures structural_features(const Graph& train);
inline int64_t structural_feature_columns(int64_t num_users) { return num_users + kStructuralDegreeBuckets; }
constexpr int64_t kStructuralFeaturesPerUser = 2;

}  // namespace ember
