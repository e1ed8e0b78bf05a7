// The output directory of a training run, shared by the example drivers:
//   config.json     resolved config        metrics.jsonl  one line per epoch
//   checkpoint.bin  model + optimizer      embeddings.npy float32 [N, d]
//   node_ids.txt    original id per row    split/         train/val/test.tsv
//   index.hnsw      HNSW index             eval.json      test metrics
//   eval_val.json   validation metrics     baselines.json heuristics (ember_evaluate --baselines)
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/config/config.h"
#include "engine/data/graph.h"
#include "engine/dist/communicator.h"

namespace ember {

struct RunDir {
  std::string path;  // "" = a run that writes nothing (tests, inference)
  bool writes() const { return !path.empty(); }
  std::string config() const { return path + "/config.json"; }
  std::string checkpoint() const { return path + "/checkpoint.bin"; }
  std::string embeddings() const { return path + "/embeddings.npy"; }
  std::string node_ids() const { return path + "/node_ids.txt"; }
  std::string index() const { return path + "/index.hnsw"; }
  std::string eval() const { return path + "/eval.json"; }  // test split
  std::string eval(const std::string& split) const { return split == "test" ? eval() : path + "/eval_" + split + ".json"; }
  // Heuristic baselines scored by ember_evaluate --baselines on this run's split.
  std::string baselines(const std::string& split) const {
    return path + (split == "test" ? "/baselines.json" : "/baselines_" + split + ".json");
  }
  std::string metrics() const { return path + "/metrics.jsonl"; }
  std::string split_dir() const { return path + "/split"; }
  TrainConfig load_config() const { return TrainConfig::from_file(config()); }
};

// embeddings.npy + node_ids.txt (original id of each row), both atomic.
void write_embeddings(const RunDir& run, const Tensor& emb, const IdMap& ids);
// The same for a data-parallel job, collective: every rank passes its block
// (Trainer::embed_my_block, rows in rank order). Rank 0 streams the blocks
// into embeddings.npy one rank at a time, so it never holds more than one
// block besides its own; the file equals write_embeddings of the whole
// matrix. One process: write_embeddings.
void write_embeddings_sharded(const RunDir& run, Communicator& comm, const Tensor& my_block, const IdMap& ids);
// Reads node_ids.txt (one int64 per line); errors name the file and line.
std::vector<int64_t> read_node_ids(const std::string& path);

}  // namespace ember
