#include "engine/retrieval/hnsw_index.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <atomic>
#include <cstdio>
#include <filesystem>
// hnswlib's SSE prefetches read one id past the end of a link list (an
// upstream bug, harmless in practice, but AddressSanitizer stops on it):
// sanitizer builds use hnswlib's scalar code path.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>
#include <omp.h>

#include "engine/io/binary_io.h"

namespace ember {

namespace {
constexpr const char* kMagic = "EMBHNSW";
constexpr uint32_t kVersion = 2;  // 2: shards (reads 1)
constexpr uint32_t kMetricInnerProduct = 1;
std::atomic<uint64_t> g_seq{0};

// hnswlib 0.6's serialised index (HierarchicalNSW::saveIndex): a 96-byte
// header; cur_count level-0 records of size_per_element bytes (u16 link count
// + 2 flag bytes, maxM0 u32 neighbour ids, the vector, the u64 label); then per
// element a u32 byte count and its upper-level lists (u32 count + maxM ids per
// level). hnswlib's loadIndex trusts all of it (sizes it allocates, offsets and
// neighbour ids it dereferences), so everything is checked here first: a
// corrupt or hostile blob, even under a valid container checksum, becomes an
// ember::Error instead of a huge allocation or an out-of-bounds access.
constexpr size_t kBlobHeader = 96;
template <class T> T blob_get(const std::vector<uint8_t>& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

void check_hnsw_blob(const std::vector<uint8_t>& b, int64_t dim, int64_t first, int64_t n, int32_t M,
                     const std::string& path) {
  auto bad = [&](const std::string& why) { EMBER_FAIL(path << ": corrupt hnswlib index: " << why); };
  if (b.size() < kBlobHeader) bad(std::to_string(b.size()) + " bytes, expected at least a 96-byte header");
  const uint64_t offset_level0 = blob_get<uint64_t>(b, 0), max_elements = blob_get<uint64_t>(b, 8),
                 cur = blob_get<uint64_t>(b, 16), per = blob_get<uint64_t>(b, 24), label_off = blob_get<uint64_t>(b, 32),
                 data_off = blob_get<uint64_t>(b, 40);
  const int32_t max_level = blob_get<int32_t>(b, 48);
  const uint32_t entry = blob_get<uint32_t>(b, 52);
  const uint64_t max_m = blob_get<uint64_t>(b, 56), max_m0 = blob_get<uint64_t>(b, 64), m = blob_get<uint64_t>(b, 72);
  const double mult = blob_get<double>(b, 80);
  EMBER_CHECK(static_cast<int64_t>(cur) == n && cur >= 1, path << ": hnswlib index holds " << cur << " vectors, header says " << n);
  if (offset_level0 != 0 || max_elements != cur) bad("capacity " + std::to_string(max_elements) + " for " + std::to_string(cur) + " vectors");
  if (m != static_cast<uint64_t>(M) || max_m != m || max_m0 != 2 * m)
    bad("M " + std::to_string(m) + " / " + std::to_string(max_m) + " / " + std::to_string(max_m0) + ", expected M = " + std::to_string(M));
  const uint64_t links0 = max_m0 * 4 + 4, links = max_m * 4 + 4, data_bytes = static_cast<uint64_t>(dim) * 4;
  if (data_off != links0 || label_off != links0 + data_bytes || per != label_off + 8)
    bad("record layout (" + std::to_string(per) + " bytes per vector) does not match dimension " + std::to_string(dim));
  if (!(mult > 0 && std::isfinite(mult)) || max_level < 0 || max_level > 64 || entry >= cur)
    bad("level " + std::to_string(max_level) + ", entry point " + std::to_string(entry));
  if (cur > (b.size() - kBlobHeader) / per) bad("truncated level-0 records");
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (uint64_t i = 0; i < cur; ++i) {
    const size_t rec = kBlobHeader + i * per;
    const uint16_t count = blob_get<uint16_t>(b, rec);
    if (b[rec + 2] != 0 || b[rec + 3] != 0) bad("vector " + std::to_string(i) + " is marked deleted");
    if (count > max_m0) bad("vector " + std::to_string(i) + " has " + std::to_string(count) + " level-0 links");
    for (uint16_t j = 0; j < count; ++j)
      if (blob_get<uint32_t>(b, rec + 4 + 4 * j) >= cur) bad("vector " + std::to_string(i) + " links to a missing vector");
    const uint64_t label = blob_get<uint64_t>(b, rec + label_off) - static_cast<uint64_t>(first);
    if (label >= static_cast<uint64_t>(n) || seen[label]) bad("vector " + std::to_string(i) + " has a bad or repeated label");
    seen[label] = 1;
  }
  std::vector<uint32_t> level(cur, 0);
  std::vector<size_t> at(cur, 0);
  size_t pos = kBlobHeader + cur * per;
  for (uint64_t i = 0; i < cur; ++i) {
    if (b.size() - pos < 4) bad("truncated link lists");
    const uint32_t bytes = blob_get<uint32_t>(b, pos);
    pos += 4;
    if (bytes % links != 0 || bytes / links > static_cast<uint64_t>(max_level) || b.size() - pos < bytes)
      bad("vector " + std::to_string(i) + " has " + std::to_string(bytes) + " bytes of upper-level links");
    level[i] = static_cast<uint32_t>(bytes / links);
    at[i] = pos;
    pos += bytes;
  }
  if (pos != b.size()) bad(std::to_string(b.size() - pos) + " trailing bytes");
  if (level[entry] != static_cast<uint32_t>(max_level)) bad("the entry point is not on the top level");
  for (uint64_t i = 0; i < cur; ++i)
    for (uint32_t l = 1; l <= level[i]; ++l) {
      const size_t list = at[i] + (l - 1) * links;
      const uint32_t count = blob_get<uint32_t>(b, list);
      if (count > max_m) bad("vector " + std::to_string(i) + " has " + std::to_string(count) + " links on level " + std::to_string(l));
      for (uint32_t j = 0; j < count; ++j) {
        const uint32_t to = blob_get<uint32_t>(b, list + 4 + 4 * j);
        if (to >= cur || level[to] < l) bad("vector " + std::to_string(i) + " links to a vector missing from level " + std::to_string(l));
      }
    }
}

std::string scratch_path(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          ("ember_hnsw_" + std::string(tag) + "_" + std::to_string(::getpid()) + "_" + std::to_string(g_seq++)))
      .string();
}
}  // namespace

using Hnsw = hnswlib::HierarchicalNSW<float>;

struct HnswIndex::Impl {
  struct Shard {
    int64_t first = 0, n = 0;
    std::unique_ptr<Hnsw> index;
  };
  HnswConfig cfg;
  int64_t n = 0, dim = 0;
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::vector<Shard> shards;
  const Shard& shard_of(int64_t label) const {
    for (const Shard& s : shards)
      if (label >= s.first && label < s.first + s.n) return s;
    EMBER_FAIL("HnswIndex: no shard holds vector " << label);
  }
};

namespace {

// hnswlib's bytes of one shard, checked for truncation (hnswlib writes through
// an unchecked std::ofstream: a full disk would leave a short blob).
std::vector<uint8_t> serialize(const Hnsw& ix, const std::string& what) {
  std::string tmp = scratch_path("save");
  std::vector<uint8_t> blob;
  try {
    const_cast<Hnsw&>(ix).saveIndex(tmp);
    blob = read_file_bytes(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  std::remove(tmp.c_str());
  uint64_t expected = kBlobHeader + ix.cur_element_count * ix.size_data_per_element_;
  for (size_t i = 0; i < ix.cur_element_count; ++i)
    expected += 4 + static_cast<uint64_t>(ix.element_levels_[i]) * ix.size_links_per_element_;
  EMBER_CHECK(blob.size() == expected, what << ": hnswlib wrote " << blob.size() << " of " << expected
                                            << " bytes to the temporary file " << tmp
                                            << " (no space left in the temporary directory, or a file size limit)");
  return blob;
}

std::unique_ptr<Hnsw> deserialize(const std::vector<uint8_t>& blob, hnswlib::InnerProductSpace* space, int64_t dim,
                                  int64_t first, int64_t n, int32_t M, const std::string& what) {
  check_hnsw_blob(blob, dim, first, n, M, what);
  std::string tmp = scratch_path("load");
  std::unique_ptr<Hnsw> index;
  try {
    write_file_atomic(tmp, blob);
    index = std::make_unique<Hnsw>(space, tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    EMBER_FAIL(what << ": hnswlib could not load the index: " << e.what());
  }
  std::remove(tmp.c_str());
  EMBER_CHECK(static_cast<int64_t>(index->cur_element_count) == n,
              what << ": index holds " << index->cur_element_count << " vectors, header says " << n);
  return index;
}

}  // namespace

HnswIndex::HnswIndex() : impl_(new Impl) {}
HnswIndex::~HnswIndex() = default;
HnswIndex::HnswIndex(HnswIndex&&) noexcept = default;
HnswIndex& HnswIndex::operator=(HnswIndex&&) noexcept = default;

int64_t HnswIndex::size() const { return impl_->n; }
int64_t HnswIndex::dim() const { return impl_->dim; }
const HnswConfig& HnswIndex::config() const { return impl_->cfg; }
int32_t HnswIndex::shards() const { return static_cast<int32_t>(impl_->shards.size()); }

void HnswIndex::set_ef(int32_t ef) {
  EMBER_CHECK(ef >= 1, "HnswIndex: ef = " << ef << ", expected >= 1");
  impl_->cfg.ef = ef;
  for (auto& s : impl_->shards)
    if (s.index) s.index->setEf(static_cast<size_t>(ef));
}

void HnswIndex::build(const float* emb, int64_t n, int64_t dim, const HnswConfig& cfg,
                      const std::vector<int32_t>& only) {
  EMBER_CHECK(n >= 1 && dim >= 1, "HnswIndex::build: bad shape " << n << " x " << dim);
  EMBER_CHECK(n <= std::numeric_limits<int32_t>::max(), "HnswIndex::build: too many vectors " << n);
  EMBER_CHECK(cfg.M >= 2 && cfg.M <= 1000, "HnswIndex: M = " << cfg.M << ", expected 2..1000");
  EMBER_CHECK(cfg.ef_construction >= 1 && cfg.ef >= 1, "HnswIndex: ef and ef_construction must be >= 1");
  EMBER_CHECK(cfg.shards >= 1 && cfg.shards <= n, "HnswIndex: shards = " << cfg.shards << ", expected 1.." << n);
  for (int32_t s : only)
    EMBER_CHECK(s >= 0 && s < cfg.shards, "HnswIndex::build: shard " << s << " of " << cfg.shards);
  std::vector<float> x = l2_normalized(emb, n, dim);
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->n = n;
  impl->dim = dim;
  impl->space = std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(dim));
  impl->shards.resize(static_cast<size_t>(cfg.shards));
  const int threads = cfg.build_threads > 0 ? cfg.build_threads : omp_get_max_threads();
  for (int32_t s = 0; s < cfg.shards; ++s) {
    auto& sh = impl->shards[static_cast<size_t>(s)];
    sh.first = shard_first(n, cfg.shards, s);
    sh.n = shard_first(n, cfg.shards, s + 1) - sh.first;
    if (!only.empty() && std::find(only.begin(), only.end(), s) == only.end()) continue;
    try {
      sh.index = std::make_unique<Hnsw>(impl->space.get(), static_cast<size_t>(sh.n), static_cast<size_t>(cfg.M),
                                        static_cast<size_t>(cfg.ef_construction), static_cast<size_t>(cfg.seed + s));
    } catch (const std::exception& e) {
      EMBER_FAIL("HnswIndex::build: hnswlib failed to allocate " << sh.n << " x " << dim << ": " << e.what());
    }
    Hnsw* index = sh.index.get();
    // The first point alone (sets the entry point), then the rest in parallel.
    index->addPoint(x.data() + sh.first * dim, static_cast<hnswlib::labeltype>(sh.first));
    std::atomic<bool> failed{false};
    std::string why;
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads)
    for (int64_t i = sh.first + 1; i < sh.first + sh.n; ++i) {
      if (failed) continue;
      try {
        index->addPoint(x.data() + i * dim, static_cast<hnswlib::labeltype>(i));
      } catch (const std::exception& e) {
#pragma omp critical
        { if (!failed.exchange(true)) why = e.what(); }
      }
    }
    EMBER_CHECK(!failed, "HnswIndex::build: hnswlib error: " << why);
    index->setEf(static_cast<size_t>(cfg.ef));
  }
  impl_ = std::move(impl);
}

std::vector<uint8_t> HnswIndex::shard_bytes(int32_t s) const {
  EMBER_CHECK(s >= 0 && s < shards() && impl_->shards[s].index, "HnswIndex::shard_bytes: shard " << s << " not built");
  return serialize(*impl_->shards[s].index, "HnswIndex shard " + std::to_string(s));
}

void HnswIndex::set_shard_bytes(int32_t s, const std::vector<uint8_t>& blob) {
  EMBER_CHECK(s >= 0 && s < shards(), "HnswIndex::set_shard_bytes: shard " << s << " of " << shards());
  auto& sh = impl_->shards[static_cast<size_t>(s)];
  sh.index = deserialize(blob, impl_->space.get(), impl_->dim, sh.first, sh.n, impl_->cfg.M,
                         "HnswIndex shard " + std::to_string(s));
  sh.index->setEf(static_cast<size_t>(impl_->cfg.ef));
}

Rankings HnswIndex::search(const float* queries, const std::vector<int32_t>& query_ids, int32_t k,
                           const Graph* exclude) const {
  EMBER_CHECK(!impl_->shards.empty(), "HnswIndex::search on an empty index (build() or load() first)");
  for (size_t s = 0; s < impl_->shards.size(); ++s)
    EMBER_CHECK(impl_->shards[s].index, "HnswIndex::search: shard " << s << " was never built or received");
  EMBER_CHECK(k >= 1, "HnswIndex::search: k = " << k << ", expected >= 1");
  EMBER_CHECK(!exclude || exclude->num_nodes() == impl_->n,
              "HnswIndex::search: exclusion graph has " << exclude->num_nodes() << " nodes, index " << impl_->n);
  // ef >= k holds per query: hnswlib searches with max(ef, fetch) and fetch >= k.
  const int64_t Q = static_cast<int64_t>(query_ids.size());
  const int64_t d = impl_->dim;
  Rankings out;
  out.queries = query_ids;
  out.resize(query_ids.size(), k);
  std::atomic<bool> failed{false};
  std::string why;
#pragma omp parallel if (Q > 8)  // single queries (a service's requests) stay on the caller's thread
  {
    std::vector<float> q(static_cast<size_t>(d));
    std::vector<std::pair<float, int32_t>> got;
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < Q; ++i) {
      if (failed) continue;
      const int32_t qid = query_ids[i];
      const float* src = queries + i * d;
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += static_cast<double>(src[j]) * src[j];
      float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.0f;
      for (int64_t j = 0; j < d; ++j) q[j] = src[j] * inv;
      // Each shard is asked for enough to fill k after the exclusions even if
      // every excluded user were its own; the union is then ranked.
      const size_t fetch = static_cast<size_t>(k) + (qid >= 0 ? 1 : 0) +
                           (qid >= 0 && exclude ? static_cast<size_t>(exclude->degree(qid)) : 0);
      got.clear();
      try {
        for (const auto& sh : impl_->shards) {
          auto pq = sh.index->searchKnn(q.data(), std::min(fetch, static_cast<size_t>(sh.n)));
          while (!pq.empty()) {
            auto p = pq.top();
            pq.pop();
            int32_t id = static_cast<int32_t>(p.second);
            if (qid >= 0 && (id == qid || (exclude && exclude->has_edge(qid, id)))) continue;
            got.emplace_back(1.0f - p.first, id);
          }
        }
      } catch (const std::exception& e) {
#pragma omp critical
        { if (!failed.exchange(true)) why = e.what(); }
        continue;
      }
      std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return topk_better(a.first, a.second, b.first, b.second); });
      for (int32_t j = 0; j < k && j < static_cast<int32_t>(got.size()); ++j) {
        out.ids[i * k + j] = got[j].second;
        out.scores[i * k + j] = got[j].first;
      }
    }
  }
  EMBER_CHECK(!failed, "HnswIndex::search: hnswlib error: " << why);
  return out;
}

