// Reliability corpus: a deterministic table of malformed files per parser,
// replayed in the normal test suite. Every entry must give ember::Error (no
// other exception type, no crash, no sanitizer report, no huge allocation)
// whose message contains the expected fragment. Binary files are generated
// by code: a valid file written by ember, then truncated, bit-flipped, or
// rebuilt with a valid checksum around a hostile payload (sizes of 10^12
// elements must be refused before anything is allocated).
// Counts per parser are listed in docs/reliability.md.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "engine/io/binary_io.h"
#include "engine/train/checkpoint.h"
#include "engine/config/config.h"
#include "engine/data/graph_cache.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/data/loaders.h"
#include "engine/io/npy.h"
#include "engine/train/run_dir.h"
#include "engine/data/split.h"
#include "test_data_util.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

const std::string kMissing = "\x01<missing>";  // the entry names a file that does not exist
constexpr uint64_t kHuge = 1000000000000ULL;     // 10^12

struct Bad {
  std::string name;
  std::string content;  // file bytes (kMissing: no file)
  std::string expect;   // fragment of the ember::Error message
};

std::string bytes_str(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs load(path) and requires an ember::Error containing `expect`; any other
// outcome fails the entry with its name.
void expect_error(const std::string& what, const std::string& expect, const std::function<void()>& load) {
  INFO(what);
  bool threw = false;
  std::string msg;
  try {
    load();
  } catch (const Error& e) {
    threw = true;
    msg = e.what();
  } catch (const std::exception& e) {
    FAIL("not an ember::Error (" << typeid(e).name() << "): " << e.what());
  }
  if (!threw) FAIL("the input was accepted, expected an error containing '" << expect << "'");
  INFO("message: " << msg);
  CHECK(msg.find(expect) != std::string::npos);
}

// Replays a table: each entry is written to dir/<file> and handed to load.
size_t replay(const std::string& parser, const std::string& file, const std::vector<Bad>& table,
              const std::function<void(const std::string&)>& load) {
  ember_test::TempDir dir("rel_" + parser);
  for (const Bad& b : table) {
    const std::string path = dir / file;
    std::error_code ec;
    fs::remove(path, ec);
    if (b.content != kMissing) write_bytes(path, b.content);
    expect_error(parser + " / " + b.name, b.expect, [&] { load(path); });
  }
  return table.size();
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Payload builder for container files (valid checksums via write_container_file).
struct Payload {
  MemoryWriter w;
  template <class T> Payload& put(T v) { w.put<T>(v); return *this; }
  template <class T> Payload& vec(const std::vector<T>& v) { w.put_vector(v); return *this; }
  template <class T> Payload& aligned(const std::vector<T>& v) { w.put_aligned_array(v.data(), v.size()); return *this; }
  Payload& count(uint64_t n) { w.put<uint64_t>(n); return *this; }  // a vector count with no data behind it
  Payload& str(const std::string& s) { w.put_string(s); return *this; }
  std::string container(const std::string& magic, uint32_t version) const {
    ember_test::TempDir d("payload");
    const std::string p = d / "f";
    write_container_file(p, magic, version, w.bytes().data(), w.bytes().size());
    return bytes_str(read_file_bytes(p));
  }
};

// Overwrites the container header's version (and fixes the header checksum).
std::string with_version(std::string file, uint32_t version) {
  std::memcpy(&file[8], &version, 4);
  const uint64_t sum = checksum64(file.data(), 56);
  std::memcpy(&file[56], &sum, 8);
  return file;
}

std::string flip(std::string s, size_t byte, unsigned bit = 0) {
  s[byte] = static_cast<char>(s[byte] ^ (1u << bit));
  return s;
}

// A small graph with features, labels and non-identity ids.
Graph small_graph() {
  EdgeList e;
  for (int64_t i = 0; i < 30; ++i) {
    e.add(100 + 3 * i, 100 + 3 * ((i + 1) % 30));
    e.add(100 + 3 * i, 100 + 3 * ((i + 7) % 30));
  }
  GraphBuildOptions q;
  q.print_summary = false;
  Graph g = build_graph(e, {}, q);
  g.features.num_rows = g.num_nodes();
  g.features.num_cols = 8;
  g.features.row_ptr.assign(1, 0);
  for (int64_t u = 0; u < g.num_nodes(); ++u) {
    g.features.col.push_back(static_cast<int32_t>(u % 8));
    g.features.val.push_back(1.0f);
    g.features.row_ptr.push_back(static_cast<int64_t>(g.features.col.size()));
  }
  g.labels.assign(static_cast<size_t>(g.num_nodes()), 0);
  return g;
}

// The graph cache payload layout of engine/data/graph_cache.cpp, field by field,
// so single fields can be made hostile.
struct CachePayload {
  int64_t n = 3;
  std::vector<int64_t> offsets{0, 1, 3, 4};
  std::vector<int32_t> neighbors{1, 0, 2, 1};
  std::vector<int64_t> row_ptr{0};
  int64_t feature_rows = 0;
  int32_t feature_cols = 0;
  std::vector<int32_t> col;
  std::vector<float> val;
  std::string build(uint64_t offsets_count = 0, uint64_t neighbors_count = 0, bool trailing = false) const {
    Payload p;
    p.put<uint64_t>(0).put<int64_t>(n);
    if (offsets_count) p.count(offsets_count); else p.aligned(offsets);
    if (neighbors_count) p.count(neighbors_count); else p.aligned(neighbors);
    p.put<uint8_t>(1).put<int64_t>(feature_rows).put<int32_t>(feature_cols).aligned(row_ptr).aligned(col).aligned(val);
    p.aligned(std::vector<int64_t>{});
    if (trailing) p.put<uint64_t>(0);
    return p.container("EMBGRAPH", kGraphCacheVersion);
  }
};

// A checkpoint payload (engine/train/checkpoint.cpp layout) with one tensor whose
// header fields can be made hostile.
std::string checkpoint_with_tensor(int32_t dtype, const std::vector<int64_t>& shape, uint64_t bytes,
                                   const std::string& data, uint64_t param_count = 1) {
  Payload p;
  p.put<uint64_t>(1).put<int64_t>(0).put<int64_t>(0).put<int64_t>(0);
  p.put<uint64_t>(0).put<uint64_t>(0).put<uint64_t>(0).put<double>(-1).put<int64_t>(-1).put<int64_t>(0);
  p.str("{}").put<uint64_t>(param_count);
  if (param_count == 1) {
    p.str("w").put<int32_t>(dtype).vec(shape).put<uint64_t>(bytes);
    for (char c : data) p.put<char>(c);
  }
  return p.container("EMBRCKPT", kCheckpointVersion);
}

std::string hnsw_with(uint32_t metric, int64_t dim, int64_t n, int32_t ef, const std::vector<uint8_t>& blob) {
  Payload p;
  p.put<uint32_t>(metric).put<int64_t>(dim).put<int64_t>(n).put<int32_t>(4).put<int32_t>(16).put<int32_t>(ef);  // M 4 as built below
  p.put<uint64_t>(100).vec(blob);
  return p.container("EMBHNSW", 1);
}

std::string npy_with_header(const std::string& dict, size_t data_bytes) {
  std::string h = dict;
  const size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<char>(h.size() & 0xff));
  out.push_back(static_cast<char>(h.size() >> 8));
  return out + h + std::string(data_bytes, '\0');
}

// Caps the address space while a hostile file is loaded: a loader that trusts a
// claimed size and allocates it fails loudly (bad_alloc is not an ember::Error)
// instead of passing by luck. ASan reserves terabytes of shadow memory, so
// the cap is only applied in builds without it.
struct AddressSpaceCap {
  rlimit old{};
  bool active = false;
  explicit AddressSpaceCap(uint64_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
    (void)bytes;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    (void)bytes;
#else
    cap(bytes);
#endif
#else
    cap(bytes);
#endif
  }
  void cap(uint64_t bytes) {
    if (getrlimit(RLIMIT_AS, &old) != 0) return;
    rlimit r = old;
    r.rlim_cur = static_cast<rlim_t>(bytes);
    if (old.rlim_max != RLIM_INFINITY && r.rlim_cur > old.rlim_max) return;
    active = setrlimit(RLIMIT_AS, &r) == 0;
  }
  ~AddressSpaceCap() {
    if (active) setrlimit(RLIMIT_AS, &old);
  }
};

}  // namespace

