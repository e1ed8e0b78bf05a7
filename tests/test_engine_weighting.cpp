// SSMTL weighting (engine/train/weighting.h): the MGDA min-norm weights on
// hand-built cases, the gradnorm rule responding to gradient scale, and both
// modes training (weights logged, losses finite).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "engine/data/prepare.h"
#include "engine/train/trainer.h"
#include "engine/train/weighting.h"
#include "train_test_configs.h"

using namespace ember;

namespace {
std::vector<std::vector<double>> gram(const std::vector<std::vector<double>>& g) {
  std::vector<std::vector<double>> G(g.size(), std::vector<double>(g.size()));
  for (size_t i = 0; i < g.size(); ++i)
    for (size_t j = 0; j < g.size(); ++j) {
      double s = 0;
      for (size_t k = 0; k < g[i].size(); ++k) s += g[i][k] * g[j][k];
      G[i][j] = s;
    }
  return G;
}
double combined_norm(const std::vector<std::vector<double>>& g, const std::vector<double>& w) {
  std::vector<double> v(g[0].size(), 0.0);
  for (size_t i = 0; i < g.size(); ++i)
    for (size_t k = 0; k < v.size(); ++k) v[k] += w[i] * g[i][k];
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
}  // namespace

TEST_CASE("MGDA: min-norm weights on hand-built cases", "[weighting]") {
  // Orthogonal unit vectors: the middle of the segment.
  auto w = min_norm_weights(gram({{1, 0}, {0, 1}}));
  REQUIRE(w[0] == Approx(0.5));
  REQUIRE(w[1] == Approx(0.5));
  // Parallel, one shorter: all weight on the shorter one.
  w = min_norm_weights(gram({{1, 0}, {3, 0}}));
  REQUIRE(w[0] == Approx(1.0));
  REQUIRE(w[1] == Approx(0.0).margin(1e-12));
  // Opposite directions: the origin is in the hull (|g1| = 1, |g2| = 2 -> w = (2/3, 1/3)).
  w = min_norm_weights(gram({{1, 0}, {-2, 0}}));
  REQUIRE(w[0] == Approx(2.0 / 3));
  REQUIRE(combined_norm({{1, 0}, {-2, 0}}, w) == Approx(0.0).margin(1e-12));
  // Three vectors: (1,0), (0,1), (1,1): the min-norm point of their hull is (0.5, 0.5) from the first two.
  const std::vector<std::vector<double>> g3{{1, 0}, {0, 1}, {1, 1}};
  w = min_norm_weights(gram(g3));
  REQUIRE(w[0] + w[1] + w[2] == Approx(1.0));
  REQUIRE(w[2] == Approx(0.0).margin(1e-6));
  REQUIRE(combined_norm(g3, w) == Approx(std::sqrt(0.5)).epsilon(1e-6));
  // No grid point of the simplex does better (step 0.01).
  double best = 1e9;
  for (int a = 0; a <= 100; ++a)
    for (int b = 0; a + b <= 100; ++b)
      best = std::min(best, combined_norm(g3, {a / 100.0, b / 100.0, (100 - a - b) / 100.0}));
  REQUIRE(combined_norm(g3, w) <= best + 1e-9);
  // Three vectors in 3-D around the origin: 0 is reachable.
  const std::vector<std::vector<double>> around{{1, 0, 0}, {-1, 1, 0}, {-1, -1, 0}};
  w = min_norm_weights(gram(around));
  REQUIRE(combined_norm(around, w) < 1e-4);
  REQUIRE_THROWS_WITH(min_norm_weights({{1, 0}}), Catch::Contains("square"));
}

TEST_CASE("gradnorm: the weight makes the auxiliary gradient a fixed fraction of retrieval's", "[weighting]") {
  REQUIRE(gradnorm_weight(0.1, 2.0, 20.0) == Approx(0.01));  // CCA 10x retrieval -> 1/10 of the fraction
  REQUIRE(gradnorm_weight(0.1, 2.0, 0.2) == Approx(1.0));    // MAE 10x smaller -> 10x the fraction
  // Scaling the auxiliary gradient by s scales its weight by 1/s: weight * norm is invariant.
  for (double s : {0.01, 1.0, 300.0}) REQUIRE(gradnorm_weight(0.3, 1.5, 4.0 * s) * 4.0 * s == Approx(0.3 * 1.5));
  REQUIRE(gradnorm_weight(0.3, 1.5, 0.0) == 0.3);  // no gradient: the fraction itself
  REQUIRE(gradnorm_weight(0.3, NAN, 1.0) == 0.3);
}

TEST_CASE("weighting: gradnorm and mgda train SSMTL and log their weights", "[weighting][engine][train]") {
  for (const char* mode : {"gradnorm", "mgda"}) {
    TrainConfig c = ember_test::small_train_config(2);
    c.objectives.beta = 0.1;
    c.objectives.gamma = 0.1;
    c.objectives.weighting = mode;
    c.objectives.weighting_every = 3;
    PreparedData d = prepare_data(c.data, c.seed, "", false);
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / (std::string("ember_weighting_") + mode + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    Trainer t(c, d.split.train, d.val, RunDir{dir.string()});
    const TrainResult r = t.fit();
    INFO(mode);
    REQUIRE(r.steps == 20);
    REQUIRE(r.best_val_recall50 > 0.1);
    std::ifstream in(dir / "metrics.jsonl");
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      REQUIRE(j.contains("weights"));
      const double wc = j["weights"]["cca"], wm = j["weights"]["mae"];
      REQUIRE(std::isfinite(wc));
      REQUIRE(std::isfinite(wm));
      REQUIRE(wc > 0);
      if (std::string(mode) == "mgda") REQUIRE(wc + wm <= 1.0 + 1e-9);
      // gradnorm: CCA's gradient is ~10x retrieval's, so its weight is well below beta.
      if (std::string(mode) == "gradnorm") REQUIRE(wc < c.objectives.beta);
      ++lines;
    }
    REQUIRE(lines == 2);
    std::filesystem::remove_all(dir);
  }
}
