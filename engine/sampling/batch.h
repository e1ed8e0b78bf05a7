// One training step's data, prepared on worker threads (engine/prefetch.h):
// the query users, their positives and random negatives as seeds of one
// k-hop subgraph, the target edges removed from message passing, and the
// augmented views of each enabled objective. Everything here is a pure
// function of (training graph, config, epoch, batch index).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/config/config.h"
#include "engine/data/graph.h"
#include "engine/sampling/device_view.h"
#include "engine/sampling/sampler.h"

namespace ember {

// A local graph to run the encoder on: directed message edges + features.
struct GraphView {
  int64_t num_nodes = 0;
  std::vector<int32_t> src, dst;
  SparseFeatures features;
  ReadyView ready;  // the CSR graph and input with their transposes, built by BatchBuilder::build
};

struct TrainBatch {
  int64_t epoch = 0, index_in_epoch = 0;
  double build_seconds = 0;          // time BatchBuilder::build took (on its worker thread)
  int32_t num_queries = 0;
  int32_t global_queries = 0;        // queries of the global batch over all ranks (= num_queries in one process)
  std::vector<int64_t> global_ids;   // local id -> dense id (seeds first)
  // objectives.ssl_fraction < 1: the CCA / MAE views' own, smaller subgraph
  // around the first ssl_queries queries (its local -> dense ids); empty when
  // the views share the batch's subgraph.
  std::vector<int64_t> ssl_global_ids;
  int32_t ssl_queries = 0;
  GraphView retrieval;               // the plain view (retrieval objective)
  GraphView cca_a, cca_b;            // CCA views (edge drop + feature drop), when beta > 0
  GraphView mae;                     // MAE view (edge drop, query rows masked), when gamma > 0
  std::vector<int64_t> mae_masked;   // masked local rows (= the queries): mask token in, re-masked code
  // Scored rows (eq. 4's V): masked queries that have features and at least
  // one unmasked in-neighbour in the MAE view. A query with none would be
  // reconstructed from nothing (its decoder output is exactly the bias, 0 at
  // the start), where the cosine's gradient is ~1/eps and swamps the step.
  std::vector<int64_t> mae_rows;
  std::vector<float> mae_target;     // [mae_rows.size(), F] original features of the scored rows
  std::vector<int64_t> candidates;   // [C] local ids: B in-batch positives, R random users, then the
                                     // distinct hard negatives (objectives.hard_negatives per query)
  std::vector<int64_t> positives;    // [B]: candidate index of each query's positive (= b)
  std::vector<int32_t> mask;         // [B, C]: 0 = excluded (the query itself, accidental hits)
  std::vector<float> log_q;          // [C] log expected appearances of each candidate in a batch
                                     // (objectives.logq_correction; empty when off)
};

// The part of every global batch that one rank of a data-parallel job
// trains on (docs/distributed.md). Global batch i of an epoch is the same
// sampler.batch_size queries of the same seeded permutation on every rank;
// with `replicate` false, rank r takes queries [n r / R, n (r + 1) / R) of
// its n, and draws its positives, negatives, subgraph and augmentations from
// its own streams (the seed mixed with r): the union over ranks is the
// one-process epoch. A last batch with fewer than R queries is dropped (its
// users wait for the next epoch's permutation). With `replicate`, every rank
// builds the one-process batch (a test mode). One rank: the one-process batch.
//
// With a partition (distributed.partition "metis"; part[u] in [0, R) for
// every user), rank r instead trains on the users of part r: per epoch a
// seeded permutation of them, sampler.batch_size / R per step; every rank
// takes the same number of steps (the smallest part's), so a part's surplus
// users wait for a later epoch's permutation.
struct BatchShard {
  int rank = 0, ranks = 1;
  bool replicate = false;
  std::shared_ptr<const std::vector<int32_t>> partition;  // part of each user (null: none)
  bool sharded() const { return ranks > 1 && !replicate; }
  bool partitioned() const { return sharded() && partition != nullptr; }
};

// The seed of rank `rank`'s random decisions (positives, negatives,
// subgraphs, augmentations, dropout): the config's seed for rank 0 and in
// replicate mode, a mix of it with the rank otherwise.
uint64_t shard_seed(uint64_t seed, const BatchShard& shard);

class BatchBuilder {
 public:
  // train_users: users with at least one training edge (the queries).
  BatchBuilder(const Graph& train, const TrainConfig& cfg, std::vector<int32_t> train_users, BatchShard shard = {});
  int64_t batches_per_epoch() const;
  // Batch `index` of `epoch` (queries from a per-epoch seeded permutation).
  TrainBatch build(int64_t epoch, int64_t index) const;

 private:
  TrainBatch build_unclocked(int64_t epoch, int64_t index) const;
  const Graph& g_;
  TrainConfig cfg_;
  BatchShard shard_;
  int64_t part_batches_ = 0;  // partitioned: steps per epoch (the smallest part's)
  std::vector<int32_t> users_;
  std::vector<float> log_q_;  // per user, when objectives.logq_correction
};

}  // namespace ember
