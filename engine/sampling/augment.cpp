#include "engine/sampling/augment.h"

#include <algorithm>

#include "core/philox.h"

namespace ember {

namespace {
constexpr uint64_t kColumnStream = 0x434f4c53;  // "COLS"
constexpr uint64_t kMaskStream = 0x4d41534b;    // "MASK"

void check_rate(double rate, const char* what) {
  EMBER_CHECK(rate >= 0 && rate <= 1, what << ": rate " << rate << ", expected 0..1");
}

double unit(philox::U4 r) {
  uint64_t b = (static_cast<uint64_t>(r.y) << 32) | r.x;
  return static_cast<double>(b >> 11) * (1.0 / 9007199254740992.0);
}

SparseFeatures filter_entries(const SparseFeatures& f, const std::vector<uint8_t>& drop_col, const std::vector<uint8_t>& drop_row) {
  SparseFeatures out;
  out.num_rows = f.num_rows;
  out.num_cols = f.num_cols;
  out.row_ptr.assign(static_cast<size_t>(f.num_rows) + 1, 0);
  out.col.reserve(f.col.size());
  out.val.reserve(f.val.size());
  for (int64_t r = 0; r < f.num_rows; ++r) {
    if (drop_row.empty() || !drop_row[r]) {
      for (int64_t k = f.row_ptr[r]; k < f.row_ptr[r + 1]; ++k) {
        if (!drop_col.empty() && drop_col[f.col[k]]) continue;
        out.col.push_back(f.col[k]);
        out.val.push_back(f.val[k]);
      }
    }
    out.row_ptr[r + 1] = static_cast<int64_t>(out.col.size());
  }
  return out;
}
}  // namespace

Subgraph drop_edges(const Subgraph& s, double rate, uint64_t seed) {
  check_rate(rate, "drop_edges");
  EMBER_CHECK(s.edge_src.size() == s.edge_dst.size(), "drop_edges: edge_src / edge_dst sizes differ");
  Subgraph out;
  out.global_ids = s.global_ids;
  out.num_queries = s.num_queries;
  out.batch_index = s.batch_index;
  out.features = s.features;
  out.edge_src.reserve(s.edge_src.size());
  out.edge_dst.reserve(s.edge_dst.size());
  for (size_t i = 0; i < s.edge_src.size(); ++i) {
    int32_t a = s.edge_src[i], b = s.edge_dst[i];
    EMBER_CHECK(a >= 0 && b >= 0 && a < s.num_nodes() && b < s.num_nodes(), "drop_edges: edge " << i << " out of range");
    uint64_t ga = static_cast<uint64_t>(s.global_ids[a]), gb = static_cast<uint64_t>(s.global_ids[b]);
    double x = unit(philox::philox4x32(std::min(ga, gb), std::max(ga, gb), seed));
    if (x < rate) continue;
    out.edge_src.push_back(a);
    out.edge_dst.push_back(b);
  }
  return out;
}

SparseFeatures drop_feature_columns(const SparseFeatures& f, double rate, uint64_t seed, std::vector<uint8_t>* dropped) {
  check_rate(rate, "drop_feature_columns");
  std::vector<uint8_t> drop(static_cast<size_t>(f.num_cols), 0);
  for (int32_t c = 0; c < f.num_cols; ++c) drop[c] = philox::uniform(seed, kColumnStream, static_cast<uint64_t>(c)) < rate;
  SparseFeatures out = filter_entries(f, drop, {});
  if (dropped) *dropped = std::move(drop);
  return out;
}

MaskedFeatures mask_query_features(const SparseFeatures& f, int32_t num_queries, double rate, uint64_t seed) {
  check_rate(rate, "mask_query_features");
  EMBER_CHECK(num_queries >= 0 && num_queries <= f.num_rows,
              "mask_query_features: " << num_queries << " queries but " << f.num_rows << " rows");
  MaskedFeatures m;
  std::vector<uint8_t> drop_row(static_cast<size_t>(f.num_rows), 0);
  for (int32_t r = 0; r < num_queries; ++r) {
    if (rate >= 1.0 || philox::uniform(seed, kMaskStream, static_cast<uint64_t>(r)) < rate) {
      drop_row[r] = 1;
      m.masked_rows.push_back(r);
    }
  }
  m.features = filter_entries(f, {}, drop_row);
  return m;
}

}  // namespace ember
