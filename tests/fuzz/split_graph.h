// The fixed graph the split fuzz target and its seeds use: 64 users with
// original ids 1000 + 7 i (not an identity map), a ring plus chords.
#pragma once
#include "engine/data/graph.h"

namespace ember_fuzz {

inline ember::Graph split_graph() {
  ember::EdgeList e;
  for (int64_t i = 0; i < 64; ++i) {
    e.add(1000 + 7 * i, 1000 + 7 * ((i + 1) % 64));
    e.add(1000 + 7 * i, 1000 + 7 * ((i + 5) % 64));
  }
  ember::GraphBuildOptions o;
  o.print_summary = false;
  return ember::build_graph(e, {}, o);
}

}  // namespace ember_fuzz
