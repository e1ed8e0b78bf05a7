// Split cache: the training graph's CSR and the held-out edges of one split
// (engine/data/split.h) of a cached graph, in a container file (magic
// "EMBSPLIT", versioned, checksummed, written atomically) beside the graph
// cache. Loading maps it (engine/io/mapped_file.h): the ranks of a machine
// share one page-cache copy of the training graph as they share the full
// graph, and a rank that finds the file never builds the training CSR.
#pragma once
#include <cstdint>
#include <string>

#include "engine/data/split.h"

namespace ember {

constexpr uint32_t kSplitCacheVersion = 1;

// Key of the split of the graph whose cache key is `graph_key` under `cfg`.
uint64_t split_cache_key(uint64_t graph_key, const SplitConfig& cfg);

// Writes split.train's CSR (its ids, features and labels are the full
// graph's and are not stored) and the val / test edges and cold users.
void save_split_cache(const std::string& path, const Split& split, uint64_t key);

// The split stored at `path` for `full`: the training graph's CSR is a view of
// the mapping, its ids, features and labels are shared with `full`. Throws
// ember::Error naming the file when it is unreadable, corrupted, of another
// version, for another key or for a graph of another size.
Split load_split_cache(const std::string& path, uint64_t key, const Graph& full);

// The split of `full` under `cfg`, mapped from `path` when it holds this
// split's cache; otherwise made with make_split, saved (atomically) and
// mapped. Says on stdout (verbose) when it builds the cache or why it rejects one.
Split load_or_make_split(const std::string& path, uint64_t graph_key, const Graph& full, const SplitConfig& cfg,
                         bool verbose);

}  // namespace ember
