// Loaders: shared datasets, generated files, a table of malformed inputs, the
// binary graph cache.
#include <catch2/catch.hpp>
#include <filesystem>
#include <omp.h>

#include "engine/io/binary_io.h"
#include "engine/data/graph_cache.h"
#include "engine/data/loaders.h"
#include "test_data_util.h"

using namespace ember;

namespace {
GraphBuildOptions quiet() {
  GraphBuildOptions o;
  o.print_summary = false;
  return o;
}
}  // namespace

TEST_CASE("build_graph symmetrises, removes self-loops and duplicates, maps ids", "[data]") {
  EdgeList e;
  e.add(100, 7);
  e.add(7, 100);  // reverse duplicate
  e.add(7, 7);    // self-loop
  e.add(100, 7);  // duplicate
  e.add(5000000000LL, 7);
  GraphBuildStats st;
  Graph g = build_graph(e, {42}, quiet(), &st);
  REQUIRE(st.self_loops == 1);
  REQUIRE(st.duplicates == 2);
  REQUIRE(st.num_nodes == 4);
  REQUIRE(st.num_edges == 2);
  REQUIRE(st.summary() == "graph: 4 nodes, 2 edges (1 self-loops, 2 duplicates removed)");
  g.validate();
  // dense ids follow increasing original id: 7, 42, 100, 5e9
  REQUIRE(g.ids.original(0) == 7);
  REQUIRE(g.ids.original(3) == 5000000000LL);
  REQUIRE(g.ids.dense(42) == 1);
  REQUIRE(g.ids.dense(43) == -1);
  REQUIRE(g.degree(0) == 2);
  REQUIRE(g.degree(1) == 0);
  REQUIRE(g.has_edge(0, 2));
  REQUIRE(g.has_edge(3, 0));
  REQUIRE_FALSE(g.has_edge(1, 2));
}

TEST_CASE("SparseFeatures::validate refuses a decreasing row_ptr before reading columns", "[data][errors]") {
  SparseFeatures f;
  f.num_rows = 2;
  f.num_cols = 10;
  f.row_ptr = {0, 5, 3};  // row 0 would read col[3], col[4] past the end
  f.col = {1, 2, 3};
  f.val = {1.f, 1.f, 1.f};
  REQUIRE_THROWS_WITH(f.validate("feats"), Catch::Contains("row_ptr decreases at row 1"));
  f.row_ptr = {0, 1, 3};
  REQUIRE_NOTHROW(f.validate("feats"));
}

TEST_CASE("build_graph_dense is independent of the thread count", "[data]") {
  std::vector<int32_t> s, d;
  uint64_t x = 1;
  for (int i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    s.push_back(static_cast<int32_t>((x >> 33) % 1000));
    d.push_back(static_cast<int32_t>((x >> 13) % 1000));
  }
  Graph a = build_graph_dense(1000, s, d, quiet());
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Graph b = build_graph_dense(1000, s, d, quiet());
  omp_set_num_threads(saved);
  REQUIRE(a.offsets == b.offsets);
  REQUIRE(a.neighbors == b.neighbors);
  a.validate();
  REQUIRE_THROWS_WITH(build_graph_dense(10, {0, 11}, {1, 2}, quiet()), Catch::Contains("outside 0..9"));
}

