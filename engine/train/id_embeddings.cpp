#include "engine/train/id_embeddings.h"

#include "core/philox.h"
#include "kernels/tensor_ops.h"

namespace ember {

namespace {
constexpr uint64_t kIdDropoutStream = 0x1d0000000000ULL;
}  // namespace

IdEmbeddingTrainer::IdEmbeddingTrainer(const TrainConfig& cfg, const Graph& train, Variable table)
    : cfg_(cfg), train_(train), table_(std::move(table)) {
  EMBER_CHECK(table_.defined() && table_.value().dim() == 2 && table_.size(0) == train_.num_nodes(),
              "id embeddings: the id table " << (table_.defined() ? shape_str(table_.shape()) : std::string("(none)"))
                                             << " does not have a row per user of the graph (" << train_.num_nodes()
                                             << " users)");
  m_ = Tensor::zeros(table_.shape(), table_.dtype(), table_.device());
  v_ = Tensor::zeros(table_.shape(), table_.dtype(), table_.device());
}

bool IdEmbeddingTrainer::contributes(int32_t user) const {
  return cfg_.model.id_cold_users || train_.degree(user) > 0;
}

IdEmbeddingTrainer::Rows IdEmbeddingTrainer::gather(const std::vector<int64_t>& global_ids, int64_t step) const {
  const int64_t n = static_cast<int64_t>(global_ids.size());
  std::vector<int64_t> kept_local, kept_global;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t u = global_ids[i];
    EMBER_CHECK(u >= 0 && u < train_.num_nodes(), "id embeddings: user " << u << " out of range");
    if (!contributes(static_cast<int32_t>(u))) continue;
    const double p = cfg_.model.id_dropout;
    if (p > 0.0 && philox::uniform(cfg_.seed, kIdDropoutStream + static_cast<uint64_t>(step), static_cast<uint64_t>(u)) < p)
      continue;
    kept_local.push_back(i);
    kept_global.push_back(u);
  }
  const Device dev = table_.device();
  Rows r;
  r.kept_local = Tensor::from_vector(kept_local, {static_cast<int64_t>(kept_local.size())}, dev);
  r.kept_global = Tensor::from_vector(kept_global, {static_cast<int64_t>(kept_global.size())}, dev);
  // [n, hidden] zeros, the kept rows copied in: gather then scatter (no gradient here).
  const Tensor rows = tensor::gather_rows(table_.value(), r.kept_global);
  r.leaf = Variable(tensor::scatter_add_rows(rows, r.kept_local, n), /*requires_grad=*/true);
  return r;
}

Tensor IdEmbeddingTrainer::inference_rows() const {
  const int64_t n = train_.num_nodes();
  std::vector<int64_t> keep;
  for (int64_t u = 0; u < n; ++u)
    if (contributes(static_cast<int32_t>(u))) keep.push_back(u);
  const Tensor idx = Tensor::from_vector(keep, {static_cast<int64_t>(keep.size())}, table_.device());
  return tensor::scatter_add_rows(tensor::gather_rows(table_.value(), idx), idx, n);
}

Tensor IdEmbeddingTrainer::fixed_rows(const std::vector<int64_t>& global_ids) const {
  std::vector<int64_t> local, users;
  for (size_t i = 0; i < global_ids.size(); ++i)
    if (contributes(static_cast<int32_t>(global_ids[i]))) {
      local.push_back(static_cast<int64_t>(i));
      users.push_back(global_ids[i]);
    }
  const Device dev = table_.device();
  const Tensor l = Tensor::from_vector(local, {static_cast<int64_t>(local.size())}, dev);
  const Tensor u = Tensor::from_vector(users, {static_cast<int64_t>(users.size())}, dev);
  return tensor::scatter_add_rows(tensor::gather_rows(table_.value(), u), l, static_cast<int64_t>(global_ids.size()));
}

double IdEmbeddingTrainer::grad_sq_norm(const Rows& rows) const {
  if (!rows.leaf.has_grad() || rows.kept_local.numel() == 0) return 0.0;
  return tensor::sum_squares(tensor::gather_rows(rows.leaf.grad(), rows.kept_local));
}

void IdEmbeddingTrainer::step(const Rows& rows, double lr, double grad_scale) {
  ++steps_;
  if (!rows.leaf.has_grad() || rows.kept_local.numel() == 0) return;
  Tensor g = tensor::gather_rows(rows.leaf.grad(), rows.kept_local);
  if (grad_scale != 1.0) g = tensor::scale(g, grad_scale);
  tensor::sparse_adam_rows_(table_.mutable_value(), rows.kept_global, g, m_, v_, lr, 0.9, 0.999, 1e-8, 0.0,
                            /*decoupled=*/true, steps_);
}

std::vector<Tensor> IdEmbeddingTrainer::state() const {
  return {m_, v_, Tensor::from_vector(std::vector<int64_t>{steps_}, {1})};
}

void IdEmbeddingTrainer::load_state(const std::vector<Tensor>& s) {
  EMBER_CHECK(s.size() == 3, "id embeddings state: expected 3 tensors (m, v, steps), got " << s.size());
  EMBER_CHECK(s[0].shape() == m_.shape() && s[1].shape() == v_.shape(),
              "id embeddings state: moments " << shape_str(s[0].shape()) << " for a table of "
                                              << shape_str(m_.shape()) << " (the graph's users changed?)");
  m_.copy_from(s[0]);
  v_.copy_from(s[1]);
  steps_ = s[2].to(Device::CPU).to_dtype(DType::I64).data<int64_t>()[0];
}

}  // namespace ember
