// Launches an emulated kernel that reads one element past the end of an EMU
// allocation. Under AddressSanitizer (EMBER_SANITIZE=ON) this must be reported
// as a heap-buffer-overflow: the ctest emu_oob_detected_by_asan checks it.
// Without ASan the read goes unnoticed and the probe just prints the value.
#define EMBER_EMULATED 1
#include "kernels/common.cuh"

#include <cstdio>

#include "core/tensor.h"

namespace {
__global__ void k_read_one_past_end(const float* x, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[0] += x[i];  // bug on purpose: i == n reads past the end
}
}  // namespace

int main() {
  using namespace ember;
  // 16 floats = 64 bytes: the host allocator rounds sizes up to 64 bytes, so
  // a multiple of 64 makes "one past the end" land in ASan's redzone.
  const int n = 16;
  Tensor x = Tensor::full({n}, 1.0, DType::F32, Device::EMU);
  Tensor out = Tensor::zeros({1}, DType::F32, Device::EMU);
  EMBER_LAUNCH(k_read_one_past_end, 1, 32, 0, nullptr, x.data<float>(), out.data<float>(), n);
  std::printf("emu_oob_probe: no error detected (sum %g); build with EMBER_SANITIZE=ON\n",
              static_cast<double>(out.data<float>()[0]));
  return 0;
}
