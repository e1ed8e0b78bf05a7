#include "engine/sampling/batch.h"

#include <cmath>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/philox.h"
#include "engine/sampling/augment.h"

namespace ember {

namespace {

GraphView view_of(const Subgraph& s, SparseFeatures features) {
  GraphView v;
  v.num_nodes = s.num_nodes();
  v.src = s.edge_src;
  v.dst = s.edge_dst;
  v.features = std::move(features);
  return v;
}

// Stream ids of the per-batch random decisions (all Philox, keyed by seed).
enum : uint64_t { kPermStream = 11, kPosStream = 12, kNegStream = 13, kAugStream = 14, kHardStream = 15 };

}  // namespace

uint64_t shard_seed(uint64_t seed, const BatchShard& shard) {
  if (!shard.sharded() || shard.rank == 0) return seed;
  return philox::bits64(seed, 0x7261'6e6bull /* "rank" */, static_cast<uint64_t>(shard.rank));
}

BatchBuilder::BatchBuilder(const Graph& train, const TrainConfig& cfg, std::vector<int32_t> train_users,
                           BatchShard shard)
    : g_(train), cfg_(cfg), shard_(shard), users_(std::move(train_users)) {
  EMBER_CHECK(!users_.empty(), "training: no user has a training edge");
  EMBER_CHECK(shard_.ranks >= 1 && shard_.rank >= 0 && shard_.rank < shard_.ranks,
              "training: rank " << shard_.rank << " of " << shard_.ranks);
  if (shard_.partitioned()) {
    const std::vector<int32_t>& part = *shard_.partition;
    EMBER_CHECK(static_cast<int64_t>(part.size()) == g_.num_nodes(),
                "training: a partition of " << part.size() << " users for a graph of " << g_.num_nodes());
    const int64_t per_rank = std::max<int64_t>(1, cfg_.sampler.batch_size / shard_.ranks);
    std::vector<int64_t> sizes(static_cast<size_t>(shard_.ranks), 0);
    std::vector<int32_t> mine;
    for (int32_t u : users_) {
      const int32_t p = part[static_cast<size_t>(u)];
      EMBER_CHECK(p >= 0 && p < shard_.ranks, "training: user " << u << " is in part " << p << " of " << shard_.ranks);
      ++sizes[static_cast<size_t>(p)];
      if (p == shard_.rank) mine.push_back(u);
    }
    const int64_t smallest = *std::min_element(sizes.begin(), sizes.end());
    EMBER_CHECK(smallest >= 1, "training: a part of the partition has no training user");
    part_batches_ = std::max<int64_t>(1, smallest / per_rank);
    users_.swap(mine);
  }
  EMBER_CHECK(!shard_.sharded() || std::min<int64_t>(cfg_.sampler.batch_size, users_.size()) >= shard_.ranks ||
                  shard_.partitioned(),
              "training: a global batch of " << std::min<int64_t>(cfg_.sampler.batch_size, users_.size())
                                             << " queries cannot be shared by " << shard_.ranks
                                             << " ranks (sampler.batch_size is the global batch: raise it)");
  for (int32_t u : users_)
    EMBER_CHECK(u >= 0 && u < g_.num_nodes() && g_.degree(u) > 0, "training: user " << u << " has no training edge");
  if (cfg_.objectives.logq_correction) {
    // Expected appearances of user v among a batch's candidates: B in-batch
    // positives (a uniform query's uniform training friend:
    // p_pos(v) = (1/|U|) sum_{u in N(v) and U} 1/deg(u)), R uniform random
    // users, and H hard negatives per query (friends of friends; approximated
    // as degree-proportional: H B deg(v) / 2E, the chance that a random 2-hop
    // endpoint is v). Every candidate column gets its user's value, whichever
    // source brought it.
    const int64_t n = g_.num_nodes();
    std::vector<double> p_pos(static_cast<size_t>(n), 0.0);
    for (int32_t u : users_) {
      const double w = 1.0 / (static_cast<double>(users_.size()) * static_cast<double>(g_.degree(u)));
      for (int32_t v : g_.neighbors_of(u)) p_pos[v] += w;
    }
    // B: one rank's queries per batch (its candidates come from its own batch).
    const double B = static_cast<double>(std::min<int64_t>(cfg_.sampler.batch_size, users_.size())) /
                     (shard_.sharded() ? shard_.ranks : 1);
    const double R = static_cast<double>(cfg_.objectives.random_negatives);
    const double H = static_cast<double>(cfg_.objectives.hard_negatives);
    const double two_e = static_cast<double>(std::max<size_t>(g_.neighbors.size(), 1));
    log_q_.resize(static_cast<size_t>(n));
    for (int64_t v = 0; v < n; ++v) {
      const double q = B * p_pos[v] + R / static_cast<double>(n) + H * B * static_cast<double>(g_.degree(v)) / two_e;
      log_q_[v] = q > 0.0 ? static_cast<float>(std::log(q)) : 0.0f;  // q = 0: never a candidate
    }
  }
}

int64_t BatchBuilder::batches_per_epoch() const {
  if (shard_.partitioned()) return part_batches_;
  const int64_t b = cfg_.sampler.batch_size;
  const int64_t n = static_cast<int64_t>(users_.size());
  int64_t batches = (n + b - 1) / b;
  if (shard_.sharded() && n - (batches - 1) * b < shard_.ranks) --batches;  // a last batch too small to share
  return batches;
}

TrainBatch BatchBuilder::build(int64_t epoch, int64_t index) const {
  const auto started = std::chrono::steady_clock::now();
  TrainBatch tb = build_unclocked(epoch, index);
  tb.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return tb;
}

TrainBatch BatchBuilder::build_unclocked(int64_t epoch, int64_t index) const {
  const uint64_t seed = shard_seed(cfg_.seed, shard_);
  const uint64_t key = static_cast<uint64_t>(epoch) * 1000003ull + static_cast<uint64_t>(index);
  // Per-epoch permutation of the users (Fisher-Yates with a seeded Rng).
  // (Partitioned: a permutation of this rank's part, its own stream.)
  std::vector<int32_t> perm = users_;
  Rng prng(cfg_.seed ^ (static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ull),
           shard_.partitioned() ? kPermStream + 1000 * static_cast<uint64_t>(shard_.rank + 1) : kPermStream);
  for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[prng.below(i)]);
  const int64_t bsz = shard_.partitioned() ? std::max<int64_t>(1, cfg_.sampler.batch_size / shard_.ranks)
                                           : cfg_.sampler.batch_size;
  int64_t begin = index * bsz, end = std::min<int64_t>(begin + bsz, perm.size());
  EMBER_CHECK(begin < end, "batch " << index << " is past the end of epoch " << epoch);
  const int64_t global_queries = shard_.partitioned() ? bsz * shard_.ranks : end - begin;
  if (shard_.sharded() && !shard_.partitioned()) {  // this rank's slice of the global batch
    const int64_t n = end - begin, first = begin;
    begin = first + n * shard_.rank / shard_.ranks;
    end = first + n * (shard_.rank + 1) / shard_.ranks;
    EMBER_CHECK(begin < end, "batch " << index << " of epoch " << epoch << " has no query for rank " << shard_.rank);
  }

  TrainBatch tb;
  tb.epoch = epoch;
  tb.index_in_epoch = index;
  const int32_t B = static_cast<int32_t>(end - begin);
  tb.num_queries = B;
  tb.global_queries = static_cast<int32_t>(shard_.replicate ? global_queries * shard_.ranks : global_queries);
  // Seeds: queries, then positives and negatives not already present.
  std::vector<int32_t> seeds(perm.begin() + begin, perm.begin() + end);
  std::unordered_map<int32_t, int32_t> local;
  for (int32_t i = 0; i < B; ++i) local[seeds[i]] = i;
  auto seed_of = [&](int32_t u) {
    auto it = local.find(u);
    if (it != local.end()) return it->second;
    const int32_t id = static_cast<int32_t>(seeds.size());
    seeds.push_back(u);
    local[u] = id;
    return id;
  };
  std::vector<int32_t> pos_global(B);
  for (int32_t b = 0; b < B; ++b) {
    const int32_t q = seeds[b];
    auto nb = g_.neighbors_of(q);
    pos_global[b] = nb[static_cast<int64_t>(philox::bits64(seed, kPosStream, key * 65536 + b) % nb.size())];
  }
  const int64_t R = cfg_.objectives.random_negatives;
  std::vector<int32_t> neg_global(R);
  for (int64_t r = 0; r < R; ++r)
    neg_global[r] = static_cast<int32_t>(philox::bits64(seed, kNegStream, key * 65536 + r) % g_.num_nodes());
  for (int32_t b = 0; b < B; ++b) tb.candidates.push_back(seed_of(pos_global[b]));
  for (int64_t r = 0; r < R; ++r) tb.candidates.push_back(seed_of(neg_global[r]));
  // The k-hop subgraph around all seeds (local ids 0..S-1 are the seeds).
  SamplerConfig sc;
  sc.fanouts.clear();  // replace SamplerConfig's default {15, 10}, never append to it
  for (int64_t f : cfg_.sampler.fanouts) sc.fanouts.push_back(static_cast<int32_t>(f));
  sc.seed = seed;
  NeighborSampler sampler(g_, sc);
  Subgraph sg = sampler.sample(seeds, key);
  // Hard negatives: per query, up to H friends of friends in the sampled
  // subgraph that are not its training friends (nor itself, nor its positive),
  // drawn uniformly (Philox); added once as candidate columns shared by the
  // batch like the other negatives.
  if (cfg_.objectives.hard_negatives > 0) {
    const int64_t n_local = sg.num_nodes();
    std::vector<int64_t> off(static_cast<size_t>(n_local) + 1, 0);  // in-edges by dst (= neighbours: both directions)
    for (int32_t d : sg.edge_dst) ++off[static_cast<size_t>(d) + 1];
    for (int64_t i = 0; i < n_local; ++i) off[i + 1] += off[i];
    std::vector<uint8_t> is_cand(static_cast<size_t>(n_local), 0);
    for (int64_t c : tb.candidates) is_cand[static_cast<size_t>(c)] = 1;
    std::vector<int32_t> fof;
    std::vector<uint8_t> seen(static_cast<size_t>(n_local), 0);
    for (int32_t b = 0; b < B; ++b) {
      const int32_t q = seeds[b];
      fof.clear();
      for (int64_t e = off[b]; e < off[b + 1]; ++e) {
        const int32_t v = sg.edge_src[e];
        for (int64_t f = off[v]; f < off[v + 1]; ++f) {
          const int32_t x = sg.edge_src[f];
          if (x == b || seen[x]) continue;
          seen[x] = 1;
          const int32_t gx = static_cast<int32_t>(sg.global_ids[x]);
          if (gx == q || gx == pos_global[b] || g_.has_edge(q, gx)) continue;
          fof.push_back(x);
        }
      }
      for (int64_t e = off[b]; e < off[b + 1]; ++e) {  // reset the marks
        const int32_t v = sg.edge_src[e];
        for (int64_t f = off[v]; f < off[v + 1]; ++f) seen[sg.edge_src[f]] = 0;
      }
      const int64_t H = std::min<int64_t>(cfg_.objectives.hard_negatives, static_cast<int64_t>(fof.size()));
      for (int64_t h = 0; h < H; ++h) {  // partial Fisher-Yates
        const uint64_t r = philox::bits64(seed, kHardStream, (key * 65536 + static_cast<uint64_t>(b)) * 4096 + h);
        std::swap(fof[h], fof[h + static_cast<int64_t>(r % (fof.size() - static_cast<size_t>(h)))]);
        if (!is_cand[fof[h]]) {
          is_cand[fof[h]] = 1;
          tb.candidates.push_back(fof[h]);
        }
      }
    }
  }
  const int64_t C = static_cast<int64_t>(tb.candidates.size());
  if (!log_q_.empty()) {
    tb.log_q.resize(static_cast<size_t>(C));
    for (int64_t j = 0; j < C; ++j) tb.log_q[j] = log_q_[sg.global_ids[tb.candidates[j]]];
  }
  tb.positives.resize(B);
  tb.mask.assign(static_cast<size_t>(B) * C, 1);
  for (int32_t b = 0; b < B; ++b) {
    tb.positives[b] = b;
    const int32_t q = seeds[b];
    for (int64_t j = 0; j < C; ++j) {
      if (j == b) continue;
      const int32_t c = static_cast<int32_t>(sg.global_ids[tb.candidates[j]]);  // seeds keep their local ids
      // The query itself, its own positive again, or another training friend
      // of the query (an accidental hit) is not a negative.
      if (c == q || c == pos_global[b] || g_.has_edge(q, c)) tb.mask[b * C + j] = 0;
    }
  }

  // Remove the target edges (query, positive) from message passing, so the
  // model cannot read the answer off the graph.
  {
    std::vector<std::pair<int32_t, int32_t>> targets;
    for (int32_t b = 0; b < B; ++b) {
      const int32_t p = tb.candidates[b];
      targets.emplace_back(b, p);
      targets.emplace_back(p, b);
    }
    std::sort(targets.begin(), targets.end());
    std::vector<int32_t> src, dst;
    for (size_t e = 0; e < sg.edge_src.size(); ++e) {
      if (std::binary_search(targets.begin(), targets.end(), std::make_pair(sg.edge_src[e], sg.edge_dst[e]))) continue;
      src.push_back(sg.edge_src[e]);
      dst.push_back(sg.edge_dst[e]);
    }
    sg.edge_src.swap(src);
    sg.edge_dst.swap(dst);
  }
  tb.global_ids = sg.global_ids;
  SparseFeatures feats = subgraph_features(g_.features, sg);
  const uint64_t aug = philox::bits64(seed, kAugStream, key);
  const auto& ob = cfg_.objectives;
  // The self-supervised views (CCA, MAE): over the batch's subgraph, or, with
  // objectives.ssl_fraction < 1, over a smaller subgraph sampled around the
  // first ceil(fraction * B) queries only (their cost scales with its nodes).
  const bool ssl = ob.beta > 0.0 || ob.gamma > 0.0;
  const int32_t Bs = ob.ssl_fraction < 1.0
                         ? std::max<int32_t>(2, std::min<int32_t>(B, static_cast<int32_t>(std::ceil(ob.ssl_fraction * B))))
                         : B;
  Subgraph ssl_sg;
  SparseFeatures ssl_feats;
  const bool own_ssl = ssl && Bs < B;
  if (own_ssl) {
    ssl_sg = sampler.sample(std::vector<int32_t>(seeds.begin(), seeds.begin() + Bs), key + (uint64_t(1) << 62));
    ssl_feats = subgraph_features(g_.features, ssl_sg);
    tb.ssl_global_ids = ssl_sg.global_ids;
  }
  const Subgraph& vs = own_ssl ? ssl_sg : sg;
  const SparseFeatures& vf = own_ssl ? ssl_feats : feats;
  tb.ssl_queries = Bs;
  if (ob.beta > 0.0) {
    tb.cca_a = view_of(drop_edges(vs, ob.cca.edge_drop, aug + 1), drop_feature_columns(vf, ob.cca.feature_drop, aug + 2));
    tb.cca_b = view_of(drop_edges(vs, ob.cca.edge_drop, aug + 3), drop_feature_columns(vf, ob.cca.feature_drop, aug + 4));
  }
  if (ob.gamma > 0.0) {
    MaskedFeatures mf = mask_query_features(vf, Bs, 1.0, aug + 5);
    tb.mae = view_of(drop_edges(vs, ob.mae.edge_drop, aug + 6), std::move(mf.features));
    std::vector<uint8_t> informed(Bs, 0);
    for (size_t e = 0; e < tb.mae.src.size(); ++e)
      if (tb.mae.dst[e] < Bs && tb.mae.src[e] >= Bs) informed[tb.mae.dst[e]] = 1;
    const int64_t F = vf.num_cols;
    for (int32_t b = 0; b < Bs; ++b) {
      tb.mae_masked.push_back(b);
      if (!informed[b] || vf.row_nnz(b) == 0) continue;
      const size_t row = tb.mae_rows.size();
      tb.mae_rows.push_back(b);
      tb.mae_target.resize((row + 1) * F, 0.0f);
      for (int64_t k = vf.row_ptr[b]; k < vf.row_ptr[b + 1]; ++k) tb.mae_target[row * F + vf.col[k]] = vf.val[k];
    }
  }
  tb.retrieval = view_of(sg, std::move(feats));
  // The encoder's inputs, ready: the training thread only uploads them.
  for (GraphView* v : {&tb.retrieval, &tb.cca_a, &tb.cca_b, &tb.mae})
    if (v->num_nodes > 0) v->ready = make_ready(*v);
  return tb;
}

}  // namespace ember
