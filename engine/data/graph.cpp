#include "engine/data/graph.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>

namespace ember {

// Below this many items a loop runs serially (thread start-up would dominate).
constexpr int64_t kParallelMin = 1 << 15;

// ---- SparseFeatures ----------------------------------------------------------------
void SparseFeatures::validate(const std::string& what) const {
  EMBER_CHECK(num_rows >= 0 && num_cols >= 0, what << ": negative shape " << num_rows << " x " << num_cols);
  EMBER_CHECK(row_ptr.size() == static_cast<size_t>(num_rows) + 1,
              what << ": row_ptr has " << row_ptr.size() << " entries, expected num_rows + 1 = " << num_rows + 1);
  EMBER_CHECK(row_ptr[0] == 0, what << ": row_ptr[0] = " << row_ptr[0] << ", expected 0");
  EMBER_CHECK(col.size() == val.size(), what << ": " << col.size() << " column ids but " << val.size() << " values");
  EMBER_CHECK(static_cast<size_t>(row_ptr.back()) == col.size(),
              what << ": row_ptr ends at " << row_ptr.back() << " but there are " << col.size() << " entries");
  // Monotone first: a decreasing row_ptr would let a later row's range reach past col.
  for (int64_t r = 0; r < num_rows; ++r)
    EMBER_CHECK(row_ptr[r] <= row_ptr[r + 1], what << ": row_ptr decreases at row " << r);
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
      EMBER_CHECK(col[k] >= 0 && col[k] < num_cols,
                  what << ": row " << r << " has column " << col[k] << ", expected 0.." << num_cols - 1);
      EMBER_CHECK(k == row_ptr[r] || col[k - 1] < col[k],
                  what << ": row " << r << " columns not sorted and unique at entry " << k);
    }
  }
}

SparseFeatures slice_rows(const SparseFeatures& f, const int64_t* rows, size_t n) {
  SparseFeatures out;
  out.num_rows = static_cast<int64_t>(n);
  out.num_cols = f.num_cols;
  out.row_ptr.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    int64_t r = rows[i];
    EMBER_CHECK(r >= 0 && r < f.num_rows, "slice_rows: row " << r << " out of range 0.." << f.num_rows - 1);
    out.row_ptr[i + 1] = out.row_ptr[i] + f.row_nnz(r);
  }
  out.col.resize(static_cast<size_t>(out.row_ptr[n]));
  out.val.resize(out.col.size());
  for (size_t i = 0; i < n; ++i) {
    int64_t r = rows[i];
    std::copy(f.col.begin() + f.row_ptr[r], f.col.begin() + f.row_ptr[r + 1], out.col.begin() + out.row_ptr[i]);
    std::copy(f.val.begin() + f.row_ptr[r], f.val.begin() + f.row_ptr[r + 1], out.val.begin() + out.row_ptr[i]);
  }
  return out;
}

// ---- IdMap ------------------------------------------------------------------------------
IdMap IdMap::identity(int64_t n) {
  EMBER_CHECK(n >= 0 && n <= std::numeric_limits<int32_t>::max(),
              "IdMap: " << n << " nodes, at most 2^31 - 1 supported (dense ids are int32)");
  IdMap m;
  m.n_ = n;
  m.identity_ = true;
  return m;
}

IdMap IdMap::from_originals(std::vector<int64_t> originals) {
  int64_t n = static_cast<int64_t>(originals.size());
  EMBER_CHECK(n <= std::numeric_limits<int32_t>::max(),
              "IdMap: " << n << " nodes, at most 2^31 - 1 supported (dense ids are int32)");
  bool ident = true;
  for (int64_t i = 0; i < n && ident; ++i) ident = originals[static_cast<size_t>(i)] == i;
  if (ident) return identity(n);
  IdMap m;
  m.n_ = n;
  m.identity_ = false;
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return originals[a] < originals[b]; });
  m.sorted_orig_.resize(order.size());
  m.sorted_dense_ = order;
  for (size_t i = 0; i < order.size(); ++i) {
    m.sorted_orig_[i] = originals[order[i]];
    EMBER_CHECK(i == 0 || m.sorted_orig_[i - 1] != m.sorted_orig_[i],
                "IdMap: original id " << m.sorted_orig_[i] << " appears twice");
  }
  m.orig_ = std::move(originals);
  return m;
}

