// Tests of the kernel emulator (kernels/emu) and kernels/block_reduce.cuh.
#include <catch2/catch.hpp>

#if defined(EMBER_WITH_EMU)
#define EMBER_EMULATED 1
#include "kernels/common.cuh"
#include "kernels/block_reduce.cuh"

namespace {
__global__ void k_sum(const float* x, float* out, int n) {
  __shared__ float smem[32];
  float v = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) v += x[i];
  float s = ember::emu::block_reduce_sum(v, smem);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}
}  // namespace

TEST_CASE("emu: smoke", "[emu]") {
  std::vector<float> x(1000);
  for (int i = 0; i < 1000; ++i) x[i] = float(i % 7);
  float out = -1;
  EMBER_LAUNCH(k_sum, 1, 256, 0, nullptr, x.data(), &out, 1000);
  double ref = 0;
  for (float v : x) ref += v;
  CHECK(out == Approx(ref));
}
#endif
