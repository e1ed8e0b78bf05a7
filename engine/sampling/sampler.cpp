#include "engine/sampling/sampler.h"

#include <algorithm>
#include <numeric>

#include "core/philox.h"

namespace ember {

SparseFeatures subgraph_features(const SparseFeatures& f, const Subgraph& s) { return slice_rows(f, s.global_ids); }

NeighborSampler::NeighborSampler(const Graph& g, SamplerConfig cfg)
    : g_(g), cfg_(std::move(cfg)), local_(static_cast<size_t>(g.num_nodes()), -1) {
  for (int32_t f : cfg_.fanouts)
    EMBER_CHECK(f == -1 || f >= 0, "sampler: fanout " << f << ", expected -1 (all) or >= 0");
}

Subgraph NeighborSampler::sample(const int32_t* seeds, size_t n, uint64_t batch_index) {
  const int64_t N = g_.num_nodes();
  Subgraph s;
  s.batch_index = batch_index;
  s.num_queries = static_cast<int32_t>(n);
  auto add = [&](int32_t v) {
    int32_t id = static_cast<int32_t>(s.global_ids.size());
    local_[v] = id;
    s.global_ids.push_back(v);
    return id;
  };
  struct Cleanup {  // reset the scratch map even when we throw
    std::vector<int32_t>& local;
    const std::vector<int64_t>& ids;
    ~Cleanup() { for (int64_t v : ids) local[v] = -1; }
  } cleanup{local_, s.global_ids};

  for (size_t i = 0; i < n; ++i) {
    int32_t q = seeds[i];
    EMBER_CHECK(q >= 0 && q < N, "sampler: query id " << q << " out of range 0.." << N - 1);
    EMBER_CHECK(local_[q] < 0, "sampler: query id " << q << " appears twice in the batch");
    add(q);
  }
  std::vector<std::pair<int32_t, int32_t>> und;  // (expanded node, picked neighbour), local ids
  {
    size_t est = n, layer = n;
    for (int32_t f : cfg_.fanouts) { layer *= static_cast<size_t>(f < 0 ? 16 : f); est += layer; }
    est = std::min(est, static_cast<size_t>(g_.num_nodes()));
    s.global_ids.reserve(est);
    und.reserve(est);
  }
  size_t frontier_begin = 0, frontier_end = s.global_ids.size();
  for (size_t hop = 0; hop < cfg_.fanouts.size(); ++hop) {
    const int32_t fan = cfg_.fanouts[hop];
    for (size_t i = frontier_begin; i < frontier_end; ++i) {
      const int32_t v = static_cast<int32_t>(s.global_ids[i]);
      const int32_t lv = static_cast<int32_t>(i);
      auto nb = g_.neighbors_of(v);
      const int64_t deg = nb.size();
      pick_.clear();
      if (fan < 0 || deg <= fan) {
        for (int64_t j = 0; j < deg; ++j) pick_.push_back(nb[j]);
      } else if (fan > 0) {
        // Floyd's algorithm: fan distinct positions of 0..deg-1.
        Rng r(cfg_.seed, (batch_index << 32) ^ static_cast<uint32_t>(v));
        for (int64_t j = deg - fan; j < deg; ++j) {
          int32_t t = static_cast<int32_t>(r.below(static_cast<uint64_t>(j) + 1));
          int32_t pick = std::find(pick_.begin(), pick_.end(), t) == pick_.end() ? t : static_cast<int32_t>(j);
          pick_.push_back(pick);
        }
        for (auto& p : pick_) p = nb[p];
      }
      for (int32_t x : pick_) {
        int32_t lx = local_[x] >= 0 ? local_[x] : add(x);
        und.emplace_back(lv, lx);
      }
    }
    frontier_begin = frontier_end;
    frontier_end = s.global_ids.size();
  }
  // Directed edges grouped by dst (counting sort), each bucket sorted by src
  // and de-duplicated (an undirected edge is sampled twice when both
  // endpoints were expanded and picked each other).
  const size_t nl = s.global_ids.size();
  std::vector<int64_t> off(nl + 1, 0);
  for (const auto& e : und) { off[e.first + 1]++; off[e.second + 1]++; }
  for (size_t i = 0; i < nl; ++i) off[i + 1] += off[i];
  std::vector<int32_t> src(static_cast<size_t>(off[nl]));
  {
    std::vector<int64_t> pos(off.begin(), off.end() - 1);
    for (const auto& e : und) { src[pos[e.second]++] = e.first; src[pos[e.first]++] = e.second; }
  }
  s.edge_src.reserve(src.size());
  s.edge_dst.reserve(src.size());
  for (size_t v = 0; v < nl; ++v) {
    auto b = src.begin() + off[v], e = src.begin() + off[v + 1];
    std::sort(b, e);
    for (auto it = b; it != e; ++it) {
      if (it != b && *it == *(it - 1)) continue;
      s.edge_src.push_back(*it);
      s.edge_dst.push_back(static_cast<int32_t>(v));
    }
  }
  return s;
}

// ---- loader -------------------------------------------------------------------------------------
namespace {
constexpr uint64_t kShuffleStream = 0x53485546;  // "SHUF"

std::vector<int32_t> epoch_order(const std::vector<int32_t>& users, bool shuffle, uint64_t seed, uint64_t epoch) {
  std::vector<int32_t> p = users;
  if (!shuffle) return p;
  Rng r(seed ^ 0x9E3779B97F4A7C15ULL, (kShuffleStream << 32) ^ epoch);
  for (size_t i = p.size(); i > 1; --i) std::swap(p[i - 1], p[r.below(i)]);
  return p;
}
}  // namespace

SubgraphLoader::SubgraphLoader(const Graph& g, std::vector<int32_t> query_users, LoaderConfig cfg)
    : g_(g), users_(std::move(query_users)), cfg_(std::move(cfg)) {
  EMBER_CHECK(cfg_.batch_size >= 1, "loader: batch_size must be >= 1");
  EMBER_CHECK(cfg_.num_threads >= 1, "loader: num_threads must be >= 1");
  EMBER_CHECK(cfg_.prefetch >= 1, "loader: prefetch must be >= 1");
  EMBER_CHECK(cfg_.num_epochs == -1 || cfg_.num_epochs >= 0, "loader: num_epochs must be -1 (endless) or >= 0");
  {
    std::vector<int32_t> s = users_;
    std::sort(s.begin(), s.end());
    auto dup = std::adjacent_find(s.begin(), s.end());
    EMBER_CHECK(dup == s.end(), "loader: query user " << *dup << " listed twice");
    EMBER_CHECK(s.empty() || (s.front() >= 0 && s.back() < g.num_nodes()), "loader: query user out of range");
  }
  batches_per_epoch_ = (static_cast<int64_t>(users_.size()) + cfg_.batch_size - 1) / cfg_.batch_size;
  total_batches_ = cfg_.num_epochs < 0 ? -1 : cfg_.num_epochs * batches_per_epoch_;
  if (batches_per_epoch_ == 0) total_batches_ = 0;
  for (int i = 0; i < cfg_.num_threads; ++i) threads_.emplace_back([this] { produce(); });
}

SubgraphLoader::~SubgraphLoader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::vector<int32_t> SubgraphLoader::batch_queries(uint64_t b) const {
  EMBER_CHECK(batches_per_epoch_ > 0, "loader: no query users");
  uint64_t epoch = b / static_cast<uint64_t>(batches_per_epoch_), i = b % static_cast<uint64_t>(batches_per_epoch_);
  std::vector<int32_t> order = epoch_order(users_, cfg_.shuffle, cfg_.sampler.seed, epoch);
  size_t lo = i * static_cast<size_t>(cfg_.batch_size), hi = std::min(order.size(), lo + static_cast<size_t>(cfg_.batch_size));
  return std::vector<int32_t>(order.begin() + static_cast<std::ptrdiff_t>(lo), order.begin() + static_cast<std::ptrdiff_t>(hi));
}

void SubgraphLoader::produce() {
  std::unique_ptr<NeighborSampler> sampler;
  uint64_t cached_epoch = UINT64_MAX;
  std::vector<int32_t> order;
  for (;;) {
    uint64_t b;
    {
      std::unique_lock<std::mutex> lk(mu_);
      auto done = [&] { return total_batches_ >= 0 && next_to_produce_ >= static_cast<uint64_t>(total_batches_); };
      cv_.wait(lk, [&] {
        return stop_ || done() || next_to_produce_ < next_to_consume_ + static_cast<uint64_t>(cfg_.prefetch);
      });
      if (stop_ || done()) return;
      b = next_to_produce_++;
    }
    try {
      if (!sampler) sampler = std::make_unique<NeighborSampler>(g_, cfg_.sampler);
      uint64_t epoch = b / static_cast<uint64_t>(batches_per_epoch_), i = b % static_cast<uint64_t>(batches_per_epoch_);
      if (epoch != cached_epoch) {
        order = epoch_order(users_, cfg_.shuffle, cfg_.sampler.seed, epoch);
        cached_epoch = epoch;
      }
      size_t lo = i * static_cast<size_t>(cfg_.batch_size), hi = std::min(order.size(), lo + static_cast<size_t>(cfg_.batch_size));
      Subgraph s = sampler->sample(order.data() + lo, hi - lo, b);
      if (cfg_.with_features && g_.has_features()) s.features = subgraph_features(g_.features, s);
      std::lock_guard<std::mutex> lk(mu_);
      ready_.emplace(b, std::move(s));
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_ || b < error_batch_) { error_ = std::current_exception(); error_batch_ = b; }
    }
    cv_.notify_all();
  }
}

bool SubgraphLoader::next(Subgraph& out) {
  std::unique_lock<std::mutex> lk(mu_);
  if (total_batches_ >= 0 && next_to_consume_ >= static_cast<uint64_t>(total_batches_)) return false;
  const uint64_t want = next_to_consume_;
  cv_.wait(lk, [&] { return ready_.count(want) > 0 || (error_ && error_batch_ == want); });
  auto it = ready_.find(want);
  if (it == ready_.end()) std::rethrow_exception(error_);  // the producer's exception, in batch order
  out = std::move(it->second);
  ready_.erase(it);
  ++next_to_consume_;
  lk.unlock();
  cv_.notify_all();
  return true;
}

}  // namespace ember
