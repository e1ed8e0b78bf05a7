// Node feature readers: MUSAE JSON, numeric tables, SNAP ego-Facebook.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "engine/io/binary_io.h"
#include "engine/data/loaders.h"
#include "engine/data/loaders_text.h"

namespace ember {

namespace {

// Appends one row (feature ids in any order, repeats allowed) to `out`.
void append_row(std::vector<int64_t>& ids_tmp, RepeatedFeature mode, SparseFeatures& out) {
  std::sort(ids_tmp.begin(), ids_tmp.end());
  for (size_t i = 0; i < ids_tmp.size();) {
    size_t j = i;
    while (j < ids_tmp.size() && ids_tmp[j] == ids_tmp[i]) ++j;
    out.col.push_back(static_cast<int32_t>(ids_tmp[i]));
    out.val.push_back(mode == RepeatedFeature::Count ? static_cast<float>(j - i) : 1.0f);
    i = j;
  }
  out.row_ptr.push_back(static_cast<int64_t>(out.col.size()));
  ++out.num_rows;
}

int64_t line_of_offset(const std::string& text, size_t off) {
  off = std::min(off, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(off), '\n');
}

// SAX handler for {"id": [int, ...], ...}: builds rows without a DOM.
class MusaeSax {
 public:
  using json = nlohmann::json;
  MusaeSax(RawFeatures& out, const FeatureReadOptions& opts) : out_(out), opts_(opts) {}

