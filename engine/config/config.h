// Training configuration: JSON in (nlohmann/json), defaults for everything,
// validation with clear errors (unknown keys, wrong types, out-of-range
// values name the key path), and the resolved config written next to a run's
// outputs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/data_config.h"

namespace ember {

struct ModelConfig {
  int64_t hidden = 128;         // per-head features of hidden GAT layers = hidden / heads
  int64_t embedding_dim = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  double dropout = 0.1;
  double attn_dropout = 0.0;
  bool residual = true;
  bool elu = true;
  double negative_slope = 0.2;
  // Learnable user-id embeddings (the transductive part of the input): a row
  // per user [num_users, hidden] added to the sparse feature projection,
  // updated row-sparsely (only the rows a batch touched, lazy Adam).
  bool id_embeddings = false;
  double id_dropout = 0.25;     // training: a user's id row is left out with this probability
  bool id_cold_users = false;   // inference: users without training friends also get their id row
};

struct SamplingConfig {
  std::vector<int64_t> fanouts{10, 5};
  int64_t batch_size = 256;
  int64_t prefetch = 4;
  int64_t threads = 1;
};

struct CcaConfig {
  double lambda = 1e-3;
  double edge_drop = 0.2;
  double feature_drop = 0.2;
  int64_t head_hidden = 64;
  int64_t head_out = 64;
};

struct MaeConfig {
  double edge_drop = 0.2;
  double exponent = 2.0;  // y of eq. 4
};

struct ObjectiveConfig {
  double alpha = 1.0;    // retrieval (eq. 5)
  double beta = 0.0;     // CCA (eq. 3)
  double gamma = 0.0;    // MAE (eq. 4)
  double temperature = 0.03;
  int64_t random_negatives = 256;
  int64_t hard_negatives = 0;     // per query: friends of friends (not friends) from the batch's subgraph
  bool logq_correction = true;
  // How the objectives are combined (engine/train/weighting.h): "fixed"
  // (alpha, beta, gamma as given), "gradnorm" (beta, gamma = fractions of the
  // retrieval gradient, re-measured every weighting_every steps), "mgda"
  // (min-norm combination on the shared encoder; weights > 0 only switch an
  // objective on).
  std::string weighting = "fixed";
  // Share of a batch's query users whose neighbourhood the self-supervised
  // views (CCA, MAE) cover: 1 = the batch's whole subgraph; below 1 they get
  // their own subgraph around ceil(fraction * B) queries (cheaper steps).
  double ssl_fraction = 1.0;
  int64_t weighting_every = 10;
  CcaConfig cca;
  MaeConfig mae;
};

struct OptimConfig {
  std::string optimizer = "adamw";  // "adam", "adamw", "sgd"
  double lr = 3e-3;
  double weight_decay = 1e-4;
  int64_t warmup_steps = 20;
  std::string decay = "cosine";     // "cosine", "none"
  double clip_norm = 5.0;           // 0 = off
  double id_lr = 0.0;               // learning rate of the id embeddings (0 = lr); same schedule
};

struct TrainLoopConfig {
  int64_t epochs = 40;
  int64_t steps_per_epoch = 0;      // 0 = one pass over the training queries
  int64_t patience = 6;             // early stopping on validation Recall@50 (0 = off)
  int64_t val_queries = 1000;       // validation users evaluated per epoch (0 = all)
  int64_t checkpoint_every = 0;     // steps between checkpoints inside an epoch (0 = epoch ends only)
  bool progress = true;
  bool grad_diagnostics = false;    // log each objective's encoder gradient norm once per epoch (metrics.jsonl)
};

// Query expansion at retrieval time (engine/retrieval/expansion.h has the rules).
struct ExpansionConfig {
  int64_t friends = 0;                       // S: friends whose embeddings join a query (0 and not "all" = off)
  std::string select = "all";                // which S friends: "similar", "embedded", "all" (every friend)
  std::string merge = "mean";                // "mean", "max", "softcount"
  std::string weight = "inverse_log_degree"; // friend weights: "uniform", "inverse_log_degree"
  double self_weight = 0.5;                  // w: the user's own embedding's share, in [0, 1]
  double temperature = 0.1;                  // tau of "softcount"
  void validate(const std::string& where = "retrieval.expansion") const;  // throws naming the key
  bool enabled() const { return friends > 0 || select == "all"; }
};

// Blending ember's candidates with friends-of-friends (engine/retrieval/candidates.h).
struct BlendConfig {
  std::string mode = "off";  // "off", "rrf": reciprocal-rank fusion with the Adamic-Adar list
  double weight = 0.5;       // FoF's share of the fused score, in [0, 1]
  double rrf_k = 60;         // RRF's constant: score = sum_source w_s / (rrf_k + rank_s)
  int64_t depth = 200;       // list depth taken from each source
  void validate(const std::string& where = "retrieval.blend") const;
  bool enabled() const { return mode != "off"; }
};

// How candidates are served from the embeddings (ember_query, ember_evaluate,
// the batch candidate generation).
struct RetrievalConfig {
  ExpansionConfig expansion;
  BlendConfig blend;
};

struct IndexConfig {
  int64_t M = 16;
  int64_t ef_construction = 200;
  int64_t ef = 128;
};

// Data-parallel training under mpirun (docs/distributed.md). Ignored by a
// job of one process.
struct DistributedConfig {
  // "shard": each rank takes its slice of every global batch of
  // sampler.batch_size queries (the union over ranks is the one-process
  // epoch); "replicate": every rank trains on the whole global batch (a test
  // mode: R ranks then equal one process up to float rounding).
  std::string batches = "shard";
  // "none": ranks share every global batch of one permutation of all users;
  // "metis": rank r trains on the users of part r of a METIS partition of the
  // training graph (sampler.batch_size / R of them per step), so its
  // subgraphs overlap (needs EMBER_METIS; "shard" batches only).
  std::string partition = "none";
};

struct TrainConfig {
  uint64_t seed = 1;
  std::string device = "cpu";  // "cpu", "cuda", "emu"
  DataConfig data;
  ModelConfig model;
  SamplingConfig sampler;
  ObjectiveConfig objectives;
  OptimConfig optim;
  TrainLoopConfig train;
  IndexConfig index;
  RetrievalConfig retrieval;
  DistributedConfig distributed;

  // Parses JSON text. Unknown keys, wrong types and invalid values throw
  // ember::Error naming the key path (e.g. "config: model.heads must be >= 1").
  static TrainConfig from_json_text(const std::string& text, const std::string& source = "config");
  static TrainConfig from_file(const std::string& path);
  std::string to_json_text() const;   // the resolved config, pretty-printed
  void validate() const;
  // Hash of the fields that change the model's shape (for checkpoint checks).
  uint64_t model_hash() const;
};

}  // namespace ember
