#include "engine/data/split_cache.h"

#include <cstdio>
#include <cstring>

#include "engine/io/binary_io.h"
#include "engine/io/mapped_file.h"

namespace ember {

namespace {
constexpr const char* kMagic = "EMBSPLIT";

// The held-out edges as pairs of int32 (Edge is two int32, trivially copyable).
void put_edges(BinaryWriter& w, const std::vector<Edge>& e) { w.put_array(e.data(), e.size()); }

std::vector<Edge> get_edges(BinaryReader& r, const char* what, int64_t n, const std::string& path) {
  std::vector<Edge> e = r.get_vector<Edge>(what);
  for (const Edge& x : e)
    EMBER_CHECK(x.u >= 0 && x.u < x.v && x.v < n, path << ": " << what << " edge (" << x.u << ", " << x.v
                                                      << ") is not a pair u < v of the graph's " << n << " users");
  return e;
}
}  // namespace

uint64_t split_cache_key(uint64_t graph_key, const SplitConfig& cfg) {
  Checksum64 h(0x73706c6974ULL);  // "split"
  const char version[] = "make_split-1";  // change when make_split's output changes
  h.update(version, sizeof(version));
  h.update(&graph_key, sizeof(graph_key));
  const double f[3] = {cfg.val_fraction, cfg.test_fraction, cfg.cold_user_fraction};
  const int64_t i[3] = {cfg.cold_max_train_edges, cfg.cold_min_degree, static_cast<int64_t>(cfg.seed)};
  h.update(f, sizeof(f));
  h.update(i, sizeof(i));
  return h.digest();
}

void save_split_cache(const std::string& path, const Split& split, uint64_t key) {
  ContainerFileWriter w(path, kMagic, kSplitCacheVersion);
  w.put<uint64_t>(key);
  w.put<int64_t>(split.train.num_nodes());
  w.put_aligned_array(split.train.offsets);
  w.put_aligned_array(split.train.neighbors);
  put_edges(w, split.val);
  put_edges(w, split.test);
  w.put_vector(split.cold_users);
  w.commit();
}

Split load_split_cache(const std::string& path, uint64_t key, const Graph& full) {
  MappedContainerReader r(path, kMagic, kSplitCacheVersion, kSplitCacheVersion);  // checksum verified here
  const uint64_t stored = r.get<uint64_t>("split key");
  EMBER_CHECK(stored == key, path << ": a cache of another split (other graph, fractions or seed)");
  const int64_t n = r.get<int64_t>("node count");
  EMBER_CHECK(n == full.num_nodes(), path << ": split of a graph of " << n << " users, this one has " << full.num_nodes());
  Split s;
  s.train.offsets = r.get_array<int64_t>("training CSR offsets", static_cast<uint64_t>(n) + 1);
  s.train.neighbors = r.get_array<int32_t>("training CSR neighbours");
  // O(E) structure check (the checksum vouches for the bytes; this guards
  // against a writer bug or a hand-made file).
  check_csr_arrays(s.train.offsets, s.train.neighbors, n, n, path, "training CSR offsets", "training CSR entries");
  s.val = get_edges(r, "validation", n, path);
  s.test = get_edges(r, "test", n, path);
  s.cold_users = r.get_vector<int32_t>("cold users", static_cast<uint64_t>(n));
  r.finish();
  s.train.ids = full.ids;
  s.train.features = full.features;  // views of the graph cache: shared, not copied
  s.train.labels = full.labels;
  return s;
}

Split load_or_make_split(const std::string& path, uint64_t graph_key, const Graph& full, const SplitConfig& cfg,
                         bool verbose) {
  const uint64_t key = split_cache_key(graph_key, cfg);
  std::string why = "missing";
  if (file_exists(path)) {
    try {
      return load_split_cache(path, key, full);
    } catch (const std::exception& e) {
      why = std::string("rejected: ") + e.what();
    }
  }
  if (verbose) std::printf("split cache %s %s, making the split and writing it\n", path.c_str(), why.c_str());
  {
    const Split made = make_split(full, cfg);
    save_split_cache(path, made, key);
  }
  return load_split_cache(path, key, full);
}

}  // namespace ember
