// Memory-mapped graph caches: Array views (core/array.h), the mapped
// container reader, and prepare_data with data.cache_dir mapping the graph
// and its features instead of reading them (one page-cache copy per machine).
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/config/config.h"
#include "engine/data/graph_cache.h"
#include "engine/data/loaders.h"
#include "engine/data/prepare.h"
#include "engine/data/split_cache.h"
#include "engine/io/binary_io.h"
#include "engine/io/mapped_file.h"
#include "test_data_util.h"

using namespace ember;

namespace {

// The file that backs the mapping holding `p` in /proc/self/maps ("" when the
// address is in anonymous memory).
std::string mapping_file_of(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    const size_t dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= lo && addr < hi) return inode == "0" ? std::string() : path;
  }
  return "";
}

// 40 users on a ring with chords, 3 sparse features each, labels.
Graph featured_graph() {
  EdgeList e;
  for (int64_t i = 0; i < 40; ++i) {
    e.add(i, (i + 1) % 40);
    e.add(i, (i + 7) % 40);
  }
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  Graph g = build_graph(e, {}, quiet);
  std::vector<int64_t> row_ptr{0};
  std::vector<int32_t> col;
  std::vector<float> val;
  for (int64_t u = 0; u < g.num_nodes(); ++u) {
    for (int32_t k = 0; k < 3; ++k) {
      col.push_back(static_cast<int32_t>((u * 3 + k * 5) % 11 + k * 11));
      val.push_back(0.5f + static_cast<float>(k));
    }
    row_ptr.push_back(static_cast<int64_t>(col.size()));
  }
  g.features.num_rows = g.num_nodes();
  g.features.num_cols = 33;
  g.features.row_ptr = row_ptr;
  g.features.col = col;
  g.features.val = val;
  std::vector<int64_t> labels(static_cast<size_t>(g.num_nodes()));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 3);
  g.labels = labels;
  g.validate();
  return g;
}

}  // namespace

TEST_CASE("Array: owning arrays copy, views share, size changes copy a view first", "[data][mapped]") {
  Array<int32_t> a{1, 2, 3};
  REQUIRE_FALSE(a.is_view());
  Array<int32_t> b = a;
  b[0] = 9;
  REQUIRE(a[0] == 1);  // an owning copy is a copy

  auto keep = std::make_shared<std::vector<int32_t>>(std::vector<int32_t>{4, 5, 6, 7});
  Array<int32_t> v = Array<int32_t>::view(keep->data(), keep->size(), keep);
  REQUIRE(v.is_view());
  REQUIRE(keep.use_count() == 2);
  Array<int32_t> w = v;  // shares the elements and the keeper
  REQUIRE(w.is_view());
  REQUIRE(w.data() == v.data());
  REQUIRE(keep.use_count() == 3);
  w.push_back(8);  // a size change copies first: the viewed memory is untouched
  REQUIRE_FALSE(w.is_view());
  REQUIRE(w == std::vector<int32_t>{4, 5, 6, 7, 8});
  REQUIRE(*keep == std::vector<int32_t>{4, 5, 6, 7});
  REQUIRE(keep.use_count() == 2);
  Array<int32_t> moved = std::move(v);
  REQUIRE(v.empty());
  REQUIRE(moved.is_view());
  const int32_t* data = moved.data();
  keep.reset();  // the view keeps its memory alive
  REQUIRE(moved.data() == data);
  REQUIRE(moved.to_vector() == std::vector<int32_t>{4, 5, 6, 7});
  moved.assign(moved.begin() + 1, moved.end());  // assigning from its own elements
  REQUIRE(moved == std::vector<int32_t>{5, 6, 7});
  REQUIRE_FALSE(moved.is_view());
}