int64_t IdMap::dense(int64_t original) const {
  if (identity_) return (original >= 0 && original < n_) ? original : -1;
  auto it = std::lower_bound(sorted_orig_.begin(), sorted_orig_.end(), original);
  if (it == sorted_orig_.end() || *it != original) return -1;
  return sorted_dense_[static_cast<size_t>(it - sorted_orig_.begin())];
}

std::vector<int64_t> IdMap::originals() const {
  if (!identity_) return orig_;
  std::vector<int64_t> v(static_cast<size_t>(n_));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

// ---- Graph ----------------------------------------------------------------------------------
bool Graph::has_edge(int64_t u, int64_t v) const {
  if (u < 0 || u >= num_nodes()) return false;
  auto nb = neighbors_of(u);
  return std::binary_search(nb.begin(), nb.end(), static_cast<int32_t>(v));
}

void Graph::validate() const {
  int64_t n = num_nodes();
  EMBER_CHECK(n >= 0 && offsets.size() >= 1 && offsets[0] == 0, "graph: offsets must start with 0");
  EMBER_CHECK(static_cast<size_t>(offsets.back()) == neighbors.size(),
              "graph: offsets end at " << offsets.back() << " but there are " << neighbors.size() << " neighbour entries");
  EMBER_CHECK(ids.size() == n, "graph: id map has " << ids.size() << " ids for " << n << " nodes");
  for (int64_t u = 0; u < n; ++u)
    EMBER_CHECK(offsets[u] <= offsets[u + 1], "graph: offsets decrease at node " << u);
  int64_t bad_node = -1;
  int bad_kind = 0;
#pragma omp parallel for schedule(dynamic, 1024) if (n > kParallelMin)
  for (int64_t u = 0; u < n; ++u) {
    int kind = 0;
    for (int64_t k = offsets[u]; k < offsets[u + 1] && !kind; ++k) {
      int32_t v = neighbors[k];
      if (v < 0 || v >= n) kind = 1;
      else if (v == u) kind = 2;
      else if (k > offsets[u] && neighbors[k - 1] >= v) kind = 3;
      else if (!has_edge(v, u)) kind = 4;
    }
    if (kind) {
#pragma omp critical
      if (bad_node < 0 || u < bad_node) { bad_node = u; bad_kind = kind; }
    }
  }
  static const char* what[] = {"", "a neighbour id out of range", "a self-loop", "an unsorted or duplicated neighbour list",
                               "an edge without its reverse (not symmetric)"};
  EMBER_CHECK(bad_node < 0, "graph: node " << bad_node << " has " << what[bad_kind]);
  if (features.num_rows > 0) {
    EMBER_CHECK(features.num_rows == n, "graph: features have " << features.num_rows << " rows for " << n << " nodes");
    features.validate("graph features");
  }
  EMBER_CHECK(labels.empty() || static_cast<int64_t>(labels.size()) == n,
              "graph: " << labels.size() << " labels for " << n << " nodes");
}

std::string Graph::summary() const {
  std::ostringstream os;
  os << num_nodes() << " nodes, " << num_edges() << " edges";
  if (has_features()) os << ", " << features.num_cols << " feature columns (" << features.nnz() << " nonzeros)";
  if (!labels.empty()) os << ", labels";
  return os.str();
}

std::string GraphBuildStats::summary() const {
  std::ostringstream os;
  os << "graph: " << num_nodes << " nodes, " << num_edges << " edges (" << self_loops << " self-loops, "
     << duplicates << " duplicates removed)";
  return os.str();
}

void check_csr_arrays(const Array<int64_t>& offsets, const Array<int32_t>& indices, int64_t rows, int64_t limit,
                      const std::string& source, const char* offsets_what, const char* entries_what) {
  // Offsets first: only then are they used as indices (a row [0, 1000) of a
  // 4-entry array was once read past its end).
  EMBER_CHECK(rows >= 0 && offsets.size() == static_cast<size_t>(rows) + 1 && offsets[0] == 0 &&
                  static_cast<size_t>(offsets.back()) == indices.size() &&
                  std::is_sorted(offsets.begin(), offsets.end()),
              source << ": inconsistent " << offsets_what);
  int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) if (rows > (1 << 15))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k)
      if (indices[k] < 0 || indices[k] >= limit) ++bad;
  EMBER_CHECK(bad == 0, source << ": " << bad << " " << entries_what << " out of range");
}