// ---- text formats ---------------------------------------------------------------------

TEST_CASE("reliability corpus: SNAP edge lists", "[reliability]") {
  const std::vector<Bad> t = {
      {"missing file", kMissing, "missing file"},
      {"empty", "", "empty file"},
      {"only comments and blanks", "# a\n\n   \n# b\n", "no edges"},
      {"one id", "1\n", "truncated line"},
      {"truncated last line", "1 2\n3 4\n5", "f.txt:3: truncated line"},
      {"non-numeric", "1 2\nalice bob\n", "f.txt:2: non-numeric node id '"},
      {"float id", "1.5 2\n", "non-numeric node id '1.5'"},
      {"hex id", "0x10 2\n", "non-numeric node id '0x10'"},
      {"overflow", "1 9223372036854775808\n", "overflows int64"},
      {"huge overflow", "1 " + std::string(5000, '9') + "\n", "overflows int64"},
      {"negative", "-1 2\n", "negative node id '-1'"},
      {"NUL inside a token", std::string("1\0 2\n", 5), "non-numeric node id"},
      {"binary garbage", std::string("\xff\xfe\x00\x01\x80\x81", 6), "truncated line"},
      {"UTF-8 BOM", "\xef\xbb\xbf" "1 2\n", "non-numeric node id"},
      {"CR-only line ends", "1 2\r3 4\r", "non-numeric node id"},
      {"very long garbage line", std::string(1 << 20, 'x'), "truncated line"},
      {"comma separated", "1,2\n", "truncated line"},
      {"plus sign only", "+ 2\n", "non-numeric node id '+'"},
  };
  replay("snap", "f.txt", t, [](const std::string& p) { read_snap_edges(p); });
}

