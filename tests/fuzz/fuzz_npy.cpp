// NumPy .npy (embeddings.npy).
#include "engine/io/npy.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::write_input("emb.npy", data, size);
  ember_fuzz::accept_error([&] { ember::load_npy(path); });
  return 0;
}
