// Training checkpoint (EMBRCKPT container); 'W' prefix = wrapped payload.
#include "engine/train/checkpoint.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::container_input("checkpoint.bin", "EMBRCKPT", ember::kCheckpointVersion, data, size);
  ember_fuzz::accept_error([&] { ember::load_checkpoint(path, 0); });
  return 0;
}
