#include "engine/train/trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "core/memory_budget.h"
#include "engine/io/binary_io.h"
#include "engine/io/interrupt.h"
#include "engine/io/progress.h"
#include "engine/retrieval/metrics.h"
#include "engine/sampling/batch.h"
#include "engine/sampling/prefetch.h"
#include "engine/data/partition.h"
#include "engine/train/checkpoint.h"
#include "engine/train/memory_estimate.h"
#include "engine/train/weighting.h"
#include "kernels/tensor_ops.h"
#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/objectives.h"
#include "ops/rows.h"

namespace ember {

namespace fs = std::filesystem;

namespace {

using DeviceView = ReadyView;

// The view on the training device: the worker built it (BatchBuilder::build);
// a batch built elsewhere is made ready here.
DeviceView to_device(const GraphView& v, Device device) {
  return on_device(v.ready.built() ? v.ready : make_ready(v), device);
}

Tensor arange(int64_t n, Device device) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return Tensor::from_vector(v, {n}, device);
}

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& o, std::vector<Variable> params) {
  if (o.optimizer == "sgd") return std::make_unique<Sgd>(std::move(params), SgdOptions{o.lr, 0.9, o.weight_decay});
  AdamOptions a;
  a.lr = o.lr;
  a.weight_decay = o.weight_decay;
  a.decoupled = o.optimizer == "adamw";
  return std::make_unique<Adam>(std::move(params), a);
}

// Users with at least one training friend: the query users of an epoch.
std::vector<int32_t> training_users(const Graph& train) {
  std::vector<int32_t> users;
  for (int64_t u = 0; u < train.num_nodes(); ++u)
    if (train.degree(u) > 0) users.push_back(static_cast<int32_t>(u));
  return users;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Trainer::Trainer(const TrainConfig& cfg, const Graph& train, const HeldOut& val, RunDir run, Communicator* comm)
    : cfg_(cfg),
      local_comm_(comm ? nullptr : make_local_communicator()),
      comm_(comm ? comm : local_comm_.get()),
      writer_(false),
      rng_seed_(0),
      train_(train),
      val_(val),
      run_(std::move(run)),
      device_(parse_device_name(cfg.device)) {
  cfg_.validate();
  writer_ = run_.writes() && comm_->is_root();
  rng_seed_ = shard_seed(cfg_.seed, shard());
  if (distributed()) {
    // Every rank must train the same model on the same data: the resolved
    // config and the training graph's shape are compared with rank 0's.
    std::string text = cfg_.to_json_text();
    text += "|nodes=" + std::to_string(train_.num_nodes()) + "|edges=" + std::to_string(train_.neighbors.size()) +
            "|features=" + std::to_string(train_.features.num_cols) + "|val=" + std::to_string(val_.users().size());
    check_same_on_all_ranks(*comm_, checksum64(text.data(), text.size()),
                            "the resolved config or the training graph (hash of config.json + graph sizes)");
  }
  EMBER_CHECK(train_.has_features(), "trainer: the training graph has no node features (prepare_data adds them)");
  check_memory(estimate_training(cfg_, graph_size(train_)), "training");
  model_ = std::make_unique<SsmtlModel>(cfg_, train_.features.num_cols, train_.num_nodes(), device_);
  optim_ = make_optimizer(cfg_.optim, model_->dense_parameters());
  if (cfg_.model.id_embeddings)
    ids_ = std::make_unique<IdEmbeddingTrainer>(cfg_, train_, model_->encoder.id_table());
  if (writer_) fs::create_directories(run_.path);
}

BatchShard Trainer::shard() const {
  return BatchShard{comm_->rank(), comm_->size(), cfg_.distributed.batches == "replicate", partition_};
}

// distributed.partition "metis": rank 0 loads the run's stored partition or
// computes (and stores) it; every rank receives rank 0's.
void Trainer::prepare_partition() {
  if (!distributed() || cfg_.distributed.partition != "metis" || partition_) return;
  std::vector<char> bytes;
  if (comm_->is_root()) {
    std::string note;
    const std::string path =
        writer_ ? run_.split_dir() + "/metis-" + std::to_string(comm_->size()) + ".part" : std::string();
    if (writer_) fs::create_directories(run_.split_dir());
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> part = load_or_compute_partition(path, train_, comm_->size(), cfg_.seed, &note);
    const std::vector<int64_t> sizes = part_sizes(part, comm_->size());
    std::printf("METIS partition into %d parts: %s (%.1f s); parts of %lld..%lld users, %lld of %lld edges cut\n",
                comm_->size(), note.c_str(), seconds_since(t0),
                (long long)*std::min_element(sizes.begin(), sizes.end()),
                (long long)*std::max_element(sizes.begin(), sizes.end()), (long long)edge_cut(train_, part),
                (long long)train_.num_edges());
    bytes.resize(part.size() * sizeof(int32_t));
    std::memcpy(bytes.data(), part.data(), bytes.size());
  }
  comm_->broadcast(bytes, 0);
  auto part = std::make_shared<std::vector<int32_t>>(bytes.size() / sizeof(int32_t));
  EMBER_CHECK(static_cast<int64_t>(part->size()) == train_.num_nodes(),
              "partition: rank 0 sent " << part->size() << " entries for " << train_.num_nodes() << " users");
  std::memcpy(part->data(), bytes.data(), bytes.size());
  partition_ = std::move(part);
}

uint64_t Trainer::state_checksum() const {
  std::vector<Tensor> ts;
  for (const Variable& p : model_->parameters()) ts.push_back(p.value());
  for (const Tensor& t : optim_->state()) ts.push_back(t);
  if (ids_)
    for (const Tensor& t : ids_->state()) ts.push_back(t);
  return tensors_checksum(ts);
}

Trainer::~Trainer() = default;

double Trainer::learning_rate(int64_t step, int64_t total_steps) const {
  const double lr = cfg_.optim.lr;
  const int64_t warm = cfg_.optim.warmup_steps;
  if (warm > 0 && step < warm) return lr * static_cast<double>(step + 1) / static_cast<double>(warm);
  if (cfg_.optim.decay == "none" || total_steps <= warm) return lr;
  const double t = std::min(1.0, static_cast<double>(step - warm) / static_cast<double>(total_steps - warm));
  return lr * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(M_PI * t)));  // cosine from lr down to lr/10
}

IdEmbeddingTrainer::Rows Trainer::id_rows(const TrainBatch& b, int64_t global_step) const {
  return ids_ ? ids_->gather(b.global_ids, global_step) : IdEmbeddingTrainer::Rows{};
}

