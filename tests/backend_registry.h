// The registry of backend comparisons (in the spirit of ggml's
// test-backend-ops): every CPU-vs-kernel comparison test is declared with
// EMBER_BACKEND_TEST(family, name, tags), which registers it under its kernel
// family (kernels/<family>_cuda.cu) and defines the Catch test case. The test
// "backend registry: every kernel family has a CPU-vs-emulator comparison"
// (tests/test_backend_registry.cpp) compares the registered families with the
// families CMake finds in kernels/, so a new kernel family without a
// comparison fails the suite. The comparisons themselves run on every
// accelerator (tests/backend_harness.h: accelerator_devices(), never empty).
#pragma once
#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace ember {
namespace testing {

struct BackendTest {
  std::string family, name;
};

inline std::vector<BackendTest>& backend_tests() {
  static std::vector<BackendTest> tests;
  return tests;
}

inline bool register_backend_test(const char* family, const char* name) {
  backend_tests().push_back({family, name});
  return true;
}

}  // namespace testing
}  // namespace ember

#define EMBER_BR_CAT2_(a, b) a##b
#define EMBER_BR_CAT_(a, b) EMBER_BR_CAT2_(a, b)
#define EMBER_BACKEND_TEST(family, name, tags)                                           \
  static const bool EMBER_BR_CAT_(ember_backend_test_registered_, __LINE__) =           \
      ::ember::testing::register_backend_test(family, name);                           \
  TEST_CASE(name, tags)
