// Data preparation (engine/data/prepare.h): an edge-list graph with a feature
// file (data.features) gets those features, aligned by original id, and they
// reach the model; missing or mismatched files are refused naming the file.
#include <catch2/catch.hpp>

#include "engine/data/prepare.h"
#include "engine/train/trainer.h"
#include "test_data_util.h"
#include "train_test_configs.h"

using namespace ember;
using ember_test::TempDir;

namespace {

// A ring of 60 users with ids 1000, 1010, ... plus chords, as SNAP text.
std::string ring_edges(const TempDir& dir) {
  std::string s = "# ring with chords\n";
  for (int i = 0; i < 60; ++i) {
    s += std::to_string(1000 + 10 * i) + " " + std::to_string(1000 + 10 * ((i + 1) % 60)) + "\n";
    s += std::to_string(1000 + 10 * i) + " " + std::to_string(1000 + 10 * ((i + 7) % 60)) + "\n";
  }
  return dir.file("ring.txt", s);
}

DataConfig edge_file_config(const std::string& edges, const std::string& features) {
  DataConfig d;
  d.graph = edges;
  d.features = features;
  d.val_fraction = 0.1;
  d.test_fraction = 0.1;
  return d;
}

}  // namespace

TEST_CASE("data.features: a JSON feature file is aligned to an edge list's ids and reaches the model",
          "[data][prepare]") {
  TempDir dir("features_json");
  const std::string edges = ring_edges(dir);
  // User 1000 + 10 i has features {i % 5, 5 + i % 7}; 13 columns in all.
  std::string json = "{";
  for (int i = 0; i < 60; ++i)
    json += (i ? ",\"" : "\"") + std::to_string(1000 + 10 * i) + "\": [" + std::to_string(i % 5) + ", " +
            std::to_string(5 + i % 7) + "]";
  json += ", \"12\": [12]}";  // a user only in the feature file
  const std::string feat = dir.file("feat.json", json);
  PreparedData d = prepare_data(edge_file_config(edges, feat), 1, "", false);
  REQUIRE(d.full.num_nodes() == 61);  // 60 with friends + user 12 without
  REQUIRE(d.full.features.num_cols == 13);
  REQUIRE(d.split.train.features.num_cols == 13);
  for (int i : {0, 17, 59}) {
    const int64_t u = d.full.ids.dense(1000 + 10 * i);
    REQUIRE(d.full.features.row_nnz(u) == 2);
    REQUIRE(d.full.features.col[d.full.features.row_ptr[u]] == i % 5);
    REQUIRE(d.full.features.col[d.full.features.row_ptr[u] + 1] == 5 + i % 7);
  }
  const int64_t lone = d.full.ids.dense(12);
  REQUIRE(lone >= 0);
  REQUIRE(d.full.degree(lone) == 0);
  REQUIRE(d.features_note == "13 sparse feature columns");
  // The features reach the model: the input projection is [file columns, hidden].
  TrainConfig c = ember_test::tiny_train_config();
  c.data = edge_file_config(edges, feat);
  Trainer t(c, d.split.train, d.val, RunDir{""});
  const auto named = t.model().named_parameters();
  REQUIRE(named[0].first == "encoder.w_in");
  REQUIRE(named[0].second.shape() == Shape{13, c.model.hidden});
}

TEST_CASE("data.features: a dense CSV feature file keeps its nonzeros", "[data][prepare]") {
  TempDir dir("features_csv");
  const std::string edges = ring_edges(dir);
  std::string csv = "id,a,b,c,d\n";
  for (int i = 0; i < 60; ++i)
    csv += std::to_string(1000 + 10 * i) + "," + std::to_string(i % 3) + ",0,1.5," + std::to_string(-i) + "\n";
  const std::string feat = dir.file("feat.csv", csv);
  PreparedData d = prepare_data(edge_file_config(edges, feat), 1, "", false);
  REQUIRE(d.full.num_nodes() == 60);
  REQUIRE(d.full.features.num_cols == 4);
  const int64_t u = d.full.ids.dense(1000 + 10 * 4);  // row 4: 1, 0, 1.5, -4 -> three nonzeros
  REQUIRE(d.full.features.row_nnz(u) == 3);
  const int64_t p = d.full.features.row_ptr[u];
  REQUIRE(d.full.features.val[p] == 1.0f);
  REQUIRE(d.full.features.val[p + 1] == 1.5f);
  REQUIRE(d.full.features.val[p + 2] == -4.0f);
}

TEST_CASE("data.features: missing, mismatched or redundant feature files are refused naming the file",
          "[data][prepare][errors]") {
  TempDir dir("features_bad");
  const std::string edges = ring_edges(dir);
  REQUIRE_THROWS_WITH(prepare_data(edge_file_config(edges, dir / "nope.json"), 1, "", false),
                      Catch::Contains("data.features") && Catch::Contains("nope.json") &&
                          Catch::Contains("does not exist"));
  // Features of another graph: no id in common with the edge list.
  const std::string other = dir.file("other.json", "{\"1\": [0], \"2\": [1], \"3\": [2]}");
  REQUIRE_THROWS_WITH(prepare_data(edge_file_config(edges, other), 1, "", false),
                      Catch::Contains("other.json") && Catch::Contains("none for a user of the edge list"));
  // A malformed file names its line.
  const std::string bad = dir.file("bad.csv", "id,a\n1000,1\n1010,x\n");
  REQUIRE_THROWS_WITH(prepare_data(edge_file_config(edges, bad), 1, "", false),
                      Catch::Contains("bad.csv:3"));
  // A feature file for the synthetic graph is a config error.
  TrainConfig c;
  c.data.features = other;
  REQUIRE_THROWS_WITH(c.validate(), Catch::Contains("data.features"));
}

TEST_CASE("data.features: a dataset folder without features takes them; one with features refuses",
          "[data][prepare][errors]") {
  TempDir dir("features_folder");
  ring_edges(dir);  // the folder holds exactly one *.txt edge list: a SNAP layout
  TempDir fdir("features_folder_f");
  const std::string feat = fdir.file("f.json", "{\"1000\": [3], \"1010\": [1]}");
  PreparedData d = prepare_data(edge_file_config(dir.path, feat), 1, "", false);
  REQUIRE(d.full.features.num_cols == 4);
  REQUIRE(d.full.features.row_nnz(d.full.ids.dense(1000)) == 1);
  // A MUSAE-like folder with its own features.
  TempDir mdir("features_musae");
  mdir.file("toy_edges.csv", "node_1,node_2\n0,1\n1,2\n2,0\n");
  mdir.file("toy_features.json", "{\"0\": [1], \"1\": [2], \"2\": [0]}");
  REQUIRE_THROWS_WITH(prepare_data(edge_file_config(mdir.path, feat), 1, "", false),
                      Catch::Contains("has features of its own"));
}
