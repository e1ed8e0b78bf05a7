// HNSW index file (EMBHNSW container around hnswlib's serialised index);
// 'W' prefix = wrapped payload, which hands the fuzzer's bytes to the hnswlib
// blob check. A loaded index must also answer a query.
#include "engine/retrieval/hnsw_index.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::container_input("index.hnsw", "EMBHNSW", 1, data, size);
  ember_fuzz::accept_error([&] {
    ember::HnswIndex idx = ember::HnswIndex::load(path);
    const int32_t k = static_cast<int32_t>(std::min<int64_t>(idx.size(), 5));
    idx.search_users({0, static_cast<int32_t>(idx.size() - 1)}, k, nullptr);
  });
  return 0;
}
