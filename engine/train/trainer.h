// The SSMTL trainer, composed of a model (engine/train/model.h), the losses
// of the enabled objectives (L = alpha L_ret + beta L_CCA + gamma L_MAE,
// paper eqs. 3-6) and an optimizer (Adam/AdamW with warm-up and cosine decay,
// clipping): mini-batches of query users with prefetched subgraphs
// (engine/sampling), per-epoch validation Recall@50 with early stopping,
// metrics.jsonl, atomic checkpoints with exact resume, NaN/Inf guards, and
// full-graph inference. The data it trains on is prepared by
// engine/data/prepare.h; its outputs go to a RunDir (engine/train/run_dir.h).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "autograd/optimizer.h"
#include "engine/config/config.h"
#include "engine/data/graph.h"
#include "engine/dist/communicator.h"
#include "engine/data/split.h"
#include "engine/train/id_embeddings.h"
#include "engine/train/model.h"
#include "engine/train/step_profile.h"
#include "engine/train/run_dir.h"

namespace ember {

struct TrainBatch;
class BatchBuilder;
struct BatchShard;

struct TrainResult {
  double best_val_recall50 = 0.0;
  int64_t best_epoch = -1;
  int64_t steps = 0;
  int64_t epochs_run = 0;
  double seconds = 0.0;
  bool stopped_early = false;  // patience ran out before the last configured epoch
  bool interrupted = false;    // stopped by SIGINT/SIGTERM (or max_steps) after writing the checkpoint
};

class Trainer {
 public:
  // run receives config.json, metrics.jsonl, checkpoint.bin; RunDir{""}
  // writes nothing (tests, inference). comm: the ranks of a data-parallel
  // job (docs/distributed.md; null = this process alone). Every rank builds
  // its Trainer with the same config and graph (checked at start); rank 0
  // writes the run directory, validates, and its parameters are the ones
  // every rank starts from.
  Trainer(const TrainConfig& cfg, const Graph& train, const HeldOut& val, RunDir run, Communicator* comm = nullptr);
  ~Trainer();
  // Trains to the end (or early stop). resume = continue from the run's checkpoint.
  // max_steps > 0 stops after that many optimizer steps in this call (tests of
  // kill-and-resume); the checkpoint is then written at that point.
  TrainResult fit(bool resume = false, int64_t max_steps = 0);
  // The parameters of a checkpoint (the best ones when it has them), for
  // inference (ember_embed); refused when the model or the graph's users differ.
  void load_parameters(const std::string& checkpoint_path);
  // Embeddings [N, embedding_dim] (CPU, float32) of every user, computed
  // layer-wise over the whole training graph with the current parameters.
  Tensor embed_all() const;
  // embed_all() of a data-parallel job: each rank embeds its contiguous block
  // of users (embed_block_start), layer by layer, receiving per layer the
  // projection of the halo (the sources of its block's in-edges) from the
  // ranks that own them (Encoder::infer_block); rank 0 gathers the rows and
  // returns [N, d], the other ranks an undefined tensor. On the CPU the
  // result equals embed_all() bit for bit. One process: embed_all().
  Tensor embed_sharded() const;
  // This rank's rows [embed_block_start(N, rank, R), ...(rank + 1)) of
  // embed_sharded(), without the gather (every rank, collective).
  Tensor embed_my_block() const;
  // First user of rank `rank`'s block: N rank / ranks rounded down to a
  // multiple of kEmbedBlockAlign (the CPU GEMM's row block, so that every row
  // is computed as in the whole-graph pass); N for rank == ranks.
  static constexpr int64_t kEmbedBlockAlign = 512;
  static int64_t embed_block_start(int64_t N, int rank, int ranks);
  SsmtlModel& model() { return *model_; }
  // Records the phases of every following step into `profile` (null: off).
  void set_profile(StepProfile* profile) { profile_ = profile; }
  // One validation pass (embed every user, exact top-K, Recall@50 of the validation split).
  double validate() const;
  // The same on given embeddings [N, d] (CPU) of every user.
  double validate_embeddings(const Tensor& emb) const;
  // validate() of a data-parallel job without gathering the embeddings: each
  // rank embeds its block, the validation queries' rows are all-gathered,
  // each rank ranks its block (exact_topk_block) and rank 0 merges the lists
  // (merge_rankings). Collective; the result on rank 0 equals validate() of
  // one process, 0 on the other ranks.
  double validate_sharded() const;
  // The validation query users: the users with validation edges, a seeded
  // sample of train.val_queries of them when there are more.
  std::vector<int32_t> validation_users() const;
  // The weighted loss of a batch with the current parameters, no gradient
  // (step 0's dropout streams): the PyTorch reference checks it.
  double batch_loss(const TrainBatch& batch) const;
  const TrainConfig& config() const { return cfg_; }
  // The batches of this rank (docs/distributed.md).
  BatchShard shard() const;
  // A checksum of the parameters and the optimizer state (equal on every
  // rank of a job after every step; checked at every epoch end).
  uint64_t state_checksum() const;

