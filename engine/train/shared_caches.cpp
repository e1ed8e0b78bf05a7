#include "engine/train/shared_caches.h"

#include "engine/data/prepare.h"

namespace ember {

void prepare_shared_caches(Communicator& comm, const DataConfig& data, uint64_t seed) {
  if (!comm.distributed() || data.cache_dir.empty() || data.graph == "synthetic") return;
  if (comm.is_root()) prepare_graph_cache(data, seed, /*verbose=*/true);
  comm.barrier();
  if (!comm.is_root() && local_rank(comm) == 0) prepare_graph_cache(data, seed, /*verbose=*/false);
  comm.barrier();
}

}  // namespace ember
