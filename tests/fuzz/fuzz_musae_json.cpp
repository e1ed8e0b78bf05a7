// MUSAE feature JSON {"node": [feature ids]}: both repeat modes, with and
// without a vocabulary size; then aligned to the ids it names.
#include "engine/data/loaders.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::write_input("features.json", data, size);
  for (int mode = 0; mode < 2; ++mode) {
    ember_fuzz::accept_error([&] {
      ember::FeatureReadOptions fo;
      fo.repeated = mode == 0 ? ember::RepeatedFeature::Binary : ember::RepeatedFeature::Count;
      fo.num_cols = mode == 0 ? -1 : 100;
      ember::RawFeatures raw = ember::read_musae_features(path, fo);
      raw.rows.validate("fuzz");
      ember::IdMap ids = ember::IdMap::from_originals(raw.ids);
      ember::SparseFeatures f = ember::align_features(raw, ids, path);
      f.validate("aligned");
    });
  }
  return 0;
}