std::vector<Trainer::LossTerm> Trainer::loss_terms(const TrainBatch& b, int64_t global_step, unsigned which,
                                                   const Variable& ids) const {
  const auto& ob = cfg_.objectives;
  const int64_t B = b.num_queries;
  std::vector<LossTerm> terms;
  if (ob.alpha > 0.0 && (which & kRetrieval)) {  // eq. 5
    DeviceView v;
    Tensor cand, pos, mask;
    RetrievalOptions ro;
    {
      PhaseClock clock(profile_, "upload", device_);
      v = to_device(b.retrieval, device_);
      // Row lists stay on the host: the ops check them there and upload them
      // (a device-side check would read an error flag back: a synchronisation).
      cand = Tensor::from_vector(b.candidates, {static_cast<int64_t>(b.candidates.size())});
      pos = Tensor::from_vector(b.positives, {B, 1});
      mask = Tensor::from_vector(b.mask, {B, static_cast<int64_t>(b.candidates.size())}, device_);
      if (!b.log_q.empty())  // sampled-softmax correction for popular in-batch candidates
        ro.log_q = Tensor::from_vector(b.log_q, {static_cast<int64_t>(b.log_q.size())}, device_);
    }
    PhaseClock clock(profile_, "forward.retrieval", device_);
    Variable emb =
        model_->encoder.forward(v.x, v.graph, ForwardRng{rng_seed_, uint64_t(global_step) * 8 + 0, true}, {}, ids);
    Variable q = l2_normalize_rows(gather_rows(emb, arange(B, Device::CPU)));
    Variable c = l2_normalize_rows(gather_rows(emb, cand));
    ro.temperature = ob.temperature;
    ro.mask = &mask;
    terms.push_back({kRetrieval, ob.alpha, retrieval_softmax_ce(q, c, pos, ro)});
  }
  // The self-supervised views' own subgraph (objectives.ssl_fraction < 1)
  // gets its id rows as inference sees them: only retrieval trains them then.
  const Variable ssl_ids = b.ssl_global_ids.empty() || !ids_ ? ids : Variable(ids_->fixed_rows(b.ssl_global_ids));
  if (ob.beta > 0.0 && (which & kCca)) {  // eq. 3
    DeviceView va, vb;
    {
      PhaseClock clock(profile_, "upload", device_);
      va = to_device(b.cca_a, device_);
      vb = to_device(b.cca_b, device_);
    }
    PhaseClock clock(profile_, "forward.cca", device_);
    Variable za = model_->cca.forward(
        model_->encoder.forward(va.x, va.graph, ForwardRng{rng_seed_, uint64_t(global_step) * 8 + 1, true}, {}, ssl_ids));
    Variable zb = model_->cca.forward(
        model_->encoder.forward(vb.x, vb.graph, ForwardRng{rng_seed_, uint64_t(global_step) * 8 + 2, true}, {}, ssl_ids));
    terms.push_back({kCca, ob.beta, cca_loss(za, zb, ob.cca.lambda)});
  }
  if (ob.gamma > 0.0 && !b.mae_rows.empty() && (which & kMae)) {  // eq. 4
    const int64_t K = static_cast<int64_t>(b.mae_rows.size());
    const int64_t F = train_.features.num_cols;
    DeviceView v;
    Tensor masked, rows;
    Variable target;
    {
      PhaseClock clock(profile_, "upload", device_);
      v = to_device(b.mae, device_);
      // Row lists stay on the host: they are read there (masks) and uploaded by the ops.
      masked = Tensor::from_vector(b.mae_masked, {static_cast<int64_t>(b.mae_masked.size())});
      rows = Tensor::from_vector(b.mae_rows, {K});
      target = Variable(Tensor::from_vector(b.mae_target, {K, F}, device_));
    }
    PhaseClock clock(profile_, "forward.mae", device_);
    Variable h =
        model_->encoder.forward(v.x, v.graph, ForwardRng{rng_seed_, uint64_t(global_step) * 8 + 3, true}, masked, ssl_ids);
    Variable z = model_->mae.forward(h, v.graph, masked, rows);
    terms.push_back({kMae, ob.gamma, scaled_cosine_error(target, z, arange(K, Device::CPU), ob.mae.exponent)});
  }
  return terms;
}

// Per objective, the norm of its own (unweighted) gradient on the shared
// encoder's parameters, from a separate backward pass on the same batch and
// dropout streams; the optimizer state and the parameters are not touched.
// Shows how much each objective actually moves the encoder at given weights.
std::map<std::string, double> Trainer::encoder_grad_norms(const TrainBatch& b, int64_t global_step) {
  std::map<std::string, double> out;
  std::vector<Variable> enc;
  for (const auto& [name, v] : model_->named_parameters())
    if (name.rfind("encoder.", 0) == 0) enc.push_back(v);
  for (unsigned which : {kRetrieval, kCca, kMae}) {
    optim_->zero_grad();
    const IdEmbeddingTrainer::Rows rows = id_rows(b, global_step);
    std::vector<LossTerm> t = loss_terms(b, global_step, which, rows.leaf);
    if (t.empty()) continue;
    t[0].value.backward();
    double s = 0.0;
    for (const Variable& p : enc)
      if (p.has_grad()) s += tensor::sum_squares(p.grad());
    out[which == kRetrieval ? "retrieval" : which == kCca ? "cca" : "mae"] = std::sqrt(s);
  }
  optim_->zero_grad();
  return out;
}

double Trainer::batch_loss(const TrainBatch& b) const {
  NoGradGuard ng;
  const IdEmbeddingTrainer::Rows rows = id_rows(b, 0);
  double total = 0;
  for (const LossTerm& t : loss_terms(b, 0, kRetrieval | kCca | kMae, rows.leaf))
    total += effective_weight(t.which) * tensor::scalar(t.value.value());
  return total;
}

double Trainer::effective_weight(unsigned which) const {
  const auto& ob = cfg_.objectives;
  if (which == kRetrieval) return ob.alpha;
  if (ob.weighting != "fixed") return which == kCca ? w_cca_ : w_mae_;  // gradnorm: used; mgda: reported
  return which == kCca ? ob.beta : ob.gamma;
}

Trainer::StepLosses Trainer::weighted_gradients(const TrainBatch& b, int64_t global_step,
                                                const IdEmbeddingTrainer::Rows& rows) {
  StepLosses out;
  const auto& ob = cfg_.objectives;
  if (ob.weighting == "gradnorm" && (global_step % ob.weighting_every == 0 || (w_cca_ == 0.0 && w_mae_ == 0.0))) {
    std::map<std::string, double> g = encoder_grad_norms(b, global_step);
    if (distributed()) {  // the ranks' norms weighted by their share: one set of weights for every rank
      std::vector<double> n{g["retrieval"] * step_share_, g["cca"] * step_share_, g["mae"] * step_share_};
      comm_->allreduce_sum(n);
      g = {{"retrieval", n[0]}, {"cca", n[1]}, {"mae", n[2]}};
    }
    auto norm = [&g](const char* k) { auto it = g.find(k); return it == g.end() ? 0.0 : it->second; };
    w_cca_ = gradnorm_weight(ob.beta, norm("retrieval"), norm("cca"));
    w_mae_ = gradnorm_weight(ob.gamma, norm("retrieval"), norm("mae"));
  }
  optim_->zero_grad();
  Variable l_ret, l_cca, l_mae;
  std::vector<LossTerm> terms = loss_terms(b, global_step, kRetrieval | kCca | kMae, rows.leaf);
  for (LossTerm& t : terms) {
    (t.which == kRetrieval ? l_ret : t.which == kCca ? l_cca : l_mae) = t.value;
    t.weight = effective_weight(t.which);
  }
  Variable total;
  for (const LossTerm& t : terms) {
    Variable s = scale(t.value, t.weight);
    total = total.defined() ? add(total, s) : s;
  }
  // The values are not read here: a read would wait for the forward pass
  // before the backward pass could be queued. train_step reads them (and
  // refuses the step if one is not finite) with the gradient norm.
  auto value = [](const Variable& v) { return v.defined() ? v.value() : Tensor(); };
  out.unread = {value(l_ret), value(l_cca), value(l_mae), value(total)};
  if (!total.defined()) return out;
  PhaseClock clock(profile_, "backward", device_);
  total.backward();
  return out;
}

