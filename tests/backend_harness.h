// Runs the same computation on every available backend and compares with the
// CPU reference:
//   cpu  always (the reference),
//   emu  the CUDA kernels' own source under the kernel emulator (always in CI),
//   cuda a real GPU, when one is present (otherwise reported as skipped).
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/tensor.h"

namespace ember {
namespace testing {

// A comparison test that has nothing to compare must not pass. Under ctest
// (EMBER_CTEST_SKIP_CODE set by tests/CMakeLists.txt) it exits with that code,
// which ctest reports as "Skipped" with the reason in the log; run directly,
// it fails with the reason.
[[noreturn]] inline void skip_comparison(const std::string& reason) {
  const char* code = std::getenv("EMBER_CTEST_SKIP_CODE");
  if (code && *code) {
    std::printf("SKIPPED: %s\n", reason.c_str());
    std::fflush(stdout);
    std::exit(std::atoi(code));
  }
  FAIL("nothing to compare: " << reason << " (ctest reports this test as skipped)");
  std::abort();  // FAIL throws; not reached
}

// Devices other than the CPU that can run kernels in this build and machine:
// the emulator (always, unless built with EMBER_EMULATOR=OFF) and a real GPU
// when one is usable. Never empty: without any the test is skipped (see
// skip_comparison), so a backend comparison cannot pass vacuously.
inline std::vector<Device> accelerator_devices() {
  std::vector<Device> devs;
  if (Context::get().emu_available()) devs.push_back(Device::EMU);
  if (Context::get().cuda_available()) {
    devs.push_back(Device::CUDA);
  } else {
    static bool warned = false;
    if (!warned) {
      WARN("real-GPU comparisons skipped: " << Context::get().cuda_unavailable_reason());
      warned = true;
    }
  }
  if (devs.empty())
    skip_comparison("this build has no backend beyond the CPU (EMBER_EMULATOR=OFF and no usable GPU: " +
                    Context::get().cuda_unavailable_reason() + ")");
  return devs;
}

// max |a - b| / (atol + rtol * |b|) <= 1 element-wise; reports the worst element.
inline void require_close(const Tensor& got, const Tensor& ref, double rtol, double atol,
                          const std::string& what) {
  INFO(what << ": " << got.describe() << " vs reference " << ref.describe());
  REQUIRE(got.shape() == ref.shape());
  REQUIRE(got.dtype() == ref.dtype());
  Tensor g = got.to_dtype(DType::F64).to(Device::CPU);
  Tensor r = ref.to_dtype(DType::F64).to(Device::CPU);
  const double* pg = g.data<double>();
  const double* pr = r.data<double>();
  double worst = 0.0;
  int64_t worst_i = -1;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const bool both_nan = std::isnan(pg[i]) && std::isnan(pr[i]);
    const double ratio = both_nan ? 0.0 : std::fabs(pg[i] - pr[i]) / (atol + rtol * std::fabs(pr[i]));
    if (!(ratio <= worst)) {
      worst = std::isnan(ratio) ? INFINITY : ratio;
      worst_i = i;
    }
  }
  if (worst > 1.0) {
    FAIL_CHECK(what << ": element " << worst_i << " differs: got " << pg[worst_i] << ", reference "
                    << pr[worst_i] << " (rtol " << rtol << ", atol " << atol << ")");
  }
  REQUIRE(worst <= 1.0);
}

}  // namespace testing
}  // namespace ember
