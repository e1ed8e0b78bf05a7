// The undirected graph of the data path: CSR adjacency with sorted neighbour
// lists, a dense <-> original id map, optional sparse node features (CSR) and
// optional integer node labels.
//
// Invariants (checked by Graph::validate()): offsets has num_nodes + 1
// non-decreasing entries starting at 0; every neighbour list is sorted,
// duplicate-free, free of self-loops, and the adjacency is symmetric; every
// neighbour id is in [0, num_nodes). Dense ids are int32 (at most 2^31 - 1
// nodes); original ids are any int64.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/array.h"
#include "core/error.h"

namespace ember {

// Sparse node features, CSR: row r has entries [row_ptr[r], row_ptr[r+1]) of
// (col, val), columns sorted and unique within a row.
struct SparseFeatures {
  int64_t num_rows = 0;
  int32_t num_cols = 0;
  // Owned, or views of a memory-mapped graph cache (core/array.h).
  Array<int64_t> row_ptr{0};
  Array<int32_t> col;
  Array<float> val;

  int64_t nnz() const { return static_cast<int64_t>(col.size()); }
  int64_t row_nnz(int64_t r) const { return row_ptr[r + 1] - row_ptr[r]; }
  // Throws ember::Error (prefixed by `what`) on any broken invariant.
  void validate(const std::string& what = "features") const;
};

// Rows `rows[0..n)` of f, in that order (a row may repeat). Used to give a
// sampled subgraph its local feature matrix.
SparseFeatures slice_rows(const SparseFeatures& f, const int64_t* rows, size_t n);
inline SparseFeatures slice_rows(const SparseFeatures& f, const std::vector<int64_t>& rows) {
  return slice_rows(f, rows.data(), rows.size());
}

// Dense id (0..n-1, int32) <-> original id (int64).
class IdMap {
 public:
  IdMap() = default;
  // Dense id i <-> original id i.
  static IdMap identity(int64_t n);
  // Dense id i <-> originals[i]; the originals must be unique.
  static IdMap from_originals(std::vector<int64_t> originals);

  int64_t size() const { return n_; }
  bool is_identity() const { return identity_; }
  int64_t original(int64_t dense) const { return identity_ ? dense : orig_[static_cast<size_t>(dense)]; }
  // Dense id of an original id, or -1 when it is not in the map.
  int64_t dense(int64_t original) const;
  // All original ids in dense order (materialised for identity maps).
  std::vector<int64_t> originals() const;

 private:
  int64_t n_ = 0;
  bool identity_ = true;
  std::vector<int64_t> orig_;         // dense -> original (empty when identity)
  std::vector<int64_t> sorted_orig_;  // sorted originals
  std::vector<int32_t> sorted_dense_; // dense id of sorted_orig_[i]
};

struct NeighborSpan {
  const int32_t* ptr;
  int64_t n;
  const int32_t* begin() const { return ptr; }
  const int32_t* end() const { return ptr + n; }
  int64_t size() const { return n; }
  int32_t operator[](int64_t i) const { return ptr[i]; }
};

struct Graph {
  // Arrays are owned, or views of a memory-mapped graph cache (core/array.h).
  Array<int64_t> offsets{0};        // num_nodes + 1
  Array<int32_t> neighbors;         // both directions of every edge
  IdMap ids;
  SparseFeatures features;          // num_rows == num_nodes, or 0 rows when absent
  Array<int64_t> labels;            // per node (-1 = unknown), or empty

  int64_t num_nodes() const { return static_cast<int64_t>(offsets.size()) - 1; }
  // Undirected edge count (each edge is stored twice).
  int64_t num_edges() const { return static_cast<int64_t>(neighbors.size()) / 2; }
  int64_t degree(int64_t u) const { return offsets[u + 1] - offsets[u]; }
  NeighborSpan neighbors_of(int64_t u) const {
    return NeighborSpan{neighbors.data() + offsets[u], offsets[u + 1] - offsets[u]};
  }
  bool has_edge(int64_t u, int64_t v) const;  // binary search, O(log degree)
  bool has_features() const { return features.num_rows > 0; }
  // Full invariant check, O(E log d). Throws ember::Error naming the problem.
  void validate() const;
  // "4039 nodes, 88234 edges, 1283 feature columns (...nnz)"
  std::string summary() const;
};

// O(E) check of CSR arrays read from a file (the graph and split caches),
// before any offset is used as an index: `offsets` has rows + 1 entries,
// starts at 0, never decreases and ends at indices.size(); every index is in
// [0, limit). Throws "<source>: inconsistent <offsets_what>" or
// "<source>: <k> <entries_what> out of range".
void check_csr_arrays(const Array<int64_t>& offsets, const Array<int32_t>& indices, int64_t rows, int64_t limit,
                      const std::string& source, const char* offsets_what, const char* entries_what);

// What the builder removed. `duplicates` counts non-loop input rows that
// repeat an undirected edge already seen (u v twice, or u v and v u).
struct GraphBuildStats {
  int64_t input_rows = 0, self_loops = 0, duplicates = 0, num_nodes = 0, num_edges = 0;
  // "graph: 4039 nodes, 88234 edges (0 self-loops, 0 duplicates removed)"
  std::string summary() const;
};

struct GraphBuildOptions {
  bool print_summary = true;  // one line on stdout
  std::string name;           // prefixes the summary line when set
};

// Edge rows in original ids (any int64).
struct EdgeList {
  std::vector<int64_t> src, dst;
  size_t size() const { return src.size(); }
  void add(int64_t u, int64_t v) { src.push_back(u); dst.push_back(v); }
};

// Builds from original ids: ids are mapped to dense ids in increasing order of
// original id (so 0..n-1 inputs keep their ids and get an identity map).
// `extra_nodes` adds nodes that may have no edge (e.g. from a feature file).
// Symmetrises, removes self-loops and duplicates, counts them.
Graph build_graph(const EdgeList& edges, const std::vector<int64_t>& extra_nodes = {},
                  const GraphBuildOptions& opts = {}, GraphBuildStats* stats = nullptr);

// Builds from dense ids in [0, num_nodes) (identity id map). Multithreaded,
// output independent of the thread count.
Graph build_graph_dense(int64_t num_nodes, const std::vector<int32_t>& src, const std::vector<int32_t>& dst,
                        const GraphBuildOptions& opts = {}, GraphBuildStats* stats = nullptr);

// A graph on the same nodes (ids, features, labels copied) with only the
// given edges (dense ids, any order, both directions added).
Graph graph_with_edges(const Graph& like, const std::vector<int32_t>& src, const std::vector<int32_t>& dst);

}  // namespace ember