// MGDA: each objective's gradient separately, the min-norm combination on
// the shared encoder (and the id rows), the heads' own gradients.
Trainer::StepLosses Trainer::mgda_gradients(const TrainBatch& b, int64_t global_step,
                                            const IdEmbeddingTrainer::Rows& rows) {
  StepLosses out;
  const auto named = model_->named_parameters();
  const std::vector<Variable> params = model_->dense_parameters();
  std::vector<bool> shared;
  for (const auto& [name, v] : named)
    if (name != "encoder.id_table") shared.push_back(name.rfind("encoder.", 0) == 0);
  struct Grads {
    unsigned which;
    double loss;
    std::vector<Tensor> g;  // per dense parameter (undefined: none)
    Tensor leaf;            // the id rows' gradient
  };
  std::vector<Grads> per;
  const char* names[3] = {"retrieval", "CCA", "MAE"};
  for (unsigned which : {kRetrieval, kCca, kMae}) {
    optim_->zero_grad();
    if (rows.leaf.defined()) {
      Variable leaf = rows.leaf;
      leaf.zero_grad();
    }
    std::vector<LossTerm> t = loss_terms(b, global_step, which, rows.leaf);
    if (t.empty() || t[0].weight <= 0.0) continue;
    const double v = tensor::scalar(t[0].value.value());
    (which == kRetrieval ? out.retrieval : which == kCca ? out.cca : out.mae) = v;
    if (!std::isfinite(v)) {
      out.ok = false;
      out.problem = std::string("the ") + names[which == kRetrieval ? 0 : which == kCca ? 1 : 2] + " loss is " +
                    std::to_string(v);
      return out;
    }
    {
      PhaseClock clock(profile_, "backward", device_);
      t[0].value.backward();
    }
    Grads gr{which, v, {}, Tensor()};
    for (const Variable& p : params) gr.g.push_back(p.has_grad() ? p.grad() : Tensor());
    if (rows.leaf.defined() && rows.leaf.has_grad()) gr.leaf = rows.leaf.grad();
    per.push_back(std::move(gr));
  }
  // Gram matrix of the shared gradients.
  const size_t K = per.size();
  std::vector<std::vector<double>> G(K, std::vector<double>(K, 0.0));
  auto dot = [](const Tensor& a, const Tensor& c) {
    if (!a.defined() || !c.defined()) return 0.0;
    return tensor::scalar(tensor::sum_all(tensor::mul(a, c)));
  };
  for (size_t i = 0; i < K; ++i)
    for (size_t j = i; j < K; ++j) {
      double s = dot(per[i].leaf, per[j].leaf);
      for (size_t p = 0; p < params.size(); ++p)
        if (shared[p]) s += dot(per[i].g[p], per[j].g[p]);
      G[i][j] = G[j][i] = s;
    }
  const std::vector<double> w = min_norm_weights(G);
  optim_->zero_grad();
  if (rows.leaf.defined()) {
    Variable leaf = rows.leaf;
    leaf.zero_grad();
  }
  std::vector<Variable> ps = params;
  for (size_t p = 0; p < ps.size(); ++p) {
    for (size_t i = 0; i < K; ++i) {
      if (!per[i].g[p].defined()) continue;
      ps[p].accumulate_grad(shared[p] ? tensor::scale(per[i].g[p], w[i]) : per[i].g[p]);
    }
  }
  if (rows.leaf.defined()) {
    Variable leaf = rows.leaf;
    for (size_t i = 0; i < K; ++i)
      if (per[i].leaf.defined()) leaf.accumulate_grad(tensor::scale(per[i].leaf, w[i]));
  }
  w_cca_ = w_mae_ = 0.0;
  out.total = 0.0;
  for (size_t i = 0; i < K; ++i) {
    out.total += w[i] * per[i].loss;
    if (per[i].which == kCca) w_cca_ = w[i];
    if (per[i].which == kMae) w_mae_ = w[i];
  }
  return out;
}

Trainer::StepLosses Trainer::train_step(const TrainBatch& b, int64_t global_step) {
  IdEmbeddingTrainer::Rows rows = id_rows(b, global_step);
  const bool mgda = cfg_.objectives.weighting == "mgda";
  step_share_ = b.global_queries > 0 ? static_cast<double>(b.num_queries) / b.global_queries : 1.0;
  StepLosses out = mgda ? mgda_gradients(b, global_step, rows) : weighted_gradients(b, global_step, rows);
  if (!out.ok) return out;
  std::vector<double> losses;  // retrieval, CCA, MAE, total (weighted path)
  std::vector<Tensor> reads;
  if (distributed()) allreduce_step(out, rows, step_share_, losses);
  PhaseClock clock(profile_, "optimizer", device_);
  if (!distributed()) {
    // The step's one read-back on a device: the loss values and the squared
    // gradient norm in a single copy.
    reads = out.unread;
  }
  reads.push_back(optim_->grad_sq_norm_tensor());
  std::vector<double> v = tensor::read_scalars(reads);
  if (!out.unread.empty() && !distributed()) losses.assign(v.begin(), v.begin() + 4);
  if (!losses.empty()) {
    out.retrieval = losses[0];
    out.cca = losses[1];
    out.mae = losses[2];
    out.total = losses[3];
    out.unread.clear();
    const char* names[3] = {"retrieval", "CCA", "MAE"};
    for (int i = 0; i < 3; ++i)
      if (!std::isfinite(losses[i])) {
        out.ok = false;
        out.problem = std::string("the ") + names[i] + " loss is " + std::to_string(losses[i]);
        optim_->zero_grad();
        return out;
      }
  }
  // One global norm over the dense gradients and the id rows' gradient.
  const double norm = std::sqrt(v.back() + (ids_ ? ids_->grad_sq_norm(rows) : 0.0));
  double id_scale = 1.0;
  if (cfg_.optim.clip_norm > 0.0 && std::isfinite(norm) && norm > cfg_.optim.clip_norm) {
    id_scale = cfg_.optim.clip_norm / (norm + 1e-12);
    optim_->scale_gradients(id_scale);
  }
  if (!std::isfinite(norm)) {
    out.ok = false;
    out.problem = "the gradient norm is " + std::to_string(norm) + " (a gradient has NaN/Inf)";
    optim_->zero_grad();
    return out;
  }
  optim_->step();
  if (ids_) {
    const double ratio = cfg_.optim.id_lr > 0.0 ? cfg_.optim.id_lr / cfg_.optim.lr : 1.0;
    ids_->step(rows, optim_->learning_rate() * ratio, id_scale);
  }
  return out;
}