TEST_CASE("reliability corpus: CSV edge lists", "[reliability]") {
  const std::vector<Bad> t = {
      {"missing file", kMissing, "missing file"},
      {"empty", "", "empty file"},
      {"blank lines only", "\n\n\n", "no header line"},
      {"no header", "1,2\n2,3\n", "f.csv:1: expected a header line"},
      {"header only", "node_1,node_2\n", "header only"},
      {"truncated row", "a,b\n1,2\n3\n", "f.csv:3: truncated line '3'"},
      {"missing field", "a,b\n1,\n", "truncated line: missing node id"},
      {"non-numeric", "a,b\n1,two\n", "non-numeric node id 'two'"},
      {"overflow", "a,b\n1,99999999999999999999\n", "overflows int64"},
      {"negative", "a,b\n-5,1\n", "negative node id"},
      {"wrong separator", "a;b\n1;2\n", "truncated line"},
      {"NUL bytes", std::string("a,b\n1,\0\n", 8), "non-numeric node id"},
      {"binary garbage", std::string("a,b\n\xff\xfe,\x80\n", 9), "non-numeric node id"},
      {"float ids", "a,b\n1.0,2.0\n", "non-numeric node id '"},
  };
  replay("csv", "f.csv", t, [](const std::string& p) { read_csv_edges(p); });
}

TEST_CASE("reliability corpus: MUSAE feature JSON", "[reliability]") {
  const std::vector<Bad> t = {
      {"missing file", kMissing, "missing file"},
      {"empty", "", "empty file"},
      {"not JSON", "hello", "bad JSON"},
      {"truncated", "{\"1\": [1, 2", "bad JSON"},
      {"trailing garbage", "{\"1\": [1]} x", "bad JSON"},
      {"top-level list", "[1, 2]", "top level is a list"},
      {"top-level number", "7", "top level is a number"},
      {"empty object", "{}", "no node entries"},
      {"non-numeric key", "{\"abc\": [1]}", "non-numeric node id key"},
      {"negative key", "{\"-1\": [1]}", "negative node id key"},
      {"overflowing key", "{\"99999999999999999999\": [1]}", "overflows int64"},
      {"float feature", "{\"1\": [1.5]}", "not an integer"},
      {"string feature", "{\"1\": [\"a\"]}", "feature list holds the string"},
      {"null feature", "{\"1\": [null]}", "feature list holds null"},
      {"nested list", "{\"1\": [[1]]}", "nested list"},
      {"nested object", "{\"1\": {\"a\": 1}}", "nested object"},
      {"value not a list", "{\"1\": 5}", "expected a list of feature ids"},
      {"negative feature", "{\"1\": [-3]}", "out of range"},
      {"feature beyond int32", "{\"1\": [99999999999]}", "out of range"},
      {"feature beyond uint64", "{\"1\": [999999999999999999999999]}", "not an integer"},
      {"duplicate node", "{\"1\": [1], \"1\": [2]}", "has two feature rows"},
      {"deep nesting", repeat("[", 100000), "top level is a list"},
      {"deep nesting in a value", "{\"1\": " + repeat("[", 100000), "nested list"},
      {"binary garbage", std::string("\x7b\x00\xff\x22", 4), "bad JSON"},
      {"invalid UTF-8 key", "{\"\xff\xfe\": [1]}", "bad JSON"},
  };
  replay("musae_json", "f.json", t, [](const std::string& p) { read_musae_features(p); });
}

TEST_CASE("reliability corpus: dense feature CSV", "[reliability]") {
  const std::vector<Bad> t = {
      {"missing file", kMissing, "missing file"},
      {"empty", "", "empty file"},
      {"header only", "id,x,y\n", "no feature rows"},
      {"id only", "id,x\n1\n", "truncated line"},
      {"ragged rows", "id,x,y\n1,0.5,1\n2,1\n", "f.csv:3: truncated line: 1 values, expected 2"},
      {"non-numeric value", "id,x\n1,abc\n", "non-numeric feature value 'abc'"},
      {"NaN value", "id,x\n1,nan\n", "non-numeric feature value 'nan'"},
      {"Inf value", "id,x\n1,inf\n", "non-numeric feature value 'inf'"},
      {"overflowing value", "id,x\n1,1e999\n", "non-numeric feature value '1e999'"},
      {"empty value", "id,x\n1,\n", "truncated line: missing feature value"},
      {"duplicate id", "id,x\n1,1\n1,2\n", "duplicate node id 1"},
      {"negative id", "id,x\n-1,1\n", "negative node id"},
      {"non-numeric id", "id,x\nu1,1\n", "non-numeric node id 'u1'"},
      {"NUL in value", std::string("id,x\n1,0\0\n", 10), "non-numeric feature value"},
  };
  replay("dense", "f.csv", t, [](const std::string& p) { read_dense_features(p); });
}

