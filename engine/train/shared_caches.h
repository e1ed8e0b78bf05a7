// The graph and split caches of data.cache_dir for a job of several ranks:
// built once, before any rank maps them, so that every rank of a machine maps
// the same files (one page-cache copy per machine; docs/distributed.md).
#pragma once
#include <cstdint>

#include "engine/data/data_config.h"
#include "engine/dist/communicator.h"

namespace ember {

// Collective. Rank 0 builds the caches when they are missing or stale; then
// the first rank of every other machine checks them (a hit on a shared
// filesystem, a build on a machine-local disk); every rank waits for both
// phases. Does nothing for a one-rank job, without data.cache_dir or for the
// synthetic graph (prepare_data then does all the work itself).
void prepare_shared_caches(Communicator& comm, const DataConfig& data, uint64_t seed);

}  // namespace ember
