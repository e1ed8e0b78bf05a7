#include "engine/data/graph_cache.h"

#include <sys/stat.h>

#include <cstdio>
#include <limits>

#include "engine/io/binary_io.h"
#include "engine/io/mapped_file.h"

namespace ember {

namespace {
constexpr const char* kMagic = "EMBGRAPH";
constexpr uint64_t kMaxNodes = std::numeric_limits<int32_t>::max();

// O(E) structural check of a loaded graph (the checksum already vouches for
// the bytes; this guards against a writer bug or a hand-made file).
void check_structure(const Graph& g, const std::string& path) {
  const int64_t n = g.num_nodes();
  check_csr_arrays(g.offsets, g.neighbors, n, n, path, "CSR offsets", "CSR entries");
  EMBER_CHECK(g.ids.size() == n, path << ": id map size " << g.ids.size() << " for " << n << " nodes");
  if (g.features.num_rows > 0) {
    const SparseFeatures& f = g.features;
    EMBER_CHECK(f.num_rows == n && f.col.size() == f.val.size(), path << ": inconsistent feature CSR");
    check_csr_arrays(f.row_ptr, f.col, n, f.num_cols, path, "feature CSR", "feature entries");
  }
  EMBER_CHECK(g.labels.empty() || static_cast<int64_t>(g.labels.size()) == n, path << ": label count mismatch");
}
}  // namespace

void save_graph_cache(const std::string& path, const Graph& g, uint64_t source_key) {
  ContainerFileWriter w(path, kMagic, kGraphCacheVersion);
  w.put<uint64_t>(source_key);
  w.put<int64_t>(g.num_nodes());
  w.put_aligned_array(g.offsets);
  w.put_aligned_array(g.neighbors);
  w.put<uint8_t>(g.ids.is_identity() ? 1 : 0);
  if (!g.ids.is_identity()) w.put_vector(g.ids.originals());
  w.put<int64_t>(g.features.num_rows);
  w.put<int32_t>(g.features.num_cols);
  w.put_aligned_array(g.features.row_ptr);
  w.put_aligned_array(g.features.col);
  w.put_aligned_array(g.features.val);
  w.put_aligned_array(g.labels);
  w.commit();
}

Graph load_graph_cache(const std::string& path, uint64_t* source_key) {
  MappedContainerReader r(path, kMagic, kGraphCacheVersion, kGraphCacheVersion);  // checksum verified here
  Graph g;
  uint64_t key = r.get<uint64_t>("source key");
  int64_t n = r.get<int64_t>("node count");
  EMBER_CHECK(n >= 0 && static_cast<uint64_t>(n) <= kMaxNodes, path << ": corrupt node count " << n);
  g.offsets = r.get_array<int64_t>("CSR offsets", static_cast<uint64_t>(n) + 1);
  EMBER_CHECK(g.offsets.size() == static_cast<size_t>(n) + 1, path << ": " << g.offsets.size() << " offsets for " << n << " nodes");
  g.neighbors = r.get_array<int32_t>("CSR neighbours");
  uint8_t identity = r.get<uint8_t>("id map kind");
  EMBER_CHECK(identity <= 1, path << ": corrupt id map kind " << int(identity));
  if (identity) g.ids = IdMap::identity(n);
  else {
    auto orig = r.get_vector<int64_t>("original ids", static_cast<uint64_t>(n));
    EMBER_CHECK(orig.size() == static_cast<size_t>(n), path << ": " << orig.size() << " original ids for " << n << " nodes");
    g.ids = IdMap::from_originals(std::move(orig));
  }
  g.features.num_rows = r.get<int64_t>("feature rows");
  g.features.num_cols = r.get<int32_t>("feature columns");
  EMBER_CHECK(g.features.num_rows == 0 || g.features.num_rows == n, path << ": corrupt feature row count " << g.features.num_rows);
  EMBER_CHECK(g.features.num_cols >= 0, path << ": corrupt feature column count " << g.features.num_cols);
  g.features.row_ptr = r.get_array<int64_t>("feature row pointers", static_cast<uint64_t>(n) + 1);
  EMBER_CHECK(g.features.row_ptr.size() == static_cast<size_t>(g.features.num_rows) + 1,
              path << ": corrupt feature row pointers");
  g.features.col = r.get_array<int32_t>("feature columns");
  g.features.val = r.get_array<float>("feature values");
  g.labels = r.get_array<int64_t>("labels", static_cast<uint64_t>(n));
  r.finish();  // no trailing bytes
  check_structure(g, path);
  if (source_key) *source_key = key;
  return g;
}

uint64_t source_files_key(const std::vector<std::string>& files, const std::string& salt) {
  Checksum64 h(0x656d626572ULL);
  h.update(salt.data(), salt.size());
  for (const auto& f : files) {
    h.update(f.data(), f.size() + 1);  // includes the terminating NUL as a separator
    struct stat st;
    int64_t meta[3] = {-1, 0, 0};
    if (::stat(f.c_str(), &st) == 0) {
      meta[0] = static_cast<int64_t>(st.st_size);
      meta[1] = static_cast<int64_t>(st.st_mtim.tv_sec);
      meta[2] = static_cast<int64_t>(st.st_mtim.tv_nsec);
    }
    h.update(meta, sizeof(meta));
  }
  return h.digest();
}

Graph load_or_build_graph(const std::string& cache_path, uint64_t source_key, const std::function<Graph()>& build,
                          CacheStatus* status, bool verbose) {
  CacheStatus st;
  if (!file_exists(cache_path)) {
    st.message = "graph cache " + cache_path + " missing, building from source";
  } else {
    try {
      uint64_t key = 0;
      Graph g = load_graph_cache(cache_path, &key);
      if (key == source_key) {
        st.hit = true;
        st.message = "graph cache hit: " + cache_path;
        if (verbose) std::printf("%s\n", st.message.c_str());
        if (status) *status = st;
        return g;
      }
      st.message = "graph cache " + cache_path + " is stale (built from other source files), rebuilding";
    } catch (const std::exception& e) {
      st.message = std::string("graph cache rejected, rebuilding from source: ") + e.what();
    }
  }
  if (verbose) std::printf("%s\n", st.message.c_str());
  {
    Graph built = build();
    save_graph_cache(cache_path, built, source_key);
  }
  if (status) *status = st;
  // Mapped from the file just written, as on a hit: the same shared pages for
  // every process that loads this cache.
  return load_graph_cache(cache_path);
}

}  // namespace ember