TEST_CASE("reliability corpus: config JSON", "[reliability]") {
  const std::vector<Bad> t = {
      {"missing file", kMissing, "cannot open"},
      {"empty", "", "invalid JSON"},
      {"not JSON", "seed = 3", "invalid JSON"},
      {"truncated", "{\"model\": {\"heads\": 2", "invalid JSON"},
      {"not an object", "[1, 2]", "must be a JSON object"},
      {"unknown key", "{\"sede\": 3}", "unknown key 'sede'"},
      {"unknown nested key", "{\"model\": {\"head\": 3}}", "unknown key 'model.head'"},
      {"wrong type", "{\"seed\": \"three\"}", "seed has the wrong type"},
      {"section not an object", "{\"model\": 5}", "model must be an object"},
      {"out of range", "{\"model\": {\"heads\": 0}}", "model.heads must be >= 1"},
      {"float for an integer", "{\"model\": {\"hidden\": 1e300}}", "model.hidden"},
      {"fractional integer", "{\"sampler\": {\"batch_size\": 64.5}}", "sampler.batch_size"},
      {"negative unsigned", "{\"seed\": -1}", "seed"},
      {"integer beyond int64", "{\"train\": {\"epochs\": 18446744073709551615}}", "train.epochs"},
      {"NaN-like value", "{\"optim\": {\"lr\": NaN}}", "invalid JSON"},
      {"deep nesting", repeat("[", 100000), "invalid JSON"},
      {"deep nesting in a value", "{\"seed\": " + repeat("[", 50000) + repeat("]", 50000) + "}", "seed has the wrong type"},
      {"fanouts not a list", "{\"sampler\": {\"fanouts\": 5}}", "sampler.fanouts has the wrong type"},
      {"fanout zero", "{\"sampler\": {\"fanouts\": [0]}}", "sampler.fanouts"},
      {"binary garbage", std::string("\x00\xff{", 3), "invalid JSON"},
  };
  replay("config", "c.json", t, [](const std::string& p) { TrainConfig::from_file(p); });
}

TEST_CASE("reliability corpus: split files", "[reliability]") {
  EdgeList e;
  for (int i = 0; i < 40; ++i) e.add(1000 + i, 1000 + (i * 7 + 3) % 40);
  GraphBuildOptions q;
  q.print_summary = false;
  const Graph g = build_graph(e, {}, q);
  SplitConfig cfg;
  cfg.cold_user_fraction = 0.1;
  const Split s = make_split(g, cfg);
  ember_test::TempDir dir("rel_split");
  write_split(dir.path, g, s);
  const std::string good_val = read_file_text(dir / "val.tsv");
  struct SplitBad {
    std::string file;
    Bad bad;
  };
  const std::vector<SplitBad> t = {
      {"train.tsv", {"missing train", kMissing, "train.tsv: missing file"}},
      {"test.tsv", {"empty test", "", "test.tsv: empty file"}},
      {"val.tsv", {"unknown user", "1000\t77\n", "val.tsv:1: node id 77 is not a node of the graph"}},
      {"val.tsv", {"self-loop", "1000\t1000\n", "self-loop 1000"}},
      {"val.tsv", {"one id", "1000\n", "val.tsv:1: truncated line"}},
      {"val.tsv", {"three ids", "1000 1001 1002\n", "expected 'u<TAB>v'"}},
      {"val.tsv", {"non-numeric", "1000\tbob\n", "non-numeric node id 'bob'"}},
      {"val.tsv", {"overflow", "1000\t99999999999999999999\n", "overflows int64"}},
      {"val.tsv", {"negative", "1000\t-1\n", "negative node id"}},
      {"val.tsv", {"binary garbage", std::string("\xff\x00\x01\t\x02\n", 6), "non-numeric node id"}},
      {"cold_users.tsv", {"unknown cold user", "# cold\n5\n", "cold_users.tsv:2: node id 5 is not a node"}},
      {"cold_users.tsv", {"non-numeric cold user", "x\n", "non-numeric node id 'x'"}},
  };
  for (const SplitBad& sb : t) {
    const std::string path = dir / sb.file;
    const std::string saved = file_exists(path) ? read_file_text(path) : std::string();
    std::error_code ec;
    fs::remove(path, ec);
    if (sb.bad.content != kMissing) write_bytes(path, sb.bad.content);
    expect_error("split / " + sb.bad.name, sb.bad.expect, [&] { read_split(dir.path, g); });
    write_bytes(path, saved);
  }
  REQUIRE(read_split(dir.path, g).val == s.val);  // the restored files read back
}

