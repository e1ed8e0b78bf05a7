// Config parsing/validation, .npy files and checkpoints.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/io/binary_io.h"
#include "engine/train/checkpoint.h"
#include "engine/config/config.h"
#include "engine/io/npy.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("ember_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
void write_text(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
}  // namespace

TEST_CASE("config: defaults, overrides and round trip", "[engine][config]") {
  TrainConfig c = TrainConfig::from_json_text(R"({"seed": 7, "model": {"heads": 2, "hidden": 32},
      "objectives": {"beta": 0.01, "cca": {"lambda": 0.002}}, "sampler": {"fanouts": [5, 5, 3]}})");
  REQUIRE(c.seed == 7);
  REQUIRE(c.model.heads == 2);
  REQUIRE(c.model.embedding_dim == TrainConfig{}.model.embedding_dim);  // default kept
  REQUIRE(c.objectives.cca.lambda == 0.002);
  REQUIRE(c.sampler.fanouts == std::vector<int64_t>{5, 5, 3});
  TrainConfig back = TrainConfig::from_json_text(c.to_json_text());
  REQUIRE(back.to_json_text() == c.to_json_text());
  REQUIRE(back.model_hash() == c.model_hash());
  TrainConfig other = c;
  other.model.layers = 3;
  REQUIRE(other.model_hash() != c.model_hash());
}

TEST_CASE("config: errors name the key", "[engine][config][errors]") {
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"modle": {}})"), Catch::Contains("unknown key 'modle'"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"model": {"hiden": 3}})"),
                      Catch::Contains("unknown key 'model.hiden'"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"model": {"heads": "four"}})"),
                      Catch::Contains("model.heads has the wrong type"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"model": {"heads": 3}})"),
                      Catch::Contains("multiple of model.heads"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"objectives": {"mae": {"exponent": 0.5}}})"),
                      Catch::Contains("objectives.mae.exponent must be >= 1"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"objectives": {"temperature": 0}})"),
                      Catch::Contains("temperature must be > 0"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text("{\"seed\": 1,"), Catch::Contains("invalid JSON"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text("[1, 2]"), Catch::Contains("must be a JSON object"));
  REQUIRE_THROWS_WITH(TrainConfig::from_file("/nonexistent/ember.json"), Catch::Contains("/nonexistent/ember.json"));
  // The retrieval-quality options refuse out-of-range values naming the key.
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"objectives": {"hard_negatives": -1}})"),
                      Catch::Contains("objectives.hard_negatives"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"objectives": {"weighting": "pareto"}})"),
                      Catch::Contains("objectives.weighting must be fixed, gradnorm or mgda"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"model": {"id_dropout": 1.0}})"),
                      Catch::Contains("model.id_dropout"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"retrieval": {"expansion": {"merge": "sum"}}})"),
                      Catch::Contains("retrieval.expansion.merge"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"retrieval": {"blend": {"weight": 2}}})"),
                      Catch::Contains("retrieval.blend.weight"));
  REQUIRE_THROWS_WITH(TrainConfig::from_json_text(R"({"retrieval": {"blend": {"mod": "rrf"}}})"),
                      Catch::Contains("unknown key 'retrieval.blend.mod'"));
}

