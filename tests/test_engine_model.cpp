// Steps of the method that a loss curve would not reveal, each pinned by a
// test that fails when the step is deleted (checked by deleting each once):
//  - the MAE view masks the query users' features (batch builder) and keeps
//    them as the reconstruction target (paper eq. 4);
//  - the encoder replaces the masked rows' input by the learnable mask token;
//  - the MAE head re-masks the masked rows' codes before the decoder (GraphMAE);
//  - the CCA head is Linear-ReLU-Linear (the ReLU is there).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "engine/data/prepare.h"
#include "engine/sampling/batch.h"
#include "engine/train/model.h"
#include "train_test_configs.h"

using namespace ember;

namespace {

// 6 nodes in a ring (both directions), 5 feature columns, 2 per row.
struct Toy {
  MessageGraph g;
  SparseFeatures f;
};
Toy toy() {
  Toy t;
  std::vector<int32_t> src, dst;
  for (int32_t i = 0; i < 6; ++i) {
    src.push_back(i);
    dst.push_back((i + 1) % 6);
    src.push_back((i + 1) % 6);
    dst.push_back(i);
  }
  t.g = build_message_graph(src, dst, 6);
  t.f.num_rows = 6;
  t.f.num_cols = 5;
  t.f.row_ptr = {0};
  for (int32_t i = 0; i < 6; ++i) {  // row i: columns i % 5 and (i + 2) % 5, sorted
    const int32_t a = i % 5, b = (i + 2) % 5;
    t.f.col.push_back(std::min(a, b));
    t.f.val.push_back(1.0f + 0.1f * static_cast<float>(i));
    t.f.col.push_back(std::max(a, b));
    t.f.val.push_back(0.5f);
    t.f.row_ptr.push_back(static_cast<int64_t>(t.f.col.size()));
  }
  t.f.validate("toy");
  return t;
}

ModelConfig small_model() {
  ModelConfig m;
  m.hidden = 8;
  m.embedding_dim = 4;
  m.heads = 2;
  m.dropout = 0.0;
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to(Device::CPU).to_vector<float>(), y = b.to(Device::CPU).to_vector<float>();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(x[i]) - y[i]));
  return m;
}

Tensor rows_tensor(std::vector<int64_t> r) { return Tensor::from_vector(r, {static_cast<int64_t>(r.size())}); }

}  // namespace

TEST_CASE("MAE view: the query users' features are masked and kept as the target", "[engine][model]") {
  TrainConfig c = ember_test::tiny_train_config();
  c.objectives.gamma = 1.0;
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  std::vector<int32_t> users;
  for (int64_t u = 0; u < d.split.train.num_nodes(); ++u)
    if (d.split.train.degree(u) > 0) users.push_back(static_cast<int32_t>(u));
  BatchBuilder builder(d.split.train, c, users);
  const TrainBatch b = builder.build(0, 0);
  REQUIRE(b.num_queries == c.sampler.batch_size);
  REQUIRE(b.mae_masked.size() == static_cast<size_t>(b.num_queries));
  REQUIRE(!b.mae_rows.empty());
  const int64_t F = d.split.train.features.num_cols;
  int64_t with_features = 0;
  for (int32_t q = 0; q < b.num_queries; ++q) {
    // Masked in the MAE view, untouched in the retrieval view.
    REQUIRE(b.mae.features.row_nnz(q) == 0);
    with_features += b.retrieval.features.row_nnz(q) > 0;
  }
  REQUIRE(with_features > b.num_queries / 2);
  // The target of each scored row is the query's original (unmasked) features.
  for (size_t r = 0; r < b.mae_rows.size(); ++r) {
    const int64_t q = b.mae_rows[r];
    const SparseFeatures& orig = b.retrieval.features;
    std::vector<float> dense(static_cast<size_t>(F), 0.0f);
    for (int64_t k = orig.row_ptr[q]; k < orig.row_ptr[q + 1]; ++k) dense[orig.col[k]] = orig.val[k];
    for (int64_t j = 0; j < F; ++j) REQUIRE(b.mae_target[r * F + j] == dense[j]);
  }
  // Rows other than the queries keep their features in the MAE view.
  int64_t kept = 0;
  for (int64_t i = b.num_queries; i < b.mae.features.num_rows; ++i) kept += b.mae.features.row_nnz(i) > 0;
  REQUIRE(kept > 0);
}