TEST_CASE("graph cache: arrays are views of a private file mapping that outlives the file name", "[data][mapped]") {
  ember_test::TempDir dir("mapped");
  const Graph g = featured_graph();
  const std::string path = dir / "g.egraph";
  save_graph_cache(path, g, 7);
  uint64_t key = 0;
  Graph h = load_graph_cache(path, &key);
  REQUIRE(key == 7);
  ember_test::require_same_graph(h, g);
  h.validate();
  // Every array is a view of the file, 64-byte aligned, not a private copy.
  for (const void* p : {static_cast<const void*>(h.offsets.data()), static_cast<const void*>(h.neighbors.data()),
                        static_cast<const void*>(h.features.row_ptr.data()), static_cast<const void*>(h.features.col.data()),
                        static_cast<const void*>(h.features.val.data()), static_cast<const void*>(h.labels.data())}) {
    INFO("array at " << p);
    REQUIRE(mapping_file_of(p) == std::filesystem::canonical(path).string());
    REQUIRE(reinterpret_cast<uintptr_t>(p) % kArrayAlignment == 0);
  }
  REQUIRE(h.features.col.is_view());
  // A copy of the graph (what graph_with_edges does with the features) shares them.
  Graph copy = h;
  REQUIRE(copy.features.val.data() == h.features.val.data());
  // A write through the mapping is private: the file keeps its bytes.
  const float before = h.features.val[0];
  h.features.val[0] = 1234.5f;
  REQUIRE(load_graph_cache(path).features.val[0] == before);
  REQUIRE(copy.features.val[0] == 1234.5f);  // the same process sees its own write
  // The mapping outlives the file's name (an atomic rewrite renames over it).
  std::filesystem::remove(path);
  REQUIRE(copy.neighbors == g.neighbors);
  REQUIRE(copy.features.col == g.features.col);
}

TEST_CASE("mapped container reader: a cut or flipped file is refused before any view is made", "[data][mapped]") {
  ember_test::TempDir dir("mapped_bad");
  const std::string path = dir / "g.egraph";
  save_graph_cache(path, featured_graph(), 1);
  const std::vector<uint8_t> good = read_file_bytes(path);
  auto bad = good;
  bad[good.size() - 5] ^= 0x10;  // inside the labels
  write_file_atomic(path, bad);
  REQUIRE_THROWS_WITH(MappedContainerReader(path, "EMBGRAPH", kGraphCacheVersion, kGraphCacheVersion),
                      Catch::Contains("payload checksum mismatch"));
  write_file_atomic(path, good.data(), good.size() - 8);
  REQUIRE_THROWS_WITH(load_graph_cache(path), Catch::Contains("truncated or corrupted"));
  REQUIRE_THROWS_WITH(load_graph_cache(dir / "none.egraph"), Catch::Contains("cannot open"));
  write_file_atomic(path, good);
  MappedContainerReader r(path, "EMBGRAPH", kGraphCacheVersion, kGraphCacheVersion);
  REQUIRE(r.get<uint64_t>("key") == 1);
  REQUIRE(r.get<int64_t>("nodes") == 40);
  // Asking for more elements than the file holds names the array.
  REQUIRE_THROWS_WITH(r.get_array<int64_t>("CSR offsets", 5), Catch::Contains("CSR offsets"));
}