TEST_CASE("loaders read generated SNAP, CSV, JSON and numeric files", "[data]") {
  ember_test::TempDir dir("loaders");
  auto snap = dir.file("g.txt", "# comment\n\n0 1\n1\t2 0.5\n2 0\r\n3 3\n");
  EdgeList e = read_snap_edges(snap);
  REQUIRE(e.size() == 4);
  REQUIRE(e.src[1] == 1);
  REQUIRE(e.dst[1] == 2);

  auto csv = dir.file("g.csv", "node_1,node_2\n10,20\n20, 30\n\n");
  EdgeList c = read_csv_edges(csv);
  REQUIRE(c.size() == 2);
  REQUIRE(c.dst[1] == 30);

  auto js = dir.file("f.json", "{\"10\": [3, 1, 3], \"30\": [], \"20\": [0]}");
  RawFeatures bin = read_musae_features(js);
  REQUIRE(bin.ids == std::vector<int64_t>{10, 30, 20});
  REQUIRE(bin.rows.num_cols == 4);
  REQUIRE(bin.rows.col == std::vector<int32_t>{1, 3, 0});
  REQUIRE(bin.rows.val == std::vector<float>{1, 1, 1});
  FeatureReadOptions count;
  count.repeated = RepeatedFeature::Count;
  count.num_cols = 10;
  RawFeatures cnt = read_musae_features(js, count);
  REQUIRE(cnt.rows.val == std::vector<float>{1, 2, 1});
  REQUIRE(cnt.rows.num_cols == 10);

  Graph g = build_graph(c, bin.ids, quiet());
  g.features = align_features(bin, g.ids, js);
  g.validate();
  REQUIRE(g.features.row_nnz(g.ids.dense(10)) == 2);
  REQUIRE(g.features.row_nnz(g.ids.dense(30)) == 0);

  auto dense = dir.file("x.csv", "id,a,b,c\n5,0,1.5,0\n6,2,0,-1\n");
  RawFeatures dn = read_dense_features(dense);
  REQUIRE(dn.rows.num_cols == 3);
  REQUIRE(dn.rows.col == std::vector<int32_t>{1, 0, 2});
  REQUIRE(dn.rows.val == std::vector<float>{1.5f, 2.0f, -1.0f});
  REQUIRE_THROWS_WITH(align_features(dn, g.ids, "x.csv"), Catch::Contains("not a node of the graph"));

  auto labels = dir.file("t.csv", "id,flag,new_id\n1,True,10\n2,False,20\n3,True,20\n");
  auto lab = read_csv_labels(labels, "new_id", "flag");
  REQUIRE(lab.size() == 2);  // new_id 20 repeated: first row kept
  REQUIRE(lab[1] == std::make_pair(int64_t{20}, int64_t{0}));
}

namespace {
struct BadCase {
  const char* name;
  const char* format;  // snap, csv, json, dense
  const char* content;
  const char* expected;
};
}  // namespace

TEST_CASE("malformed inputs give errors naming file, line and expectation", "[data]") {
  ember_test::TempDir dir("malformed");
  const BadCase cases[] = {
      {"snap_empty", "snap", "", "empty file"},
      {"snap_only_comments", "snap", "# nothing\n\n", "no edges"},
      {"snap_truncated", "snap", "0 1\n2\n", "bad.txt:2: truncated line"},
      {"snap_non_numeric", "snap", "0 1\n1 x7\n", "bad.txt:2: non-numeric node id 'x7'"},
      {"snap_overflow", "snap", "0 99999999999999999999\n", "bad.txt:1: node id '99999999999999999999' overflows int64"},
      {"snap_negative", "snap", "0 1\n-4 2\n", "bad.txt:2: negative node id '-4'"},
      {"snap_garbage_suffix", "snap", "0 1x\n", "non-numeric node id '1x'"},
      {"csv_empty", "csv", "", "empty file"},
      {"csv_no_header", "csv", "0,1\n1,2\n", "bad.txt:1: expected a header line"},
      {"csv_header_only", "csv", "node_1,node_2\n", "header only"},
      {"csv_truncated", "csv", "a,b\n0,1\n2\n", "bad.txt:3: truncated line '2'"},
      {"csv_missing_field", "csv", "a,b\n0,\n", "bad.txt:2: truncated line: missing node id"},
      {"csv_non_numeric", "csv", "a,b\n0,1\n1,two\n", "bad.txt:3: non-numeric node id 'two'"},
      {"json_empty", "json", "", "empty file"},
      {"json_syntax", "json", "{\"1\": [1, 2],\n\"2\": [3 4]}", "bad JSON: [json.exception.parse_error.101] parse error at line 2"},
      {"json_truncated", "json", "{\"1\": [1, 2]", "bad JSON"},
      {"json_not_object", "json", "[1, 2]", "expected a JSON object"},
      {"json_key", "json", "{\"abc\": [1]}", "non-numeric node id key"},
      {"json_negative_key", "json", "{\"-3\": [1]}", "negative node id key"},
      {"json_float", "json", "{\"1\": [1.5]}", "not an integer"},
      {"json_string", "json", "{\"1\": [\"a\"]}", "expected integer feature ids"},
      {"json_value", "json", "{\"1\": 5}", "expected a list of feature ids"},
      {"json_neg_feature", "json", "{\"1\": [2],\n\"7\": [-1]}", "bad.txt:2: node \"7\": feature id -1 out of range"},
      {"json_range", "json", "{\"1\": [2, 5000]}", "feature id 5000 out of range, expected 0..99"},
      {"json_dup_node", "json", "{\"1\": [2], \"1\": [3]}", "node id 1 has two feature rows"},
      {"json_nested", "json", "{\"1\": [[2]]}", "nested list"},
      {"json_no_nodes", "json", "{}", "no node entries"},
      {"dense_width", "dense", "id,a,b\n0,1,2\n1,3\n", "bad.txt:3: truncated line: 1 values, expected 2"},
      {"dense_value", "dense", "id,a\n0,nan\n", "bad.txt:2: non-numeric feature value 'nan'"},
      {"dense_dup", "dense", "id,a\n0,1\n0,2\n", "bad.txt:3: duplicate node id 0 (first on line 2)"},
  };
  for (const BadCase& c : cases) {
    INFO("case " << c.name);
    std::string p = dir.file("bad.txt", c.content);
    std::string fmt = c.format;
    auto run = [&] {
      FeatureReadOptions fo;
      if (fmt == "snap") read_snap_edges(p);
      else if (fmt == "csv") read_csv_edges(p);
      else if (fmt == "json") { fo.num_cols = 100; read_musae_features(p, fo); }
      else read_dense_features(p);
    };
    REQUIRE_THROWS_WITH(run(), Catch::Contains(c.expected));
    REQUIRE_THROWS_WITH(run(), Catch::Contains("bad.txt"));
  }
  REQUIRE_THROWS_WITH(read_snap_edges(dir / "nope.txt"), Catch::Contains("nope.txt") && Catch::Contains("missing file"));
  REQUIRE_THROWS_WITH(read_musae_features(dir / "nope.json"), Catch::Contains("missing file"));
  ember_test::TempDir other("notdataset");
  other.file("readme.md", "hello");
  REQUIRE_THROWS_WITH(load_dataset(other.path), Catch::Contains("not a recognised dataset folder"));
}

