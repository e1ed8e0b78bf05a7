// Learnable user-id embeddings (model.id_embeddings): the row-sparse Adam
// update (CPU reference, kernels, the dense rule on touched rows, untouched
// rows unchanged), a float64 gradcheck of the id path of the encoder input,
// training with id dropout and the cold-user rule, exact resume, and refusal
// of a checkpoint for another graph's users.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "backend_harness.h"
#include "backend_registry.h"
#include "engine/data/prepare.h"
#include "engine/train/trainer.h"
#include "gradcheck.h"
#include "kernels/optim.h"
#include "kernels/tensor_ops.h"
#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/sparse_linear.h"
#include "train_test_configs.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {
Tensor rand_t(const Shape& s, uint64_t seed) {
  Rng r(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (float& x : v) x = static_cast<float>(r.normal());
  return Tensor::from_vector(v, s);
}
}  // namespace

EMBER_BACKEND_TEST("optim", "sparse_adam_rows: CPU reference vs kernels, dense Adam on the touched rows",
                   "[ids][kernels][emu]") {
  const int64_t N = 50, D = 37;
  const Tensor p0 = rand_t({N, D}, 1), m0 = rand_t({N, D}, 2);
  const Tensor v0 = tensor::unary(UnaryOp::Square, rand_t({N, D}, 3));
  const std::vector<int64_t> rows{7, 0, 49, 12, 31};
  const Tensor g = rand_t({5, D}, 4);
  // CPU reference.
  Tensor p = p0.clone(), m = m0.clone(), v = v0.clone();
  const Tensor r = Tensor::from_vector(rows, {5});
  tensor::sparse_adam_rows_(p, r, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.01, true, 3);
  // Dense Adam on the touched rows gives the same values; untouched rows keep theirs.
  Tensor pd = p0.clone(), md = m0.clone(), vd = v0.clone();
  Tensor gd = Tensor::zeros({N, D});
  for (size_t k = 0; k < rows.size(); ++k)
    for (int64_t j = 0; j < D; ++j) gd.data<float>()[rows[k] * D + j] = g.data<float>()[k * D + j];
  tensor::adam_update_(pd, gd, md, vd, 1e-2, 0.9, 0.999, 1e-8, 0.01, true, 3);
  for (int64_t i = 0; i < N; ++i) {
    const bool touched = std::find(rows.begin(), rows.end(), i) != rows.end();
    for (int64_t j = 0; j < D; ++j) {
      const int64_t e = i * D + j;
      if (touched) {
        REQUIRE(p.data<float>()[e] == pd.data<float>()[e]);
        REQUIRE(m.data<float>()[e] == md.data<float>()[e]);
      } else {
        REQUIRE(p.data<float>()[e] == p0.data<float>()[e]);
        REQUIRE(m.data<float>()[e] == m0.data<float>()[e]);
        REQUIRE(v.data<float>()[e] == v0.data<float>()[e]);
      }
    }
  }
  for (Device dev : testing::accelerator_devices()) {
    Tensor pq = p0.to(dev), mq = m0.to(dev), vq = v0.to(dev);
    tensor::sparse_adam_rows_(pq, r.to(dev), g.to(dev), mq, vq, 1e-2, 0.9, 0.999, 1e-8, 0.01, true, 3);
    testing::require_close(pq, p, 1e-6, 1e-7, std::string("param on ") + device_name(dev));
    testing::require_close(mq, m, 1e-6, 1e-7, std::string("m on ") + device_name(dev));
    testing::require_close(vq, v, 1e-6, 1e-7, std::string("v on ") + device_name(dev));
  }
  // Bad rows are refused before any kernel runs.
  REQUIRE_THROWS_WITH(tensor::sparse_adam_rows_(p, Tensor::from_vector(std::vector<int64_t>{1, 1}, {2}),
                                                rand_t({2, D}, 5), m, v, 1e-2, 0.9, 0.999, 1e-8, 0, true, 1),
                      Catch::Contains("listed twice"));
  REQUIRE_THROWS_WITH(tensor::sparse_adam_rows_(p, Tensor::from_vector(std::vector<int64_t>{50}, {1}),
                                                rand_t({1, D}, 5), m, v, 1e-2, 0.9, 0.999, 1e-8, 0, true, 1),
                      Catch::Contains("out of range"));
}

TEST_CASE("id embeddings: float64 gradcheck of the projected input with id rows", "[ids][gradcheck]") {
  // h0 = x W + b + keep * E[ids]: the gradient of the table has the gathered
  // rows' gradients (summed for repeated ids) and zeros elsewhere.
  Rng r(3);
  const Tensor table = testing::random_f64({6, 4}, r), w = testing::random_f64({5, 4}, r);
  const Tensor b = testing::random_f64({4}, r);
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{4, 1, 4, 0}, {4});
  const Tensor keep = Tensor::from_vector(std::vector<double>{1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1}, {4, 4});
  SparseCsr x;
  x.rows = 4;
  x.cols = 5;
  x.row_ptr = Tensor::from_vector(std::vector<int64_t>{0, 2, 3, 3, 5}, {5});
  x.col = Tensor::from_vector(std::vector<int32_t>{0, 3, 2, 1, 4}, {5});
  x.val = Tensor::from_vector(std::vector<double>{0.5, -1.0, 2.0, 1.5, 0.25}, {5});
  auto f = [&](const std::vector<Variable>& v) {
    return add(sparse_linear(x, v[1], v[2]), mul(gather_rows(v[0], ids), Variable(keep)));
  };
  const testing::GradcheckResult res = testing::gradcheck(f, {table, w, b});
  INFO(res.report);
  REQUIRE(res.max_rel_error < 1e-6);
}