TEST_CASE("prepare_data with data.cache_dir maps the graph and features, builds once, same split", "[data][mapped]") {
  ember_test::TempDir dir("mapped_prepare");
  std::string edges, features = "{";
  for (int i = 0; i < 60; ++i) {
    edges += std::to_string(i) + " " + std::to_string((i + 1) % 60) + "\n";
    edges += std::to_string(i) + " " + std::to_string((i + 11) % 60) + "\n";
    features += std::string(i ? ", " : "") + "\"" + std::to_string(i) + "\": [" + std::to_string(i % 7) + ", " +
                std::to_string(7 + i % 5) + "]";
  }
  features += "}";
  DataConfig d;
  d.graph = dir.file("g.txt", edges);
  d.features = dir.file("f.json", features);
  const PreparedData plain = prepare_data(d, 3, "", false);
  REQUIRE_FALSE(plain.full.features.col.is_view());

  d.cache_dir = dir / "cache";
  const PreparedData first = prepare_data(d, 3, "", false);  // builds the cache, then maps it
  REQUIRE(std::filesystem::exists(dir / "cache/g.egraph"));
  const auto written = std::filesystem::last_write_time(dir / "cache/g.egraph");
  const PreparedData again = prepare_data(d, 3, "", false);  // a hit: not rewritten
  REQUIRE(std::filesystem::last_write_time(dir / "cache/g.egraph") == written);
  for (const PreparedData* p : {&first, &again}) {
    REQUIRE(p->full.features.col.is_view());
    REQUIRE(p->full.neighbors.is_view());
    // The training graph shares the mapped features instead of copying them.
    REQUIRE(p->split.train.features.col.data() == p->full.features.col.data());
    REQUIRE(p->full.offsets == plain.full.offsets);
    REQUIRE(p->full.features.col == plain.full.features.col);
    // The training graph is mapped from the split cache: the same split as without caches.
    REQUIRE(p->split.train.neighbors.is_view());
    REQUIRE(p->split.train.offsets == plain.split.train.offsets);
    REQUIRE(p->split.train.neighbors == plain.split.train.neighbors);
    REQUIRE(p->split.val == plain.split.val);
    REQUIRE(p->split.test == plain.split.test);
  }
  // One split cache per seed, beside the graph cache.
  int splits = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir / "cache")) splits += f.path().extension() == ".esplit";
  REQUIRE(splits == 1);
  const PreparedData seed4 = prepare_data(d, 4, "", false);
  REQUIRE(seed4.split.train.neighbors.is_view());
  REQUIRE_FALSE(seed4.split.val == first.split.val);
  // A changed source file makes the cache stale: rebuilt, with the new edge.
  std::ofstream(d.graph, std::ios::app) << "0 30\n";
  const PreparedData changed = prepare_data(d, 3, "", false);
  REQUIRE(changed.full.num_edges() == plain.full.num_edges() + 1);
  REQUIRE(changed.full.neighbors.is_view());
}

TEST_CASE("split cache: another key, a flipped byte or another graph is refused; load_or_make_split rebuilds", "[data][mapped]") {
  ember_test::TempDir dir("split_cache");
  save_graph_cache(dir / "g.egraph", featured_graph(), 77);
  const Graph g = load_graph_cache(dir / "g.egraph");  // mapped, as prepare_data has it
  SplitConfig sc;
  sc.val_fraction = 0.1;
  sc.test_fraction = 0.2;
  sc.seed = 5;
  const Split made = make_split(g, sc);
  const std::string path = dir / "s.esplit";
  const uint64_t key = split_cache_key(77, sc);
  save_split_cache(path, made, key);
  const Split back = load_split_cache(path, key, g);
  REQUIRE(back.train.neighbors.is_view());
  REQUIRE(back.train.features.col.data() == g.features.col.data());  // shared with the full graph
  REQUIRE(back.train.offsets == made.train.offsets);
  REQUIRE(back.train.neighbors == made.train.neighbors);
  REQUIRE(back.val == made.val);
  REQUIRE(back.test == made.test);
  back.train.validate();
  SplitConfig other = sc;
  other.seed = 6;
  REQUIRE(split_cache_key(77, other) != key);
  REQUIRE(split_cache_key(78, sc) != key);
  REQUIRE_THROWS_WITH(load_split_cache(path, split_cache_key(77, other), g), Catch::Contains("another split"));
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  EdgeList e;
  e.add(0, 1);
  REQUIRE_THROWS_WITH(load_split_cache(path, key, build_graph(e, {}, quiet)), Catch::Contains("split of a graph of 40 users"));
  std::vector<uint8_t> bytes = read_file_bytes(path);
  bytes[bytes.size() / 2] ^= 0x01;
  write_file_atomic(path, bytes);
  REQUIRE_THROWS_WITH(load_split_cache(path, key, g), Catch::Contains("checksum mismatch"));
  const Split rebuilt = load_or_make_split(path, 77, g, sc, false);  // rejected, made again, mapped
  REQUIRE(rebuilt.train.neighbors.is_view());
  REQUIRE(rebuilt.val == made.val);
  REQUIRE_NOTHROW(load_split_cache(path, key, g));
}

TEST_CASE("data.cache_dir is refused for the synthetic graph", "[data][mapped][config]") {
  TrainConfig c;
  c.data.cache_dir = "/tmp/x";
  REQUIRE_THROWS_WITH(c.validate(), Catch::Contains("data.cache_dir"));
}