TEST_CASE("reliability corpus: node_ids.txt", "[reliability]") {
  const std::vector<Bad> t = {
      {"missing file", kMissing, "cannot open"},
      {"empty", "", "no ids"},
      {"non-numeric", "1\nx\n", "f.txt:2: expected an integer id"},
      {"trailing garbage", "12ab\n", "expected an integer id"},
      {"overflow", "99999999999999999999\n", "expected an integer id"},
  };
  replay("node_ids", "f.txt", t, [](const std::string& p) { read_node_ids(p); });
}

// ---- binary formats ----------------------------------------------------------------------

TEST_CASE("reliability corpus: graph cache", "[reliability]") {
  ember_test::TempDir d("rel_cache_src");
  save_graph_cache(d / "g.egraph", small_graph(), 5);
  const std::string good = read_file_text(d / "g.egraph");
  REQUIRE(load_graph_cache(d / "g.egraph").num_nodes() == 30);
  CachePayload ok;
  CachePayload non_monotone;  // offsets jump past the neighbour array and come back
  non_monotone.offsets = {0, 1000, 3, 4};
  CachePayload negative_offset;
  negative_offset.offsets = {0, -8, 3, 4};
  CachePayload bad_neighbor;
  bad_neighbor.neighbors = {1, 0, 7, 1};
  CachePayload feature_rows;
  feature_rows.feature_rows = 3;
  feature_rows.feature_cols = 2;
  feature_rows.row_ptr = {0, 1000, 1, 2};
  feature_rows.col = {0, 1};
  feature_rows.val = {1, 1};
  CachePayload feature_col;
  feature_col.feature_rows = 3;
  feature_col.feature_cols = 2;
  feature_col.row_ptr = {0, 1, 1, 2};
  feature_col.col = {0, 9};
  feature_col.val = {1, 1};
  CachePayload huge_nodes;
  huge_nodes.n = static_cast<int64_t>(kHuge);
  const std::vector<Bad> t = {
      {"missing file", kMissing, "cannot open"},
      {"empty", "", "truncated: 0 bytes"},
      {"half a header", good.substr(0, 32), "truncated: 32 bytes"},
      {"truncated payload", good.substr(0, good.size() - 9), "truncated or corrupted"},
      {"one extra byte", good + "x", "truncated or corrupted"},
      {"wrong magic", "EMBRCKPT" + good.substr(8), "wrong magic 'EMBRCKPT'"},
      {"text file", "0 1\n1 2\n", "truncated"},
      {"header bit flip", flip(good, 20), "header checksum mismatch"},
      {"payload bit flip", flip(good, good.size() / 2, 3), "payload checksum mismatch"},
      {"last byte flipped", flip(good, good.size() - 1, 7), "payload checksum mismatch"},
      {"future version", with_version(good, 3), "format version 3 not supported"},
      {"version 1 (unaligned, read before caches were mapped)", with_version(good, 1), "format version 1 not supported"},
      {"valid control", ok.build(), "<accepted>"},
      {"10^12 nodes claimed", huge_nodes.build(), "corrupt node count 1000000000000"},
      {"10^12 offsets claimed", ok.build(kHuge), "corrupt CSR offsets count 1000000000000"},
      {"10^12 neighbours claimed", ok.build(0, kHuge), "CSR neighbours claims 1000000000000 elements"},
      {"non-monotone offsets", non_monotone.build(), "inconsistent CSR offsets"},
      {"negative offset", negative_offset.build(), "inconsistent CSR offsets"},
      {"neighbour out of range", bad_neighbor.build(), "CSR entries out of range"},
      {"feature row pointers past the end", feature_rows.build(), "inconsistent feature CSR"},
      {"feature column out of range", feature_col.build(), "feature entries out of range"},
      {"payload cut short", Payload().put<uint64_t>(0).container("EMBGRAPH", kGraphCacheVersion), "expected 8 bytes of node count"},
      {"trailing payload bytes", ok.build(0, 0, true), "unexpected trailing payload bytes"},
  };
  ember_test::TempDir dir("rel_cache");
  for (const Bad& b : t) {
    const std::string path = dir / "c.egraph";
    std::error_code ec;
    fs::remove(path, ec);
    if (b.content != kMissing) write_bytes(path, b.content);
    if (b.expect == "<accepted>") {
      REQUIRE(load_graph_cache(path).num_nodes() == 3);
      continue;
    }
    AddressSpaceCap cap(uint64_t(8) << 30);
    expect_error("graph cache / " + b.name, b.expect, [&] { load_graph_cache(path); });
  }
}