TEST_CASE("id embeddings: training uses them row-sparsely, resumes exactly, and refuses another graph",
          "[ids][engine][train]") {
  TrainConfig c = ember_test::small_train_config(2);
  c.model.id_embeddings = true;
  c.model.id_dropout = 0.3;
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  const fs::path a = fs::temp_directory_path() / ("ember_ids_a_" + std::to_string(::getpid()));
  const fs::path b = fs::temp_directory_path() / ("ember_ids_b_" + std::to_string(::getpid()));
  fs::remove_all(a);
  fs::remove_all(b);
  Tensor full, table;
  {
    Trainer t(c, d.split.train, d.val, RunDir{a.string()});
    Variable id_table;
    for (const auto& [name, v] : t.model().named_parameters())
      if (name == "encoder.id_table") id_table = v;
    REQUIRE(id_table.defined());
    REQUIRE(id_table.shape() == Shape{d.full.num_nodes(), c.model.hidden});
    t.fit();
    full = t.embed_all();
    table = id_table.value().clone();
  }
  // The rows moved, except those of users without training friends (never contributing).
  const int64_t H = c.model.hidden;
  int64_t moved = 0, cold = 0;
  for (int64_t u = 0; u < d.full.num_nodes(); ++u) {
    double s = 0;
    for (int64_t j = 0; j < H; ++j) s += std::fabs(table.data<float>()[u * H + j]);
    if (d.split.train.degree(u) == 0) {
      ++cold;
      REQUIRE(s == 0.0);
    } else {
      moved += s > 0;
    }
  }
  REQUIRE(cold > 0);
  REQUIRE(moved > (d.full.num_nodes() - cold) / 2);
  // Kill after 5 steps, resume: the same embeddings.
  {
    Trainer t(c, d.split.train, d.val, RunDir{b.string()});
    REQUIRE(t.fit(false, 5).steps == 5);
  }
  {
    Trainer t(c, d.split.train, d.val, RunDir{b.string()});
    t.fit(true);
    REQUIRE(t.embed_all().to_vector<float>() == full.to_vector<float>());
  }
  // Inference from the checkpoint gives the same embeddings; another graph's users are refused.
  {
    Trainer t(c, d.split.train, d.val, RunDir{""});
    t.load_parameters((a / "checkpoint.bin").string());
    REQUIRE(t.embed_all().to_vector<float>() == full.to_vector<float>());
  }
  TrainConfig bigger = c;
  bigger.data.synthetic.num_users = 700;
  PreparedData d2 = prepare_data(bigger.data, bigger.seed, "", false);
  Trainer t2(bigger, d2.split.train, d2.val, RunDir{""});
  REQUIRE_THROWS_WITH(t2.load_parameters((a / "checkpoint.bin").string()),
                      Catch::Contains("trained for 600 users, the graph has 700"));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("id embeddings: dropout leaves rows out during training only; cold users get no row at inference",
          "[ids][engine]") {
  TrainConfig c = ember_test::tiny_train_config();
  c.model.id_embeddings = true;
  c.model.id_dropout = 0.5;
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  SsmtlModel model(c, d.split.train.features.num_cols, d.full.num_nodes(), Device::CPU);
  // A table of ones makes the contributing rows visible.
  Variable table = model.encoder.id_table();
  table.mutable_value().copy_from(Tensor::full(table.shape(), 1.0, DType::F32));
  IdEmbeddingTrainer ids(c, d.split.train, table);
  std::vector<int64_t> all(static_cast<size_t>(d.full.num_nodes()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  const IdEmbeddingTrainer::Rows rows = ids.gather(all, 11);
  const auto leaf = rows.leaf.value().to_vector<float>();
  const int64_t H = c.model.hidden;
  int64_t warm = 0, kept = 0;
  for (int64_t u = 0; u < d.full.num_nodes(); ++u) {
    const bool on = leaf[u * H] == 1.0f;
    if (d.split.train.degree(u) == 0) REQUIRE_FALSE(on);
    else { ++warm; kept += on; }
  }
  INFO(kept << " of " << warm << " warm users kept at id_dropout 0.5");
  REQUIRE(kept > warm / 3);
  REQUIRE(kept < 2 * warm / 3);
  REQUIRE(rows.kept_local.numel() == kept);
  // Another step draws other rows.
  REQUIRE(ids.gather(all, 12).leaf.value().to_vector<float>() != leaf);
  // Inference: every warm user, no cold one (unless id_cold_users).
  const auto inf = ids.inference_rows().to_vector<float>();
  for (int64_t u = 0; u < d.full.num_nodes(); ++u)
    REQUIRE((inf[u * H] == 1.0f) == (d.split.train.degree(u) > 0));
  c.model.id_cold_users = true;
  IdEmbeddingTrainer with_cold(c, d.split.train, table);
  for (float x : with_cold.inference_rows().to_vector<float>()) REQUIRE(x == 1.0f);
}
