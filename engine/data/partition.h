// A k-way partition of a training graph (METIS, minimising the edge cut with
// balanced parts; Debian libmetis-dev), used to give each rank of a
// data-parallel job the query users of one part (distributed.partition =
// "metis", docs/distributed.md): a rank's subgraphs then overlap and its
// feature rows stay warm in cache. Stored in a container file (magic
// "EMBRPART", version, checksum, written atomically) keyed by a checksum of
// the graph's CSR and the part count, so it is computed once per run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/graph.h"

namespace ember {

// True when ember was built with METIS (EMBER_METIS).
bool metis_available();

// part[u] in [0, parts) for every node; parts == 1 gives all zeros.
// Throws when METIS is missing (naming the build option) or fails.
std::vector<int32_t> partition_graph(const Graph& g, int parts, uint64_t seed);

// The partition stored at `path` when it was made for this graph and part
// count; otherwise computed (partition_graph) and saved there. path "" only
// computes. `note` (optional) says which happened.
std::vector<int32_t> load_or_compute_partition(const std::string& path, const Graph& g, int parts, uint64_t seed,
                                               std::string* note = nullptr);

// Edges (u, v), u < v, whose ends are in different parts; and part sizes.
int64_t edge_cut(const Graph& g, const std::vector<int32_t>& part);
std::vector<int64_t> part_sizes(const std::vector<int32_t>& part, int parts);

}  // namespace ember
