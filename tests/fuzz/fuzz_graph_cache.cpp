// Binary graph cache (EMBGRAPH container). Inputs starting with 'W' are
// payloads wrapped in a valid header (checksums fixed up), so the payload
// parser and the structural check are reached.
#include "engine/data/graph_cache.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::container_input("graph.egraph", "EMBGRAPH", ember::kGraphCacheVersion, data, size);
  ember_fuzz::accept_error([&] {
    uint64_t key = 0;
    ember::Graph g = ember::load_graph_cache(path, &key);
    // What the loader guarantees: every CSR / feature index is in range.
    for (int64_t u = 0; u < g.num_nodes(); ++u)
      for (int32_t v : g.neighbors_of(u))
        if (v < 0 || v >= g.num_nodes()) __builtin_trap();
  });
  return 0;
}
