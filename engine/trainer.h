// The SSMTL trainer: data preparation, the training loop (mini-batches of
// query users with prefetched subgraphs, L = alpha L_ret + beta L_CCA +
// gamma L_MAE, Adam/AdamW with warm-up and cosine decay, clipping), per-epoch
// validation Recall@50 with early stopping, metrics.jsonl, atomic
// checkpoints with exact resume, NaN/Inf guards, and full-graph inference.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "autograd/optimizer.h"
#include "engine/config.h"
#include "engine/graph.h"
#include "engine/model.h"
#include "engine/split.h"

namespace ember {

// The graph of a run with its split and the held-out edges to score.
struct PreparedData {
  std::string name;
  Graph full;
  Split split;
  HeldOut val, test;
  std::string features_note;  // how node features were obtained
};

// Loads or generates the graph named by cfg.data, splits it (seeded), gives
// featureless graphs the structural fallback features (one-hot id + log2
// training-degree bucket), and writes the split files to out_dir/split when
// out_dir is not empty.
PreparedData prepare_data(const TrainConfig& cfg, const std::string& out_dir, bool verbose = true);

Device parse_device_name(const std::string& name);

struct TrainResult {
  double best_val_recall50 = 0.0;
  int64_t best_epoch = -1;
  int64_t steps = 0;
  int64_t epochs_run = 0;
  double seconds = 0.0;
  bool stopped_early = false;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM after writing the checkpoint
};

class Trainer {
 public:
  // out_dir receives config.json, metrics.jsonl, checkpoint.bin.
  Trainer(const TrainConfig& cfg, const Graph& train, const HeldOut& val, std::string out_dir);
  ~Trainer();
  // Trains to the end (or early stop). resume = continue from out_dir/checkpoint.bin.
  // max_steps > 0 stops after that many optimizer steps in this call (tests of
  // kill-and-resume); the checkpoint is then written at that point.
  TrainResult fit(bool resume = false, int64_t max_steps = 0);
  // Embeddings [N, embedding_dim] (CPU, float32) of every user, computed
  // layer-wise over the whole training graph with the current parameters.
  Tensor embed_all() const;
  // One loss evaluation + update on a batch (exposed for tests): returns the
  // loss terms {total, retrieval, cca, mae}.
  SsmtlModel& model() { return *model_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  struct StepLosses {
    double total = 0, retrieval = 0, cca = 0, mae = 0;
    bool ok = true;
    std::string problem;
  };
  StepLosses train_step(const struct TrainBatch& batch, int64_t global_step);
  // The enabled objectives' loss terms on a batch (which: a mask of kRetrieval, kCca, kMae).
  static constexpr unsigned kRetrieval = 1, kCca = 2, kMae = 4;
  struct LossTerm {
    unsigned which;
    double weight;
    Variable value;
  };
  std::vector<LossTerm> loss_terms(const struct TrainBatch& batch, int64_t global_step, unsigned which) const;
  std::map<std::string, double> encoder_grad_norms(const struct TrainBatch& batch, int64_t global_step);
  double learning_rate(int64_t step, int64_t total_steps) const;
  double validate() const;
  void save_state(const std::string& path, int64_t epoch, int64_t step_in_epoch) const;
  void load_state(const std::string& path);

  TrainConfig cfg_;
  const Graph& train_;
  const HeldOut& val_;
  std::string out_dir_;
  Device device_;
  std::unique_ptr<SsmtlModel> model_;
  std::unique_ptr<Optimizer> optim_;
  std::vector<Tensor> best_params_;
  // Training position (restored by resume).
  int64_t epoch_ = 0, step_in_epoch_ = 0, global_step_ = 0;
  double best_metric_ = -1.0;
  int64_t best_epoch_ = -1, bad_epochs_ = 0;
};

}  // namespace ember