// Data-parallel step (docs/distributed.md). Each rank's loss is the mean
// over its own queries, so the global batch's loss is the sum over ranks of
// share_r x L_r (share_r = its queries / the global batch's) and so is its
// gradient. Three collectives: the host values (weighted losses, the stop
// flag, which parameters have a gradient anywhere), one flat buffer of every
// dense gradient (NCCL on GPUs, MPI otherwise), and, with id embeddings, the
// id rows' gradients (gathered, summed per user in rank order).
void Trainer::allreduce_step(StepLosses& out, IdEmbeddingTrainer::Rows& rows, double share,
                             std::vector<double>& losses) {
  const std::vector<Variable> params = model_->dense_parameters();
  std::vector<double> h;
  const std::vector<double> local = tensor::read_scalars(out.unread);
  for (size_t i = 0; i < 4; ++i) h.push_back(i < local.size() ? share * local[i] : 0.0);
  h.push_back(interrupt_requested() ? 1.0 : 0.0);
  for (const Variable& p : params) h.push_back(p.has_grad() ? 1.0 : 0.0);
  {
    // Mostly the wait for the slowest rank to finish its backward pass.
    PhaseClock clock(profile_, "sync", device_);
    comm_->allreduce_sum(h);
  }
  if (!out.unread.empty()) losses.assign(h.begin(), h.begin() + 4);
  out.stop = h[4] > 0.0;

  // The flat gradient buffer: every parameter that has a gradient on some rank.
  int64_t total = 0;
  for (size_t i = 0; i < params.size(); ++i)
    if (h[5 + i] > 0.0) total += params[i].value().numel();
  if (total > 0) {
    PhaseClock clock(profile_, "allreduce", device_);
    Tensor flat = Tensor::empty({total}, DType::F32, device_);
    int64_t off = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      if (h[5 + i] <= 0.0) continue;
      const int64_t n = params[i].value().numel();
      Tensor slot = flat.slice_rows(off, off + n);
      if (params[i].has_grad())
        slot.copy_from(tensor::scale(params[i].grad(), share).reshape({n}));
      else
        slot.copy_from(Tensor::zeros({n}, DType::F32, device_));
      off += n;
    }
    comm_->allreduce_sum(flat);
    off = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      if (h[5 + i] <= 0.0) continue;
      Variable p = params[i];
      const int64_t n = p.value().numel();
      const Tensor g = flat.slice_rows(off, off + n).reshape(p.value().shape());
      if (p.has_grad()) {
        Tensor into = p.grad();
        into.copy_from(g);
      } else {
        p.accumulate_grad(g.clone());
      }
      off += n;
    }
  }
  if (!ids_) return;
  // Id rows: (user, gradient row) pairs of every rank, summed per user.
  PhaseClock clock(profile_, "allreduce", device_);
  const int64_t hidden = model_->encoder.id_table().value().size(1);
  std::vector<char> mine;
  if (rows.leaf.defined() && rows.leaf.has_grad() && rows.kept_local.numel() > 0) {
    const Tensor g = tensor::scale(tensor::gather_rows(rows.leaf.grad(), rows.kept_local), share).to(Device::CPU);
    const Tensor u = rows.kept_global.to(Device::CPU);
    const int64_t k = u.numel();
    mine.resize(static_cast<size_t>(k) * (sizeof(int64_t) + hidden * sizeof(float)));
    std::memcpy(mine.data(), u.data<int64_t>(), static_cast<size_t>(k) * sizeof(int64_t));
    std::memcpy(mine.data() + k * sizeof(int64_t), g.data<float>(), static_cast<size_t>(k * hidden) * sizeof(float));
  }
  const std::vector<std::vector<char>> all = comm_->allgather(mine);
  std::vector<int64_t> users;
  std::vector<float> sum;
  std::unordered_map<int64_t, int64_t> slot;
  for (const std::vector<char>& part : all) {
    const size_t per = sizeof(int64_t) + static_cast<size_t>(hidden) * sizeof(float);
    EMBER_CHECK(part.size() % per == 0, "id-row all-gather: a rank sent " << part.size() << " bytes");
    const int64_t k = static_cast<int64_t>(part.size() / per);
    const auto* ids = reinterpret_cast<const int64_t*>(part.data());
    const auto* g = reinterpret_cast<const float*>(part.data() + k * sizeof(int64_t));
    for (int64_t j = 0; j < k; ++j) {
      auto [it, fresh] = slot.emplace(ids[j], static_cast<int64_t>(users.size()));
      if (fresh) {
        users.push_back(ids[j]);
        sum.resize(sum.size() + static_cast<size_t>(hidden), 0.0f);
      }
      float* dst = sum.data() + it->second * hidden;
      for (int64_t c = 0; c < hidden; ++c) dst[c] += g[j * hidden + c];
    }
  }
  const int64_t K = static_cast<int64_t>(users.size());
  IdEmbeddingTrainer::Rows merged;
  std::vector<int64_t> order(static_cast<size_t>(K));
  for (int64_t j = 0; j < K; ++j) order[static_cast<size_t>(j)] = j;
  merged.kept_local = Tensor::from_vector(order, {K}, device_);
  merged.kept_global = Tensor::from_vector(users, {K}, device_);
  merged.leaf = Variable(Tensor::zeros({K, hidden}, DType::F32, device_), /*requires_grad=*/true);
  if (K > 0) merged.leaf.accumulate_grad(Tensor::from_vector(sum, {K, hidden}, device_));
  rows = std::move(merged);
}

Tensor Trainer::embed_all() const {
  NoGradGuard ng;
  std::vector<int32_t> src, dst;
  src.reserve(train_.neighbors.size());
  dst.reserve(train_.neighbors.size());
  for (int64_t u = 0; u < train_.num_nodes(); ++u)
    for (int32_t v : train_.neighbors_of(u)) {
      src.push_back(v);
      dst.push_back(static_cast<int32_t>(u));
    }
  MessageGraph g = build_message_graph(src, dst, train_.num_nodes(), MessageGraphOptions{}, device_);
  SparseCsr x = to_sparse_csr(train_.features, device_);
  const Variable ids = ids_ ? Variable(ids_->inference_rows()) : Variable();
  Variable emb = model_->encoder.forward(x, g, ForwardRng{cfg_.seed, 0, false}, {}, ids);
  return emb.value().to(Device::CPU);
}