// ---- builders --------------------------------------------------------------------------------
namespace {

template <typename V>
void exclusive_scan_inplace(V& v) {  // v[i] <- sum v[0..i)
  int64_t run = 0;
  for (auto& x : v) { int64_t t = x; x = run; run += t; }
}

Graph build_csr(int64_t n, const int32_t* src, const int32_t* dst, size_t m, GraphBuildStats* stats) {
  EMBER_CHECK(n >= 0 && n <= std::numeric_limits<int32_t>::max(),
              "graph: " << n << " nodes, at most 2^31 - 1 supported (dense ids are int32)");
  const int64_t mm = static_cast<int64_t>(m);
  int64_t bad = -1;
#pragma omp parallel for reduction(max : bad) if (mm > kParallelMin)
  for (int64_t i = 0; i < mm; ++i)
    if (src[i] < 0 || src[i] >= n || dst[i] < 0 || dst[i] >= n) bad = std::max(bad, i);
  EMBER_CHECK(bad < 0, "graph: edge " << bad << " (" << src[bad] << ", " << dst[bad] << ") has a node id outside 0.."
                                      << n - 1);

  std::vector<int64_t> pos(static_cast<size_t>(n) + 1, 0);
  int64_t loops = 0;
#pragma omp parallel for reduction(+ : loops) if (mm > kParallelMin)
  for (int64_t i = 0; i < mm; ++i) {
    int32_t u = src[i], v = dst[i];
    if (u == v) { ++loops; continue; }
#pragma omp atomic
    pos[u]++;
#pragma omp atomic
    pos[v]++;
  }
  exclusive_scan_inplace(pos);  // pos[u] = first slot of u; pos[n] = total
  std::vector<int64_t> raw_off = pos;
  std::vector<int32_t> adj(static_cast<size_t>(pos[n]));
#pragma omp parallel for if (mm > kParallelMin)
  for (int64_t i = 0; i < mm; ++i) {
    int32_t u = src[i], v = dst[i];
    if (u == v) continue;
    int64_t p, q;
#pragma omp atomic capture
    p = pos[u]++;
#pragma omp atomic capture
    q = pos[v]++;
    adj[p] = v;
    adj[q] = u;
  }
  // Sort + unique each list; the result is independent of the fill order.
  std::vector<int64_t> uniq(static_cast<size_t>(n) + 1, 0);
#pragma omp parallel for schedule(dynamic, 512) if (n > kParallelMin)
  for (int64_t u = 0; u < n; ++u) {
    auto b = adj.begin() + raw_off[u], e = adj.begin() + raw_off[u + 1];
    std::sort(b, e);
    uniq[u] = std::unique(b, e) - b;
  }
  Graph g;
  std::vector<int64_t> offsets = uniq;  // uniq (list lengths) is still needed below
  exclusive_scan_inplace(offsets);
  g.offsets = std::move(offsets);
  g.neighbors.resize(static_cast<size_t>(g.offsets[n]));
#pragma omp parallel for schedule(dynamic, 512) if (n > kParallelMin)
  for (int64_t u = 0; u < n; ++u)
    std::copy(adj.begin() + raw_off[u], adj.begin() + raw_off[u] + uniq[u], g.neighbors.begin() + g.offsets[u]);
  g.ids = IdMap::identity(n);
  if (stats) {
    stats->input_rows = mm;
    stats->self_loops = loops;
    stats->num_nodes = n;
    stats->num_edges = g.num_edges();
    stats->duplicates = (mm - loops) - g.num_edges();
  }
  return g;
}

void report(const GraphBuildStats& s, const GraphBuildOptions& opts) {
  if (!opts.print_summary) return;
  if (opts.name.empty()) std::printf("%s\n", s.summary().c_str());
  else std::printf("%s: %s\n", opts.name.c_str(), s.summary().c_str());
  std::fflush(stdout);
}

}  // namespace

