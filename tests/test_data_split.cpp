// Edge and cold-start splits, split files.
#include <catch2/catch.hpp>
#include <set>

#include "engine/io/binary_io.h"
#include "engine/data/split.h"
#include "engine/data/synthetic.h"
#include "test_data_util.h"

using namespace ember;

namespace {
Graph test_graph() {
  SyntheticConfig c;
  c.num_users = 4000;
  c.num_communities = 20;
  c.avg_degree = 12;
  c.feature_dim = 256;
  c.seed = 9;
  return generate_synthetic(c, false).graph;
}
}  // namespace

TEST_CASE("edge split: fractions, disjoint, held-out edges removed", "[data]") {
  Graph g = test_graph();
  SplitConfig cfg;
  cfg.val_fraction = 0.1;
  cfg.test_fraction = 0.2;
  cfg.seed = 5;
  Split s = make_split(g, cfg);
  s.train.validate();
  const double E = static_cast<double>(g.num_edges());
  REQUIRE(s.train.num_edges() + static_cast<int64_t>(s.val.size() + s.test.size()) == g.num_edges());
  REQUIRE(std::abs(s.val.size() / E - 0.1) < 0.015);
  REQUIRE(std::abs(s.test.size() / E - 0.2) < 0.015);
  for (const auto* set : {&s.val, &s.test})
    for (const Edge& e : *set) {
      REQUIRE(e.u < e.v);
      REQUIRE(g.has_edge(e.u, e.v));
      REQUIRE_FALSE(s.train.has_edge(e.u, e.v));
    }
  std::vector<Edge> both = s.val;
  both.insert(both.end(), s.test.begin(), s.test.end());
  std::sort(both.begin(), both.end());
  REQUIRE(std::adjacent_find(both.begin(), both.end()) == both.end());
  REQUIRE(s.train.num_nodes() == g.num_nodes());
  REQUIRE(s.train.features.col == g.features.col);
  Split again = make_split(g, cfg);
  REQUIRE(again.test == s.test);
  cfg.seed = 6;
  REQUIRE_FALSE(make_split(g, cfg).test == s.test);
}

TEST_CASE("cold-start split: cold users keep at most 2 training edges", "[data]") {
  Graph g = test_graph();
  SplitConfig cfg;
  cfg.val_fraction = 0.05;
  cfg.test_fraction = 0.1;
  cfg.cold_user_fraction = 0.1;
  cfg.seed = 2;
  Split s = make_split(g, cfg);
  REQUIRE(s.cold_users.size() > 200);
  HeldOut test = make_heldout(g.num_nodes(), s.test);
  std::vector<int> kept(3, 0);
  for (int32_t u : s.cold_users) {
    REQUIRE(g.degree(u) >= 3);
    REQUIRE(s.train.degree(u) <= 2);
    kept[static_cast<size_t>(s.train.degree(u))]++;
    REQUIRE(s.train.degree(u) + test.count(u) == g.degree(u));  // the rest went to test
  }
  for (int k : kept) REQUIRE(k > 30);  // 0, 1 and 2 all occur
  REQUIRE(s.train.num_edges() + static_cast<int64_t>(s.val.size() + s.test.size()) == g.num_edges());
}

TEST_CASE("split files round trip and malformed split files are reported", "[data]") {
  EdgeList e;
  for (int i = 0; i < 200; ++i) e.add(1000 + i, 1000 + (i * 17 + 3) % 200);
  GraphBuildOptions quiet;
  quiet.print_summary = false;
  Graph g = build_graph(e, {}, quiet);
  SplitConfig cfg;
  cfg.test_fraction = 0.2;
  cfg.cold_user_fraction = 0.05;
  Split s = make_split(g, cfg);
  ember_test::TempDir dir("split");
  write_split(dir.path + "/split", g, s);
  Split r = read_split(dir.path + "/split", g);
  REQUIRE(r.val == s.val);
  REQUIRE(r.test == s.test);
  REQUIRE(r.cold_users == s.cold_users);
  REQUIRE(r.train.neighbors == s.train.neighbors);
  // Files hold original ids.
  std::string head = read_file_text(dir.path + "/split/test.tsv");
  REQUIRE(head.find("\t") != std::string::npos);
  REQUIRE(head.find("10") != std::string::npos);

  dir.file("split/val.tsv", "# x\n1000\t1001\n1000\t77\n");
  REQUIRE_THROWS_WITH(read_split(dir.path + "/split", g), Catch::Contains("val.tsv:3: node id 77 is not a node of the graph"));
  dir.file("split/val.tsv", "1000\n");
  REQUIRE_THROWS_WITH(read_split(dir.path + "/split", g), Catch::Contains("val.tsv:1: truncated line"));
}
