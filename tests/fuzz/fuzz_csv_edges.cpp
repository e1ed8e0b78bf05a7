// CSV edge list (MUSAE *_edges.csv) + build_graph, and the label CSV reader on
// the same bytes.
#include "engine/data/loaders.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::write_input("edges.csv", data, size);
  ember_fuzz::accept_error([&] {
    ember::EdgeList e = ember::read_csv_edges(path);
    ember::GraphBuildOptions o;
    o.print_summary = false;
    ember::Graph g = ember::build_graph(e, {}, o);
    g.validate();
  });
  ember_fuzz::accept_error([&] { ember::read_csv_labels(path, "id", "target"); });
  return 0;
}