TEST_CASE("graph cache round trip; truncated and bit-flipped caches are rebuilt", "[data]") {
  ember_test::TempDir dir("cache");
  EdgeList e;
  for (int i = 0; i < 300; ++i) e.add(i * 1000003LL, ((i * 7) % 300) * 1000003LL);
  Graph g = build_graph(e, {}, quiet());
  g.features.num_rows = g.num_nodes();
  g.features.num_cols = 5;
  g.features.row_ptr.assign(static_cast<size_t>(g.num_nodes()) + 1, 0);
  for (int64_t u = 0; u < g.num_nodes(); ++u) {
    g.features.col.push_back(static_cast<int32_t>(u % 5));
    g.features.val.push_back(1.0f);
    g.features.row_ptr[u + 1] = u + 1;
  }
  g.labels.assign(static_cast<size_t>(g.num_nodes()), 3);
  std::string p = dir / "g.egraph";
  save_graph_cache(p, g, 99);
  uint64_t key = 0;
  Graph h = load_graph_cache(p, &key);
  REQUIRE(key == 99);
  ember_test::require_same_graph(h, g);
  h.validate();

  int builds = 0;
  auto build = [&] { ++builds; return g; };
  CacheStatus st;
  load_or_build_graph(p, 99, build, &st, false);
  REQUIRE(st.hit);
  REQUIRE(builds == 0);
  load_or_build_graph(p, 100, build, &st, false);  // stale key
  REQUIRE_FALSE(st.hit);
  REQUIRE(st.message.find("stale") != std::string::npos);
  REQUIRE(builds == 1);

  auto bytes = read_file_bytes(p);
  for (size_t pos : {size_t(5), size_t(70), bytes.size() / 2, bytes.size() - 1}) {
    auto bad = bytes;
    bad[pos] ^= 0x04;
    write_file_atomic(p, bad);
    REQUIRE_THROWS(load_graph_cache(p));
    load_or_build_graph(p, 100, build, &st, false);
    INFO(st.message);
    REQUIRE_FALSE(st.hit);
    REQUIRE(st.message.find("rejected") != std::string::npos);
    REQUIRE((st.message.find("checksum") != std::string::npos || st.message.find("magic") != std::string::npos ||
             st.message.find("corrupt") != std::string::npos));
    load_or_build_graph(p, 100, build, &st, false);
    REQUIRE(st.hit);  // rebuilt and rewritten
  }
  // A well-formed container whose payload claims absurd sizes is refused
  // before anything is allocated.
  {
    MemoryWriter w;
    w.put<uint64_t>(100);                  // source key
    w.put<int64_t>(1000);                  // nodes
    w.put<uint64_t>(uint64_t(1) << 40);    // offsets count: 8 TiB
    write_container_file(p, "EMBGRAPH", kGraphCacheVersion, w.bytes().data(), w.bytes().size());
    REQUIRE_THROWS_WITH(load_graph_cache(p), Catch::Contains("corrupt CSR offsets count"));
    MemoryWriter w2;
    w2.put<uint64_t>(100);
    w2.put<int64_t>(int64_t(1) << 50);     // nodes
    write_container_file(p, "EMBGRAPH", kGraphCacheVersion, w2.bytes().data(), w2.bytes().size());
    REQUIRE_THROWS_WITH(load_graph_cache(p), Catch::Contains("corrupt node count"));
  }
  for (size_t len : {size_t(0), size_t(40), size_t(64), bytes.size() - 3}) {
    write_file_atomic(p, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len)));
    REQUIRE_THROWS_WITH(load_graph_cache(p), Catch::Contains("truncated"));
    load_or_build_graph(p, 100, build, &st, false);
    REQUIRE_FALSE(st.hit);
  }
}

