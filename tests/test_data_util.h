// Helpers shared by the [data] tests: temp directories, small files, the
// shared data folder.
#pragma once
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/data/graph.h"

namespace ember_test {

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag) {
    static int seq = 0;
    path = (std::filesystem::temp_directory_path() /
            ("ember_data_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(seq++)))
               .string();
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// shared/data next to the repository, or "" (with a WARN) when absent.
inline std::string shared_data_dir() {
  std::string d = std::string(EMBER_SOURCE_DIR) + "/../shared/data";
  if (!std::filesystem::is_directory(d)) {
    WARN("shared data folder " << d << " not found: skipping the real-data checks");
    return "";
  }
  return d;
}

// Every array of two graphs equal (a cache round trip): CSR, ids, features, labels.
inline void require_same_graph(const ember::Graph& a, const ember::Graph& b) {
  REQUIRE(a.offsets == b.offsets);
  REQUIRE(a.neighbors == b.neighbors);
  REQUIRE(a.ids.originals() == b.ids.originals());
  REQUIRE(a.features.num_rows == b.features.num_rows);
  REQUIRE(a.features.num_cols == b.features.num_cols);
  REQUIRE(a.features.row_ptr == b.features.row_ptr);
  REQUIRE(a.features.col == b.features.col);
  REQUIRE(a.features.val == b.features.val);
  REQUIRE(a.labels == b.labels);
}

}  // namespace ember_test
