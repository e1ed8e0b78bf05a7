#include "engine/train/model.h"

#include "autograd/init.h"
#include "engine/data/graph.h"
#include "ops/elementwise.h"
#include "ops/gat.h"
#include "ops/indexing.h"
#include "ops/linear.h"
#include "kernels/tensor_ops.h"

namespace ember {

namespace {

// The parameters of `specs`, created in order (Glorot draws from rng).
// `named` receives them with their names (collect() reports them from there).
std::vector<Variable> make_params(const std::vector<ParamSpec>& specs, Rng& rng, Device device,
                                  std::vector<std::pair<std::string, Variable>>& named) {
  std::vector<Variable> out;
  for (const ParamSpec& p : specs) {
    out.push_back(parameter(p.init == ParamSpec::Glorot ? glorot_uniform(p.shape, rng, DType::F32, device)
                                                        : Tensor::zeros(p.shape, DType::F32, device)));
    named.emplace_back(p.name, out.back());
  }
  return out;
}

// [rows, cols] float32 tensor with ones in `rows_set` rows (value) and `other` elsewhere.
Tensor row_indicator(int64_t rows, int64_t cols, const Tensor& rows_set, float value, float other, Device device) {
  Tensor host = Tensor::full({rows, cols}, other, DType::F32);
  Tensor idx = rows_set.to(Device::CPU).to_dtype(DType::I64);
  const int64_t* p = idx.data<int64_t>();
  float* h = host.data<float>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    EMBER_CHECK(p[i] >= 0 && p[i] < rows, "mask row " << p[i] << " out of range [0, " << rows << ")");
    for (int64_t j = 0; j < cols; ++j) h[p[i] * cols + j] = value;
  }
  return device == Device::CPU ? host : host.to(device);
}

}  // namespace


// ---- encoder ---------------------------------------------------------------------

std::vector<ParamSpec> Encoder::param_specs(const ModelConfig& cfg, int64_t num_features, int64_t num_users) {
  std::vector<ParamSpec> s;
  s.push_back({"w_in", {num_features, cfg.hidden}, ParamSpec::Glorot});
  s.push_back({"b_in", {cfg.hidden}, ParamSpec::Zeros});
  // The MAE mask token lives in the projected space: a token t in feature
  // space would enter as t W_in, so learning its image directly is the same model.
  s.push_back({"mask_token", {cfg.hidden}, ParamSpec::Zeros});
  int64_t in = cfg.hidden;
  for (int64_t l = 0; l < cfg.layers; ++l) {
    const bool last = l + 1 == cfg.layers;
    const int64_t per_head = last ? cfg.embedding_dim : cfg.hidden / cfg.heads;
    const int64_t out = last ? per_head : cfg.heads * per_head;  // the last layer averages its heads
    const std::string q = "gat" + std::to_string(l) + ".";
    s.push_back({q + "weight", {in, cfg.heads * per_head}, ParamSpec::Glorot});
    s.push_back({q + "att_src", {cfg.heads, per_head}, ParamSpec::Glorot});
    s.push_back({q + "att_dst", {cfg.heads, per_head}, ParamSpec::Glorot});
    s.push_back({q + "bias", {out}, ParamSpec::Zeros});
    if (cfg.residual && in != out) s.push_back({q + "residual", {in, out}, ParamSpec::Glorot});
    in = out;
  }
  // Last, so that the other parameters draw the same initial values with or
  // without it; zero at the start: the model begins as the feature-only one.
  if (cfg.id_embeddings && num_users > 0) s.push_back({"id_table", {num_users, cfg.hidden}, ParamSpec::Zeros});
  return s;
}

Encoder::Encoder(const ModelConfig& cfg, int64_t num_features, int64_t num_users, uint64_t seed, Device device)
    : cfg_(cfg) {
  EMBER_CHECK(num_features >= 1, "encoder: the graph has no node features (num_features = 0)");
  EMBER_CHECK(!cfg.id_embeddings || num_users > 0, "encoder: id embeddings need the number of users");
  Rng rng(seed, 1);
  const std::vector<ParamSpec> specs = param_specs(cfg, num_features, num_users);
  const std::vector<Variable> p = make_params(specs, rng, device, named_);
  size_t i = 0;
  w_in_ = p[i++];
  b_in_ = p[i++];
  mask_token_ = p[i++];
  for (int64_t l = 0; l < cfg.layers; ++l) {
    Layer L;
    L.heads = cfg.heads;
    L.concat = l + 1 < cfg.layers;
    L.weight = p[i++];
    L.att_src = p[i++];
    L.att_dst = p[i++];
    L.bias = p[i++];
    L.out_per_head = L.att_src.size(1);
    if (i < p.size() && specs[i].name == "gat" + std::to_string(l) + ".residual") L.residual = p[i++];
    layers_.push_back(L);
  }
  if (i < p.size() && specs[i].name == "id_table") id_table_ = p[i++];
}