TEST_CASE("npy: round trip, numpy-compatible header, corruption detected", "[engine][npy]") {
  fs::path dir = temp_dir("npy");
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  const std::string path = (dir / "e.npy").string();
  save_npy(path, t);
  REQUIRE(fs::file_size(path) % 64 == 24 % 64);  // 64-byte aligned header + 24 data bytes
  Tensor back = load_npy(path);
  REQUIRE(back.shape() == Shape{3, 2});
  REQUIRE(back.to_vector<float>() == t.to_vector<float>());
  // Truncated data.
  fs::resize_file(path, fs::file_size(path) - 4);
  REQUIRE_THROWS_WITH(load_npy(path), Catch::Contains("truncated or corrupt"));
  write_text(dir / "bad.npy", "hello world, not numpy");
  REQUIRE_THROWS_WITH(load_npy((dir / "bad.npy").string()), Catch::Contains("bad magic"));
  REQUIRE_THROWS_WITH(load_npy((dir / "missing.npy").string()), Catch::Contains("missing.npy"));
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: round trip, corruption and mismatch refused", "[engine][checkpoint]") {
  fs::path dir = temp_dir("ckpt");
  const std::string path = (dir / "checkpoint.bin").string();
  Checkpoint c;
  c.config_hash = 1234;
  c.epoch = 3;
  c.step = 77;
  c.rng_counter = 99;
  c.best_metric = 0.25;
  c.meta_json = "{\"x\": 1}";
  c.params.emplace_back("encoder.w0", Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}));
  c.params.emplace_back("encoder.b0", Tensor::from_vector<float>({5, 6}, {2}));
  c.optimizer_state.push_back(Tensor::from_vector<double>({0.5}, {1}));
  c.optimizer_steps = 77;
  save_checkpoint(path, c);
  Checkpoint back = load_checkpoint(path, 1234);
  REQUIRE(back.epoch == 3);
  REQUIRE(back.step == 77);
  REQUIRE(back.rng_counter == 99);
  REQUIRE(back.best_metric == 0.25);
  REQUIRE(back.meta_json == c.meta_json);
  REQUIRE(back.params.size() == 2);
  REQUIRE(back.params[0].first == "encoder.w0");
  REQUIRE(back.params[0].second.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  REQUIRE(back.optimizer_state[0].to_vector<double>() == std::vector<double>{0.5});
  REQUIRE_THROWS_WITH(load_checkpoint(path, 999), Catch::Contains("different model configuration"));
  // Flip one payload byte: the checksum catches it.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char b;
    f.read(&b, 1);
    b ^= 0x40;
    f.seekp(100);
    f.write(&b, 1);
  }
  REQUIRE_THROWS_AS(load_checkpoint(path), Error);
  save_checkpoint(path, c);
  fs::resize_file(path, fs::file_size(path) / 2);
  REQUIRE_THROWS_AS(load_checkpoint(path), Error);
  fs::remove_all(dir);
}

TEST_CASE("remove_stale_temp_files removes only temporary files of dead writers", "[data][io]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ember_stale_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  auto touch = [](const fs::path& p) { std::ofstream(p) << "x"; };
  // A pid that cannot exist (above the kernel's pid_max, 2^22).
  const std::string dead = "99999999";
  touch(dir / ("checkpoint.bin.tmp." + dead + ".0"));
  touch(dir / ("embeddings.npy.tmp." + dead + ".12"));
  touch(dir / ("mine.tmp." + std::to_string(::getpid()) + ".3"));  // this (live) process
  touch(dir / "parent.tmp.1.0");                                    // pid 1 is alive
  touch(dir / "notes.tmp.txt");                                     // not a temporary-file name
  touch(dir / "checkpoint.bin");
  touch(dir / "sub" / ("x.tmp." + dead + ".0"));                    // subfolders are not searched
  REQUIRE(ember::remove_stale_temp_files(dir.string()) == 2);
  REQUIRE_FALSE(fs::exists(dir / ("checkpoint.bin.tmp." + dead + ".0")));
  REQUIRE(fs::exists(dir / ("mine.tmp." + std::to_string(::getpid()) + ".3")));
  REQUIRE(fs::exists(dir / "parent.tmp.1.0"));
  REQUIRE(fs::exists(dir / "notes.tmp.txt"));
  REQUIRE(fs::exists(dir / "checkpoint.bin"));
  REQUIRE(fs::exists(dir / "sub" / ("x.tmp." + dead + ".0")));
  REQUIRE(ember::remove_stale_temp_files((dir / "missing").string()) == 0);
  fs::remove_all(dir);
}
