// SNAP and CSV edge lists, and CSV label columns.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "engine/data/loaders.h"
#include "engine/data/loaders_text.h"

namespace ember {

using text::LineReader;

EdgeList read_snap_edges(const std::string& path) {
  LineReader in(path);
  EdgeList e;
  std::string_view line;
  std::vector<std::string_view> f;
  while (in.next(line)) {
    if (text::is_blank_or_comment(line, '#')) continue;
    text::split_ws(line, f);
    if (f.size() < 2)
      in.fail("truncated line " + text::quote(line) + ": expected two node ids 'u v', got " +
              std::to_string(f.size()) + " field");
    e.add(text::parse_id(f[0], in, "node id"), text::parse_id(f[1], in, "node id"));
  }
  EMBER_CHECK(e.size() > 0, path << ": no edges (only comments or blank lines), expected lines 'u v'");
  return e;
}

EdgeList read_csv_edges(const std::string& path, const CsvEdgeOptions& opts) {
  EMBER_CHECK(opts.src_col >= 0 && opts.dst_col >= 0 && opts.src_col != opts.dst_col,
              "read_csv_edges: bad column choice " << opts.src_col << ", " << opts.dst_col);
  LineReader in(path);
  EdgeList e;
  std::string_view line;
  std::vector<std::string_view> f;
  const size_t need = static_cast<size_t>(std::max(opts.src_col, opts.dst_col)) + 1;
  bool header_seen = !opts.header;
  while (in.next(line)) {
    if (text::is_blank_or_comment(line, 0)) continue;
    text::split_char(line, opts.sep, f);
    if (!header_seen) {
      header_seen = true;
      // A numeric first row means the header is missing: refuse rather than drop an edge.
      bool numeric = f.size() >= need && !f[0].empty() &&
                     std::all_of(f[0].begin(), f[0].end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (numeric)
        in.fail("expected a header line (e.g. 'node_1,node_2'), got the data row " + text::quote(line));
      continue;
    }
    if (f.size() < need)
      in.fail("truncated line " + text::quote(line) + ": expected " + std::to_string(need) + " fields separated by '" +
              std::string(1, opts.sep) + "', got " + std::to_string(f.size()));
    e.add(text::parse_id(f[opts.src_col], in, "node id"), text::parse_id(f[opts.dst_col], in, "node id"));
  }
  EMBER_CHECK(header_seen, path << ": no header line, expected e.g. 'node_1,node_2'");
  EMBER_CHECK(e.size() > 0, path << ": header only, no edge rows");
  return e;
}

std::vector<std::pair<int64_t, int64_t>> read_csv_labels(const std::string& path, const std::string& id_column,
                                                         const std::string& label_column) {
  LineReader in(path);
  std::string_view line;
  std::vector<std::string_view> f;
  int id_col = -1, label_col = -1;
  size_t ncols = 0;
  std::vector<std::pair<int64_t, int64_t>> out;
  std::unordered_map<int64_t, char> seen;
  while (in.next(line)) {
    if (text::is_blank_or_comment(line, 0)) continue;
    text::split_char(line, ',', f);
    if (id_col < 0) {
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == id_column) id_col = static_cast<int>(i);
        if (f[i] == label_column) label_col = static_cast<int>(i);
      }
      if (id_col < 0 || label_col < 0)
        in.fail("header " + text::quote(line) + " lacks column '" + (id_col < 0 ? id_column : label_column) + "'");
      ncols = f.size();
      continue;
    }
    if (f.size() != ncols)
      in.fail("truncated line " + text::quote(line) + ": expected " + std::to_string(ncols) + " fields, got " +
              std::to_string(f.size()));
    int64_t id = text::parse_id(f[id_col], in, "node id");
    std::string_view lv = f[label_col];
    int64_t label;
    if (lv == "True" || lv == "true" || lv == "TRUE") label = 1;
    else if (lv == "False" || lv == "false" || lv == "FALSE") label = 0;
    else label = text::parse_id(lv, in, "label", /*allow_negative=*/true);
    if (seen.emplace(id, 1).second) out.emplace_back(id, label);  // keep the first row per id
  }
  EMBER_CHECK(id_col >= 0, path << ": no header line");
  return out;
}

std::vector<int64_t> align_labels(const std::vector<std::pair<int64_t, int64_t>>& labels, const IdMap& ids) {
  std::vector<int64_t> out(static_cast<size_t>(ids.size()), -1);
  for (const auto& p : labels) {
    int64_t d = ids.dense(p.first);
    if (d >= 0) out[static_cast<size_t>(d)] = p.second;
  }
  return out;
}

}  // namespace ember
