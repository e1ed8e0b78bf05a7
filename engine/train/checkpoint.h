// Training checkpoints: parameters, optimizer state, RNG state, position in
// training and the config hash, in one container file (engine/binary_io.h:
// magic "EMBRCKPT", format version, payload checksum) written atomically, so a
// kill at any moment leaves the previous checkpoint intact. A checkpoint whose
// config hash, parameter names or shapes do not match is refused.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ember {

struct Checkpoint {
  uint64_t config_hash = 0;
  int64_t epoch = 0;            // epochs completed
  int64_t step = 0;             // global optimizer steps completed
  int64_t step_in_epoch = 0;    // steps completed inside the current epoch
  uint64_t rng_seed = 0, rng_stream = 0, rng_counter = 0;
  double best_metric = -1.0;    // best validation Recall@50 so far
  int64_t best_epoch = -1;
  int64_t epochs_without_improvement = 0;
  std::string meta_json;        // free-form (e.g. the resolved config)
  std::vector<std::pair<std::string, Tensor>> params;  // CPU tensors
  std::vector<Tensor> optimizer_state;                 // CPU tensors
  int64_t optimizer_steps = 0;
  // Version 2: a hash of the graph's users (count and original ids) when the
  // model has id embeddings, so a checkpoint is never applied to other users;
  // 0 = not recorded (version 1 files, models without id embeddings).
  uint64_t users_hash = 0;
  // Version 3: the ranks of the job that wrote it (resume says when they
  // change); 0 = not recorded.
  int64_t ranks = 0;
};

constexpr uint32_t kCheckpointVersion = 3;  // reads 1, 2 and 3

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Loads and verifies (magic, version, checksum, sizes). When expected_hash is
// non-zero, a different config hash is refused with a clear message.
Checkpoint load_checkpoint(const std::string& path, uint64_t expected_hash = 0);

}  // namespace ember
