// Numeric feature table "id, x_1..x_d": comma separated with a header, and
// whitespace separated without one.
#include "engine/data/loaders.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::write_input("features.csv", data, size);
  for (int mode = 0; mode < 2; ++mode) {
    ember_fuzz::accept_error([&] {
      ember::DenseFeatureOptions o;
      o.sep = mode == 0 ? ',' : 0;
      o.header = mode == 0;
      ember::RawFeatures raw = ember::read_dense_features(path, o);
      raw.rows.validate("fuzz");
    });
  }
  return 0;
}