Rankings HnswIndex::search_users(const std::vector<int32_t>& users, int32_t k, const Graph* exclude) const {
  EMBER_CHECK(!impl_->shards.empty(), "HnswIndex::search_users on an empty index");
  const int64_t d = impl_->dim;
  std::vector<float> q(users.size() * static_cast<size_t>(d));
  for (size_t i = 0; i < users.size(); ++i) {
    EMBER_CHECK(users[i] >= 0 && users[i] < impl_->n, "HnswIndex::search_users: user " << users[i] << " not in the index");
    const auto& sh = impl_->shard_of(users[i]);
    EMBER_CHECK(sh.index, "HnswIndex::search_users: the shard of user " << users[i] << " was never built");
    std::vector<float> v = sh.index->getDataByLabel<float>(static_cast<hnswlib::labeltype>(users[i]));
    std::copy(v.begin(), v.end(), q.begin() + static_cast<int64_t>(i) * d);
  }
  return search(q.data(), users, k, exclude);
}

void HnswIndex::save(const std::string& path) const {
  EMBER_CHECK(!impl_->shards.empty(), "HnswIndex::save on an empty index");
  std::vector<std::vector<uint8_t>> blobs;
  for (int32_t s = 0; s < shards(); ++s) {
    EMBER_CHECK(impl_->shards[s].index, "HnswIndex::save " << path << ": shard " << s << " was never built");
    blobs.push_back(serialize(*impl_->shards[s].index, "HnswIndex::save " + path));
  }
  ContainerFileWriter w(path, kMagic, kVersion);
  w.put<uint32_t>(kMetricInnerProduct);
  w.put<int64_t>(impl_->dim);
  w.put<int64_t>(impl_->n);
  w.put<int32_t>(impl_->cfg.M);
  w.put<int32_t>(impl_->cfg.ef_construction);
  w.put<int32_t>(impl_->cfg.ef);
  w.put<uint64_t>(impl_->cfg.seed);
  w.put<int32_t>(shards());
  for (int32_t s = 0; s < shards(); ++s) {
    w.put<int64_t>(impl_->shards[s].first);
    w.put<int64_t>(impl_->shards[s].n);
    w.put_vector(blobs[static_cast<size_t>(s)]);
  }
  w.commit();
}

