// The SSMTL model of the paper (section 3): one GAT encoder shared by three
// objectives (hard parameter sharing), plus the objective-specific heads.
//
//   input      sparse multi-hot features  x  [n, F]  (CSR, never densified)
//   projection h0 = x W_in + b_in                     [n, hidden]   (sparse_linear)
//   GAT layers h_l = GAT_l(h_{l-1})  (eq. 2), heads concatenated, ELU between
//              layers, dropout, optional residual; the last layer averages
//              its heads and has embedding_dim features per head.
//   retrieval  (eq. 5) query and candidate embeddings from the same encoder.
//   CCA        (eq. 3) two augmented views -> encoder -> Linear-ReLU-Linear head.
//   MAE        (eq. 4) masked view -> encoder -> linear head -> re-mask ->
//              one GAT decoder layer back to feature space.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "core/philox.h"
#include "engine/config/config.h"
#include "engine/sampling/device_view.h"
#include "ops/message_graph.h"
#include "ops/sparse_linear.h"


namespace ember {


// One parameter of the model: its name (as in checkpoints), shape and how it
// starts. The lists below are the one description of the model's parameters:
// the constructors create exactly these, in this order (which fixes the
// seeded initialisation), and the memory estimate counts them.
struct ParamSpec {
  enum Init { Glorot, Zeros };
  std::string name;
  Shape shape;
  Init init;
  int64_t numel() const { return shape_numel(shape); }
  // The element count in double: estimates of absurd configs must not overflow.
  double numel_estimate() const {
    double c = 1;
    for (int64_t d : shape) c *= static_cast<double>(d);
    return c;
  }
};

// Where dropout masks come from in one forward pass (all Philox, so every
// backend draws the same masks).
struct GatOptions;  // ops/gat.h

struct ForwardRng {
  uint64_t seed = 0;
  uint64_t stream = 0;  // distinct per pass: step * 8 + view (engine/train/trainer.cpp)
  bool training = false;
};

class Encoder {
 public:
  // num_users > 0 with cfg.id_embeddings: the id table [num_users, hidden].
  Encoder(const ModelConfig& cfg, int64_t num_features, int64_t num_users, uint64_t seed, Device device);
  // The parameters, names relative to the encoder ("w_in", "gat0.weight", ...,
  // "id_table" last when id embeddings are on).
  static std::vector<ParamSpec> param_specs(const ModelConfig& cfg, int64_t num_features, int64_t num_users);
  // Embeddings [n, embedding_dim] of every node of the (local) graph. When
  // mask_rows is defined (int64 [k] local ids), those rows' projected input
  // is replaced by the learnable mask token (MAE). id_rows (optional,
  // [n, hidden]) is added to the projected input: the nodes' id-embedding
  // rows, gathered (and dropped out) by the caller (id_rows_for).
  Variable forward(const SparseCsr& x, const MessageGraph& g, const ForwardRng& rng,
                   const Tensor& mask_rows = Tensor(), const Variable& id_rows = Variable()) const;
  // Inference (no dropout, no mask) of one block of a data-parallel job's
  // users (Trainer::embed_sharded): g holds the block's nodes, rows [begin,
  // end) of g, with every in-edge, and the sources of those edges (the
  // halo); x_block and id_block (or undefined) are the block's feature and id
  // rows; exchange(t) turns the block's rows of t into g's rows (the halo's
  // from the ranks that own them). Each layer projects the block only,
  // exchanges the projection (one exchange per layer) and aggregates the
  // block's in-edges. With blocks that start at multiples of 512 rows (the
  // CPU GEMM's row blocks) every value equals forward()'s on the whole graph
  // on the CPU.
  Tensor infer_block(const SparseCsr& x_block, const Tensor& id_block, const MessageGraph& g, int64_t begin,
                     int64_t end, const std::function<Tensor(const Tensor&)>& exchange) const;
  // The id table [num_users, hidden] (undefined when id embeddings are off).
  const Variable& id_table() const { return id_table_; }
  void collect(std::vector<std::pair<std::string, Variable>>& out, const std::string& prefix) const;
  int64_t embedding_dim() const { return cfg_.embedding_dim; }
  int64_t hidden_dim() const { return cfg_.hidden; }

 private:
  struct Layer {
    Variable weight, att_src, att_dst, bias, residual;
    int64_t heads, out_per_head;
    bool concat;
  };
  // Layer l's attention options (dropout streams from r; none when not training).
  GatOptions layer_options(size_t l, const ForwardRng& r) const;
  ModelConfig cfg_;
  std::vector<std::pair<std::string, Variable>> named_;
  Variable w_in_, b_in_, mask_token_, id_table_;
  std::vector<Layer> layers_;
};

// Linear-ReLU-Linear projection head of the CCA objective.
class CcaHead {
 public:
  CcaHead(int64_t in, int64_t hidden, int64_t out, uint64_t seed, Device device);
  static std::vector<ParamSpec> param_specs(int64_t in, int64_t hidden, int64_t out);
  Variable forward(const Variable& z) const;
  void collect(std::vector<std::pair<std::string, Variable>>& out, const std::string& prefix) const;

 private:
  std::vector<std::pair<std::string, Variable>> named_;
  Variable w1_, b1_, w2_, b2_;
};

// MAE head: linear head, re-mask of the masked rows, one GAT decoder layer to
// the feature space, evaluated only at the masked rows.
class MaeHead {
 public:
  MaeHead(int64_t embedding_dim, int64_t num_features, double negative_slope, uint64_t seed, Device device);
  static std::vector<ParamSpec> param_specs(int64_t embedding_dim, int64_t num_features);
  // Reconstructed features [k, F] of target_rows (local ids, int64 [k]);
  // masked_rows (the masked queries) are re-masked before the decoder.
  Variable forward(const Variable& h, const MessageGraph& g, const Tensor& masked_rows,
                   const Tensor& target_rows) const;
  void collect(std::vector<std::pair<std::string, Variable>>& out, const std::string& prefix) const;

 private:
  std::vector<std::pair<std::string, Variable>> named_;
  Variable w_head_, b_head_, w_dec_, att_src_, att_dst_, b_dec_;
  double negative_slope_;
};

// Everything trainable: the shared encoder and the heads of the enabled objectives.
struct SsmtlModel {
  // num_users: rows of the id table when cfg.model.id_embeddings (the graph's users).
  SsmtlModel(const TrainConfig& cfg, int64_t num_features, int64_t num_users, Device device);
  Encoder encoder;
  CcaHead cca;
  MaeHead mae;
  // Every parameter's name ("encoder.w_in", "cca.w1", ...), shape and
  // initialisation, in the order of named_parameters(), without creating any.
  static std::vector<ParamSpec> param_specs(const TrainConfig& cfg, int64_t num_features, int64_t num_users);
  // All parameters with stable names (checkpoints), in a fixed order.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<Variable> parameters() const;
  // The parameters of the dense optimizer: all but the id table (updated row-sparsely).
  std::vector<Variable> dense_parameters() const;
};

}  // namespace ember
