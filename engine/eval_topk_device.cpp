// exact_topk on Device::CUDA / Device::EMU (see kernels/topk.h).
#include "engine/eval_topk.h"

namespace ember {

Rankings exact_topk_device(const float*, int64_t, int64_t, const std::vector<int32_t>&, const Graph*, const TopKConfig& cfg) {
  EMBER_FAIL("exact_topk: device " << device_name(cfg.device) << " not implemented yet");
}

}  // namespace ember
