// What graph a run uses and how it is split: the `data` section of a run's
// configuration (parsed and validated with the rest in engine/config/config.h).
#pragma once
#include <string>

#include "engine/data/synthetic.h"

namespace ember {

struct DataConfig {
  std::string graph = "synthetic";  // "synthetic", a dataset folder or an edge-list file
  std::string features;             // optional feature file (MUSAE JSON or dense CSV) for an edge-list graph
  // Folder of graph caches ("" = none): the graph (with data.features) is
  // read from its source once, then memory-mapped from <cache_dir>/<name>.egraph,
  // one page-cache copy per machine shared by all ranks (engine/data/graph_cache.h).
  std::string cache_dir;
  SyntheticConfig synthetic;        // when graph == "synthetic" (its seed is the run's seed)
  double val_fraction = 0.05;
  double test_fraction = 0.10;
  double cold_start_users = 0.0;    // share of users whose edges go (mostly) to test
};

}  // namespace ember
