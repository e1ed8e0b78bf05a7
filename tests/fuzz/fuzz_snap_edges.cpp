// SNAP edge list: read_snap_edges + build_graph (the path of `--graph file.txt`).
#include "engine/data/loaders.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::write_input("edges.txt", data, size);
  ember_fuzz::accept_error([&] {
    ember::EdgeList e = ember::read_snap_edges(path);
    ember::GraphBuildOptions o;
    o.print_summary = false;
    ember::Graph g = ember::build_graph(e, {}, o);
    g.validate();
  });
  return 0;
}