int64_t Trainer::embed_block_start(int64_t N, int rank, int ranks) {
  if (rank >= ranks) return N;
  const int64_t b = N * rank / ranks;
  return std::min(N, b / kEmbedBlockAlign * kEmbedBlockAlign);
}

Tensor Trainer::embed_my_block() const {
  const int64_t N = train_.num_nodes();
  const int R = comm_->size(), r = comm_->rank();
  if (R == 1) return embed_all();
  NoGradGuard ng;
  const int64_t begin = embed_block_start(N, r, R), end = embed_block_start(N, r + 1, R);
  auto owner = [&](int64_t u) {
    int q = static_cast<int>(u * R / std::max<int64_t>(N, 1));  // a guess, then corrected (blocks are aligned)
    q = std::min(std::max(q, 0), R - 1);
    while (q > 0 && u < embed_block_start(N, q, R)) --q;
    while (q + 1 < R && u >= embed_block_start(N, q + 1, R)) ++q;
    return q;
  };
  // The local nodes: this block and the sources of its in-edges (the halo),
  // in global order, so the block's rows are contiguous and every in-edge
  // list keeps the whole-graph pass's order.
  std::vector<int64_t> nodes;
  for (int64_t u = begin; u < end; ++u) {
    nodes.push_back(u);
    for (int32_t v : train_.neighbors_of(u))
      if (v < begin || v >= end) nodes.push_back(v);
  }
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  const int64_t n_local = static_cast<int64_t>(nodes.size());
  auto local = [&nodes](int64_t u) {
    return static_cast<int32_t>(std::lower_bound(nodes.begin(), nodes.end(), u) - nodes.begin());
  };
  const int64_t first = end > begin ? local(begin) : 0;
  std::vector<int32_t> src, dst;
  for (int64_t u = begin; u < end; ++u)
    for (int32_t v : train_.neighbors_of(u)) {
      src.push_back(local(v));
      dst.push_back(static_cast<int32_t>(first + (u - begin)));
    }
  MessageGraph g = build_message_graph(src, dst, n_local, MessageGraphOptions{}, device_);
  std::vector<int64_t> rows;
  for (int64_t u = begin; u < end; ++u) rows.push_back(u);
  SparseCsr x = to_sparse_csr(slice_rows(train_.features, rows), device_);
  const Tensor ids = ids_ && end > begin ? ids_->fixed_rows(rows) : Tensor();
  // Which halo rows each rank owns (asked once), and which of this block's
  // rows each rank asks for.
  std::vector<std::vector<int64_t>> want(static_cast<size_t>(R));
  for (int64_t u : nodes)
    if (u < begin || u >= end) want[owner(u)].push_back(u);
  std::vector<std::vector<char>> ask(static_cast<size_t>(R));
  for (int q = 0; q < R; ++q) {
    ask[q].resize(want[q].size() * sizeof(int64_t));
    if (!want[q].empty()) std::memcpy(ask[q].data(), want[q].data(), ask[q].size());
  }
  const std::vector<std::vector<char>> asked = comm_->alltoallv(ask);
  // The exchange of one layer's projection: block rows -> the local matrix.
  auto exchange = [&](const Tensor& block) {
    const Tensor host = block.to(Device::CPU);
    const int64_t cols = block.size(1);
    const size_t row_bytes = static_cast<size_t>(cols) * sizeof(float);
    std::vector<std::vector<char>> send(static_cast<size_t>(R));
    for (int q = 0; q < R; ++q) {
      const auto* req = reinterpret_cast<const int64_t*>(asked[q].data());
      const size_t k = asked[q].size() / sizeof(int64_t);
      send[q].resize(k * row_bytes);
      for (size_t j = 0; j < k; ++j) {
        EMBER_CHECK(req[j] >= begin && req[j] < end, "embed_sharded: rank " << q << " asked rank " << r << " for user "
                                                                            << req[j] << ", outside its block");
        std::memcpy(send[q].data() + j * row_bytes, host.data<float>() + (req[j] - begin) * cols, row_bytes);
      }
    }
    const std::vector<std::vector<char>> got = comm_->alltoallv(send);
    Tensor out = Tensor::empty({n_local, cols});
    std::vector<size_t> next(static_cast<size_t>(R), 0);
    for (int64_t i = 0; i < n_local; ++i) {
      const int64_t u = nodes[i];
      char* to = reinterpret_cast<char*>(out.data<float>() + i * cols);
      if (u >= begin && u < end) {
        std::memcpy(to, host.data<float>() + (u - begin) * cols, row_bytes);
        continue;
      }
      const int q = owner(u);
      EMBER_CHECK(got[q].size() >= (next[q] + 1) * row_bytes, "embed_sharded: rank " << q << " sent too few rows");
      std::memcpy(to, got[q].data() + next[q] * row_bytes, row_bytes);
      ++next[q];
    }
    return out.to(device_);
  };
  return model_->encoder.infer_block(x, ids, g, first, first + (end - begin), exchange).to(Device::CPU);
}

Tensor Trainer::embed_sharded() const {
  const int64_t N = train_.num_nodes();
  const int R = comm_->size();
  if (R == 1) return embed_all();
  const Tensor mine = embed_my_block();
  // The final rows to rank 0.
  std::vector<char> bytes(mine.nbytes());
  if (!bytes.empty()) std::memcpy(bytes.data(), mine.raw_data(), bytes.size());
  const std::vector<std::vector<char>> parts = comm_->gather(bytes, 0);
  if (!comm_->is_root()) return Tensor();
  const int64_t d = cfg_.model.embedding_dim;
  Tensor out = Tensor::empty({N, d});
  size_t off = 0;
  for (int q = 0; q < R; ++q) {
    const size_t want_bytes =
        static_cast<size_t>((embed_block_start(N, q + 1, R) - embed_block_start(N, q, R)) * d) * sizeof(float);
    EMBER_CHECK(parts[q].size() == want_bytes, "embed_sharded: rank " << q << " sent " << parts[q].size()
                                                                       << " bytes, expected " << want_bytes);
    if (want_bytes) std::memcpy(static_cast<char*>(out.raw_data()) + off, parts[q].data(), want_bytes);
    off += want_bytes;
  }
  return out;
}

double Trainer::validate() const { return val_.users().empty() ? 0.0 : validate_embeddings(embed_all()); }

std::vector<int32_t> Trainer::validation_users() const {
  std::vector<int32_t> users = val_.users();
  if (cfg_.train.val_queries > 0 && static_cast<int64_t>(users.size()) > cfg_.train.val_queries) {
    Rng r(cfg_.seed, 77);
    for (size_t i = users.size(); i > 1; --i) std::swap(users[i - 1], users[r.below(i)]);
    users.resize(static_cast<size_t>(cfg_.train.val_queries));
    std::sort(users.begin(), users.end());
  }
  return users;
}

