// The training side of the learnable user-id embeddings (model.id_embeddings):
// the id table [num_users, hidden] of the encoder is not in the dense
// optimizer; each step gathers the rows of the batch's subgraph into a leaf
// Variable that the encoder adds to its projected input, and after the
// backward pass only those rows are updated (row-sparse "lazy" Adam,
// kernels/optim.h sparse_adam_rows). Memory: the table and its two moments,
// 3 x 4 x num_users x hidden bytes (docs/config.md).
//
// Which rows contribute:
//   training   a user's row is left out (zero, not updated) with probability
//              model.id_dropout per step (a Philox draw keyed by the seed, the
//              step and the user), so the encoder learns to embed users from
//              features and neighbours alone; users without training friends
//              are always left out unless model.id_cold_users;
//   inference  every user with training friends (and the others when
//              model.id_cold_users).
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/variable.h"
#include "engine/config/config.h"
#include "engine/data/graph.h"

namespace ember {

class IdEmbeddingTrainer {
 public:
  // table: the encoder's id table (a parameter on its device).
  IdEmbeddingTrainer(const TrainConfig& cfg, const Graph& train, Variable table);

  struct Rows {
    Variable leaf;       // [n, hidden], rows of the nodes in local order; left-out rows are zero
    Tensor kept_local;   // int64 [K] local ids of the contributing rows
    Tensor kept_global;  // int64 [K] their user ids (rows of the table)
  };
  // Rows for the nodes `global_ids` (local order) at optimizer step `step`.
  Rows gather(const std::vector<int64_t>& global_ids, int64_t step) const;
  // Rows of every user for inference [num_users, hidden] (no gradient).
  Tensor inference_rows() const;
  // Rows of the nodes `global_ids` as inference sees them (no dropout, no
  // gradient): the self-supervised views' own subgraph (objectives.ssl_fraction < 1).
  Tensor fixed_rows(const std::vector<int64_t>& global_ids) const;

  // Squared L2 norm of the kept rows' gradient (0 when none arrived).
  double grad_sq_norm(const Rows& rows) const;
  // Lazy Adam on the kept rows with their gradient times grad_scale.
  void step(const Rows& rows, double lr, double grad_scale);

  // Optimizer state for checkpoints: m, v and the step count.
  std::vector<Tensor> state() const;
  void load_state(const std::vector<Tensor>& state);

 private:
  bool contributes(int32_t user) const;
  TrainConfig cfg_;
  const Graph& train_;
  Variable table_;
  Tensor m_, v_;
  int64_t steps_ = 0;
};

}  // namespace ember