  bool null() { return bad_value("null"); }
  bool boolean(bool) { return bad_value("a boolean"); }
  bool number_integer(json::number_integer_t v) { return feature(static_cast<long double>(v), v < 0, static_cast<int64_t>(v)); }
  bool number_unsigned(json::number_unsigned_t v) {
    return feature(static_cast<long double>(v), false,
                   v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                                   : static_cast<int64_t>(v));
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    if (!in_array_) return bad_value("a number");
    return fail("feature id " + std::to_string(v) + " is not an integer, expected integer feature ids");
  }
  bool string(json::string_t& s) { return bad_value("the string \"" + s.substr(0, 40) + "\""); }
  bool binary(json::binary_t&) { return bad_value("binary data"); }
  bool start_object(std::size_t) {
    if (depth_ == 0 && !done_) { depth_ = 1; return true; }
    return fail(in_array_ ? "nested object inside a feature list, expected integer feature ids"
                          : "nested object, expected {\"node id\": [feature ids]}");
  }
  bool end_object() { depth_ = 0; done_ = true; return true; }
  bool key(json::string_t& k) {
    key_ = k;
    const char* b = k.data();
    int64_t id = 0;
    auto r = std::from_chars(b, b + k.size(), id);
    if (k.empty() || r.ec != std::errc() || r.ptr != b + k.size())
      return fail(r.ec == std::errc::result_out_of_range ? "node id overflows int64, expected an integer key"
                                                         : "non-numeric node id key, expected an integer");
    if (id < 0) return fail("negative node id key, expected an integer >= 0");
    out_.ids.push_back(id);
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ != 1 || in_array_)
      return fail(in_array_ ? "nested list, expected integer feature ids" : "top level is a list, expected a JSON object {\"node id\": [feature ids]}");
    if (out_.ids.size() != static_cast<size_t>(out_.rows.num_rows) + 1) return fail("list without a node id key");
    in_array_ = true;
    tmp_.clear();
    return true;
  }
  bool end_array() {
    in_array_ = false;
    append_row(tmp_, opts_.repeated, out_.rows);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error_ = std::string("bad JSON: ") + ex.what();
    syntax_ = true;
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& error_key() const { return key_; }
  bool syntax_error() const { return syntax_; }
  bool finished() const { return done_; }

 private:
  bool bad_value(const std::string& what) {
    if (in_array_) return fail("feature list holds " + what + ", expected integer feature ids");
    if (depth_ == 1) return fail("node value is " + what + ", expected a list of feature ids");
    return fail("top level is " + what + ", expected a JSON object {\"node id\": [feature ids]}");
  }
  bool feature(long double, bool negative, int64_t v) {
    if (!in_array_) return bad_value("a number");
    const int64_t limit = opts_.num_cols >= 0 ? opts_.num_cols : int64_t{std::numeric_limits<int32_t>::max()};
    if (negative || v >= limit)
      return fail("feature id " + std::to_string(v) + " out of range, expected 0.." + std::to_string(limit - 1));
    tmp_.push_back(v);
    return true;
  }
  bool fail(const std::string& msg) {
    if (error_.empty()) error_ = msg;
    return false;
  }

  RawFeatures& out_;
  FeatureReadOptions opts_;
  std::vector<int64_t> tmp_;
  std::string key_, error_;
  int depth_ = 0;
  bool in_array_ = false, done_ = false, syntax_ = false;
};

int32_t finish_num_cols(const SparseFeatures& rows, int64_t requested, const std::string& path) {
  if (requested >= 0) {
    EMBER_CHECK(requested <= std::numeric_limits<int32_t>::max(), path << ": vocabulary size " << requested << " too large");
    return static_cast<int32_t>(requested);
  }
  int32_t mx = -1;
  for (int32_t c : rows.col) mx = std::max(mx, c);
  return mx + 1;
}

void check_unique_ids(const RawFeatures& raw, const std::string& path) {
  std::vector<int64_t> s = raw.ids;
  std::sort(s.begin(), s.end());
  auto it = std::adjacent_find(s.begin(), s.end());
  EMBER_CHECK(it == s.end(), path << ": node id " << *it << " has two feature rows, expected one per node");
}

}  // namespace

RawFeatures read_musae_features(const std::string& path, const FeatureReadOptions& opts) {
  EMBER_CHECK(file_exists(path), "cannot open " << path << ": missing file (or not a regular file)");
  std::string text = read_file_text(path);
  EMBER_CHECK(!text.empty(), path << ": empty file, expected a JSON object {\"node id\": [feature ids]}");
  RawFeatures raw;
  MusaeSax sax(raw, opts);
  bool ok = nlohmann::json::sax_parse(text, &sax);
  if (!ok || !sax.finished()) {
    if (sax.syntax_error()) EMBER_FAIL(path << ": " << sax.error());
    if (sax.error().empty()) EMBER_FAIL(path << ": bad JSON: expected a JSON object {\"node id\": [feature ids]}");
    // Semantic error: locate the node's key for a line number.
    size_t at = sax.error_key().empty() ? std::string::npos : text.find("\"" + sax.error_key() + "\"");
    if (at != std::string::npos)
      EMBER_FAIL(path << ":" << line_of_offset(text, at) << ": node \"" << sax.error_key() << "\": " << sax.error());
    EMBER_FAIL(path << ": " << sax.error());
  }
  EMBER_CHECK(!raw.ids.empty(), path << ": no node entries, expected {\"node id\": [feature ids], ...}");
  check_unique_ids(raw, path);
  raw.rows.num_cols = finish_num_cols(raw.rows, opts.num_cols, path);
  return raw;
}

RawFeatures read_dense_features(const std::string& path, const DenseFeatureOptions& opts) {
  text::LineReader in(path);
  RawFeatures raw;
  std::string_view line;
  std::vector<std::string_view> f;
  bool header_skipped = !opts.header;
  int64_t width = -1, width_line = 0;
  std::unordered_map<int64_t, int64_t> first_line;
  std::vector<int64_t> dummy;
  while (in.next(line)) {
    if (text::is_blank_or_comment(line, opts.sep == 0 ? '#' : 0)) continue;
    if (!header_skipped) { header_skipped = true; continue; }
    if (opts.sep == 0) text::split_ws(line, f);
    else text::split_char(line, opts.sep, f);
    if (f.size() < 2) in.fail("truncated line " + text::quote(line) + ": expected 'id, x_1, ..., x_d'");
    int64_t d = static_cast<int64_t>(f.size()) - 1;
    if (width < 0) { width = d; width_line = in.line_no(); }
    if (d != width)
      in.fail("truncated line: " + std::to_string(d) + " values, expected " + std::to_string(width) + " (as on line " +
              std::to_string(width_line) + ")");
    EMBER_CHECK(width <= std::numeric_limits<int32_t>::max(), path << ": too many columns");
    int64_t id = text::parse_id(f[0], in, "node id");
    auto ins = first_line.emplace(id, in.line_no());
    if (!ins.second)
      in.fail("duplicate node id " + std::to_string(id) + " (first on line " + std::to_string(ins.first->second) +
              "), expected one row per node");
    raw.ids.push_back(id);
    for (int64_t j = 0; j < d; ++j) {
      double v = text::parse_number(f[static_cast<size_t>(j) + 1], in, "feature value");
      if (v != 0.0) {
        raw.rows.col.push_back(static_cast<int32_t>(j));
        raw.rows.val.push_back(static_cast<float>(v));
      }
    }
    raw.rows.row_ptr.push_back(static_cast<int64_t>(raw.rows.col.size()));
    ++raw.rows.num_rows;
  }
  EMBER_CHECK(!raw.ids.empty(), path << ": no feature rows, expected lines 'id, x_1, ..., x_d'");
  raw.rows.num_cols = static_cast<int32_t>(width);
  return raw;
}

RawFeatures read_ego_facebook_features(const std::string& ego_dir) {
  namespace fs = std::filesystem;
  EMBER_CHECK(fs::is_directory(ego_dir), "cannot open " << ego_dir << ": missing directory, expected SNAP ego/ files");
  std::vector<std::string> egos;
  for (const auto& ent : fs::directory_iterator(ego_dir))
    if (ent.path().extension() == ".featnames") egos.push_back(ent.path().stem().string());
  std::sort(egos.begin(), egos.end());
  EMBER_CHECK(!egos.empty(), ego_dir << ": no <ego>.featnames files");
  std::vector<std::pair<int64_t, int32_t>> pairs;  // (node, global feature)
  std::vector<std::string_view> f;
  std::string_view line;
  for (const std::string& e : egos) {
    const std::string base = ego_dir + "/" + e;
    // featnames: "<local index> <name>;anonymized feature <K>"
    std::vector<int32_t> global;
    {
      text::LineReader in(base + ".featnames");
      while (in.next(line)) {
        if (text::is_blank_or_comment(line, 0)) continue;
        text::split_ws(line, f);
        if (f.size() < 2) in.fail("truncated line: expected '<index> <name>;anonymized feature <K>'");
        int64_t idx = text::parse_id(f[0], in, "feature index");
        int64_t k = text::parse_id(f.back(), in, "anonymized feature number");
        if (idx != static_cast<int64_t>(global.size()))
          in.fail("feature index " + std::to_string(idx) + ", expected " + std::to_string(global.size()));
        if (k > 10000000) in.fail("anonymized feature number " + std::to_string(k) + " out of range, expected < 10^7");
        global.push_back(static_cast<int32_t>(k));
      }
    }
    const size_t d = global.size();
    auto read_row = [&](const text::LineReader& in, int64_t node, size_t first) {
      if (f.size() != first + d)
        in.fail("truncated line: " + std::to_string(f.size() - first) + " feature values, expected " + std::to_string(d) +
                " (from " + e + ".featnames)");
      for (size_t j = 0; j < d; ++j)
        if (text::parse_number(f[first + j], in, "feature value") != 0.0) pairs.emplace_back(node, global[j]);
    };
    {
      text::LineReader in(base + ".feat");
      while (in.next(line)) {
        if (text::is_blank_or_comment(line, 0)) continue;
        text::split_ws(line, f);
        if (f.empty()) continue;
        read_row(in, text::parse_id(f[0], in, "node id"), 1);
      }
    }
    if (file_exists(base + ".egofeat")) {
      int64_t ego_id = -1;
      try {
        ego_id = std::stoll(e);
      } catch (...) {
        EMBER_FAIL(base << ".egofeat: ego name '" << e << "' is not a node id");
      }
      text::LineReader in(base + ".egofeat");
      while (in.next(line)) {
        if (text::is_blank_or_comment(line, 0)) continue;
        text::split_ws(line, f);
        read_row(in, ego_id, 0);
      }
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  RawFeatures raw;
  int32_t mx = -1;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i == 0 || pairs[i].first != pairs[i - 1].first) {
      if (i > 0) { raw.rows.row_ptr.push_back(static_cast<int64_t>(raw.rows.col.size())); ++raw.rows.num_rows; }
      raw.ids.push_back(pairs[i].first);
    }
    raw.rows.col.push_back(pairs[i].second);
    raw.rows.val.push_back(1.0f);
    mx = std::max(mx, pairs[i].second);
  }
  if (!pairs.empty()) { raw.rows.row_ptr.push_back(static_cast<int64_t>(raw.rows.col.size())); ++raw.rows.num_rows; }
  raw.rows.num_cols = mx + 1;
  return raw;
}

SparseFeatures align_features(const RawFeatures& raw, const IdMap& ids, const std::string& source, bool allow_unknown) {
  EMBER_CHECK(raw.rows.num_rows == static_cast<int64_t>(raw.ids.size()),
              source << ": " << raw.ids.size() << " ids for " << raw.rows.num_rows << " feature rows");
  const int64_t n = ids.size();
  std::vector<int64_t> src_row(static_cast<size_t>(n), -1);
  for (size_t r = 0; r < raw.ids.size(); ++r) {
    int64_t d = ids.dense(raw.ids[r]);
    if (d < 0) {
      EMBER_CHECK(allow_unknown, source << ": feature row for node id " << raw.ids[r] << ", which is not a node of the graph");
      continue;
    }
    EMBER_CHECK(src_row[d] < 0, source << ": node id " << raw.ids[r] << " has two feature rows");
    src_row[d] = static_cast<int64_t>(r);
  }
  SparseFeatures out;
  out.num_rows = n;
  out.num_cols = raw.rows.num_cols;
  out.row_ptr.assign(static_cast<size_t>(n) + 1, 0);
  for (int64_t u = 0; u < n; ++u)
    out.row_ptr[u + 1] = out.row_ptr[u] + (src_row[u] < 0 ? 0 : raw.rows.row_nnz(src_row[u]));
  out.col.resize(static_cast<size_t>(out.row_ptr[n]));
  out.val.resize(out.col.size());
  for (int64_t u = 0; u < n; ++u) {
    if (src_row[u] < 0) continue;
    int64_t b = raw.rows.row_ptr[src_row[u]], e = raw.rows.row_ptr[src_row[u] + 1];
    std::copy(raw.rows.col.begin() + b, raw.rows.col.begin() + e, out.col.begin() + out.row_ptr[u]);
    std::copy(raw.rows.val.begin() + b, raw.rows.val.begin() + e, out.val.begin() + out.row_ptr[u]);
  }
  return out;
}

}  // namespace ember