namespace {
constexpr int32_t kValidationK = 50;  // validation is Recall@50
double validation_recall(const Rankings& r, const Graph& train, const HeldOut& val) {
  MetricsConfig mc;
  mc.ks = {kValidationK};
  mc.mrr_depth = kValidationK;
  return evaluate_rankings(r, train, val, "validation", mc).all().recall.at(0);
}
}  // namespace

double Trainer::validate_embeddings(const Tensor& emb) const {
  const std::vector<int32_t> users = validation_users();
  if (users.empty()) return 0.0;
  TopKConfig tk;
  tk.k = kValidationK;
  return validation_recall(exact_topk(emb.data<float>(), emb.size(0), emb.size(1), users, &train_, tk), train_, val_);
}

double Trainer::validate_sharded() const {
  if (comm_->size() == 1) return validate();
  const std::vector<int32_t> users = validation_users();
  if (users.empty()) return 0.0;  // every rank has the same val_, so all return here together
  const int64_t N = train_.num_nodes(), d = cfg_.model.embedding_dim;
  const int R = comm_->size(), rank = comm_->rank();
  const int64_t begin = embed_block_start(N, rank, R), end = embed_block_start(N, rank + 1, R);
  const Tensor block = embed_my_block();
  // The queries' normalised rows, from the ranks whose blocks hold them: in
  // rank order that is the order of `users` (sorted, blocks ascending).
  std::vector<char> mine;
  for (int32_t u : users)
    if (u >= begin && u < end) {
      const std::vector<float> row = l2_normalized(block.data<float>() + (u - begin) * d, 1, d);
      mine.insert(mine.end(), reinterpret_cast<const char*>(row.data()),
                  reinterpret_cast<const char*>(row.data() + d));
    }
  std::vector<float> queries;
  queries.reserve(users.size() * static_cast<size_t>(d));
  for (const std::vector<char>& part : comm_->allgather(mine)) {
    const float* f = reinterpret_cast<const float*>(part.data());
    queries.insert(queries.end(), f, f + part.size() / sizeof(float));
  }
  EMBER_CHECK(queries.size() == users.size() * static_cast<size_t>(d),
              "validation: gathered " << queries.size() / static_cast<size_t>(d) << " query rows for " << users.size() << " users");
  // Each rank's top-K over its block; rank 0 merges them.
  TopKConfig tk;
  tk.k = kValidationK;
  const Rankings local = exact_topk_block(block.data<float>(), begin, end - begin, N, d, users, queries.data(), &train_, tk);
  std::vector<char> bytes(local.ids.size() * sizeof(int32_t) + local.scores.size() * sizeof(float));
  if (!bytes.empty()) {
    std::memcpy(bytes.data(), local.ids.data(), local.ids.size() * sizeof(int32_t));
    std::memcpy(bytes.data() + local.ids.size() * sizeof(int32_t), local.scores.data(), local.scores.size() * sizeof(float));
  }
  const std::vector<std::vector<char>> parts = comm_->gather(bytes, 0);
  if (!comm_->is_root()) return 0.0;
  std::vector<Rankings> lists(parts.size());
  for (size_t q = 0; q < parts.size(); ++q) {
    lists[q].queries = users;
    lists[q].resize(users.size(), kValidationK);
    EMBER_CHECK(parts[q].size() == bytes.size(), "validation: rank " << q << " sent " << parts[q].size()
                                                                     << " bytes of top-K lists, expected " << bytes.size());
    std::memcpy(lists[q].ids.data(), parts[q].data(), lists[q].ids.size() * sizeof(int32_t));
    std::memcpy(lists[q].scores.data(), parts[q].data() + lists[q].ids.size() * sizeof(int32_t),
                lists[q].scores.size() * sizeof(float));
  }
  return validation_recall(merge_rankings(lists, kValidationK), train_, val_);
}

void Trainer::save_state(int64_t epoch, int64_t step_in_epoch) const {
  if (!writer_) return;
  Checkpoint c;
  c.config_hash = cfg_.model_hash();
  c.epoch = epoch;
  c.step = global_step_;
  c.step_in_epoch = step_in_epoch;
  c.rng_seed = cfg_.seed;
  c.best_metric = best_metric_;
  c.best_epoch = best_epoch_;
  c.epochs_without_improvement = bad_epochs_;
  c.meta_json = cfg_.to_json_text();
  const auto named = model_->named_parameters();
  for (const auto& [name, v] : named) c.params.emplace_back(name, v.value().to(Device::CPU));
  for (size_t i = 0; i < best_params_.size(); ++i) c.params.emplace_back("best." + named[i].first, best_params_[i]);
  for (const Tensor& t : optim_->state()) c.optimizer_state.push_back(t.to(Device::CPU));
  if (ids_)
    for (const Tensor& t : ids_->state()) c.optimizer_state.push_back(t.to(Device::CPU));
  c.optimizer_steps = optim_->steps();
  c.users_hash = users_hash();
  c.ranks = comm_->size();
  save_checkpoint(run_.checkpoint(), c);
}

uint64_t Trainer::users_hash() const {
  if (!cfg_.model.id_embeddings) return 0;
  const std::vector<int64_t> ids = train_.ids.originals();
  return checksum64(ids.data(), ids.size() * sizeof(int64_t), static_cast<uint64_t>(ids.size())) | 1;
}

void Trainer::apply_parameters(const Checkpoint& c, const std::string& path, size_t first) {
  auto named = model_->named_parameters();
  EMBER_CHECK(c.params.size() >= first + named.size(),
              path << ": checkpoint has " << c.params.size() << " tensors, the model has " << named.size()
                   << " parameters");
  // Everything is checked before anything is copied.
  for (size_t i = 0; i < named.size(); ++i) {
    const auto& [name, t] = c.params[first + i];
    const std::string want = (first ? "best." : "") + named[i].first;
    if (named[i].first == "encoder.id_table" && name == want)
      EMBER_CHECK(t.shape() == named[i].second.shape(),
                  path << ": the id embeddings were trained for " << t.size(0) << " users, the graph has "
                       << named[i].second.size(0) << "; id embeddings need the same graph (users and ids) at "
                       << "training and inference");
    EMBER_CHECK(name == want && t.shape() == named[i].second.shape(),
                path << ": parameter " << i << " is '" << name << "' " << shape_str(t.shape())
                     << ", the model expects '" << want << "' " << shape_str(named[i].second.shape()));
  }
  EMBER_CHECK(c.users_hash == 0 || users_hash() == 0 || c.users_hash == users_hash(),
              path << ": the id embeddings were trained on another graph's users (same count, other ids); "
                   << "id embeddings need the same graph at training and inference");
  for (size_t i = 0; i < named.size(); ++i) named[i].second.mutable_value().copy_from(c.params[first + i].second);
}

void Trainer::load_parameters(const std::string& path) {
  // The current parameters: at the end of a run they are the best ones (fit
  // restores them before the final checkpoint).
  apply_parameters(load_checkpoint(path, cfg_.model_hash()), path, 0);
}

