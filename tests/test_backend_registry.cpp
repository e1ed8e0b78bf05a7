// Every kernel family of kernels/ (every kernels/<family>_cuda.cu, listed by
// CMake in EMBER_KERNEL_FAMILIES) has at least one registered CPU-vs-emulator
// comparison (tests/backend_registry.h), and every registered family exists.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>
#include <string>

#include "backend_registry.h"

using namespace ember;

TEST_CASE("backend registry: every kernel family has a CPU-vs-emulator comparison", "[kernels][registry]") {
  std::set<std::string> families;
  std::stringstream in(EMBER_KERNEL_FAMILIES);
  for (std::string f; std::getline(in, f, ',');)
    if (!f.empty()) families.insert(f);
  REQUIRE(families.size() >= 13);  // the list reached the test
  std::set<std::string> covered;
  for (const auto& t : testing::backend_tests()) {
    INFO("registered comparison '" << t.name << "'");
    CHECK(families.count(t.family) == 1);  // a family that exists in kernels/
    covered.insert(t.family);
  }
  for (const std::string& f : families) {
    INFO("kernels/" << f << "_cuda.cu has no CPU-vs-emulator comparison: declare one with EMBER_BACKEND_TEST(\"" << f
                    << "\", ...) (tests/backend_registry.h)");
    CHECK(covered.count(f) == 1);
  }
}