Graph build_graph_dense(int64_t num_nodes, const std::vector<int32_t>& src, const std::vector<int32_t>& dst,
                        const GraphBuildOptions& opts, GraphBuildStats* stats) {
  EMBER_CHECK(src.size() == dst.size(), "build_graph_dense: " << src.size() << " sources but " << dst.size() << " targets");
  GraphBuildStats s;
  Graph g = build_csr(num_nodes, src.data(), dst.data(), src.size(), &s);
  report(s, opts);
  if (stats) *stats = s;
  return g;
}

Graph build_graph(const EdgeList& edges, const std::vector<int64_t>& extra_nodes, const GraphBuildOptions& opts,
                  GraphBuildStats* stats) {
  EMBER_CHECK(edges.src.size() == edges.dst.size(),
              "build_graph: " << edges.src.size() << " sources but " << edges.dst.size() << " targets");
  const size_t m = edges.src.size();
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  auto see = [&](int64_t x) { lo = std::min(lo, x); hi = std::max(hi, x); };
  for (size_t i = 0; i < m; ++i) { see(edges.src[i]); see(edges.dst[i]); }
  for (int64_t x : extra_nodes) see(x);
  const size_t total = 2 * m + extra_nodes.size();

  std::vector<int32_t> s32(m), d32(m);
  std::vector<int64_t> originals;
  if (total == 0) {
    // empty graph
  } else if (lo >= 0 && hi < static_cast<int64_t>(4 * total + 1024)) {
    // Small non-negative ids: a direct table, dense ids in increasing original order.
    std::vector<int32_t> table(static_cast<size_t>(hi) + 1, 0);
    for (size_t i = 0; i < m; ++i) { table[edges.src[i]] = 1; table[edges.dst[i]] = 1; }
    for (int64_t x : extra_nodes) table[x] = 1;
    int64_t next = 0;
    for (size_t x = 0; x < table.size(); ++x) {
      if (table[x]) {
        EMBER_CHECK(next < std::numeric_limits<int32_t>::max(), "graph: more than 2^31 - 1 distinct node ids");
        originals.push_back(static_cast<int64_t>(x));
        table[x] = static_cast<int32_t>(next++);
      } else {
        table[x] = -1;
      }
    }
    for (size_t i = 0; i < m; ++i) { s32[i] = table[edges.src[i]]; d32[i] = table[edges.dst[i]]; }
  } else {
    originals.reserve(total);
    originals.insert(originals.end(), edges.src.begin(), edges.src.end());
    originals.insert(originals.end(), edges.dst.begin(), edges.dst.end());
    originals.insert(originals.end(), extra_nodes.begin(), extra_nodes.end());
    std::sort(originals.begin(), originals.end());
    originals.erase(std::unique(originals.begin(), originals.end()), originals.end());
    EMBER_CHECK(originals.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                "graph: " << originals.size() << " distinct node ids, at most 2^31 - 1 supported");
    const int64_t mm = static_cast<int64_t>(m);
#pragma omp parallel for if (mm > kParallelMin)
    for (int64_t i = 0; i < mm; ++i) {
      s32[i] = static_cast<int32_t>(std::lower_bound(originals.begin(), originals.end(), edges.src[i]) - originals.begin());
      d32[i] = static_cast<int32_t>(std::lower_bound(originals.begin(), originals.end(), edges.dst[i]) - originals.begin());
    }
  }
  const int64_t n = static_cast<int64_t>(originals.size());
  GraphBuildStats s;
  Graph g = build_csr(n, s32.data(), d32.data(), m, &s);
  g.ids = IdMap::from_originals(std::move(originals));
  report(s, opts);
  if (stats) *stats = s;
  return g;
}

Graph graph_with_edges(const Graph& like, const std::vector<int32_t>& src, const std::vector<int32_t>& dst) {
  EMBER_CHECK(src.size() == dst.size(), "graph_with_edges: " << src.size() << " sources but " << dst.size() << " targets");
  Graph g = build_csr(like.num_nodes(), src.data(), dst.data(), src.size(), nullptr);
  g.ids = like.ids;
  g.features = like.features;
  g.labels = like.labels;
  return g;
}

}  // namespace ember
