#include "engine/train/memory_estimate.h"

#include <algorithm>

#include "engine/data/prepare.h"
#include "engine/train/model.h"

namespace ember {

namespace {
uint64_t u(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }
}  // namespace

MemoryEstimate estimate_training(const TrainConfig& cfg, const GraphSize& train_in, int ranks) {
  const double Rk = ranks > 1 && cfg.distributed.batches == "shard" ? static_cast<double>(ranks) : 1.0;
  MemoryEstimate e;
  GraphSize train = train_in;
  const double n = static_cast<double>(u(train.nodes));
  if (train.feature_cols <= 0) {  // the structural fallback of prepare_data
    train.feature_cols = structural_feature_columns(train.nodes);
    train.feature_nnz = kStructuralFeaturesPerUser * train.nodes;
  }
  const double F = static_cast<double>(u(train.feature_cols));
  const double nnz_row = n > 0 ? static_cast<double>(u(train.feature_nnz)) / n : 0.0;
  const double held = cfg.data.val_fraction + cfg.data.test_fraction;
  const double E_train = static_cast<double>(u(train.edges));
  const double E_full = held < 1.0 ? E_train / (1.0 - held) : E_train;

  // Prepared data: the full graph and the training graph (features shared in
  // content but stored twice), held-out edge lists and their CSR. With
  // data.cache_dir the full graph and the training graph's CSR are mapped
  // files (one page-cache copy per machine, engine/data/graph_cache.h and
  // split_cache.h), the training graph shares the mapped features, and the
  // structural fallback features are still built per rank.
  GraphSize full = train;
  full.edges = static_cast<int64_t>(E_full);
  const bool mapped = !cfg.data.cache_dir.empty() && cfg.data.graph != "synthetic";
  if (mapped) {
    const bool file_features = train_in.feature_cols > 0;
    GraphSize cached = full;     // structure, labels and the features read from files
    cached.identity_ids = true;  // the id map is read into memory, not mapped: counted below
    if (!file_features) cached.feature_cols = 0, cached.feature_nnz = 0;
    const double train_csr = 8.0 * (n + 1) + 4.0 * 2.0 * E_train;  // the split cache's CSR
    // Private to each rank: the full and the training graph's id maps, and the
    // structural fallback features (built per rank, held by both graphs).
    const double ids = train.identity_ids ? 0.0 : 2.0 * 24.0 * n;
    const double fallback =
        file_features ? 0.0 : 2.0 * (8.0 * (n + 1) + 8.0 * static_cast<double>(u(train.feature_nnz)));
    e.add("graph and split caches, mapped (once per machine)", saturating_add(graph_bytes(cached), bytes_of(train_csr)));
    if (ids + fallback > 0) e.add("graphs", bytes_of(ids + fallback));
  } else {
    e.add("graphs", saturating_add(graph_bytes(full), graph_bytes(train)));
  }
  e.add("held-out edges", bytes_of((E_full - E_train) * (8.0 + 8.0) + 16.0 * (n + 1)));

  // Model: parameters, gradients, Adam moments (or SGD momentum), best copy,
  // checkpoint staging.
  // The model's own list of parameters (engine/train/model.h).
  const std::vector<ParamSpec> specs =
      SsmtlModel::param_specs(cfg, static_cast<int64_t>(std::min(F, 9e18)), static_cast<int64_t>(std::min(n, 9e18)));
  double P = 0;
  for (const ParamSpec& p : specs) P += p.numel_estimate();
  const double opt_copies = cfg.optim.optimizer == "sgd" ? 1.0 : 2.0;
  const bool gpu = cfg.device == "cuda";
  const double on_device = 4.0 * P * (2.0 + opt_copies);  // params + grads + optimizer state
  const double on_host_model = 4.0 * P * 2.0;              // best parameters + checkpoint copies
  e.add("model, gradients, optimizer", gpu ? bytes_of(on_host_model) : bytes_of(on_device + on_host_model),
        gpu ? bytes_of(on_device) : 0);

  // One batch (engine/batch.cpp): seeds = queries + positives + random
  // negatives; each hop expands every new node by its fanout (sampled nodes
  // are mostly well connected, so the full fanout is taken), capped at the graph.
  const double B = std::max(1.0, static_cast<double>(u(cfg.sampler.batch_size)) / Rk);  // this rank's queries
  const double R = static_cast<double>(u(cfg.objectives.random_negatives));
  double nodes = 2.0 * B + R, frontier = nodes, edges = 0;
  const double mean_deg = n > 0 ? 2.0 * E_train / n : 0.0;
  for (int64_t f : cfg.sampler.fanouts) {
    const double take = f < 0 ? 2.0 * mean_deg : static_cast<double>(f);
    edges += frontier * take;
    frontier *= take;
    nodes += frontier;
  }
  nodes = std::min(nodes, n);
  edges = std::min(2.0 * edges, 2.0 * E_train);  // both directions
  const double views = 1.0 + (cfg.objectives.beta > 0 ? 2.0 : 0.0) + (cfg.objectives.gamma > 0 ? 1.0 : 0.0);
  const double C = B + R;
  const double batch = views * (8.0 * edges + 8.0 * (nodes + 1) + 8.0 * nodes * nnz_row) + 8.0 * nodes +
                       4.0 * B * C * 2.0 + (cfg.objectives.gamma > 0 ? 4.0 * B * F : 0.0);
  const double in_flight = static_cast<double>(u(cfg.sampler.prefetch) + u(cfg.sampler.threads) + 1);
  e.add("prefetched batches", bytes_of(in_flight * batch));

  // One step: per view the message graph (CSR + transpose) and sparse input,
  // and ~5 float tensors per node and layer width kept for the backward
  // (measured: 4.6 with the allocator's peak counter, 27k-141k-node batches);
  // widths: the input projection (hidden), hidden layers (heads * hidden /
  // heads), the last layer (heads * embedding_dim before the head mean). Plus
  // the MAE reconstruction [B, F] with its gradient and the retrieval workspace.
  // The widths are read off the model's parameter list: the projection's
  // output (w_in's columns) and each GAT layer's heads * per-head features
  // (its weight's columns).
  const ModelConfig& m = cfg.model;
  double widths = 0, widest = 0;
  for (const ParamSpec& p : specs) {
    const bool gat_weight = p.name.rfind("encoder.gat", 0) == 0 && p.name.size() > 7 &&
                            p.name.compare(p.name.size() - 7, 7, ".weight") == 0;
    if (p.name != "encoder.w_in" && !gat_weight) continue;
    const double w = static_cast<double>(p.shape.at(1));
    widths += w;
    widest = std::max(widest, w);
  }
  const double per_view = (8.0 * (nodes + 1) + 4.0 * (edges + nodes) + 8.0 * (nodes + 1) + 8.0 * (edges + nodes)) +
                          (8.0 * (nodes + 1) + 8.0 * nodes * nnz_row) * 2.0 + 5.0 * 4.0 * nodes * widths +
                          4.0 * static_cast<double>(m.heads) * (edges + nodes);
  const double step = views * per_view + (cfg.objectives.gamma > 0 ? 3.0 * 4.0 * B * F : 0.0) +
                      4.0 * std::min(67584.0 + B, 1056.0 * B) * static_cast<double>(m.embedding_dim) +
                      4.0 * B * C * 3.0;
  // Validation: embed_all over the whole training graph (no gradients: about
  // 2 tensors of the widest layer alive, the full message graph and input),
  // then exact top-K on the host (normalised copy + tiles).
  double infer = 8.0 * (n + 1) + 4.0 * (2.0 * E_train + n) + 8.0 * (n + 1) + 8.0 * static_cast<double>(u(train.feature_nnz)) +
                 2.0 * 4.0 * n * widest;
  if (ranks > 1) {
    // Sharded (Trainer::embed_my_block): the block and its halo (the sources
    // of its in-edges: at most all users, at most its edge count), their
    // message graph, the block's feature rows and activations, the halo's
    // projection (received, assembled: twice), and on rank 0 one other
    // rank's block of final embeddings (write_embeddings_sharded streams them).
    const double blk = n / ranks;
    const double local = std::min(n, blk + 2.0 * E_train / ranks);
    infer = 8.0 * (local + 1) + 4.0 * (2.0 * E_train / ranks + local) + 8.0 * local + 8.0 * (blk + 1) +
            8.0 * static_cast<double>(u(train.feature_nnz)) / ranks + 2.0 * 4.0 * blk * widest +
            3.0 * 4.0 * local * widest + 4.0 * blk * static_cast<double>(m.embedding_dim);
  }
  // Validation's exact top-K: the normalised items (with R ranks, each ranks
  // only its block: Trainer::validate_sharded) + score tiles, top-k lists.
  const double topk_items = ranks > 1 ? n / ranks : n;
  const double topk_host = 2.0 * 4.0 * topk_items * static_cast<double>(m.embedding_dim) + 8.0 * 1024 * 1024;
  // The process itself: code, libraries (the CUDA ones are large), thread stacks, allocator slack.
  e.add("runtime", uint64_t(96) << 20);
  const double device_phase = std::max(step, infer);
  if (gpu) {
    e.add("step / inference working set", bytes_of(topk_host), bytes_of(device_phase));
  } else {
    e.add("step / inference working set", bytes_of(device_phase + topk_host));
  }
  return e;
}

}  // namespace ember