GatOptions Encoder::layer_options(size_t l, const ForwardRng& r) const {
  const Layer& L = layers_[l];
  GatOptions opt;
  opt.heads = L.heads;
  opt.out_features = L.out_per_head;
  opt.concat = L.concat;
  opt.negative_slope = cfg_.negative_slope;
  opt.attn_dropout = r.training ? cfg_.attn_dropout : 0.0;
  opt.dropout_seed = r.seed;
  opt.dropout_stream = r.stream * 64 + 2 * l;
  opt.training = r.training;
  opt.residual = cfg_.residual;
  return opt;
}

Variable Encoder::forward(const SparseCsr& x, const MessageGraph& g, const ForwardRng& r,
                          const Tensor& mask_rows, const Variable& id_rows) const {
  EMBER_CHECK(x.rows == g.num_nodes, "encoder: " << x.rows << " feature rows for a graph of " << g.num_nodes
                                                 << " nodes");
  Variable h = sparse_linear(x, w_in_, b_in_);
  if (id_rows.defined()) {
    EMBER_CHECK(id_rows.shape() == h.shape(), "encoder: id rows " << shape_str(id_rows.shape()) << " for an input of "
                                                                   << shape_str(h.shape()));
    h = add(h, id_rows);
  }
  if (mask_rows.defined() && mask_rows.numel() > 0) {
    const Device dev = h.device();
    Tensor keep = row_indicator(h.size(0), h.size(1), mask_rows, 0.0f, 1.0f, dev);
    Tensor masked = row_indicator(h.size(0), h.size(1), mask_rows, 1.0f, 0.0f, dev);
    h = add(mul(h, Variable(keep)), mul(Variable(masked), mask_token_));
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const GatOptions opt = layer_options(l, r);
    Variable in = dropout(h, cfg_.dropout, r.seed, r.stream * 64 + 2 * l + 1, r.training);
    h = gat_conv(in, g, L.weight, L.att_src, L.att_dst, L.bias, opt, L.residual);
    if (l + 1 < layers_.size() && cfg_.elu) h = elu(h, 1.0);
  }
  return h;
}

Tensor Encoder::infer_block(const SparseCsr& x_block, const Tensor& id_block, const MessageGraph& g, int64_t begin,
                            int64_t end, const std::function<Tensor(const Tensor&)>& exchange) const {
  NoGradGuard ng;
  const int64_t n = end - begin;
  EMBER_CHECK(0 <= begin && begin <= end && end <= g.num_nodes && x_block.rows == n,
              "encoder: block [" << begin << ", " << end << ") with " << x_block.rows << " feature rows, graph of "
                                 << g.num_nodes << " nodes");
  const Device dev = w_in_.device();
  // One exchange per layer: the projection. Empty blocks (small graphs, many
  // ranks) still take part in every exchange.
  auto empty = [dev](int64_t cols) { return Variable(Tensor::zeros({0, cols}, DType::F32, dev)); };
  Variable h = n > 0 ? sparse_linear(x_block, w_in_, b_in_) : empty(cfg_.hidden);
  if (n > 0 && id_block.defined()) h = add(h, Variable(id_block));
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const GatOptions opt = layer_options(l, ForwardRng{0, 0, false});
    const int64_t out_cols = L.concat ? L.heads * L.out_per_head : L.out_per_head;
    // gat_conv's steps (ops/gat.cpp), the projection on the block only.
    const Variable wh_block = n > 0 ? matmul(h, L.weight) : empty(L.heads * L.out_per_head);
    const Variable wh(exchange(wh_block.value()));
    Variable out = n > 0 ? Variable(gat_attention(wh, g, L.att_src, L.att_dst, opt).value().slice_rows(begin, end))
                         : empty(out_cols);
    if (n > 0) {
      if (L.bias.defined()) out = add(out, L.bias);
      if (opt.residual) out = add(out, L.residual.defined() ? matmul(h, L.residual) : h);
      if (l + 1 < layers_.size() && cfg_.elu) out = elu(out, 1.0);
    }
    h = out;  // the next layer needs only the block's rows (its projection is exchanged)
  }
  return h.value();
}

void Encoder::collect(std::vector<std::pair<std::string, Variable>>& out, const std::string& p) const {
  for (const auto& [name, v] : named_) out.emplace_back(p + name, v);
}

// ---- CCA head ----------------------------------------------------------------------

std::vector<ParamSpec> CcaHead::param_specs(int64_t in, int64_t hidden, int64_t out) {
  return {{"w1", {in, hidden}, ParamSpec::Glorot},
          {"b1", {hidden}, ParamSpec::Zeros},
          {"w2", {hidden, out}, ParamSpec::Glorot},
          {"b2", {out}, ParamSpec::Zeros}};
}

CcaHead::CcaHead(int64_t in, int64_t hidden, int64_t out, uint64_t seed, Device device) {
  Rng rng(seed, 2);
  const std::vector<Variable> p = make_params(param_specs(in, hidden, out), rng, device, named_);
  w1_ = p[0];
  b1_ = p[1];
  w2_ = p[2];
  b2_ = p[3];
}

Variable CcaHead::forward(const Variable& z) const { return linear(relu(linear(z, w1_, b1_)), w2_, b2_); }

void CcaHead::collect(std::vector<std::pair<std::string, Variable>>& out, const std::string& p) const {
  for (const auto& [name, v] : named_) out.emplace_back(p + name, v);
}