HnswIndex HnswIndex::load(const std::string& path, int64_t expected_dim) {
  ContainerFileReader r(path, kMagic, 1, kVersion);
  uint32_t metric = r.get<uint32_t>("metric");
  EMBER_CHECK(metric == kMetricInnerProduct, path << ": unknown metric " << metric << ", expected 1 (inner product)");
  auto impl = std::make_unique<Impl>();
  impl->dim = r.get<int64_t>("dimension");
  impl->n = r.get<int64_t>("vector count");
  impl->cfg.M = r.get<int32_t>("M");
  impl->cfg.ef_construction = r.get<int32_t>("ef_construction");
  impl->cfg.ef = r.get<int32_t>("ef");
  impl->cfg.seed = r.get<uint64_t>("seed");
  const int32_t S = r.version() >= 2 ? r.get<int32_t>("shard count") : 1;
  EMBER_CHECK(S >= 1 && S <= (1 << 20), path << ": corrupt shard count " << S);
  std::vector<std::vector<uint8_t>> blobs;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int32_t s = 0; s < S; ++s) {
    const int64_t first = r.version() >= 2 ? r.get<int64_t>("shard first row") : 0;
    const int64_t count = r.version() >= 2 ? r.get<int64_t>("shard rows") : impl->n;
    ranges.emplace_back(first, count);
    blobs.push_back(r.get_vector<uint8_t>("hnswlib index"));
  }
  r.finish();  // checksum verified before hnswlib sees a byte
  EMBER_CHECK(impl->dim >= 1 && impl->dim <= (1 << 20) && impl->n >= 1 && impl->cfg.ef >= 1 && S <= impl->n,
              path << ": corrupt header (dim " << impl->dim << ", count " << impl->n << ", shards " << S << ")");
  EMBER_CHECK(expected_dim < 0 || expected_dim == impl->dim,
              path << ": index has dimension " << impl->dim << ", expected " << expected_dim);
  impl->cfg.shards = S;
  impl->space = std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(impl->dim));
  for (int32_t s = 0; s < S; ++s) {
    EMBER_CHECK(ranges[s].first == shard_first(impl->n, S, s) && ranges[s].second == shard_first(impl->n, S, s + 1) - ranges[s].first,
                path << ": shard " << s << " holds rows [" << ranges[s].first << ", +" << ranges[s].second
                     << "), expected [" << shard_first(impl->n, S, s) << ", " << shard_first(impl->n, S, s + 1) << ")");
    Impl::Shard sh;
    sh.first = ranges[s].first;
    sh.n = ranges[s].second;
    sh.index = deserialize(blobs[s], impl->space.get(), impl->dim, sh.first, sh.n, impl->cfg.M,
                           S == 1 ? path : path + " (shard " + std::to_string(s) + ")");
    sh.index->setEf(static_cast<size_t>(impl->cfg.ef));
    impl->shards.push_back(std::move(sh));
  }
  HnswIndex out;
  out.impl_ = std::move(impl);
  return out;
}

double rankings_recall(const Rankings& approx, const Rankings& exact) {
  EMBER_CHECK(approx.queries == exact.queries, "rankings_recall: the two rankings have different queries");
  double sum = 0;
  int64_t counted = 0;
  for (size_t q = 0; q < exact.queries.size(); ++q) {
    std::vector<int32_t> a(approx.row(q), approx.row(q) + approx.k);
    std::sort(a.begin(), a.end());
    int64_t valid = 0, hit = 0;
    for (int32_t j = 0; j < exact.k; ++j) {
      int32_t id = exact.row(q)[j];
      if (id < 0) continue;
      ++valid;
      hit += std::binary_search(a.begin(), a.end(), id) ? 1 : 0;
    }
    if (valid) { sum += static_cast<double>(hit) / static_cast<double>(valid); ++counted; }
  }
  return counted ? sum / static_cast<double>(counted) : 1.0;
}

}  // namespace ember