TEST_CASE("encoder: masked rows enter as the mask token, whatever their features", "[engine][model]") {
  Toy t = toy();
  Encoder enc(small_model(), t.f.num_cols, 6, 7, Device::CPU);
  // Give the mask token a value of its own (it starts at zero).
  std::vector<std::pair<std::string, Variable>> named;
  enc.collect(named, "");
  for (auto& [name, v] : named)
    if (name == "mask_token") v.mutable_value().copy_from(Tensor::full({8}, 0.3, DType::F32));
  const Tensor masked = rows_tensor({2, 4});
  SparseFeatures other = t.f;  // rows 2 and 4 get different features
  for (int64_t k = other.row_ptr[2]; k < other.row_ptr[3]; ++k) other.val[k] *= -3.0f;
  for (int64_t k = other.row_ptr[4]; k < other.row_ptr[5]; ++k) other.val[k] += 2.0f;
  const ForwardRng rng{1, 0, false};
  const Tensor a = enc.forward(to_sparse_csr(t.f, Device::CPU), t.g, rng, masked).value();
  const Tensor b = enc.forward(to_sparse_csr(other, Device::CPU), t.g, rng, masked).value();
  REQUIRE(max_abs_diff(a, b) == 0.0);
  // Without the mask the changed features do change the embeddings.
  const Tensor c = enc.forward(to_sparse_csr(t.f, Device::CPU), t.g, rng).value();
  const Tensor e = enc.forward(to_sparse_csr(other, Device::CPU), t.g, rng).value();
  REQUIRE(max_abs_diff(c, e) > 1e-3);
  // And the token is what the masked rows carry: a different token, different output.
  for (auto& [name, v] : named)
    if (name == "mask_token") v.mutable_value().copy_from(Tensor::full({8}, -0.7, DType::F32));
  const Tensor f = enc.forward(to_sparse_csr(t.f, Device::CPU), t.g, rng, masked).value();
  REQUIRE(max_abs_diff(a, f) > 1e-3);
}

TEST_CASE("MAE head: the masked rows' codes are re-masked before the decoder", "[engine][model]") {
  Toy t = toy();
  MaeHead head(4, t.f.num_cols, 0.2, 11, Device::CPU);
  Rng r(5, 0);
  std::vector<float> hv(6 * 4);
  for (float& x : hv) x = static_cast<float>(r.normal());
  const Tensor masked = rows_tensor({1, 3}), target = rows_tensor({1, 3});
  const Tensor base = head.forward(Variable(Tensor::from_vector(hv, {6, 4})), t.g, masked, target).value();
  // The decoder never sees the masked rows' codes: changing their encoder
  // output changes nothing (rows 1 and 3 reach themselves through self-loops).
  std::vector<float> hm = hv;
  for (int j = 0; j < 4; ++j) {
    hm[1 * 4 + j] += 5.0f;
    hm[3 * 4 + j] -= 4.0f;
  }
  const Tensor same = head.forward(Variable(Tensor::from_vector(hm, {6, 4})), t.g, masked, target).value();
  REQUIRE(max_abs_diff(base, same) == 0.0);
  // An unmasked neighbour's code does reach them.
  std::vector<float> hn = hv;
  for (int j = 0; j < 4; ++j) hn[2 * 4 + j] += 1.0f;
  const Tensor moved = head.forward(Variable(Tensor::from_vector(hn, {6, 4})), t.g, masked, target).value();
  REQUIRE(max_abs_diff(base, moved) > 1e-4);
}

TEST_CASE("CCA head: Linear-ReLU-Linear, computed by hand", "[engine][model]") {
  const int64_t in = 3, hid = 4, out = 2, n = 5;
  CcaHead head(in, hid, out, 13, Device::CPU);
  std::vector<std::pair<std::string, Variable>> named;
  head.collect(named, "");
  REQUIRE(named.size() == 4);
  // Non-zero biases so that the hidden pre-activations straddle zero.
  named[1].second.mutable_value().copy_from(Tensor::from_vector(std::vector<float>{0.5f, -0.5f, 0.2f, -0.1f}, {hid}));
  named[3].second.mutable_value().copy_from(Tensor::from_vector(std::vector<float>{0.1f, -0.2f}, {out}));
  const auto w1 = named[0].second.value().to_vector<float>(), b1 = named[1].second.value().to_vector<float>();
  const auto w2 = named[2].second.value().to_vector<float>(), b2 = named[3].second.value().to_vector<float>();
  Rng r(3, 0);
  std::vector<float> z(static_cast<size_t>(n * in));
  for (float& x : z) x = static_cast<float>(2.0 * r.normal());
  const auto got = head.forward(Variable(Tensor::from_vector(z, {n, in}))).value().to_vector<float>();
  int64_t clipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    double h[4];
    for (int64_t k = 0; k < hid; ++k) {
      double s = b1[k];
      for (int64_t j = 0; j < in; ++j) s += static_cast<double>(z[i * in + j]) * w1[j * hid + k];
      clipped += s < 0;
      h[k] = s > 0 ? s : 0.0;  // the ReLU
    }
    for (int64_t o = 0; o < out; ++o) {
      double s = b2[o];
      for (int64_t k = 0; k < hid; ++k) s += h[k] * w2[k * out + o];
      REQUIRE(got[i * out + o] == Approx(s).margin(1e-5));
    }
  }
  REQUIRE(clipped > 0);  // the ReLU was exercised
}