 private:
  struct StepLosses {
    double total = 0, retrieval = 0, cca = 0, mae = 0;
    bool ok = true;
    std::string problem;
    // Weighted path: the loss values (retrieval, CCA, MAE, total) still where
    // they were computed; train_step reads them with the gradient norm in one
    // copy. Empty once read.
    std::vector<Tensor> unread;
    bool stop = false;  // data-parallel: some rank was asked to stop (SIGINT/SIGTERM)
  };
  // Sums of one epoch's step losses (good steps only).
  struct EpochStats {
    double total = 0, retrieval = 0, cca = 0, mae = 0;
    int64_t good = 0, samples = 0;
    std::map<std::string, double> grad_norms;
    double w_cca = 0.0, w_mae = 0.0;  // sum of the steps' effective weights (for the epoch mean)
  };
  enum class EpochEnd { Completed, Interrupted };

  // fit(), step by step.
  void begin_run(bool resume);
  EpochEnd run_epoch(const BatchBuilder& builder, int64_t per_epoch, int64_t total_steps, int64_t max_steps,
                     int64_t& steps_this_call, EpochStats& stats);
  // Validation, best parameters, the metrics line, early stopping and the
  // end-of-epoch checkpoint; returns true when training must stop.
  bool end_epoch(const EpochStats& stats, double seconds);
  void restore_best_parameters();
  TrainResult result(double seconds) const;

  StepLosses train_step(const TrainBatch& batch, int64_t global_step);
  // Data-parallel: this rank's gradients, id-row gradients and losses,
  // weighted by its share of the global batch, summed over the ranks; the
  // loss values come back in `losses` (retrieval, CCA, MAE, total), the
  // same on every rank, as are the gradients afterwards.
  void allreduce_step(StepLosses& out, IdEmbeddingTrainer::Rows& rows, double share, std::vector<double>& losses);
  // Rank 0's parameters, optimizer state and training position on every rank.
  void sync_from_root();
  // distributed.partition "metis": the partition every rank's batches come from.
  void prepare_partition();
  std::shared_ptr<const std::vector<int32_t>> partition_;
  bool distributed() const { return comm_->distributed(); }
  // The gradients of one step into the parameters and the id rows, by the
  // weighting rule; returns the losses (ok = false names a non-finite one).
  StepLosses weighted_gradients(const TrainBatch& batch, int64_t global_step, const IdEmbeddingTrainer::Rows& rows);
  StepLosses mgda_gradients(const TrainBatch& batch, int64_t global_step, const IdEmbeddingTrainer::Rows& rows);
  // The weight of objective `which` in this step (fixed or gradnorm).
  double effective_weight(unsigned which) const;
  // The enabled objectives' loss terms on a batch (which: a mask of kRetrieval, kCca, kMae).
  static constexpr unsigned kRetrieval = 1, kCca = 2, kMae = 4;
  struct LossTerm {
    unsigned which;
    double weight;
    Variable value;
  };
  // id_rows: the batch's id-embedding rows (undefined when id embeddings are off).
  std::vector<LossTerm> loss_terms(const TrainBatch& batch, int64_t global_step, unsigned which,
                                   const Variable& id_rows) const;
  // The batch's id rows (engine/train/id_embeddings.h), or empty when off.
  IdEmbeddingTrainer::Rows id_rows(const TrainBatch& batch, int64_t global_step) const;
  std::map<std::string, double> encoder_grad_norms(const TrainBatch& batch, int64_t global_step);
  double learning_rate(int64_t step, int64_t total_steps) const;
  void append_metrics(const EpochStats& stats, double recall50, bool improved, double seconds) const;
  void save_state(int64_t epoch, int64_t step_in_epoch) const;
  // Loads the run's checkpoint; returns the ranks of the job that wrote it (0: not recorded).
  int64_t load_state();
  // Copies a checkpoint's parameters (from index `first` of its list) into the model, with the checks.
  void apply_parameters(const struct Checkpoint& c, const std::string& path, size_t first);
  uint64_t users_hash() const;

  TrainConfig cfg_;
  std::unique_ptr<Communicator> local_comm_;  // when no communicator is given
  Communicator* comm_;
  bool writer_;         // this rank writes the run directory (rank 0 of a job that has one)
  uint64_t rng_seed_;   // this rank's dropout streams (shard_seed)
  double step_share_ = 1.0;  // this rank's share of the current global batch
  const Graph& train_;
  const HeldOut& val_;
  RunDir run_;
  Device device_;
  std::unique_ptr<SsmtlModel> model_;
  std::unique_ptr<Optimizer> optim_;           // the dense parameters
  std::unique_ptr<IdEmbeddingTrainer> ids_;     // the id table's row-sparse updates (model.id_embeddings)
  std::vector<Tensor> best_params_;
  // Training position (restored by resume).
  int64_t epoch_ = 0, step_in_epoch_ = 0, global_step_ = 0;
  double best_metric_ = -1.0;
  int64_t best_epoch_ = -1, bad_epochs_ = 0;
  bool stopped_early_ = false;
  double w_cca_ = 0.0, w_mae_ = 0.0;  // current effective weights (weighting gradnorm / mgda)
  int64_t bad_steps_ = 0;  // consecutive skipped steps
  StepProfile* profile_ = nullptr;
};

}  // namespace ember