TEST_CASE("reliability corpus: checkpoint", "[reliability]") {
  ember_test::TempDir d("rel_ckpt_src");
  Checkpoint c;
  c.config_hash = 77;
  c.meta_json = "{}";
  c.params.emplace_back("w", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  c.optimizer_state.push_back(Tensor::from_vector<float>({0, 0, 0, 0, 0, 0}, {2, 3}));
  save_checkpoint(d / "c.bin", c);
  const std::string good = read_file_text(d / "c.bin");
  const std::string four_floats(16, '\0');
  Payload huge_meta;
  huge_meta.put<uint64_t>(1).put<int64_t>(0).put<int64_t>(0).put<int64_t>(0).put<uint64_t>(0).put<uint64_t>(0);
  huge_meta.put<uint64_t>(0).put<double>(0).put<int64_t>(0).put<int64_t>(0).count(kHuge);
  const std::vector<Bad> t = {
      {"missing file", kMissing, "cannot open"},
      {"empty", "", "truncated: 0 bytes"},
      {"truncated", good.substr(0, good.size() - 1), "truncated or corrupted"},
      {"header only", good.substr(0, 64), "truncated or corrupted"},
      {"wrong magic", "EMBGRAPH" + good.substr(8), "wrong magic 'EMBGRAPH'"},
      {"header bit flip", flip(good, 9), "header checksum mismatch"},
      {"payload bit flip", flip(good, 100, 5), "payload checksum mismatch"},
      {"future version", with_version(good, 9), "format version 9 not supported"},
      {"10^12 parameters claimed", checkpoint_with_tensor(0, {1}, 4, "", kHuge), "implausible parameter count"},
      {"10^12-byte meta claimed", huge_meta.container("EMBRCKPT", 1), "meta count 1000000000000"},
      {"bad dtype code", checkpoint_with_tensor(9, {1}, 4, four_floats.substr(0, 4)), "invalid tensor dtype code 9"},
      {"10^12 x 10^12 tensor", checkpoint_with_tensor(0, {int64_t(kHuge), int64_t(kHuge)}, 0, ""), "tensor too large"},
      {"[0, 2^33, 2^32 + 3] tensor (strides overflow)", checkpoint_with_tensor(0, {0, int64_t(1) << 33, (int64_t(1) << 32) + 3}, 0, ""), "tensor too large"},
      {"2^41 dimension", checkpoint_with_tensor(0, {int64_t(1) << 41}, 0, ""), "invalid tensor dimension 2199023255552"},
      {"10^12-row tensor", checkpoint_with_tensor(0, {int64_t(kHuge), 4}, kHuge * 16, ""), "tensor too large"},
      {"negative dimension", checkpoint_with_tensor(0, {-4}, 16, four_floats), "invalid tensor dimension -4"},
      {"rank 100", checkpoint_with_tensor(0, std::vector<int64_t>(100, 1), 4, "abcd"), "corrupt tensor shape count 100"},
      {"byte count disagrees with shape", checkpoint_with_tensor(0, {2, 2}, 12, four_floats), "has 12 data bytes"},
      {"data missing", checkpoint_with_tensor(0, {100000, 4}, 1600000, ""), "tensor data claims 1600000 elements"},
  };
  ember_test::TempDir dir("rel_ckpt");
  for (const Bad& b : t) {
    const std::string path = dir / "c.bin";
    std::error_code ec;
    fs::remove(path, ec);
    if (b.content != kMissing) write_bytes(path, b.content);
    AddressSpaceCap cap(uint64_t(8) << 30);
    expect_error("checkpoint / " + b.name, b.expect, [&] { load_checkpoint(path); });
  }
  expect_error("checkpoint / other config", "different model configuration", [&] { load_checkpoint(d / "c.bin", 78); });
}

namespace {
// hnswlib 0.6's serialised header (engine/retrieval/hnsw_index.cpp checks it field by field).
struct HnswBlobHeader {
  uint64_t offset_level0 = 0, max_elements = 4, cur_count = 4, size_per_element = 0, label_offset = 0, offset_data = 0;
  int32_t max_level = 0;
  uint32_t enterpoint = 0;
  uint64_t max_m = 4, max_m0 = 8, m = 4;
  double mult = 0.72;
  uint64_t ef_construction = 16;
  std::vector<uint8_t> bytes() const {
    MemoryWriter w;
    w.put(offset_level0); w.put(max_elements); w.put(cur_count); w.put(size_per_element); w.put(label_offset);
    w.put(offset_data); w.put(max_level); w.put(enterpoint); w.put(max_m); w.put(max_m0); w.put(m); w.put(mult);
    w.put(ef_construction);
    return w.bytes();
  }
};
}  // namespace

TEST_CASE("reliability corpus: HNSW index file", "[reliability]") {
  ember_test::TempDir d("rel_hnsw_src");
  std::vector<float> emb;
  for (int i = 0; i < 32 * 4; ++i) emb.push_back(static_cast<float>((i * 37) % 11) - 5.0f);
  HnswIndex idx;
  HnswConfig hc;
  hc.M = 4;
  hc.ef_construction = 16;
  hc.build_threads = 1;
  idx.build(emb.data(), 32, 4, hc);
  idx.save(d / "i.hnsw");
  const std::string good = read_file_text(d / "i.hnsw");
  // The hnswlib blob of the good file (format 2, one shard): the payload after
  // the 40-byte ember header, the i32 shard count, the shard's i64 first row
  // and i64 rows, and the blob's u64 count. hnsw_with wraps it as format 1.
  const std::vector<uint8_t> blob(good.begin() + 64 + 40 + 4 + 8 + 8 + 8, good.end());
  REQUIRE(hnsw_with(1, 4, 32, 128, blob).size() > 0);
  auto patched = [&](size_t off, uint64_t v, size_t width = 8) {
    std::vector<uint8_t> b = blob;
    std::memcpy(b.data() + off, &v, width);
    return hnsw_with(1, 4, 32, 128, b);
  };
  // Offsets in hnswlib's header: 8 max_elements, 16 cur_count, 24 size_per_element,
  // 32 label_offset, 40 offset_data, 48 max_level, 52 enterpoint, 56 maxM, 64 maxM0, 72 M.
  const size_t header = 96;
  const uint64_t per = 4 + 8 * 4 + 4 * 4 + 8;  // link count + maxM0 ids + data + label
  std::vector<uint8_t> short_blob(blob.begin(), blob.begin() + header);
  std::vector<uint8_t> neighbour_out = blob;  // first level-0 link of element 0 -> 10^6
  {
    uint32_t count = 1, id = 1000000;
    std::memcpy(neighbour_out.data() + header, &count, 4);
    std::memcpy(neighbour_out.data() + header + 4, &id, 4);
  }
  std::vector<uint8_t> deleted = blob;  // element 0 marked deleted
  deleted[header + 2] = 1;
  const std::vector<Bad> t = {
      {"missing file", kMissing, "cannot open"},
      {"empty", "", "truncated: 0 bytes"},
      {"truncated", good.substr(0, good.size() - 100), "truncated or corrupted"},
      {"wrong magic", "EMBGRAPH" + good.substr(8), "wrong magic"},
      {"header bit flip", flip(good, 17), "header checksum mismatch"},
      {"payload bit flip", flip(good, good.size() - 200, 1), "payload checksum mismatch"},
      {"future version", with_version(good, 3), "format version 3 not supported"},
      {"unknown metric", hnsw_with(2, 4, 32, 128, blob), "unknown metric 2"},
      {"dimension 0", hnsw_with(1, 0, 32, 128, blob), "corrupt header"},
      {"10^12 vectors claimed (header)", hnsw_with(1, 4, int64_t(kHuge), 128, blob), "header says 1000000000000"},
      {"ef 0", hnsw_with(1, 4, 32, 0, blob), "corrupt header"},
      {"empty hnswlib blob", hnsw_with(1, 4, 32, 128, {}), "hnswlib"},
      {"garbage hnswlib blob", hnsw_with(1, 4, 32, 128, std::vector<uint8_t>(500, 0xab)), "hnswlib"},
      {"blob cut after its header", hnsw_with(1, 4, 32, 128, short_blob), "hnswlib"},
      {"blob: 10^12 elements claimed", patched(16, kHuge), "hnswlib"},
      {"blob: capacity 10^12", patched(8, kHuge), "hnswlib"},
      {"blob: element size 10^12", patched(24, kHuge), "hnswlib"},
      {"blob: label offset past the element", patched(32, per + 100), "hnswlib"},
      {"blob: data offset past the element", patched(40, per * 2), "hnswlib"},
      {"blob: level 10^6", patched(48, 1000000, 4), "hnswlib"},
      {"blob: entry point 10^6", patched(52, 1000000, 4), "hnswlib"},
      {"blob: maxM0 10^12", patched(64, kHuge), "hnswlib"},
      {"blob: neighbour id out of range", hnsw_with(1, 4, 32, 128, neighbour_out), "hnswlib"},
      {"blob: deleted element", hnsw_with(1, 4, 32, 128, deleted), "hnswlib"},
      {"blob: header of another index", hnsw_with(1, 4, 32, 128, HnswBlobHeader{}.bytes()), "hnswlib"},
  };
  ember_test::TempDir dir("rel_hnsw");
  for (const Bad& b : t) {
    const std::string path = dir / "i.hnsw";
    std::error_code ec;
    fs::remove(path, ec);
    if (b.content != kMissing) write_bytes(path, b.content);
    AddressSpaceCap cap(uint64_t(8) << 30);
    expect_error("hnsw / " + b.name, b.expect, [&] {
      HnswIndex loaded = HnswIndex::load(path);
      loaded.search_users({0, 31}, 5, nullptr);  // only reached when the load was (wrongly) accepted
    });
  }
  expect_error("hnsw / wrong dimension", "index has dimension 4, expected 8", [&] { HnswIndex::load(d / "i.hnsw", 8); });
  // The untouched blob wrapped again is accepted and searchable.
  write_bytes(dir / "ok.hnsw", hnsw_with(1, 4, 32, 128, blob));
  REQUIRE(HnswIndex::load(dir / "ok.hnsw").search_users({0}, 3, nullptr).row(0)[0] >= 0);
}

TEST_CASE("reliability corpus: .npy", "[reliability]") {
  const std::string good = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 24);
  {
    ember_test::TempDir d("rel_npy_ok");
    write_bytes(d / "ok.npy", good);
    REQUIRE(load_npy(d / "ok.npy").shape() == Shape{3, 2});
  }
  const std::vector<Bad> t = {
      {"missing file", kMissing, "cannot open"},
      {"empty", "", "bad magic"},
      {"text", "hello, not numpy", "bad magic"},
      {"magic only", "\x93NUMPY", "bad magic"},
      {"version 2.0", std::string(good).replace(6, 1, "\x02"), "unsupported .npy version 2.0"},
      {"header length past the end", good.substr(0, 9) + "\xff", "truncated .npy header"},
      {"float64", npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 48), "expected float32"},
      {"big-endian", npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", 24), "expected float32"},
      {"Fortran order", npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", 24), "Fortran-order"},
      {"1-D", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24), "expected a 2-D shape"},
      {"3-D", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2), }", 24), "expected a 2-D shape"},
      {"10^12 rows claimed", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 4), }", 24), "(truncated or corrupt)"},
      {"rows overflow uint64", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }", 24), "shape"},
      {"10^6-digit row count", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(60000, '7') + ", 2), }", 24), "shape"},
      {"negative rows", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 2), }", 24), "expected a 2-D shape"},
      {"truncated data", good.substr(0, good.size() - 4), "needs 24 bytes of data, file has 20"},
      {"extra data", good + "abcd", "file has 28"},
      {"header without shape", npy_with_header("{'descr': '<f4', 'fortran_order': False, }", 24), "expected a 2-D shape"},
  };
  replay("npy", "e.npy", t, [](const std::string& p) {
    AddressSpaceCap cap(uint64_t(8) << 30);
    load_npy(p);
  });
}