int64_t Trainer::load_state() {
  const std::string path = run_.checkpoint();
  Checkpoint c = load_checkpoint(path, cfg_.model_hash());
  auto named = model_->named_parameters();
  EMBER_CHECK(c.params.size() == named.size() || c.params.size() == 2 * named.size(),
              path << ": checkpoint has " << c.params.size() << " tensors, the model has " << named.size()
                   << " parameters");
  apply_parameters(c, path, 0);
  best_params_.clear();
  for (size_t i = named.size(); i < c.params.size(); ++i) best_params_.push_back(c.params[i].second);
  std::vector<Tensor> dense_state = c.optimizer_state;
  if (ids_) {
    EMBER_CHECK(dense_state.size() >= 3, path << ": no id-embedding optimizer state in the checkpoint");
    ids_->load_state(std::vector<Tensor>(dense_state.end() - 3, dense_state.end()));
    dense_state.resize(dense_state.size() - 3);
  }
  optim_->load_state(dense_state);
  optim_->set_steps(c.optimizer_steps);
  epoch_ = c.epoch;
  step_in_epoch_ = c.step_in_epoch;
  global_step_ = c.step;
  best_metric_ = c.best_metric;
  best_epoch_ = c.best_epoch;
  bad_epochs_ = c.epochs_without_improvement;
  return c.ranks;
}

// Rank 0's state on every rank: at the start of a run (the seeded
// initialisation is the same everywhere, but nothing is assumed) and after a
// resume, where only rank 0 read the checkpoint.
void Trainer::sync_from_root() {
  if (!distributed()) return;
  std::vector<double> pos{double(epoch_), double(step_in_epoch_), double(global_step_), best_metric_,
                          double(best_epoch_), double(bad_epochs_), double(optim_->steps()),
                          double(best_params_.size())};
  if (!comm_->is_root()) std::fill(pos.begin(), pos.end(), 0.0);
  comm_->allreduce_sum(pos);  // only rank 0 contributes: a broadcast
  epoch_ = int64_t(pos[0]);
  step_in_epoch_ = int64_t(pos[1]);
  global_step_ = int64_t(pos[2]);
  best_metric_ = pos[3];
  best_epoch_ = int64_t(pos[4]);
  bad_epochs_ = int64_t(pos[5]);
  optim_->set_steps(int64_t(pos[6]));
  for (Variable& p : model_->parameters()) {
    Tensor t = p.mutable_value();
    broadcast_tensor(*comm_, t, 0);
  }
  const auto params = model_->parameters();
  if (!comm_->is_root()) {
    best_params_.clear();
    if (pos[7] > 0)
      for (const Variable& p : params) best_params_.push_back(Tensor::zeros(p.value().shape(), p.value().dtype()));
  }
  for (Tensor& t : best_params_) broadcast_tensor(*comm_, t, 0);
  std::vector<Tensor> st = optim_->state();
  for (Tensor& t : st) broadcast_tensor(*comm_, t, 0);
  optim_->load_state(st);
  if (ids_) {
    std::vector<Tensor> is = ids_->state();
    for (Tensor& t : is) broadcast_tensor(*comm_, t, 0);
    ids_->load_state(is);
  }
  check_same_on_all_ranks(*comm_, state_checksum(), "the parameters and optimizer state after the start-up broadcast");
}

// ---- fit, step by step ------------------------------------------------------------

// A fresh run writes config.json and an empty metrics.jsonl; a resumed one
// loads the checkpoint. Either way, temporary files of atomic writes that a
// kill of an earlier run left behind are removed first.
void Trainer::begin_run(bool resume) {
  bad_steps_ = 0;
  if (writer_) {
    const int stale = remove_stale_temp_files(run_.path) + remove_stale_temp_files(run_.split_dir());
    if (stale > 0)
      std::printf("removed %d temporary file(s) left by an interrupted run in %s\n", stale, run_.path.c_str());
  }
  if (resume && comm_->is_root()) {  // rank 0 reads the checkpoint; sync_from_root shares it
    EMBER_CHECK(run_.writes() && file_exists(run_.checkpoint()), "--resume: no checkpoint at " << run_.checkpoint());
    const int64_t written_by = load_state();
    std::printf("resumed from %s: epoch %lld, step %lld", run_.checkpoint().c_str(), (long long)epoch_,
                (long long)global_step_);
    if (written_by > 0 && written_by != comm_->size())
      std::printf(" (written by a job of %lld rank(s), continued by %d: the global batches are the same, "
                  "each rank's share of them changes)", (long long)written_by, comm_->size());
    else if (written_by > 0)
      std::printf(" (%lld rank(s), as before)", (long long)written_by);
    std::printf("\n");
  } else if (writer_ && !resume) {
    const std::string text = cfg_.to_json_text();
    write_file_atomic(run_.config(), text.data(), text.size());
    std::ofstream f(run_.metrics(), std::ios::trunc);
    EMBER_CHECK(f.good(), run_.metrics() << ": cannot create (" << std::strerror(errno) << ")");
  }
}

// The batches of epoch_ from step_in_epoch_ on: prefetched on worker threads,
// one optimizer step each, progress, periodic checkpoints. Stops early (with
// a checkpoint) on SIGINT/SIGTERM or when max_steps are done in this call.
Trainer::EpochEnd Trainer::run_epoch(const BatchBuilder& builder, int64_t per_epoch, int64_t total_steps,
                                     int64_t max_steps, int64_t& steps_this_call, EpochStats& st) {
  const int64_t epoch = epoch_;
  OrderedPrefetcher<TrainBatch> prefetch(static_cast<uint64_t>(step_in_epoch_), static_cast<uint64_t>(per_epoch),
                                         static_cast<int>(cfg_.sampler.threads), static_cast<int>(cfg_.sampler.prefetch),
                                         [&builder, epoch](uint64_t i) { return builder.build(epoch, static_cast<int64_t>(i)); });
  Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg_.train.epochs), per_epoch,
                    cfg_.train.progress && comm_->is_root());
  TrainBatch batch;
  for (;;) {
    if (profile_) profile_->steps.emplace_back();
    bool more;
    {
      PhaseClock clock(profile_, "wait", device_);
      more = prefetch.next(batch);
    }
    if (!more) {
      if (profile_) profile_->steps.pop_back();
      break;
    }
    if (profile_) {
      profile_->current().seconds["build"] = batch.build_seconds;
      profile_->current().samples = batch.num_queries;
    }
    if (cfg_.train.grad_diagnostics && st.grad_norms.empty()) st.grad_norms = encoder_grad_norms(batch, global_step_);
    optim_->set_learning_rate(learning_rate(global_step_, total_steps));
    const StepLosses l = train_step(batch, global_step_);
    if (!l.ok) {
      if (comm_->is_root())  // every rank skips the same step (the losses and gradients are reduced first)
        std::fprintf(stderr, "warning: step %lld skipped: %s; parameters stay at the last good state\n",
                   (long long)global_step_, l.problem.c_str());
      EMBER_CHECK(++bad_steps_ < 5, "training stopped: 5 consecutive steps failed ("
                                        << l.problem << "); the last good checkpoint is " << run_.checkpoint());
    } else {
      bad_steps_ = 0;
      ++st.good;
      st.total += l.total;
      st.retrieval += l.retrieval;
      st.cca += l.cca;
      st.mae += l.mae;
      st.w_cca += effective_weight(kCca);
      st.w_mae += effective_weight(kMae);
    }
    st.samples += batch.num_queries;
    ++global_step_;
    ++step_in_epoch_;
    ++steps_this_call;
    progress.update(step_in_epoch_, {{"loss", l.total}, {"ret", l.retrieval}, {"cca", l.cca}, {"mae", l.mae},
                                     {"lr", optim_->learning_rate()}}, st.samples);
    if (cfg_.train.checkpoint_every > 0 && global_step_ % cfg_.train.checkpoint_every == 0)
      save_state(epoch_, step_in_epoch_);
    // Data-parallel: a signal to any rank stops every rank after this step (reduced with the losses).
    const bool interrupted = distributed() ? l.stop : interrupt_requested();
    if (interrupted || (max_steps > 0 && steps_this_call >= max_steps)) {
      prefetch.stop();
      save_state(epoch_, step_in_epoch_);
      progress.finish("interrupted after " + std::to_string(steps_this_call) + " steps" +
                      (interrupted ? " (signal); checkpoint written" : " (max_steps)"));
      return EpochEnd::Interrupted;
    }
  }
  const double n = static_cast<double>(std::max<int64_t>(st.good, 1));
  char buf[160];
  std::snprintf(buf, sizeof buf, "loss %.4f (ret %.4f, cca %.4f, mae %.4f)", st.total / n, st.retrieval / n,
                st.cca / n, st.mae / n);
  progress.finish(buf);
  return EpochEnd::Completed;
}