// ---- MAE head ----------------------------------------------------------------------

std::vector<ParamSpec> MaeHead::param_specs(int64_t d, int64_t num_features) {
  return {{"w_head", {d, d}, ParamSpec::Glorot},
          {"b_head", {d}, ParamSpec::Zeros},
          {"w_dec", {d, num_features}, ParamSpec::Glorot},
          {"att_src", {1, num_features}, ParamSpec::Glorot},
          {"att_dst", {1, num_features}, ParamSpec::Glorot},
          {"b_dec", {num_features}, ParamSpec::Zeros}};
}

MaeHead::MaeHead(int64_t d, int64_t num_features, double negative_slope, uint64_t seed, Device device)
    : negative_slope_(negative_slope) {
  Rng rng(seed, 3);
  const std::vector<Variable> p = make_params(param_specs(d, num_features), rng, device, named_);
  w_head_ = p[0];
  b_head_ = p[1];
  w_dec_ = p[2];
  att_src_ = p[3];
  att_dst_ = p[4];
  b_dec_ = p[5];
}

Variable MaeHead::forward(const Variable& h, const MessageGraph& g, const Tensor& masked_rows,
                          const Tensor& target_rows) const {
  const Device dev = h.device();
  const int64_t d = h.size(1);
  // Linear head, then re-mask: the masked rows' codes are zeroed, so the
  // decoder must rebuild them from the neighbours (GraphMAE).
  Variable code = linear(h, w_head_, b_head_);
  Tensor keep = row_indicator(code.size(0), d, masked_rows, 0.0f, 1.0f, dev);
  code = mul(code, Variable(keep));
  // One single-head GAT decoder layer d -> F, evaluated where it is needed.
  // With Wh_j = code_j W_dec, the scores a_s.Wh_j = code_j.(W_dec a_s^T) and
  // the output sum_j alpha_ij Wh_j = (sum_j alpha_ij code_j) W_dec, so the
  // layer is exactly: attention-aggregate in d dimensions with the projected
  // attention vectors, gather the masked rows, then multiply by W_dec. This
  // is the same function and gradient as GATConv(d -> F) at those rows,
  // without an [n, F] intermediate.
  Variable a_src = matmul(att_src_, w_dec_, false, true);  // [1, d] = a_s W_dec^T
  Variable a_dst = matmul(att_dst_, w_dec_, false, true);
  GatOptions opt;
  opt.heads = 1;
  opt.out_features = d;
  opt.concat = true;
  opt.negative_slope = negative_slope_;
  opt.training = false;
  Tensor eye_host = Tensor::zeros({d, d}, DType::F32);
  for (int64_t i = 0; i < d; ++i) eye_host.data<float>()[i * d + i] = 1.0f;
  Variable eye(dev == Device::CPU ? eye_host : eye_host.to(dev));
  Variable agg = gat_conv(code, g, eye, a_src, a_dst, Variable(), opt);
  return linear(gather_rows(agg, target_rows), w_dec_, b_dec_);  // host rows: checked and uploaded by the op
}

void MaeHead::collect(std::vector<std::pair<std::string, Variable>>& out, const std::string& p) const {
  for (const auto& [name, v] : named_) out.emplace_back(p + name, v);
}

// ---- the whole model ---------------------------------------------------------------

SsmtlModel::SsmtlModel(const TrainConfig& cfg, int64_t num_features, int64_t num_users, Device device)
    : encoder(cfg.model, num_features, num_users, cfg.seed, device),
      cca(cfg.model.embedding_dim, cfg.objectives.cca.head_hidden, cfg.objectives.cca.head_out, cfg.seed, device),
      mae(cfg.model.embedding_dim, num_features, cfg.model.negative_slope, cfg.seed, device) {}

std::vector<ParamSpec> SsmtlModel::param_specs(const TrainConfig& cfg, int64_t num_features, int64_t num_users) {
  std::vector<ParamSpec> out;
  auto add = [&out](const std::string& prefix, std::vector<ParamSpec> specs) {
    for (ParamSpec& p : specs) {
      p.name = prefix + p.name;
      out.push_back(std::move(p));
    }
  };
  add("encoder.", Encoder::param_specs(cfg.model, num_features, num_users));
  add("cca.", CcaHead::param_specs(cfg.model.embedding_dim, cfg.objectives.cca.head_hidden, cfg.objectives.cca.head_out));
  add("mae.", MaeHead::param_specs(cfg.model.embedding_dim, num_features));
  return out;
}

std::vector<std::pair<std::string, Variable>> SsmtlModel::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  encoder.collect(out, "encoder.");
  cca.collect(out, "cca.");
  mae.collect(out, "mae.");
  return out;
}

std::vector<Variable> SsmtlModel::dense_parameters() const {
  std::vector<Variable> out;
  for (auto& [name, v] : named_parameters())
    if (name != "encoder.id_table") out.push_back(v);
  return out;
}

std::vector<Variable> SsmtlModel::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, v] : named_parameters()) out.push_back(v);
  return out;
}

}  // namespace ember