TEST_CASE("shared datasets load with the documented counts", "[data]") {
  std::string root = ember_test::shared_data_dir();
  if (root.empty()) return;
  struct Expect { const char* dir; int64_t nodes, edges; bool features, labels; };
  const Expect ex[] = {
      {"ego_facebook", 4039, 88234, true, false}, {"lastfm_asia", 7624, 27806, false, true},
      {"deezer_europe", 28281, 92752, false, true}, {"twitch/DE", 9498, 153138, true, true},
      {"twitch/ENGB", 7126, 35324, true, true},    {"twitch/ES", 4648, 59382, true, true},
      {"twitch/FR", 6549, 112666, true, true},     {"twitch/PTBR", 1912, 31299, true, true},
      {"twitch/RU", 4385, 37304, true, true},
  };
  ember_test::TempDir cache("dscache");
  for (const Expect& x : ex) {
    INFO(x.dir);
    DatasetOptions o;
    o.verbose = false;
    o.cache_dir = cache.path;
    Dataset d = load_dataset(root + "/" + x.dir, o);
    REQUIRE_FALSE(d.from_cache);
    REQUIRE(d.graph.num_nodes() == x.nodes);
    REQUIRE(d.graph.num_edges() == x.edges);
    REQUIRE(d.graph.has_features() == x.features);
    REQUIRE(d.graph.labels.empty() == !x.labels);
    REQUIRE(d.graph.ids.is_identity());
    d.graph.validate();
    Dataset c = load_dataset(root + "/" + x.dir, o);
    REQUIRE(c.from_cache);
    REQUIRE(c.graph.neighbors == d.graph.neighbors);
    REQUIRE(c.graph.features.col == d.graph.features.col);
  }
  // Twitch DE: 2,514 distinct feature ids, 593 lists with a repeated id.
  DatasetOptions o;
  o.verbose = false;
  Dataset de = load_dataset(root + "/twitch/DE", o);
  REQUIRE(de.graph.features.num_cols == 3170);
  int64_t mature = 0;
  for (int64_t l : de.graph.labels) mature += l == 1;
  REQUIRE(mature == 5742);
  o.repeated = RepeatedFeature::Count;
  Dataset dc = load_dataset(root + "/twitch/DE", o);
  int64_t rows_with_repeat = 0;
  for (int64_t u = 0; u < dc.graph.num_nodes(); ++u) {
    bool rep = false;
    for (int64_t k = dc.graph.features.row_ptr[u]; k < dc.graph.features.row_ptr[u + 1]; ++k) rep |= dc.graph.features.val[k] > 1;
    rows_with_repeat += rep;
  }
  REQUIRE(rows_with_repeat == 593);
  // ego-Facebook: features mapped to the global anonymized ids (0..1282).
  Dataset fb = load_dataset(root + "/ego_facebook", o);
  REQUIRE(fb.graph.features.num_cols == 1283);
  auto dirs = find_dataset_dirs(root);
  REQUIRE(dirs.size() == 9);
}