// ---- truncation at every length and a flip of every byte ---------------------------------

TEST_CASE("reliability corpus: every truncation and every single-byte flip of a binary file is detected",
          "[reliability]") {
  ember_test::TempDir d("rel_sweep");
  Graph g = small_graph();
  save_graph_cache(d / "g.egraph", g, 5);
  Checkpoint c;
  c.meta_json = "{}";
  c.params.emplace_back("w", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  save_checkpoint(d / "c.bin", c);
  std::vector<float> emb;
  for (int i = 0; i < 16 * 4; ++i) emb.push_back(static_cast<float>((i * 13) % 7) - 3.0f);
  HnswIndex idx;
  HnswConfig hc;
  hc.M = 4;
  hc.ef_construction = 8;
  hc.build_threads = 1;
  idx.build(emb.data(), 16, 4, hc);
  idx.save(d / "i.hnsw");
  save_npy(d / "e.npy", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}));
  struct File {
    std::string name;
    std::function<void(const std::string&)> load;
    bool checksummed;
  };
  const std::vector<File> files = {
      {"g.egraph", [](const std::string& p) { load_graph_cache(p); }, true},
      {"c.bin", [](const std::string& p) { load_checkpoint(p); }, true},
      {"i.hnsw", [](const std::string& p) { HnswIndex::load(p); }, true},
      {"e.npy", [](const std::string& p) { load_npy(p); }, false},
  };
  for (const File& f : files) {
    const std::string good = read_file_text(d / f.name);
    const std::string path = d / ("bad_" + f.name);
    size_t tried = 0, detected = 0;
    for (size_t len = 0; len < good.size(); ++len) {
      write_bytes(path, good.substr(0, len));
      ++tried;
      try {
        f.load(path);
      } catch (const Error&) {
        ++detected;
      }
    }
    INFO(f.name << ": " << detected << " of " << tried << " truncations detected");
    CHECK(detected == tried);
    const size_t truncations = tried, truncations_detected = detected;
    // One bit flipped in every byte (the bit rotates with the position). The
    // .npy format has no checksum: only flips in its header are detectable;
    // the sweep covers the header there.
    const size_t limit = f.checksummed ? good.size() : good.size() - 24;
    tried = detected = 0;
    for (size_t i = 0; i < limit; ++i) {
      const std::string bad = flip(good, i, static_cast<unsigned>(i % 8));
      write_bytes(path, bad);
      ++tried;
      try {
        f.load(path);
      } catch (const Error&) {
        ++detected;
      }
    }
    INFO(f.name << ": " << detected << " of " << tried << " byte flips detected");
    WARN(f.name << " (" << good.size() << " bytes): " << truncations_detected << " of " << truncations
                << " truncations and " << detected << " of " << tried << " single-byte flips detected");
    if (f.checksummed) CHECK(detected == tried);
    // Flips inside the .npy header padding (spaces) or the dict's free text can
    // go unnoticed; require the magic, version and length bytes at least.
    else CHECK(detected >= 10);
  }
}