void Trainer::append_metrics(const EpochStats& st, double recall50, bool improved, double seconds) const {
  const double n = static_cast<double>(std::max<int64_t>(st.good, 1));
  if (!comm_->is_root()) return;
  std::printf("  validation Recall@50 %.4f%s\n", recall50, improved ? " (best)" : "");
  if (!writer_) return;
  nlohmann::json j{{"epoch", epoch_ + 1},           {"step", global_step_},        {"loss", st.total / n},
                   {"retrieval", st.retrieval / n}, {"cca", st.cca / n},           {"mae", st.mae / n},
                   {"val_recall@50", recall50},     {"lr", optim_->learning_rate()},
                   {"skipped_steps", step_in_epoch_ - st.good}, {"seconds", seconds}};
  if (!st.grad_norms.empty()) j["encoder_grad_norm"] = st.grad_norms;
  if (cfg_.objectives.weighting != "fixed") j["weights"] = {{"cca", st.w_cca / n}, {"mae", st.w_mae / n}};
  std::ofstream f(run_.metrics(), std::ios::app);
  f << j.dump() << "\n";
  f.flush();
  EMBER_CHECK(f.good(), run_.metrics() << ": cannot append the epoch's line (" << std::strerror(errno)
                                       << "); is the disk full?");
}

bool Trainer::end_epoch(const EpochStats& st, double seconds) {
  // Rank 0 validates (every rank holds the same parameters) and its value
  // decides for all: the same best epoch, the same early stop.
  std::vector<double> r{0.0};
  if (distributed()) {  // every rank embeds and ranks its block; rank 0 merges the lists
    r[0] = validate_sharded();
  } else {
    r[0] = validate();
  }
  comm_->allreduce_sum(r);
  const double recall50 = r[0];
  check_same_on_all_ranks(*comm_, state_checksum(), "the parameters and optimizer state at the end of epoch " +
                                                        std::to_string(epoch_ + 1));
  const bool improved = recall50 > best_metric_;
  if (improved) {
    best_metric_ = recall50;
    best_epoch_ = epoch_;
    bad_epochs_ = 0;
    best_params_.clear();
    for (const Variable& p : model_->parameters()) best_params_.push_back(p.value().to(Device::CPU));
  } else {
    ++bad_epochs_;
  }
  append_metrics(st, recall50, improved, seconds);
  step_in_epoch_ = 0;
  const bool patience_out = cfg_.train.patience > 0 && bad_epochs_ >= cfg_.train.patience;
  if (patience_out && epoch_ + 1 < cfg_.train.epochs && comm_->is_root())
    std::printf("early stop: no improvement of validation Recall@50 for %lld epochs (best %.4f at epoch %lld)\n",
                (long long)bad_epochs_, best_metric_, (long long)best_epoch_ + 1);
  save_state(epoch_ + 1, 0);
  return patience_out;
}

// Keep the best validation parameters as the trained model.
void Trainer::restore_best_parameters() {
  if (best_params_.empty()) return;
  auto params = model_->parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_value().copy_from(best_params_[i]);
}

TrainResult Trainer::result(double seconds) const {
  TrainResult r;
  r.steps = global_step_;
  r.epochs_run = epoch_;
  r.best_val_recall50 = best_metric_;
  r.best_epoch = best_epoch_;
  r.seconds = seconds;
  r.stopped_early = cfg_.train.patience > 0 && bad_epochs_ >= cfg_.train.patience && epoch_ < cfg_.train.epochs;
  return r;
}

TrainResult Trainer::fit(bool resume, int64_t max_steps) {
  const auto t0 = std::chrono::steady_clock::now();
  EMBER_CHECK(!distributed() || cfg_.objectives.weighting != "mgda",
              "objectives.weighting mgda is not supported by data-parallel training (its per-objective "
              "gradients would each need an all-reduce); use fixed or gradnorm, or one process");
  begin_run(resume);
  sync_from_root();
  prepare_partition();
  BatchBuilder builder(train_, cfg_, training_users(train_), shard());
  const int64_t per_epoch = cfg_.train.steps_per_epoch > 0
                                ? std::min(cfg_.train.steps_per_epoch, builder.batches_per_epoch())
                                : builder.batches_per_epoch();
  const int64_t total_steps = per_epoch * cfg_.train.epochs;
  int64_t steps_this_call = 0;
  // A resumed run that had already stopped early (its checkpoint was written
  // after the early stop) finishes without training further.
  bool stop = cfg_.train.patience > 0 && bad_epochs_ >= cfg_.train.patience;
  for (; epoch_ < cfg_.train.epochs && !stop; ++epoch_) {
    EpochStats stats;
    if (run_epoch(builder, per_epoch, total_steps, max_steps, steps_this_call, stats) == EpochEnd::Interrupted) {
      TrainResult r = result(seconds_since(t0));
      r.interrupted = interrupt_requested();
      r.epochs_run = epoch_;
      return r;
    }
    stop = end_epoch(stats, seconds_since(t0));
  }
  restore_best_parameters();
  save_state(epoch_, 0);
  return result(seconds_since(t0));
}

}  // namespace ember
