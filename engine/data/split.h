// Train / validation / test splits for link prediction and cold start.
//
// Edge split: every undirected edge {u, v} draws one Philox number keyed by
// (seed, min(u,v), max(u,v)) - so the split does not depend on edge order or
// thread count - and goes to test (< test_fraction), validation (<
// test_fraction + val_fraction) or training.
// Cold-start split: a seeded `cold_user_fraction` of users (with at least
// cold_min_degree edges) keep only 0..cold_max_train_edges of their edges
// (uniform count, random edges) for training; their other edges go to test.
// Held-out edges are removed from the training graph, which keeps all nodes,
// ids, features and labels of the full graph.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/graph.h"

namespace ember {

struct Edge {
  int32_t u, v;  // dense ids, u < v
  bool operator==(const Edge& o) const { return u == o.u && v == o.v; }
  bool operator<(const Edge& o) const { return u < o.u || (u == o.u && v < o.v); }
};

struct SplitConfig {
  double val_fraction = 0.05;
  double test_fraction = 0.10;
  double cold_user_fraction = 0.0;  // 0: no cold-start users
  int32_t cold_max_train_edges = 2;
  int32_t cold_min_degree = 3;      // only users with at least this many edges become cold
  uint64_t seed = 1;
  void validate() const;
};

struct Split {
  Graph train;                       // all nodes, training edges only
  std::vector<Edge> val, test;       // sorted, u < v
  std::vector<int32_t> cold_users;   // sorted dense ids (cold-start split only)
};

Split make_split(const Graph& full, const SplitConfig& cfg);

// Training + validation friendships (structure only, identity ids): the
// friends that are never candidates when the test split is scored.
Graph known_at_test(const Split& split);

// Files (original ids, tab separated "u\tv", one edge per line, a '#' header
// comment): <dir>/train.tsv, val.tsv, test.tsv, and cold_users.tsv (one id
// per line). Written atomically; the directory is created.
void write_split(const std::string& dir, const Graph& full, const Split& split);
// Reads the files back against the full graph (for its nodes, ids, features).
// Every id must be a node of `full` (errors name file and line).
Split read_split(const std::string& dir, const Graph& full);

// Held-out edges in both directions as CSR over query users (for evaluation):
// positives of user u are items [offsets[u], offsets[u+1]).
struct HeldOut {
  std::vector<int64_t> offsets;  // num_nodes + 1
  std::vector<int32_t> items;    // sorted within each user
  int64_t num_nodes() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t count(int64_t u) const { return offsets[u + 1] - offsets[u]; }
  // Users with at least one held-out edge, increasing.
  std::vector<int32_t> users() const;
};
HeldOut make_heldout(int64_t num_nodes, const std::vector<Edge>& edges);

}  // namespace ember
