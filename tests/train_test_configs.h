// Small training configurations shared by the training, numeric-fault,
// fault-injection and memory tests (synthetic graphs, CPU, seconds per run).
#pragma once
#include <cstdint>

#include "engine/config/config.h"

namespace ember_test {

// 600 users, 12 communities, 300 features; 2-layer GAT 32 wide with 2 heads;
// batch 64 (10 batches per epoch), fanouts {8, 4}; no early stopping.
inline ember::TrainConfig small_train_config(int64_t epochs) {
  ember::TrainConfig c;
  c.seed = 3;
  c.data.synthetic.num_users = 600;
  c.data.synthetic.num_communities = 12;
  c.data.synthetic.feature_dim = 300;
  c.model.hidden = 32;
  c.model.embedding_dim = 32;
  c.model.heads = 2;
  c.sampler.batch_size = 64;
  c.sampler.fanouts = {8, 4};
  c.objectives.random_negatives = 64;
  c.objectives.cca.head_hidden = 32;
  c.objectives.cca.head_out = 32;
  c.train.epochs = epochs;
  c.train.patience = 0;
  c.train.progress = false;
  c.optim.warmup_steps = 5;
  return c;
}

// 400 users, 8 communities, 200 features; 16 wide, 2 heads; batch 32; 1 epoch.
inline ember::TrainConfig tiny_train_config() {
  ember::TrainConfig c;
  c.seed = 3;
  c.data.synthetic.num_users = 400;
  c.data.synthetic.num_communities = 8;
  c.data.synthetic.feature_dim = 200;
  c.model.hidden = 16;
  c.model.embedding_dim = 16;
  c.model.heads = 2;
  c.sampler.batch_size = 32;
  c.objectives.random_negatives = 32;
  c.train.epochs = 1;
  c.train.progress = false;
  return c;
}

}  // namespace ember_test
