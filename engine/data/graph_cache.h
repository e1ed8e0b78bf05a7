// Binary graph cache: a Graph (CSR, id map, features, labels) in a container
// file (engine/binary_io.h) with magic "EMBGRAPH", a format version, a 64-bit
// key describing the source files, and a checksum over everything. Written
// atomically. A cache that is missing, truncated, corrupted, of another
// version or built from other sources is never trusted: load_or_build_graph
// reports why and rebuilds it from the source.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "engine/data/graph.h"

namespace ember {

// Version 2 aligns every array to 64 bytes so that the file is mapped, not
// read (version 1 caches are rebuilt).
constexpr uint32_t kGraphCacheVersion = 2;

void save_graph_cache(const std::string& path, const Graph& g, uint64_t source_key = 0);

// Maps the file (engine/io/mapped_file.h): the CSR, feature and label arrays
// of the result are views of the mapping, shared through the page cache by
// every process of the machine that loads the same cache, and copied only
// when a caller changes their size. The id map is read into memory. Throws
// ember::Error naming the file on any problem (see binary_io.h); the payload
// checksum is verified before use and the graph passes a structural check
// (offsets, id ranges, sizes).
Graph load_graph_cache(const std::string& path, uint64_t* source_key = nullptr);

// Key for a set of source files: their paths, sizes and modification times,
// plus `salt` (loader options, loader version).
uint64_t source_files_key(const std::vector<std::string>& files, const std::string& salt);

struct CacheStatus {
  bool hit = false;
  std::string message;  // "cache hit ..." or why it was rebuilt
};

// Returns the cached graph when `cache_path` holds a valid cache for
// `source_key`; otherwise calls build(), saves the result (atomically) and
// returns it mapped from the new file. Never throws because of a bad cache
// file (only build() or a failing save can throw).
Graph load_or_build_graph(const std::string& cache_path, uint64_t source_key, const std::function<Graph()>& build,
                          CacheStatus* status = nullptr, bool verbose = true);

}  // namespace ember
